# tconv-repro: framework=onnx2tf versions=>=1.15
"""onnx2tf (1.29.24; its ConvTranspose converter is the same since 1.15) drops the bias of a 3-D
ConvTranspose with group = 1.

Its converter adds B after each group's tf.nn.convNd_transpose only for 1-D and 2-D, and for 3-D
only after concatenating the groups, which it does when group > 1: a 3-D ConvTranspose with
group 1 (the usual one) converts to a model without its bias, silently. One-node models (X of
1x2x2x2(x2), W and B as initializers) converted with `onnx2tf.convert`, run in TensorFlow, against
ONNX Runtime: the 2-D model agrees, the 3-D one is off by B everywhere.

Exit status 1 while the 3-D model differs from ONNX Runtime, 0 once it agrees.
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


def agrees(rank: int) -> bool:
    spatial = [2] * rank
    x = np.arange(1, 2 * 2**rank + 1, dtype=np.float32).reshape([1, 2, *spatial])
    w = np.ones([2, 1, *spatial], np.float32)
    b = np.array([100.0], np.float32)
    node = helper.make_node("ConvTranspose", ["X", "W", "B"], ["Y"], kernel_shape=spatial, strides=[2] * rank)
    graph = helper.make_graph([node], "repro", [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    want = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"X": x})[0]
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        keras_model = onnx2tf.convert(onnx_graph=proto, output_folder_path=folder, disable_model_save=True,
                                      not_use_onnxsim=True, non_verbose=True)
    channels_last = np.moveaxis(x, 1, -1)  # the converted model's input and output are channels-last
    got = np.moveaxis(np.asarray(keras_model(channels_last)), -1, 1)
    same = got.shape == want.shape and np.allclose(got, want)
    print(f"{rank}-D ConvTranspose with B = 100: {'same as ONNX Runtime' if same else 'differs'}: "
          f"ONNX Runtime Y[0, 0, 0] = {want.reshape(-1)[0]}, converted {got.reshape(-1)[0]}")
    return same


two_d, three_d = agrees(2), agrees(3)
import tensorflow as tf  # noqa: E402

print(f"onnx2tf {onnx2tf.__version__}, tensorflow {tf.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}")
sys.exit(0 if three_d else 1)
