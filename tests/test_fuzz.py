"""The fuzzer finds a bug planted where nobody would look, and shrinks it to a small case.

`Planted` is a test-only adapter: the oracle's answer, wrong (one element off) only when some
dim has stride 3 and output_padding 2. A short fuzz run must find it, shrink it to a case of at
most a few dozen elements, write it as a case file, and that file must reproduce the failure
with `tconv run`. The correct oracle adapter beside it must give no finding.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from adapters.base import Adapter
from harness import fuzz_report
from harness.casefile import case_from_mapping, load_cases
from harness.cli import main
from harness.dtypes import numpy_dtype
from harness.fuzz import IsolatedRows, Stats, fuzz, write_finding
from harness.oracle import conv_transpose
from harness.runner import adapter_row


class Oracle(Adapter):
    name = "test.oracle"
    framework = "test"

    def run(self, case):
        return conv_transpose(case.input, case.kernel, **case.oracle_kwargs()).astype(numpy_dtype(case.dtype))


class Planted(Oracle):
    name = "test.planted"

    def run(self, case):
        y = super().run(case)
        if any(s == 3 and op == 2 for s, op in zip(case.stride, case.output_padding)) and y.size:
            y = y.copy()
            y.flat[-1] += 1 + abs(y.flat[-1])
        return y


def test_the_fuzzer_finds_and_shrinks_a_planted_bug(tmp_path: Path) -> None:
    stats = fuzz([Oracle(), Planted()], budget=150, seed=1, database=None)
    assert stats.examples >= 150
    keys = list(stats.findings)
    assert keys and all(key[0] == "test.planted" for key in keys), keys
    finding = stats.findings[keys[0]]
    mapping = finding.mapping
    assert 3 in mapping["stride"] and 2 in mapping["output_padding"]
    case_elements = finding.rows[0].params
    elements = np.prod([int(n) for n in case_elements["input_shape"].split("x")]) + \
        np.prod([int(n) for n in case_elements["kernel_shape"].split("x")])
    assert elements <= 36, mapping  # shrunk: a few dozen elements at most

    path = write_finding(finding, tmp_path, environment={"cpu": "test"})
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Found by `tconv fuzz`: ") and "test.oracle: pass" in text
    case = load_cases([path])[0]
    assert adapter_row(case, Planted()).status == "fail"
    assert adapter_row(case, Oracle()).status == "pass"
    assert yaml.safe_load(text)["cases"][0]["id"] == path.stem


class OffByOne(Oracle):
    name = "test.off_by_one"

    def run(self, case):
        return super().run(case) + 1


def test_a_correct_adapter_gives_no_finding() -> None:
    stats = fuzz([Oracle()], budget=60, seed=2, database=None, dtypes=("float32", "float16", "float64"))
    assert stats.examples >= 60 and not stats.findings


def test_tconv_fuzz_writes_findings_and_exits_1(tmp_path: Path, tconv) -> None:  # noqa: ANN001
    plugin = tmp_path / "planted.py"
    plugin.write_text(
        "import sys\nsys.path.insert(0, %r)\nfrom test_fuzz import OffByOne\nADAPTERS = (OffByOne(),)\n"
        % str(Path(__file__).parent), encoding="utf-8")
    # an adapter wrong on every layer: the command's files and words (finding and shrinking: the test above)
    status, out, err = tconv("fuzz", "--frameworks", "test", "--plugin", plugin, "--budget", "10", "--seed", "1",
                             "--out", tmp_path / "found", "--quiet")
    assert status == 1, err
    found = sorted((tmp_path / "found").glob("*.yaml"))
    assert found and "finding: test.off_by_one" in out
    assert (tmp_path / "found" / "findings.html").read_text(encoding="utf-8").count("<tr>") == len(found) + 1
    assert not (tmp_path / "found" / "frameworks.log").exists()


class Crashing(Oracle):
    """Kills its process with SIGSEGV, as a framework's kernel does, when some dim has stride 3."""

    name = "test.crashing"

    def run(self, case):
        if 3 in case.stride:
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().run(case)


