"""The NumPy oracle: the canonical transposed convolution, in float64.

Everything else is judged against this function, so it is written to be easy to trust: no loop
over pixels, batch or channels, its window arithmetic in `harness.geometry` (which shares nothing
with the adapters), and two formulations that must agree (tests/test_fast_oracle.py), besides the
literal per-element definition (tests/test_oracle.py):

- per tap (`full_result_per_tap`): the definition read one kernel tap at a time, one GEMM and one
  strided add of its product per tap. Simple, but each add reads and writes the whole output, so
  a 16-tap kernel moves the output through memory 32 times.
- by phase (`_phase_window`, the default): per spatial dim, input position `i` and tap `j` land
  on `o = i*s + j*d`; writing `j*d = a*s + r` (`0 <= r < s`) that is `o = (i + a)*s + r`. So the
  output splits into `s` *phases* `r = o mod s`, and phase `r` at row `q` (`o = q*s + r`) is the
  sum of `x[q - a] * w[j]` over its taps: an ordinary correlation with a sub-kernel. Every phase
  reads the same shifted copies of the input (one per distinct offset `a`), so one im2col of them
  and one GEMM whose columns are every (phase, C_out) pair compute all phases at once; each phase
  is then copied to its strided positions, and only the output window is ever computed. The
  GEMM is the one PyTorch's own CPU path does, with no scatter-add after it.

The phase GEMM multiplies zeros that are not products of the definition (the weight of an offset
a phase lacks, the im2col's borders), and 0*inf is NaN: with non-finite data, where the
definition's NaN/inf must reach exactly the outputs it sends them to, the per-tap path runs.
It also runs where the phase path would cost more (its cost estimate, `_phase_plan`).

Memory stays proportional to input plus output: the phase path works on chunks of the batch (or
of output rows) sized to the input plus output; the (H*W)^2 convolution matrix is never formed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np

from harness.geometry import PADDING_WORDS, DimPadding, Window, full_length, output_window

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


def gemm_operands(x: np.ndarray, w: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """`x` as (g, C_in/g, N * pixels): one GEMM per tap covers the whole batch and every group;
    `w` as (taps..., g, C_out/g, C_in/g): each tap's weights, ready to multiply it from the left.

    Sizes are spelled out (no -1): with N, C_in or C_out 0 the array is empty and -1 is ambiguous.
    An empty C_in makes every GEMM a sum of no terms (zeros), so the result is 0 + bias.
    """
    n, c_in, *in_sizes = x.shape
    _, c_out_g, *k_sizes = w.shape
    c_in_g, pixels = c_in // groups, int(np.prod(in_sizes))
    x_mat = x.reshape(n, groups, c_in_g, pixels).transpose(1, 2, 0, 3).reshape(groups, c_in_g, n * pixels)
    w_taps = np.moveaxis(w.reshape(groups, c_in_g, c_out_g, *k_sizes), (0, 1, 2), (-3, -1, -2))
    return x_mat, w_taps


def full_result_per_tap(
    x: np.ndarray,
    w: np.ndarray,
    *,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    min_size: Sequence[int] = (),
) -> np.ndarray:
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
        where = tuple(
            slice(j * d, j * d + (L - 1) * s + 1, s)
            for j, d, L, s in zip(tap, dilation, in_sizes, stride)
        )
        out[(Ellipsis, *where)] += contribution
    return out.reshape(groups * c_out_g, n, *sizes).swapaxes(0, 1)


# The phase path's cost model, in multiply-add equivalents (one float64 multiply-add in a large
# GEMM is 1). Copying one float64 through a strided NumPy assignment or add costs about COPY_COST;
# one NumPy call from Python about CALL_COST. Measured on a 2-core AMD EPYC (OpenBLAS, 2 threads);
# only the comparison of the two paths depends on them, never the answer.
COPY_COST = 4
CALL_COST = 20_000


@dataclass(frozen=True)
class _PhaseDim:
    """One spatial dim of the phase decomposition, restricted to the rows the window needs."""

    size: int  # L_in
    stride: int
    offsets: tuple[int, ...]  # distinct a = (j * d) // s over the taps, ascending
    phases: tuple[int, ...]  # distinct r = (j * d) % s over the taps; the other phases are zeros
    tap_offset: tuple[int, ...]  # per tap j: the index of its a in `offsets`
    tap_phase: tuple[int, ...]  # per tap j: the index of its r in `phases`
    q_lo: int  # rows q (o = q*s + r) of the full result that reach the window: [q_lo, q_hi)
    q_hi: int
    start: int  # the window on the zero-extended full result
    length: int


def _phase_dim(size: int, kernel: int, stride: int, dilation: int, window: Window) -> _PhaseDim:
    """Offsets and phases of one dim's taps, and the rows of the full result the window reads.

    The full result has `size + max(a)` rows per phase (phase 0 has the most; rows past `L_full`
    are sums of no terms, zeros); positions past them are the window's zero extension."""
    lands = [(j * dilation // stride, j * dilation % stride) for j in range(kernel)]
    offsets = tuple(sorted({a for a, _ in lands}))
    phases = tuple(sorted({r for _, r in lands}))
    rows = size + offsets[-1]
    q_lo = min(window.start // stride, rows)
    q_hi = max(min(rows, -(-window.stop // stride)), q_lo)
    return _PhaseDim(size, stride, offsets, phases, tuple(offsets.index(a) for a, _ in lands),
                     tuple(phases.index(r) for _, r in lands), q_lo, q_hi, window.start, window.length)


def _shift(offset: int, lo: int, hi: int, size: int) -> tuple[slice, slice] | None:
    """Rows [lo, hi) of the im2col copy for `offset` read x[q - offset]: (rows, input) slices of
    the part inside the input, or None; the rest stays zero (the input's zero border)."""
    first, last = max(lo, offset), min(hi, offset + size)
    if last <= first:
        return None
    return slice(first - lo, last - lo), slice(first - offset, last - offset)


def _landing(dim: _PhaseDim, phase: int, lo: int, hi: int) -> tuple[slice, slice] | None:
    """Rows [lo, hi) of `phase` land on window positions `q*s + phase - start`: (rows, window)
    slices of those inside the window, or None."""
    s = dim.stride
    first = max(lo, -((phase - dim.start) // s))  # the first q with q*s + phase >= start
    last = min(hi, -((phase - dim.start - dim.length) // s))
    if last <= first:
        return None
    at = first * s + phase - dim.start
    return slice(first - lo, last - lo), slice(at, at + (last - first - 1) * s + 1, s)


def _phase_weights(w: np.ndarray, dims: Sequence[_PhaseDim], groups: int) -> np.ndarray:
    """(g, phases x C_out/g, C_in/g x offsets): each (phase, out-channel) row holds the weights of
    the taps of that phase at their offsets, zeros at the offsets the phase lacks."""
    c_in, c_out_g, *_ = w.shape
    c_in_g, rank = c_in // groups, len(dims)
    grid = np.zeros([m for d in dims for m in (len(d.phases), len(d.offsets))] + [groups, c_out_g, c_in_g])
    taps = np.moveaxis(w.reshape(groups, c_in_g, c_out_g, *w.shape[2:]), (0, 1, 2), (-3, -1, -2))
    index = []
    for axis, dim in enumerate(dims):
        shape = [1] * rank
        shape[axis] = -1
        index += [np.reshape(dim.tap_phase, shape), np.reshape(dim.tap_offset, shape)]
    grid[tuple(index)] = taps  # (phase, offset) per dim is one tap: nothing collides
    order = [2 * rank, *range(0, 2 * rank, 2), 2 * rank + 1, 2 * rank + 2, *range(1, 2 * rank, 2)]
    phases, offsets = (int(np.prod([len(getattr(d, f)) for d in dims])) for f in ("phases", "offsets"))
    return grid.transpose(order).reshape(groups, phases * c_out_g, c_in_g * offsets)


def _im2col(x: np.ndarray, dims: Sequence[_PhaseDim], ranges: Sequence[tuple[int, int]], groups: int) -> np.ndarray:
    """(g, C_in/g x offsets, N x rows): for each offset a, the input shifted by a (x[q - a] at row
    q), zero outside the input; one strided copy per distinct offset, not per tap."""
    n, c_in, *sizes = x.shape
    rows = [hi - lo for lo, hi in ranges]
    cols = np.zeros((groups, c_in // groups, *(len(d.offsets) for d in dims), n, *rows))
    source = x.reshape(n, groups, c_in // groups, *sizes).transpose(1, 2, 0, *range(3, 3 + len(dims)))
    for index in product(*(range(len(d.offsets)) for d in dims)):
        parts = [_shift(d.offsets[u], lo, hi, d.size) for d, u, (lo, hi) in zip(dims, index, ranges)]
        if all(parts):
            cols[(slice(None), slice(None), *index, slice(None), *(p[0] for p in parts))] = \
                source[(Ellipsis, *(p[1] for p in parts))]  # type: ignore[index]
    return cols.reshape(groups, -1, n * int(np.prod(rows)))


def _chunks(dims: Sequence[_PhaseDim], n: int, per_row: int, budget: int) -> list[tuple[int, int, int, int]]:
    """(n0, n1, q0, q1): batch items and rows of the first dim per GEMM, each chunk's im2col and
    product (`per_row` elements per item and row) within `budget` elements."""
    lo, hi = dims[0].q_lo, dims[0].q_hi
    rows = max(budget // max(per_row, 1), 1)
    if rows >= hi - lo:
        items = max(rows // max(hi - lo, 1), 1)
        return [(i, min(i + items, n), lo, hi) for i in range(0, n, items)]
    return [(i, i + 1, q, min(q + rows, hi)) for i in range(n) for q in range(lo, hi, rows)]


def _phase_plan(x: np.ndarray, w: np.ndarray, windows: Sequence[Window], strides: Sequence[int],
                dilations: Sequence[int], groups: int, *, by_cost: bool = True) -> tuple[list[_PhaseDim], list] | None:
    """The phase path's dims and chunks, or None where the per-tap path is right (non-finite data,
    an empty spatial size), or where one row of one batch item would not fit the memory budget
    (input plus output), or (`by_cost`) where the cost model finds the per-tap path cheaper."""
    n, c_in, *sizes = x.shape
    _, c_out_g, *kernel = w.shape
    if 0 in sizes or 0 in kernel or not (np.isfinite(x).all() and np.isfinite(w).all()):
        return None
    dims = [_phase_dim(L, k, s, d, v) for L, k, s, d, v in zip(sizes, kernel, strides, dilations, windows)]
    c_out, taps = c_out_g * groups, int(np.prod(kernel))
    offsets, phases = (int(np.prod([len(getattr(d, f)) for d in dims])) for f in ("offsets", "phases"))
    rows = [d.q_hi - d.q_lo for d in dims]
    later = int(np.prod(rows[1:]))
    per_row = (c_in * offsets + c_out * phases) * later
    budget = n * (c_in * int(np.prod(sizes)) + c_out * int(np.prod([v.length for v in windows])))
    if per_row > budget:
        return None
    chunks = _chunks(dims, n, per_row, budget)
    pixels, full = int(np.prod(sizes)), int(np.prod([full_length(L, k, s, d) for L, k, s, d
                                                      in zip(sizes, kernel, strides, dilations)]))
    per_tap = (n * pixels * c_in * c_out_g * taps + COPY_COST * n * c_out * (2 * taps * pixels + full)
               + CALL_COST * taps)
    phase = (n * int(np.prod(rows)) * (c_in * offsets * (phases * c_out_g + COPY_COST) + COPY_COST * c_out * phases)
             + CALL_COST * len(chunks) * (offsets + phases + 4))
    return (dims, chunks) if phase <= per_tap or not by_cost else None


def _phase_window(x: np.ndarray, w: np.ndarray, dims: Sequence[_PhaseDim], chunks: Sequence[tuple[int, int, int, int]],
                  groups: int) -> np.ndarray:
    """The window (N, C_out, *lengths) of the transposed convolution, no bias, by phases: per
    chunk one im2col, one GEMM (per group) for every phase, one strided copy per phase."""
    n, c_in = x.shape[:2]
    c_out_g, rank = w.shape[1], len(dims)
    lengths = [d.length for d in dims]
    out = np.zeros((n, groups * c_out_g, *lengths))
    if out.size == 0 or c_in == 0:
        return out
    weights = _phase_weights(w, dims, groups)
    out_groups = out.reshape(n, groups, c_out_g, *lengths)
    for n0, n1, q0, q1 in chunks:
        ranges = [(q0, q1)] + [(d.q_lo, d.q_hi) for d in dims[1:]]
        product_ = np.matmul(weights, _im2col(x[n0:n1], dims, ranges, groups))
        product_ = product_.reshape(groups, *(len(d.phases) for d in dims), c_out_g, n1 - n0,
                                    *(hi - lo for lo, hi in ranges))
        for index in product(*(range(len(d.phases)) for d in dims)):
            parts = [_landing(d, d.phases[p], lo, hi) for d, p, (lo, hi) in zip(dims, index, ranges)]
            if all(parts):
                rows = product_[(slice(None), *index, slice(None), slice(None), *(p[0] for p in parts))]  # type: ignore[index]
                out_groups[(slice(n0, n1), slice(None), slice(None), *(p[1] for p in parts))] = \
                    rows.transpose(2, 0, 1, *range(3, 3 + rank))  # type: ignore[index]
    return out


def _transposed_window(x: np.ndarray, w: np.ndarray, windows: Sequence[Window], *, stride: Sequence[int],
                       dilation: Sequence[int], groups: int, path: str = "auto") -> np.ndarray:
    """The windows of the zero-extended full result, (N, C_out, *lengths), float64, no bias: by
    phases where `_phase_plan` says so, else per tap (then cropped). `path` (for the tests that
    hold the two paths against each other): `phase` wherever the phase path is right at all,
    `per_tap` always."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    plan = None if path == "per_tap" else _phase_plan(x, w, windows, stride, dilation, groups,
                                                      by_cost=path != "phase")
    if plan is not None:
        return _phase_window(x, w, *plan, groups=groups)
    full = full_result_per_tap(x, w, stride=stride, dilation=dilation, groups=groups,
                               min_size=[v.stop for v in windows])
    return np.ascontiguousarray(full[(slice(None), slice(None), *(slice(v.start, v.stop) for v in windows))])


def full_result(
    x: np.ndarray,
    w: np.ndarray,
    *,
    stride: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    min_size: Sequence[int] = (),
) -> np.ndarray:
    """Every tap of every input, summed, with no crop: shape (N, C_out, *L_full), float64.

    `min_size` zero-extends dims at the end (room for output padding and `same` extension).
    """
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
    windows = output_windows(
        x.shape[2:],
        w.shape[2:],
        stride=strides,
        padding=padding,
        output_padding=output_padding,
        dilation=dilations,
        output_shape=output_shape,
        output_shape_rule=output_shape_rule,
    )
    if any(win.length < 1 or win.start < 0 for win in windows):
        raise ValueError(f"empty or negative output window: {windows}")
    y = _transposed_window(x, w, windows, stride=strides, dilation=dilations, groups=groups)
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64).reshape((1, -1) + (1,) * rank)
    return y
