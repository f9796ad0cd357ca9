# tconv-repro: framework=jax versions=>=0.4
"""NaN from 0*inf at structural zeros: JAX (and TensorFlow) multiply zeros the definition skips.

A transposed convolution sums x[i] * w[j] over the real pairs landing on an output position. An
implementation that correlates a zero-inserted, zero-padded input with the kernel also multiplies
the inserted zeros by every kernel tap: harmless for finite kernels, NaN (0 * inf) next to an inf
tap. PyTorch and ONNX Runtime give the definition's answer; JAX and TensorFlow give NaN.

1-D, input [0, 2, 3], kernel (C_in=1, C_out=2) [[-3, inf, 2], [2, 0, -1]], stride 2, dilation 2:
output channel 0 at position 1 reads no real pair (a hole between taps): exactly 0; JAX returns
NaN there.

Exit status 1 while JAX returns NaN at an output whose exact value is finite.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import jax
import numpy as np
from jax import lax

from _platform import describe

print(f"jax {jax.__version__}; {describe('XLA CPU')}")
x = np.array([[[0.0, 2.0, 3.0]]], np.float32)
w = np.array([[[-3.0, np.inf, 2.0], [2.0, 0.0, -1.0]]], np.float32)  # (C_in, C_out, k)
# exact answer by the definition: scatter the real pairs only
exact = np.zeros((1, 2, (3 - 1) * 2 + 2 * (3 - 1) + 1))
for i in range(3):
    for o in range(2):
        for j in range(3):
            with np.errstate(invalid="ignore"):  # 0 * inf of a *real* pair is NaN by definition too
                exact[0, o, i * 2 + j * 2] += float(x[0, 0, i]) * float(w[0, o, j])
y = np.asarray(lax.conv_transpose(x, w, strides=(2,), padding="VALID", rhs_dilation=(2,),
                                  dimension_numbers=("NCH", "OIH", "NCH"), transpose_kernel=True))
print(f"  exact: {exact[0].tolist()}")
print(f"  jax:   {y[0].tolist()}")
spurious = np.isnan(y) & ~np.isnan(exact)
print(f"  NaN where the exact value is not NaN: {int(spurious.sum())} element(s)")
try:
    import tensorflow as tf

    xt = np.array([[[-1.0], [2.0]]], np.float32)  # NWC
    wt = np.array([[[2.0, np.inf]], [[2.0, 2.0]], [[0.0, 0.0]]], np.float32).transpose(0, 2, 1)  # (k, C_out, C_in)
    yt = tf.nn.conv1d_transpose(xt, wt, [1, 5, 2], 2, "VALID").numpy()
    print(f"  tensorflow {tf.__version__} (input [-1, 2], kernel ch1 [inf, 2, 0], stride 2): channel 1 = {yt[0, :, 1].tolist()}")
except ImportError:
    pass
raise SystemExit(1 if spurious.any() else 0)
