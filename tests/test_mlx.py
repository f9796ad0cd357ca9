"""The MLX adapter's own translation: the weight layout it sends and reads back, and the empty
cases it does not run in-process (MLX kills the process on them: cases/repro/mlx_conv_transpose.py)."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.mlx_conv import MlxConvTranspose, weight_from_layout, weight_layout
from harness.casefile import case_from_mapping
from harness.runner import adapter_row, gradient_rows

pytest.importorskip("mlx.core")
pytestmark = pytest.mark.mlx


def test_the_weight_layout_moves_axes_without_a_flip_and_comes_back() -> None:
    kernel = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)  # (C_in, C_out, kh, kw)
    sent = weight_layout(kernel)
    assert sent.shape == (3, 4, 5, 2) and sent[1, 2, 3, 0] == kernel[0, 1, 2, 3]
    assert np.array_equal(weight_from_layout(sent), kernel)


@pytest.mark.parametrize("mapping", [
    {"input_size": 6, "kernel_size": 3, "stride": 2, "padding": "same_lower"},
    {"input_size": [4, 5], "kernel_size": [3, 2], "stride": [2, 3], "padding": [[1, 0], [0, 2]], "bias": {"seed": 3}},
    {"input_size": [3, 3, 4], "kernel_size": 2, "stride": 2, "output_padding": 1, "dilation": [1, 2, 1]},
])
def test_forward_and_gradients_pass_in_float32(mapping) -> None:
    checks = ["forward", "grad_input", "grad_weight"] + (["grad_bias"] if "bias" in mapping else [])
    case = case_from_mapping({"id": "t", "batch": 2, "in_channels": 2, "out_channels": 3, "seed": 1,
                              "dtype": "float32", "check": checks, **mapping})
    rows = [adapter_row(case, MlxConvTranspose()), *gradient_rows(case, MlxConvTranspose())]
    # grad_input with output_padding is MLX's known bug (a gradient of the wrong shape)
    judged = [r for r in rows if not (r.check == "grad_input" and any(case.output_padding))]
    assert len(judged) >= 2 and all(r.status == "pass" for r in judged), [r.bug_report() for r in judged
                                                                          if r.status != "pass"]


def test_empty_cases_are_not_run_in_process() -> None:
    case = case_from_mapping({"id": "t", "batch": 1, "in_channels": 0, "out_channels": 2, "input_size": 3,
                              "kernel_size": 2, "seed": 0})
    row = adapter_row(case, MlxConvTranspose())
    assert row.status == "unsupported" and "SIGFPE" in row.message
