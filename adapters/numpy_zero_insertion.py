"""NumPy, zero-insertion formulation (seed 003: `fill_zeros`, then a plain convolution, then crop).

Insert `stride - 1` zeros between input elements, pad `dilation*(k-1)` zeros on each side, and
cross-correlate with the kernel rotated 180 degrees and its channel axes swapped (the forward
conv's (O, I/g) layout). That gives the full result; the canonical window is read from it.

The correlation multiplies structural zeros: every input element meets the zeros between the
taps of a dilated kernel, and every kernel tap meets the zeros inserted between and padded
around the input. 0*inf = NaN there, where the definition has no product at all, so such cases
with non-finite data are `unsupported` (`non_finite_reason`). Without those zeros (no dilation
holes; a 1-tap kernel on an input with no inserted zeros) the products are exactly the
definition's, and the case runs.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from adapters.base import Adapter, case_arrays, finish_full_result
from adapters.layout import dilate_kernel, insert_zeros, rot180, swap_in_out
from harness.case import Case

MAX_WINDOW_ELEMENTS = 30_000_000  # the correlation's gathered windows, in elements


def non_finite_reason(case: Case) -> str | None:
    """Why non-finite data would meet a structural zero in the correlation, or None if it cannot."""
    dims = list(zip(case.input_size, case.kernel_size, case.stride, case.dilation))
    kernel_holes = any(d > 1 and k > 1 for _, k, _, d in dims)
    if kernel_holes and not np.isfinite(case.input).all():
        return ("the correlation multiplies the zeros between the dilated kernel's taps by every input "
                "element: 0*inf = NaN for non-finite input")
    input_zeros = any((k - 1) * d > 0 or (s > 1 and n > 1) for n, k, s, d in dims)
    if input_zeros and not np.isfinite(case.kernel).all():
        return ("the correlation multiplies the zeros inserted between and padded around the input by "
                "every kernel tap: 0*inf = NaN for a non-finite kernel")
    return None


class NumpyZeroInsertion(Adapter):
    name = "numpy.zero_insertion"
    framework = "numpy"

    def supports(self, case: Case) -> str | None:
        if case.dtype == "bfloat16":
            return "NumPy has no bfloat16 tensordot (ml_dtypes' einsum refuses it)"
        k_eff = [(k - 1) * d + 1 for k, d in zip(case.kernel_size, case.dilation)]
        full = [(n - 1) * s + k for n, s, k in zip(case.input_size, case.stride, k_eff)]
        elements = case.batch * case.in_channels * int(np.prod(full)) * int(np.prod(k_eff))
        if elements > MAX_WINDOW_ELEMENTS:
            return f"{elements:,} gathered window elements (limit {MAX_WINDOW_ELEMENTS:,})"
        return non_finite_reason(case)

    def run(self, case: Case) -> np.ndarray:
        x, w, _ = case_arrays(case)
        g, rank = case.groups, case.rank
        kernel = rot180(swap_in_out(dilate_kernel(w, case.dilation), g))  # (C_out, C_in/g, *k_eff)
        k_eff = kernel.shape[2:]
        spread = insert_zeros(x, case.stride)
        padded = np.pad(spread, [(0, 0), (0, 0)] + [(k - 1, k - 1) for k in k_eff])
        axes = tuple(range(2, 2 + rank))
        windows = sliding_window_view(padded, k_eff, axis=axes)  # (N, C_in, *L_full, *k_eff)
        n, c_in = x.shape[:2]
        c_in_g, c_out_g = c_in // g, case.out_channels // g
        outs = []
        for grp in range(g):
            win = windows[:, grp * c_in_g:(grp + 1) * c_in_g]
            ker = kernel[grp * c_out_g:(grp + 1) * c_out_g]
            # Sum over (C_in/g, *k_eff): -> (N, *L_full, C_out/g).
            summed = np.tensordot(win, ker, axes=([1, *range(2 + rank, 2 + 2 * rank)], [1, *range(2, 2 + rank)]))
            outs.append(np.moveaxis(summed, -1, 1))
        return finish_full_result(np.concatenate(outs, axis=1), case)


ADAPTERS = (NumpyZeroInsertion(),)
