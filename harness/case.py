"""The case object: one transposed convolution with its data, frozen and validated.

A `Case` is what every other part of tconv consumes: canonical layouts, per-dimension tuples,
arrays already rounded to the case dtype (held as read-only float64). It is built only by
`harness.casefile`, which validates the YAML first; nothing in a `Case` is left to interpret.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from harness.geometry import DimPadding, full_length, output_shape_form, output_window


def array_bytes(values: np.ndarray | None) -> bytes:
    """An array's dtype, shape and contents as bytes (`b"none"` for no array): what a key of a
    case's content hashes (the oracle's kept answers, the kept converted models)."""
    if values is None:
        return b"none"
    array = np.ascontiguousarray(values)
    return f"{array.dtype.str}{array.shape}".encode() + b":" + array.tobytes()


def content_key(case: Case) -> tuple[object, ...]:
    """What the oracle's answer (and anything else computed from the case alone) depends on: the
    case's parameters and the bytes of its arrays. A copy of a case, as a worker receives it through
    a pipe, has the same key; any change the oracle would see gives another."""
    digest = hashlib.sha256()
    for values in (case.input, case.kernel, case.bias, case.upstream):
        digest.update(array_bytes(values) + b"|")
    parameters = {k: v for k, v in case.oracle_kwargs().items() if k != "bias"}  # the padding word included
    return (case.file, case.id, case.dtype, repr(parameters), case.gradual_underflow, digest.hexdigest())


def nonfinite_kinds(values: np.ndarray | None) -> str:
    """The non-finite values an array holds, as a case parameter: `nan`, `inf`, `-inf` joined by
    ", " in that order, or `no`. Known discrepancies that only such data shows name them (a
    converter that turns an inf constant into FLT_MAX: `when: {nonfinite_kernel: "*inf*"}`)."""
    if values is None or values.size == 0 or np.isfinite(values).all():
        return "no"
    kinds = [("nan", np.isnan(values).any()), ("inf", np.isposinf(values).any()), ("-inf", np.isneginf(values).any())]
    return ", ".join(name for name, present in kinds if present)


def _fmt_seq(values: tuple[int, ...]) -> str:
    """`2` when every dimension agrees, `[2, 1]` otherwise."""
    return str(values[0]) if len(set(values)) == 1 else "[" + ", ".join(map(str, values)) + "]"


@dataclass(frozen=True, eq=False)
class Case:
    """One validated case, in the canonical layouts of the contract."""

    file: str
    id: str
    input: np.ndarray
    kernel: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, ...]
    padding: tuple[DimPadding, ...]
    output_padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    output_shape: tuple[int, ...] | None
    dtype: str
    expected: np.ndarray | None = None
    expected_shape: tuple[int, ...] | None = None
    description: str = ""
    source: str = ""
    tags: tuple[str, ...] = field(default=())
    gradual_underflow: bool = False  # judge: subnormals must be kept (no flush to zero accepted)
    checks: tuple[str, ...] = ("forward",)  # forward and/or grad_input, grad_weight, grad_bias
    upstream: np.ndarray | None = None  # the upstream gradient (output shape) for gradient checks
    output_shape_rule: str | None = None  # whose output_shape rule: None (TensorFlow's), onnx, pytorch

    @property
    def full_id(self) -> str:
        """`file::id`, the name used in test ids, reports and comparisons."""
        return f"{self.file}::{self.id}"

    @property
    def rank(self) -> int:
        return self.input.ndim - 2

    @property
    def batch(self) -> int:
        return self.input.shape[0]

    @property
    def in_channels(self) -> int:
        return self.input.shape[1]

    @property
    def out_channels(self) -> int:
        return self.kernel.shape[1] * self.groups

    @property
    def input_size(self) -> tuple[int, ...]:
        return tuple(self.input.shape[2:])

    @property
    def kernel_size(self) -> tuple[int, ...]:
        return tuple(self.kernel.shape[2:])

    @property
    def padding_word(self) -> str | None:
        """The padding word (`same`, `valid`, ...) or None for explicit crops."""
        first = self.padding[0]
        return first if isinstance(first, str) else None

    @property
    def padding_label(self) -> str:
        """The padding as a user would write it: `same`, `1`, `[1, 0]` or `[[1, 0], [0, 1]]`."""
        word = self.padding_word
        if word is not None:
            return word
        pairs = [p for p in self.padding if not isinstance(p, str)]
        if all(b == e for b, e in pairs):
            return _fmt_seq(tuple(b for b, _ in pairs))
        return "[" + ", ".join(f"[{b}, {e}]" for b, e in pairs) + "]"

    @property
    def output_padding_beyond_stride(self) -> bool:
        """Some `output_padding` >= its stride (allowed because it is below the dilation)."""
        return any(op >= s for op, s in zip(self.output_padding, self.stride))

    @property
    def zero_extended(self) -> bool:
        """The canonical output runs past the full result in some dim (zeros, plus bias, there)."""
        for dim in range(self.rank):
            args = (self.input_size[dim], self.kernel_size[dim])
            window = output_window(
                *args, stride=self.stride[dim], dilation=self.dilation[dim], padding=self.padding[dim],
                output_padding=self.output_padding[dim],
                output_shape=None if self.output_shape is None else self.output_shape[dim],
                output_shape_rule=self.output_shape_rule,
            )
            if window.stop > full_length(*args, self.stride[dim], self.dilation[dim]):
                return True
        return False

    @cached_property
    def nonfinite_input(self) -> str:
        """`nonfinite_kinds` of the input (computed once: every row of the case describes it)."""
        return nonfinite_kinds(self.input)

    @cached_property
    def nonfinite_kernel(self) -> str:
        """`nonfinite_kinds` of the kernel."""
        return nonfinite_kinds(self.kernel)

    @property
    def negative_same_padding(self) -> bool:
        """A `same*` padding whose total crop is negative in some dim: `in * stride` is longer than
        the full result plus output_padding (a stride beyond the dilated kernel)."""
        if self.padding_word not in ("same", "same_upper", "same_lower"):
            return False
        sizes = self.output_shape or tuple(n * s for n, s in zip(self.input_size, self.stride))
        return any(
            (n - 1) * s + d * (k - 1) + 1 + op < size
            for n, k, s, d, op, size in zip(self.input_size, self.kernel_size, self.stride, self.dilation,
                                             self.output_padding, sizes)
        )

    @property
    def output_shape_form(self) -> str:
        """Whose `output_shape` rule the case follows (`tensorflow`, `onnx`, `pytorch`), or ""
        without output_shape."""
        return "" if self.output_shape is None else output_shape_form(self.padding[0], self.output_shape_rule)

    def oracle_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `harness.oracle.conv_transpose` for this case."""
        padding: Any = self.padding_word or [list(p) for p in self.padding]
        return {
            "bias": self.bias,
            "stride": self.stride,
            "padding": padding,
            "output_padding": self.output_padding,
            "dilation": self.dilation,
            "groups": self.groups,
            "output_shape": self.output_shape,
            "output_shape_rule": self.output_shape_rule,
        }

    def describe(self) -> dict[str, str]:
        """The parameters as short strings, for reports and failure messages."""
        return {
            "dtype": self.dtype,
            "rank": str(self.rank),
            "input_shape": "x".join(map(str, self.input.shape)),
            "kernel_shape": "x".join(map(str, self.kernel.shape)),
            "kernel_size": _fmt_seq(self.kernel_size),  # the spatial taps alone: "1" is a one-tap kernel
            "stride": _fmt_seq(self.stride),
            "padding": self.padding_label,
            "padding_kind": self.padding_word or "explicit",
            "output_padding": _fmt_seq(self.output_padding),
            "dilation": _fmt_seq(self.dilation),
            "groups": str(self.groups),
            "bias": "yes" if self.bias is not None else "no",
            "output_shape": "" if self.output_shape is None else _fmt_seq(self.output_shape),
            "output_shape_form": self.output_shape_form,
            "output_padding_beyond_stride": "yes" if self.output_padding_beyond_stride else "no",
            "zero_extended": "yes" if self.zero_extended else "no",
            "negative_same_padding": "yes" if self.negative_same_padding else "no",
            "batch": str(self.batch),
            "in_channels": str(self.in_channels),
            "out_channels": str(self.out_channels),
            "empty": "yes" if 0 in (self.batch, self.in_channels, self.out_channels) else "no",
            "nonfinite_input": self.nonfinite_input,
            "nonfinite_kernel": self.nonfinite_kernel,
        }
