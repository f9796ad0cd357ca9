# tconv-repro: framework=tensorflow versions=>=2.12
"""TensorFlow's Eigen transposed-conv kernels refuse dilation > 1.

`tf.nn.conv2d_transpose(..., dilations=2)` runs on oneDNN (float32, and float16/bfloat16 where
TF hands them to oneDNN) but raises "Current CPU implementations do not yet support dilation
rates larger than 1" on TensorFlow's Eigen kernels: always for float64, for every dtype with
oneDNN off (TF_ENABLE_ONEDNN_OPTS=0, set here so this runs the same on every CPU), and for
float16 on CPUs without AVX512-FP16/AMX-FP16. The same call's answer thus depends on the CPU.

The same Eigen kernel refuses C_out = 0 ("filter depth must be strictly greated than zero"),
which the oneDNN path computes (an empty result); printed, not part of the exit status.

Exit status 1 while the Eigen path refuses a dilated float32 transposed conv.
"""

import os

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from _platform import describe  # noqa: E402

print(f"tensorflow {tf.__version__}; {describe('eigen (TF_ENABLE_ONEDNN_OPTS=0)')}")
refused = []
for dtype in (tf.float16, tf.float32, tf.float64):
    try:
        tf.nn.conv2d_transpose(tf.ones([1, 2, 2, 1], dtype), tf.ones([2, 2, 1, 1], dtype), [1, 4, 4, 1], 1, "VALID",
                               dilations=2)
        print(f"  {dtype.name}: ran")
    except Exception as error:  # noqa: BLE001
        refused.append(dtype)
        print(f"  {dtype.name}: {type(error).__name__}: {' '.join(str(error).split('}}')[-1].split())[:120]}")
try:  # the same kernel also refuses an empty C_out, which oneDNN computes
    tf.nn.conv2d_transpose(tf.ones([1, 2, 2, 1]), tf.ones([2, 2, 0, 1]), [1, 3, 3, 0], 1, "VALID")
    print("  C_out = 0: ran")
except Exception as error:  # noqa: BLE001
    print(f"  C_out = 0: {type(error).__name__}: {' '.join(str(error).split('}}')[-1].split())[:120]}")
raise SystemExit(1 if tf.float32 in refused else 0)