def test_a_framework_that_crashes_is_a_finding_and_the_campaign_goes_on(tmp_path: Path, tconv) -> None:  # noqa: ANN001
    plugin = tmp_path / "crashing.py"
    plugin.write_text(
        "import sys\nsys.path.insert(0, %r)\nfrom test_fuzz import Crashing, Oracle\n"
        "ADAPTERS = (Crashing(), Oracle())\n" % str(Path(__file__).parent), encoding="utf-8")
    status, out, err = tconv("fuzz", "--frameworks", "test", "--plugin", plugin, "--budget", "20", "--seed", "1",
                             "--out", tmp_path / "found", "--quiet")
    assert status == 1, err
    drawn = re.search(r"(\d+) examples \(shrinking included\)", out)
    assert drawn and int(drawn.group(1)) >= 20, out  # the whole budget, past the crashes
    found = sorted((tmp_path / "found").glob("*.yaml"))
    assert [p.name.startswith("test-crashing-") for p in found] == [True], found  # test.oracle never failed
    text = found[0].read_text(encoding="utf-8")
    assert "# Message: the worker process died: killed by SIGSEGV (segmentation fault)" in text
    assert "test.oracle: pass" in text  # the next adapter ran in a new worker
    case = yaml.safe_load(text)["cases"][0]
    assert 3 in case["stride"] and max(case["input_size"]) <= 2, case  # shrunk like any other finding


class Hanging(Oracle):
    """Never returns when some dim has stride 3, as a framework's kernel that loops forever."""

    name = "test.hanging"

    def run(self, case):
        while 3 in case.stride:
            time.sleep(1)
        return super().run(case)


def test_a_hang_is_an_error_row_after_the_timeout_and_the_next_layer_runs(tmp_path: Path, monkeypatch) -> None:
    """`tconv fuzz --timeout S` reaches the workers: a layer that hangs is killed after S seconds, its rows
    are errors naming the limit (a finding), and the next layer gets a new worker."""
    plugin = tmp_path / "hanging.py"
    plugin.write_text(
        "import sys\nsys.path.insert(0, %r)\nfrom test_fuzz import Hanging\nADAPTERS = (Hanging(),)\n"
        % str(Path(__file__).parent), encoding="utf-8")
    made = []

    class Recording(IsolatedRows):
        def __init__(self, **options) -> None:
            super().__init__(**options)
            made.append(self)

    monkeypatch.setattr(fuzz_report, "IsolatedRows", Recording)
    monkeypatch.setattr(fuzz_report, "fuzz", lambda *a, isolated, **k: Stats())  # no campaign: the option's path
    assert main(["fuzz", "--plugin", str(plugin), "--frameworks", "test", "--timeout", "0.5", "--quiet",
                 "--out", str(tmp_path / "found")]) == 0
    assert [rows.timeout for rows in made] == [0.5]
    hangs = case_from_mapping({"id": "hangs", "input_size": [3], "kernel_size": [2], "stride": [3]})
    runs = case_from_mapping({"id": "runs", "input_size": [3], "kernel_size": [2], "stride": [2]})
    isolated = IsolatedRows(plugins=[plugin], timeout=0.5)
    try:
        started = time.monotonic()
        hung = isolated(hangs, [Hanging()], None)
        assert time.monotonic() - started < 30
        ran = isolated(runs, [Hanging()], None)
    finally:
        isolated.close()
    assert [r.status for r in hung] == ["error"] and "timed out after 0.5 s" in hung[0].message, hung[0].message
    assert [r.status for r in ran] == ["pass"], ran[0].message


def test_the_workers_release_jaxs_compiled_functions_between_rounds(tmp_path: Path, tconv) -> None:  # noqa: ANN001
    """JAX keeps an executable per shape until `jax.clear_caches()`: the fuzzer's workers are told to call
    it after every round (here a stand-in `jax` module in the worker counts the calls)."""
    calls = tmp_path / "clear_caches.txt"
    plugin = tmp_path / "counting.py"
    plugin.write_text(
        "import sys, types\nsys.path.insert(0, %r)\nfrom test_fuzz import Oracle\n"
        "jax = types.ModuleType('jax')\n"
        "def clear_caches():\n    with open(%r, 'a') as f:\n        f.write('x')\n"
        "jax.clear_caches = clear_caches\nimport multiprocessing\n"
        "if multiprocessing.current_process().name.startswith('tconv-'):  # a worker, not this test's process\n"
        "    sys.modules['jax'] = jax\nADAPTERS = (Oracle(),)\n"
        % (str(Path(__file__).parent), str(calls)), encoding="utf-8")
    status, _, err = tconv("fuzz", "--frameworks", "test", "--plugin", plugin, "--budget", "150", "--seed", "1",
                           "--out", tmp_path / "found", "--quiet")
    assert status == 0, err
    assert calls.read_text() == "xxx"  # three rounds of 50 examples, a release after each
    assert "jax" not in sys.modules or hasattr(sys.modules["jax"], "numpy")  # the stand-in stayed in the worker


