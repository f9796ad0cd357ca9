# tconv-repro: framework=openvino versions=>=2026.4 requires=amx_bf16
"""OpenVINO's CPU plugin drops a bias Add where a bfloat16 transposed convolution on AMX writes no tap.

Found by `tconv fuzz` on an Intel Xeon with AMX-BF16. ConvolutionBackpropData of x = ones (1, 2, 1, 2),
w = ones (2, 1, 2, 1), strides (1, 2), auto_pad valid, then Add of a bias 0.5, all bfloat16, hint
bf16: the output is (1, 1, 2, 3); where a tap lands the value is 2 + 0.5, and the middle column,
which the stride skips (no tap reaches it), must be the bias alone, 0.5. The plugin, on its AMX
kernel (brgconv_avx512_amx_bf16, the Add fused into it), gives 0 there; with oneDNN capped below
AMX (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16), in float32 and float16, and through the ONNX front end
(ConvTranspose's own B) it gives 0.5.

Exit status 1 while the skipped column is not the bias.
"""

import sys

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from _openvino import infer, tensor
from _platform import describe

x = ops.parameter([1, 2, 1, 2], ov.Type.bf16, name="x")
w = ops.constant(tensor(np.ones((2, 1, 2, 1)), bf16=True))
y = ops.convolution_backprop_data(x, w, [1, 2], pads_begin=[0, 0], pads_end=[0, 0], dilations=[1, 1], auto_pad="valid")
y = ops.add(y, ops.constant(tensor(np.full((1, 1, 1, 1), 0.5), bf16=True)))
got = infer(ov.Model([y], [x]), np.ones((1, 2, 1, 2)), bf16=True)[0, 0]
want = np.array([[2.5, 0.5, 2.5], [2.5, 0.5, 2.5]], np.float32)
print(f"openvino {ov.__version__}; {describe('CPU plugin, bf16')}")
print(f"result {got.tolist()}, want {want.tolist()}")
sys.exit(0 if np.array_equal(got, want) else 1)
