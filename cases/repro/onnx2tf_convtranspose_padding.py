# tconv-repro: framework=onnx2tf versions=>=1.15
"""onnx2tf (1.29.24; its ConvTranspose converter is the same since 1.15) mistranslates
ConvTranspose's auto_pad SAME_UPPER, refuses SAME_LOWER and misreads output_shape.

Four one-node ConvTranspose models (X 1x1x3x3, W 1x1xKxK as an initializer), converted with
`onnx2tf.convert` and run in TensorFlow, against ONNX Runtime and the spec:
1. auto_pad SAME_UPPER, kernel 3, stride 2: onnx2tf writes tf.nn.conv2d_transpose with padding
   SAME but the output_shape of VALID (7x7, the full result), not in*stride (6x6); TensorFlow
   refuses the pair ("Size of out_backprop doesn't match computed");
2. auto_pad SAME_UPPER, kernel 1, stride 3: TensorFlow accepts the pair here, and the result is
   7x7 (the VALID length) where the spec says in*stride, 9x9;
3. auto_pad SAME_LOWER: `assert False` ("Invalid auto_pad attribute: SAME_LOWER");
4. output_shape [6, 6] (NOTSET): onnx2tf reads the attribute as the whole output shape (N, C, H, W)
   while the spec gives only the spatial dims: IndexError.

Exit status 1 while any of the four differs from ONNX Runtime (the spec's shape for 2, where
ONNX Runtime has its own bug), 0 once all four agree.
"""

import contextlib
import io
import os
import re
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

x = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)


def model(kernel: int, **attrs) -> onnx.ModelProto:
    w = np.arange(1, kernel * kernel + 1, dtype=np.float32).reshape(1, 1, kernel, kernel)
    node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], kernel_shape=[kernel, kernel], **attrs)
    graph = helper.make_graph([node], "repro", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 3, 3])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(w, "W")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    return proto


def converted(proto: onnx.ModelProto) -> np.ndarray:
    """onnx2tf's TF model of `proto` on x (its input and output are NHWC: transposed here)."""
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        keras_model = onnx2tf.convert(onnx_graph=proto, output_folder_path=folder, disable_model_save=True,
                                      not_use_onnxsim=True, non_verbose=True)
    return np.asarray(keras_model(x.transpose(0, 2, 3, 1))).transpose(0, 3, 1, 2)


MODELS = {  # name: (model, the spec's output shape or None to compare with ONNX Runtime's values)
    "SAME_UPPER, kernel 3, stride 2": (model(3, strides=[2, 2], auto_pad="SAME_UPPER"), None),
    "SAME_UPPER, kernel 1, stride 3": (model(1, strides=[3, 3], auto_pad="SAME_UPPER"), (1, 1, 9, 9)),
    "SAME_LOWER, kernel 3, stride 2": (model(3, strides=[2, 2], auto_pad="SAME_LOWER"), None),
    "output_shape [6, 6], kernel 3, stride 2": (model(3, strides=[2, 2], output_shape=[6, 6]), None),
}
failed = False
for name, (proto, spec_shape) in MODELS.items():
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    want = session.run(None, {"X": x})[0]
    try:
        got = converted(proto)
        same = got.shape == spec_shape if spec_shape else got.shape == want.shape and np.allclose(got, want)
        shown = f"spec {spec_shape}" if spec_shape else f"ONNX Runtime {want.shape}"
        print(f"{name}: {'same' if same else 'differs'}: {shown}, converted {got.shape}")
    except Exception as error:  # noqa: BLE001
        same = False
        said = re.sub(r"\x1b\[[0-9;]*m|^.*\}\} ", "", " ".join(str(error).split()))  # colours, TF's op prefix
        print(f"{name}: {type(error).__name__}: {said[:120]}")
    failed |= not same
import tensorflow as tf  # noqa: E402

print(f"onnx2tf {onnx2tf.__version__}, tensorflow {tf.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}")
sys.exit(1 if failed else 0)
