# tconv-repro: framework=openvino versions=>=2026.4
"""OpenVINO's CPU plugin multiplies the zeros past the input into the positions past the full result.

Found by `tconv fuzz --special`. ConvolutionBackpropData of one input x = 0.89 (1 x 1) with a kernel row
[inf, nan], strides (1, 2), output_shape (1, 3), valid: the full result is [x*inf, x*nan] and the
output_shape appends a zero, [inf, nan, 0] (no tap lands on the last position). The plugin gives NaN
there in float32 and float16: the NaN tap times a padding zero. A convention difference (JAX and
TensorFlow multiply such zeros too: structural_zeros_nan.py).

Exit status 1 while the float32 result's last position is NaN.
"""

import sys

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from _platform import describe

x = ops.parameter([1, 1, 1, 1], ov.Type.f32, name="x")
w = ops.constant(np.array([[[[np.inf, np.nan]]]], np.float32))
y = ops.convolution_backprop_data(x, w, [1, 2], ops.constant(np.array([1, 3], np.int64)), pads_begin=[0, 0],
                                  pads_end=[0, 0], dilations=[1, 1], auto_pad="valid")
compiled = ov.Core().compile_model(ov.Model([y], [x]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
got = compiled({"x": np.array([[[[0.89]]]], np.float32)})[0].ravel()
print(f"openvino {ov.__version__}; {describe('CPU plugin, f32')}")
print(f"  result {got.tolist()}, definition [inf, nan, 0.0]")
sys.exit(1 if np.isnan(got[2]) else 0)
