# tconv-repro: framework=tensorflow versions=>=2.12
"""TensorFlow's Eigen transposed-conv kernels sum float16 in float16.

TensorFlow runs `tf.nn.conv2d_transpose` on oneDNN or on Eigen. It takes Eigen for explicit
padding pairs always, for every padding when oneDNN is off (TF_ENABLE_ONEDNN_OPTS=0, set here so
this runs the same on every CPU), and for float16 on CPUs without AVX512-FP16/AMX-FP16 (an AMD
EPYC, say: TF logs "oneDNN supports DT_HALF only on platforms with AVX-512. Falling back to the
default Eigen-based implementation"). On Eigen the float16 sums are formed in float16:
1. positive data (uniform [0, 1), 512 channels, 3x3): many ulps off the correctly rounded
   result in VALID, SAME and explicit padding alike (a float32 sum is within 1 ulp);
2. products below float16's subnormal range are lost: 256 channels x 3x3 taps of 1.5e-4 x 1.5e-4
   (each product 2.25e-8, under half the smallest float16 subnormal) sum to 5.18e-5 exactly, a
   normal float16, but the products round to 0 one by one;
3. a partial sum that overflows gives -inf where the exact result is finite (tconv's case
   dtypes.yaml::float16-overflow).

Exit status 1 while the Eigen path's float16 result is more than 2 ulps off in every padding mode.
"""

import os

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from _platform import describe  # noqa: E402

print(f"tensorflow {tf.__version__}; {describe('eigen (TF_ENABLE_ONEDNN_OPTS=0)')}")
rng = np.random.default_rng(0)
x = rng.random((1, 6, 6, 512)).astype(np.float16)   # NHWC, positive: errors cannot cancel
w = rng.random((3, 3, 2, 512)).astype(np.float16)   # (k, k, C_out, C_in)


def ulps(y: np.ndarray, exact: np.ndarray) -> float:
    spacing = np.spacing(np.abs(exact).astype(np.float16)).astype(np.float64)
    return float(np.max(np.abs(y.astype(np.float64) - exact) / spacing))


def run(xs, ws, dtype, padding, out_hw):
    n, c_out = xs.shape[0], ws.shape[2]
    stride = 1 if xs.shape[1] == 3 else 2
    return tf.nn.conv2d_transpose(tf.constant(xs, dtype), tf.constant(ws, dtype), [n, *out_hw, c_out], stride,
                                  padding).numpy()


modes = {"VALID": (13, 13), "SAME": (12, 12), "explicit [[1, 1], [1, 1]]": (11, 11)}
errors = {}
for name, hw in modes.items():
    padding = [[0, 0], [1, 1], [1, 1], [0, 0]] if name.startswith("explicit") else name
    exact = run(x, w, tf.float64, padding, hw)
    errors[name] = ulps(run(x, w, tf.float16, padding, hw), exact)
    print(f"  {name:26s} float16 max error {errors[name]:7.1f} ulp of the correctly rounded result")

tiny_x = np.full((1, 3, 3, 256), 1.5e-4, np.float16)
tiny_w = np.full((3, 3, 1, 256), 1.5e-4, np.float16)  # products ~2.25e-8: below float16's subnormals
small = run(tiny_x, tiny_w, tf.float16, "VALID", (5, 5))[0, 2, 2, 0]
small_exact = run(tiny_x, tiny_w, tf.float64, "VALID", (5, 5))[0, 2, 2, 0]
print(f"  256 products of {float(tiny_x.flat[0]):.3g} x {float(tiny_w.flat[0]):.3g}: float16 gives {float(small):.4g}, "
      f"exact {small_exact:.4g} (representable in float16: {float(np.float16(small_exact)):.4g})")
worst = min(errors.values())
raise SystemExit(1 if worst > 2.0 else 0)
