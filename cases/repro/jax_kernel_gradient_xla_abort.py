# tconv-repro: framework=jax versions=>=0.10
"""JAX's kernel gradient of a conv with lhs_dilation aborts the process: XLA's algebraic simplifier
builds a convolution whose window does not match its kernel and fails its own check.

Found by `tconv fuzz --special` (both JAX adapters; seed 71, a 3-D bfloat16 layer, shrunk here by
hand). `jax.lax.conv_general_dilated` of x (1, 1, 3, 1) with w (1, 1, 4, 1), lhs_dilation (2, 1)
(a transposed convolution's stride) and padding ((0, 0), (1, 1)): the forward result is (1, 1, 2, 3)
and the input gradient is computed, but `jax.vjp` with respect to w kills the process with SIGABRT:
"algebraic_simplifier.cc:586] Check failed: computation->Accept(this) is OK (INVALID_ARGUMENT:
Window dimensions do not match RHS shape: RHS shape: f32[1,3,1,1] ...)". In float32, float16 and
bfloat16 alike; the fuzzed layer aborted `jax.lax.conv_transpose` too (tconv's jax.conv_transpose
adapter). Without the padding, or without the dilation, it returns the gradient.

The layer runs in a child process. Exit status 1 while that process dies by a signal, 0 once it
returns the kernel gradient.
"""

import jax
from _platform import describe, dies_by_signal

LAYER = """
import jax, jax.numpy as jnp
x, w = jnp.ones((1, 1, 3, 1)), jnp.ones((1, 1, 4, 1))
conv = lambda w: jax.lax.conv_general_dilated(x, w, window_strides=(1, 1), padding=((0, 0), (1, 1)),
                                              lhs_dilation=(2, 1), dimension_numbers=("NCHW", "OIHW", "NCHW"))
y, pullback = jax.vjp(conv, w)
print("kernel gradient:", pullback(jnp.ones_like(y))[0].ravel().tolist())
"""

print(f"jax {jax.__version__}; {describe('XLA CPU')}")
raise SystemExit(dies_by_signal(LAYER))
