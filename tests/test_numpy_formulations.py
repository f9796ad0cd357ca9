"""The NumPy formulations on non-finite data: exact, or `unsupported` with the reason.

The canonical definition only multiplies an input element by a kernel tap that lands on an output
position, so NaN and inf reach exactly those outputs. A formulation that multiplies structural
zeros (the zeros of a convolution matrix, inserted or padded zeros, dilation holes) turns
0*inf into NaN where the definition has none; it must refuse such cases instead of failing them.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from adapters.numpy_matrix import NumpyMatrix
from adapters.numpy_scatter import NumpyScatter
from adapters.numpy_zero_insertion import NumpyZeroInsertion
from harness.casefile import case_from_mapping, parse_text
from harness.case import Case
from harness.geometry import full_length
from harness.oracle import conv_transpose, output_windows

pytestmark = pytest.mark.numpy

INF, NAN = float("inf"), float("nan")

# (1, 2, 3, 3): an inf next to a zero-valued kernel tap's partner, a NaN, a -inf, and zeros that
# meet inf in the kernel case. Integer values keep every finite sum exact in every dtype.
INPUT = [[[[1, INF, 2], [0, -1, 3], [2, 1, -2]],
          [[NAN, 1, 0], [2, -INF, 1], [1, 0, 3]]]]
FINITE_INPUT = [[[[1, 4, 2], [0, -1, 3], [2, 1, -2]],
                 [[3, 1, 0], [2, -3, 1], [1, 0, 3]]]]
KERNEL = [[[[1, 0], [2, -1]], [[0, 1], [3, 1]]],
          [[[2, 1], [0, 1]], [[1, -2], [1, 0]]]]
KERNEL_INF = [[[[1, INF], [2, -1]], [[0, 1], [3, 1]]],
              [[[2, 1], [0, 1]], [[1, -2], [-INF, 0]]]]


def make_case(*, x: list, w: list, dtype: str = "float32", bias: list | None = None,
              **options: object) -> Case:
    return case_from_mapping({"id": "nonfinite", "input": x, "kernel": w, "dtype": dtype,
                              "bias": bias or [1, -2], **options})


def oracle(case: Case) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return conv_transpose(case.input, case.kernel, **case.oracle_kwargs())


def run(adapter: object, case: Case) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(adapter.run(case), dtype=np.float64)  # type: ignore[attr-defined]


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    """Elementwise equal, NaN where NaN, inf of the same sign where inf; and not all NaN."""
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)
    assert np.isfinite(expected).any() and not np.isfinite(expected).all()


def pair_by_pair(case: Case) -> np.ndarray:
    """The definition read literally: every (input, tap) pair added where it lands, then cropped."""
    x, w, g = case.input, case.kernel, case.groups
    c_in_g, c_out_g = case.in_channels // g, w.shape[1]
    windows = output_windows(case.input_size, case.kernel_size, **{
        k: v for k, v in case.oracle_kwargs().items() if k not in ("bias", "groups")})
    sizes = [max(full_length(n, k, s, d), win.stop) for n, k, s, d, win in
             zip(case.input_size, case.kernel_size, case.stride, case.dilation, windows)]
    full = np.zeros((case.batch, case.out_channels, *sizes))
    with np.errstate(invalid="ignore"):
        for b, ci, co in itertools.product(range(case.batch), range(case.in_channels), range(c_out_g)):
            for pos in itertools.product(*map(range, case.input_size)):
                for tap in itertools.product(*map(range, case.kernel_size)):
                    out = tuple(p * s + j * d for p, j, s, d in zip(pos, tap, case.stride, case.dilation))
                    full[(b, ci // c_in_g * c_out_g + co, *out)] += x[(b, ci, *pos)] * w[(ci, co, *tap)]
    y = full[(slice(None), slice(None), *(slice(v.start, v.stop) for v in windows))]
    return y + case.bias.reshape((1, -1) + (1,) * case.rank)  # type: ignore[union-attr]


INPUT_OPTIONS = {"stride": 2, "dilation": 2, "padding": 1}


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("x, w", [(INPUT, KERNEL), (FINITE_INPUT, KERNEL_INF)], ids=["input", "kernel"])
def test_oracle_propagates_only_the_pairs_of_the_definition(x: list, w: list, dtype: str) -> None:
    # The oracle scatters one tap at a time (strided adds): it never multiplies a structural zero.
    case = make_case(x=x, w=w, dtype=dtype, **INPUT_OPTIONS)
    assert_same(oracle(case), pair_by_pair(case))


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("x, w", [(INPUT, KERNEL), (FINITE_INPUT, KERNEL_INF)], ids=["input", "kernel"])
@pytest.mark.parametrize("options", [INPUT_OPTIONS, {"stride": 1}, {"stride": [2, 1], "padding": "same"}],
                         ids=["stride2-dilation2", "stride1", "same"])
def test_scatter_equals_the_oracle_elementwise(x: list, w: list, dtype: str, options: dict) -> None:
    case = make_case(x=x, w=w, dtype=dtype, **options)
    assert NumpyScatter().supports(case) is None
    assert_same(run(NumpyScatter(), case), oracle(case))


def test_scatter_groups_and_batch() -> None:
    case = make_case(x=INPUT + FINITE_INPUT, w=KERNEL_INF, groups=2, stride=2, dtype="float64",
                     bias=[1, -2, 0, 3])
    assert_same(run(NumpyScatter(), case), oracle(case))


def test_matrix_refuses_non_finite_input() -> None:
    case = make_case(x=INPUT, w=KERNEL, **INPUT_OPTIONS)
    reason = NumpyMatrix().supports(case)
    assert reason is not None and "structural zeros of C" in reason and "0*inf = NaN" in reason


def test_matrix_is_exact_for_a_non_finite_kernel() -> None:
    # C holds the kernel's values only where a pair lands; its zeros meet finite inputs.
    case = make_case(x=FINITE_INPUT, w=KERNEL_INF, **INPUT_OPTIONS)
    assert NumpyMatrix().supports(case) is None
    assert_same(run(NumpyMatrix(), case), oracle(case))


def test_zero_insertion_refuses_non_finite_input_with_dilation_holes() -> None:
    case = make_case(x=INPUT, w=KERNEL, **INPUT_OPTIONS)
    reason = NumpyZeroInsertion().supports(case)
    assert reason is not None and "dilated kernel" in reason and "0*inf = NaN" in reason


def test_zero_insertion_refuses_a_non_finite_kernel() -> None:
    case = make_case(x=FINITE_INPUT, w=KERNEL_INF, stride=1)
    reason = NumpyZeroInsertion().supports(case)
    assert reason is not None and "padded around the input" in reason and "0*inf = NaN" in reason


@pytest.mark.parametrize("options", [{"stride": 2, "padding": 1}, {"stride": 1}], ids=["stride2", "stride1"])
def test_zero_insertion_is_exact_for_non_finite_input_without_holes(options: dict) -> None:
    # Inserted and padded zeros meet only the (finite) kernel: the products are the definition's.
    case = make_case(x=INPUT, w=KERNEL, **options)
    assert NumpyZeroInsertion().supports(case) is None
    assert_same(run(NumpyZeroInsertion(), case), oracle(case))


def test_finite_cases_stay_supported() -> None:
    case = make_case(x=FINITE_INPUT, w=KERNEL, **INPUT_OPTIONS)
    for adapter in (NumpyScatter(), NumpyMatrix(), NumpyZeroInsertion()):
        assert adapter.supports(case) is None


def test_yaml_inf_and_nan_reach_the_case() -> None:
    text = """
cases:
  - id: nonfinite
    input: [[1, .inf, 2], [.nan, -.inf, 0]]
    kernel: [[1, 0], [2, 3]]
    stride: 2
    dilation: 2
"""
    (case,) = parse_text(text, "nonfinite.yaml")
    assert np.isinf(case.input).sum() == 2 and np.isnan(case.input).sum() == 1
    assert_same(run(NumpyScatter(), case), oracle(case))
    assert NumpyMatrix().supports(case) is not None
    assert NumpyZeroInsertion().supports(case) is not None
