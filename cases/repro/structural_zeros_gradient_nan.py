# tconv-repro: framework=torch versions=>=2.13
"""NaN from 0*inf in PyTorch's gradients: cropped positions' zeros multiplied by the kernel.

A 1-D transposed convolution of one input x = [0.5] with the kernel w = [inf, -0.5, 2] (stride 1)
has the full result [0.5*inf, -0.25, 1]; padding 1 (`same`) keeps the middle position only:
y = [-0.25]. For the upstream gradient g = [1] the input gradient sums w[j] * g over the taps
that land inside the output: -0.5. The inf tap lands on a cropped position, which has no upstream
gradient; computed as a convolution of g zero-padded by the crop with the kernel it becomes
inf * 0 + (-0.5) * 1 + 2 * 0 = NaN. The gradients' counterpart of the forward's inserted and padding
zeros (structural_zeros_nan.py), found by `tconv fuzz --special` with tconv's own gradient oracle
mended (it had made the same NaN).

Who multiplies depends on the kernel, the dtype and the CPU: here PyTorch 2.13 in float32 (oneDNN
and AVX2 alike), TensorFlow 2.21 in bfloat16 on oneDNN and in every dtype on Eigen
(TF_ENABLE_ONEDNN_OPTS=0), JAX 0.10 not on this layer but on 2-D float16 ones (`tconv fuzz`).

Exit status 1 while PyTorch's float32 input gradient is NaN.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import torch  # noqa: E402

from _platform import describe  # noqa: E402

x = np.array([[[0.5]]], np.float32)  # (N, C_in, L)
w = np.array([[[np.inf, -0.5, 2.0]]], np.float32)  # (C_in, C_out, k)
print(f"torch {torch.__version__}; {describe('default')}; the definition's input gradient: -0.5")
xp = torch.tensor(x, requires_grad=True)
yp = torch.nn.functional.conv_transpose1d(xp, torch.tensor(w), padding=1)
yp.sum().backward()
grad = xp.grad.numpy().ravel()
print(f"  torch: y = {yp.detach().ravel().tolist()}, grad_input = {grad.tolist()}")
try:
    import tensorflow as tf

    for dtype in (tf.float32, tf.bfloat16):
        xt, wt = tf.cast(x.transpose(0, 2, 1), dtype), tf.cast(w.transpose(2, 1, 0), dtype)  # NWC, (k, C_out, C_in)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            yt = tf.nn.conv1d_transpose(xt, wt, [1, 1, 1], 1, "SAME")
        print(f"  tensorflow {tf.__version__} {dtype.name}: "
              f"grad_input = {tf.cast(tape.gradient(yt, xt), tf.float32).numpy().ravel().tolist()}")
except ImportError:
    pass
raise SystemExit(1 if np.isnan(grad).any() else 0)
