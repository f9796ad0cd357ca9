"""Diagnosis of a failing result: which usual convention slip explains it exactly.

A result that is all zeros or one constant value is named as such first (an output never
written, a broadcast scalar): every window of a zero-padded full result would match it too.
Then each candidate is the oracle's answer to the case as a slipped implementation would have
computed it (kernel rotated, channel axes swapped, layout misread, window shifted, output
padding misplaced, bias dropped), with its own tolerance (from the magnitudes of the terms the
slipped computation sums). The first candidate that the result matches names the slip. Window
slips are read from the oracle's full (uncropped) result, so a different start or length is
found too. Precision slips come last and each must be shown, not merely be plausible:

* subnormals flushed to zero: the reference with its subnormal values (in the case dtype) zeroed;
* a dtype downcast: every value of the result is a value of the lower dtype (a result computed
  in it and cast back can hold no other) and it equals, within that dtype's own rounding, the
  oracle on inputs rounded to it, rounded to it; a small error or a flushed value is not one;
* sums accumulated in the low-precision case dtype: within the tolerance of that accumulation,
  no larger than the same case summed in that dtype (simulated, two orders), and noisy: a
  systematic error (a scale or offset of the right answer) is some other slip.

Every check works in every dtype: ml_dtypes' bfloat16 has NumPy kind 'V', so floating point is
recognised through `ml_dtypes.finfo`, and the result is compared as float64.

If nothing explains the result the diagnosis is `unexplained`. Diagnoses are texts, `mechanism
(detail)` or `mechanism: detail`; `mechanism()` gives the stable part, so that a report groups the
same slip once however its numbers (window offsets, term counts, values) differ.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np

from harness.case import Case, content_key
from harness.dtypes import largest, numpy_dtype, round_to
from harness.geometry import Window, full_length
from harness.judge import Reference, judge, passes, reduction_terms, tolerance
from harness.oracle import conv_transpose, full_result, output_windows

UNEXPLAINED = "unexplained"
MAX_WINDOW_SHIFT = 3
LOWER_DTYPES = {"float64": ("float32", "float16", "bfloat16"), "float32": ("float16", "bfloat16")}
LOW_PRECISION = ("float16", "bfloat16")
# Accumulation in a low dtype: its error is at least this many times the noise of one rounding
# of the right answer, once a scale and offset are fitted away (measured: >= 1.9 for sums that
# fail, in sequential, reversed, blocked and pairwise orders; <= 1.2 for scaled or offset results).
NOISE_RATIO = 1.5
SIZE_RATIO = 4.0  # ... and at most this many times the error of the simulated low-dtype sums
MIN_ELEMENTS = 16  # fewer elements cannot tell noise from a fitted scale and offset
SIMULATION_BUDGET = 2 * 10**7  # multiply-adds; a larger case skips the simulated sums
Candidate = tuple[np.ndarray, np.ndarray]  # (values, per-element tolerance)


def is_floating(dtype: Any) -> bool:
    """Real floating point, bfloat16 included (ml_dtypes gives it NumPy kind 'V', not 'f')."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return False
    try:
        ml_dtypes.finfo(dtype)
    except (TypeError, ValueError):
        return False
    return True


def mechanism(diagnosis: str) -> str:
    """The stable part of a diagnosis: before its ` (` or `: ` detail, less a trailing value.

    `another window of the full result (3x3, dim 0: -3, ...)` and `(2x2, dim 1: +2)` are one
    mechanism; so are `constant value 2` and `constant value -0.5`.
    """
    head = re.split(r" \(|: ", diagnosis, maxsplit=1)[0].strip()
    head = re.sub(r"\s+[-+]?(?:\d+(?:\.\d*)?(?:e[-+]?\d+)?|inf|nan)$", "", head)
    return head or diagnosis.strip()


