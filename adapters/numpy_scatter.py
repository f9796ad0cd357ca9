"""NumPy, scatter-add formulation (seeds 001 and 004, `trans_conv`).

Each input element multiplies the whole kernel and is added into the output at
`i * stride + j * dilation`: the definition read literally, one input position at a time
(batch, channels and groups at once). Computes in the case dtype.

It only ever multiplies an input element by a kernel tap that lands on an output position (the
strided add skips the holes of stride and dilation), so NaN and inf reach exactly the outputs
the definition sends them to: it needs no guard for non-finite data.
"""

from __future__ import annotations

import itertools

import numpy as np

from adapters.base import Adapter, case_arrays, finish_full_result
from adapters.padding import full_sizes
from harness.case import Case

MAX_POSITIONS = 20_000  # input positions, one Python step each


class NumpyScatter(Adapter):
    name = "numpy.scatter"
    framework = "numpy"

    def supports(self, case: Case) -> str | None:
        if case.dtype == "bfloat16":
            return "NumPy has no bfloat16 arithmetic (ml_dtypes' einsum refuses it)"
        positions = int(np.prod(case.input_size))
        if positions > MAX_POSITIONS:
            return f"{positions} input positions: above the scatter loop's limit of {MAX_POSITIONS}"
        return None

    def run(self, case: Case) -> np.ndarray:
        x, w, _ = case_arrays(case)
        g = case.groups
        n, c_in = x.shape[:2]
        sizes = full_sizes(case)
        full = np.zeros((n, g, case.out_channels // g, *sizes), dtype=x.dtype)
        xg = x.reshape(n, g, c_in // g, *case.input_size)
        wg = w.reshape(g, c_in // g, case.out_channels // g, *case.kernel_size)
        for pos in itertools.product(*(range(m) for m in case.input_size)):
            # (N, g, C_in/g) x (g, C_in/g, C_out/g, *k) -> (N, g, C_out/g, *k): this element's kernel copy.
            piece = np.einsum("ngi,gio...->ngo...", xg[(Ellipsis, *pos)], wg)
            where = tuple(
                slice(p * s, p * s + (k - 1) * d + 1, d)
                for p, s, k, d in zip(pos, case.stride, case.kernel_size, case.dilation)
            )
            full[(Ellipsis, *where)] += piece
        return finish_full_result(full.reshape(n, case.out_channels, *sizes), case)


ADAPTERS = (NumpyScatter(),)
