# tconv-repro: framework=onnx versions=>=1.13
"""The ONNX reference evaluator sums float16 ConvTranspose in float16.

`onnx.reference.ReferenceEvaluator` computes ConvTranspose with NumPy in the input dtype; its
col2im adds the kernel taps in float16. A 11x11 kernel of positive data (no cancellation) is
several ulps off the correctly rounded result, where a float32 sum is within one.

Exit status 1 while the float16 result is more than 2 ulps off.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from _platform import describe

print(f"onnx {onnx.__version__}; {describe('onnx.reference (NumPy)')}")
rng = np.random.default_rng(0)
x = rng.random((1, 1, 12, 12)).astype(np.float16)
w = rng.random((1, 1, 11, 11)).astype(np.float16)
node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], kernel_shape=[11, 11])
graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT16, x.shape),
                                        helper.make_tensor_value_info("W", TensorProto.FLOAT16, w.shape)],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT16, None)])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
y = ReferenceEvaluator(model).run(None, {"X": x, "W": w})[0]
# the exact answer, independently: scatter-add in float64
full = np.zeros((22, 22))
for i in range(12):
    for j in range(12):
        full[i:i + 11, j:j + 11] += float(x[0, 0, i, j]) * w[0, 0].astype(np.float64)
ulps = np.abs(y[0, 0].astype(np.float64) - full) / np.spacing(full.astype(np.float16)).astype(np.float64)
print(f"  float16 11x11 taps of positive data: dtype {y.dtype}, max error {ulps.max():.1f} ulp of the exact result")
raise SystemExit(1 if ulps.max() > 2 else 0)
