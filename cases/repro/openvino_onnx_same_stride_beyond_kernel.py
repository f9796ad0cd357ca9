# tconv-repro: framework=openvino versions=>=2026.4
"""OpenVINO's ONNX front end: ConvTranspose with auto_pad SAME_UPPER/SAME_LOWER (no output_shape) and a
stride beyond the dilated kernel returns the full result ((in-1)*stride + k long) instead of the
in*stride output the ONNX spec states (positions past the full result are zeros)."""
import io
import sys

import numpy as np
import openvino as ov
from onnx import TensorProto, helper

x = np.array([[[1, 2]]], np.float32)
w = np.array([[[5]]], np.float32)                 # k = 1, stride 3: full length 4, spec length 2 * 3 = 6
bad = False
for auto_pad in ("SAME_UPPER", "SAME_LOWER"):
    node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], strides=[3], auto_pad=auto_pad)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 2]),
                                            helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 1, 1])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    core = ov.Core()
    y = core.compile_model(core.read_model(io.BytesIO(model.SerializeToString())), "CPU")({"X": x, "W": w})[0]
    expected = np.array([5, 0, 0, 10, 0, 0], np.float32)
    print(auto_pad, "got", y.ravel(), "expected", expected)
    bad |= y.shape != (1, 1, 6) or not np.array_equal(y.ravel(), expected)
sys.exit(1 if bad else 0)
