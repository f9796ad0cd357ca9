# tconv-repro: framework=jax versions=>=0.10
"""JAX (XLA CPU): a float64 grouped convolution mixes one group's inf into another group's output.

Found by `tconv fuzz --special` (seed 121) on `jax.lax.conv_general_dilated` with feature_group_count=2
(tconv's jax.conv_general_dilated adapter). Two one-channel groups, 1 x 1 spatial, x = [inf, 1.383] and
one-tap weights [0.5, -0.6]: group 0 gives inf and group 1 gives 1.383 * -0.6 = -0.830, which uses
nothing of group 0. In float64 XLA's CPU backend gives [inf, NaN]: as if the groups ran as one dense
convolution over a kernel with zeros outside each group (0 * inf = NaN). float32, float16 and bfloat16
give [inf, -0.830]. A plain convolution shows it as well as one with lhs_dilation (a transposed
convolution's stride). Where both groups hold inf (x = [inf, inf]) float64 gives [NaN, NaN] for
[inf, -inf] (seed 131). The gradients are convolutions XLA runs the same way: the input gradient
for the upstream gradient [inf, 1] is [inf, NaN] in float64 for [inf, -0.6].

Exit status 1 while the float64 result has NaN where the float32 one is finite.
"""

import sys

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _platform import describe  # noqa: E402


def grouped(dtype, lhs_dilation=(1, 1), second=1.383) -> np.ndarray:  # noqa: ANN001
    """Two one-channel groups, NCHW/OIHW: x = [inf, second], weights [0.5, -0.6]."""
    x = jnp.array([np.inf, second], dtype).reshape(1, 2, 1, 1)
    w = jnp.array([0.5, -0.6], dtype).reshape(2, 1, 1, 1)
    y = jax.lax.conv_general_dilated(x, w, (1, 1), [(0, 0), (0, 0)], lhs_dilation=lhs_dilation, feature_group_count=2,
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return np.asarray(y, np.float64).ravel()


def input_gradient(dtype) -> np.ndarray:  # noqa: ANN001
    """The input gradient (`jax.vjp`) of the same two groups, x = [1, 1.383], for the upstream gradient
    [inf, 1]: group 1's is -0.6 (its own weight), which uses nothing of group 0's inf."""
    x = jnp.array([1.0, 1.383], dtype).reshape(1, 2, 1, 1)
    w = jnp.array([0.5, -0.6], dtype).reshape(2, 1, 1, 1)

    def conv(x):  # noqa: ANN001, ANN202
        return jax.lax.conv_general_dilated(x, w, (1, 1), [(0, 0), (0, 0)], feature_group_count=2,
                                            dimension_numbers=("NCHW", "OIHW", "NCHW"))

    upstream = jnp.array([np.inf, 1.0], dtype).reshape(1, 2, 1, 1)
    return np.asarray(jax.vjp(conv, x)[1](upstream)[0], np.float64).ravel()


print(f"jax {jax.__version__}; {describe('XLA CPU')}")
found = False
for dilation, second in (((1, 1), 1.383), ((2, 2), 1.383), ((1, 1), np.inf)):
    wide, narrow = grouped(jnp.float64, dilation, second), grouped(jnp.float32, dilation, second)
    found |= bool((np.isnan(wide) & ~np.isnan(narrow)).any())
    print(f"  x = [inf, {second}], lhs_dilation {dilation}: float64 {wide.tolist()}, "
          f"float32 {[round(v, 4) for v in narrow.tolist()]}")
wide, narrow = input_gradient(jnp.float64), input_gradient(jnp.float32)
found |= bool((np.isnan(wide) & ~np.isnan(narrow)).any())
print(f"  input gradient, upstream [inf, 1]: float64 {wide.tolist()}, float32 {[round(v, 4) for v in narrow.tolist()]}")
sys.exit(1 if found else 0)
