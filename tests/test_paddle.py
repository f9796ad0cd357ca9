"""The PaddlePaddle adapters (`adapters/paddle.py`): the built-in suite, a kernel flip the judge
must catch, and the translation of each padding form, checked by running Paddle."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("paddle")

from adapters.base import Adapter, import_framework
from adapters.layout import rot180
from adapters.padding import canonical_spans
from adapters.paddle import ADAPTERS, PaddleFunctional, paddle_span, plan
from harness.case import Case
from harness.casefile import case_from_mapping, load_cases
from harness.discrepancies import DEFAULT_TABLE, KnownDiscrepancies, load_discrepancies
from harness.oracle import conv_transpose
from harness.runner import adapter_row, gradient_rows, run
from tests.conftest import REPO

pytestmark = pytest.mark.paddle

def _table() -> KnownDiscrepancies:
    """The repository's known-discrepancy table (it has the Paddle entry)."""
    return load_discrepancies(DEFAULT_TABLE)


def _case(**mapping) -> Case:
    """A float64 case from keyword arguments (YAML keys), ids filled in."""
    mapping.setdefault("id", "t")
    mapping.setdefault("dtype", "float64")
    return case_from_mapping(mapping)


def _generated(rank: int, size, kernel: int = 3, **extra) -> Case:
    """A generated case: batch 2, 2 -> 3 channels (or as given), seeded data."""
    base = {"rank": rank, "batch": 2, "in_channels": 2, "out_channels": 3, "input_size": size,
            "kernel_size": kernel, "seed": 5, "bias": {"seed": 6}}
    base.update(extra)
    return _case(**base)


@pytest.fixture(scope="module")
def builtin_rows():
    return run(load_cases([REPO / "cases"]), list(ADAPTERS), discrepancies=_table()).rows


def test_import_framework_is_the_real_paddle() -> None:
    paddle = import_framework("paddle")
    assert hasattr(paddle.nn.functional, "conv2d_transpose") and "adapters" not in paddle.__file__


def test_every_builtin_case_runs(builtin_rows) -> None:
    ours = [r for r in builtin_rows if r.framework == "paddle"]
    assert {r.adapter for r in ours} == {a.name for a in ADAPTERS}
    bad = [f"{r.full_id}: {r.status}: {r.message[:200]}" for r in ours if r.status in ("fail", "error")]
    assert not bad, "\n".join(bad)
    assert sum(r.status == "pass" for r in ours) > 1000
    assert any(r.check == "grad_weight" and r.status == "pass" for r in ours)


def test_low_precision_is_unsupported_in_paddles_words(builtin_rows) -> None:
    low = [r for r in builtin_rows if r.framework == "paddle" and r.params["dtype"] in ("float16", "bfloat16")]
    assert low and all(r.status == "unsupported" and "not registered" in r.message for r in low)


class Flipped(Adapter):
    """A Paddle adapter handed the kernel rotated 180 degrees: must be caught."""

    def __init__(self, inner: Adapter) -> None:
        self.inner, self.name, self.framework = inner, f"flipped.{inner.name}", "paddle"

    def supports(self, case: Case) -> str | None:
        return self.inner.supports(case)

    def run(self, case: Case) -> np.ndarray:
        return self.inner.run(dataclasses.replace(case, kernel=rot180(case.kernel)))


def _flip_matters(case: Case) -> bool:
    """Whether the flipped kernel changes the canonical answer clearly (not symmetric, not empty)."""
    if case.dtype not in ("float32", "float64") or case.input.size == 0 or case.kernel.size == 0:
        return False
    kwargs = case.oracle_kwargs()
    a = conv_transpose(case.input, case.kernel, **kwargs)
    b = conv_transpose(case.input, rot180(case.kernel), **kwargs)
    return bool(np.isfinite(a).all() and np.abs(a - b).max() > 1e-3 * max(np.abs(a).max(), 1.0))


@pytest.mark.parametrize("inner", ADAPTERS, ids=[a.name for a in ADAPTERS])
def test_flipped_kernel_fails(inner: Adapter) -> None:
    cases = [c for c in load_cases([REPO / "cases" / n for n in ("padding.yaml", "ranks.yaml", "output_shape.yaml")])
             if _flip_matters(c)]
    rows = [r for r in run(cases, [Flipped(inner)]).rows if r.adapter.startswith("flipped")]
    judged = [r for r in rows if r.status != "unsupported"]
    assert len(judged) >= 20
    assert all(r.status == "fail" for r in judged), [(r.case_id, r.status, r.message[:80]) for r in judged
                                                     if r.status != "fail"][:5]


def _passes(case: Case) -> None:
    """Every Paddle adapter passes the case (and its gradients, when it asks for them)."""
    for adapter in ADAPTERS:
        row = adapter_row(case, adapter)
        assert row.status == "pass", (adapter.name, row.message)
        for grad in gradient_rows(case, adapter):
            assert grad.status == "pass", (adapter.name, grad.check, grad.message)


@pytest.mark.parametrize("size, native", [(4, True), (5, False)])
def test_same_stride_two(size: int, native: bool) -> None:
    case = _generated(2, [size, size], stride=2, padding="same")
    p = plan(case)
    assert (p.padding == "SAME") is native
    if not native:  # odd input: Paddle's SAME is one shorter and starts one later
        assert paddle_span(size, 3, 2, 1, "SAME") == type(p.spans[0])(1, 2 * size - 1)
        assert p.pairs == ((0, 1), (0, 1)) and "forward conv" in PaddleFunctional().translation(case)
    _passes(case)


