# tconv-repro: framework=tinygrad versions=>=0.10
"""tinygrad `Tensor.conv_transpose2d` raises ZeroDivisionError when C_out = 0.

The canonical answer of a transposed conv with no output channels is an empty array of shape
(N, 0, *L_out); tinygrad's own `conv2d` computes the empty forward conv, and its
`conv_transpose2d` of an empty batch or of zero input channels works. With a weight
(C_in, 0, *k), conv_transpose2d first does `weight.unflatten(0, (groups, -1))`, and the reshape
computes the -1 as `-prod(shape) // prod(new_shape)`, a division by the 0 of the other
dimension: ZeroDivisionError, with or without groups, in 1-D and 2-D.

x (1, 2, 3), w (2, 0, 2) [1-D, C_in 2, C_out 0]: should give a (1, 0, 4) array.

Exit status 1 while conv_transpose2d raises on C_out = 0, 0 once it returns the empty result.
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
x = Tensor(np.ones((1, 2, 3), np.float32), device=dev)
print(f"  conv2d with C_out = 0: {x.conv2d(Tensor(np.ones((0, 2, 2), np.float32), device=dev)).numpy().shape}")
print(f"  conv_transpose2d with N = 0: "
      f"{Tensor(np.ones((0, 2, 3), np.float32), device=dev).conv_transpose2d(Tensor(np.ones((2, 1, 2), np.float32), device=dev)).numpy().shape}")
try:
    y = x.conv_transpose2d(Tensor(np.ones((2, 0, 2), np.float32), device=dev)).numpy()
except ZeroDivisionError as error:
    print(f"  conv_transpose2d with C_out = 0: ZeroDivisionError: {error} (expected shape (1, 0, 4))")
    raise SystemExit(1) from None
print(f"  conv_transpose2d with C_out = 0: {y.shape} (expected (1, 0, 4))")
raise SystemExit(0 if y.shape == (1, 0, 4) else 1)
