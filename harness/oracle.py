"""The NumPy oracle: the canonical transposed convolution, in float64.

Everything else is judged against this function, so it is written to be easy to trust: no loop
over pixels, batch or channels, window arithmetic in `harness.geometry` (which shares nothing
with the adapters), and two formulations that must agree to rounding (tests/test_fast_oracle.py),
besides the literal per-element definition (tests/test_oracle.py):

- per tap (`full_result_per_tap`, here): the definition one kernel tap at a time, one GEMM per
  tap and its product added at a strided slice. Simple, but each add reads and writes the whole
  output: a 16-tap kernel makes 32 passes over it.
- by phase (`harness.oracle_phases`): the output split into the `stride` phases of each dim, each
  a plain correlation of the input with a sub-kernel: one im2col and one GEMM for all phases, each
  output position written once, only the output window computed.

The phase GEMM also multiplies zeros that are no product of the definition (the weight of an
offset a phase lacks, the im2col's border), and 0*inf is NaN: for non-finite data, whose NaN and
inf must reach exactly the outputs the definition sends them to, the per-tap path runs; also
where a cost estimate finds it cheaper (`phase_plan`). Memory stays proportional to input plus
output: the phase path works in chunks of batch items or rows; no convolution matrix is formed.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np

from harness.geometry import PADDING_WORDS, DimPadding, Window, full_length, output_window
from harness.oracle_phases import phase_plan, phase_window

IntOrSeq = int | Sequence[int]


def _per_dim(value: IntOrSeq, rank: int, name: str) -> tuple[int, ...]:
    """Broadcast an int to every spatial dimension, or check a per-dimension list."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * rank
    values = tuple(int(v) for v in value)
    if len(values) != rank:
        raise ValueError(f"{name} has {len(values)} values for {rank} spatial dims")
    return values


def normalize_padding(padding: object, rank: int) -> tuple[DimPadding, ...]:
    """`int`, per-dim ints, per-dim `[begin, end]` pairs or a padding word -> one entry per dim."""
    if isinstance(padding, str):
        word = padding.lower()
        if word not in PADDING_WORDS:
            raise ValueError(f"unknown padding {padding!r}; expected one of {PADDING_WORDS}")
        return (word,) * rank
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * rank
    items = list(padding)  # type: ignore[call-overload]
    if len(items) != rank:
        raise ValueError(f"padding has {len(items)} entries for {rank} spatial dims")
    pairs: list[DimPadding] = []
    for item in items:
        if isinstance(item, (int, np.integer)):
            pairs.append((int(item), int(item)))
        else:
            begin, end = item
            pairs.append((int(begin), int(end)))
    return tuple(pairs)


def output_windows(
    input_spatial: Sequence[int],
    kernel_spatial: Sequence[int],
    *,
    stride: IntOrSeq = 1,
    padding: object = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    output_shape: IntOrSeq | None = None,
    output_shape_rule: str | None = None,
) -> tuple[Window, ...]:
    """The canonical window of every spatial dimension."""
    rank = len(input_spatial)
    strides = _per_dim(stride, rank, "stride")
    dilations = _per_dim(dilation, rank, "dilation")
    extra = _per_dim(output_padding, rank, "output_padding")
    pads = normalize_padding(padding, rank)
    sizes = (None,) * rank if output_shape is None else _per_dim(output_shape, rank, "output_shape")
    return tuple(
        output_window(n, k, stride=s, dilation=d, padding=p, output_padding=op, output_shape=o,
                      output_shape_rule=output_shape_rule)
        for n, k, s, d, p, op, o in zip(
            input_spatial, kernel_spatial, strides, dilations, pads, extra, sizes
        )
    )


