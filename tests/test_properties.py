"""Properties of the oracle over generated configurations (hypothesis, 200+ examples each).

1. Adjointness: <conv_transpose(x), y> == <x, correlate(y)>, with the forward cross-correlation
   written here independently (and its own reading of the output window).
2. Agreement: the oracle and the three NumPy formulations of the seeds give the same answer.
Both are shown to fail on an oracle with its kernel flipped.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.numpy_matrix import NumpyMatrix
from adapters.numpy_scatter import NumpyScatter
from adapters.numpy_zero_insertion import NumpyZeroInsertion
from harness import oracle
from harness.case import Case
from harness.casefile import case_from_mapping

EXAMPLES = 200
FORMULATIONS = (NumpyScatter(), NumpyMatrix(), NumpyZeroInsertion())
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def configurations(draw: Any) -> Case:
    """A valid case: rank, groups, sizes, stride, dilation, every padding form, output_padding."""
    rank = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    small = 4 if rank < 3 else 3
    sizes = draw(st.lists(st.integers(1, small), min_size=rank, max_size=rank))
    kernel = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    stride = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilation = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    full = [(n - 1) * s + d * (k - 1) + 1 for n, k, s, d in zip(sizes, kernel, stride, dilation)]
    form = draw(st.sampled_from(["int", "per_dim", "pairs", "valid", "same", "same_upper", "same_lower",
                                 "output_shape_same", "output_shape_valid"]))
    output_padding = [0] * rank
    output_shape = None
    if form.startswith("output_shape"):
        padding: Any = form.removeprefix("output_shape_")
        if padding == "same":  # ceil(out / s) == n
            output_shape = [draw(st.integers((n - 1) * s + 1, n * s)) for n, s in zip(sizes, stride)]
        else:  # ceil((out - k_eff + 1) / s) == n
            output_shape = [draw(st.integers(f, f + s - 1)) for f, s in zip(full, stride)]
    else:
        output_padding = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)]
        room = [f + op - 1 for f, op in zip(full, output_padding)]  # crop at most this much per dim
        if form == "int":
            padding = draw(st.integers(0, min(room) // 2))
        elif form == "per_dim":
            padding = [draw(st.integers(0, r // 2)) for r in room]
        elif form == "pairs":
            padding = []
            for r in room:
                begin = draw(st.integers(0, r))
                padding.append([begin, draw(st.integers(0, r - begin))])
        else:
            padding = form
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**32 - 1))
    mapping = {
        "id": "generated", "dtype": "float64", "groups": groups, "stride": stride, "dilation": dilation,
        "padding": padding, "output_padding": output_padding, "output_shape": output_shape, "seed": seed,
        "batch": draw(st.integers(1, 2)), "in_channels": c_in, "out_channels": c_out,
        "input_size": sizes, "kernel_size": kernel, "distribution": draw(st.sampled_from(["normal", "integers"])),
    }
    if draw(st.booleans()):
        mapping["bias"] = {"seed": seed + 7}
    return case_from_mapping(mapping)


def windows_of(case: Case) -> list[tuple[int, int]]:
    """(start, length) per dim, read from the contract again, independently of the oracle."""
    out = []
    for dim in range(case.rank):
        n, k = case.input_size[dim], case.kernel_size[dim]
        s, d, op, p = case.stride[dim], case.dilation[dim], case.output_padding[dim], case.padding[dim]
        full = (n - 1) * s + d * (k - 1) + 1
        if case.output_shape is not None:
            length = case.output_shape[dim]
            out.append((max(full - length, 0) // 2 if p == "same" else 0, length))
        elif p == "valid":
            out.append((0, full + op))
        elif isinstance(p, str):
            excess = max(full + op - n * s, 0)
            out.append(((excess + 1) // 2 if p == "same_lower" else excess // 2, n * s))
        else:
            out.append((p[0], full + op - p[0] - p[1]))
    return out


def correlate(y: np.ndarray, case: Case) -> np.ndarray:
    """The forward cross-correlation with the same kernel, mapping an output-shaped y to input shape.

    x_grad[n, ci, i] = sum over co in ci's group and taps j of w[ci, co', j] * y_full[n, co, i*s + j*d],
    where y_full places y at its window on the full result (positions past the full result drop).
    """
    windows = windows_of(case)
    fulls = [(n - 1) * s + d * (k - 1) + 1 for n, k, s, d in
             zip(case.input_size, case.kernel_size, case.stride, case.dilation)]
    y_full = np.zeros(y.shape[:2] + tuple(max(f, st + ln) for f, (st, ln) in zip(fulls, windows)))
    y_full[(Ellipsis, *(slice(st, st + ln) for st, ln in windows))] = y
    g = case.groups
    c_in_g, c_out_g = case.in_channels // g, case.out_channels // g
    x_grad = np.zeros(case.input.shape)
    for i in itertools.product(*(range(n) for n in case.input_size)):
        for j in itertools.product(*(range(k) for k in case.kernel_size)):
            pos = tuple(a * s + b * d for a, s, b, d in zip(i, case.stride, j, case.dilation))
            for grp in range(g):
                ys = y_full[(slice(None), slice(grp * c_out_g, (grp + 1) * c_out_g), *pos)]  # (N, C_out/g)
                ws = case.kernel[(slice(grp * c_in_g, (grp + 1) * c_in_g), slice(None), *j)]  # (C_in/g, C_out/g)
                x_grad[(slice(None), slice(grp * c_in_g, (grp + 1) * c_in_g), *i)] += ys @ ws.T
    return x_grad


def adjoint_gap(case: Case, transpose=oracle.conv_transpose) -> float:
    """|<T x, y> - <x, T* y>| relative to the size of the terms (0 up to rounding)."""
    kwargs = case.oracle_kwargs()
    kwargs["bias"] = None  # the identity is about the linear part
    tx = transpose(case.input, case.kernel, **kwargs)
    rng = np.random.default_rng(tx.size)
    y = rng.standard_normal(tx.shape)
    left = float(np.sum(tx * y))
    right = float(np.sum(case.input * correlate(y, case)))
    scale = float(np.sum(np.abs(tx * y))) + float(np.sum(np.abs(case.input))) + 1e-300
    return abs(left - right) / scale


@PROPERTY
@given(configurations())
def test_adjoint_identity(case: Case) -> None:
    gap = adjoint_gap(case)
    assert gap < 1e-12, f"<T x, y> != <x, T* y>: relative gap {gap:.3g} for {case.describe()}"


@PROPERTY
@given(configurations())
def test_formulations_agree_with_the_oracle(case: Case) -> None:
    want = oracle.conv_transpose(case.input, case.kernel, **case.oracle_kwargs())
    for formulation in FORMULATIONS:
        assert formulation.supports(case) is None
        got = formulation.run(case)
        assert got.shape == want.shape, formulation.name
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=formulation.name)


_REAL_ORACLE = oracle.conv_transpose


def flipped_oracle(x: np.ndarray, w: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
    """A deliberately broken oracle: the kernel rotated 180 degrees (the classic slip)."""
    return _REAL_ORACLE(x, np.flip(w, axis=tuple(range(2, w.ndim))), *args, **kwargs)


def test_the_properties_catch_a_flipped_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True)
    @given(configurations())
    def adjoint_with_broken_oracle(case: Case) -> None:
        assert adjoint_gap(case, transpose=flipped_oracle) < 1e-12

    with pytest.raises(AssertionError):
        adjoint_with_broken_oracle()

    monkeypatch.setattr(oracle, "conv_transpose", flipped_oracle)
    agreement = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True)(
        given(configurations())(test_formulations_agree_with_the_oracle.hypothesis.inner_test))
    with pytest.raises(AssertionError):
        agreement()


def test_forward_correlation_matches_seed_004() -> None:
    # Seed 004: corr2d(arange(9).reshape(3, 3), [[1, 2], [3, 4]]) == [[27, 37], [57, 67]], which is the
    # correlation above applied to a 3x3 "output" with a 2x2 input and kernel.
    case = case_from_mapping({"id": "c", "input": [[0, 0], [0, 0]], "kernel": [[1, 2], [3, 4]], "dtype": "float64"})
    y = np.arange(9.0).reshape(1, 1, 3, 3)
    assert correlate(y, case)[0, 0].tolist() == [[27.0, 37.0], [57.0, 67.0]]
