# tconv-repro: framework=onnx versions=>=1.13
"""ONNX shape inference of ConvTranspose drops the spatial dims when output_shape < input size.

x (1, 1, 4), w (1, 1, 2), stride 2, output_shape [3] (auto_pad NOTSET): the spec's output is
(1, 1, 3) (total padding 2*3 + 2 - 3 = 5, cropped 3 at the start, 2 at the end), and ONNX
Runtime returns that shape. `onnx.shape_inference.infer_shapes(..., strict_mode=True)` infers a
rank-2 shape (1, 1) without an error: it stops after N and C whenever an output_shape entry is
below the input's size in that dim, so a model checked by shape inference carries a wrong rank.

Exit status 1 while the inferred shape is not (1, 1, 3).
"""

import onnx
from _platform import describe
from onnx import TensorProto, helper

print(f"onnx {onnx.__version__}; {describe('onnx.shape_inference')}")
node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], strides=[2], output_shape=[3])
graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 4]),
                                        helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 1, 2])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True).graph.output[0].type.tensor_type.shape
dims = [d.dim_value for d in inferred.dim]
print(f"spec (1, 1, 3); shape inference {tuple(dims)}")
try:
    import numpy as np
    import onnxruntime as ort

    y = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"X": np.ones((1, 1, 4), np.float32), "W": np.ones((1, 1, 2), np.float32)})[0]
    print(f"onnxruntime {ort.__version__}: {y.shape}")
except ImportError:
    pass
raise SystemExit(0 if dims == [1, 1, 3] else 1)
