"""The failure diagnosis is right in every dtype, names degenerate results plainly, gives a
precision diagnosis only when the result really is that computation, and groups by mechanism.

Each "actual" below is built the way a slipped implementation would compute it (a rotated
kernel, sums rounded to bfloat16 after every addition, a float16 computation cast back), or as a
near miss that must not get the diagnosis (a 1e-5 relative error, flushed subnormals, a scale).
"""

from __future__ import annotations

import itertools
from typing import Any

import ml_dtypes
import numpy as np
import pandas as pd
import pytest

from harness.case import Case
from harness.casefile import case_from_mapping
from harness.diagnosis import diagnose, group_diagnoses, is_floating, mechanism
from harness.dtypes import numpy_dtype, round_to
from harness.html import _diagnoses
from harness.judge import Reference, judge, reference_for, tolerance
from harness.oracle import conv_transpose


def _case(dtype: str, **fields: Any) -> Case:
    mapping = {"id": f"diag-{dtype}", "batch": 2, "in_channels": 4, "out_channels": 3, "input_size": [5, 4],
               "kernel_size": 3, "stride": 2, "padding": 1, "bias": {"seed": 2}, "dtype": dtype, **fields}
    return case_from_mapping(mapping)


def _as(values: np.ndarray, dtype: str) -> np.ndarray:
    """What a framework hands back for a `dtype` case: rounded and in that NumPy dtype."""
    return round_to(values, dtype).astype(numpy_dtype(dtype))


def _failing(case: Case, actual: np.ndarray) -> tuple[np.ndarray, Reference]:
    reference = reference_for(case)
    verdict = judge(actual, reference.rounded, reference.tolerance, dtype=case.dtype)
    assert not verdict.passed, "the slip must make the row fail, or there is nothing to diagnose"
    return actual, reference


# 1. bfloat16 (NumPy kind 'V') is diagnosed like every other dtype.


def test_bfloat16_is_floating_point() -> None:
    assert np.dtype(ml_dtypes.bfloat16).kind == "V"
    assert is_floating(ml_dtypes.bfloat16) and is_floating(np.float16) and is_floating(np.float64)
    assert not is_floating(np.int32) and not is_floating(np.complex64) and not is_floating(np.bool_)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32"])
def test_rotated_kernel_is_diagnosed_in_every_dtype(dtype: str) -> None:
    case = _case(dtype)
    flipped = conv_transpose(case.input, np.flip(case.kernel, axis=(2, 3)), **case.oracle_kwargs())
    actual, reference = _failing(case, _as(flipped, dtype))
    assert diagnose(case, actual, reference).startswith("kernel rotated 180 degrees")


def _positive_case(dtype: str) -> Case:
    """One-signed terms (activations after a ReLU, pixels): a low-precision sum drifts visibly."""
    positive = {"distribution": "uniform", "low": 0.0, "high": 1.0}
    return _case(dtype, in_channels=16, input_size=[6, 6], stride=1, input=positive, kernel=positive)


def _summed_in(case: Case, dtype: str, seed: int) -> np.ndarray:
    """The case summed in `dtype`, one term at a time in a shuffled order, rounding every addition.

    Each term is the oracle's answer for one input channel and one kernel tap, so this shares no
    code with the diagnosis's own simulation (which sums in fixed orders).
    """
    kwargs = {**case.oracle_kwargs(), "bias": None}
    terms = []
    for ci, tap in itertools.product(range(case.in_channels), np.ndindex(*case.kernel_size)):
        single = np.zeros_like(case.kernel)
        single[(ci, slice(None), *tap)] = case.kernel[(ci, slice(None), *tap)]
        terms.append(conv_transpose(case.input, single, **kwargs))
    total = np.zeros_like(terms[0])
    for index in np.random.default_rng(seed).permutation(len(terms)):
        total = round_to(total + terms[index], dtype)
    if case.bias is not None:
        total = round_to(total + case.bias.reshape(1, -1, 1, 1), dtype)
    return total


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_sums_accumulated_in_the_low_dtype_are_diagnosed(dtype: str) -> None:
    case = _positive_case(dtype)
    actual, reference = _failing(case, _as(_summed_in(case, dtype, seed=1), dtype))
    diagnosis = diagnose(case, actual, reference)
    assert diagnosis.startswith(f"sums accumulated in {dtype}"), diagnosis


