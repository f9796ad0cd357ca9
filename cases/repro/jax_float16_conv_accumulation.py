# tconv-repro: framework=jax versions=>=0.4.31,<0.7.2 requires=avx512_fp16
"""JAX on the CPU: jax/jaxlib 0.4.31 to 0.7.1 sum float16 convolutions in float16.

tconv's case dtypes.yaml::float16-overflow: a float16 transposed convolution (stride 2, padding
1) whose exact result is at least -56736, inside float16's range. Summed in float32 and rounded
once, as JAX 0.4.30 and 0.7.2 onwards do, the result is finite; 0.4.31 to 0.7.1 return -inf
(a float16 partial sum overflowed), and other float16 cases come out an ulp or two further off.
Measured on a CPU with AVX512-FP16 (a Xeon); the window matches XLA:CPU running float16
convolutions natively through oneDNN (openxla/xla#14426), so CPUs without FP16 arithmetic may
not show it.

Exit status 1 while the float16 result holds an inf where the exact result is finite.
"""

import jax
import numpy as np

x = np.array([[[[104.0, 237.25, 178.75], [197.625, 113.5, 168.375], [227.125, 112.375, 153.75]],
               [[203.875, 214.125, 181.875], [198.625, 186.25, 146.125], [174.0, 164.25, 219.25]]]])
w = np.array([[[[140.75, 218.0, -211.75], [86.25, 166.25, 143.625], [-108.3125, 53.90625, 104.5]],
               [[248.375, -54.53125, 90.0625], [26.015625, 137.0, -201.875], [-164.625, -193.25, -147.0]]],
              [[[173.875, -234.0, 190.125], [246.375, 179.125, 51.40625], [87.5625, -115.4375, 162.5]],
               [[-126.25, 116.4375, -182.375], [21.359375, -90.8125, 45.875], [164.625, 155.5, -102.75]]]])


def transposed(dtype):
    """(C_in, C_out, k, k) kernel, stride 2, one position cropped on each side (PyTorch padding=1)."""
    y = jax.lax.conv_transpose(jax.numpy.asarray(x, dtype), jax.numpy.asarray(w, dtype), (2, 2),
                               [(1, 1), (1, 1)], dimension_numbers=("NCHW", "OIHW", "NCHW"), transpose_kernel=True)
    return np.asarray(y, np.float64)


wide, half = transposed("float32"), transposed("float16")
# inf is right where the exact value is beyond float16's 65504; anywhere else it is an overflow inside.
spurious = ~np.isfinite(half) & (np.abs(wide) <= 65504)
print(f"jax {jax.__version__}: {int(spurious.sum())} float16 value(s) inf where the exact result is finite"
      + (f", e.g. {wide[spurious][0]:.0f}" if spurious.any() else ""))
raise SystemExit(1 if spurious.any() else 0)
