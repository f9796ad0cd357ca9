# tconv-repro: framework=openvino versions=>=2026.4
"""OpenVINO's CPU plugin leaves output_padding out of the auto_pad crop of a 1x1, stride-1 ConvolutionBackpropData.

Found by `tconv fuzz` (a 1 x 1 x 1 kernel, dilation 2, output_padding 1 in the last dim, same_lower).
x = [10, 20], w = [1] (one tap), stride 1, dilation 2 (which allows output_padding 1), output_padding 1,
auto_pad same_upper, output_shape [2]: the full result with its output_padding is [10, 20, 0]; the
total crop is 3 - 2 = 1, which OpenVINO's same_upper (its shape inference: the larger half first)
takes at the start: [20, 0], as ONNX's SAME_LOWER and tconv's same_lower do. With the float16
precision hint (on a CPU with AVX512-FP16) the plugin gives [20, 0]; with float32 (and bfloat16) it
gives [10, 20], the crop without the output_padding. A kernel of two taps, or stride 2, is right.

Exit status 1 while the float32 result is not [20, 0].
"""

import sys

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from _platform import describe

x = ops.parameter([1, 1, 2], ov.Type.f32, name="x")
w = ops.constant(np.array([[[1.0]]], np.float32))
y = ops.convolution_backprop_data(x, w, [1], ops.constant(np.array([2], np.int64)), pads_begin=[0], pads_end=[0],
                                  dilations=[2], auto_pad="same_upper", output_padding=[1])
model = ov.Model([y], [x])
want = np.array([20.0, 0.0], np.float32)
print(f"openvino {ov.__version__}; {describe('CPU plugin')}")
got = {}
for hint in ("f32", "f16"):
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": hint})
    got[hint] = compiled(np.array([[[10.0, 20.0]]], np.float32))[0].ravel()
    print(f"hint {hint}: {got[hint]} (want {want})")
sys.exit(0 if np.array_equal(got["f32"], want) else 1)