def grouped(a: np.ndarray, groups: int) -> np.ndarray:
    """(N, C, *sizes) as (g, C/g, N * pixels): one GEMM per tap covers the whole batch and every group.

    Sizes are spelled out (no -1): with N or C 0 the array is empty and -1 is ambiguous.
    """
    n, c, *sizes = a.shape
    pixels = int(np.prod(sizes))
    return a.reshape(n, groups, c // groups, pixels).transpose(1, 2, 0, 3).reshape(groups, c // groups, n * pixels)


def kernel_taps(w: np.ndarray, groups: int) -> np.ndarray:
    """`w` as (taps..., g, C_out/g, C_in/g): each tap's weights, ready to multiply `grouped(x)` from the left."""
    c_in, c_out_g, *k_sizes = w.shape
    return np.moveaxis(w.reshape(groups, c_in // groups, c_out_g, *k_sizes), (0, 1, 2), (-3, -1, -2))


def gemm_operands(x: np.ndarray, w: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """`grouped(x)` and `kernel_taps(w)`. An empty C_in makes every GEMM a sum of no terms (zeros), so the
    result is 0 + bias."""
    return grouped(x, groups), kernel_taps(w, groups)


def full_result_per_tap(x: np.ndarray, w: np.ndarray, *, stride: Sequence[int], dilation: Sequence[int],
                        groups: int, min_size: Sequence[int] = ()) -> np.ndarray:
    """Every tap of every input, summed, with no crop: shape (N, C_out, *L_full), float64.

    The definition one kernel tap at a time: one GEMM per tap covers batch, groups and channels,
    and its product is added at `i * stride + j * dilation`. `min_size` zero-extends dims at the
    end (room for output padding and `same` extension).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, _, *in_sizes = x.shape
    _, c_out_g, *k_sizes = w.shape
    sizes = [full_length(L, k, s, d) for L, k, s, d in zip(in_sizes, k_sizes, stride, dilation)]
    if min_size:
        sizes = [max(a, b) for a, b in zip(sizes, min_size)]
    x_mat, w_taps = gemm_operands(x, w, groups)
    out = np.zeros((groups, c_out_g, n, *sizes), dtype=np.float64)
    for tap in product(*(range(k) for k in k_sizes)):
        contribution = np.matmul(w_taps[tap], x_mat).reshape(groups, c_out_g, n, *in_sizes)
        where = (slice(j * d, j * d + (L - 1) * s + 1, s) for j, d, L, s in zip(tap, dilation, in_sizes, stride))
        out[(Ellipsis, *where)] += contribution
    return out.reshape(groups * c_out_g, n, *sizes).swapaxes(0, 1)


def _transposed_window(x: np.ndarray, w: np.ndarray, windows: Sequence[Window], *, stride: Sequence[int],
                       dilation: Sequence[int], groups: int, path: str = "auto") -> np.ndarray:
    """The windows of the zero-extended full result, (N, C_out, *lengths), float64, no bias: by
    phases where `phase_plan` says so, else per tap, cropped. `path` (tests hold the paths
    against each other): `phase` wherever the phase path is right at all (finite data, whatever
    the cost or memory), `per_tap` always."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    checked = path != "phase"
    plan = None if path == "per_tap" else phase_plan(x, w, windows, stride, dilation, groups, by_cost=checked,
                                                      bounded=checked)
    if plan is not None:
        return phase_window(x, w, *plan, groups=groups)
    full = full_result_per_tap(x, w, stride=stride, dilation=dilation, groups=groups,
                               min_size=[v.stop for v in windows])
    return np.ascontiguousarray(full[(slice(None), slice(None), *(slice(v.start, v.stop) for v in windows))])


def full_result(x: np.ndarray, w: np.ndarray, *, stride: Sequence[int], dilation: Sequence[int], groups: int,
                min_size: Sequence[int] = ()) -> np.ndarray:
    """Every tap of every input, summed, with no crop: shape (N, C_out, *L_full), float64, by
    either path. `min_size` zero-extends dims at the end (room for output padding, `same`)."""
    sizes = [full_length(L, k, s, d) for L, k, s, d in zip(np.shape(x)[2:], np.shape(w)[2:], stride, dilation)]
    if min_size:
        sizes = [max(a, b) for a, b in zip(sizes, min_size)]
    return _transposed_window(x, w, [Window(0, m) for m in sizes], stride=stride, dilation=dilation, groups=groups)


def conv_transpose(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrSeq = 1,
    padding: object = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
    output_shape: IntOrSeq | None = None,
    output_shape_rule: str | None = None,
) -> np.ndarray:
    """The canonical transposed convolution (see the contract), as a float64 array.

    `output_shape` follows TensorFlow's rule (with `valid` or `same`) unless `output_shape_rule`
    names ONNX's (`onnx`: no padding, `same_upper`, `same_lower`) or PyTorch's `output_size=`
    (`pytorch`: an integer padding); see docs/contract.md.

    `x` is (N, C_in, *spatial), `w` is (C_in, C_out/groups, *k) and the result is
    (N, C_out, *out): the adjoint of cross-correlation with the same `w`, cropped per `padding`.
    N, C_in and C_out may be 0: an empty batch or C_out gives an empty array of that shape, an
    empty C_in gives zeros plus the bias (a sum of no terms).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if x.ndim not in (3, 4, 5) or w.ndim != x.ndim:
        raise ValueError(f"x and w need 1 to 3 spatial dims each, got {x.shape} and {w.shape}")
    rank = x.ndim - 2
    if x.shape[1] != w.shape[0] or x.shape[1] % groups:
        raise ValueError(f"x has {x.shape[1]} channels, w {w.shape[0]}, groups {groups}")
    strides = _per_dim(stride, rank, "stride")
    dilations = _per_dim(dilation, rank, "dilation")
    windows = output_windows(x.shape[2:], w.shape[2:], stride=strides, padding=padding, output_padding=output_padding,
                             dilation=dilations, output_shape=output_shape, output_shape_rule=output_shape_rule)
    if any(win.length < 1 or win.start < 0 for win in windows):
        raise ValueError(f"empty or negative output window: {windows}")
    y = _transposed_window(x, w, windows, stride=strides, dilation=dilations, groups=groups)
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64).reshape((1, -1) + (1,) * rank)
    return y
