"""Where multiplying structural zeros by a non-finite kernel tap would put a NaN.

The canonical definition only ever multiplies a real input element by a kernel tap. Many
implementations instead correlate a zero-inserted, zero-padded input with the flipped kernel
(XLA's `lhs_dilation`, im2col over a padded buffer): they multiply the inserted zeros (between
strided inputs), the padding zeros, and the positions past the input, by every kernel tap. With a
finite kernel that changes nothing; with an inf or NaN tap it makes `0 * inf = NaN` at output
positions whose canonical value is finite. tconv records that as a convention difference (the
judge names it), not as a pass and not as an unexplained failure.

This module is the judge's, built from `harness.geometry` only (no adapter code): for every output
position of the canonical window and every kernel tap, is the input position under the tap a real
element or a structural zero?

The gradients have structural zeros of their own: the positions of the full result that the crop
removed have no upstream gradient, and an implementation that computes the input gradient as a
convolution of the zero-padded upstream gradient with the kernel (the weight gradient, with the
input) multiplies those zeros by every tap (every input element) they meet: NaN next to an inf
(`gradient_nan_mask`). `harness.gradients` sums over the taps that land inside the window only.
"""

from __future__ import annotations

import numpy as np

from harness.case import Case
from harness.geometry import output_window


def _window(case: Case, dim: int):
    """The canonical window of one dim (harness.geometry), where the output sits on the full result."""
    return output_window(case.input_size[dim], case.kernel_size[dim], stride=case.stride[dim],
                         dilation=case.dilation[dim], padding=case.padding[dim],
                         output_padding=case.output_padding[dim],
                         output_shape=None if case.output_shape is None else case.output_shape[dim],
                         output_shape_rule=case.output_shape_rule)


def _holes(case: Case, dim: int) -> np.ndarray:
    """(L_out, k) booleans: output position p with tap j reads a structural zero in this dim."""
    n, k = case.input_size[dim], case.kernel_size[dim]
    s, d = case.stride[dim], case.dilation[dim]
    window = _window(case, dim)
    positions = window.start + np.arange(window.length)[:, None]  # full-result coordinates
    landing = positions - np.arange(k)[None, :] * d  # zero-inserted input coordinate under tap j
    real = (landing >= 0) & (landing <= (n - 1) * s) & (landing % s == 0)
    return ~real


def _offsets(case: Case, dim: int) -> np.ndarray:
    """(L_out, L_in) ints: how far output position p lies past input i's first tap, on the full result."""
    window, inputs = _window(case, dim), np.arange(case.input_size[dim])
    return window.start + np.arange(window.length)[:, None] - inputs[None, :] * case.stride[dim]


def _kernel_holes(case: Case, dim: int) -> np.ndarray:
    """(L_out, L_in) booleans: output position p reads input i through a zero of the dilated kernel."""
    offset, d = _offsets(case, dim), case.dilation[dim]
    return (offset >= 0) & (offset <= (case.kernel_size[dim] - 1) * d) & (offset % d != 0)


def _footprint(case: Case, dim: int) -> np.ndarray:
    """(L_out, L_in) booleans: output position p lies under input i's dilated kernel (a tap or a hole)."""
    offset = _offsets(case, dim)
    return (offset >= 0) & (offset <= (case.kernel_size[dim] - 1) * case.dilation[dim])


