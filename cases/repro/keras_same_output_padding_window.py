# tconv-repro: framework=keras versions=>=3.0
"""Keras 3 (TensorFlow backend): `same` with output_padding is not TensorFlow's SAME.

TensorFlow's SAME (and tconv's canonical `same`) gives `in * stride` outputs; PyTorch, asked for
the same window, agrees. Keras' Conv2DTranspose(padding="same", output_padding=op) instead makes
the output `(in - 1) * stride + k_eff % 2 + op` long (keras/src/backend/common/backend_utils.py)
and lets TF's SAME rule place it: for in=4, kernel 3, stride 3, op=1 that is 11, not 12; for
kernel 4, stride 2, op=1 it is 7, not 8. Where the length happens to be in*stride, the
window can still start elsewhere (tconv: padding.yaml::output-padding-same/stride=2,...

Exit status 1 while Keras' same + output_padding differs from TF's SAME window.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from _platform import describe  # noqa: E402

print(f"keras {keras.__version__}, tensorflow {tf.__version__}; {describe('TF SAME')}")
rng = np.random.default_rng(0)
differs = []
for kernel, stride in ((3, 3), (4, 2)):
    x = rng.standard_normal((1, 4, 4, 1)).astype(np.float32)
    w = rng.standard_normal((kernel, kernel, 1, 1)).astype(np.float32)
    layer = keras.layers.Conv2DTranspose(1, kernel, strides=stride, padding="same", output_padding=1, use_bias=False)
    layer.build(x.shape)
    layer.set_weights([w])
    keras_y = np.asarray(layer(x))
    tf_y = tf.nn.conv2d_transpose(x, w, [1, 4 * stride, 4 * stride, 1], stride, "SAME").numpy()
    same = keras_y.shape == tf_y.shape and np.allclose(keras_y, tf_y, atol=1e-5)
    print(f"  kernel {kernel}, stride {stride}, output_padding 1: Keras {keras_y.shape[1:3]}, "
          f"TF SAME {tf_y.shape[1:3]}, same values: {same}")
    differs.append(not same)
raise SystemExit(1 if any(differs) else 0)
