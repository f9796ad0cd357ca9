"""The tolerance rule and the special-value rules of the judge."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.casefile import case_from_mapping
from harness.dtypes import round_to, unit_roundoff
from harness.judge import TOLERANCES, judge, reference_for, tolerance


def test_nan_and_inf_agree_when_both_sides_agree() -> None:
    expected = np.array([1.0, np.inf, -np.inf, np.nan])
    tol = np.full(4, 1e-6)
    assert judge(expected.copy(), expected, tol).passed
    assert not judge(np.array([1.0, np.inf, np.inf, np.nan]), expected, tol).passed  # wrong sign
    assert not judge(np.array([1.0, np.inf, -np.inf, 0.0]), expected, tol).passed  # NaN expected
    verdict = judge(np.array([np.nan, np.inf, -np.inf, np.nan]), expected, tol)
    assert not verdict.passed and verdict.worst_index == (0,) and "non-finite" in verdict.message


def test_shape_and_dtype_are_checked() -> None:
    tol = np.ones((2, 2))
    assert "shape" in judge(np.zeros((2, 3)), np.zeros((2, 2)), tol).message
    verdict = judge(np.zeros((2, 2), np.float32), np.zeros((2, 2)), tol, dtype="float16")
    assert not verdict.passed and "float32" in verdict.message


def test_overflow_to_inf_is_the_right_answer_in_float16() -> None:
    case = case_from_mapping({"id": "big", "input": [[300, 300]], "kernel": [[300, 300]], "dtype": "float16"})
    ref = reference_for(case)
    assert ref.rounded.ravel().tolist() == [np.inf, np.inf, np.inf]  # 90000 and 180000 > 65504
    assert judge(np.full((1, 1, 1, 3), np.inf, np.float16), ref.rounded, ref.tolerance, dtype="float16").passed
    finite = np.full((1, 1, 1, 3), 65504, np.float16)
    assert not judge(finite, ref.rounded, ref.tolerance, dtype="float16").passed


def test_the_tolerance_scales_with_the_size_of_the_sums() -> None:
    magnitude = np.array([1.0, 100.0])
    small, large = tolerance(magnitude, "float32", 4), tolerance(magnitude, "float32", 400)
    assert np.all(large > small) and large[1] / large[0] == pytest.approx(100, rel=1e-6)
    assert np.all(tolerance(magnitude, "float16", 4) > small)  # float16 is judged more loosely
    assert np.all(tolerance(magnitude, "float64", 4) < small * 1e-6)  # and float64 strictly


def _sum_in(dtype: str, terms: np.ndarray) -> float:
    """A left-to-right sum rounded to `dtype` after every addition."""
    total = 0.0
    for t in terms:
        total = float(round_to(np.array([total + t]), dtype)[0])
    return total


def test_float32_accumulation_passes_and_float16_accumulation_fails() -> None:
    """What the rule is for: a float16 result summed in float32 passes, summed in float16 it does not.

    With terms of one sign (activations after a ReLU, pixel values) the partial sums grow and a
    float16 accumulator loses many ulps; with random signs its error stays near one rounding of
    the sum of magnitudes, which the rule cannot tell apart from a correct result, and need not.
    """
    rng = np.random.default_rng(0)
    terms_count = 576
    rule = TOLERANCES["float16"]
    failures = 0
    for trial in range(50):
        terms = round_to(rng.uniform(0, 1, terms_count), "float16")
        exact = float(np.sum(terms))
        magnitude = np.array([np.sum(np.abs(terms))])
        tol = tolerance(magnitude, "float16", terms_count)
        good = round_to(np.array([_sum_in("float32", terms)]), "float16")
        bad = np.array([_sum_in("float16", terms)])
        reference = round_to(np.array([exact]), "float16")
        assert judge(good, reference, tol).passed, trial
        failures += not judge(bad, reference, tol).passed
    assert failures >= 25, f"float16 accumulation slipped through {50 - failures} of 50 times"
    assert rule.accumulate_in == "float32" and unit_roundoff("float16") == 2.0**-11


_VALUES = [0.0, -0.0, 1.0, -1.0, 1e-300, 2.5, 1e300, float("inf"), float("-inf"), float("nan")]


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_passes_is_judges_verdict(data) -> None:  # noqa: ANN001
    """The diagnosis' quick `passes` gives judge's pass/fail on any values, non-finite ones and
    zero tolerances included (0/0 fails in both)."""
    from harness.judge import passes

    shape = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple))
    size = int(np.prod(shape))
    values = st.lists(st.sampled_from(_VALUES) | st.floats(-4, 4), min_size=size, max_size=size)
    a, e = (np.array(data.draw(values), dtype=np.float64).reshape(shape) for _ in range(2))
    near = data.draw(st.booleans())  # half the draws: expected close to actual, so some pass
    if near:
        e = np.where(np.isfinite(a), a + data.draw(st.sampled_from([0.0, 1e-9, 0.5])), a)
    tol = np.array(data.draw(st.lists(st.sampled_from([0.0, 1e-6, 0.5, 1.0, float("inf")]), min_size=size,
                                      max_size=size)), dtype=np.float64).reshape(shape)
    with np.errstate(all="ignore"):
        assert passes(a, e, tol) == judge(a, e, tol).passed
    assert passes(np.array([1.0]), np.array([1.5]), np.array([0.5])) is True  # an error at the tolerance passes
    other = np.zeros(shape + (1,))
    assert passes(a, other, np.ones_like(other)) is False and not judge(a, other, np.ones_like(other)).passed