@dataclass(frozen=True)
class DiagnosisGroup:
    """Failing rows of one adapter and status that one mechanism explains (a report line)."""

    adapter: str
    status: str
    mechanism: str
    rows: int
    example: str  # one full diagnosis text, with its numbers
    variants: int  # distinct texts in the group


def group_diagnoses(rows: Iterable[tuple[str, str, str]]) -> list[DiagnosisGroup]:
    """(adapter, status, diagnosis) triples grouped by adapter, status and mechanism."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for adapter, status, text in rows:
        if text:
            groups.setdefault((adapter, status, mechanism(text)), []).append(text)
    return [DiagnosisGroup(adapter, status, key, len(texts), texts[0], len(set(texts)))
            for (adapter, status, key), texts in sorted(groups.items())]


def _matches(actual: np.ndarray, candidate: Candidate, dtype: str) -> bool:
    values, tol = candidate
    if actual.shape != values.shape:
        return False
    return passes(actual, round_to(values, dtype), tol)


def _oracle(case: Case, x: np.ndarray, w: np.ndarray, **overrides: Any) -> Candidate:
    """The oracle on (x, w) and its tolerance, from the same computation on |x|, |w|."""
    kwargs = {**case.oracle_kwargs(), **overrides}
    values = conv_transpose(x, w, **kwargs)
    kwargs["bias"] = None if kwargs["bias"] is None else np.abs(kwargs["bias"])
    magnitude = conv_transpose(np.abs(x), np.abs(w), **kwargs)
    return values, tolerance(magnitude, case.dtype, reduction_terms(case))


def _swap_in_out(w: np.ndarray, groups: int) -> np.ndarray | None:
    """The kernel with C_in and C_out exchanged group by group (only when both are equal)."""
    c_in, c_out_g, *k = w.shape
    if c_in // groups != c_out_g:
        return None
    return w.reshape(groups, c_out_g, c_out_g, *k).swapaxes(1, 2).reshape(w.shape)


def _misread_channels_last(a: np.ndarray) -> np.ndarray:
    """A channels-last buffer read as channels-first without a transpose."""
    return np.moveaxis(a, 1, -1).reshape(a.shape)


def _layout_candidates(case: Case, reference: Reference) -> Iterator[tuple[str, Callable[[], Candidate]]]:
    x, w = case.input, case.kernel
    flipped = np.flip(w, axis=tuple(range(2, w.ndim)))
    yield "kernel rotated 180 degrees (rot180 missing or applied twice)", lambda: _oracle(case, x, flipped)
    swapped = _swap_in_out(w, case.groups)
    if swapped is not None:
        yield "C_in/C_out kernel axes swapped", lambda: _oracle(case, x, swapped)
        both = np.flip(swapped, axis=tuple(range(2, w.ndim)))
        yield ("kernel rotated 180 degrees and C_in/C_out swapped (a forward-conv kernel used as is)",
               lambda: _oracle(case, x, both))
    if case.in_channels > 1 and np.prod(case.input_size) > 1:
        yield "input channels-last read as channels-first", lambda: _oracle(case, _misread_channels_last(x), w)
    if case.out_channels > 1:
        yield ("output channels-last read as channels-first",
               lambda: (_misread_channels_last(reference.exact), _misread_channels_last(reference.tolerance)))


def _bias_candidates(case: Case, reference: Reference) -> Iterator[tuple[str, Callable[[], Candidate]]]:
    if case.bias is None or not np.any(case.bias):
        return
    b = case.bias.reshape((1, -1) + (1,) * case.rank)
    yield "bias missing", lambda: (reference.exact - b, reference.tolerance)
    yield "bias added twice", lambda: (reference.exact + b, reference.tolerance)


def _windows(case: Case) -> tuple[Window, ...]:
    """The canonical window of every spatial dim on the zero-extended full result."""
    return output_windows(case.input_size, case.kernel_size, stride=case.stride,
                          padding=case.oracle_kwargs()["padding"], output_padding=case.output_padding,
                          dilation=case.dilation, output_shape=case.output_shape,
                          output_shape_rule=case.output_shape_rule)


def _window_candidates(case: Case, actual_shape: tuple[int, ...]) -> Iterator[tuple[str, Callable[[], Candidate]]]:
    """Other windows of the full result: shifted crops, output padding at the other end, other sizes."""
    if len(actual_shape) != case.input.ndim or actual_shape[:2] != (case.batch, case.out_channels):
        return
    windows = _windows(case)
    lengths = actual_shape[2:]
    margin = MAX_WINDOW_SHIFT
    sizes = [w.start + n + margin for w, n in zip(windows, lengths)]
    pad = [(0, 0), (0, 0)] + [(margin, 0)] * case.rank
    geometry = {"stride": case.stride, "dilation": case.dilation, "groups": case.groups, "min_size": sizes}
    bias = 0.0 if case.bias is None else case.bias.reshape((1, -1) + (1,) * case.rank)
    state: dict[str, np.ndarray] = {}

    def full() -> tuple[np.ndarray, np.ndarray]:
        if not state:
            state["values"] = np.pad(full_result(case.input, case.kernel, **geometry), pad) + bias
            magnitude = np.pad(full_result(np.abs(case.input), np.abs(case.kernel), **geometry), pad) + np.abs(bias)
            state["tol"] = tolerance(magnitude, case.dtype, reduction_terms(case))
        return state["values"], state["tol"]

    for shifts in itertools.product(range(-margin, margin + 1), repeat=case.rank):
        if not any(shifts) and tuple(w.length for w in windows) == tuple(lengths):
            continue
        starts = [w.start + s for w, s in zip(windows, shifts)]
        if any(s < -margin for s in starts):
            continue
        index = (slice(None), slice(None), *(slice(s + margin, s + margin + n) for s, n in zip(starts, lengths)))

        def window(index: tuple = index) -> Candidate:
            values, tol = full()
            return values[index], tol[index]

        yield _name_window(case, shifts, lengths, windows), window


def _name_window(case: Case, shifts: tuple[int, ...], lengths: tuple[int, ...], windows: tuple) -> str:
    sized = tuple(lengths) != tuple(w.length for w in windows)
    moved = [f"dim {d}: {s:+d}" for d, s in enumerate(shifts) if s]
    if not sized and any(case.output_padding) and all(s in (0, -op) for s, op in zip(shifts, case.output_padding)):
        return "output padding at the wrong end (added before the data, not after)"
    if not sized and all(abs(s) <= 1 for s in shifts):
        return f"crop shifted by one (same_upper vs same_lower; {', '.join(moved)})"
    size_text = "x".join(map(str, lengths))
    start_text = ", ".join(moved) if moved else "same start"
    return f"another window of the full result ({size_text}, {start_text}): its padding or output-size rule differs"


def _degenerate(a: np.ndarray) -> str | None:
    """All zeros (an output never written) or one value everywhere (a broadcast scalar)."""
    if a.size < 2 or not np.all(np.isfinite(a)) or not np.all(a == a.flat[0]):
        return None
    value = float(a.flat[0])
    return "all zeros" if value == 0 else f"constant value {value:.6g}"


def _flushed_subnormals(case: Case, a: np.ndarray, reference: Reference) -> str | None:
    """Subnormal results (FTZ), or inputs and results (DAZ too), flushed to zero."""
    if a.shape != reference.rounded.shape:
        return None
    tiny = float(ml_dtypes.finfo(numpy_dtype(case.dtype)).tiny)

    def flush(v: np.ndarray) -> np.ndarray:
        return np.where(np.abs(v) < tiny, 0.0, v)

    candidates = [("results", flush(reference.rounded))]
    operands = [v for v in (case.input, case.kernel, case.bias) if v is not None]
    if any(np.any((v != 0) & (np.abs(v) < tiny)) for v in operands):
        kw = case.oracle_kwargs()
        kw["bias"] = None if case.bias is None else flush(case.bias)
        flushed = conv_transpose(flush(case.input), flush(case.kernel), **kw)
        candidates.append(("inputs and results", flush(round_to(flushed, case.dtype))))
    for what, values in candidates:
        if not np.array_equal(values, reference.rounded) and passes(a, values, reference.tolerance):
            return f"subnormals flushed to zero (FTZ/DAZ: {what})"
    return None


def _downcast(case: Case, a: np.ndarray, reference: Reference) -> str | None:
    """The case computed in a lower dtype and cast back: its values, within its own rounding."""
    if a.shape != reference.rounded.shape:
        return None
    finite = np.isfinite(a)
    for dtype in LOWER_DTYPES.get(case.dtype, ()):
        if not np.array_equal(round_to(a[finite], dtype), a[finite]):
            continue  # a value the lower dtype cannot hold: not computed in it
        kw = case.oracle_kwargs()
        kw["bias"] = None if case.bias is None else round_to(case.bias, dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            candidate = round_to(conv_transpose(round_to(case.input, dtype), round_to(case.kernel, dtype), **kw), dtype)
        if passes(a, candidate, tolerance(reference.magnitude, dtype, reference.terms)):
            return f"dtype downcast to {dtype} (the result is the case computed in {dtype} and cast back)"
    return None


def _rms(v: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(v)))) if v.size else 0.0


def _beyond_scale_and_offset(error: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """What is left of the error once the best `c * exact + d` is taken out (least squares)."""
    basis = np.stack([exact, np.ones_like(exact)], axis=1)
    coefficients, *_ = np.linalg.lstsq(basis, error, rcond=None)
    return error - basis @ coefficients


def _rounding_noise(exact: np.ndarray, dtype: str) -> float:
    """The RMS error of rounding these values once to `dtype`: ulp / sqrt(12) per element."""
    info = ml_dtypes.finfo(numpy_dtype(dtype))
    tiny = float(info.tiny)
    ulp = np.exp2(np.floor(np.log2(np.maximum(np.abs(exact), tiny)))) * float(info.eps)
    return float(np.sqrt(np.mean(ulp**2 / 12)))


_SIMULATED: OrderedDict[tuple[object, ...], list[np.ndarray] | None] = OrderedDict()
SIMULATIONS_KEPT = 16  # a failing low-precision case is diagnosed once per adapter that fails it


def _low_precision_sums(case: Case, dtype: str) -> list[np.ndarray] | None:
    """`_simulated_sums`, once per case content and dtype in this process: a worker diagnoses one case
    for each of its family's adapters that fails it (TensorFlow's: 70 diagnoses of 18 cases here)."""
    key = (*content_key(case), dtype)
    if key not in _SIMULATED:
        sums = _simulated_sums(case, dtype)
        for values in sums or ():
            values.setflags(write=False)  # shared by every later diagnosis of the case
        _SIMULATED[key] = sums
        while len(_SIMULATED) > SIMULATIONS_KEPT:
            _SIMULATED.popitem(last=False)
    _SIMULATED.move_to_end(key)
    return _SIMULATED[key]


def _simulated_sums(case: Case, dtype: str) -> list[np.ndarray] | None:
    """The case summed one term at a time in `dtype` (rounded after every addition), in two orders
    (channel-major, and tap-major reversed); None when that is too much work for a diagnosis."""
    x, w, groups = case.input, case.kernel, case.groups
    n, c_in, *in_sizes = x.shape
    _, c_out_g, *k_sizes = w.shape
    c_in_g, rank = c_in // groups, case.rank
    taps = list(itertools.product(*(range(k) for k in k_sizes)))
    if len(taps) * c_in_g * n * c_out_g * groups * int(np.prod(in_sizes)) > SIMULATION_BUDGET:
        return None
    windows = _windows(case)
    sizes = [max(full_length(length, k, s, d), win.stop)
             for length, k, s, d, win in zip(in_sizes, k_sizes, case.stride, case.dilation, windows)]
    xg = x.reshape(n, groups, c_in_g, 1, *in_sizes)
    wg = w.reshape(groups, c_in_g, c_out_g, *k_sizes)
    crop = (slice(None), slice(None), *(slice(win.start, win.stop) for win in windows))
    orders = ([(ci, tap) for ci in range(c_in_g) for tap in taps],
              [(ci, tap) for tap in taps for ci in range(c_in_g)][::-1])
    results = []
    for order in orders:
        out = np.zeros((n, groups, c_out_g, *sizes))
        for ci, tap in order:
            weight = wg[(slice(None), ci, slice(None), *tap)].reshape(1, groups, c_out_g, *(1,) * rank)
            where = (slice(None),) * 3 + tuple(slice(j * d, j * d + (size - 1) * s + 1, s)
                                                for j, d, size, s in zip(tap, case.dilation, in_sizes, case.stride))
            out[where] = round_to(out[where] + xg[:, :, ci] * weight, dtype)
        y = out.reshape(n, groups * c_out_g, *sizes)[crop]
        if case.bias is not None:
            y = round_to(y + case.bias.reshape((1, -1) + (1,) * rank), dtype)
        results.append(y)
    return results


def _accumulated_in_low_precision(case: Case, a: np.ndarray, reference: Reference) -> str | None:
    """Sums accumulated in the (float16 or bfloat16) case dtype, shown three ways (module docstring)."""
    dtype = case.dtype
    if dtype not in LOW_PRECISION or a.shape != reference.exact.shape:
        return None
    bad = ~np.isfinite(a) & np.isfinite(reference.rounded)
    if bad.any() and np.any(reference.magnitude[bad] > largest(dtype)):
        return f"sums accumulated in {dtype}: inf/NaN from an intermediate overflow"
    if not judge(a, reference.rounded, tolerance(reference.magnitude, dtype, reference.terms,
                                                 accumulate_in=dtype)).passed:
        return None
    finite = np.isfinite(a) & np.isfinite(reference.exact)
    exact = reference.exact[finite]
    error = a[finite] - exact
    if exact.size < MIN_ELEMENTS:
        return None
    if _rms(_beyond_scale_and_offset(error, exact)) < NOISE_RATIO * _rounding_noise(exact, dtype):
        return None  # systematic: a scale or an offset of the right answer, not rounding noise
    sums = _low_precision_sums(case, dtype)
    if sums is not None:
        typical = max(_rms(s[finite] - exact) for s in sums)
        if not 0 < _rms(error) <= SIZE_RATIO * typical:
            return None  # summing in this dtype does not change this case, or not by that much
    return (f"sums accumulated in {dtype}: the error tracks sqrt(n) * eps * sum|terms| "
            f"(n = {reference.terms})")


def _precision_diagnosis(case: Case, a: np.ndarray, reference: Reference) -> str | None:
    """Flushed subnormals, a downcast to a lower dtype, or sums accumulated in a low-precision one."""
    for check in (_flushed_subnormals, _downcast, _accumulated_in_low_precision):
        found = check(case, a, reference)
        if found:
            return found
    return None


def diagnose(case: Case, actual: np.ndarray, reference: Reference) -> str:
    """Name the slip that explains a failing result exactly, or `unexplained`."""
    actual = np.asarray(actual)
    if not is_floating(actual.dtype):
        return UNEXPLAINED
    a = actual.astype(np.float64)  # bfloat16 included: every check below reads float64
    degenerate = _degenerate(a)
    if degenerate:
        return degenerate
    candidates = itertools.chain(_layout_candidates(case, reference), _bias_candidates(case, reference),
                                 _window_candidates(case, a.shape))
    for name, make in candidates:
        if _matches(a, make(), case.dtype):
            return name
    return _precision_diagnosis(case, a, reference) or UNEXPLAINED
