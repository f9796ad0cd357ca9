"""Generated case arrays that come out bit-identical on every platform and NumPy version.

NumPy's `Generator` does not promise the same numbers across releases, so the stream here is
SplitMix64 over a counter, computed with uint64 arithmetic that wraps the same way everywhere.
Uniforms carry 40 random bits, so the twelve that make a `normal` sample add up exactly, and the
only rounding is the final scale (one IEEE operation, the same on every machine).

Test data must be able to show a slip: a constant array, or a kernel equal to its 180-degree
rotation, hides a flipped or swapped kernel. Such draws are rejected and the stream continues.
An empty array (a batch or channel axis of size 0) is allowed: there is nothing to draw, and
the case tests the empty result, not a flip.

Values are drawn `CHUNK` at a time (the same numbers: the stream is indexed by position), so the
temporaries stay a few MB however large the array: a normal sample takes twelve 64-bit words. A
range that cannot be drawn from (infinite, integers beyond float64's exact ones, no integer in
it) is a `GenerateError` naming `low` or `high`, never an OverflowError.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

Distribution = Literal["normal", "uniform", "integers"]
DEFAULT_RANGE = {"uniform": (-1.0, 1.0), "integers": (-4, 5)}
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MAX_DRAWS = 64
CHUNK = 2**16  # values drawn at once
EXACT_INTEGERS = 2**53  # float64 holds every integer up to this


class GenerateError(ValueError):
    """A generated array that cannot be drawn; `field` is `low`, `high` or None (the whole spec)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def splitmix64(seed: int, start: int, count: int) -> np.ndarray:
    """`count` 64-bit words of SplitMix64 for `seed`, from position `start` of the stream."""
    index = np.arange(start + 1, start + count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed % 2**64) + index * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def _uniform40(words: np.ndarray) -> np.ndarray:
    """[0, 1) with 40 random bits: sums of a few stay exact in float64."""
    return (words >> np.uint64(24)).astype(np.float64) * 2.0**-40


def _draw(
    shape: tuple[int, ...], seed: int, start: int, distribution: Distribution, low: float,
    high: float, scale: float,
) -> np.ndarray:
    size = math.prod(shape)
    values = np.empty(size, dtype=np.float64)
    for first in range(0, size, CHUNK):
        count = min(CHUNK, size - first)
        at = start + first
        if distribution == "normal":
            # Irwin-Hall: the sum of 12 uniforms minus 6 has mean 0, variance 1, tails cut at 6.
            words = splitmix64(seed, at * 12, count * 12).reshape(count, 12)
            values[first:first + count] = (_uniform40(words).sum(axis=1) - 6.0) * scale
        elif distribution == "uniform":
            values[first:first + count] = low + (high - low) * _uniform40(splitmix64(seed, at, count))
        else:
            span = np.uint64(int(high) - int(low))
            values[first:first + count] = (splitmix64(seed, at, count) % span).astype(np.float64) + int(low)
    return values.reshape(shape)


def range_problem(distribution: Distribution, low: float, high: float) -> GenerateError | None:
    """Why `[low, high)` cannot be drawn from, naming the bound to change, or None."""
    if distribution == "normal":
        return None
    for name, value in (("low", low), ("high", high)):
        if not math.isfinite(value):
            return GenerateError(f"is {value}: a {distribution} range must be finite", name)
        if distribution == "integers" and abs(value) > EXACT_INTEGERS:
            return GenerateError(f"is {value:.3g}: integers are drawn within ±2**53 ({EXACT_INTEGERS:,}), "
                                 "where float64 holds each one exactly", name)
    if not high > low:
        return GenerateError(f"high ({high}) must exceed low ({low})", "high")
    if distribution == "uniform" and not math.isfinite(high - low):
        return GenerateError(f"high - low overflows float64 ({high} - {low}); narrow the range", "high")
    if distribution == "integers" and int(high) - int(low) < 1:
        return GenerateError(f"[{low}, {high}) holds no whole step from int(low) = {int(low)}; widen the range", "high")
    return None


def is_degenerate(values: np.ndarray, *, spatial_axes: Sequence[int] = ()) -> bool:
    """True when the array could hide a slip: constant, or symmetric under rot180 (never if empty)."""
    if values.size == 0:
        return False
    if values.size > 1 and np.all(values == values.flat[0]):
        return True
    spatial = [values.shape[a] for a in spatial_axes]
    if spatial and np.prod(spatial) > 1:
        return bool(np.array_equal(values, np.flip(values, axis=tuple(spatial_axes))))
    return False


def generate(
    shape: Sequence[int],
    *,
    seed: int,
    distribution: Distribution = "normal",
    low: float | None = None,
    high: float | None = None,
    scale: float = 1.0,
    spatial_axes: Sequence[int] = (),
) -> np.ndarray:
    """A reproducible float64 array; redrawn (deterministically) while it is degenerate."""
    shape = tuple(int(s) for s in shape)
    default_low, default_high = DEFAULT_RANGE.get(distribution, (0.0, 0.0))
    low = default_low if low is None else low
    high = default_high if high is None else high
    problem = range_problem(distribution, low, high)
    if problem is not None:
        raise problem
    for attempt in range(_MAX_DRAWS):
        values = _draw(shape, seed, attempt * math.prod(shape), distribution, low, high, scale)
        if not is_degenerate(values, spatial_axes=spatial_axes):
            return values
    raise GenerateError(
        f"cannot draw a non-constant, non-symmetric {distribution} array of shape {list(shape)} "
        f"with low={low}, high={high}: widen the range"
    )
