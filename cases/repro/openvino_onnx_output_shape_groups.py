# tconv-repro: framework=openvino versions=>=2026.4
"""OpenVINO's ONNX front end: ConvTranspose with output_shape, auto_pad NOTSET and group > 1 crops the
whole total padding at the end (pads_begin 0); the ONNX spec (and group = 1 in OpenVINO, and ONNX Runtime)
put total - total // 2 at the start. SAME_LOWER does the same: its own script (one per known entry, so
that a fix of one is seen), openvino_onnx_output_shape_groups_same_lower.py, which runs `reproduces` here."""
import io
import sys

import numpy as np
import openvino as ov
from onnx import TensorProto, helper


def convtranspose(x, w, group, auto_pad="NOTSET"):
    node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], strides=[2], output_shape=[6], group=group,
                            auto_pad=auto_pad)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape)),
                                            helper.make_tensor_value_info("W", TensorProto.FLOAT, list(w.shape))],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    core = ov.Core()
    return core.compile_model(core.read_model(io.BytesIO(model.SerializeToString())), "CPU")({"X": x, "W": w})[0]


x = np.array([[[1, 2, 3], [4, 5, 6]]], np.float32)   # (1, 2, 3): two groups of one channel
w = np.array([[[1, 10, 100]], [[1, 10, 100]]], np.float32)  # (C_in=2, C_out/group=1, 3)
# full result per channel: [1, 10, 102, 20, 203, 30, 300] and [4, 40, 405, 50, 506, 60, 600];
# total padding 7 - 6 = 1, NOTSET and SAME_LOWER: pads_begin = 1 - 1 // 2 = 1
expected = np.array([[10, 102, 20, 203, 30, 300], [40, 405, 50, 506, 60, 600]], np.float32)


def reproduces(auto_pad: str) -> bool:
    """Whether two groups (not one) come out wrong with this auto_pad."""
    one_group = convtranspose(x[:, :1], w[:1], 1, auto_pad)[0]
    two_groups = convtranspose(x, w, 2, auto_pad)[0]
    print(f"{auto_pad}: group=1:", one_group.ravel(), "\ngroup=2:", two_groups, "\nexpected:", expected)
    return not (np.array_equal(two_groups, expected) and np.array_equal(one_group[0], expected[0]))


if __name__ == "__main__":
    sys.exit(1 if reproduces("NOTSET") else 0)
