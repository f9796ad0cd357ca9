# tconv-repro: framework=tensorflow versions=>=2.21 requires=amx_bf16
"""TensorFlow's bfloat16 conv3d_transpose on oneDNN's AMX kernels leaves the output_padding positions unwritten.

Finding 69 (PyTorch's is torch_amx_bfloat16_output_padding_garbage.py), found by `tconv fuzz --special`
(seed 91) on an Intel Xeon with AMX-BF16. `tf.nn.conv3d_transpose` of x (1, 1, 1, 3, 1) (NDHWC) with a
filter (2, 1, 8, 1, 1), strides (2, 1, 1), dilations (1, 1, 2), VALID, output_shape (1, 3, 1, 17, 1):
depth 3 is one longer than (1 - 1) * 2 + 2, so depth position 2 is the output_padding, zeros by the
definition (no tap lands there). On oneDNN's AMX kernel (TensorFlow's default path on x86) most calls
fill it with garbage, values up to 1.7e38, as if the memory was never written: 197 of 200 calls here;
none of 200 with oneDNN capped below AMX (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16). Eigen
(TF_ENABLE_ONEDNN_OPTS=0) refuses the dilation. A 3-D layer of 2 input and 4 output channels without
the dilation shows it too (50 of 50 calls); the 2-D layers tried did not.

The layer runs 200 times. Exit status 1 while any result has a non-zero value in the output_padding.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf
from _platform import describe

print(f"tensorflow {tf.__version__}; {describe('oneDNN, bfloat16')}")
rng = np.random.default_rng(0)
x = tf.constant(rng.standard_normal((1, 1, 1, 3, 1)), tf.bfloat16)
w = tf.constant(rng.standard_normal((2, 1, 8, 1, 1)), tf.bfloat16)
garbage = []
for _ in range(200):
    y = tf.nn.conv3d_transpose(x, w, [1, 3, 1, 17, 1], strides=[1, 2, 1, 1, 1], padding="VALID", dilations=[1, 1, 1, 2, 1])
    region = tf.cast(y, tf.float32).numpy()[:, 2]
    if (region != 0).any():
        garbage.append(float(np.abs(region).max()))
print(f"calls with garbage in the output_padding: {len(garbage)} of 200" + (f", up to {max(garbage):.3g}" if garbage else ""))
raise SystemExit(1 if garbage else 0)
