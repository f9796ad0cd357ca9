# tconv-repro: framework=tensorflow versions=>=2.16 requires=avx512_bf16
"""TensorFlow's bfloat16 gradient of conv2d_transpose with respect to its input, on its oneDNN path.

Found by `tconv fuzz` (cases/found/tensorflow-onednn-bfloat16-grad-input.yaml). NHWC x of shape
(1, 3, 1, 1), filter (1, 2, 1, 1) = [1.421875, -0.6171875], strides (1, 2), VALID, output
(1, 3, 2, 1), upstream gradient g. d/dx[i] = g[i, 0] * w[0] + g[i, 1] * w[1] =
[0.1625, 0.7758, -0.0878]. In float32, and in bfloat16 with TF_ENABLE_ONEDNN_OPTS=0 (Eigen),
TensorFlow gives that; with oneDNN on (TensorFlow's default on x86) bfloat16 gives 0 for the
middle element (Keras layers and keras.ops inherit it), also with ONEDNN_MAX_CPU_ISA capped below
AMX. PyTorch's oneDNN path has a like bug on AMX CPUs (torch_amx_bfloat16_grad_input.py).

Exit status 1 while the bfloat16 gradient differs from the float32 one by more than bfloat16 rounding.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _platform import describe  # noqa: E402

print(f"tensorflow {tf.__version__}; {describe('oneDNN, bfloat16')}")
X = [0.04638671875, 1.3828125, 0.13671875]
W = [1.421875, -0.6171875]
G = [0.166015625, 0.119140625, 0.51171875, -0.078125, -0.2177734375, -0.359375]
results = {}
for dtype in (tf.float32, tf.bfloat16):
    x = tf.constant(np.reshape(X, (1, 3, 1, 1)), dtype=dtype)
    w = tf.constant(np.reshape(W, (1, 2, 1, 1)), dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.conv2d_transpose(x, w, [1, 3, 2, 1], strides=[1, 2], padding="VALID")
    grad = tape.gradient(y, x, output_gradients=tf.constant(np.reshape(G, (1, 3, 2, 1)), dtype=dtype))
    results[dtype] = tf.cast(grad, tf.float64).numpy().ravel()
    print(f"{dtype.name}: d/dx = {np.round(results[dtype], 4).tolist()}")
error = np.abs(results[tf.bfloat16] - results[tf.float32]).max()
print(f"max difference {error:.3g} (bfloat16 rounding allows about 0.01)")
raise SystemExit(1 if error > 0.01 else 0)
