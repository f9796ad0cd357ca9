"""The oracle: golden data, a literal per-element definition, bias and extension semantics,
and its cost (vectorised, memory proportional to input plus output)."""

from __future__ import annotations

import itertools
import time
import tracemalloc

import numpy as np
import pytest

from harness.casefile import load_cases
from harness.oracle import conv_transpose
from tests.conftest import REPO


def literal_definition(x, w, *, stride, dilation, groups, window_start, out_size, bias=None):
    """y[n, co, o] = sum over (ci in co's group, i, j) with i*s + j*d == start + o of x[n, ci, i] * w[ci, co', j].

    One output element at a time, straight from the contract; slow and obvious.
    """
    n_batch, c_in, *in_size = x.shape
    _, c_out_g, *k = w.shape
    c_in_g = c_in // groups
    y = np.zeros((n_batch, c_out_g * groups, *out_size))
    for n, co in itertools.product(range(n_batch), range(c_out_g * groups)):
        g = co // c_out_g
        for o in itertools.product(*(range(m) for m in out_size)):
            total = 0.0
            for ci in range(g * c_in_g, (g + 1) * c_in_g):
                for i in itertools.product(*(range(m) for m in in_size)):
                    for j in itertools.product(*(range(m) for m in k)):
                        if all(ii * s + jj * d == st + oo for ii, s, jj, d, st, oo
                               in zip(i, stride, j, dilation, window_start, o)):
                            total += x[(n, ci, *i)] * w[(ci, co % c_out_g, *j)]
            y[(n, co, *o)] = total + (0.0 if bias is None else bias[co])
    return y


def test_seed_cases_match_their_golden_values() -> None:
    cases = load_cases([REPO / "cases" / "seeds.yaml"])
    assert len(cases) >= 8
    for case in cases:
        y = conv_transpose(case.input, case.kernel, **case.oracle_kwargs())
        if case.expected is not None:
            np.testing.assert_array_equal(y, case.expected, err_msg=case.id)
        if case.expected_shape is not None:
            assert y.shape == case.expected_shape


# (rank, groups, stride, dilation, padding, output_padding, output_shape, window start expected)
CONFIGS = [
    (1, 1, 2, 1, 0, 1, None),
    (1, 2, 3, 2, [[1, 2]], 1, None),
    (2, 1, 2, 1, "same", 0, None),
    (2, 1, 2, 1, "same_lower", 1, None),
    (2, 2, [1, 3], [2, 1], [[0, 1], [2, 0]], [1, 2], None),
    (2, 1, 3, 1, "valid", 2, None),
    (2, 1, 2, 1, "same", 0, [6, 5]),
    (2, 1, 2, 2, "valid", 0, [9, 10]),
    (3, 1, 2, 1, 1, 1, None),
    (3, 2, [1, 2, 2], 1, "same_upper", 0, None),
]


def _window_starts(config, x, w):
    """The start of each dim's window, from the contract text (written out again here)."""
    rank, groups, stride, dilation, padding, output_padding, output_shape = config
    per = lambda v: list(v) if isinstance(v, list) else [v] * rank  # noqa: E731
    starts, sizes = [], []
    for dim in range(rank):
        n, k, s, d, op = x.shape[2 + dim], w.shape[2 + dim], per(stride)[dim], per(dilation)[dim], per(output_padding)[dim]
        full = (n - 1) * s + d * (k - 1) + 1
        if output_shape is not None:
            size = output_shape[dim]
            start = max(full - size, 0) // 2 if padding == "same" else 0
        elif padding == "valid":
            start, size = 0, full + op
        elif isinstance(padding, str):
            size = n * s
            total = max(full + op - size, 0)
            start = total - total // 2 if padding == "same_lower" else total // 2
        else:
            b, e = padding[dim] if isinstance(padding, list) else (padding, padding)
            start, size = b, full + op - b - e
        starts.append(start)
        sizes.append(size)
    return starts, sizes


