# tconv-repro: framework=tensorflow versions=>=2.16
"""TensorFlow's gradient of conv2d_transpose with respect to its input, for an empty batch.

x of shape (0, 1, 1, 1) (NHWC: N = 0), filter (1, 1, 1, 1), strides [1, 2], SAME, output
(0, 1, 2, 1). The gradient with respect to x must have x's shape, (0, 1, 1, 1); TensorFlow's
GradientTape returns a tensor of the output's shape, (0, 1, 2, 1) (Keras layers and keras.ops
on TensorFlow inherit it). With N = 1 the shape is right, and so is N = 0 on TensorFlow's Eigen
kernels (TF_ENABLE_ONEDNN_OPTS=0): the oneDNN path's convolution gets the shape wrong. This
script turns oneDNN on (TensorFlow's default on x86) to show it on every CPU. A training step on an empty batch
(the last, partial batch of a dataset filtered to nothing) then fails with a shape error where
the gradient is applied or accumulated.

Exit status 1 while the shape is wrong.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import tensorflow as tf  # noqa: E402 - after the switch
from _platform import describe  # noqa: E402

print(f"tensorflow {tf.__version__}; {describe('tf.nn.conv2d_transpose gradient')}")
wrong = False
for batch in (1, 0):
    x = tf.zeros((batch, 1, 1, 1))
    w = tf.ones((1, 1, 1, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.conv2d_transpose(x, w, [batch, 1, 2, 1], [1, 2], padding="SAME")
    grad = tape.gradient(y, x, output_gradients=tf.ones_like(y))
    print(f"N = {batch}: x {tuple(x.shape)}, y {tuple(y.shape)}, d/dx {tuple(grad.shape)}")
    wrong |= tuple(grad.shape) != tuple(x.shape)
raise SystemExit(1 if wrong else 0)
