# tconv-repro: framework=onnx versions=>=1.13
"""ONNX ConvTranspose auto_pad=SAME_* when the stride exceeds the (dilated) kernel.

The spec: SAME_UPPER/SAME_LOWER "pad the input so that output_shape[i] = input_shape[i] *
strides[i]". With x = [1, 2], w = [1] and stride 3 the full result is [1, 0, 0, 2] and the
output must be 6 long: TensorFlow, Keras and JAX append the zeros, [1, 0, 0, 2, 0, 0].
- ONNX Runtime returns the full result, 4 long (it clamps the negative total padding to 0).
- The reference evaluator splits the negative total with Python's floor division and puts
  a zero first for SAME_UPPER: [0, 1, 0, 0, 2, 0].
- ONNX shape inference infers 4, disagreeing with the spec's own sentence.

Exit status 1 while a runtime's output differs from [1, 0, 0, 2, 0, 0] for SAME_UPPER.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

want = np.array([1, 0, 0, 2, 0, 0], np.float32)
x = np.array([[[1, 2]]], np.float32)
w = np.array([[[1]]], np.float32)
present = False
for auto_pad in ("SAME_UPPER", "SAME_LOWER"):
    node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], strides=[3], auto_pad=auto_pad)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 2]),
                                            helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 1, 1])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    inferred = [d.dim_value for d in onnx.shape_inference.infer_shapes(model).graph.output[0].type.tensor_type.shape.dim]
    results = {f"onnx.reference {onnx.__version__}": np.asarray(ReferenceEvaluator(model).run(None, {"X": x, "W": w})[0])}
    try:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 4
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        results[f"onnxruntime {ort.__version__}"] = session.run(None, {"X": x, "W": w})[0]
    except ImportError:
        pass
    print(f"{auto_pad}: spec length 6, shape inference {inferred[-1]}")
    for name, got in results.items():
        ok = got.ravel().shape == want.shape and np.array_equal(got.ravel(), want)
        print(f"  {name}: {got.ravel().tolist()} {'(as TF/Keras/JAX)' if ok else '(differs)'}")
        present |= auto_pad == "SAME_UPPER" and not ok
raise SystemExit(1 if present else 0)
