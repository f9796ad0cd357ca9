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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.case import Case
from harness.dtypes import numpy_dtype, round_to, smallest_subnormal, unit_roundoff
from harness.oracle import conv_transpose


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
    exact = conv_transpose(case.input, case.kernel, **kwargs)
    kwargs["bias"] = None if case.bias is None else np.abs(case.bias)
    with np.errstate(invalid="ignore"):
        magnitude = conv_transpose(np.abs(case.input), np.abs(case.kernel), **kwargs)
    terms = reduction_terms(case)
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


def _fmt(v: float) -> str:
    return f"{v:.6g}"


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
    same_special = (np.isnan(a) & np.isnan(e)) | (np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e)))
    special_mismatch = ~finite & ~same_special
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
