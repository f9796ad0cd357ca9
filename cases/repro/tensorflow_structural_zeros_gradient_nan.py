# tconv-repro: framework=tensorflow versions=>=2.16
"""TensorFlow's conv_transpose gradient multiplies a crop's zero upstream gradient by the kernel.

Found by tconv's cases `nonfinite.yaml::inf-*-on-a-cropped-position-gradients` (with `tconv fuzz --special`).
x = [0.5, 1] with w = [inf, -0.5, 2] (a row of conv2d_transpose), stride 1, cropped by one position at
each end of the full result (PyTorch's padding=1): the input gradient for an upstream gradient of
ones sums the taps that land inside the output, x0: w[1] + w[2] = 1.5 (its inf tap lands on the
cropped position 0, which has no upstream gradient), x1: inf.

tconv's TensorFlow rows send such a crop as TensorFlow users write it where oneDNN should run: VALID
(the full result) and a slice. The slice's gradient is 0 at the cropped positions, and TensorFlow's
backprop multiplies it by every tap: inf * 0 = NaN for x0. TensorFlow's own explicit padding gives 1.5
(and NaN too with oneDNN off, TF_ENABLE_ONEDNN_OPTS=0). Keras' `same` on TensorFlow shows it as well.
A convention difference, as the forward's structural zeros (structural_zeros_nan.py).

Exit status 1 while the VALID-and-slice input gradient is NaN where the definition is finite.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from _platform import describe  # noqa: E402

x = tf.constant(np.array([[[[0.5], [1.0]]]], np.float32))  # NHWC, H = 1
w = tf.constant(np.array([[[[np.inf]], [[-0.5]], [[2.0]]]], np.float32))  # (kH, kW, C_out, C_in)


def input_gradient(layer):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer()
    return tape.gradient(y, x).numpy().ravel()


sliced = input_gradient(lambda: tf.nn.conv2d_transpose(x, w, [1, 1, 4, 1], 1, "VALID")[:, :, 1:3, :])
explicit = input_gradient(lambda: tf.nn.conv2d_transpose(x, w, [1, 1, 2, 1], 1, [[0, 0], [0, 0], [1, 1], [0, 0]]))
print(f"tensorflow {tf.__version__}; {describe('oneDNN unless TF_ENABLE_ONEDNN_OPTS=0')}; definition: [1.5, inf]")
print(f"  VALID and a slice: grad_input = {sliced.tolist()}\n  explicit padding:  grad_input = {explicit.tolist()}")
raise SystemExit(1 if np.isnan(sliced[0]) else 0)
