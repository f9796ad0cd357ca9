"""The tinygrad adapter's own translation: the window it sends as tinygrad's `(begin, end)` crops
and output_padding (tinygrad has no padding words and no output_shape), known values computed by
tinygrad itself, a kernel flip that must fail, its dtypes and its autograd."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from adapters.layout import rot180
from adapters.tinygrad_conv import TinygradConvTranspose, plan, tinygrad_padding
from harness.casefile import case_from_mapping
from harness.runner import adapter_row, gradient_rows
from tests.conftest import REPO

pytest.importorskip("tinygrad")
pytestmark = pytest.mark.tinygrad

ADAPTER = TinygradConvTranspose()


def _case(**mapping):
    return case_from_mapping({"id": "t", **mapping})


def test_importing_the_adapter_does_not_import_tinygrad() -> None:
    code = "import sys, adapters.tinygrad_conv; sys.exit('tinygrad' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO).returncode == 0


def test_known_values_stride_2() -> None:
    # d2l.ai's worked example: each input value scales the kernel, placed `stride` apart
    case = _case(input=[[0, 1], [2, 3]], kernel=[[1, 2], [3, 4]], stride=2)
    y = ADAPTER.run(case)
    assert y.dtype == np.float32
    assert np.array_equal(y[0, 0], [[0, 0, 1, 2], [0, 0, 3, 4], [2, 4, 3, 6], [6, 8, 9, 12]])


def test_known_values_crop_bias_groups_and_output_padding() -> None:
    # 1-D, two groups of one channel: x = [1, 2] and [3, 4], kernels [1, 10] and [100, 1000],
    # stride 2: full results [1, 10, 2, 20] and [300, 3000, 400, 4000]; output_padding 1 appends a
    # zero, the pair [1, 0] crops the first position, and the bias lands on every position left.
    case = _case(input=[[[1, 2], [3, 4]]], kernel=[[[1, 10]], [[100, 1000]]], groups=2, stride=2,
                 padding=[[1, 0]], output_padding=1, bias=[0.5, -1], dtype="float64")
    y = ADAPTER.run(case)
    assert y.dtype == np.float64
    assert np.array_equal(y[0], [[10.5, 2.5, 20.5, 0.5], [2999, 399, 3999, -1]])


def test_a_flipped_kernel_fails() -> None:
    case = case_from_mapping({"id": "t", "batch": 1, "in_channels": 2, "out_channels": 3, "input_size": [3, 4],
                              "kernel_size": [3, 2], "stride": 2, "seed": 5})
    assert adapter_row(case, ADAPTER).status == "pass"
    flipped = dataclasses.replace(case, kernel=rot180(case.kernel))
    assert not np.allclose(ADAPTER.run(flipped), ADAPTER.run(case))


@pytest.mark.parametrize(("mapping", "pads", "extras"), [
    # explicit crops go as they are: symmetric as one int per dim, pairs flat, last dim first
    ({"input_size": [4, 5], "kernel_size": 3, "stride": 2, "padding": 1}, [(1, 1), (1, 1)], (0, 0)),
    ({"input_size": [4, 5], "kernel_size": 3, "stride": 2, "padding": [[1, 0], [0, 2]]}, [(1, 0), (0, 2)], (0, 0)),
    # same with a stride beyond the kernel: the window runs 1 past the full result (4 * 3 = 12 > 11)
    ({"rank": 1, "input_size": 4, "kernel_size": 2, "stride": 3, "padding": "same"}, [(0, 0)], (1,)),
    # same_lower puts the odd crop at the start: full 9 + 1, length 8, total 2 -> (1, 1) ... with op 1
    ({"rank": 1, "input_size": 4, "kernel_size": 3, "stride": 2, "padding": "same_lower", "output_padding": 1},
     [(1, 1)], (1,)),
])
def test_the_window_is_sent_as_crops_and_output_padding(mapping, pads, extras) -> None:
    case = case_from_mapping({"id": "t", "batch": 1, "in_channels": 1, "out_channels": 2, "seed": 2,
                              "bias": {"seed": 4}, **mapping})
    assert plan(case) == (pads, extras)
    row = adapter_row(case, ADAPTER)
    assert row.status == "pass", row.bug_report()
    assert ("translated" in row.message) == (case.padding_word is not None)


def test_tinygrad_padding_order() -> None:
    assert tinygrad_padding([(1, 1), (2, 2)]) == (1, 2)
    assert tinygrad_padding([(1, 0), (0, 2), (3, 4)]) == (3, 4, 0, 2, 1, 0)


def test_output_shape_past_the_full_result_runs_natively_with_its_bias() -> None:
    # TensorFlow's output_shape, VALID, 2 past the full result (stride 3): zeros plus the bias there
    case = _case(input=[[[1, 2]]], kernel=[[[1, 1]]], stride=3, padding="valid", output_shape=[7], bias=[0.25])
    assert plan(case) == ([(0, 0)], (2,))
    assert np.array_equal(ADAPTER.run(case)[0, 0], [1.25, 1.25, 0.25, 2.25, 2.25, 0.25, 0.25])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_every_dtype_runs_and_comes_back_in_it(dtype) -> None:
    assert ADAPTER.supports(case_from_mapping({"id": "t", "rank": 1, "batch": 1, "in_channels": 1, "out_channels": 1,
                                               "input_size": 3, "kernel_size": 2, "dtype": dtype, "seed": 0})) is None
    case = _case(input=[[[1, 2]]], kernel=[[[1, 3]]], stride=2, dtype=dtype)
    y = ADAPTER.run(case)
    assert str(y.dtype) == dtype and np.array_equal(y.astype(np.float64)[0, 0], [1, 3, 2, 6])


def test_a_dtype_tinygrad_cannot_run_is_unsupported_in_its_words(monkeypatch) -> None:
    import adapters.tinygrad_conv as module

    def refuse(self, case):
        raise RuntimeError("no float16 here")

    monkeypatch.setattr(module.TinygradConvTranspose, "run", refuse)
    module._missing_dtype.cache_clear()
    try:
        reason = module._missing_dtype("float16")
    finally:
        module._missing_dtype.cache_clear()
    assert reason is not None and "float16" in reason and "RuntimeError: no float16 here" in reason


def test_known_gradients() -> None:
    # y = conv_transpose(x, w), stride 2: y[2i + j] = x[i] * w[j]; upstream g
    # d/dx[i] = sum_j g[2i + j] w[j], d/dw[j] = sum_i g[2i + j] x[i], d/db = sum g
    case = case_from_mapping({"id": "t", "input": [[[1.0, 2.0]]], "kernel": [[[3.0, 5.0]]], "stride": 2,
                              "bias": [0.0], "dtype": "float64", "check": ["grad_input", "grad_weight", "grad_bias"],
                              "upstream": [[[1.0, 10.0, 100.0, 1000.0]]]})
    grads = ADAPTER.gradients(case)
    assert np.array_equal(grads["grad_input"][0, 0], [1 * 3 + 10 * 5, 100 * 3 + 1000 * 5])
    assert np.array_equal(grads["grad_weight"][0, 0], [1 * 1 + 100 * 2, 10 * 1 + 1000 * 2])
    assert np.array_equal(grads["grad_bias"], [1111.0])


@pytest.mark.parametrize("mapping", [
    {"rank": 1, "input_size": 6, "kernel_size": 3, "stride": 2, "padding": "same_lower"},
    {"input_size": [4, 5], "kernel_size": [3, 2], "stride": [2, 3], "padding": [[1, 0], [0, 2]], "bias": {"seed": 3},
     "groups": 3},
    {"input_size": [3, 3, 2], "kernel_size": 2, "stride": 2, "output_padding": 1, "dilation": [1, 2, 1]},
])
def test_forward_and_gradients_pass_in_float32(mapping) -> None:
    checks = ["forward", "grad_input", "grad_weight"] + (["grad_bias"] if "bias" in mapping else [])
    case = case_from_mapping({"id": "t", "batch": 2, "in_channels": 3, "out_channels": 3, "seed": 1,
                              "dtype": "float32", "check": checks, **mapping})
    rows = [adapter_row(case, ADAPTER), *gradient_rows(case, ADAPTER)]
    assert len(rows) == len(checks) and all(r.status == "pass" for r in rows), [r.bug_report() for r in rows
                                                                                 if r.status != "pass"]
