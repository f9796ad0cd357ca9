"""Judging a result against the oracle: the reference, the tolerance rule, special values.

The reference for a case is the float64 oracle rounded to the case dtype. The tolerance is data
(`TOLERANCES`, per dtype) and follows the size of the sums, element by element:

    |actual - reference| <= M * (rounding * u(dtype) + accumulation * sqrt(n) * u(acc)) + atol

where `M = conv_transpose(|x|, |w|) + |bias|` is the sum of the magnitudes of the terms that
make each output element, `n = C_in/groups * prod(kernel)` is the number of terms summed (an upper
bound), `u` is the unit roundoff (eps/2), and `acc` the dtype a framework is expected to
accumulate in (float32 for float16/bfloat16/float32, float64 for float64). The first term
covers three roundings to the dtype: the reference's, the framework's result, and a bias added
by a separate operation (`tf.nn.bias_add`, a JAX add); the second the rounding of a sum of `n`
terms in `acc`, which grows like its square root when the errors are independent. `atol` is a
few subnormals. An implementation that sums in the low-precision dtype itself exceeds this.

Special values: where the exact result overflows the dtype the reference is +/-inf and that is
the right answer; NaN or inf where the reference is finite is a failure; NaN and inf positions
agree when both sides agree (same sign for inf).

The policy at the edges (`judge_case`; each acceptance is a note in the row's message):
- Overflow edge: where the exact value is within tolerance of the dtype's overflow threshold
  (largest finite + half its ulp: 65520 for float16), both the largest finite value and the inf
  of that sign are right: a correctly rounded float32 sum of 65519.998 is 65520, inf in float16.
- Partial sums beyond the accumulation range: where `M = sum |terms|` exceeds the accumulation
  dtype's largest value, a correct implementation may overflow in a partial sum, so inf or NaN is
  accepted there, finite references included.
- Subnormals flushed to zero (FTZ/DAZ, which TensorFlow, Keras and JAX set for float32): by
  default a result that matches the case computed with subnormal inputs, products and outputs
  flushed to zero is accepted; a case with `gradual_underflow: true` demands subnormals.
- Non-finite data: the canonical definition never multiplies structural zeros (inserted between
  strided inputs, padding, the holes of a dilated kernel). NaN from `0 * inf` at such a position
  is a recorded convention difference: the row fails with that diagnosis, never passes and is
  never unexplained (`harness.structural`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.case import Case
from harness.dtypes import largest, numpy_dtype, round_to, smallest_subnormal, smallest_normal, unit_roundoff
from harness.oracle import conv_transpose
from harness.structural import (
    cross_group_nan_mask,
    foreign_gradient_nan_mask,
    foreign_nan_mask,
    gradient_nan_mask,
    structural_nan_mask,
)


@dataclass(frozen=True)
class Tolerance:
    """Constants of the tolerance rule for one dtype (see the module docstring)."""

    rounding: float
    accumulation: float
    accumulate_in: str
    atol_subnormals: float


TOLERANCES: dict[str, Tolerance] = {
    "float16": Tolerance(rounding=3.0, accumulation=8.0, accumulate_in="float32", atol_subnormals=4.0),
    "bfloat16": Tolerance(rounding=3.0, accumulation=8.0, accumulate_in="float32", atol_subnormals=4.0),
    "float32": Tolerance(rounding=3.0, accumulation=8.0, accumulate_in="float32", atol_subnormals=4.0),
    "float64": Tolerance(rounding=3.0, accumulation=8.0, accumulate_in="float64", atol_subnormals=4.0),
}


def reduction_terms(case: Case) -> int:
    """Terms summed into one output element, at most: C_in/groups times the kernel taps."""
    return case.in_channels // case.groups * int(np.prod(case.kernel_size))


def tolerance(magnitude: np.ndarray, dtype: str, terms: int, *, accumulate_in: str | None = None) -> np.ndarray:
    """The per-element tolerance for sums of `terms` terms whose magnitudes add up to `magnitude`."""
    rule = TOLERANCES[dtype]
    acc = accumulate_in or rule.accumulate_in
    relative = rule.rounding * unit_roundoff(dtype) + rule.accumulation * np.sqrt(terms) * unit_roundoff(acc)
    return magnitude * relative + rule.atol_subnormals * smallest_subnormal(dtype)


@dataclass(frozen=True)
class Reference:
    """What a framework's answer to a case is judged against."""

    exact: np.ndarray  # the float64 oracle
    rounded: np.ndarray  # the oracle rounded to the case dtype
    magnitude: np.ndarray  # conv_transpose(|x|, |w|) + |bias|
    tolerance: np.ndarray
    terms: int