def test_a_short_fuzz_run_of_real_frameworks_finds_nothing_unexplained() -> None:
    """The built-in NumPy formulations and PyTorch's own adapters (not its exporters: a conversion
    per example) on 40 drawn cases, forward and gradients: what they disagree on must be in the
    known-discrepancy table (the seed fixes the draws)."""
    import pytest

    from adapters import installed_adapters
    from harness.discrepancies import load_discrepancies

    adapters = [a for a in installed_adapters(("numpy", "torch")) if not a.route]
    if not any(a.framework == "torch" for a in adapters):
        pytest.skip("torch is not installed")
    stats = fuzz(adapters, budget=40, seed=3, database=None, dtypes=("float32", "float64"),
                 checks=("forward", "grad_input", "grad_weight", "grad_bias"), known=load_discrepancies())
    assert stats.examples >= 40
    assert not stats.findings, [f"{key}: {f.mapping}" for key, f in stats.findings.items()]


def test_a_time_limit_keeps_what_was_found() -> None:
    """`--time` cuts a round short; the findings made before stay (hypothesis' final replay of
    them is refused once the time is spent, which must not lose them or crash the run)."""
    import time as clock

    class SlowWrong(Oracle):
        name = "test.slow-wrong"

        def run(self, case):
            clock.sleep(0.05)
            return super().run(case) + 1

    stats = fuzz([SlowWrong()], budget=500, seconds=0.5, seed=4, database=None)
    assert stats.findings and all(key[0] == "test.slow-wrong" for key in stats.findings)
    assert stats.examples < 500


def test_large_draws_channel_counts_widths_and_batches_across_blocks_with_small_kernels_and_the_default_does_not(
) -> None:
    """`--large` reaches the block-and-remainder code of wide channels (finding 72's XLA path changes at 16
    channels), of wide rows (oneDNN's jit kernels unroll output columns and handle a tail) and of large
    batches, one wide axis a layer, with kernels of at most 4 taps there so that a wide layer stays
    quick; the default stays at 1-3 channels per group, 6 positions a dim and 2 batch elements."""
    from hypothesis import HealthCheck, find, given, settings
    from hypothesis import strategies as st

    from harness.fuzz_strategies import WIDE_BATCHES, WIDE_CHANNELS, WIDE_WIDTHS, case_mappings

    def per_group(mapping: dict) -> int:
        return max(mapping["in_channels"], mapping["out_channels"]) // mapping["groups"]

    def wide_axes(mapping: dict) -> int:
        return (per_group(mapping) > 3) + (max(mapping["input_size"]) > 6) + (mapping["batch"] > 2)

    quick = settings(max_examples=1000, database=None, suppress_health_check=list(HealthCheck), deadline=None,
                     derandomize=True)
    wide = find(case_mappings(large=True), lambda m: per_group(m) > 16, settings=quick)
    assert per_group(wide) in WIDE_CHANNELS and max(wide["kernel_size"]) <= 4
    row = find(case_mappings(large=True), lambda m: m["rank"] > 1 and m["input_size"][-1] > 16, settings=quick)
    assert row["input_size"][-1] in WIDE_WIDTHS and max(row["input_size"][:-1]) <= 3 and max(row["kernel_size"]) <= 4
    batch = find(case_mappings(large=True), lambda m: m["batch"] > 8, settings=quick)
    assert batch["batch"] in WIDE_BATCHES and max(batch["kernel_size"]) <= 4
    long_kernel = find(case_mappings(large=True), lambda m: max(m["kernel_size"]) > 4, settings=quick)
    assert max(long_kernel["kernel_size"]) <= 12 and wide_axes(long_kernel) == 0

    @settings(max_examples=150, database=None, suppress_health_check=list(HealthCheck), deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        default, large = data.draw(case_mappings()), data.draw(case_mappings(large=True))
        assert wide_axes(default) == 0 and max(default["kernel_size"]) <= 4
        assert wide_axes(large) <= 1
        assert wide_axes(large) == 0 or max(large["kernel_size"]) <= 4

    check()
