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
) -> Window:
    """The canonical window of one spatial dimension (see the contract's semantics)."""
    full = full_length(input_size, kernel_size, stride, dilation)
    if output_shape is not None:
        if padding == "same":
            # TensorFlow: the forward conv's SAME padding, its smaller half before.
            return Window(max(full - output_shape, 0) // 2, output_shape)
        if padding == "valid":
            return Window(0, output_shape)
        raise ValueError(f"output_shape goes with padding 'valid' or 'same', not {padding!r}")
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


def output_shape_is_consistent(
    output_size: int, input_size: int, kernel_size: int, *, stride: int, dilation: int, padding: str
) -> bool:
    """Whether the forward convolution maps `output_size` back to `input_size` (TensorFlow's check)."""
    if output_size < 1:
        return False
    if padding == "same":
        return -(-output_size // stride) == input_size
    span = output_size - dilation * (kernel_size - 1)
    return span >= 1 and -(-span // stride) == input_size
