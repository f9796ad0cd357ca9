"""NumPy, convolution-matrix formulation (seed 000: `C.T @ x`; seed 004: `W.T @ y`).

The forward cross-correlation from the full-size output space to the input space is written as
an explicit matrix C (one row per input element and channel); the transposed convolution is
`C.T @ x`. Exact and obvious, but C has (C_in * H_in * W_in) x (C_out * H_full * W_full)
entries, so large cases are `unsupported`.

C is mostly structural zeros, and `C.T @ x` multiplies every input element by all of them: one
inf or NaN in the input makes 0*inf = NaN in every output, which the definition does not. A
non-finite kernel is fine: its values sit only where an (input, tap) pair lands, and the zeros
around them meet finite inputs. So a non-finite input is `unsupported`.
"""

from __future__ import annotations

import itertools

import numpy as np

from adapters.base import Adapter, case_arrays, finish_full_result
from adapters.padding import full_sizes
from harness.case import Case

MAX_ENTRIES = 4_000_000  # 32 MB of float64


def convolution_matrix(case: Case, w: np.ndarray) -> np.ndarray:
    """C, shape (C_in * P_in, C_out * P_full): row (ci, i) holds w[ci, :, j] at columns (co, i*s + j*d)."""
    g = case.groups
    c_in, c_out = case.in_channels, case.out_channels
    c_in_g, c_out_g = c_in // g, c_out // g
    sizes = full_sizes(case)
    p_in, p_full = int(np.prod(case.input_size)), int(np.prod(sizes))
    matrix = np.zeros((c_in, p_in, c_out, p_full), dtype=w.dtype)
    for i_flat, pos in enumerate(itertools.product(*(range(m) for m in case.input_size))):
        for tap in itertools.product(*(range(k) for k in case.kernel_size)):
            out_pos = tuple(p * s + j * d for p, s, j, d in zip(pos, case.stride, tap, case.dilation))
            o_flat = int(np.ravel_multi_index(out_pos, sizes))
            for grp in range(g):
                ci = slice(grp * c_in_g, (grp + 1) * c_in_g)
                co = slice(grp * c_out_g, (grp + 1) * c_out_g)
                matrix[ci, i_flat, co, o_flat] = w[(ci, slice(None), *tap)]
    return matrix.reshape(c_in * p_in, c_out * p_full)


class NumpyMatrix(Adapter):
    name = "numpy.matrix"
    framework = "numpy"

    def supports(self, case: Case) -> str | None:
        if case.dtype == "bfloat16":
            return "NumPy has no bfloat16 GEMM (ml_dtypes' matmul returns float32)"
        entries = (case.in_channels * int(np.prod(case.input_size))
                   * case.out_channels * int(np.prod(full_sizes(case))))
        if entries > MAX_ENTRIES:
            return f"the convolution matrix would have {entries:,} entries (limit {MAX_ENTRIES:,})"
        if not np.isfinite(case.input).all():
            return ("C.T @ x multiplies the structural zeros of C by every input element: "
                    "0*inf = NaN for non-finite input")
        return None

    def run(self, case: Case) -> np.ndarray:
        x, w, _ = case_arrays(case)
        matrix = convolution_matrix(case, w)
        # One column per batch element; sizes spelled out, as -1 is ambiguous for an empty batch.
        columns = x.reshape(case.batch, case.in_channels * int(np.prod(case.input_size))).T
        full = (matrix.T @ columns).T
        return finish_full_result(full.reshape(case.batch, case.out_channels, *full_sizes(case)), case)


ADAPTERS = (NumpyMatrix(),)
