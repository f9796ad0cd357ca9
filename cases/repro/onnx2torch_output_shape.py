# tconv-repro: framework=onnx2torch versions=>=1.5
"""onnx2torch (1.5.15; its ConvTranspose converter, added in 1.3.0, has never read the attribute)
ignores ConvTranspose's `output_shape`: the converted `nn.ConvTranspose2d` gets the model's `pads`
(none here) and `output_padding`, so it returns the full result, not the output_shape the model
asks for, silently (no error, no warning).

The model is ONNX's own backend test `test_convtranspose_output_shape`: X (1, 1, 3, 3), W (1, 2, 3, 3),
strides [3, 2], output_shape [10, 8]. The spec, ONNX's reference evaluator and ONNX Runtime give
Y (1, 2, 10, 8) (the padding comes from output_shape); onnx2torch's module returns (1, 2, 9, 7).

Exit status 1 while the converted model's output does not have the model's output_shape, 0 once
it does (and agrees with the reference evaluator).
"""

import logging
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402


def torchvision_importable() -> None:
    """onnx2torch imports torchvision; PyPI's torchvision is the CUDA build, whose C++ ops do not
    load beside PyTorch's CPU build and whose import then fails ("operator torchvision::nms does
    not exist"): declare the two ops its import registers fake kernels for (none runs here)."""
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
import onnx2torch  # noqa: E402

x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
w = np.ones((1, 2, 3, 3), dtype=np.float32)
node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], strides=[3, 2], output_shape=[10, 8])
graph = helper.make_graph([node], "convtranspose_output_shape",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 2, 10, 8])],
                          initializer=[numpy_helper.from_array(w, "W")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)

want = ReferenceEvaluator(model).run(None, {"X": x})[0]
module = onnx2torch.convert(model)
with torch.no_grad():
    got = module(torch.from_numpy(x)).numpy()
conv = next(m for m in module.modules() if isinstance(m, torch.nn.ConvTranspose2d))
print(f"ConvTranspose strides [3, 2], output_shape [10, 8] on X {x.shape}:")
print(f"  onnx's ReferenceEvaluator returns {want.shape}")
print(f"  onnx2torch's module ({conv}) returns {got.shape}")
print(f"onnx2torch {version('onnx2torch')}, onnx {onnx.__version__}, torch {torch.__version__}")
sys.exit(0 if got.shape == want.shape and np.array_equal(got, want) else 1)
