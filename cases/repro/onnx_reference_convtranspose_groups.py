# tconv-repro: framework=onnx versions=>=1.13
"""onnx.reference: ConvTranspose with group > 1 fails or gives wrong values.

ReferenceEvaluator's ConvTranspose (onnx/reference/ops/op_conv_transpose.py) slices the weight
W (C, M/group, k...) by *output* channels, writes each group's output into a single output
channel, and adds B[0..M/group) to every group. With C_in=4, C_out=2, group=2 it raises; with a
depthwise C=3, group=3 and a bias, every channel gets B[0]. ONNX Runtime and PyTorch agree with
the spec.

Exit status 1 while the discrepancy is present, 0 once the evaluator agrees with the spec.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator


def model(c_in: int, c_out: int, group: int) -> onnx.ModelProto:
    node = helper.make_node("ConvTranspose", ["X", "W", "B"], ["Y"], group=group)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, c_in, 2, 2]),
         helper.make_tensor_value_info("W", TensorProto.FLOAT, [c_in, c_out // group, 2, 2]),
         helper.make_tensor_value_info("B", TensorProto.FLOAT, [c_out])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def spec(x: np.ndarray, w: np.ndarray, b: np.ndarray, group: int) -> np.ndarray:
    """The spec's grouped transposed convolution, one group at a time (stride 1, no padding)."""
    c_in, c_out_g = w.shape[:2]
    c_in_g = c_in // group
    y = np.zeros((1, c_out_g * group, 3, 3), np.float32) + b.reshape(-1, 1, 1)
    for g in range(group):
        for ci in range(g * c_in_g, (g + 1) * c_in_g):
            for co in range(c_out_g):
                for i in range(2):
                    for j in range(2):
                        y[0, g * c_out_g + co, i:i + 2, j:j + 2] += x[0, ci, i, j] * w[ci, co]
    return y


present = False
rng = np.random.default_rng(0)
for c_in, c_out, group in [(4, 2, 2), (3, 3, 3)]:
    x = rng.integers(-3, 4, (1, c_in, 2, 2)).astype(np.float32)
    w = rng.integers(-3, 4, (c_in, c_out // group, 2, 2)).astype(np.float32)
    b = np.arange(1, c_out + 1, dtype=np.float32)
    try:
        got = ReferenceEvaluator(model(c_in, c_out, group)).run(None, {"X": x, "W": w, "B": b})[0]
    except Exception as error:  # noqa: BLE001
        print(f"C_in={c_in} C_out={c_out} group={group}: {type(error).__name__}: {error}")
        present = True
        continue
    want = spec(x, w, b, group)
    if got.shape != want.shape or not np.array_equal(got, want):
        print(f"C_in={c_in} C_out={c_out} group={group}: wrong values\n want {want.ravel()}\n got  {got.ravel()}")
        present = True
print(f"onnx {onnx.__version__}: {'discrepancy present' if present else 'agrees with the spec'}")
raise SystemExit(1 if present else 0)