def _spread(per_group: np.ndarray, case: Case, matrices: list[np.ndarray], *,
            channels: int | None = None) -> np.ndarray:
    """(N, C, *L_to) booleans: each group's `channels` (default: its output channels), at the positions
    that some marked position of the (N, g, *L_from) booleans reaches through the per-dim (L_to, L_from)
    matrices."""
    reach = per_group.astype(np.float64)
    for dim, matrix in enumerate(matrices):
        reach = np.moveaxis(np.tensordot(reach, matrix.astype(np.float64), axes=([2 + dim], [1])), -1, 2 + dim)
    return np.repeat(reach > 0, case.out_channels // case.groups if channels is None else channels, axis=1)


def _per_group(marked: np.ndarray, groups: int) -> np.ndarray:
    """(N, g, *L) booleans from (N, C, *L) ones: some channel of the group is marked there."""
    return marked.reshape(marked.shape[0], groups, marked.shape[1] // groups, *marked.shape[2:]).any(axis=2)


def _other_groups(marked: np.ndarray, groups: int) -> np.ndarray:
    """(N, g, *L) booleans from (N, C, *L) ones: a group other than this one has a marked channel there."""
    per_group = _per_group(marked, groups)
    return (per_group.sum(axis=1, keepdims=True) - per_group) > 0


def structural_nan_mask(case: Case) -> np.ndarray | None:
    """Booleans of the output's shape: an implementation that multiplies structural zeros gets
    NaN there from `0 * (inf or NaN)` (kernel taps on inserted/padding zeros of the input, and
    input elements on the zeros of a dilated kernel); None when all data are finite."""
    kernel_finite, input_finite = np.isfinite(case.kernel).all(), np.isfinite(case.input).all()
    if kernel_finite and input_finite:
        return None
    mask = np.zeros((case.batch, case.out_channels, *_sizes(case)), dtype=bool)
    if not kernel_finite:
        mask |= _kernel_mask(case)[None]
    if not input_finite and any(d > 1 for d in case.dilation):
        mask |= _input_mask(case)
    return mask


def _sizes(case: Case) -> tuple[int, ...]:
    return tuple(_holes(case, dim).shape[0] for dim in range(case.rank))


def _input_mask(case: Case) -> np.ndarray:
    """Output positions reached from a non-finite input through a dilated kernel's zeros."""
    bad = _per_group(~np.isfinite(case.input), case.groups)  # (N, g, *L_in)
    return _spread(bad, case, [_kernel_holes(case, dim) for dim in range(case.rank)])


def _kernel_mask(case: Case) -> np.ndarray:
    """Output positions where a non-finite kernel tap lands on a structural zero of the input."""
    kernel = case.kernel
    g = case.groups
    c_in_g, c_out_g = kernel.shape[0] // g, kernel.shape[1]
    # per output channel and tap: some input channel of its group has a non-finite weight there
    bad = ~np.isfinite(kernel.reshape(g, c_in_g, c_out_g, *case.kernel_size))
    bad_taps = bad.any(axis=1).reshape(g * c_out_g, *case.kernel_size)
    holes = [_holes(case, dim) for dim in range(case.rank)]
    sizes = tuple(h.shape[0] for h in holes)
    mask = np.zeros((case.out_channels, *sizes), dtype=bool)
    for tap in zip(*np.nonzero(bad_taps.any(axis=0))):
        hole_here = np.zeros(sizes, dtype=bool)
        for dim, j in enumerate(tap):
            shape = [1] * case.rank
            shape[dim] = sizes[dim]
            hole_here = hole_here | holes[dim][:, j].reshape(shape)
        channels = bad_taps[(slice(None), *tap)]
        mask[channels] |= hole_here
    return mask


def _cropped(case: Case, dim: int) -> np.ndarray:
    """(L_in, k) booleans: input i's tap j lands on a position of the full result the crop removed."""
    window = _window(case, dim)
    landing = np.arange(case.input_size[dim])[:, None] * case.stride[dim] \
        + np.arange(case.kernel_size[dim])[None, :] * case.dilation[dim]
    return (landing < window.start) | (landing >= window.stop)


def _cropped_at(cropped: list[np.ndarray], tap: tuple[int, ...]) -> np.ndarray:
    """(*L_in) booleans: the inputs whose tap `tap` lands outside the window in some dim."""
    rank = len(tap)
    here = np.zeros(tuple(c.shape[0] for c in cropped), dtype=bool)
    for dim, j in enumerate(tap):
        shape = [1] * rank
        shape[dim] = cropped[dim].shape[0]
        here = here | cropped[dim][:, j].reshape(shape)
    return here


def gradient_nan_mask(case: Case, check: str) -> np.ndarray | None:
    """Booleans of the gradient's shape: an implementation that multiplies the zero upstream
    gradient of cropped positions gets NaN there (`grad_input`: a non-finite kernel tap of the
    input's channel that lands on a cropped position; `grad_weight`: a non-finite input element
    whose tap lands on one); None when the operand is finite or the check has no such zeros."""
    c_out_g = case.out_channels // case.groups
    cropped = [_cropped(case, dim) for dim in range(case.rank)]
    if check == "grad_input" and not np.isfinite(case.kernel).all():
        bad_taps = (~np.isfinite(case.kernel)).any(axis=1)  # (C_in, *k): a weight to some output channel
        mask = np.zeros((case.in_channels, *case.input_size), dtype=bool)
        for tap in zip(*np.nonzero(bad_taps.any(axis=0))):
            mask[bad_taps[(slice(None), *tap)]] |= _cropped_at(cropped, tap)
        return np.broadcast_to(mask, (case.batch, *mask.shape))
    if check == "grad_weight" and not np.isfinite(case.input).all():
        bad = (~np.isfinite(case.input)).any(axis=0)  # (C_in, *L_in): non-finite in some batch element
        pixels = int(np.prod(case.input_size))
        mask = np.zeros((case.in_channels, *case.kernel_size), dtype=bool)
        for tap in np.ndindex(*case.kernel_size):
            mask[(slice(None), *tap)] = (bad & _cropped_at(cropped, tap)).reshape(case.in_channels, pixels).any(axis=1)
        return np.repeat(mask[:, None], c_out_g, axis=1)
    return None


def cross_group_nan_mask(case: Case) -> np.ndarray | None:
    """Booleans of the output's shape: the output channels of a group whose own input (in that batch
    element) and weights are all finite, while another group's are not. The definition keeps groups
    apart, so a NaN there can only come from another group's inf or NaN multiplied in (by a zero
    weight between the groups, or a wrong offset); None with one group or all data finite."""
    if case.groups == 1 or (np.isfinite(case.input).all() and np.isfinite(case.kernel).all()):
        return None
    g = case.groups
    c_in_g, c_out_g = case.in_channels // g, case.out_channels // g
    pixels = int(np.prod(case.input_size))
    bad_input = (~np.isfinite(case.input)).reshape(case.batch, g, c_in_g * pixels).any(axis=2)  # (N, g)
    bad_weights = (~np.isfinite(case.kernel)).reshape(g, -1).any(axis=1) if case.kernel.size else np.zeros(g, bool)
    bad = bad_input | bad_weights[None, :]
    clean = ~bad & bad.any(axis=1, keepdims=True)  # (N, g): finite itself, while another group is not
    mask = np.repeat(clean, c_out_g, axis=1)  # (N, C_out)
    return np.broadcast_to(mask.reshape(*mask.shape, *([1] * case.rank)),
                           (case.batch, case.out_channels, *_sizes(case)))


def foreign_nan_mask(case: Case) -> np.ndarray | None:
    """Booleans of the output's shape: where another group's inf or NaN input (of the same batch
    element) lies under the dilated kernel (its holes included), where an implementation that runs
    the groups as one dense convolution over a kernel with zeros between them multiplies it by such
    a zero (0 * inf = NaN). Unlike `cross_group_nan_mask` this asks nothing of the group's own data:
    the judge names a NaN there only where the position's own terms give none. None with one group
    or a finite input."""
    if case.groups == 1 or np.isfinite(case.input).all():
        return None
    others = _other_groups(~np.isfinite(case.input), case.groups)  # (N, g, *L_in)
    return _spread(others, case, [_footprint(case, dim) for dim in range(case.rank)])


def foreign_gradient_nan_mask(case: Case, check: str) -> np.ndarray | None:
    """`foreign_nan_mask` of the input gradient (the input's shape): where another group's inf or NaN
    upstream gradient (of the same batch element) lies under the kernel of an input position, which a
    backward pass over one dense convolution multiplies by a zero between the groups. An upstream
    gradient holding inf comes from a case file (tconv draws finite ones). None for other checks, one
    group or a finite upstream gradient."""
    upstream = case.upstream
    if check != "grad_input" or case.groups == 1 or upstream is None or np.isfinite(upstream).all():
        return None
    others = _other_groups(~np.isfinite(upstream), case.groups)  # (N, g, *L_out)
    return _spread(others, case, [_footprint(case, dim).T for dim in range(case.rank)],
                   channels=case.in_channels // case.groups)
