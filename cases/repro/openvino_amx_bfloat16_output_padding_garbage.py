# tconv-repro: framework=openvino versions=>=2026.4 requires=amx_bf16
"""OpenVINO's CPU plugin: a bfloat16 3-D transposed convolution on AMX leaves the output_padding positions unwritten.

Finding 69 (PyTorch's is torch_amx_bfloat16_output_padding_garbage.py), found by `tconv fuzz --special`
(seed 91) on an Intel Xeon with AMX-BF16. ConvolutionBackpropData of x (1, 1, 1, 1, 3) with a kernel
(C_in=1, C_out=1, 2, 1, 8), strides (2, 1, 1), dilations (1, 1, 2), no pads, output_padding (1, 0, 0),
bfloat16 (hint bf16): the result is (1, 1, 3, 1, 17) and its depth position 2 is the output_padding, zeros
by the definition. The plugin's jit_avx512_amx_bf16 kernel leaves it unwritten: garbage up to 2.2e38
after every one of 200 compiles here; none of 200 with oneDNN capped below AMX
(ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16).

The layer is compiled and run 20 times. Exit status 1 while any result has a non-zero value in the
output_padding.
"""

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from _openvino import infer, tensor
from _platform import describe

rng = np.random.default_rng(0)
x_values, w_values = rng.standard_normal((1, 1, 1, 1, 3)), rng.standard_normal((1, 1, 2, 1, 8))
x = ops.parameter([1, 1, 1, 1, 3], ov.Type.bf16, name="x")
y = ops.convolution_backprop_data(x, ops.constant(tensor(w_values, True)), [2, 1, 1], pads_begin=[0, 0, 0],
                                  pads_end=[0, 0, 0], dilations=[1, 1, 2], output_padding=[1, 0, 0])
print(f"openvino {ov.__version__}; {describe('CPU plugin, bf16')}")
garbage = []
for _ in range(20):
    region = infer(ov.Model([y], [x]), x_values, True)[:, :, 2]
    if (region != 0).any():
        garbage.append(float(np.abs(region).max()))
print(f"compiles with garbage in the output_padding: {len(garbage)} of 20" + (f", up to {max(garbage):.3g}" if garbage else ""))
raise SystemExit(1 if garbage else 0)
