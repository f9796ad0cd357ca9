# tconv-repro: framework=litert_torch versions=>=0.10
"""litert-torch (PyTorch -> LiteRT): transposed convolutions converted to wrong models, and a crash.

1. `nn.ConvTranspose1d(1, 1, 3, stride=2, padding=1)` (the 1-D 2x upsampling layer) becomes
   RESHAPE, RESIZE_BILINEAR, ADD: the layer's weights are dropped and the model interpolates.
   x = [1, 2, 3] with weights [1, 10, 100] gives [1, 1.5, 2, 2.5, 3]; PyTorch [10, 102, 20, 203, 30].
2. litert-torch lowers `output_padding` as zeros padded after the convolution (TRANSPOSE_CONV,
   then PAD), but with `padding` > 0 the positions output_padding adds hold computed values:
   `nn.ConvTranspose1d(1, 1, 4, stride=2, padding=1, output_padding=1)` on x = [1, 2, 3] with
   weights [1, 10, 100, 1000] ends in 0 where PyTorch gives 3000.
3. Converting a grouped 3-D layer, `nn.ConvTranspose3d(4, 4, 2, groups=2)`, kills the process
   with SIGSEGV inside `litert_torch.convert` (run here in a child process).
4. Zero output channels, `nn.ConvTranspose2d(2, 0, 2)` (PyTorch's shape rule: an empty result),
   converts, and the interpreter refuses the model at prepare (TRANSPOSE_CONV:
   "SizeOfDimension(weights, 0) > 0 was not true").

Exit status 1 while a model is wrong, refused or the conversion crashes, 0 once all four give
PyTorch's answer.
"""

import contextlib
import io
import signal
import subprocess
import sys
import warnings

import numpy as np
import torch

import litert_torch


def converted_result(layer: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        model = litert_torch.convert(layer.eval(), (x,))
    return np.asarray(model(x))  # runs the flatbuffer in ai_edge_litert's interpreter


def layer(kernel: list[float], **options: int) -> torch.nn.Module:
    conv = torch.nn.ConvTranspose1d(1, 1, len(kernel), bias=False, **options)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[kernel]]))
    return conv


x = torch.tensor([[[1.0, 2.0, 3.0]]])
wrong = False
for kernel, options in (([1.0, 10.0, 100.0], {"stride": 2, "padding": 1}),
                        ([1.0, 10.0, 100.0, 1000.0], {"stride": 2, "padding": 1, "output_padding": 1})):
    conv = layer(kernel, **options)
    want = conv(x).detach().numpy().ravel()
    got = converted_result(conv, x).ravel()
    print(f"litert-torch {litert_torch.__version__}, ConvTranspose1d(k={len(kernel)}, {options}): "
          f"LiteRT {got.tolist()}, PyTorch {want.tolist()}")
    wrong |= not np.allclose(got, want)

empty = torch.nn.ConvTranspose2d(2, 0, 2).eval()
x = torch.ones(1, 2, 3, 3)
try:
    got = converted_result(empty, x)
    print("ConvTranspose2d(2, 0, 2): LiteRT shape", got.shape, "PyTorch (1, 0, 4, 4)")
    wrong |= got.shape != (1, 0, 4, 4)
except RuntimeError as error:
    print(f"ConvTranspose2d(2, 0, 2): {' '.join(str(error).split())[:160]}")
    wrong = True

GROUPED_3D = """
import contextlib, io, warnings
import torch
import litert_torch
warnings.simplefilter("ignore")
layer = torch.nn.ConvTranspose3d(4, 4, 2, groups=2).eval()
x = torch.randn(1, 4, 3, 3, 3)
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    model = litert_torch.convert(layer, (x,))
print(float(abs(model(x) - layer(x).detach().numpy()).max()))
"""
child = subprocess.run([sys.executable, "-c", GROUPED_3D], capture_output=True, text=True, timeout=240)
if child.returncode == -signal.SIGSEGV:
    print("ConvTranspose3d(4, 4, 2, groups=2): litert_torch.convert killed by SIGSEGV")
    wrong = True
else:
    print(f"ConvTranspose3d(4, 4, 2, groups=2): exit {child.returncode}, max abs error {child.stdout.strip()}")
    wrong |= child.returncode != 0 or float(child.stdout.strip() or "inf") > 1e-5
raise SystemExit(1 if wrong else 0)