def reference_for(case: Case) -> Reference:
    """Run the oracle for a case (twice: the answer and the magnitude of its terms)."""
    kwargs = case.oracle_kwargs()
    with np.errstate(invalid="ignore"):  # inf * 0 of a real pair is NaN by definition
        exact = conv_transpose(case.input, case.kernel, **kwargs)
    kwargs["bias"] = None if case.bias is None else np.abs(case.bias)
    with np.errstate(invalid="ignore"):
        magnitude = conv_transpose(np.abs(case.input), np.abs(case.kernel), **kwargs)
    terms = reduction_terms(case)
    return Reference(exact, round_to(exact, case.dtype), magnitude, tolerance(magnitude, case.dtype, terms), terms)


def gradient_reference(case: Case, check: str) -> Reference:
    """The oracle's gradient `check` for the case's upstream gradient, as a `Reference`.

    The magnitude is the same gradient of `|x|`, `|w|`, `|upstream|`; the terms summed are what
    that gradient reduces over: `C_out/groups * prod(kernel)` for grad_input (a convolution of the
    upstream gradient), `N * prod(input size)` for grad_weight and `N * prod(output size)` for
    grad_bias, so a weight gradient over a large batch and image gets its larger tolerance.
    """
    from harness.gradients import gradients

    kwargs = {k: v for k, v in case.oracle_kwargs().items() if k != "bias"}
    exact = getattr(gradients(case.input, case.kernel, case.upstream, **kwargs), check)
    magnitude = getattr(gradients(np.abs(case.input), np.abs(case.kernel), np.abs(case.upstream), **kwargs), check)
    terms = {"grad_input": case.out_channels // case.groups * int(np.prod(case.kernel_size)),
             "grad_weight": case.batch * int(np.prod(case.input_size)),
             "grad_bias": int(np.prod(case.upstream.shape)) // max(case.out_channels, 1)}[check]
    terms = max(terms, 1)
    return Reference(exact, round_to(exact, case.dtype), magnitude, tolerance(magnitude, case.dtype, terms), terms)


@dataclass(frozen=True)
class Verdict:
    """The comparison of one result with its reference."""

    passed: bool
    max_abs_err: float
    max_rel_err: float
    tol_ratio: float
    worst_index: tuple[int, ...] | None
    expected_value: float | None
    actual_value: float | None
    message: str
    notes: tuple[str, ...] = ()  # what the edge policy accepted, for the row's message
    diagnosis: str = ""  # set when the policy itself knows the mechanism (structural zeros)
    # named NaNs found beside another error (`message`), each as its lone named failure would read,
    # and their mechanisms (`diagnosis`'s words, no numbers: what the row's diagnosis adds)
    set_aside: tuple[str, ...] = ()
    besides: tuple[str, ...] = ()


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _specials_apart(a: np.ndarray, e: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Where a non-finite value is not matched on the other side (NaN by NaN, inf by inf of its sign)."""
    same_special = (np.isnan(a) & np.isnan(e)) | (np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e)))
    return ~finite & ~same_special


def judge(actual: np.ndarray, expected: np.ndarray, tol: np.ndarray, *, dtype: str | None = None) -> Verdict:
    """Compare element by element; `tol` is the per-element tolerance (see the module docstring)."""
    if dtype is not None and actual.dtype != numpy_dtype(dtype):
        return Verdict(False, np.inf, np.inf, np.inf, None, None, None,
                       f"returned {actual.dtype} for a {dtype} case (the harness wants no silent cast)")
    if actual.shape != expected.shape:
        return Verdict(False, np.inf, np.inf, np.inf, None, None, None,
                       f"shape {tuple(actual.shape)} != expected {tuple(expected.shape)}")
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.size == 0:
        return Verdict(True, 0.0, 0.0, 0.0, None, None, None, "")
    finite = np.isfinite(a) & np.isfinite(e)
    special_mismatch = _specials_apart(a, e, finite)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where(finite, np.abs(a - e), 0.0)
        rel = np.where(finite, err / np.maximum(np.abs(e), np.finfo(np.float64).tiny), 0.0)
        ratio = np.where(finite, err / tol, 0.0)
    ratio = np.where(special_mismatch, np.inf, ratio)
    flat = int(np.argmax(ratio))
    worst = tuple(int(i) for i in np.unravel_index(flat, a.shape))
    max_abs = float(np.inf if special_mismatch.any() else err.max())
    max_rel = float(np.inf if special_mismatch.any() else rel.max())
    tol_ratio = float(ratio.max())
    passed = tol_ratio <= 1.0
    message = ""
    if not passed:
        where = f"[{', '.join(map(str, worst))}]"
        if special_mismatch.any():
            count = int(special_mismatch.sum())
            message = (f"{count} element(s) non-finite on one side only; first at {where}: "
                       f"expected {_fmt(e[worst])}, got {_fmt(a[worst])}")
        else:
            message = (f"max abs err {_fmt(max_abs)}, {tol_ratio:.3g}x the tolerance at {where}: "
                       f"expected {_fmt(e[worst])}, got {_fmt(a[worst])} (tolerance {_fmt(tol[worst])})")
    return Verdict(passed, max_abs, max_rel, tol_ratio, worst, float(e[worst]), float(a[worst]), message)


def passes(actual: np.ndarray, expected: np.ndarray, tol: np.ndarray) -> bool:
    """`judge(actual, expected, tol).passed`, without the error figures and the message: the
    diagnosis asks it of hundreds of candidate explanations per failing row."""
    if actual.shape != expected.shape:
        return False
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.size == 0:
        return True
    finite = np.isfinite(a) & np.isfinite(e)
    if not finite.all() and _specials_apart(a, e, finite).any():
        return False
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        ratio = np.where(finite, np.abs(a - e) / tol, 0.0)
    return bool(ratio.max() <= 1.0)  # NaN (0/0 at a zero tolerance) fails, as in `judge`


def overflow_threshold(dtype: str) -> float:
    """The smallest magnitude that rounds to inf: the largest finite value plus half its ulp."""
    top = largest(dtype)
    return top + (top - float(np.nextafter(numpy_dtype(dtype).type(top), numpy_dtype(dtype).type(0)))) / 2


def flushed_references(case: Case, rounded: np.ndarray) -> list[np.ndarray]:
    """What FTZ/DAZ implementations may return, rounded to the dtype: subnormal outputs flushed;
    subnormal inputs (and bias) flushed; both. Products below the accumulation dtype's smallest
    normal are covered by the slack `judge_case` adds to the tolerance."""
    tiny = smallest_normal(case.dtype)

    def flush(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.where(np.abs(a) < tiny, 0.0, a)

    kwargs = case.oracle_kwargs()
    kwargs["bias"] = flush(case.bias)
    with np.errstate(invalid="ignore"):
        inputs_flushed = round_to(conv_transpose(flush(case.input), flush(case.kernel), **kwargs), case.dtype)
    return [flush(rounded), inputs_flushed, flush(inputs_flushed)]  # type: ignore[list-item]


def flushed_gradient_references(check: str) -> Callable[[Case, np.ndarray], list[np.ndarray]]:
    """`flushed_references` for one gradient: the subnormal outputs flushed; the gradient of the
    case with subnormal inputs, kernel and upstream gradient flushed; both."""

    def references(case: Case, rounded: np.ndarray) -> list[np.ndarray]:
        from harness.gradients import gradients

        tiny = smallest_normal(case.dtype)

        def flush(a: np.ndarray) -> np.ndarray:
            return np.where(np.abs(a) < tiny, 0.0, a)

        kwargs = {k: v for k, v in case.oracle_kwargs().items() if k != "bias"}
        with np.errstate(invalid="ignore"):
            grads = gradients(flush(case.input), flush(case.kernel), flush(case.upstream), **kwargs)
        inputs_flushed = round_to(getattr(grads, check), case.dtype)
        return [flush(rounded), inputs_flushed, flush(inputs_flushed)]

    return references


def _finite_part(case: Case, check: str) -> np.ndarray:
    """The oracle's answer (the forward result, or gradient `check`) for the magnitudes of the data
    with every inf and NaN element taken as zero: the sum of |terms| of the finite terms alone."""
    def finite(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.where(np.isfinite(a), np.abs(a), 0)

    kwargs = case.oracle_kwargs()
    if check == "forward":
        kwargs["bias"] = finite(case.bias)
        return conv_transpose(finite(case.input), finite(case.kernel), **kwargs)
    from harness.gradients import gradients

    del kwargs["bias"]
    return getattr(gradients(finite(case.input), finite(case.kernel), finite(case.upstream), **kwargs), check)


def _own_terms_give_no_nan(case: Case, check: str, terms: int, inputs_flushed: np.ndarray) -> np.ndarray:
    """Where a position's own terms cannot give NaN in any way the judge accepts: the oracle with
    subnormal inputs flushed (DAZ, which makes inf times a subnormal weight 0 * inf) is not NaN
    there, and the magnitudes of its finite terms (inf and NaN elements taken as zeros), with their
    tolerance, stay below the dtype's overflow threshold, so their partial sums reach no inf."""
    finite = _finite_part(case, check)
    in_range = finite + tolerance(finite, case.dtype, terms) < overflow_threshold(case.dtype)
    return in_range & ~np.isnan(inputs_flushed)


def judge_case(actual: np.ndarray, reference: Reference, case: Case, *,
               flushed: Callable[[Case, np.ndarray], list[np.ndarray]] = flushed_references,
               check: str = "forward") -> Verdict:
    """`judge`, then the edge policy of the module docstring: acceptances become notes, and NaN
    from structural zeros a named failure. Gradient rows pass their own `flushed` references and
    their check: their structural zeros are the cropped positions' (`structural.gradient_nan_mask`)."""
    verdict = judge(actual, reference.rounded, reference.tolerance, dtype=case.dtype)
    if verdict.passed or verdict.worst_index is None or actual.size == 0:
        return verdict
    a = np.asarray(actual, dtype=np.float64)
    expected, tol, exact = reference.rounded.copy(), reference.tolerance.copy(), reference.exact
    notes: list[str] = []

    def accept(where: np.ndarray, note: str) -> None:
        count = int(where.sum())
        if count:
            expected[where] = a[where]
            notes.append(f"{count} element(s) {note}")

    with np.errstate(invalid="ignore", over="ignore"):
        near_edge = np.abs(np.abs(exact) - overflow_threshold(case.dtype)) <= tol
        accept(near_edge & np.isinf(a) & (np.sign(a) == np.sign(exact)) & np.isfinite(expected),
               "at the overflow edge: inf accepted for a finite reference within tolerance of it")
        accept(near_edge & np.isinf(expected) & (np.abs(a) == largest(case.dtype)) & (np.sign(a) == np.sign(exact)),
               "at the overflow edge: the largest finite value accepted for an inf reference")
        acc = TOLERANCES[case.dtype].accumulate_in
        accept((reference.magnitude > largest(acc)) & ~np.isfinite(a) & np.isfinite(expected),
               f"whose partial sums may exceed {acc}'s range (sum of |terms| > {largest(acc):.3g}): non-finite accepted")
        if not case.gradual_underflow:
            slack = reference.terms * smallest_normal(acc)  # each product flushed loses < tiny(acc)
            strict_bad = ~(np.abs(a - expected) <= tol) & np.isfinite(a)
            matches = np.zeros(a.shape, dtype=bool)
            for alternative in flushed(case, reference.rounded):
                matches |= np.abs(a - alternative) <= tol + slack
            accept(strict_bad & matches,
                   "match subnormals flushed to zero (FTZ/DAZ; a case with gradual_underflow: true demands them)")
    relaxed = judge(actual, expected, tol, dtype=case.dtype)
    if relaxed.passed:
        return dataclasses.replace(relaxed, notes=tuple(notes))
    zeros = "inserted, padding or dilation zeros" if check == "forward" else "the zero upstream gradient of cropped positions"
    named = [  # NaN where the definition multiplies nothing non-finite: a mechanism, set aside one after the other
        (structural_nan_mask(case) if check == "forward" else gradient_nan_mask(case, check),
         f"NaN from 0*inf at structural zeros ({zeros} multiplied by a non-finite value)",
         "NaN from 0*inf at structural zeros: the implementation multiplies the zeros the canonical definition skips"),
        # (where the group's own terms stay within the dtype's range: a low-precision sum may overflow by itself)
        (None if check != "forward" or (leak := cross_group_nan_mask(case)) is None
         else leak & (reference.magnitude <= largest(case.dtype)),
         "NaN in a group whose own input and weights are finite (another group's inf or NaN mixed in)",
         "NaN across groups: the implementation mixes in another group's non-finite values, which the definition "
         "keeps apart"),
        # (where the group holds an inf or NaN of its own too: a NaN the position's own terms cannot give, which
        # are all finite or all of one infinite sign, with subnormals kept or flushed, and whose finite part stays
        # within the dtype's range; for the input gradient, another group's upstream gradient)
        (None if (foreign := foreign_nan_mask(case) if check == "forward" else foreign_gradient_nan_mask(case, check))
         is None else foreign & _own_terms_give_no_nan(case, check, reference.terms,
                                                      flushed(case, reference.rounded)[1]),
         f"NaN where another group's inf or NaN {'input' if check == 'forward' else 'upstream gradient'} lies under "
         "the kernel (the position's own terms give no NaN)",
         "NaN across groups: the implementation mixes in another group's non-finite values, which the definition "
         "keeps apart"),
    ]
    set_aside: list[str] = []  # the named NaNs, when something else is wrong as well
    besides: list[str] = []  # their mechanisms
    for mask, what, diagnosis in named:
        if mask is None or mask.shape != a.shape:
            continue
        nan_here = np.isnan(a) & ~np.isnan(expected) & mask
        if not nan_here.any():
            continue
        expected[nan_here] = a[nan_here]  # set aside, to see whether anything else is wrong
        first = tuple(np.argwhere(nan_here)[0])
        message = (f"{int(nan_here.sum())} element(s) {what}; first at [{', '.join(map(str, first))}]: "
                   f"expected {_fmt(reference.rounded[first])}, got nan")
        if judge(actual, expected, tol, dtype=case.dtype).passed:  # (with the mechanisms set aside before it)
            return dataclasses.replace(verdict, message=message, notes=tuple(notes), diagnosis=diagnosis,
                                       set_aside=tuple(set_aside), besides=tuple(dict.fromkeys(besides)))
        set_aside.append(message)
        besides.append(diagnosis)
    if set_aside:  # the rest is the row's message; the named NaNs beside it (a known entry must explain each)
        rest = judge(actual, expected, tol, dtype=case.dtype)
        return dataclasses.replace(rest, notes=tuple(notes), set_aside=tuple(set_aside),
                                   besides=tuple(dict.fromkeys(besides)))
    return dataclasses.replace(relaxed, notes=tuple(notes))
