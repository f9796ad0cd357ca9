"""Layout conversions at the adapter boundary, each a small named helper with its reason.

Inside tconv everything is canonical: input (N, C_in, *spatial), kernel (C_in, C_out/groups, *k),
output (N, C_out, *spatial). Frameworks that want other layouts get them here, and only here.
"""

from __future__ import annotations

import numpy as np


def to_channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, *spatial) -> (N, *spatial, C): TensorFlow's and Keras' default data format."""
    return np.moveaxis(x, 1, -1)


def from_channels_last(y: np.ndarray) -> np.ndarray:
    """(N, *spatial, C) -> (N, C, *spatial): back to the canonical layout."""
    return np.moveaxis(y, -1, 1)


def kernel_to_spatial_out_in(w: np.ndarray) -> np.ndarray:
    """(C_in, C_out, *k) -> (*k, C_out, C_in): TF's filter is the forward conv's HWIO kernel,
    whose "in" is the transposed conv's output."""
    return np.moveaxis(w, (0, 1), (-1, -2))


def kernel_from_spatial_out_in(w: np.ndarray) -> np.ndarray:
    """(*k, C_out, C_in) -> (C_in, C_out, *k): a TF/Keras filter (or its gradient) back to canonical."""
    return np.moveaxis(w, (-1, -2), (0, 1))


def rot180(w: np.ndarray) -> np.ndarray:
    """Flip every spatial axis of a (C, C, *k) kernel: the zero-insertion view of a transposed
    conv correlates with the flipped kernel."""
    return np.flip(w, axis=tuple(range(2, w.ndim)))


def swap_in_out(w: np.ndarray, groups: int) -> np.ndarray:
    """(C_in, C_out/g, *k) -> (C_out, C_in/g, *k), group by group: the (O, I/g) layout of the
    forward convolution that the transposed conv is run as."""
    c_in, c_out_g, *k = w.shape
    grouped = w.reshape(groups, c_in // groups, c_out_g, *k)
    return grouped.swapaxes(1, 2).reshape(groups * c_out_g, c_in // groups, *k)


def dilate_kernel(w: np.ndarray, dilation: tuple[int, ...]) -> np.ndarray:
    """Put `dilation - 1` zeros between the taps of a (C, C, *k) kernel: what dilation means."""
    k = w.shape[2:]
    out = np.zeros(w.shape[:2] + tuple((n - 1) * d + 1 for n, d in zip(k, dilation)), dtype=w.dtype)
    out[(Ellipsis, *(slice(None, None, d) for d in dilation))] = w
    return out


def insert_zeros(x: np.ndarray, stride: tuple[int, ...]) -> np.ndarray:
    """Put `stride - 1` zeros between the inputs of (N, C, *spatial): the fractional stride."""
    n = x.shape[2:]
    out = np.zeros(x.shape[:2] + tuple((m - 1) * s + 1 for m, s in zip(n, stride)), dtype=x.dtype)
    out[(Ellipsis, *(slice(None, None, s) for s in stride))] = x
    return out
