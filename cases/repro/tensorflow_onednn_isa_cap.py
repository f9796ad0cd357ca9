# tconv-repro: framework=tensorflow versions=>=2.12 requires=avx512f
"""TensorFlow hands bfloat16/float16 to oneDNN by CPUID, not by oneDNN's own ISA cap.

`ONEDNN_MAX_CPU_ISA=AVX2` (oneDNN's documented switch to take an older CPU's kernels) caps what
oneDNN may use, but TensorFlow's rule for giving a dtype to oneDNN reads the CPU's features
(bfloat16: AVX-512F): the transposed conv is still rewritten to _MklNativeConv2DBackpropInput,
oneDNN cannot build a bfloat16 primitive at AVX2, and the op aborts ("could not create a
primitive descriptor") instead of falling back to Eigen as TF does on a real AVX2 CPU.
Needs a CPU with AVX-512F (else TF takes Eigen for bfloat16 and nothing aborts).

Exit status 1 while the capped run aborts.
"""

import os

os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
os.environ.pop("TF_ENABLE_ONEDNN_OPTS", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from _platform import describe  # noqa: E402

print(f"tensorflow {tf.__version__}; {describe('onednn capped at AVX2')}")
try:
    y = tf.nn.conv2d_transpose(tf.ones([1, 2, 2, 1], tf.bfloat16), tf.ones([2, 2, 1, 1], tf.bfloat16), [1, 4, 4, 1], 2,
                               "VALID")
    print(f"  bfloat16 ran: shape {tuple(y.shape)}")
    raise SystemExit(0)
except tf.errors.OpError as error:
    print(f"  bfloat16: {type(error).__name__}: {' '.join(str(error).split('message:')[-1].split())[:110]}")
    raise SystemExit(1)
