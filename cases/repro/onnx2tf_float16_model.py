# tconv-repro: framework=onnx2tf versions=>=1.15
"""onnx2tf (1.29.24, and since 1.15 at least) computes a float16 ONNX model in float32.

Its Input converter (onnx2tf/ops/Input.py) makes a float16 graph input a float32 Keras input, so
the TensorFlow model of a float16 ConvTranspose takes and returns float32 and sums in float32:
not the model's arithmetic (ONNX Runtime returns float16). float16 is an export option of
onnx2tf's TFLite writer, not a dtype of the TF model it builds.

Exit status 1 while the converted model returns float32 for the float16 model, 0 once it
returns float16.
"""

import contextlib
import io
import os
import sys
import tempfile
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnx2tf  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

x = np.arange(1, 5, dtype=np.float16).reshape(1, 1, 2, 2)
w = np.ones((1, 1, 2, 2), np.float16)
node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], kernel_shape=[2, 2], strides=[2, 2])
graph = helper.make_graph([node], "repro", [helper.make_tensor_value_info("X", TensorProto.FLOAT16, [1, 1, 2, 2])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT16, None)],
                          initializer=[numpy_helper.from_array(w, "W")])
proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
proto.ir_version = 8
want = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"X": x})[0]
with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
    keras_model = onnx2tf.convert(onnx_graph=proto, output_folder_path=folder, disable_model_save=True,
                                  not_use_onnxsim=True, non_verbose=True)
got = np.asarray(keras_model(x.transpose(0, 2, 3, 1)))
print(f"float16 model: ONNX Runtime returns {want.dtype}; onnx2tf's model takes {keras_model.inputs[0].dtype.name} "
      f"and returns {got.dtype}")
import tensorflow as tf  # noqa: E402

print(f"onnx2tf {onnx2tf.__version__}, tensorflow {tf.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}")
sys.exit(0 if got.dtype == np.float16 else 1)
