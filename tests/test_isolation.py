"""Runs that survive their adapters: a segfault, an abort, os._exit, sys.exit, the OOM killer's
SIGKILL, a hang, a KeyboardInterrupt raised inside an adapter, or junk returned by `run()`,
`supports()` or `gradients()` each cost their own rows (`error`, saying what happened), never the
run, and the rest of the report is whole. The adapters below really crash their worker process."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adapters.base import Adapter
from harness.casefile import case_from_mapping
from harness.runner import adapter_row, gradient_rows, guarded_rows
from harness.workers import death_message

CASES = """\
cases:
  - id: small
    input: {shape: [1, 2, 3, 3], seed: 1}
    kernel: {shape: [2, 2, 2, 2], seed: 2}
    stride: 2
"""

# One framework family per way of dying, so each crash takes down only its own worker.
FAULTY = textwrap.dedent('''
    import ctypes, os, signal, sys, time
    from adapters.base import Adapter
    from adapters.numpy_matrix import ADAPTERS as MATRIX

    def adapter(name, framework, action):
        return type(name, (Adapter,), {"name": name, "framework": framework,
                                       "run": lambda self, case: action(case),
                                       "sent": lambda self, case: {"stride": str(case.stride[0])}})()

    def honest(case):
        return MATRIX[0].run(case)

    ADAPTERS = (
        adapter("crash.segfault", "crashes", lambda case: ctypes.string_at(0)),
        adapter("crash.abort", "aborts", lambda case: os.abort()),
        adapter("crash.os_exit", "exits", lambda case: os._exit(3)),
        adapter("crash.sys_exit", "sysexits", lambda case: sys.exit(0)),
        adapter("crash.oom_kill", "killed", lambda case: os.kill(os.getpid(), signal.SIGKILL)),
        adapter("crash.hang", "hangs", lambda case: time.sleep(3600)),
        adapter("crash.interrupt", "interrupts", lambda case: (_ for _ in ()).throw(KeyboardInterrupt())),
        adapter("crash.honest", "honest", honest),
    )
''')


@pytest.fixture
def faulty(tmp_path: Path) -> tuple[Path, Path]:
    cases, plugin = tmp_path / "cases.yaml", tmp_path / "faulty.py"
    cases.write_text(CASES, encoding="utf-8")
    plugin.write_text(FAULTY, encoding="utf-8")
    return cases, plugin


def test_a_run_with_crashing_and_hanging_adapters_finishes_with_a_full_report(tconv, faulty, tmp_path) -> None:
    cases, plugin = faulty
    out = tmp_path / "out"
    status, _, err = tconv("run", cases, "--plugin", plugin, "--frameworks", "numpy,crashes,aborts,exits,sysexits,"
                           "killed,hangs,interrupts,honest", "--timeout", "1.5", "--jobs", "2", "--out", out, "--quiet")
    assert status == 1, err
    rows = pd.read_csv(out / "report.csv", keep_default_na=False).set_index("adapter")
    assert (out / "report.json").is_file() and (out / "report.html").is_file()
    expected = {
        "crash.segfault": "killed by SIGSEGV",
        "crash.abort": "killed by SIGABRT",
        "crash.os_exit": "exited with status 3",
        "crash.sys_exit": "SystemExit",
        "crash.oom_kill": "killed by SIGKILL (killed: out of memory",
        "crash.hang": "timed out after 1.5 s",
        "crash.interrupt": "KeyboardInterrupt",
    }
    for name, text in expected.items():
        assert rows.loc[name, "status"] == "error", (name, rows.loc[name].to_dict())
        assert text in rows.loc[name, "message"], (name, rows.loc[name, "message"])
        # what the adapter sends, asked of a fresh worker: a known entry of a crash matches on `sent_...`
        assert rows.loc[name, "sent"] == "stride=2", (name, rows.loc[name].to_dict())
    assert rows.loc["crash.honest", "status"] == "pass"
    numpy_rows = rows[rows["framework"] == "numpy"]
    from adapters import select_adapters

    assert len(numpy_rows) == len(select_adapters(frameworks=["numpy"])) and set(numpy_rows["status"]) == {"pass"}


def _case():
    return case_from_mapping({"id": "c", "input": {"shape": [1, 1, 2, 2], "seed": 1},
                              "kernel": {"shape": [1, 1, 2, 2], "seed": 2}, "check": ["forward", "grad_input"]})


class _Junk(Adapter):
    name, framework = "junk", "numpy"

    def __init__(self, value: object = None, *, supports_error: bool = False, gradients: object = None) -> None:
        self.value, self.supports_error, self.grads = value, supports_error, gradients

    def version(self) -> str:
        return "1"

    def supports(self, case):  # noqa: ANN001, ANN201
        if self.supports_error:
            raise RuntimeError("supports exploded")
        return None

    def run(self, case):  # noqa: ANN001, ANN201
        return self.value

    def gradients(self, case):  # noqa: ANN001, ANN201
        return self.grads


@pytest.mark.parametrize(("value", "text"), [
    (object(), "returned object, not a numeric array"),
    ([[1.0, 2.0]], "returned list, not a numeric array"),
    (None, "returned NoneType"),
    (np.float32(1.0), "returned a 0-d array"),
    (np.array(["a", "b"]), "dtype <U1, not a numeric array"),
    (np.array([object()]), "dtype object"),
])
def test_junk_from_run_is_an_error_row(value, text) -> None:
    row = adapter_row(_case(), _Junk(value))
    assert row.status == "error" and text in row.message, row.message


def test_a_raising_supports_is_an_error_row() -> None:
    row = adapter_row(_case(), _Junk(np.zeros((1, 1, 3, 3)), supports_error=True))
    assert row.status == "error" and "supports() raised RuntimeError: supports exploded" in row.message


@pytest.mark.parametrize(("grads", "text"), [
    ([1, 2], "gradients() returned list"),
    ({"grad_input": "x"}, "returned str"),
    ({"grad_input": np.zeros(())}, "0-d array"),
])
def test_junk_gradients_are_error_rows(grads, text) -> None:
    (row,) = gradient_rows(_case(), _Junk(np.zeros((1, 1, 3, 3)), gradients=grads))
    assert row.status == "error" and text in row.message, row.message


def test_system_exit_and_keyboard_interrupt_inside_an_adapter_are_rows_in_a_worker() -> None:
    class Exits(_Junk):
        def run(self, case):  # noqa: ANN001, ANN201
            raise SystemExit(0)

        def gradients(self, case):  # noqa: ANN001, ANN201
            raise KeyboardInterrupt

    forward, grad = guarded_rows(_case(), Exits())
    assert forward.status == grad.status == "error"
    assert "SystemExit" in forward.message and "KeyboardInterrupt" in grad.message and grad.check == "grad_input"


@pytest.mark.parametrize(("code", "text"), [(-11, "SIGSEGV (segmentation fault)"), (-9, "SIGKILL"),
                                            (1, "exited with status 1"), (None, "vanished"), (-200, "signal 200")])
def test_death_messages_name_the_signal_or_status(code, text) -> None:
    assert text in death_message(code)


@pytest.mark.parametrize("body", ["import sys\nsys.exit(0)\n", "import sys\nsys.exit(1)\n", "raise SystemExit('bye')\n"])
def test_a_plugin_that_exits_while_it_loads_is_bad_input(tconv, tmp_path, body) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES, encoding="utf-8")
    plugin = tmp_path / "exits.py"
    plugin.write_text(body, encoding="utf-8")
    status, _, err = tconv("run", cases, "--plugin", plugin, "--out", tmp_path / "out", "--quiet")
    assert status == 2 and "importing it failed: SystemExit" in err and len(err.strip().splitlines()) == 1


def test_a_bug_in_the_scheduler_is_an_internal_error_not_a_partial_report(tconv, tmp_path, monkeypatch) -> None:
    import harness.workers

    def broken(self, job):  # noqa: ANN001, ANN202
        raise RuntimeError("scheduler bug")

    monkeypatch.setattr(harness.workers.Worker, "run", broken)
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES, encoding="utf-8")
    status, _, err = tconv("run", cases, "--frameworks", "numpy", "--out", tmp_path / "out", "--quiet")
    assert status == 3 and "scheduler bug" in err and "interrupted" not in err


def test_workers_see_the_environment_of_the_run_not_of_an_older_fork_server(tconv, tmp_path, monkeypatch) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES, encoding="utf-8")
    plugin = tmp_path / "env.py"
    plugin.write_text(textwrap.dedent('''
        import os
        from adapters.base import Adapter
        from adapters.numpy_matrix import ADAPTERS as MATRIX

        class Env(Adapter):
            name, framework = "env.probe", "envprobe"
            def sent(self, case):
                return {"probe": os.environ.get("TCONV_TEST_PROBE", "unset"), "cwd": os.getcwd(),
                        "wait": os.environ.get("OMP_WAIT_POLICY", "unset")}
            def run(self, case):
                return MATRIX[0].run(case)

        ADAPTERS = (Env(),)
    '''), encoding="utf-8")
    # OpenMP's idle threads wait passively in a worker (machine.wait_passively), unless the user chose
    for value, wait, sees in (("first", None, "PASSIVE"), ("second", "ACTIVE", "ACTIVE")):
        monkeypatch.setenv("TCONV_TEST_PROBE", value)  # the second run's workers come from the first's fork server
        if wait is None:
            monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
        else:
            monkeypatch.setenv("OMP_WAIT_POLICY", wait)
        monkeypatch.chdir(tmp_path)
        status, _, err = tconv("run", cases.name, "--plugin", plugin.name, "--frameworks", "envprobe", "--out",
                               f"out-{value}", "--quiet")
        assert status == 0, err
        sent = pd.read_csv(tmp_path / f"out-{value}" / "report.csv", keep_default_na=False)["sent"].iloc[0]
        assert f"probe={value}" in sent and f"cwd={tmp_path}" in sent and f"wait={sees}" in sent, sent
        assert os.environ.get("OMP_WAIT_POLICY") == wait  # the parent's own environment is left as it was


def test_onnx_runtime_sessions_do_not_spin() -> None:
    """ONNX Runtime's idle intra-op threads sleep (adapters.onnx_runtime.cpu_session), as OpenMP's do in
    the workers: frameworks run side by side, and a spinning pool takes the other worker's core."""
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    from adapters.onnx_runtime import cpu_session

    value = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [2]) for name in ("X", "Y")]
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["X"], ["Y"])], "g", value[:1], value[1:]))
    session = cpu_session(model.SerializeToString())
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert session.run(["Y"], {"X": np.array([1.0, -2.0], np.float32)})[0].tolist() == [1.0, -2.0]
