# tconv-repro: framework=nobuco versions=>=0.13
"""nobuco (0.17.0; its ConvTranspose converters are the same since 0.13) converts a PyTorch
ConvTranspose whose stride passes the (dilated) kernel to a Keras model with a longer output.

It converts `nn.ConvTranspose{1,2}d` to Keras' `ConvNDTranspose(padding='valid')` and slices
PyTorch's padding off; Keras' `valid` is `in * stride + max(k_eff - stride, 0)` long, so where
stride > dilation * (k - 1) + 1 it appends stride - k_eff zero positions that PyTorch's
`(in - 1) * stride + k_eff` does not have. `nn.ConvTranspose2d(1, 1, kernel_size=1, stride=3)` on
a 3x3 input: PyTorch 7x7, the converted model 9x9 (the same values, then zero rows and columns).

Exit status 1 while the converted model's output shape differs from PyTorch's, 0 once it agrees.
"""

import contextlib
import io
import os
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402


def torchvision_importable() -> None:
    """nobuco imports torchvision; PyPI's torchvision is the CUDA build, whose C++ ops do not load
    beside PyTorch's CPU build and whose import then fails ("operator torchvision::nms does not
    exist"): declare the two ops its import registers fake kernels for (none runs here)."""
    import importlib.util

    spec = importlib.util.find_spec("torchvision")
    folder = Path(next(iter(spec.submodule_search_locations))) if spec else None
    try:
        for library in sorted(folder.glob("_C*.so"))[:1] if folder else []:
            torch.ops.load_library(str(library))
    except OSError:
        for op in ("nms", "qnms"):
            torch.library.define(f"torchvision::{op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


torchvision_importable()
import nobuco  # noqa: E402

module = torch.nn.ConvTranspose2d(1, 1, kernel_size=1, stride=3, bias=False).eval()
with torch.no_grad():
    module.weight.fill_(1.0)
x = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), torch.no_grad():
    keras_model = nobuco.pytorch_to_keras(module, args=[x], inputs_channel_order=nobuco.ChannelOrder.PYTORCH,
                                          outputs_channel_order=nobuco.ChannelOrder.PYTORCH)
    want = module(x).numpy()
got = np.asarray(keras_model(x.numpy()))
print(f"ConvTranspose2d(kernel_size=1, stride=3) on 3x3: PyTorch {want.shape}, converted {got.shape}")
if got.shape != want.shape:
    print(f"  converted row 0: {got[0, 0, 0]}; PyTorch row 0: {want[0, 0, 0]}")
print(f"nobuco {version('nobuco')}, torch {torch.__version__}, tensorflow {tf.__version__}")
sys.exit(0 if got.shape == want.shape and np.allclose(got, want) else 1)
