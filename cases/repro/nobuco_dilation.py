# tconv-repro: framework=nobuco versions=>=0.13
"""nobuco (0.17.0) converts a dilated PyTorch ConvTranspose only with stride 1, equal dilations and
in 2-D: it maps `dilation` to Keras 2's `dilation_rate`, which refuses what PyTorch computes.

1. stride 2 with dilation 2: Keras 2's Conv2DTranspose refuses the layer ("`strides > 1` not
   supported in conjunction with `dilation_rate > 1`"): the conversion fails;
2. dilation (1, 3): Keras 2 runs a dilated Conv2DTranspose as `atrous_conv2d_transpose`, one rate
   for both dims ("Expected the 2 dimensions of the `dilation_rate` argument to be equal");
3. a 1-D layer with dilation 2 (stride 1): Keras 2's Conv1DTranspose calls tf.nn.conv1d_transpose
   with dilations, which TensorFlow's CPU kernels refuse ("Current CPU implementations do not yet
   support dilation rates larger than 1");
while the 2-D layer with stride 1 and dilation 2 converts and agrees with PyTorch.

Exit status 1 while any of the three fails, 0 once all convert and agree with PyTorch.
"""

import contextlib
import io
import os
import re
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

LAYERS = {  # name: (module, input shape)
    "2-D, stride 1, dilation 2": (torch.nn.ConvTranspose2d(1, 1, 3, stride=1, dilation=2), (1, 1, 3, 3)),
    "2-D, stride 2, dilation 2": (torch.nn.ConvTranspose2d(1, 1, 3, stride=2, dilation=2), (1, 1, 3, 3)),
    "2-D, stride 1, dilation (1, 3)": (torch.nn.ConvTranspose2d(1, 1, 3, stride=1, dilation=(1, 3)), (1, 1, 3, 3)),
    "1-D, stride 1, dilation 2": (torch.nn.ConvTranspose1d(1, 1, 3, stride=1, dilation=2), (1, 1, 3)),
}
failed = False
for name, (module, shape) in LAYERS.items():
    x = torch.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), torch.no_grad():
            keras_model = nobuco.pytorch_to_keras(module.eval(), args=[x], inputs_channel_order=nobuco.ChannelOrder.PYTORCH,
                                                  outputs_channel_order=nobuco.ChannelOrder.PYTORCH)
            want = module(x).numpy()
        got = np.asarray(keras_model(x.numpy()))
        same = got.shape == want.shape and np.allclose(got, want, atol=1e-5)
        print(f"{name}: {'converts, same as PyTorch' if same else 'converts, differs from PyTorch'}")
    except Exception as error:  # noqa: BLE001
        same = False
        cause = [line for line in log.getvalue().splitlines() if line.startswith("Conversion exception")]
        said = cause[0] if cause else f"{type(error).__name__}: {' '.join(str(error).split())}"
        said = re.sub(r"^.*\}\} ", "", said)  # TensorFlow's op prefix
        print(f"{name}: {said[:160]}")
    failed |= not same
print(f"nobuco {version('nobuco')}, torch {torch.__version__}, tensorflow {tf.__version__}")
sys.exit(1 if failed else 0)
