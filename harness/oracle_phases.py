"""The oracle's phase path: the transposed convolution by sub-pixel (phase) decomposition.

Per spatial dim, input position `i` and kernel tap `j` land on output position `o = i*s + j*d`.
Writing `j*d = a*s + r` (`0 <= r < s`) that is `o = (i + a)*s + r`: the output splits into
*phases* `r = o mod s`, and phase `r` at row `q` (`o = q*s + r`) is the sum of `x[q - a] * w[j]`
over the taps of that phase, a plain correlation with a sub-kernel. All phases read the same
shifted copies of the input (one per distinct offset `a`, at most one per tap), so one im2col of
those copies and one GEMM whose rows are every (phase, C_out) pair compute every phase at once
(or a few GEMMs, `gemm_groups`, where phases use quite different numbers of offsets); each phase
is then copied to its strided positions of the output window. Nothing is added twice and only
the window is computed; PyTorch's CPU path does the same multiply-adds, then scatters them.

`harness.oracle` decides when to use it (`phase_plan`: finite data, within memory, cheaper than
the per-tap loop by the cost model below) and holds it against its per-tap formulation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np

from harness.geometry import Window, full_length

# The cost model that picks a path, in multiply-add equivalents: one float64 multiply-add in a
# GEMM on 2 threads is 1 (about 0.05 ns). Fitted to 150 random cases of ranks 1-3 timed both ways
# on a 2-core AMD EPYC (OpenBLAS, timed on 1 thread, where a loaded machine disturbs least), where
# it picked within 2% of the faster path in total, 27% in the worst case. Only the choice of path
# depends on them, never the answer.
STRIDED_COST = 40  # one element of a strided add, strided copy or zeroed full result (~2 ns)
COPY_COST = 16  # one element of the im2col's copies (long contiguous runs)
CALL_COST = 300_000  # one step of a Python loop over taps, offsets or phases (~15 us)
PHASE_GEMM = 0.75  # a multiply-add in the phase path's few large GEMMs, against the per-tap thin ones
PHASE_CALLS = 6  # the phase path's fixed steps (weights, buffers), in CALL_COST
CHUNK_ELEMENTS = 2**22  # the phase path's im2col + product per GEMM at most (32 MiB): more was no faster

Chunk = tuple[int, int, int, int]  # (n0, n1, q0, q1): batch items [n0, n1), first-dim rows [q0, q1)


@dataclass(frozen=True)
class PhaseDim:
    """One spatial dim of the phase decomposition, restricted to the rows the window needs."""

    size: int  # L_in
    stride: int
    offsets: tuple[int, ...]  # distinct a = (j * d) // s over the taps, ascending
    phases: tuple[int, ...]  # distinct r = (j * d) % s over the taps; the other phases are zeros
    tap_offset: tuple[int, ...]  # per tap j: the index of its a in `offsets`
    tap_phase: tuple[int, ...]  # per tap j: the index of its r in `phases`
    q_lo: int  # rows q (o = q*s + r) of the full result that reach the window: [q_lo, q_hi)
    q_hi: int
    start: int  # the window on the zero-extended full result: start, length
    length: int


def _phase_dim(size: int, kernel: int, stride: int, dilation: int, window: Window) -> PhaseDim:
    """Offsets and phases of one dim's taps, and the rows of the full result the window reads:
    `size + max(a)` rows per phase (past `L_full`, sums of no terms); then zero extension."""
    lands = [(j * dilation // stride, j * dilation % stride) for j in range(kernel)]
    offsets = tuple(sorted({a for a, _ in lands}))
    phases = tuple(sorted({r for _, r in lands}))
    rows = size + offsets[-1]
    q_lo = min(window.start // stride, rows)
    q_hi = max(min(rows, -(-window.stop // stride)), q_lo)
    return PhaseDim(size, stride, offsets, phases, tuple(offsets.index(a) for a, _ in lands),
                     tuple(phases.index(r) for _, r in lands), q_lo, q_hi, window.start, window.length)


def _counts(dims: Sequence[PhaseDim]) -> tuple[int, int]:
    """(offsets, phases): how many distinct offset and phase combinations the dims make."""
    return math.prod(len(d.offsets) for d in dims), math.prod(len(d.phases) for d in dims)


def _view(a: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """`a` reshaped without a copy (the buffers below are written through these views)."""
    view = a.reshape(shape)
    assert view.size == 0 or np.may_share_memory(view, a), "a buffer view needed a copy"
    return view


def _shift(offset: int, lo: int, hi: int, size: int) -> tuple[slice, slice] | None:
    """Rows [lo, hi) of the im2col copy for `offset` read x[q - offset]: (rows, input) slices of
    the part inside the input, or None; the rest stays zero (the input's zero border)."""
    first, last = max(lo, offset), min(hi, offset + size)
    if last <= first:
        return None
    return slice(first - lo, last - lo), slice(first - offset, last - offset)


def _landing(dim: PhaseDim, phase: int, lo: int, hi: int) -> tuple[slice, slice] | None:
    """Rows [lo, hi) of `phase` land on window positions `q*s + phase - start`: (rows, window)
    slices of those inside the window, or None."""
    s = dim.stride
    first = max(lo, -((phase - dim.start) // s))  # the first q with q*s + phase >= start
    last = min(hi, -((phase - dim.start - dim.length) // s))
    if last <= first:
        return None
    at = first * s + phase - dim.start
    return slice(first - lo, last - lo), slice(at, at + (last - first - 1) * s + 1, s)


def _phase_weights(w: np.ndarray, dims: Sequence[PhaseDim], groups: int) -> np.ndarray:
    """(g, phases x C_out/g, offsets x C_in/g): each (phase, out-channel) row holds the weights of
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
    order = [2 * rank, *range(0, 2 * rank, 2), 2 * rank + 1, *range(1, 2 * rank, 2), 2 * rank + 2]
    offsets, phases = _counts(dims)
    return grid.transpose(order).reshape(groups, phases * c_out_g, offsets * c_in_g)


def gemm_groups(dims: Sequence[PhaseDim]) -> list[tuple[list[int], int]]:
    """(phases, offsets): the phases (flat indices) each GEMM computes, and the leading offsets of
    the im2col it reads. A phase needs the offsets up to its last tap's (offsets are the im2col's
    outer axis, so those are a prefix of its rows); phases whose prefixes differ by over 10% get
    GEMMs of their own, so few multiply-adds go to zero weights (k 25, stride 4: phase 0 has 7
    offsets, the others 6), without splitting the GEMM into many thin ones."""
    last = [[max(u for u, p in zip(d.tap_offset, d.tap_phase) if p == phase) for phase in range(len(d.phases))]
            for d in dims]
    shape = [len(d.offsets) for d in dims]
    needs = [int(np.ravel_multi_index([last[axis][p] for axis, p in enumerate(index)], shape)) + 1
             for index in product(*(range(len(d.phases)) for d in dims))]
    groups: list[tuple[list[int], int]] = []
    for phase in sorted(range(len(needs)), key=lambda p: -needs[p]):
        if groups and groups[-1][1] <= 1.1 * needs[phase]:
            groups[-1][0].append(phase)
        else:
            groups.append(([phase], needs[phase]))
    return groups


def _im2col(x: np.ndarray, dims: Sequence[PhaseDim], ranges: Sequence[tuple[int, int]], cols: np.ndarray) -> None:
    """Fill `cols` (g, *offsets, C_in/g, N, *rows): for each offset a, the input shifted by a
    (x[q - a] at row q) and zero outside the input; one strided copy per distinct offset, not per
    tap. `cols` is a reused buffer, so every position is written, zeros included."""
    n, c_in, *sizes = x.shape
    groups, rank = cols.shape[0], len(dims)
    source = x.reshape(n, groups, c_in // groups, *sizes).transpose(1, 2, 0, *range(3, 3 + rank))
    for index in product(*(range(len(d.offsets)) for d in dims)):
        slab = cols[(slice(None), *index)]  # (g, C_in/g, N, *rows)
        parts = [_shift(d.offsets[u], lo, hi, d.size) for d, u, (lo, hi) in zip(dims, index, ranges)]
        if not all(parts):
            slab[...] = 0
            continue
        slab[(Ellipsis, *(p[0] for p in parts))] = source[(Ellipsis, *(p[1] for p in parts))]  # type: ignore[index]
        for axis, (inside, _) in enumerate(parts):  # type: ignore[misc]
            before = (slice(None),) * (3 + axis)
            slab[(*before, slice(0, inside.start))] = 0
            slab[(*before, slice(inside.stop, None))] = 0


def _chunks(dims: Sequence[PhaseDim], n: int, per_row: int, budget: int) -> list[Chunk]:
    """(n0, n1, q0, q1): batch items and rows of the first dim per GEMM, each chunk's im2col and
    product (`per_row` elements per item and row) within `budget`, in as few and even chunks as
    can be (a GEMM gets faster with more columns: its packed weights serve them all)."""
    lo, hi = dims[0].q_lo, dims[0].q_hi
    rows, fits = hi - lo, max(budget // max(per_row, 1), 1)
    if n == 0:
        return []
    if fits >= rows:
        items = -(-n // -(-n // max(fits // max(rows, 1), 1)))
        return [(i, min(i + items, n), lo, hi) for i in range(0, n, items)]
    step = -(-rows // -(-rows // fits))
    return [(i, i + 1, q, min(q + step, hi)) for i in range(n) for q in range(lo, hi, step)]


def path_costs(x_shape: Sequence[int], w_shape: Sequence[int], dims: Sequence[PhaseDim], chunks: int,
               full: Sequence[int], groups: int) -> tuple[float, float]:
    """(per tap, by phase): the paths' estimated costs in multiply-add equivalents. Per tap: the
    GEMMs, each product added at strided positions, the full result zeroed and cropped, a loop
    step per tap. By phase: the GEMM over every (phase, offset) pair (zero weights included), the
    im2col copies, the output written once, a loop step per offset and phase in each chunk."""
    n, c_in, *sizes = x_shape
    c_out_g, taps = w_shape[1], math.prod(w_shape[2:])
    c_out, pixels = c_out_g * groups, math.prod(sizes)
    offsets, phases = _counts(dims)
    rows = math.prod(d.q_hi - d.q_lo for d in dims)
    gemms = gemm_groups(dims)
    weights = sum(len(members) * needs for members, needs in gemms)  # (phase, offset) pairs in the GEMMs
    per_tap = (n * pixels * c_in * c_out_g * taps + STRIDED_COST * n * c_out * (taps * pixels + math.prod(full))
               + CALL_COST * taps)
    phase = (PHASE_GEMM * n * rows * c_in * weights * c_out_g + COPY_COST * n * rows * c_in * offsets
             + STRIDED_COST * n * rows * c_out * phases
             + CALL_COST * (chunks * (offsets + phases + len(gemms)) + PHASE_CALLS))
    return per_tap, phase


def phase_plan(x: np.ndarray, w: np.ndarray, windows: Sequence[Window], strides: Sequence[int],
               dilations: Sequence[int], groups: int, *, by_cost: bool = True,
               bounded: bool = True) -> tuple[list[PhaseDim], list[Chunk]] | None:
    """The phase path's dims and chunks, or None where the per-tap path is right (non-finite data,
    an empty spatial size), where one row of one batch item would not fit the memory budget or the
    zero-filled phase weights would outgrow it and 8 kernels (a dilation prime to a large stride
    gives each tap a phase and an offset of its own) (`bounded`), or (`by_cost`) where the cost
    model finds the per-tap path cheaper. Tests turn the last two off to hold the paths against
    each other wherever the phase path is right at all."""
    n, c_in, *sizes = x.shape
    _, c_out_g, *kernel = w.shape
    if 0 in sizes or 0 in kernel or not (np.isfinite(x).all() and np.isfinite(w).all()):
        return None
    dims = [_phase_dim(L, k, s, d, v) for L, k, s, d, v in zip(sizes, kernel, strides, dilations, windows)]
    c_out = c_out_g * groups
    offsets, phases = _counts(dims)
    per_row = (c_in * offsets + c_out * phases) * math.prod([d.q_hi - d.q_lo for d in dims[1:]])
    # Peak memory: the output, plus each chunk's im2col and product within twice the input plus the
    # output: 2 x (input + output) in all, under the 3 x the tests hold it to.
    e_in, e_out = n * c_in * math.prod(sizes), n * c_out * math.prod([v.length for v in windows])
    budget = 2 * e_in + e_out
    weights = offsets * phases * c_in * c_out_g
    if bounded and (per_row > budget or weights > budget + 8 * c_in * c_out_g * math.prod(kernel)):
        return None
    chunks = _chunks(dims, n, per_row, min(budget, max(CHUNK_ELEMENTS, per_row)))
    if by_cost:
        full = [full_length(L, k, s, d) for L, k, s, d in zip(sizes, kernel, strides, dilations)]
        per_tap, phase = path_costs(x.shape, w.shape, dims, len(chunks), full, groups)
        if phase > per_tap:
            return None
    return dims, chunks


def phase_window(x: np.ndarray, w: np.ndarray, dims: Sequence[PhaseDim], chunks: Sequence[Chunk], *,
                 groups: int) -> np.ndarray:
    """The window (N, C_out, *lengths), no bias, by phases: per chunk one im2col, one GEMM (per
    group) for all phases, one strided copy per phase. The im2col and the product live in two
    buffers made once: fresh memory per chunk costs page faults, as much as the copies."""
    n, c_in = x.shape[:2]
    c_out_g, rank = w.shape[1], len(dims)
    lengths = [d.length for d in dims]
    out = np.zeros((n, groups * c_out_g, *lengths))
    if out.size == 0 or c_in == 0:
        return out
    weights = _phase_weights(w, dims, groups)  # (g, phases x C_out/g, offsets x C_in/g)
    c_in_g, shape = c_in // groups, [len(d.phases) for d in dims]
    gemms = [(members, weights.reshape(groups, -1, c_out_g, weights.shape[2])[:, members, :, :needs * c_in_g]
              .reshape(groups, len(members) * c_out_g, needs * c_in_g)) for members, needs in gemm_groups(dims)]
    out_groups = out.reshape(n, groups, c_out_g, *lengths)
    later = [d.q_hi - d.q_lo for d in dims[1:]]
    most = max((n1 - n0) * (q1 - q0) for n0, n1, q0, q1 in chunks) * math.prod(later)
    cols_buffer = np.empty((groups, weights.shape[2], most))
    product_buffer = np.empty((groups, weights.shape[1], most))
    for n0, n1, q0, q1 in chunks:
        ranges = [(q0, q1)] + [(d.q_lo, d.q_hi) for d in dims[1:]]
        blocks = [n1 - n0, q1 - q0, *later]
        columns = math.prod(blocks)
        cols = cols_buffer[:, :, :columns]
        _im2col(x[n0:n1], dims, ranges, _view(cols, (groups, *(len(d.offsets) for d in dims), c_in_g, *blocks)))
        row = 0
        for members, gemm_weights in gemms:
            result = np.matmul(gemm_weights, cols[:, :gemm_weights.shape[2]],
                               out=product_buffer[:, row:row + gemm_weights.shape[1], :columns])
            row += gemm_weights.shape[1]
            result = _view(result, (groups, len(members), c_out_g, *blocks))
            for at, phase in enumerate(members):
                index = np.unravel_index(phase, shape)
                parts = [_landing(d, d.phases[p], lo, hi) for d, p, (lo, hi) in zip(dims, index, ranges)]
                if all(parts):
                    rows = result[(slice(None), at, slice(None), slice(None), *(p[0] for p in parts))]  # type: ignore[index]
                    out_groups[(slice(n0, n1), slice(None), slice(None), *(p[1] for p in parts))] = \
                        rows.transpose(2, 0, 1, *range(3, 3 + rank))  # type: ignore[index]
    return out
