"""The oracle's output-size and crop arithmetic against each framework's documented formula.

Each formula below is copied from the framework's documentation, not derived from tconv's code:
PyTorch `ConvTranspose{1,2,3}d` (Shape section), TensorFlow `conv2d_transpose` (the gradient of
a forward conv with SAME/VALID padding of that output size), Keras `Conv2DTranspose` (`same`
gives in*stride), ONNX `ConvTranspose` (output_shape and auto_pad equations).
"""

from __future__ import annotations

import itertools
import math

import pytest

from harness.geometry import full_length, output_shape_is_consistent, output_window

GRID = list(itertools.product(range(1, 6), range(1, 5), range(1, 4), range(1, 3)))  # size, k, stride, dilation


def test_full_length_is_the_last_tap_plus_one() -> None:
    for n, k, s, d in GRID:
        assert full_length(n, k, s, d) == (n - 1) * s + d * (k - 1) + 1


@pytest.mark.parametrize("n, k, s, d", GRID)
def test_pytorch_output_size(n: int, k: int, s: int, d: int) -> None:
    for p, op in itertools.product(range(3), range(max(s, d))):
        torch_size = (n - 1) * s - 2 * p + d * (k - 1) + op + 1  # PyTorch docs, ConvTranspose2d "Shape"
        if torch_size < 1:
            continue
        window = output_window(n, k, stride=s, dilation=d, padding=(p, p), output_padding=op)
        assert (window.start, window.length) == (p, torch_size)


@pytest.mark.parametrize("n, k, s, d", GRID)
def test_onnx_pads_and_auto_pad(n: int, k: int, s: int, d: int) -> None:
    for b, e, op in itertools.product(range(3), range(3), range(max(s, d))):
        # ONNX: output_shape = stride*(in-1) + output_padding + ((k-1)*dilation+1) - pads_begin - pads_end
        onnx_size = s * (n - 1) + op + ((k - 1) * d + 1) - b - e
        if onnx_size >= 1:
            window = output_window(n, k, stride=s, dilation=d, padding=(b, e), output_padding=op)
            assert (window.start, window.length) == (b, onnx_size)
        # auto_pad SAME_*: output_shape = in*stride, total_padding as above, split by the rule.
        total = s * (n - 1) + op + ((k - 1) * d + 1) - n * s
        if total >= 0:
            upper = output_window(n, k, stride=s, dilation=d, padding="same_upper", output_padding=op)
            lower = output_window(n, k, stride=s, dilation=d, padding="same_lower", output_padding=op)
            assert (upper.start, upper.length) == (total // 2, n * s)
            assert (lower.start, lower.length) == (total - total // 2, n * s)


@pytest.mark.parametrize("n, k, s, d", GRID)
def test_tensorflow_same_and_valid(n: int, k: int, s: int, d: int) -> None:
    k_eff = d * (k - 1) + 1
    # Keras/TF `same`: out = in * stride; TF pads the forward conv by max((ceil(out/s)-1)*s + k_eff - out, 0)
    # and puts the smaller half first; the transposed conv crops the same amounts.
    out = n * s
    pad_total = max((math.ceil(out / s) - 1) * s + k_eff - out, 0)
    same = output_window(n, k, stride=s, dilation=d, padding="same")
    assert (same.start, same.length) == (pad_total // 2, out)
    valid = output_window(n, k, stride=s, dilation=d, padding="valid")
    assert (valid.start, valid.length) == (0, (n - 1) * s + k_eff)


@pytest.mark.parametrize("n, k, s, d", GRID)
def test_tensorflow_output_shape(n: int, k: int, s: int, d: int) -> None:
    k_eff = d * (k - 1) + 1
    for out in range(1, (n + 1) * s + k_eff):
        # TF requires the forward conv of `out` to give back `n`: ceil(out/s) for SAME,
        # ceil((out - k_eff + 1)/s) for VALID.
        same_ok = math.ceil(out / s) == n
        valid_ok = out - k_eff + 1 >= 1 and math.ceil((out - k_eff + 1) / s) == n
        assert output_shape_is_consistent(out, n, k, stride=s, dilation=d, padding="same") == same_ok
        assert output_shape_is_consistent(out, n, k, stride=s, dilation=d, padding="valid") == valid_ok
        if same_ok:
            pad_total = max((n - 1) * s + k_eff - out, 0)
            window = output_window(n, k, stride=s, dilation=d, padding="same", output_shape=out)
            assert (window.start, window.length) == (pad_total // 2, out)
        if valid_ok:
            window = output_window(n, k, stride=s, dilation=d, padding="valid", output_shape=out)
            assert (window.start, window.length) == (0, out)


def test_same_with_a_negative_total_appends_zeros_at_the_end() -> None:
    # k=1, stride 3: the full result is 3*(n-1)+1 long, `same` wants 3n: two zeros at the end.
    window = output_window(4, 1, stride=3, padding="same")
    assert (window.start, window.length) == (0, 12)
    assert full_length(4, 1, 3, 1) == 10


def test_output_padding_counts_before_the_same_crop() -> None:
    # full 7 (+1 output padding = 8), same wants 6: crop 1 at the start and 1 at the end.
    assert output_window(3, 3, stride=2, padding="same", output_padding=1) == output_window(
        3, 3, stride=2, padding=(1, 1), output_padding=1)


def test_unknown_word_is_an_error() -> None:
    with pytest.raises(ValueError):
        output_window(3, 3, padding="full")
    with pytest.raises(ValueError, match="output_shape"):
        output_window(3, 3, padding=(1, 0), output_shape=6, output_shape_rule="onnx")
    with pytest.raises(ValueError, match="output_shape"):
        output_window(3, 3, padding="same_lower", output_shape=6)