@pytest.mark.parametrize("config", CONFIGS, ids=[f"rank{c[0]}-{c[4]}" for c in CONFIGS])
def test_oracle_equals_the_literal_definition(config) -> None:
    rank, groups, stride, dilation, padding, output_padding, output_shape = config
    rng = np.random.default_rng(rank * 10 + groups)
    x = rng.integers(-3, 4, (2, 2 * groups) + (3,) * rank).astype(float)
    w = rng.integers(-3, 4, (2 * groups, 2) + (2,) * (rank - 1) + (3,)).astype(float)
    bias = rng.integers(-3, 4, 2 * groups).astype(float)
    per = lambda v: list(v) if isinstance(v, list) else [v] * rank  # noqa: E731
    starts, sizes = _window_starts(config, x, w)
    want = literal_definition(x, w, stride=per(stride), dilation=per(dilation), groups=groups,
                              window_start=starts, out_size=sizes, bias=bias)
    got = conv_transpose(x, w, bias, stride=stride, padding=padding, output_padding=output_padding,
                         dilation=dilation, groups=groups, output_shape=output_shape)
    np.testing.assert_array_equal(got, want)


def test_bias_reaches_output_padding_and_zero_extension() -> None:
    x = np.array([[[1.0, 2.0]]])
    w = np.array([[[3.0]]])
    # stride 3, k 1: full = [3, 0, 0, 6]; output_padding 2 appends two zeros; then + bias.
    y = conv_transpose(x, w, np.array([0.5]), stride=3, output_padding=2)
    assert y.ravel().tolist() == [3.5, 0.5, 0.5, 6.5, 0.5, 0.5]
    # same: in*stride = 6 positions from a full result of 4: two zeros appended, bias everywhere.
    y = conv_transpose(x, w, np.array([-1.0]), stride=3, padding="same")
    assert y.ravel().tolist() == [2.0, -1.0, -1.0, 5.0, -1.0, -1.0]


def test_kernel_layout_is_in_out() -> None:
    x = np.zeros((1, 2, 1))
    x[0, 1, 0] = 1.0  # only input channel 1 is on
    w = np.arange(2 * 3, dtype=float).reshape(2, 3, 1)  # (C_in=2, C_out=3, k=1)
    assert conv_transpose(x, w).ravel().tolist() == [3.0, 4.0, 5.0]


def test_kernel_is_not_flipped() -> None:
    y = conv_transpose(np.array([[[1.0]]]), np.array([[[1.0, 2.0, 3.0]]]))
    assert y.ravel().tolist() == [1.0, 2.0, 3.0]


def test_memory_stays_proportional_to_input_plus_output() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 24, 24))
    w = rng.standard_normal((16, 8, 4, 4))
    out_bytes = 2 * 8 * 48 * 48 * 8
    tracemalloc.start()
    y = conv_transpose(x, w, stride=2, padding=1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert y.nbytes == out_bytes
    # The convolution matrix alone would be (16*24*24) x (8*48*48) float64 = 1.3 GB.
    assert peak < 4 * (x.nbytes + w.nbytes + out_bytes), peak


@pytest.mark.parametrize("shape", [(1, 2, 3, 3), (4, 6, 9, 7), (2, 6, 1, 12)])
def test_one_gemm_per_kernel_tap_whatever_the_sizes(monkeypatch: pytest.MonkeyPatch, shape) -> None:
    """No loop over pixels, batch or channels: the GEMM count is the number of taps, nothing else."""
    calls = []
    real = np.matmul
    monkeypatch.setattr(np, "matmul", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = np.ones(shape)
    w = np.ones((shape[1], 4, 2, 3))
    conv_transpose(x, w, stride=2, groups=2)
    assert len(calls) == 2 * 3


def test_cost_is_close_to_one_gemm_of_the_same_flops() -> None:
    """A loop over pixels, batch or channels would be far slower than BLAS."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 64, 32, 32))
    w = rng.standard_normal((64, 32, 4, 4))
    a = rng.standard_normal((32 * 16, 64))
    b = rng.standard_normal((64, 8 * 32 * 32))

    def best(fn, repeat=5):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    gemm = best(lambda: a @ b)  # the same multiply-adds as the transposed conv
    oracle = best(lambda: conv_transpose(x, w, stride=2, padding=1))
    assert oracle < 10 * gemm, (oracle, gemm)
