# tconv-repro: framework=openvino versions=>=2026.4 requires=amx_bf16
"""OpenVINO's CPU plugin: a bfloat16 transposed convolution on AMX multiplies padding zeros by the kernel.

Found by `tconv fuzz --special` on an Intel Xeon with AMX-BF16. ConvolutionBackpropData of one input
x = [0.0469] (1, 1, 1) with a kernel (C_in=1, C_out=1, k=2) [inf, -0.619], auto_pad valid, bfloat16,
hint bf16: the result is [x*inf, x*(-0.619)] = [inf, -0.029]; its second position has one real term,
and the inf tap lands past the input there (a structural zero the definition never multiplies).
On its AMX kernel the plugin gives [inf, nan]; with oneDNN capped below AMX
(ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16) and in float32 it gives [inf, -0.029]. A convention
difference, new with the AMX kernel (as PyTorch's: torch_amx_bfloat16_structural_zeros_nan.py).

Exit status 1 while the bfloat16 result has NaN where the float32 one is finite.
"""

import sys

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from _openvino import infer, tensor
from _platform import describe


def run(bf16):
    """The layer compiled in bfloat16 (hint bf16) or float32; its result as float32."""
    x = ops.parameter([1, 1, 1], ov.Type.bf16 if bf16 else ov.Type.f32, name="x")
    y = ops.convolution_backprop_data(x, ops.constant(tensor([[[np.inf, -0.619]]], bf16)), [1], pads_begin=[0],
                                      pads_end=[0], dilations=[1], auto_pad="valid")
    return infer(ov.Model([y], [x]), [[[0.0469]]], bf16).ravel()


exact, low = run(False), run(True)
print(f"openvino {ov.__version__}; {describe('CPU plugin, bf16')}")
print(f"  float32:  {exact.tolist()}\n  bfloat16: {low.tolist()}")
sys.exit(1 if (np.isnan(low) & ~np.isnan(exact)).any() else 0)
