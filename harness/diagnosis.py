"""Diagnosis of a failing result: which usual convention slip explains it exactly.

Each candidate is the oracle's answer to the case as a slipped implementation would have
computed it (kernel rotated, channel axes swapped, layout misread, window shifted, bias
dropped, precision lost). The first candidate that the result matches within the case's own
tolerance names the slip; if none does the diagnosis is `unexplained`. Built on the oracle's
full (uncropped) result, so window slips are found with a different start or length too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np

from harness.case import Case
from harness.dtypes import largest, round_to
from harness.judge import Reference, judge, tolerance
from harness.oracle import conv_transpose, full_result, output_windows

UNEXPLAINED = "unexplained"
MAX_WINDOW_SHIFT = 3


def _matches(actual: np.ndarray, candidate: np.ndarray, tol: np.ndarray, dtype: str) -> bool:
    if actual.shape != candidate.shape:
        return False
    return judge(actual, round_to(candidate, dtype), tol).passed


def _swap_in_out(w: np.ndarray, groups: int) -> np.ndarray | None:
    """The kernel with C_in and C_out exchanged group by group (only when both are equal)."""
    c_in, c_out_g, *k = w.shape
    if c_in // groups != c_out_g:
        return None
    return w.reshape(groups, c_out_g, c_out_g, *k).swapaxes(1, 2).reshape(w.shape)


def _misread_channels_last(a: np.ndarray) -> np.ndarray:
    """A channels-last buffer read as channels-first without a transpose."""
    return np.moveaxis(a, 1, -1).reshape(a.shape)


def _kernel_candidates(case: Case) -> Iterator[tuple[str, Callable[[], np.ndarray]]]:
    x, w, kw = case.input, case.kernel, case.oracle_kwargs()
    flipped = np.flip(w, axis=tuple(range(2, w.ndim)))
    yield "kernel rotated 180 degrees (rot180 missing or applied twice)", lambda: conv_transpose(x, flipped, **kw)
    swapped = _swap_in_out(w, case.groups)
    if swapped is not None:
        yield "C_in/C_out kernel axes swapped", lambda: conv_transpose(x, swapped, **kw)
        both = np.flip(swapped, axis=tuple(range(2, w.ndim)))
        yield ("kernel rotated 180 degrees and C_in/C_out swapped (a forward-conv kernel used as is)",
               lambda: conv_transpose(x, both, **kw))
    if case.in_channels > 1 and np.prod(case.input_size) > 1:
        misread = _misread_channels_last(x)
        yield "input channels-last read as channels-first", lambda: conv_transpose(misread, w, **kw)


def _window_candidates(case: Case, actual_shape: tuple[int, ...]) -> Iterator[tuple[str, Callable[[], np.ndarray]]]:
    """Other windows of the full result: shifted crops, output padding at the other end, other sizes."""
    if len(actual_shape) != case.input.ndim or actual_shape[:2] != (case.batch, case.out_channels):
        return
    kw = case.oracle_kwargs()
    windows = output_windows(case.input_size, case.kernel_size, stride=case.stride, padding=kw["padding"],
                             output_padding=case.output_padding, dilation=case.dilation,
                             output_shape=case.output_shape)
    lengths = actual_shape[2:]
    margin = MAX_WINDOW_SHIFT
    full = full_result(case.input, case.kernel, stride=case.stride, dilation=case.dilation, groups=case.groups,
                       min_size=[w.start + n + margin for w, n in zip(windows, lengths)])
    padded = np.pad(full, [(0, 0), (0, 0)] + [(margin, 0)] * case.rank)
    bias = 0.0 if case.bias is None else case.bias.reshape((1, -1) + (1,) * case.rank)
    for shifts in itertools.product(range(-margin, margin + 1), repeat=case.rank):
        if not any(shifts) and tuple(w.length for w in windows) == tuple(lengths):
            continue
        starts = [w.start + s for w, s in zip(windows, shifts)]
        if any(s < -margin for s in starts):
            continue
        index = tuple(slice(s + margin, s + margin + n) for s, n in zip(starts, lengths))

        def window(index: tuple[slice, ...] = index) -> np.ndarray:
            return padded[(slice(None), slice(None), *index)] + bias

        yield _name_window(case, shifts, lengths, windows), window


def _name_window(case: Case, shifts: tuple[int, ...], lengths: tuple[int, ...], windows: tuple) -> str:
    sized = tuple(lengths) != tuple(w.length for w in windows)
    moved = [f"dim {d}: {s:+d}" for d, s in enumerate(shifts) if s]
    if not sized and all(abs(s) <= 1 for s in shifts):
        return f"crop shifted by one (same_upper vs same_lower; {', '.join(moved)})"
    if not sized and any(case.output_padding) and all(
        s in (0, -op) for s, op in zip(shifts, case.output_padding)
    ):
        return "output padding at the wrong end (added before the data, not after)"
    size_text = "x".join(map(str, lengths))
    start_text = ", ".join(moved) if moved else "same start"
    return f"another window of the full result ({size_text}, {start_text}): its padding or output-size rule differs"


def _bias_candidates(case: Case, reference: Reference) -> Iterator[tuple[str, Callable[[], np.ndarray]]]:
    if case.bias is None or not np.any(case.bias):
        return
    b = case.bias.reshape((1, -1) + (1,) * case.rank)
    yield "bias missing", lambda: reference.exact - b
    yield "bias added twice", lambda: reference.exact + b
    if case.out_channels > 1:
        yield "bias missing in zero-extended or output-padding positions", lambda: _bias_only_inside(case, reference)


def _bias_only_inside(case: Case, reference: Reference) -> np.ndarray:
    """The result with bias only where the full result has data (a zero-extension slip)."""
    kw = case.oracle_kwargs()
    windows = output_windows(case.input_size, case.kernel_size, stride=case.stride, padding=kw["padding"],
                             output_padding=case.output_padding, dilation=case.dilation,
                             output_shape=case.output_shape)
    inside = np.ones(reference.exact.shape[2:], dtype=bool)
    for d, (win, n, k, s, dil) in enumerate(zip(windows, case.input_size, case.kernel_size, case.stride, case.dilation)):
        full = (n - 1) * s + dil * (k - 1) + 1
        keep = np.arange(win.start, win.stop) < full
        inside &= keep.reshape([-1 if i == d else 1 for i in range(case.rank)])
    b = case.bias.reshape((1, -1) + (1,) * case.rank)  # type: ignore[union-attr]
    return reference.exact - np.where(inside, 0.0, b)


def _precision_diagnosis(case: Case, actual: np.ndarray, reference: Reference) -> str | None:
    """A downcast of the inputs, or sums accumulated in the (low-precision) case dtype."""
    a = np.asarray(actual, dtype=np.float64)
    lower = {"float64": ("float32", "float16", "bfloat16"), "float32": ("float16", "bfloat16")}.get(case.dtype, ())
    for dtype in lower:
        kw = case.oracle_kwargs()
        kw["bias"] = None if case.bias is None else round_to(case.bias, dtype)
        candidate = conv_transpose(round_to(case.input, dtype), round_to(case.kernel, dtype), **kw)
        tol = tolerance(reference.magnitude, dtype, reference.terms)
        if a.shape == candidate.shape and judge(round_to(a, dtype), round_to(candidate, dtype), tol).passed:
            return f"dtype downcast: matches the case computed in {dtype}"
    if case.dtype in ("float16", "bfloat16"):
        finite_ref = np.isfinite(reference.rounded)
        bad = ~np.isfinite(a) & finite_ref
        if a.shape == reference.rounded.shape and bad.any() and np.any(reference.magnitude[bad] > largest(case.dtype)):
            return f"sums accumulated in {case.dtype}: inf/NaN from an intermediate overflow"
        tol = tolerance(reference.magnitude, case.dtype, reference.terms, accumulate_in=case.dtype)
        if a.shape == reference.rounded.shape and judge(a, reference.rounded, tol).passed:
            return (f"sums accumulated in {case.dtype}: the error tracks sqrt(n) * eps * sum|terms| "
                    f"(n = {reference.terms})")
    return None


def diagnose(case: Case, actual: np.ndarray, reference: Reference) -> str:
    """Name the slip that explains a failing result exactly, or `unexplained`."""
    actual = np.asarray(actual)
    if actual.dtype.kind != "f":
        return UNEXPLAINED
    tol = reference.tolerance
    candidates = itertools.chain(_kernel_candidates(case), _bias_candidates(case, reference))
    for name, make in candidates:
        if _matches(actual, make(), tol, case.dtype):
            return name
    if actual.shape == reference.exact.shape and case.in_channels >= 1 and case.out_channels > 1:
        if _matches(actual, _misread_channels_last(reference.exact), tol, case.dtype):
            return "output channels-last read as channels-first"
    for name, make in _window_candidates(case, actual.shape):
        candidate = make()
        loose = tol if candidate.shape == tol.shape else np.full(candidate.shape, np.max(tol))
        if _matches(actual, candidate, loose, case.dtype):
            return name
    return _precision_diagnosis(case, actual, reference) or UNEXPLAINED
