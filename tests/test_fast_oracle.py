"""The oracle's phase path against its per-tap formulation (and the numpy.per_tap adapter).

The oracle computes by phases (the sub-pixel decomposition: one im2col, one GEMM for every phase,
no scatter-add) where that is cheaper and the data are finite, and tap by tap otherwise. Both
must give the same answer to rounding on every configuration the contract allows: every rank,
padding form, output_padding, output_shape rule, stride, dilation, groups, empty dims and bias.
"""

from __future__ import annotations

import math
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters.numpy_per_tap import NumpyPerTap
from harness import oracle, oracle_phases
from harness.case import Case
from harness.casefile import CaseFileError, case_from_mapping, load_cases
from harness.fuzz_strategies import case_mappings
from harness.oracle import _transposed_window, conv_transpose, output_windows
from harness.oracle_phases import gemm_groups, phase_plan
from tests.conftest import REPO

pytestmark = pytest.mark.numpy
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _windows(case: Case) -> tuple:
    kwargs = case.oracle_kwargs()
    return output_windows(case.input_size, case.kernel_size, stride=case.stride, padding=kwargs["padding"],
                          output_padding=case.output_padding, dilation=case.dilation,
                          output_shape=case.output_shape, output_shape_rule=case.output_shape_rule)


def by_path(case: Case, path: str, *, magnitude: bool = False) -> np.ndarray:
    """The case's canonical output by one path (`phase` or `per_tap`), bias added; with
    `magnitude`, of |x|, |w| and |bias| (the scale rounding errors are relative to)."""
    x, w, bias = case.input, case.kernel, case.bias
    if magnitude:
        x, w, bias = np.abs(x), np.abs(w), None if bias is None else np.abs(bias)
    y = _transposed_window(x, w, _windows(case), stride=case.stride, dilation=case.dilation, groups=case.groups,
                           path=path)
    return y if bias is None else y + bias.reshape((1, -1) + (1,) * case.rank)


def assert_close(actual: np.ndarray, expected: np.ndarray, scale: np.ndarray) -> None:
    """Equal to rounding: within 1e-12 of the magnitude of the terms summed."""
    assert actual.shape == expected.shape
    assert np.all(np.abs(actual - expected) <= 1e-12 * scale + 1e-300), np.abs(actual - expected).max()


def configurations(**options: Any) -> st.SearchStrategy[dict[str, Any]]:
    """The fuzzer's case mappings, with a batch of 0 to 3 (empty a quarter of the time or so,
    where the fuzzer's own draws are mostly empty) unless the arrays are written out."""
    return st.tuples(case_mappings(**options), st.sampled_from([0, 1, 1, 2, 3])).map(
        lambda pair: pair[0] if not isinstance(pair[0]["input"], dict) else {**pair[0], "batch": pair[1]})


def make_case(mapping: dict[str, Any]) -> Case:
    try:
        return case_from_mapping(mapping)
    except CaseFileError:
        assume(False)
        raise


@PROPERTY
@given(configurations(dtypes=("float64",), large=True))
def test_phase_path_equals_per_tap_path(mapping: dict[str, Any]) -> None:
    case = make_case(mapping)
    per_tap = by_path(case, "per_tap")
    scale = by_path(case, "per_tap", magnitude=True)
    assert_close(by_path(case, "phase"), per_tap, scale)
    assert_close(conv_transpose(case.input, case.kernel, **case.oracle_kwargs()), per_tap, scale)
    assert_close(np.asarray(NumpyPerTap().run(case)), per_tap, scale)  # its own window code


@settings(max_examples=40, deadline=None)
@given(configurations(dtypes=("float64",), special=True))
def test_non_finite_data_take_the_per_tap_path_exactly(mapping: dict[str, Any]) -> None:
    """The phase GEMM multiplies zero weights and the im2col's zero border: 0*inf = NaN where
    the definition has no product. Non-finite data must give the per-tap result, NaN for NaN."""
    case = make_case(mapping)
    with np.errstate(invalid="ignore", over="ignore"):
        got = conv_transpose(case.input, case.kernel, **case.oracle_kwargs())
        want = by_path(case, "per_tap")
        if np.isfinite(case.input).all() and np.isfinite(case.kernel).all():
            assert_close(got, want, by_path(case, "per_tap", magnitude=True))
        else:
            np.testing.assert_array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(configurations(dtypes=("float64",)), st.sampled_from([1, 50, 400]))
def test_chunks_of_rows_and_items_give_the_same_answer(mapping: dict[str, Any], chunk: int) -> None:
    """Chunking the batch or the first dim's rows (down to one row of one item) changes nothing."""
    case = make_case(mapping)
    want = by_path(case, "per_tap")
    saved, oracle_phases.CHUNK_ELEMENTS = oracle_phases.CHUNK_ELEMENTS, chunk
    try:
        got = by_path(case, "phase")
    finally:
        oracle_phases.CHUNK_ELEMENTS = saved
    assert_close(got, want, by_path(case, "per_tap", magnitude=True))


