# tconv-repro: framework=openvino versions=>=2026.4
"""OpenVINO's ONNX front end: ConvTranspose with output_shape and auto_pad SAME_UPPER crops the
larger half of the total padding at the start; the ONNX spec (and ONNX Runtime) put total // 2 there."""
import io
import sys

import numpy as np
import openvino as ov
from onnx import TensorProto, helper

x = np.array([[[1, 2, 3]]], np.float32)          # (N, C_in, L)
w = np.array([[[1, 10, 100]]], np.float32)       # (C_in, C_out, k)
node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], strides=[2], output_shape=[6], auto_pad="SAME_UPPER")
graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 3]),
                                        helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 1, 3])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
core = ov.Core()
y = core.compile_model(core.read_model(io.BytesIO(model.SerializeToString())), "CPU")({"X": x, "W": w})[0]
# full result [1, 10, 102, 20, 203, 30, 300]; total padding 7 - 6 = 1; SAME_UPPER: pads_begin = 1 // 2 = 0
expected = np.array([1, 10, 102, 20, 203, 30], np.float32)
print("got", y.ravel(), "expected", expected)
sys.exit(0 if np.array_equal(y.ravel(), expected) else 1)
