# tconv-repro: framework=onnx versions=>=1.13
"""ONNX ConvTranspose: output_padding >= stride (but < dilation) is refused by both runtimes.

The spec: "Each padding value in 'output_padding' must be less than the corresponding
stride/dilation dimension", as in PyTorch (output_padding < max(stride, dilation)). With
stride 1, dilation 3 and output_padding 1, ONNX Runtime fails ("output_padding (1) may be too
large for stride (1)") and the reference evaluator fails in col2im; PyTorch computes it.

Exit status 1 while either runtime refuses, 0 once both compute it.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper

node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], dilations=[3], output_padding=[1])
graph = helper.make_graph(
    [node], "g",
    [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 4]),
     helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 1, 2])],
    [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
x = np.array([[[1, 2, 3, 4]]], np.float32)
w = np.array([[[1, -1]]], np.float32)
# full result: x[i] * w[0] at i, x[i] * w[1] at i + 3, length 7; then one more zero (output_padding)
want = np.array([1, 2, 3, 3, -2, -3, -4, 0], np.float32)

present = False
runners = {}
try:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # the exception says it; no log line too
    runners[f"onnxruntime {ort.__version__}"] = lambda: ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(None, {"X": x, "W": w})[0]
except ImportError:
    pass
from onnx.reference import ReferenceEvaluator

runners[f"onnx.reference {onnx.__version__}"] = lambda: ReferenceEvaluator(model).run(None, {"X": x, "W": w})[0]
for name, run in runners.items():
    try:
        got = np.asarray(run()).ravel()
    except Exception as error:  # noqa: BLE001
        print(f"{name}: {type(error).__name__}: {' '.join(str(error).split())[:200]}")
        present = True
        continue
    ok = got.shape == want.shape and np.array_equal(got, want)
    print(f"{name}: {'matches' if ok else 'differs'}: {got}")
    present |= not ok
raise SystemExit(1 if present else 0)
