# tconv-repro: framework=nobuco versions=>=0.13
"""nobuco (0.17.0; its ConvTranspose converters are the same since 0.13) converts a float16 or a
float64 PyTorch ConvTranspose to a float32 Keras model.

Its converter builds `keras.layers.ConvNDTranspose` without a dtype, so the layer takes Keras'
default float32 whatever the module's dtype: a float16 module's converted model returns float32
(and sums in float32), a float64 one returns float32, float32-accurate. (bfloat16 modules do not
convert at all: the converter's `weight.numpy()` has no bfloat16.)

Exit status 1 while the converted model of a float16 or float64 module returns float32, 0 once
it keeps the module's dtype.
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

kept = True
for dtype in (torch.float16, torch.float64):
    module = torch.nn.ConvTranspose2d(1, 1, kernel_size=2, stride=2, dtype=dtype).eval()
    x = torch.ones(1, 1, 2, 2, dtype=dtype)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), torch.no_grad():
        keras_model = nobuco.pytorch_to_keras(module, args=[x], inputs_channel_order=nobuco.ChannelOrder.PYTORCH,
                                              outputs_channel_order=nobuco.ChannelOrder.PYTORCH)
        want = module(x)
    got = np.asarray(keras_model(x.numpy()))
    print(f"{str(dtype).removeprefix('torch.')} module: PyTorch returns {str(want.dtype).removeprefix('torch.')}, "
          f"the converted model {got.dtype}")
    kept &= got.dtype == x.numpy().dtype
print(f"nobuco {version('nobuco')}, torch {torch.__version__}, tensorflow {tf.__version__}")
sys.exit(0 if kept else 1)
