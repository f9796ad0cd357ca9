"""From a field-validated `RawCase` to a `Case`: shapes, shorthand, and the cross-field rules.

Each rule names the field a user would edit to fix it. The rules are the contract's: ranks agree
(input, kernel, per-dimension lists, expected), kernel C_in is the input's, `groups` divides both
channel counts, `output_padding` stays below `max(stride, dilation)` (PyTorch's rule), the output
is at least one position long, a `bias` has C_out values, `output_shape` is one its padding's
rule accepts (`harness.geometry.output_shape_problem`: TensorFlow's, ONNX's or PyTorch's), and
the case's estimated memory and work fit the run's `harness.limits.Limits`. All of it is checked
on shapes (plain integers) before any array is drawn.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.case import Case
from harness.dtypes import round_to
from harness.generate import GenerateError, generate
from harness.geometry import full_length, output_shape_problem, output_window
from harness.limits import DEFAULT_LIMITS, Limits, estimate, extent_problem, limit_problem
from harness.schema import GeneratedArray, RawCase

PER_DIM_FIELDS = ("stride", "dilation", "output_padding", "output_shape", "input_size", "kernel_size")
SEED_OFFSETS = {"input": 0, "kernel": 1, "bias": 2, "upstream": 3}


class CaseError(ValueError):
    """A rule that ties fields together is broken; `field` is the one to fix (None: the case as a
    whole, e.g. too large to run)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _rank(raw: RawCase) -> int:
    """The number of spatial dims: from the arrays, the `rank` key, or any per-dim list."""
    for name in ("input", "kernel"):
        value = getattr(raw, name)
        if isinstance(value, np.ndarray):
            return 2 if value.ndim == 2 else value.ndim - 2
        if isinstance(value, GeneratedArray) and value.shape is not None:
            return len(value.shape) - 2
    if raw.rank is not None:
        return raw.rank
    for name in PER_DIM_FIELDS:
        value = getattr(raw, name)
        if isinstance(value, list):
            return len(value)
    if isinstance(raw.padding, list):
        return len(raw.padding)
    return 2


def _per_dim(raw: RawCase, name: str, rank: int) -> tuple[int, ...] | None:
    value = getattr(raw, name)
    if value is None:
        return None
    if isinstance(value, int):
        return (value,) * rank
    if len(value) != rank:
        raise CaseError(name, f"has {len(value)} values but the case has {rank} spatial dims")
    return tuple(value)


def _padding(raw: RawCase, rank: int) -> tuple[Any, ...]:
    value = raw.padding
    if isinstance(value, str):
        return (value,) * rank
    if isinstance(value, int):
        return ((value, value),) * rank
    if len(value) != rank:
        raise CaseError("padding", f"has {len(value)} entries but the case has {rank} spatial dims")
    return tuple((v, v) if isinstance(v, int) else (v[0], v[1]) for v in value)


