# tconv-repro: framework=openvino versions=>=2026.4
"""OpenVINO's ONNX front end: ConvTranspose with group = 2 and C_out = 0 (W of shape (4, 0, 2, 2)) gives a
(1, 4, 4, 4) result instead of the empty (1, 0, 4, 4) one: its weight reshape to (G, C_in/G, C_out/G, k..)
passes a 0 that Reshape reads as "copy this dimension"."""
import io
import sys

import numpy as np
import openvino as ov
from onnx import TensorProto, helper

node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], group=2)
graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4, 3, 3]),
                                        helper.make_tensor_value_info("W", TensorProto.FLOAT, [4, 0, 2, 2])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
core = ov.Core()
try:
    y = core.compile_model(core.read_model(io.BytesIO(model.SerializeToString())), "CPU")(
        {"X": np.ones((1, 4, 3, 3), np.float32), "W": np.ones((4, 0, 2, 2), np.float32)})[0]
except RuntimeError as error:
    print("error:", " ".join(str(error).split())[-200:])
    sys.exit(1)
print("shape", y.shape, "expected (1, 0, 4, 4)")
sys.exit(0 if y.shape == (1, 0, 4, 4) else 1)
