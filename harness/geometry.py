"""Canonical output-size and crop arithmetic, one spatial dimension at a time.

This is the harness side of the shape rules: the oracle and case validation use it. The
adapters have their own copy of the framework formulas (`adapters/padding.py`) on purpose, so a
slip here cannot hide the same slip in an adapter. Everything is plain integers: no arrays, no
frameworks.

The canonical result of one dimension is a *window* onto the full result: the full result
(`L_full` positions) extended with zeros to the right, from which `length` positions are read
starting at `start`. `output_padding` and zero extension only ever add positions at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

PADDING_WORDS = ("valid", "same", "same_upper", "same_lower")

# A padding in normalized form: a word from PADDING_WORDS, or a (begin, end) crop pair.
DimPadding = str | tuple[int, int]


@dataclass(frozen=True)
class Window:
    """Where one dimension of the output lies on the zero-extended full result."""

    start: int
    length: int

    @property
    def stop(self) -> int:
        return self.start + self.length


def dilated_kernel_size(kernel_size: int, dilation: int) -> int:
    """Span of the kernel once `dilation - 1` holes sit between its taps."""
    return dilation * (kernel_size - 1) + 1


def full_length(input_size: int, kernel_size: int, stride: int, dilation: int) -> int:
    """`L_full = (L_in - 1) * stride + dilation * (k - 1) + 1`: every tap of every input lands."""
    return (input_size - 1) * stride + dilated_kernel_size(kernel_size, dilation)


def same_crop(total: int, *, odd_extra_at_start: bool) -> tuple[int, int]:
    """Split a `same` crop of `total` positions; a negative total crops nothing."""
    if total <= 0:
        return 0, 0
    small, large = total // 2, total - total // 2
    return (large, small) if odd_extra_at_start else (small, large)


def output_window(
    input_size: int,
    kernel_size: int,
    *,
    stride: int = 1,
    dilation: int = 1,
    padding: DimPadding = (0, 0),
    output_padding: int = 0,
    output_shape: int | None = None,
    output_shape_rule: str | None = None,
) -> Window:
    """The canonical window of one spatial dimension (see the contract's semantics)."""
    full = full_length(input_size, kernel_size, stride, dilation)
    if output_shape is not None:
        start = output_shape_start(full, output_shape, padding=padding, output_padding=output_padding,
                                   rule=output_shape_rule)
        return Window(start, output_shape)
    extended = full + output_padding
    if padding == "valid":
        return Window(0, extended)
    if padding in ("same", "same_upper", "same_lower"):
        length = input_size * stride
        begin, _ = same_crop(extended - length, odd_extra_at_start=padding == "same_lower")
        return Window(begin, length)
    if isinstance(padding, str):
        raise ValueError(f"unknown padding word {padding!r}")
    begin, end = padding
    return Window(begin, extended - begin - end)


OUTPUT_SHAPE_RULES = ("tensorflow", "onnx", "pytorch")
_RULE_PADDINGS = {
    "tensorflow": "padding 'valid' or 'same'",
    "onnx": "no padding (auto_pad NOTSET), 'same_upper' or 'same_lower'",
    "pytorch": "an integer padding (one per dim)",
}


def output_shape_form(padding: DimPadding, rule: str | None = None) -> str:
    """Whose `output_shape` rule applies: the one the case names (`output_shape_rule`), else
    TensorFlow's, the contract's original form (which goes with `valid` or `same` only)."""
    return rule or "tensorflow"


def rule_padding_problem(padding: DimPadding, rule: str | None) -> str | None:
    """Why a padding does not go with an `output_shape` rule, or None. An `[begin, end]` pair
    never does: ONNX ignores `pads` when `output_shape` is given."""
    form = output_shape_form(padding, rule)
    fits = {"tensorflow": padding in ("valid", "same"),
            "onnx": padding in ("same_upper", "same_lower", (0, 0)),
            "pytorch": isinstance(padding, tuple) and padding[0] == padding[1]}[form]
    if fits:
        return None
    shown = padding if isinstance(padding, str) else list(padding)
    hint = ("; for ONNX's output_shape (auto_pad NOTSET, SAME_UPPER, SAME_LOWER) add `output_shape_rule: onnx`, "
            "for PyTorch's output_size= add `output_shape_rule: pytorch`") if rule is None else ""
    return f"with {form}'s rule goes with {_RULE_PADDINGS[form]}, not {shown}{hint}"


def output_shape_start(full: int, output_shape: int, *, padding: DimPadding, output_padding: int = 0,
                       rule: str | None = None) -> int:
    """Where an `output_shape` window starts on the zero-extended full result.

    TensorFlow (`same`): the forward conv's SAME padding, its smaller half before; `valid`: 0.
    ONNX: `total = full + output_padding - output_shape`, `same_upper` crops `total // 2` first,
    NOTSET and `same_lower` crop `total - total // 2` first; a negative total crops nothing and
    the zeros go at the end (ONNX's own `test_convtranspose_output_shape`, ONNX Runtime).
    PyTorch (`padding: p`): `p` first, the rest is its implied output_padding at the end.
    """
    problem = rule_padding_problem(padding, rule)
    if problem is not None:
        raise ValueError(f"output_shape {problem}")
    form = output_shape_form(padding, rule)
    if form == "tensorflow":
        return max(full - output_shape, 0) // 2 if padding == "same" else 0
    if form == "onnx":
        total = full + output_padding - output_shape
        if total <= 0:
            return 0
        return total // 2 if padding == "same_upper" else total - total // 2
    return padding[0]  # type: ignore[index]


def output_shape_problem(
    output_size: int, input_size: int, kernel_size: int, *, stride: int, dilation: int, padding: DimPadding,
    output_padding: int = 0, rule: str | None = None,
) -> str | None:
    """Why `output_size` is not a valid `output_shape` under its rule, or None.

    TensorFlow: the forward convolution must map it back to the input size, without
    output_padding. PyTorch: `output_size` lies in `[min, min + stride - 1]`, `min` the size with
    output_padding 0, and replaces output_padding. ONNX: any size of at least one position.
    """
    if output_size < 1:
        return f"{output_size} is not a size"
    problem = rule_padding_problem(padding, rule)
    if problem is not None:
        return problem
    form = output_shape_form(padding, rule)
    if form == "tensorflow":
        if output_padding:
            return "goes without output_padding with valid/same (TensorFlow gives the size outright)"
        if padding == "same":
            back = -(-output_size // stride)
        else:
            span = output_size - dilation * (kernel_size - 1)
            back = -(-span // stride) if span >= 1 else 0
        if back != input_size:
            return (f"{output_size}: the forward conv ({padding}, stride {stride}) maps it to {back}, not the "
                    f"input size {input_size} (TensorFlow's rule)")
        return None
    if form == "pytorch":
        if output_padding:
            return "goes without output_padding with PyTorch's rule (its output_size replaces it)"
        low = full_length(input_size, kernel_size, stride, dilation) - 2 * padding[0]  # type: ignore[index]
        if not low <= output_size <= low + stride - 1:
            return (f"{output_size} with padding {padding[0]}: PyTorch's output_size must lie in "  # type: ignore[index]
                    f"[{low}, {low + stride - 1}]")
    return None


def output_shape_is_consistent(
    output_size: int, input_size: int, kernel_size: int, *, stride: int, dilation: int, padding: str
) -> bool:
    """Whether the forward convolution maps `output_size` back to `input_size` (TensorFlow's check)."""
    return output_shape_problem(output_size, input_size, kernel_size, stride=stride, dilation=dilation,
                                padding=padding) is None