def test_the_simulated_sums_are_made_once_per_case_content(monkeypatch) -> None:
    """A worker diagnoses a case once for each adapter that fails it, each time with a fresh copy of
    the case (it comes through a pipe): the low-dtype sums are simulated once for all of them, and
    again for a case whose arrays differ; the diagnosis is the same either way."""
    import dataclasses

    from harness import diagnosis

    made: list[str] = []
    simulate = diagnosis._simulated_sums

    def counted(case: Case, dtype: str) -> list[np.ndarray] | None:
        made.append(case.id)
        return simulate(case, dtype)

    monkeypatch.setattr(diagnosis, "_simulated_sums", counted)
    monkeypatch.setattr(diagnosis, "_SIMULATED", type(diagnosis._SIMULATED)())
    case = _positive_case("bfloat16")
    actual, reference = _failing(case, _as(_summed_in(case, "bfloat16", seed=1), "bfloat16"))
    first = diagnose(case, actual, reference)
    copy = dataclasses.replace(case, input=case.input.copy(), kernel=case.kernel.copy())
    assert diagnose(copy, actual, reference) == first and made == [case.id]
    changed = dataclasses.replace(case, input=case.input[::-1].copy())
    diagnose(changed, actual, reference)
    assert made == [case.id, case.id]
    assert first.startswith("sums accumulated in bfloat16")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("slip", [0.97, 1.02])
def test_a_systematic_error_is_not_called_low_precision_accumulation(dtype: str, slip: float) -> None:
    """A result a few percent off everywhere fails and lies within the loose accumulation bound,
    but it is a scale, not rounding noise: it must not be blamed on the accumulator."""
    case = _positive_case(dtype)
    actual, reference = _failing(case, _as(reference_for(case).exact * slip, dtype))
    loose = tolerance(reference.magnitude, dtype, reference.terms, accumulate_in=dtype)
    assert judge(actual, reference.rounded, loose).passed, "a near miss: the old rule alone accepted it"
    assert not diagnose(case, actual, reference).startswith("sums accumulated")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_accumulation_needs_an_error_the_low_dtype_sum_would_make(dtype: str) -> None:
    """Small integers sum exactly in the low dtype: noise on them, however small, is something else."""
    case = _case(dtype, distribution="integers", bias=None)
    reference = reference_for(case)
    loose = tolerance(reference.magnitude, dtype, reference.terms, accumulate_in=dtype)
    noise = np.random.default_rng(3).uniform(-0.5, 0.5, loose.shape) * loose
    actual, reference = _failing(case, _as(reference.exact + noise, dtype))
    assert judge(actual, reference.rounded, loose).passed, "a near miss: the old rule alone accepted it"
    assert not diagnose(case, actual, reference).startswith("sums accumulated")


# 2. A downcast only when the result is the case computed in the lower dtype.


@pytest.mark.parametrize("dtype, lower", [("float32", "float16"), ("float32", "bfloat16"), ("float64", "float32")])
def test_a_result_computed_in_a_lower_dtype_is_a_downcast(dtype: str, lower: str) -> None:
    case = _case(dtype)
    kwargs = {**case.oracle_kwargs(), "bias": round_to(case.bias, lower)}
    computed = round_to(conv_transpose(round_to(case.input, lower), round_to(case.kernel, lower), **kwargs), lower)
    actual, reference = _failing(case, computed.astype(numpy_dtype(dtype)))
    diagnosis = diagnose(case, actual, reference)
    assert diagnosis.startswith(f"dtype downcast to {lower}"), diagnosis


def test_a_small_relative_error_is_not_a_downcast() -> None:
    case = _case("float32")
    actual, reference = _failing(case, (reference_for(case).exact * (1 + 1e-5)).astype(np.float32))
    assert not diagnose(case, actual, reference).startswith("dtype downcast")


