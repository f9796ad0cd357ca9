# tconv-repro: framework=litert versions=>=1.0
"""LiteRT cannot run a transposed convolution with an empty batch or channel dimension.

TensorFlow computes `tf.nn.conv2d_transpose` of a (0, 2, 2, 1) input (an empty (0, 4, 4, 1)
result) and of zero input channels (all zeros); TensorFlow's TFLite converter converts both. The
LiteRT interpreter then fails: reading the empty result raises "Invalid tensor size", and
TRANSPOSE_CONV's prepare checks `SizeOfDimension(input, 3) > 0` for C_in = 0.

Exit status 1 while LiteRT refuses either, 0 once it gives TensorFlow's answers.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402


def through_litert(x: np.ndarray, w: np.ndarray, out_shape: list[int]) -> tuple[np.ndarray, np.ndarray]:
    @tf.function(input_signature=[tf.TensorSpec(x.shape, tf.float32)])
    def layer(inputs):
        return tf.nn.conv2d_transpose(inputs, tf.constant(w), out_shape, 2, padding="VALID")

    converter = tf.lite.TFLiteConverter.from_concrete_functions([layer.get_concrete_function()], layer)
    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), layer(x).numpy()


failed = False
for what, x, w, shape in [("N = 0", np.zeros((0, 2, 2, 1), np.float32), np.ones((2, 2, 1, 1), np.float32), [0, 4, 4, 1]),
                          ("C_in = 0", np.zeros((1, 2, 2, 0), np.float32), np.ones((2, 2, 1, 0), np.float32), [1, 4, 4, 1])]:
    try:
        got, want = through_litert(x, w, shape)
        ok = got.shape == want.shape and np.array_equal(got, want)
        print(f"{what}: LiteRT gives {got.shape}, TensorFlow {want.shape}: {'same' if ok else 'DIFFERENT'}")
        failed |= not ok
    except Exception as error:  # noqa: BLE001
        print(f"{what}: {type(error).__name__}: {' '.join(str(error).split())[:160]}")
        failed = True
sys.exit(1 if failed else 0)
