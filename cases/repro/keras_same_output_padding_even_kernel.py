# tconv-repro: framework=keras versions=>=3.0
"""Keras 3 (TensorFlow backend): Conv2DTranspose(padding="same", output_padding=0) with an even
kernel crashes.

Keras computes the output size for `same` with an explicit output_padding as
`(in - 1) * stride + kernel % 2 + output_padding` (backend_utils), here (3 - 1) * 2 + 0 + 0 = 4,
and hands it to tf.nn.conv2d_transpose with SAME, whose forward conv maps 4 back to 2, not 3:
TensorFlow's oneDNN kernel aborts ("could not create a primitive descriptor"). output_padding=0
is documented as valid (it must be < stride). PyTorch's formula gives (3-1)*2 - 2*0 + 2 + 0 = 6.

Exit status 1 while the layer raises.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

x = np.arange(18, dtype=np.float32).reshape(1, 3, 3, 2)
layer = keras.layers.Conv2DTranspose(4, kernel_size=2, strides=2, padding="same", output_padding=0)
try:
    y = layer(x)
except Exception as error:  # noqa: BLE001
    print(f"keras {keras.__version__}: {type(error).__name__}: {' '.join(str(error).split())[:240]}")
    raise SystemExit(1)
print(f"keras {keras.__version__}: output shape {tuple(y.shape)}")
raise SystemExit(0)
