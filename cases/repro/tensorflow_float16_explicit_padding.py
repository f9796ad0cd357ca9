# tconv-repro: framework=tensorflow versions=>=2.12
"""TensorFlow: conv2d_transpose in float16 loses precision with explicit padding.

With padding 'VALID' or 'SAME' the float16 result is the exact result correctly rounded (the
sums are formed in float32). With explicit padding the CPU kernel sums in float16: errors of
many ulps, and -inf where a partial sum overflows although the exact result (and PyTorch's
float16 result) is finite.

Exit status 1 while the explicit-padding result is less accurate than VALID's, 0 otherwise.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 5, 4, 4)).astype(np.float16)   # NHWC
w = rng.standard_normal((3, 3, 3, 4)).astype(np.float16)   # (k, k, C_out, C_in)


def ulps(y: np.ndarray, exact: np.ndarray) -> float:
    return float(np.max(np.abs(y.astype(np.float64) - exact) / np.spacing(np.abs(exact).astype(np.float16)).astype(np.float64)))


def run(dtype, padding, out_hw):
    return tf.nn.conv2d_transpose(tf.constant(x, dtype), tf.constant(w, dtype), [2, *out_hw, 3], 2, padding).numpy()


valid_exact = run(tf.float64, "VALID", (11, 9))
valid = run(tf.float16, "VALID", (11, 9))
explicit_exact = run(tf.float64, [[0, 0], [1, 1], [1, 1], [0, 0]], (9, 7))
explicit = run(tf.float16, [[0, 0], [1, 1], [1, 1], [0, 0]], (9, 7))
err_valid, err_explicit = ulps(valid, valid_exact), ulps(explicit, explicit_exact)
print(f"tensorflow {tf.__version__}: float16 max error VALID {err_valid:.2f} ulp, explicit padding {err_explicit:.2f} ulp")
print("(tconv's case dtypes.yaml::float16-overflow shows the -inf of a float16 partial sum)")
raise SystemExit(1 if err_explicit > max(1.0, 2 * err_valid) else 0)
