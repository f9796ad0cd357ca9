# tconv-repro: framework=tf2onnx versions=>=1.9
"""tf2onnx (1.17) mistranslates tf.nn.conv2d_transpose's padding into ONNX ConvTranspose.

Three layers TensorFlow computes, converted with `tf2onnx.convert.from_function` and run in ONNX
Runtime's CPU provider:
1. explicit asymmetric padding [[0, 0], [1, 0], [0, 0], [0, 0]] (crop one row at the top): the
   converted model crops at the wrong end: every value is shifted by one row, silently;
2. explicit symmetric padding with a small output_shape: the model wires TF's int32
   `input_sizes` tensor into ConvTranspose's bias slot, and ONNX Runtime rejects it as invalid;
3. VALID, stride 2, with an output_shape one longer than the VALID result (TF appends a zero row, what
   PyTorch calls output_padding): the model has negative pads and ONNX Runtime refuses it.

Exit status 1 while any of the three differs from TensorFlow, 0 once all three agree.
"""

import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
w = np.array([[1, 2], [3, -4]], np.float32).reshape(2, 2, 1, 1)  # (kh, kw, C_out, C_in)
LAYERS = {  # output_shape, stride, padding
    "explicit [1, 0] crop": ([1, 3, 4, 1], 1, [[0, 0], [1, 0], [0, 0], [0, 0]]),
    "explicit [1, 1] crops, small output": ([1, 2, 2, 1], 1, [[0, 0], [1, 1], [1, 1], [0, 0]]),
    "VALID stride 2, output_shape one longer": ([1, 7, 6, 1], 2, "VALID"),
}
failed = False
for name, (shape, stride, padding) in LAYERS.items():
    @tf.function(input_signature=[tf.TensorSpec(x.shape, tf.float32)])
    def layer(inputs):
        return tf.nn.conv2d_transpose(inputs, tf.constant(w), shape, stride, padding=padding)

    want = layer(x).numpy()
    try:
        model, _ = tf2onnx.convert.from_function(layer, input_signature=layer.input_signature, opset=17)
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        same = got.shape == want.shape and np.allclose(got, want)
        print(f"{name}: {'same as TensorFlow' if same else f'TensorFlow {want.ravel()}, converted {got.ravel()}'}")
    except Exception as error:  # noqa: BLE001
        same = False
        print(f"{name}: {type(error).__name__}: {' '.join(str(error).split())[:160]}")
    failed |= not same
print(f"tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}, onnxruntime {ort.__version__}")
sys.exit(1 if failed else 0)
