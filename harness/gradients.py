"""The oracle's gradients: the backward pass of the canonical transposed convolution, in float64.

A transposed convolution `y = T(x, w) + b` is bilinear in `x` and `w`, so for an upstream
gradient `g` (the shape of `y`) the gradients are its adjoints, written from the definition and
not by differentiating code:

- `grad_input[n, ci, i] = sum_{co, j} g_full[n, co, i*stride + j*dilation] * w[ci, co, j]`: a
  cross-correlation of the upstream gradient with `w` (the forward convolution of `g`);
- `grad_weight[ci, co, j] = sum_{n, i} x[n, ci, i] * g_full[n, co, i*stride + j*dilation]`: a
  correlation of `x` with the upstream gradient;
- `grad_bias[co] = sum_{n, positions} g[n, co, ...]`, every output position included.

`g_full` is `g` placed on the full result (the window of the case, `harness.geometry`); output
positions past the full result (output_padding, zero extension) hold only the bias, so their
upstream gradient reaches only `grad_bias`, and positions the crop removed have no upstream
gradient at all: each tap sums over the inputs it carries inside the window only, never a zero
standing for a cropped position (as the forward definition never multiplies structural zeros: with
an inf in `x` or `w`, `inf * 0` there would make NaN where the sum has no such term; found by
`tconv fuzz --special`). As in the oracle there is one GEMM per kernel tap and no loop over pixels,
batch or channels. `tests/test_gradients.py` checks the adjoint identity
`<T(x, w), g> = <x, grad_input> = <w, grad_weight>` and finite differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from harness.geometry import Window, full_length
from harness.oracle import IntOrSeq, _per_dim, grouped, kernel_taps, output_windows

CHECKS = ("forward", "grad_input", "grad_weight", "grad_bias")


@dataclass(frozen=True)
class Gradients:
    """The three gradients of one case for one upstream gradient, float64."""

    grad_input: np.ndarray
    grad_weight: np.ndarray
    grad_bias: np.ndarray


def tap_box(tap: tuple[int, ...], windows: tuple[Window, ...], full: list[int], in_sizes: list[int],
            strides: list[int], dilations: list[int]) -> tuple[tuple[slice, ...], tuple[slice, ...]] | None:
    """The inputs whose tap `tap` lands inside the window (a box, per dim `first:last`) and the window
    positions it lands on (slices of `g`); None when it lands on none (all cropped away, or past the
    full result, where the output holds only the bias)."""
    inputs, positions = [], []
    for j, d, size, s, window, length in zip(tap, dilations, in_sizes, strides, windows, full):
        start, stop = window.start, min(window.stop, length)
        first, last = max(0, -(-(start - j * d) // s)), min(size, -(-(stop - j * d) // s))  # i*s + j*d in [start, stop)
        if first >= last:
            return None
        inputs.append(slice(first, last))
        positions.append(slice(first * s + j * d - start, (last - 1) * s + j * d - start + 1, s))
    return tuple(inputs), tuple(positions)


def gradients(
    x: np.ndarray,
    w: np.ndarray,
    g: np.ndarray,
    *,
    stride: IntOrSeq = 1,
    padding: object = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
    output_shape: IntOrSeq | None = None,
    output_shape_rule: str | None = None,
) -> Gradients:
    """The gradients of `sum(conv_transpose(x, w, bias, ...) * g)` with respect to x, w and bias."""
    x, w, g = (np.asarray(a, dtype=np.float64) for a in (x, w, g))
    rank = x.ndim - 2
    strides, dilations = _per_dim(stride, rank, "stride"), _per_dim(dilation, rank, "dilation")
    n, c_in, *in_sizes = x.shape
    _, c_out_g, *k_sizes = w.shape
    c_in_g = c_in // groups
    windows = output_windows(in_sizes, k_sizes, stride=strides, padding=padding, output_padding=output_padding,
                             dilation=dilations, output_shape=output_shape, output_shape_rule=output_shape_rule)
    if g.shape != (n, c_out_g * groups, *(v.length for v in windows)):
        raise ValueError(f"upstream gradient of shape {g.shape} for an output of "
                         f"{(n, c_out_g * groups, *(v.length for v in windows))}")
    full = [full_length(L, k, s, d) for L, k, s, d in zip(in_sizes, k_sizes, strides, dilations)]
    w_taps = kernel_taps(w, groups)  # the oracle's GEMM operand: (taps..., g, C_out/g, C_in/g)
    grad_x = np.zeros((groups, c_in_g, n, *in_sizes))
    grad_w = np.zeros((groups, c_in_g, c_out_g, *k_sizes))
    for tap in product(*(range(k) for k in k_sizes)):
        box = tap_box(tap, windows, full, in_sizes, strides, dilations)
        if box is None:
            continue
        inputs, positions = box
        g_mat = grouped(g[(Ellipsis, *positions)], groups)  # (g, C_out/g, N * box pixels)
        x_mat = grouped(x[(Ellipsis, *inputs)], groups)  # (g, C_in/g, N * box pixels)
        sizes = [i.stop - i.start for i in inputs]
        grad_x[(Ellipsis, *inputs)] += np.matmul(w_taps[tap].transpose(0, 2, 1), g_mat).reshape(
            groups, c_in_g, n, *sizes)  # (g, C_in/g, C_out/g) @ (g, C_out/g, N*P)
        grad_w[(Ellipsis, *tap)] = np.matmul(x_mat, g_mat.transpose(0, 2, 1))  # (g, C_in/g, C_out/g)
    grad_input = grad_x.transpose(2, 0, 1, *range(3, 3 + rank))
    return Gradients(
        grad_input=np.ascontiguousarray(grad_input.reshape(n, c_in, *in_sizes)),
        grad_weight=grad_w.reshape(c_in, c_out_g, *k_sizes),
        grad_bias=g.sum(axis=(0, *range(2, g.ndim))),
    )
