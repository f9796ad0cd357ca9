# tconv-repro: framework=jax versions=>=0.10
"""JAX (XLA CPU): the input gradient of a convolution whose padding leaves no input element under
any window kills the process with SIGSEGV, or returns nonzero values, with 17 or more channels.

Found by `tconv fuzz --large --special` (seed 351; both JAX adapters): a transposed convolution of one
input position, a 1 x 1 kernel, 17 output channels, output_padding 2 and an output window that lies
wholly in the appended positions, sent to JAX as the padding pair (-1, 2): the forward result reads no
input (it is the bias alone) and is right, and `jax.vjp`'s input gradient, which is zero by
definition, killed the worker. Scripted alone on `jax.lax.conv_general_dilated`, NCHW/OIHW, stride 1:
x (1, 1, 1, 1), w (17, 1, 1, 1), padding [(-1, 2), (0, 0)] dies by SIGSEGV in `jax.vjp`'s input
gradient (the kernel gradient alone returns zeros); padding [(-1, 1), (0, 0)] gives the input
gradient 2.095 where it is 0. Measured in float32 over x of 1-3 positions and every pair of -3..3 in
that dim (the others (0, 0)): with 17 channels (input or output), 10 of the 22 pairs that leave no
input under a window die and 5 give nonzero values; with 16 channels all 22 give zeros; no pair that
leaves an input under a window dies (58). JAX's CPU convolutions above 16 channels take another
kernel; openxla/xla#48713 and its open fix (#48748: Eigen's spatial convolution "crops an entire
dimension ... SIGSEGV ... when vectorizing across wide channel dimensions") describe this code.

The crashing layer runs in a child process. Exit status 1 while that process dies by a signal or
the other layer's input gradient is not zero.
"""

import jax
import numpy as np
from _platform import describe, dies_by_signal


def input_gradient(channels: int, padding: tuple[int, int]) -> np.ndarray:
    """d(sum(u * conv(x, w)))/dx by `jax.vjp`, x (1, 1, 1, 1), w (channels, 1, 1, 1), in float32."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 1, 1, 1)).astype("float32"), rng.standard_normal((channels, 1, 1, 1)).astype("float32")

    def conv(x):  # noqa: ANN001, ANN202
        return jax.lax.conv_general_dilated(x, w, (1, 1), [padding, (0, 0)], dimension_numbers=("NCHW", "OIHW", "NCHW"))

    y, pullback = jax.vjp(conv, x)
    return np.asarray(pullback(rng.standard_normal(y.shape).astype("float32"))[0])


LAYER = """
import jax, numpy as np
x, w = np.ones((1, 1, 1, 1), np.float32), np.ones((17, 1, 1, 1), np.float32)
conv = lambda x: jax.lax.conv_general_dilated(x, w, (1, 1), [(-1, 2), (0, 0)], dimension_numbers=("NCHW", "OIHW", "NCHW"))
y, pullback = jax.vjp(conv, x)
print("input gradient, 17 channels, padding (-1, 2):", np.asarray(pullback(np.ones(y.shape, np.float32))[0]).ravel().tolist())
"""

print(f"jax {jax.__version__}; {describe('XLA CPU')}")
found = dies_by_signal(LAYER) == 1
for channels in (16, 17):
    got = input_gradient(channels, (-1, 1))
    wrong = bool(np.any(got != 0))
    found |= wrong
    print(f"  input gradient, {channels} channels, padding (-1, 1): {got.ravel().tolist()} (0 by definition)"
          f"{'  <- wrong' if wrong else ''}")
raise SystemExit(1 if found else 0)
