# tconv-repro: framework=jax versions=>=0.10
"""JAX (XLA CPU): a 1-D or 2-D convolution whose padding shifts the window, and its kernel gradient,
are wrong in float32, float16 and bfloat16.

Found by `tconv fuzz` (seed 181) on tconv's jax.conv_general_dilated and jax.conv_transpose adapters:
a transposed convolution with a one-tap kernel, `same` padding and output_padding (0, 2) crops one
position at the start of the width, which JAX is sent as the padding pair (-1, 1). Scripted alone on
`jax.lax.conv_general_dilated`: x (1, 2, 2, 4), w (2, 2, 1, 1) (NCHW/OIHW), stride 1, padding
[(0, 0), (-1, 1)]. The forward result and the input gradient are right; the kernel gradient of
`jax.vjp` differs from the float64 one (and from central differences of the float32 forward) by up to
about the size of the gradient itself, and under `jax.jit` some of its elements come out as values
such as 1e25, or NaN, that change from run to run (as if read from memory never written). Measured here (2-D, 2 input and 2 output channels, kernels of 1 x 1
to 3 x 3): a pair (-a, b) with 0 < b <= a in either spatial dim gives it ((-1, 1), (-2, 1), (-2, 2));
(-1, 2), (1, -1), (-1, 0) are right, and so are one input or one output channel, 1-D and 3-D,
lhs_dilation 2 in that dim, and float64. bfloat16 gives float32's wrong values.

Widened by `tconv fuzz --large` (seed 301: a 2-D bfloat16 layer of one channel, width 15, kernel (1, 4),
sent the pair (-10, 3)) and a grid of 924 layers in float32 against float64 (1-D to 3-D, 1-2 input and
output channels, kernels of 1-4 taps, widths 4-16, nine padding pairs): the channel counts and 1-D
above were too narrow. Every wrong result has a shifted pair; 1-D and 2-D both show it, in the forward
result too (below: x (2, 2, 4), w (2, 2, 4), padding [(-1, 1)] gives the same wrong values on every
call) and in the kernel gradient of one input and one output channel (2-D, kernel (1, 4), width 9);
no input gradient, no 3-D layer and no other pair was wrong.

The forward convolution has it too, with other channel counts: openxla/xla#48713 (open) reports
it for f32 convolutions with a negative low and a positive high padding of at most |low| ("reads
outside the input buffer"; Eigen's path, >16 channels take YNNPACK's and are right). Here x (1, 8,
15, 6), w (8, 8, 1, 1), padding [(0, 0), (-2, 1)] gives values up to ~1e26 in float32; 2 or 20
channels are right.

Exit status 1 while a float32 result differs from the float64 one.
"""

import sys

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
from _platform import describe  # noqa: E402

PADDING = [(0, 0), (-1, 1)]


def kernel_gradient(x, w, u, *, jit: bool = False) -> np.ndarray:  # noqa: ANN001
    """d(sum(u * conv(x, w)))/dw by `jax.vjp`, NCHW/OIHW, stride 1."""
    def conv(w):  # noqa: ANN001, ANN202
        return jax.lax.conv_general_dilated(x, w, (1, 1), PADDING, dimension_numbers=("NCHW", "OIHW", "NCHW"))

    def pullback(u):  # noqa: ANN001, ANN202
        return jax.vjp(conv, w)[1](u)[0]

    return np.asarray((jax.jit(pullback) if jit else pullback)(u), np.float64)


rng = np.random.default_rng(0)
x, w = rng.standard_normal((1, 2, 2, 4)), rng.standard_normal((2, 2, 1, 1))
u = rng.standard_normal((1, 2, 2, 4))  # the output keeps the input's size: (-1, 1) shifts it by one
wanted = kernel_gradient(x, w, u)
print(f"jax {jax.__version__}; {describe('XLA CPU')}")
print(f"  float64: {np.round(wanted.ravel(), 4).tolist()}")
found = False
for dtype in ("float32", "float16"):
    for jit in (False, True):
        got = kernel_gradient(x.astype(dtype), w.astype(dtype), u.astype(dtype), jit=jit)
        wrong = not np.allclose(got, wanted, rtol=0.02, atol=0.02)
        found |= wrong
        print(f"  {dtype}{' under jit' if jit else ''}: {np.round(got.ravel(), 4).tolist()}{'  <- wrong' if wrong else ''}")
x8, w8 = rng.standard_normal((1, 8, 15, 6)), rng.standard_normal((8, 8, 1, 1))


def forward(x, w) -> np.ndarray:  # noqa: ANN001
    return np.asarray(jax.lax.conv_general_dilated(x, w, (1, 1), [(0, 0), (-2, 1)],
                                                   dimension_numbers=("NCHW", "OIHW", "NCHW")), np.float64)


error = float(np.abs(forward(x8.astype("float32"), w8.astype("float32")) - forward(x8, w8)).max())
found |= not error < 1e-3
print(f"  forward, 8 channels, padding (-2, 1): float32's largest error {error:.3g}{'  <- wrong' if not error < 1e-3 else ''}")

# 1-D: the forward result, two channels, a 4-tap kernel, padding (-1, 1) (one output position), against
# NumPy: drop the first input position, append one zero, and take the one window
rng1 = np.random.default_rng(0)
x1, w1 = rng1.standard_normal((2, 2, 4)), rng1.standard_normal((2, 2, 4))
numpy_result = np.einsum("nck,ock->no", np.pad(x1[:, :, 1:], ((0, 0), (0, 0), (0, 1))), w1)
for dtype in ("float64", "float32"):
    got = np.asarray(jax.lax.conv_general_dilated(x1.astype(dtype), w1.astype(dtype), (1,), [(-1, 1)],
                                                  dimension_numbers=("NCH", "OIH", "NCH")), np.float64)[..., 0]
    wrong = not np.allclose(got, numpy_result, rtol=1e-3, atol=1e-3)
    found |= wrong and dtype == "float32"
    print(f"  1-D forward, {dtype}: {np.round(got.ravel(), 3).tolist()} for {np.round(numpy_result.ravel(), 3).tolist()}"
          f"{'  <- wrong' if wrong else ''}")

# 2-D, one input and one output channel: the kernel gradient's last tap (the one that meets the appended
# zero) is wrong
rng2 = np.random.default_rng(0)
x2, w2, u2 = rng2.standard_normal((1, 1, 2, 9)), rng2.standard_normal((1, 1, 1, 4)), rng2.standard_normal((1, 1, 2, 6))
wanted2 = kernel_gradient(x2, w2, u2)
got2 = kernel_gradient(x2.astype("float32"), w2.astype("float32"), u2.astype("float32"))
wrong = not np.allclose(got2, wanted2, rtol=1e-3, atol=1e-3)
found |= wrong
print(f"  one channel, kernel (1, 4): float32 {np.round(got2.ravel(), 3).tolist()} for float64's "
      f"{np.round(wanted2.ravel(), 3).tolist()}{'  <- wrong' if wrong else ''}")
sys.exit(1 if found else 0)