def test_flushed_subnormals_are_not_a_downcast() -> None:
    """Results around float32's smallest normal (1.2e-38): about half are subnormal."""
    case = _case("float32", input={"scale": 1e-19}, kernel={"scale": 1e-19}, bias=None)
    reference = reference_for(case)
    subnormal = (reference.rounded != 0) & (np.abs(reference.rounded) < np.finfo(np.float32).tiny)
    assert 0.1 < subnormal.mean() < 0.9
    actual, reference = _failing(case, np.where(subnormal, 0.0, reference.rounded).astype(np.float32))
    diagnosis = diagnose(case, actual, reference)
    assert not diagnosis.startswith("dtype downcast"), diagnosis
    assert mechanism(diagnosis) == "subnormals flushed to zero"


# 3. All zeros and constants are named before any window diagnosis.


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_an_all_zero_result_is_named_all_zeros(dtype: str) -> None:
    # 2x2 input, 3x3 kernel, no bias: a 4x4 output, and a window 3 positions before it is all zeros.
    case = _case(dtype, batch=1, in_channels=1, out_channels=1, input_size=2, stride=1, padding=0, bias=None)
    actual, reference = _failing(case, np.zeros(reference_for(case).rounded.shape, numpy_dtype(dtype)))
    assert diagnose(case, actual, reference) == "all zeros"


def test_a_constant_result_is_named_with_its_value() -> None:
    case = _case("float32")
    actual, reference = _failing(case, np.full(reference_for(case).rounded.shape, 2.5, np.float32))
    diagnosis = diagnose(case, actual, reference)
    assert diagnosis == "constant value 2.5" and mechanism(diagnosis) == "constant value"


# 4. Diagnoses group by mechanism in the report.


def test_diagnoses_of_one_mechanism_share_a_key() -> None:
    windows = ["another window of the full result (3x3, dim 0: -3, dim 1: -3): its padding or output-size rule differs",
               "another window of the full result (4x5, dim 1: +2): its padding or output-size rule differs"]
    sums = ["sums accumulated in float16: the error tracks sqrt(n) * eps * sum|terms| (n = 36)",
            "sums accumulated in float16: the error tracks sqrt(n) * eps * sum|terms| (n = 576)"]
    assert {mechanism(t) for t in windows} == {"another window of the full result"}
    assert {mechanism(t) for t in sums} == {"sums accumulated in float16"}
    assert mechanism("crop shifted by one (same_upper vs same_lower; dim 0: +1)") == "crop shifted by one"
    assert mechanism("kernel rotated 180 degrees (rot180 missing or applied twice)") == "kernel rotated 180 degrees"
    assert mechanism("constant value -0.125") == mechanism("constant value 3e+07") == "constant value"
    assert mechanism("dtype downcast to float16 (x)") != mechanism("dtype downcast to bfloat16 (x)")
    assert mechanism("unexplained") == "unexplained" and mechanism("all zeros") == "all zeros"


def test_the_report_groups_the_diagnoses_table_by_mechanism() -> None:
    texts = ["another window of the full result (3x3, dim 0: -3, dim 1: -3): its padding or output-size rule differs",
             "another window of the full result (4x5, dim 1: +2): its padding or output-size rule differs",
             "another window of the full result (3x3, dim 0: -3, dim 1: -3): its padding or output-size rule differs",
             "kernel rotated 180 degrees (rot180 missing or applied twice)"]
    groups = group_diagnoses(("jax.lax", "fail", t) for t in texts)
    assert [(g.mechanism, g.rows, g.variants) for g in groups] == [
        ("another window of the full result", 3, 2), ("kernel rotated 180 degrees", 1, 1)]
    assert groups[0].example == texts[0]
    frame = pd.DataFrame({"adapter": ["jax.lax"] * 4 + ["torch"], "status": ["fail"] * 4 + ["pass"],
                          "diagnosis": texts + [""]})
    table = _diagnoses(frame)
    body = table.split("<tbody>")[1]
    assert body.count("<tr>") == 2, table
    assert "<td>another window of the full result</td><td>3</td>" in body and "(+1 other details)" in body
