# tconv-repro: framework=torch versions=>=2.1
"""Empty tensors (N = 0, C_in = 0, C_out = 0): frameworks disagree on what is a valid input.

The canonical answer is defined for all three: N = 0 or C_out = 0 give an empty result of the
right shape, C_in = 0 gives zeros (plus the bias). TensorFlow, keras.ops, JAX and ONNX Runtime
compute them; PyTorch refuses C_in = 0 and C_out = 0, Keras' layers refuse filters=0, and the
ONNX reference evaluator raises on N = 0 and C_out = 0.

Exit status 1 while PyTorch refuses C_in = 0.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import torch

from _platform import describe

print(f"torch {torch.__version__}; {describe('default')}")
SHAPES = {"N=0": ((0, 2, 3, 3), (2, 3, 2, 2)), "C_in=0": ((1, 0, 3, 3), (0, 3, 2, 2)),
          "C_out=0": ((1, 2, 3, 3), (2, 0, 2, 2))}


def attempt(label, function):
    try:
        shape = tuple(function().shape)
        print(f"  {label}: ok, shape {shape}")
        return True
    except Exception as error:  # noqa: BLE001
        print(f"  {label}: {type(error).__name__}: {' '.join(str(error).split())[:110]}")
        return False


torch_ok = {}
for name, (xs, ws) in SHAPES.items():
    torch_ok[name] = attempt(f"torch {name}", lambda: torch.nn.functional.conv_transpose2d(torch.zeros(xs), torch.zeros(ws)))
try:
    import onnx
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    for name, (xs, ws) in SHAPES.items():
        node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"])
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, xs),
                                                helper.make_tensor_value_info("W", TensorProto.FLOAT, ws)],
                                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        attempt(f"onnx.reference {onnx.__version__} {name}", lambda: ReferenceEvaluator(model).run(
            None, {"X": np.zeros(xs, np.float32), "W": np.zeros(ws, np.float32)})[0])
except ImportError:
    print("  (onnx not installed)")
try:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    attempt(f"keras {keras.__version__} Conv2DTranspose(filters=0)",
            lambda: keras.layers.Conv2DTranspose(0, 2)(np.zeros((1, 3, 3, 2), np.float32)))
except ImportError:
    print("  (keras not installed)")
raise SystemExit(0 if torch_ok["C_in=0"] else 1)
