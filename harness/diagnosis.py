"""Diagnosis of a failing result: which usual convention slip explains it exactly.

Each candidate is the oracle's answer to the case as a slipped implementation would have
computed it (kernel rotated, channel axes swapped, layout misread, window shifted, output
padding misplaced, bias dropped, precision lost), with its own tolerance (from the magnitudes of
the terms the slipped computation sums). The first candidate that the result matches names the
slip; if none does the diagnosis is `unexplained`. Window slips are read from the oracle's full
(uncropped) result, so a different start or a different length is found too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from harness.case import Case
from harness.dtypes import largest, round_to
from harness.judge import Reference, judge, reduction_terms, tolerance
from harness.oracle import conv_transpose, full_result, output_windows

UNEXPLAINED = "unexplained"
MAX_WINDOW_SHIFT = 3
Candidate = tuple[np.ndarray, np.ndarray]  # (values, per-element tolerance)


def _matches(actual: np.ndarray, candidate: Candidate, dtype: str) -> bool:
    values, tol = candidate
    if actual.shape != values.shape:
        return False
    return judge(actual, round_to(values, dtype), tol).passed


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


def _window_candidates(case: Case, actual_shape: tuple[int, ...]) -> Iterator[tuple[str, Callable[[], Candidate]]]:
    """Other windows of the full result: shifted crops, output padding at the other end, other sizes."""
    if len(actual_shape) != case.input.ndim or actual_shape[:2] != (case.batch, case.out_channels):
        return
    kw = case.oracle_kwargs()
    windows = output_windows(case.input_size, case.kernel_size, stride=case.stride, padding=kw["padding"],
                             output_padding=case.output_padding, dilation=case.dilation,
                             output_shape=case.output_shape)
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


def _precision_diagnosis(case: Case, actual: np.ndarray, reference: Reference) -> str | None:
    """A downcast of the inputs, or sums accumulated in the (low-precision) case dtype."""
    a = np.asarray(actual, dtype=np.float64)
    if a.shape != reference.exact.shape:
        return None
    lower = {"float64": ("float32", "float16", "bfloat16"), "float32": ("float16", "bfloat16")}.get(case.dtype, ())
    for dtype in lower:
        kw = case.oracle_kwargs()
        kw["bias"] = None if case.bias is None else round_to(case.bias, dtype)
        candidate = conv_transpose(round_to(case.input, dtype), round_to(case.kernel, dtype), **kw)
        tol = tolerance(reference.magnitude, dtype, reference.terms)
        if judge(round_to(a, dtype), round_to(candidate, dtype), tol).passed:
            return f"dtype downcast: matches the case computed in {dtype}"
    if case.dtype in ("float16", "bfloat16"):
        bad = ~np.isfinite(a) & np.isfinite(reference.rounded)
        if bad.any() and np.any(reference.magnitude[bad] > largest(case.dtype)):
            return f"sums accumulated in {case.dtype}: inf/NaN from an intermediate overflow"
        tol = tolerance(reference.magnitude, case.dtype, reference.terms, accumulate_in=case.dtype)
        if judge(a, reference.rounded, tol).passed:
            return (f"sums accumulated in {case.dtype}: the error tracks sqrt(n) * eps * sum|terms| "
                    f"(n = {reference.terms})")
    return None


def diagnose(case: Case, actual: np.ndarray, reference: Reference) -> str:
    """Name the slip that explains a failing result exactly, or `unexplained`."""
    actual = np.asarray(actual)
    if actual.dtype.kind != "f":
        return UNEXPLAINED
    candidates = itertools.chain(_layout_candidates(case, reference), _bias_candidates(case, reference),
                                 _window_candidates(case, actual.shape))
    for name, make in candidates:
        if _matches(actual, make(), case.dtype):
            return name
    return _precision_diagnosis(case, actual, reference) or UNEXPLAINED
