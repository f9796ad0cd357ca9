# tconv-repro: framework=litert versions=>=1.0
"""TensorFlow's TFLite converter (or LiteRT) turns an inf weight into the largest float32.

Found by `tconv fuzz --special` (litert.tf_nn and litert.keras_layer alike). A 1 x 1 transposed
convolution of x = 0.0464 with the weight inf (float32, VALID) is x * inf = inf in TensorFlow and by
the definition; converted to TFLite and run in LiteRT's interpreter it is 1.58e37 = 0.0464 * 3.4028e38
(FLT_MAX): the inf constant became FLT_MAX on the way. A -inf weight likewise becomes -FLT_MAX, and
an input of 0 times the inf weight, NaN by the definition and in TensorFlow, comes out 0 in LiteRT
(litert_inf_weight_times_zero.py runs `reproduces` here with x = 0). A NaN weight stays NaN.

Exit status 1 while LiteRT's result is finite where TensorFlow's is inf.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

W = np.array([[[[np.inf]]]], np.float32)  # (kH, kW, C_out, C_in)


def reproduces(value: float) -> bool:
    """Whether LiteRT's x * inf, with x = `value`, is finite where TensorFlow's is not."""
    x = np.array([[[[value]]]], np.float32)  # NHWC

    @tf.function(input_signature=[tf.TensorSpec(x.shape, tf.float32)])
    def layer(inputs):
        return tf.nn.conv2d_transpose(inputs, tf.constant(W), [1, 1, 1, 1], 1, padding="VALID")

    interpreter = Interpreter(model_content=tf.lite.TFLiteConverter.from_concrete_functions(
        [layer.get_concrete_function()], layer).convert())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    got = float(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).ravel()[0])
    want = float(layer(x).numpy().ravel()[0])
    print(f"tensorflow {tf.__version__}: {value} * inf = {want}; through the converter, LiteRT: {got}")
    return not np.isfinite(want) and np.isfinite(got)


if __name__ == "__main__":
    sys.exit(1 if reproduces(0.0464) else 0)
