# tconv-repro: framework=openvino versions=>=2026.4
"""OpenVINO's CPU plugin: its brgconv deconvolution multiplies a zero past the input by the kernel in a strided phase.

Found by `tconv fuzz --special` (seed 111, float16; float32 too). ConvolutionBackpropData of one input
x = 0.89, shape (1, 1, 1, 1), with a kernel (C_in=1, C_out=1, 1, 3) [inf, -0.619, -0.591], strides (1, 2),
no pads: the result is [x*inf, x*(-0.619), x*(-0.591)] = [inf, -0.551, -0.526]. Its last position is in the
even phase of stride 2, whose taps are 0 and 2; tap 0 would read input position 1, past the input (a
structural zero the definition never multiplies). The plugin's brgconv kernel (brgconv_avx512_f32, and
brgconv_avx2_f32 with oneDNN capped at AVX2; brgconv_avx512_f16 for a float16 model) gives NaN there
(0 * inf), in 2-D and 3-D, in float32, float16 and under the bf16 hint. Strides 1 and 3 (one tap a phase)
are right, and so is 1-D, which runs on another kernel. PyTorch's oneDNN float16 kernel does the same
on AVX512-FP16 (torch_avx512fp16_float16_stride_phase_nan.py).

Exit status 1 while the float32 result has NaN where the definition is finite.
"""

import sys

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from _openvino import infer
from _platform import describe


def run(rank: int, stride: int) -> np.ndarray:
    """The float32 layer of that rank (the stride in the last dim) compiled with the f32 hint."""
    x = ops.parameter([1, 1] + [1] * rank, ov.Type.f32, name="x")
    w = np.array([np.inf, -0.619, -0.591], np.float32).reshape([1, 1] + [1] * (rank - 1) + [3])
    y = ops.convolution_backprop_data(x, ops.constant(w), [1] * (rank - 1) + [stride], pads_begin=[0] * rank,
                                      pads_end=[0] * rank, dilations=[1] * rank)
    return infer(ov.Model([y], [x]), np.full([1, 1] + [1] * rank, 0.89, np.float32), False).ravel()


print(f"openvino {ov.__version__}; {describe('CPU plugin, f32')}; definition [inf, -0.551, -0.526]")
found = False
for rank in (1, 2, 3):
    for stride in (1, 2, 3):
        y = run(rank, stride)
        found |= bool(np.isnan(y).any())
        print(f"  {rank}-D, stride {stride}: {[round(float(v), 3) for v in y]}")
sys.exit(1 if found else 0)
