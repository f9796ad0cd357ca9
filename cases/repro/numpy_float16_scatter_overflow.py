# tconv-repro: framework=numpy versions=
"""NumPy: summing float16 terms in float16 overflows where the exact sum is finite.

The scatter-add formulation (seeds 001/004) adds one kernel copy per input element into a
float16 output; NumPy keeps the dtype, so an intermediate sum can reach -inf even though the
terms that follow bring the exact result back into range. Exit status 1 while that happens.
"""

import numpy as np

terms = np.array([-60000.0, -10000.0, 20000.0], dtype=np.float16)
exact = float(np.sum(terms.astype(np.float64)))  # -50000: representable in float16
out = np.zeros(1, dtype=np.float16)
with np.errstate(over="ignore"):
    for term in terms:  # the scatter loop: out[i*s + j*d] += x[i] * w[j]
        out += term
print(f"numpy {np.__version__}: exact {exact}, float16 running sum {out[0]}")
raise SystemExit(1 if not np.isfinite(out[0]) else 0)