def test_the_seeds_golden_values_by_phases() -> None:
    cases = load_cases([REPO / "cases" / "seeds.yaml"])
    assert len(cases) >= 8
    for case in cases:
        y = by_path(case, "phase")
        if case.expected is not None:
            np.testing.assert_array_equal(y, case.expected, err_msg=case.id)
        if case.expected_shape is not None:
            assert y.shape == case.expected_shape


@pytest.mark.parametrize("n, c_in, c_out", [(0, 2, 4), (2, 0, 4), (2, 2, 0), (0, 0, 0)])
@pytest.mark.parametrize("path", ["phase", "per_tap", "auto"])
def test_empty_batch_and_channels(n: int, c_in: int, c_out: int, path: str) -> None:
    """An empty batch or C_out: an empty array of the right shape; an empty C_in: zeros + bias."""
    x, w, bias = np.ones((n, c_in, 3, 4)), np.ones((c_in, c_out, 2, 3)), np.arange(c_out, dtype=float)
    windows = output_windows((3, 4), (2, 3), stride=(2, 1), padding="same")
    y = _transposed_window(x, w, windows, stride=(2, 1), dilation=(1, 2), groups=1, path=path)
    assert y.shape == (n, c_out, 6, 4) and not y.any()
    z = conv_transpose(x, w, bias, stride=2, padding=1, output_padding=1)
    assert z.shape == (n, c_out, 5, 8) and np.array_equal(z, np.broadcast_to(bias.reshape(1, -1, 1, 1), z.shape))


def test_an_im2col_larger_than_the_budget_falls_back_per_tap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stride 1, a 15x15 kernel and 64 input channels: the im2col of one row (64 x 225 offsets)
    would outweigh input plus output, so the estimate sends the case per tap."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 64, 8, 8)), rng.standard_normal((64, 1, 15, 15))
    windows = output_windows((8, 8), (15, 15), padding=0)
    assert phase_plan(x, w, windows, (1, 1), (1, 1), 1, by_cost=False) is None
    calls = []
    real = np.matmul
    monkeypatch.setattr(np, "matmul", lambda *a, **k: calls.append(1) or real(*a, **k))
    y = conv_transpose(x, w)
    monkeypatch.undo()
    assert len(calls) == 225 and y.shape == (1, 1, 22, 22)


WORKLOADS = [  # (x shape, w shape, stride, padding): the three layers of harness.bench_oracle, smaller
    ((4, 32, 16, 16), (32, 16, 4, 4), 2, 1),
    ((2, 32, 512), (32, 16, 25), 4, 0),
    ((2, 8, 8, 8, 8), (8, 4, 4, 4, 4), 2, 1),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", WORKLOADS)
def test_layers_take_the_phase_path_with_one_gemm_per_chunk(x_shape, w_shape, stride, padding,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """No loop over pixels, batch or channels: per chunk (chunks sized to input plus output, a few
    here) one GEMM per group of phases (two for k 25, stride 4: 7 offsets for phase 0, 6 else)."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    rank = x.ndim - 2
    windows = output_windows(x_shape[2:], w_shape[2:], stride=stride, padding=padding)
    plan = phase_plan(x, w, windows, (stride,) * rank, (1,) * rank, 1)
    assert plan is not None and len(plan[1]) <= 8
    calls = []
    real = np.matmul
    monkeypatch.setattr(np, "matmul", lambda *a, **k: calls.append(1) or real(*a, **k))
    y = conv_transpose(x, w, stride=stride, padding=padding)
    monkeypatch.undo()
    assert len(calls) == len(plan[1]) * len(gemm_groups(plan[0])) and len(gemm_groups(plan[0])) == (2 if rank == 1 else 1)
    full = oracle.full_result_per_tap(x, w, stride=(stride,) * rank, dilation=(1,) * rank, groups=1)
    want = full[(Ellipsis, *(slice(v.start, v.stop) for v in windows))]
    assert np.abs(y - want).max() <= 1e-12 * np.abs(want).max()


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", [
    ((8, 64, 32, 32), (64, 32, 4, 4), 2, 1),  # chunked over the batch
    ((1, 32, 24, 24, 24), (32, 16, 3, 3, 3), 2, 1),  # chunked over rows
    ((4, 64, 2048), (64, 32, 9), 3, 0),
])
def test_peak_memory_is_within_three_times_input_plus_output(x_shape, w_shape, stride, padding) -> None:
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    rank = x.ndim - 2
    plan = phase_plan(x, w, output_windows(x_shape[2:], w_shape[2:], stride=stride, padding=padding),
                       (stride,) * rank, (1,) * rank, 1)
    assert plan is not None and len(plan[1]) > 1  # the phase path, chunked
    tracemalloc.start()
    y = conv_transpose(x, w, stride=stride, padding=padding)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert y.shape[:2] == (x_shape[0], w_shape[1])
    assert peak <= 3 * (x.nbytes + y.nbytes) + 2**20, (peak, x.nbytes + y.nbytes)
    assert math.isfinite(float(y.sum()))
