# tconv-repro: framework=mlx versions=>=0.20
"""MLX (CPU) multiplies the zeros a padding crops (and the cropped positions' zero upstream gradient).

Found by tconv's case `nonfinite.yaml::inf-kernel-tap-on-a-cropped-position-gradients`. A 1-D
transposed convolution of x = [0.5, 1] with w = [inf, -0.5, 2], padding 1: the full result is
[0.5*inf, -0.25 + inf, 1 - 0.5, 2] and the output its positions 1 and 2: [inf, 0.5]. Position 2 sums
x0*w[2] + x1*w[1]; MLX gives NaN there, an inf tap times a padding zero. The input gradient for an
upstream gradient of ones sums the taps inside the output (x0: w[1] + w[2] = 1.5); MLX (`mx.vjp`)
gives NaN, the inf tap times the cropped position's zero. A convention difference (JAX and
TensorFlow multiply such zeros too: structural_zeros_nan.py, structural_zeros_gradient_nan.py).

Exit status 1 while MLX returns NaN in either.
"""

import mlx.core as mx
import numpy as np

x = mx.array(np.array([[[0.5], [1.0]]], np.float32))  # NLC
w = mx.array(np.array([[[np.inf], [-0.5], [2.0]]], np.float32))  # (C_out, k, C_in)
layer = lambda x: mx.conv_transpose1d(x, w, padding=1)
y = layer(x)
_, (grad,) = mx.vjp(layer, [x], [mx.ones(y.shape)])
y, grad = np.array(y).ravel(), np.array(grad).ravel()
print(f"mlx {mx.__version__}: y = {y.tolist()} (definition: [inf, 0.5]), grad_input = {grad.tolist()} "
      f"(definition: [1.5, inf])")
raise SystemExit(1 if np.isnan(y).any() or np.isnan(grad).any() else 0)
