# tconv-repro: framework=keras versions=<3.11
"""Keras 3 before 3.11: ConvNDTranspose layers refuse output_padding values of 0.

`keras.layers.Conv2DTranspose(..., strides=2, output_padding=(0, 1))` raises "values {0} that do
not satisfy `value > 0`", although output_padding must only be below the stride (and
`keras.ops.conv_transpose` takes the same value). Keras 2 accepted it. Fixed in Keras 3.11
(keras-team/keras#21383; issues #19870, #20408).

Exit status 1 while the layer refuses it.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

try:
    layer = keras.layers.Conv2DTranspose(2, kernel_size=3, strides=2, output_padding=(0, 1))
    y = layer(np.zeros((1, 4, 4, 1), np.float32))
except ValueError as error:
    print(f"keras {keras.__version__}: ValueError: {' '.join(str(error).split())[:200]}")
    raise SystemExit(1)
print(f"keras {keras.__version__}: output shape {tuple(y.shape)} (expected (1, 9, 10, 2))")
raise SystemExit(0)
