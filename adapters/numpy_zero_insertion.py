"""NumPy, zero-insertion formulation (seed 003: `fill_zeros`, then a plain convolution, then crop).

Insert `stride - 1` zeros between input elements, pad `dilation*(k-1)` zeros on each side, and
cross-correlate with the kernel rotated 180 degrees and its channel axes swapped (the forward
conv's (O, I/g) layout). That gives the full result; the canonical window is read from it.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from adapters.base import Adapter, case_arrays, finish_full_result
from adapters.layout import dilate_kernel, insert_zeros, rot180, swap_in_out
from harness.case import Case

MAX_WINDOW_ELEMENTS = 30_000_000  # the correlation's gathered windows, in elements


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
        return None

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
