# tconv-repro: framework=openvino versions=>=2026.4 requires=avx512_bf16
"""OpenVINO's CPU plugin: a bfloat16 GroupConvolutionBackpropData (AVX512-BF16, AMX) leaks NaN across groups.

Found by `tconv fuzz --special` on an Intel Xeon. Two groups of one channel, x (1, 2, 1, 1, 3) whose
group 0 holds an inf, weights (2, 1, 1, 1, 1, 1) = [1.42, -0.617], strides (1, 1, 2), auto_pad
same_lower, output_shape (1, 1, 6), hint bf16. Group 1's input and weight are finite, so its output
is finite by the definition (float32: [1.046, 0, -0.371, 0, -0.150, 0]); in bfloat16 on the plugin's
oneDNN kernels (brgconv_avx512_bf16, and on AMX) its first position is NaN: group 0's inf mixed in.

Exit status 1 while group 1's bfloat16 output has NaN.
"""

import sys

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from _openvino import infer, tensor
from _platform import describe

X = np.array([[[[[0.04638672, np.inf, 0.13671875]]], [[[-1.6953125, 0.6015625, 0.24316406]]]]], np.float32)
W = np.array([1.421875, -0.6171875], np.float32).reshape(2, 1, 1, 1, 1, 1)  # (groups, C_in/g, C_out/g, k...)


def group_1(bf16):
    x = ops.parameter(list(X.shape), ov.Type.bf16 if bf16 else ov.Type.f32, name="x")
    y = ops.group_convolution_backprop_data(x, ops.constant(tensor(W, bf16)), [1, 1, 2],
                                            ops.constant(np.array([1, 1, 6], np.int64)), pads_begin=[0, 0, 0],
                                            pads_end=[0, 0, 0], dilations=[1, 1, 1], auto_pad="same_lower")
    return infer(ov.Model([y], [x]), X, bf16)[0, 1].ravel()


print(f"openvino {ov.__version__}; {describe('CPU plugin, bf16')}")
exact, low = group_1(False), group_1(True)
print(f"  float32:  group 1 = {exact.tolist()}\n  bfloat16: group 1 = {low.tolist()}")
sys.exit(1 if (np.isnan(low) & ~np.isnan(exact)).any() else 0)
