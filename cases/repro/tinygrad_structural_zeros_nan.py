# tconv-repro: framework=tinygrad versions=>=0.10
"""NaN from 0*inf at structural zeros: tinygrad's conv_transpose2d multiplies zeros the definition skips.

A transposed convolution sums x[i] * w[j] over the real pairs landing on an output position.
tinygrad's `Tensor.conv_transpose2d` inserts stride - 1 zeros between the input values, pads,
and runs `conv2d` with the flipped, dilated kernel. Where its generated kernel does not fold
those zeros away, they are multiplied by the kernel taps: harmless for finite kernels, NaN
(0 * inf) next to an inf tap (as JAX and TensorFlow: `structural_zeros_nan.py`; PyTorch and
ONNX Runtime give the definition's answer). Whether the zeros are folded away depends on the
shape: with the data below, stride 2 with dilation 2 and stride 3 give NaN, stride 2 or
dilation 2 alone do not.

1-D, input [0, 2, 3], kernel (C_in=1, C_out=2) [[-3, inf, 2], [2, 0, -1]], stride 2, dilation 2:
output channel 0 at position 1 reads no real pair (a hole between taps): exactly 0.

Exit status 1 while tinygrad returns NaN at an output whose exact value is finite.
"""

import os
import shutil
from importlib.metadata import version

import numpy as np
from _platform import describe
from tinygrad import Device, Tensor


def device() -> str:
    """tinygrad's CPU device needs clang; the PYTHON device (its interpreter) needs nothing."""
    if os.environ.get("DEV"):
        return os.environ["DEV"]
    if shutil.which(os.environ.get("CC") or "clang") is None:  # CPU may open from tinygrad's disk cache
        return "PYTHON"
    try:
        Device["CPU"]
        return "CPU"
    except Exception:  # noqa: BLE001 - no clang here
        return "PYTHON"


dev = device()
print(f"tinygrad {version('tinygrad')}; {describe(dev)}")
x = np.array([[[0.0, 2.0, 3.0]]], np.float32)
w = np.array([[[-3.0, np.inf, 2.0], [2.0, 0.0, -1.0]]], np.float32)  # (C_in, C_out, k)
# exact answer by the definition: scatter the real pairs only
exact = np.zeros((1, 2, (3 - 1) * 2 + 2 * (3 - 1) + 1))
for i in range(3):
    for o in range(2):
        for j in range(3):
            with np.errstate(invalid="ignore"):  # 0 * inf of a *real* pair is NaN by definition too
                exact[0, o, i * 2 + j * 2] += float(x[0, 0, i]) * float(w[0, o, j])
y = Tensor(x, device=dev).conv_transpose2d(Tensor(w, device=dev), stride=2, dilation=2).numpy()
print(f"  exact:    {exact[0].tolist()}")
print(f"  tinygrad: {y[0].tolist()}")
spurious = np.isnan(y) & ~np.isnan(exact)
print(f"  NaN where the exact value is not NaN: {int(spurious.sum())} element(s)")
raise SystemExit(1 if spurious.any() else 0)
