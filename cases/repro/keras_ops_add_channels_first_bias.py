# tconv-repro: framework=keras versions=>=3.0
"""Keras 3 (TensorFlow backend): keras.ops.add ignores NumPy broadcasting for a bias-like operand.

`keras.ops.add(x, b)` with x of shape (N, C, H, W) and b of shape (C, 1, 1) should add b[c] to
channel c. When W == C the TensorFlow backend takes the operand for a channels-last bias
(`tf.nn.bias_add(..., data_format="NHWC")`) and adds b along the last axis instead. Found while
adding a bias after keras.ops.conv_transpose in channels-first layout; tconv's keras.ops adapter
now adds its bias channels-last.

Exit status 1 while keras.ops.add differs from NumPy's broadcasting.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

x = np.zeros((2, 3, 2, 3), np.float32)  # N, C, H, W with W == C
b = np.array([10, 20, 30], np.float32).reshape(3, 1, 1)
want = x + b
got = keras.ops.convert_to_numpy(keras.ops.add(x, b))
print(f"keras {keras.__version__} ({keras.backend.backend()}): channel 0 should be all 10")
print(" got channel 0:", got[0, 0].tolist())
raise SystemExit(0 if np.array_equal(got, want) else 1)
