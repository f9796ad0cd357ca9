# tconv-repro: framework=tensorflow versions=>=2.21 requires=amx_bf16
"""TensorFlow's bfloat16 conv2d_transpose with a dilated kernel crashes the process on oneDNN's AMX kernels.

Found by `tconv fuzz` on an Intel Xeon with AMX-BF16, through Keras' layer and op and tf.nn alike.
x (1, 1, 5, 1) NHWC, a 2 x 1 kernel, dilations (3, 1), padding SAME, output (1, 1, 5, 1): the
process is killed by SIGSEGV. In float16 and float32, and in bfloat16 with oneDNN capped below
AMX (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16), it returns the result (zeros: no tap of the dilated
kernel lands on the one input row). With oneDNN off (TF_ENABLE_ONEDNN_OPTS=0) Eigen refuses
dilation > 1 on the CPU instead.

The layer runs in a child process. Exit status 1 while that process dies by a signal, 0 once it
returns the result.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # the child inherits it: oneDNN, TensorFlow's default on x86
import tensorflow as tf  # noqa: E402
from _platform import describe, dies_by_signal  # noqa: E402

LAYER = """
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
x = tf.cast(np.random.default_rng(0).standard_normal((1, 1, 5, 1)).astype(np.float32), tf.bfloat16)
w = tf.cast(np.random.default_rng(1).standard_normal((2, 1, 1, 1)).astype(np.float32), tf.bfloat16)
y = tf.nn.conv2d_transpose(x, w, [1, 1, 5, 1], strides=1, padding="SAME", dilations=[3, 1])
print("result:", tf.cast(y, tf.float32).numpy().ravel().tolist())
"""

print(f"tensorflow {tf.__version__}; {describe('oneDNN, bfloat16')}")
raise SystemExit(dies_by_signal(LAYER))
