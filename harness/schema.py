"""The YAML schema of a case, as pydantic models.

This layer checks what can be checked field by field: key names (unknown keys are errors, so a
typo such as `strides:` is caught), types, ranges, padding words, dtypes, and that arrays are
numeric, rectangular and fit float64. Sizes, steps and counts are at most `MAX_EXTENT` (so shape
arithmetic stays meaningful), generated ranges and scales are finite, and messages quote at most
a short piece of what was written (a 5 MB string or a 400-digit number is not echoed). Rules that tie fields together (ranks, channels, groups, output sizes)
live in `harness.casefile`, which turns a validated `RawCase` into a `Case`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from harness.dtypes import DTYPE_NAMES
from harness.geometry import PADDING_WORDS
from harness.limits import MAX_EXTENT, extent_problem, short_int

CHECK_NAMES = ("forward", "grad_input", "grad_weight", "grad_bias")
EXACT_INTEGERS = 2**53  # float64 holds every integer up to this; generated ranges stay within it

PositiveInt = Annotated[int, Field(gt=0, le=MAX_EXTENT)]
NonNegativeInt = Annotated[int, Field(ge=0, le=MAX_EXTENT)]
RangeInt = Annotated[int, Field(strict=True, ge=-EXACT_INTEGERS, le=EXACT_INTEGERS)]
FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Seed = Annotated[int, Field(ge=0, lt=2**64)]  # the generator's stream is SplitMix64: a 64-bit seed


def short_repr(value: Any, limit: int = 60) -> str:
    """`repr` for a message, cut to `limit` characters; integers too long to read as `about 10^N`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return short_int(value)
    text = repr(value) if len(str(value)) < 10 * limit or not isinstance(value, str) else repr(value[:limit])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _float_problem(item: Any, path: str) -> str | None:
    """Why an integer cannot be a float64 (beyond 1.8e308), or None; the check is cheap for small ones."""
    if isinstance(item, int) and item.bit_length() > 1000:
        try:
            float(item)
        except OverflowError:
            return (f"number {short_int(item)} at {path or 'top level'} is beyond float64 (about 1.8e308); "
                    "write .inf for an infinity")
    return None


_FLOAT_SAFE = 2**1000  # an int below this in size is a float64 for sure


def _plain_numbers(items: list[Any]) -> bool:
    """All floats, or ints that fit a float64 (bool is neither)."""
    for v in items:
        t = type(v)
        if t is float or (t is int and -_FLOAT_SAFE < v < _FLOAT_SAFE):
            continue
        return False
    return True


def nested_array(value: Any) -> np.ndarray:
    """A nested list of numbers -> float64 array; ragged or non-numeric lists are errors."""

    def shape_of(item: Any, path: str) -> tuple[int, ...]:
        if isinstance(item, bool) or not isinstance(item, (int, float, list)):
            raise ValueError(f"non-numeric value {short_repr(item)} at {path or 'top level'}")
        if not isinstance(item, list):
            problem = _float_problem(item, path)
            if problem:
                raise ValueError(problem)
            return ()
        if not item:
            raise ValueError(f"empty list at {path or 'top level'} (write an empty tensor as a generated "
                             "array, e.g. {shape: [0, 3, 4, 4]}, or with batch/in_channels/out_channels: 0)")
        if _plain_numbers(item):  # a row: the common case, checked without a call per number
            return (len(item),)
        shapes = {shape_of(sub, f"{path}[{i}]") for i, sub in enumerate(item)}
        if len(shapes) != 1:
            raise ValueError(f"ragged array: rows of different lengths at {path or 'top level'}")
        return (len(item), *shapes.pop())

    if not isinstance(value, list):
        raise ValueError("expected a nested list of numbers")
    shape_of(value, "")
    return np.array(value, dtype=np.float64)


def padding_value(value: Any) -> Any:
    """Check the padding forms of the contract; words are case-insensitive."""
    if isinstance(value, str):
        if value.lower() not in PADDING_WORDS:
            raise ValueError(f"unknown padding word {short_repr(value)}; expected one of {list(PADDING_WORDS)}")
        return value.lower()

    def count(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"padding must be a word, an int, ints or [begin, end] pairs, got {short_repr(v)}")
        if v < 0:
            raise ValueError(f"padding must be >= 0, got {short_int(v)}")
        problem = extent_problem(v)
        if problem:
            raise ValueError(f"padding {problem}")
        return v

    if isinstance(value, list):
        if not value:
            raise ValueError("padding list is empty")
        out: list[Any] = []
        for item in value:
            if isinstance(item, list):
                if len(item) != 2:
                    raise ValueError(f"a padding pair is [begin, end], got {short_repr(item)}")
                out.append([count(item[0]), count(item[1])])
            else:
                out.append(count(item))
        return out
    return count(value)


