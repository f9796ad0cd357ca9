"""From a field-validated `RawCase` to a `Case`: shapes, shorthand, and the cross-field rules.

Each rule names the field a user would edit to fix it. The rules are the contract's: ranks agree
(input, kernel, per-dimension lists, expected), kernel C_in is the input's, `groups` divides both
channel counts, `output_padding` stays below `max(stride, dilation)` (PyTorch's rule), the output
is at least one position long, a `bias` has C_out values, `output_shape` is one its padding's
rule accepts (`harness.geometry.output_shape_problem`: TensorFlow's, ONNX's or PyTorch's).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.case import Case
from harness.dtypes import round_to
from harness.generate import generate
from harness.geometry import full_length, output_shape_problem, output_window
from harness.schema import GeneratedArray, RawCase

PER_DIM_FIELDS = ("stride", "dilation", "output_padding", "output_shape", "input_size", "kernel_size")
SEED_OFFSETS = {"input": 0, "kernel": 1, "bias": 2, "upstream": 3}


class CaseError(ValueError):
    """A rule that ties fields together is broken; `field` is the one to fix."""

    def __init__(self, field: str, message: str) -> None:
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


def _array(raw: RawCase, name: str, shape: tuple[int, ...] | None) -> np.ndarray | None:
    """The explicit array, or one drawn from its generated spec or from the shorthand."""
    value = getattr(raw, name)
    if isinstance(value, np.ndarray):
        return value
    if value is None and (name == "bias" or shape is None):
        return None
    spec = value if isinstance(value, GeneratedArray) else GeneratedArray()
    if spec.shape is not None:
        if shape is not None and tuple(spec.shape) != shape:
            raise CaseError(name, f"shape {spec.shape} disagrees with {list(shape)} (from the other fields)")
        shape = tuple(spec.shape)
    if shape is None:
        raise CaseError(name, "a generated array needs `shape` (or the shorthand sizes)")
    distribution = spec.distribution if "distribution" in spec.model_fields_set else raw.distribution
    seed = spec.seed if spec.seed is not None else raw.seed + SEED_OFFSETS[name]
    try:
        return generate(
            shape, seed=seed, distribution=distribution, low=spec.low, high=spec.high,
            scale=spec.scale, spatial_axes=tuple(range(2, len(shape))) if name == "kernel" else (),
        )
    except ValueError as error:
        raise CaseError(name, str(error)) from None


def _check_shorthand_agrees(raw: RawCase, x: np.ndarray, w: np.ndarray) -> None:
    checks = {"batch": x.shape[0], "in_channels": x.shape[1], "out_channels": w.shape[1] * raw.groups}
    for name, actual in checks.items():
        given = getattr(raw, name)
        if given is not None and given != actual:
            raise CaseError(name, f"is {given} but the arrays say {actual}")


def build_case(raw: RawCase, file: str) -> Case:
    """Apply the cross-field rules to a field-validated case and build the frozen `Case`."""
    rank = _rank(raw)
    shapes = _shorthand_shapes(raw, rank)
    x = _array(raw, "input", shapes["input"])
    if x is None:
        raise CaseError("input", "missing (a nested list, a generated array, or `input_size`)")
    w = _array(raw, "kernel", shapes["kernel"])
    if w is None:
        raise CaseError("kernel", "missing (a nested list, a generated array, or `kernel_size`)")
    expected = raw.expected
    shorthand_2d = x.ndim == 2
    if shorthand_2d:
        if w.ndim != 2:
            raise CaseError("kernel", f"a 2-D input (shorthand) needs a 2-D kernel, got {w.ndim}-D")
        x, w = x[None, None], w[None, None]
        if expected is not None and expected.ndim == 2:
            expected = expected[None, None]
    if x.ndim not in (3, 4, 5):
        raise CaseError("input", f"needs 3 to 5 dims (N, C_in, *spatial) or a 2-D shorthand, got {x.ndim}")
    if w.ndim != x.ndim:
        raise CaseError("kernel", f"has {w.ndim} dims but the input has {x.ndim}: ranks must match")
    rank = x.ndim - 2
    for name, array in (("input", x), ("kernel", w)):
        if 0 in array.shape[2:]:
            raise CaseError(name, f"has shape {list(array.shape)}: a spatial size of 0 has no output "
                                  "(only the batch and channel axes may be 0)")
    if w.shape[0] != x.shape[1]:
        raise CaseError("kernel", f"kernel C_in is {w.shape[0]} but the input has {x.shape[1]} channels")
    if x.shape[1] % raw.groups:
        raise CaseError("groups", f"groups={raw.groups} does not divide C_in={x.shape[1]}")
    _check_shorthand_agrees(raw, x, w)
    c_out = w.shape[1] * raw.groups

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
        for dim, (o, n, k, s, d) in enumerate(zip(output_shape, x.shape[2:], w.shape[2:], stride, dilation)):
            problem = output_shape_problem(o, n, k, stride=s, dilation=d, padding=padding[dim],
                                           output_padding=output_padding[dim], rule=rule)
            if problem is not None:
                raise CaseError("output_shape", f"in dim {dim}: {problem}")
    for dim in range(rank):
        n, k, s, d = x.shape[2 + dim], w.shape[2 + dim], stride[dim], dilation[dim]
        window = output_window(
            n, k, stride=s, dilation=d, padding=padding[dim], output_padding=output_padding[dim],
            output_shape=None if output_shape is None else output_shape[dim],
            output_shape_rule=rule,
        )
        if window.length < 1:
            full = full_length(n, k, s, d) + output_padding[dim]
            raise CaseError("padding", f"leaves an output size of {window.length} in dim {dim} (full size {full})")

    checks = tuple(dict.fromkeys(raw.check))
    if not checks:
        raise CaseError("check", "names nothing to check (forward, grad_input, grad_weight, grad_bias)")
    if "grad_bias" in checks and raw.bias is None:
        raise CaseError("check", "grad_bias needs a bias")
    out_shape = (x.shape[0], c_out, *(
        output_window(n, k, stride=s, dilation=d, padding=p, output_padding=op, output_shape_rule=rule,
                      output_shape=None if output_shape is None else output_shape[dim]).length
        for dim, (n, k, s, d, p, op) in enumerate(zip(x.shape[2:], w.shape[2:], stride, dilation, padding,
                                                       output_padding))))
    upstream = None
    if checks != ("forward",) or raw.upstream is not None:
        upstream = _array(raw, "upstream", out_shape)
        if shorthand_2d and upstream is not None and upstream.ndim == 2:
            upstream = upstream[None, None]
        if upstream is not None and upstream.shape != out_shape:
            raise CaseError("upstream", f"has shape {list(upstream.shape)} but the output is {list(out_shape)}")
    bias = _array(raw, "bias", (c_out,))
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != c_out):
        raise CaseError("bias", f"has shape {list(bias.shape)} but C_out is {c_out}")
    if expected is not None and expected.ndim != x.ndim:
        raise CaseError("expected", f"has {expected.ndim} dims but the input has {x.ndim}")
    if raw.expected_shape is not None and len(raw.expected_shape) != x.ndim:
        raise CaseError("expected_shape", f"has {len(raw.expected_shape)} dims but the input has {x.ndim}")

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