def _shorthand_shapes(raw: RawCase, rank: int) -> dict[str, tuple[int, ...] | None]:
    """Shapes implied by `batch`, `in_channels`, `out_channels`, `input_size`, `kernel_size`.

    A count given as 0 stays 0 (an empty tensor); only a count left out takes its default.
    """
    c_in = raw.groups if raw.in_channels is None else raw.in_channels
    c_out = raw.groups if raw.out_channels is None else raw.out_channels
    batch = 1 if raw.batch is None else raw.batch
    for name, count in (("in_channels", c_in), ("out_channels", c_out)):
        if count % raw.groups:
            raise CaseError("groups", f"groups={raw.groups} does not divide {name}={count}")
    input_size = _per_dim(raw, "input_size", rank)
    kernel_size = _per_dim(raw, "kernel_size", rank)
    return {
        "input": None if input_size is None else (batch, c_in, *input_size),
        "kernel": None if kernel_size is None else (c_in, c_out // raw.groups, *kernel_size),
    }


def _planned_shape(raw: RawCase, name: str, shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The shape `_array` will give the field, from shapes alone (nothing is drawn): an explicit
    array's, a generated spec's `shape`, or `shape` (from the shorthand or the other fields)."""
    value = getattr(raw, name)
    if isinstance(value, np.ndarray):
        return tuple(value.shape)
    if value is None and (name == "bias" or shape is None):
        return None
    spec = value if isinstance(value, GeneratedArray) else GeneratedArray()
    if spec.shape is not None:
        if shape is not None and tuple(spec.shape) != shape:
            raise CaseError(name, f"shape {spec.shape} disagrees with {list(shape)} (from the other fields)")
        return tuple(spec.shape)
    if shape is None:
        raise CaseError(name, "a generated array needs `shape` (or the shorthand sizes)")
    return shape


def _generated(raw: RawCase, name: str) -> bool:
    return not isinstance(getattr(raw, name), np.ndarray)


def _array(raw: RawCase, name: str, shape: tuple[int, ...] | None) -> np.ndarray | None:
    """The explicit array, or one drawn from its generated spec or from its planned `shape`."""
    value = getattr(raw, name)
    if isinstance(value, np.ndarray) or shape is None:
        return value if isinstance(value, np.ndarray) else None
    spec = value if isinstance(value, GeneratedArray) else GeneratedArray()
    distribution = spec.distribution if "distribution" in spec.model_fields_set else raw.distribution
    seed = spec.seed if spec.seed is not None else raw.seed + SEED_OFFSETS[name]
    try:
        return generate(
            shape, seed=seed, distribution=distribution, low=spec.low, high=spec.high,
            scale=spec.scale, spatial_axes=tuple(range(2, len(shape))) if name == "kernel" else (),
        )
    except GenerateError as error:
        raise CaseError(name if error.field is None else f"{name}.{error.field}", str(error)) from None


def _check_shorthand_agrees(raw: RawCase, x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> None:
    checks = {"batch": x_shape[0], "in_channels": x_shape[1], "out_channels": w_shape[1] * raw.groups}
    for name, actual in checks.items():
        given = getattr(raw, name)
        if given is not None and given != actual:
            raise CaseError(name, f"is {given} but the arrays say {actual}")


def _check_limits(raw: RawCase, planned: dict[str, tuple[int, ...] | None], out_shape: tuple[int, ...],
                  full: list[int], checks: tuple[str, ...], limits: Limits, held_before: int) -> None:
    """Refuse a case whose estimated cost is over `limits`, from its shapes (nothing drawn yet)."""
    x_shape, w_shape = planned["input"], planned["kernel"]
    assert x_shape is not None and w_shape is not None
    generated = sum(math.prod(shape) for name, shape in planned.items() if shape is not None and _generated(raw, name))
    cost = estimate(
        batch=x_shape[0], in_channels=x_shape[1], out_channels=out_shape[1], groups=raw.groups,
        input_size=x_shape[2:], kernel_size=w_shape[2:], output_size=out_shape[2:], full_size=full,
        dtype=raw.dtype, gradients=checks != ("forward",), generated=generated,
    )
    problem = limit_problem(cost, limits, held_before=held_before)
    if problem is not None:
        raise CaseError(None, problem)


def build_case(raw: RawCase, file: str, *, limits: Limits = DEFAULT_LIMITS, held_before: int = 0) -> Case:
    """Apply the cross-field rules to a field-validated case and build the frozen `Case`.

    Every rule is checked on shapes first, then the case's cost against `limits` (with
    `held_before` bytes already held by other cases), and only then are arrays drawn: a case too
    large to run is refused before anything is allocated.
    """
    rank = _rank(raw)
    shapes = _shorthand_shapes(raw, rank)
    x_raw = _planned_shape(raw, "input", shapes["input"])
    if x_raw is None:
        raise CaseError("input", "missing (a nested list, a generated array, or `input_size`)")
    w_raw = _planned_shape(raw, "kernel", shapes["kernel"])
    if w_raw is None:
        raise CaseError("kernel", "missing (a nested list, a generated array, or `kernel_size`)")
    expected = raw.expected
    shorthand_2d = len(x_raw) == 2
    x_shape, w_shape = x_raw, w_raw
    if shorthand_2d:
        if len(w_raw) != 2:
            raise CaseError("kernel", f"a 2-D input (shorthand) needs a 2-D kernel, got {len(w_raw)}-D")
        x_shape, w_shape = (1, 1, *x_raw), (1, 1, *w_raw)
        if expected is not None and expected.ndim == 2:
            expected = expected[None, None]
    ndim = len(x_shape)
    if ndim not in (3, 4, 5):
        raise CaseError("input", f"needs 3 to 5 dims (N, C_in, *spatial) or a 2-D shorthand, got {ndim}")
    if len(w_shape) != ndim:
        raise CaseError("kernel", f"has {len(w_shape)} dims but the input has {ndim}: ranks must match")
    rank = ndim - 2
    for name, shape in (("input", x_shape), ("kernel", w_shape)):
        if 0 in shape[2:]:
            raise CaseError(name, f"has shape {list(shape)}: a spatial size of 0 has no output "
                                  "(only the batch and channel axes may be 0)")
        for size in shape:
            problem = extent_problem(size)
            if problem:
                raise CaseError(name, f"has a size that {problem}")
    if w_shape[0] != x_shape[1]:
        raise CaseError("kernel", f"kernel C_in is {w_shape[0]} but the input has {x_shape[1]} channels")
    if x_shape[1] % raw.groups:
        raise CaseError("groups", f"groups={raw.groups} does not divide C_in={x_shape[1]}")
    _check_shorthand_agrees(raw, x_shape, w_shape)
    c_out = w_shape[1] * raw.groups

    stride = _per_dim(raw, "stride", rank)
    dilation = _per_dim(raw, "dilation", rank)
    output_padding = _per_dim(raw, "output_padding", rank)
    output_shape = _per_dim(raw, "output_shape", rank)
    padding = _padding(raw, rank)
    assert stride and dilation and output_padding is not None
    for dim, (op, s, d) in enumerate(zip(output_padding, stride, dilation)):
        if op >= max(s, d):
            raise CaseError("output_padding", f"{op} in dim {dim} is not below max(stride, dilation) = {max(s, d)}")
    rule = raw.output_shape_rule
    if rule is not None and output_shape is None:
        raise CaseError("output_shape_rule", "says whose output_shape rule applies, but the case has no output_shape")
    if output_shape is not None:
        for dim, (o, n, k, s, d) in enumerate(zip(output_shape, x_shape[2:], w_shape[2:], stride, dilation)):
            problem = output_shape_problem(o, n, k, stride=s, dilation=d, padding=padding[dim],
                                           output_padding=output_padding[dim], rule=rule)
            if problem is not None:
                raise CaseError("output_shape", f"in dim {dim}: {problem}")
    windows = []
    for dim in range(rank):
        n, k, s, d = x_shape[2 + dim], w_shape[2 + dim], stride[dim], dilation[dim]
        window = output_window(
            n, k, stride=s, dilation=d, padding=padding[dim], output_padding=output_padding[dim],
            output_shape=None if output_shape is None else output_shape[dim],
            output_shape_rule=rule,
        )
        if window.length < 1:
            full = full_length(n, k, s, d) + output_padding[dim]
            raise CaseError("padding", f"leaves an output size of {window.length} in dim {dim} (full size {full})")
        windows.append(window)

    checks = tuple(dict.fromkeys(raw.check))
    if not checks:
        raise CaseError("check", "names nothing to check (forward, grad_input, grad_weight, grad_bias)")
    if "grad_bias" in checks and raw.bias is None:
        raise CaseError("check", "grad_bias needs a bias")
    out_shape = (x_shape[0], c_out, *(window.length for window in windows))
    # The oracle's uncropped result: every tap lands, zero-extended to each window's end.
    full_sizes = [max(full_length(n, k, s, d), window.stop)
                  for n, k, s, d, window in zip(x_shape[2:], w_shape[2:], stride, dilation, windows)]
    planned: dict[str, tuple[int, ...] | None] = {"input": x_raw, "kernel": w_raw, "upstream": None}
    if checks != ("forward",) or raw.upstream is not None:
        planned["upstream"] = _planned_shape(raw, "upstream", out_shape)
        up_shape = planned["upstream"]
        if shorthand_2d and up_shape is not None and len(up_shape) == 2:
            up_shape = (1, 1, *up_shape)
        if up_shape is not None and up_shape != out_shape:
            raise CaseError("upstream", f"has shape {list(up_shape)} but the output is {list(out_shape)}")
    planned["bias"] = _planned_shape(raw, "bias", (c_out,))
    bias_shape = planned["bias"]
    if bias_shape is not None and (len(bias_shape) != 1 or bias_shape[0] != c_out):
        raise CaseError("bias", f"has shape {list(bias_shape)} but C_out is {c_out}")
    if expected is not None and expected.ndim != ndim:
        raise CaseError("expected", f"has {expected.ndim} dims but the input has {ndim}")
    if raw.expected_shape is not None and len(raw.expected_shape) != ndim:
        raise CaseError("expected_shape", f"has {len(raw.expected_shape)} dims but the input has {ndim}")
    _check_limits(raw, {**planned, "input": x_shape, "kernel": w_shape}, out_shape, full_sizes, checks,
                  limits, held_before)

    x = _array(raw, "input", x_raw)
    w = _array(raw, "kernel", w_raw)
    assert x is not None and w is not None
    if shorthand_2d:
        x, w = x[None, None], w[None, None]
    upstream = _array(raw, "upstream", planned["upstream"])
    if shorthand_2d and upstream is not None and upstream.ndim == 2:
        upstream = upstream[None, None]
    bias = _array(raw, "bias", bias_shape)

    def frozen(a: np.ndarray | None) -> np.ndarray | None:
        if a is None:
            return None
        a = round_to(a, raw.dtype) if a is not expected else np.array(a, dtype=np.float64)
        a.flags.writeable = False
        return a

    return Case(
        file=file, id=raw.id, input=frozen(x), kernel=frozen(w), bias=frozen(bias),  # type: ignore[arg-type]
        stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
        groups=raw.groups, output_shape=output_shape, dtype=raw.dtype, expected=frozen(expected),
        expected_shape=None if raw.expected_shape is None else tuple(raw.expected_shape),
        description=raw.description, source=raw.source, tags=tuple(raw.tags),
        gradual_underflow=raw.gradual_underflow, checks=checks, upstream=frozen(upstream), output_shape_rule=rule,
    )
