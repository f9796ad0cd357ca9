"""Platform is part of every verdict: reports carry the CPU and paths, rows carry what ran
(`path`, `sent`), entries match on them, and `tconv compare` says when platforms differ."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from harness import machine
from harness.casefile import case_from_mapping
from harness.compare import compare_reports
from harness.discrepancies import Discrepancy
from harness.environment import environment
from harness.runner import Row, matching_params
from tests.conftest import REPO


def _case(**fields):
    return case_from_mapping({"id": "p", "input": {"shape": [1, 2, 4, 4], "seed": 1},
                              "kernel": {"shape": [2, 3, 3, 3], "seed": 2}, **fields})


def test_environment_records_the_kernel_selecting_features() -> None:
    env = environment([])
    for feature in machine.KERNEL_SELECTING_FEATURES:
        assert env[feature] in ("yes", "no")
    assert env["cpu_vendor"] and "cpu_isa" in env and "path_tensorflow" in env and "path_torch" in env
    assert (env["avx512_fp16"] == "yes") == ("avx512_fp16" in env["cpu_isa"].split())


def test_entries_match_on_path_sent_parameters_and_platform() -> None:
    entry = Discrepancy(adapter="tensorflow.*", when={"path": "eigen", "sent_padding": "VALID"},
                        reason="r", reproducer="x.py")
    case = _case(padding=0)
    row = Row("f", "p", "tensorflow.conv_transpose", "tensorflow", "2.21.0", "fail", params=case.describe())
    row.path, row.sent_map = "eigen", {"padding": "VALID"}
    assert entry.applies_to("f::p", row.adapter, "2.21.0", matching_params(row))
    row.sent_map = {"padding": "explicit"}
    assert not entry.applies_to("f::p", row.adapter, "2.21.0", matching_params(row))
    row.path, row.sent_map = "onednn", {"padding": "VALID"}
    assert not entry.applies_to("f::p", row.adapter, "2.21.0", matching_params(row))
    cpu = Discrepancy(adapter="*", when={"avx512_fp16": "no"}, reason="r", reproducer="x.py")
    row.sent_map = {}
    assert cpu.applies_to("f::p", "a", "1", matching_params(row)) == (not machine.has("avx512_fp16"))


def test_compare_says_first_when_platforms_differ(tconv, tmp_path) -> None:
    rows = pd.DataFrame([{"case_file": "f", "case_id": "c", "adapter": "a", "framework": "numpy",
                          "framework_version": "1", "status": "pass", "tol_ratio": 0.1, "message": ""}])
    base = rows.assign(env_cpu="AMD EPYC", env_cpu_isa="avx2 avx512f avx512_bf16")
    new = rows.assign(env_cpu="Intel Xeon", env_cpu_isa="avx2 avx512f avx512_bf16 avx512_fp16")
    comparison = compare_reports(base, new)
    assert comparison.platform_differs
    assert comparison.platform_lines()[0].startswith("the reports were made on different platforms")
    assert not compare_reports(base, base).platform_differs
    base.to_csv(tmp_path / "base.csv", index=False)
    new.to_csv(tmp_path / "new.csv", index=False)
    status, out, _ = tconv("compare", tmp_path / "base.csv", tmp_path / "new.csv")
    assert status == 0 and out.lstrip().startswith("platforms differ") and "avx512_fp16" in out


def test_onnx_sends_output_padding_as_given() -> None:
    pytest.importorskip("onnx")
    from adapters.onnx_model import convtranspose_attributes

    case = case_from_mapping({"id": "o", "input": [[[1.0, 2.0, 3.0]]], "kernel": [[[1.0, 2.0, -1.0]]],
                              "padding": [[0, 2]], "output_padding": 1, "dilation": 3})
    attrs = convtranspose_attributes(case)
    assert attrs["pads"] == [0, 2] and attrs["output_padding"] == [1]  # not folded into a smaller end pad


def test_keras_runs_its_own_same_with_output_padding() -> None:
    from adapters.keras3 import KerasLayer

    case = case_from_mapping({"id": "k", "input": {"shape": [1, 1, 4, 4], "seed": 3},
                              "kernel": {"shape": [1, 1, 3, 3], "seed": 4}, "stride": 3, "padding": "same",
                              "output_padding": 1})
    sent = KerasLayer().sent(case)
    assert sent["padding"] == "same" and sent["output_padding"] == "(1, 1)" and sent["window"] == "mismatch"


@pytest.mark.tensorflow
@pytest.mark.xdist_group("tensorflow.conv_transpose")  # the worker of its matrix items: TF imported
def test_tensorflow_path_follows_onednn_and_padding(tensorflow_probes) -> None:
    pytest.importorskip("tensorflow")
    from adapters.tensorflow_nn import TensorFlowConvTranspose, onednn_enabled

    adapter = TensorFlowConvTranspose()
    assert adapter.path(_case(padding=1)) == "eigen"  # explicit pairs never reach oneDNN
    assert adapter.path(_case(dtype="float64", padding="valid")) == "eigen"
    assert adapter.path(_case(padding="valid")) == ("onednn" if onednn_enabled() else "eigen")
    assert tensorflow_probes["eigen"]["float32-valid"] == "eigen"  # a process started with oneDNN off


def test_torch_path_is_pytorchs_own_backend_choice(monkeypatch) -> None:
    pytest.importorskip("torch")
    from adapters.pytorch import TorchFunctional

    case = _case(dtype="float16", stride=2)
    assert TorchFunctional().path(case) in ("mkldnn", "native (SlowTranspose2d)")
    monkeypatch.setenv("TCONV_TORCH_MKLDNN", "0")
    assert TorchFunctional().path(case).startswith("native")


_PROBED_PADDINGS = ("valid", "[[1, 1], [1, 1]]")


def tensorflow_paths(paddings) -> dict[str, object]:  # noqa: ANN001 - padding texts
    """Per padding, the TensorFlow adapter's path label and result (float16, 128 channels of positive
    data, where Eigen's float16 sums differ from oneDNN's), and the path of a small float32 `valid` case."""
    import numpy as np
    import yaml

    from adapters.tensorflow_nn import ADAPTERS

    paths: dict[str, object] = {}
    for padding in paddings:
        case = case_from_mapping({"id": "p", "dtype": "float16", "padding": yaml.safe_load(padding), "stride": 2,
                                  "input": {"shape": [1, 128, 5, 5], "seed": 7, "distribution": "uniform", "low": 0,
                                            "high": 1},
                                  "kernel": {"shape": [128, 2, 3, 3], "seed": 8, "distribution": "uniform", "low": 0,
                                             "high": 1}})
        paths[padding] = (ADAPTERS[0].path(case), ADAPTERS[0].run(case).astype(np.float32))
    small = case_from_mapping({"id": "p", "input": [[1., 2.], [3., 4.]], "kernel": [[1., 0.], [2., -1.]], "padding": "valid"})
    paths["float32-valid"] = ADAPTERS[0].path(small)
    return paths


# TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, at its import: a process of its own runs it with oneDNN off.
_CHILD_PROBE = """
import base64, pickle, sys
from tests.test_platform import tensorflow_paths
print(base64.b64encode(pickle.dumps(tensorflow_paths(sys.argv[1:]))).decode())  # the last line, whatever else is printed
"""


@pytest.fixture(scope="session")
def tensorflow_probes() -> dict[str, dict[str, object]]:
    """What the TensorFlow adapter says and gives with oneDNN as TensorFlow decides (`here`: this
    process, where the switch is unset, whose TensorFlow the matrix items of its xdist group
    imported; else a process without the switch) and in a process started with
    `TF_ENABLE_ONEDNN_OPTS=0` (`eigen`): each padding's path label and result, and the path of a
    small float32 `valid` case."""
    pytest.importorskip("tensorflow")
    import base64
    import os
    import pickle

    env = dict(os.environ)
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    probes = {}
    for name, extra in (("here", {}), ("eigen", {"TF_ENABLE_ONEDNN_OPTS": "0"})):
        if name == "here" and "TF_ENABLE_ONEDNN_OPTS" not in os.environ:
            probes[name] = tensorflow_paths(_PROBED_PADDINGS)
            continue
        done = subprocess.run([sys.executable, "-c", _CHILD_PROBE, *_PROBED_PADDINGS], capture_output=True, text=True,
                              cwd=REPO, timeout=300, env={**env, **extra})
        assert done.returncode == 0, done.stderr[-2000:]
        probes[name] = pickle.loads(base64.b64decode(done.stdout.strip().splitlines()[-1]))
    return probes


@pytest.mark.tensorflow
@pytest.mark.xdist_group("tensorflow.conv_transpose")  # the worker of its matrix items: TF imported
@pytest.mark.parametrize("padding", _PROBED_PADDINGS, ids=["valid", "explicit-pairs"])
def test_tensorflow_path_label_is_true(tensorflow_probes, padding) -> None:
    """The `path` label is checked against what ran: a row labelled `eigen` gives bit for bit
    what TensorFlow gives with oneDNN off; one labelled `onednn` does not (positive float16 data
    with 128 channels, where Eigen's float16 sums differ)."""
    import numpy as np

    path, here = tensorflow_probes["here"][padding]
    eigen_path, eigen = tensorflow_probes["eigen"][padding]
    assert eigen_path == "eigen"
    same = np.array_equal(here, eigen)
    assert same == (path == "eigen"), f"path {path!r} but results {'equal' if same else 'differ'} to Eigen's"
