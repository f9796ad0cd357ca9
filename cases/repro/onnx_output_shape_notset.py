# tconv-repro: framework=onnx versions=>=1.13
"""ONNX ConvTranspose with `output_shape` and auto_pad NOTSET, in ONNX Runtime and the reference.

The spec: "If output_shape is specified pads values are ignored"; the total padding
`stride*(in-1) + output_padding + ((k-1)*dilation+1) - output_shape` is split with the larger
half at the start (NOTSET/SAME_LOWER). x = [1, 2, 3], w = [1, 1], stride 3: the full result is
[1, 1, 0, 2, 2, 0, 3, 3] (8 long).
- output_shape 7: total 1, crop 1 at the start: [1, 0, 2, 2, 0, 3, 3]. ONNX Runtime gives it;
  the reference evaluator ignores the implied pads (it computes with pads 0) and raises
  "expected size of input's dimension 2 to match the calculated number of sliding blocks".
- output_shape 7 with output_padding 1: total 2, crop 1 at each end: [1, 0, 2, 2, 0, 3, 3];
  the reference evaluator raises the same.
- output_shape 11 (3 past the full result: zeros at the end, as ONNX's own
  test_convtranspose_output_shape has for one position): ONNX Runtime refuses "Explicit
  output_shape is inconsistent with input spatial dimensions" for anything more than
  stride - 1 past the full result, or with an output_padding not below the stride; the spec
  sets no such limit.

Exit status 1 while either runtime errs or differs on one of these.
"""

import numpy as np
import onnx
from _platform import describe
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

print(f"onnx {onnx.__version__}; {describe('onnx.reference (NumPy), ONNX Runtime CPU')}")

x = np.array([[[1, 2, 3]]], np.float32)
w = np.array([[[1, 1]]], np.float32)
full = [1, 1, 0, 2, 2, 0, 3, 3]
checks = [  # (attributes, the spec's answer)
    ({"output_shape": [7]}, full[1:]),
    ({"output_shape": [7], "output_padding": [1]}, full[1:]),
    ({"output_shape": [11]}, full + [0, 0, 0]),
]
present = False
for attrs, want in checks:
    node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], strides=[3], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 3]),
                                            helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 1, 2])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    runs = {"onnx.reference": lambda m=model: ReferenceEvaluator(m).run(None, {"X": x, "W": w})[0]}
    try:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 4
        runs["onnxruntime"] = lambda m=model: ort.InferenceSession(
            m.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(None, {"X": x, "W": w})[0]
    except ImportError:
        pass
    print(f"{attrs}: spec {want}")
    for name, run in runs.items():
        try:
            got = np.asarray(run()).ravel().tolist()
            ok = got == want
            print(f"  {name}: {got}{'' if ok else ' (differs)'}")
        except Exception as error:  # noqa: BLE001 - the runtime's refusal is the finding
            ok = False
            print(f"  {name}: error: {' '.join(str(error).split())[:160]}")
        present |= not ok
raise SystemExit(1 if present else 0)