def test_paddle_span_is_what_paddle_gives() -> None:
    paddle = import_framework("paddle")
    for size in (3, 4, 5, 6):
        for kernel in (1, 2, 3, 4):
            for stride in (1, 2, 3):
                x, w = paddle.ones([1, 1, size]), paddle.ones([1, 1, kernel])
                y = paddle.nn.functional.conv1d_transpose(x, w, stride=stride, padding="SAME")
                assert y.shape[-1] == paddle_span(size, kernel, stride, 1, "SAME").length


def test_same_with_dilation_is_sent_as_explicit_crops() -> None:
    case = _generated(1, 5, dilation=2, padding="same")
    assert PaddleFunctional().sent(case)["padding"] != "SAME"
    assert "dilation to 1" in PaddleFunctional().translation(case)
    _passes(case)


@pytest.mark.parametrize("mapping, sent", [
    ({"padding": "valid", "output_shape": [12, 10], "stride": 2}, {"padding": "VALID", "output_size": "[12, 10]"}),
    ({"padding": 1, "output_shape": [10, 8], "stride": 2, "output_shape_rule": "pytorch"},
     {"padding": "[1, 1]", "output_size": "[10, 8]"}),
    ({"padding": "same", "output_shape": [9, 8], "stride": 2}, {"padding": "SAME", "output_size": "[9, 8]"}),
])
def test_output_size(mapping, sent) -> None:
    case = _generated(2, [5, 4], **mapping)
    shown = PaddleFunctional().sent(case)
    assert {k: shown[k] for k in sent} == sent
    assert PaddleFunctional().translation(case) is None
    _passes(case)


def test_onnx_output_shape_is_explicit_crops() -> None:
    case = _generated(2, [4, 4], stride=2, output_shape=[8, 9], output_shape_rule="onnx")
    assert "output_size" not in PaddleFunctional().sent(case)
    _passes(case)


def test_output_padding_native_and_beyond_stride() -> None:
    case = _generated(2, [3, 4], stride=3, output_padding=[2, 1], padding=[[1, 0], [0, 2]])
    assert PaddleFunctional().sent(case)["output_padding"] == "[2, 1]"
    _passes(case)
    beyond = _generated(1, 4, stride=1, dilation=3, output_padding=1)
    assert PaddleFunctional().sent(beyond)["output_padding_beyond_stride"] == "yes"
    row = adapter_row(beyond, PaddleFunctional(), discrepancies=_table())
    assert row.status == "xfail" and "inconsistent" in row.message


@pytest.mark.parametrize("channels, path", [((4, 6), "gemm"), ((4, 4), "depthwise")])
def test_groups(channels, path) -> None:
    groups = 2 if path == "gemm" else 4
    case = _generated(2, [4, 3], in_channels=channels[0], out_channels=channels[1], groups=groups, stride=2, padding=1)
    assert PaddleFunctional().path(case) == path
    _passes(case)


@pytest.mark.parametrize("rank", [1, 3])
def test_asymmetric_crops_1d_3d(rank: int) -> None:
    pairs = [[1, 0], [0, 2], [2, 1]][:rank]
    case = _generated(rank, [4, 3, 5][:rank], stride=2, padding=pairs, dilation=[1, 2, 1][:rank])
    assert plan(case).why is None and plan(case).spans == canonical_spans(case)
    _passes(case)


@pytest.mark.parametrize("padding", ["same_lower", [[2, 0], [0, 1]], "valid"])
def test_gradients_match_the_oracle(padding) -> None:
    case = _generated(2, [4, 5], stride=2, padding=padding,
                      check=["forward", "grad_input", "grad_weight", "grad_bias"])
    _passes(case)


def test_zero_extension_without_bias_and_refused_with_bias() -> None:
    common = {"rank": 1, "batch": 1, "in_channels": 1, "out_channels": 1, "input_size": 3, "kernel_size": 2,
              "seed": 1, "stride": 2, "output_shape": [9], "output_shape_rule": "onnx"}
    _passes(_case(**common))
    assert "bias" in PaddleFunctional().supports(_case(**common, bias=[0.5]))


def test_paddle_after_tensorflow_is_an_error_not_a_crash_and_import_first_orders_them() -> None:
    """`import tensorflow; import paddle` is a SIGSEGV (TF 2.21, Paddle 3.3.1): tconv refuses the
    late import with an ImportError (a row's error), and `import_first` loads Paddle first."""
    import subprocess
    import sys

    pytest.importorskip("tensorflow")
    # the refusal reads which modules are loaded: a stand-in `tensorflow` spares this process TF's import (3 s);
    # the crash itself is cases/repro/paddle_after_tensorflow_import_crash.py's
    late = ("import sys, types\nsys.modules['tensorflow'] = types.ModuleType('tensorflow')\n"
            "from adapters.base import import_framework\n"
            "try:\n    import_framework('paddle')\nexcept ImportError as e:\n    print('refused:', e)\n")
    first = ("from adapters.base import import_first, import_framework\nimport_first(['tensorflow', 'paddle'])\n"
             "import tensorflow as tf\nimport sys\nprint('both', 'paddle' in sys.modules, float(tf.constant(1.0) + 1))\n")
    for code, words in ((late, "refused: paddle crashes (SIGSEGV) when imported after tensorflow"),
                        (first, "both True 2.0")):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
        assert done.returncode == 0 and words in done.stdout, (done.returncode, done.stdout, done.stderr[-1500:])
