# tconv-repro: framework=jax versions=>=0.4.31
"""XLA's gradient of a 2-D float16 transposed convolution multiplies a cropped position's zero upstream gradient.

Found by `tconv fuzz --special` (jax.conv_general_dilated and jax.conv_transpose alike). x (1, 1, 1, 3)
NCHW of ones, a (3, 1) kernel [inf, -0.619, -0.591] (one channel), stride 1, SAME: the output keeps
the middle row of the full result, so the input gradient for an upstream gradient of ones is the
middle tap alone, -0.619 per element; the inf tap lands on a cropped row, which has no upstream
gradient. jax.vjp gives NaN (inf * 0) in float16 and float32; the 1-D layer of
structural_zeros_gradient_nan.py gets the definition's answer. A convention difference (its forward:
structural_zeros_nan.py).

Exit status 1 while the float16 input gradient has NaN.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from _platform import describe

w = np.array([np.inf, -0.619, -0.591], np.float32).reshape(1, 1, 3, 1)  # (C_in, C_out, kH, kW)
print(f"jax {jax.__version__}; {describe('XLA CPU')}")
found = False
for dtype in (jnp.float16, jnp.float32):
    layer = lambda x: lax.conv_transpose(x, jnp.asarray(w, dtype), strides=(1, 1), padding="SAME",
                                         dimension_numbers=("NCHW", "IOHW", "NCHW"), transpose_kernel=True)
    x = jnp.ones((1, 1, 1, 3), dtype)
    y, pullback = jax.vjp(layer, x)
    grad = np.asarray(pullback(jnp.ones_like(y))[0], np.float32).ravel()
    print(f"  {jnp.dtype(dtype).name}: grad_input = {grad.tolist()} (definition: -0.619 each)")
    found |= dtype == jnp.float16 and bool(np.isnan(grad).any())
raise SystemExit(1 if found else 0)