def id_value(value: Any) -> Any:
    """Case ids name tests and report rows: YAML numbers are read as text, odd characters refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        if not value or any(c.isspace() for c in value) or "::" in value or "[" in value or "]" in value:
            raise ValueError(f"id {short_repr(value)} must be non-empty, without spaces, '::', '[' or ']'")
    return value


NestedArray = Annotated[Any, BeforeValidator(nested_array)]
PerDimPositive = PositiveInt | list[PositiveInt]
PerDimNonNegative = NonNegativeInt | list[NonNegativeInt]


class GeneratedArray(BaseModel):
    """`{shape, seed, distribution, low, high, scale}`: an array drawn reproducibly.

    A size may be 0 (an empty batch or channel axis is a case worth testing); the builder allows
    that only on the batch and channel axes, since a spatial size of 0 has no output size.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    shape: list[NonNegativeInt] | None = None
    seed: Seed | None = None
    distribution: Literal["normal", "uniform", "integers"] = "normal"
    low: RangeInt | FiniteFloat | None = None
    high: RangeInt | FiniteFloat | None = None
    scale: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0


def array_spec(value: Any) -> Any:
    """A mapping is a generated array; anything else must be a nested numeric list."""
    if isinstance(value, dict):
        return GeneratedArray.model_validate(value)
    return nested_array(value)


class RawCase(BaseModel):
    """One case as written in YAML (after `defaults:` and `sweep:` are applied)."""

    # Strict: `stride: "2"` or `stride: true` are mistakes, not numbers to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, strict=True)

    id: Annotated[str, BeforeValidator(id_value)]
    input: Annotated[Any, BeforeValidator(array_spec)] = None
    kernel: Annotated[Any, BeforeValidator(array_spec)] = None
    bias: Any = None
    stride: PerDimPositive = 1
    padding: Annotated[Any, BeforeValidator(padding_value)] = 0
    output_padding: PerDimNonNegative = 0
    dilation: PerDimPositive = 1
    groups: PositiveInt = 1
    output_shape: PerDimPositive | None = None
    # Whose output_shape rule: TensorFlow's by default (valid/same); ONNX's or PyTorch's on request.
    output_shape_rule: Literal["tensorflow", "onnx", "pytorch"] | None = None
    dtype: Annotated[Literal[DTYPE_NAMES], BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v)] = "float32"  # type: ignore[valid-type]
    expected: NestedArray | None = None
    expected_shape: list[NonNegativeInt] | None = None
    # Shorthand for generated arrays: shapes from channel counts and sizes (0: an empty tensor).
    rank: Literal[1, 2, 3] | None = None
    batch: NonNegativeInt | None = None
    in_channels: NonNegativeInt | None = None
    out_channels: NonNegativeInt | None = None
    input_size: PerDimPositive | None = None
    kernel_size: PerDimPositive | None = None
    seed: Seed = 0
    distribution: Literal["normal", "uniform", "integers"] = "normal"
    # Judge policy: demand gradual underflow (subnormals kept) instead of accepting a flush to zero.
    gradual_underflow: bool = False
    # What to check: the forward result and/or the gradients (harness.gradients); one word or a list.
    check: Annotated[list[Literal[CHECK_NAMES]], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)] = ["forward"]  # type: ignore[valid-type]
    # The upstream gradient (the output's shape); drawn with seed + 3 when left out.
    upstream: Annotated[Any, BeforeValidator(array_spec)] = None
    # Documentation that travels with the case into reports.
    description: str = ""
    source: str = ""
    tags: list[str] = []

    @field_validator("bias", mode="before")
    @classmethod
    def _bias(cls, value: Any) -> Any:
        """A bias is a list, one number (the 2-D shorthand) or a generated array."""
        if value is None or isinstance(value, dict):
            return None if value is None else GeneratedArray.model_validate(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            problem = _float_problem(value, "")
            if problem:
                raise ValueError(problem)
            return np.array([float(value)])
        return nested_array(value)


CASE_KEYS = frozenset(RawCase.model_fields)


class CaseFileModel(BaseModel):
    """The top level of a case file."""

    model_config = ConfigDict(extra="forbid")

    cases: Annotated[list[dict[str, Any]], Field(min_length=1)]
    defaults: dict[str, Any] = {}
    description: str = ""
