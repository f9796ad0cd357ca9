# tconv-repro: framework=openvino versions=>=2026.4 requires=avx512_bf16
"""OpenVINO's CPU plugin: bfloat16 GroupConvolutionBackpropData with a dilation turns an inf result into NaN.

Found by `tconv fuzz --special` (both OpenVINO adapters). Two groups of one channel, x (1, 2, 1, 1) =
[inf, 1.383], weights (2, 1, 1, 1, 1) = [-0.594, 1.430], a one-tap (1 x 1) kernel with dilations
(1, 2), which a one-tap kernel does not feel: the result is [inf * -0.594, 1.383 * 1.430] =
[-inf, 1.977]. With the bf16 hint OpenVINO gives [nan, 1.977]; with dilations (1, 1), with groups 1
(ConvolutionBackpropData) and in float32 it gives -inf; oneDNN capped at AVX512_CORE changes nothing.
On a CPU without AVX512-BF16 the plugin runs bf16 hints in float32 (and gives -inf).
In 3-D the same layer gives NaN even with dilations (1, 1, 1) (openvino_bfloat16_group_3d_inf_nan.py
runs `reproduces` here); in 1-D it is right with or without a dilation.

Exit status 1 while the bfloat16 result is NaN where the float32 one is -inf.
"""

import sys

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from _openvino import infer, tensor
from _platform import describe

def reproduces(rank: int, dilation: int) -> bool:
    """The layer above in `rank` spatial dims, the last one dilated by `dilation`: whether its bfloat16
    result is NaN where its float32 one is not."""
    x_values = np.array([np.inf, 1.3828125], np.float32).reshape((1, 2) + (1,) * rank)
    w_values = np.array([-0.59375, 1.4296875], np.float32).reshape((2, 1, 1) + (1,) * rank)  # (groups, C_in/g, C_out/g, k...)

    def run(bf16):
        x = ops.parameter(list(x_values.shape), ov.Type.bf16 if bf16 else ov.Type.f32, name="x")
        y = ops.group_convolution_backprop_data(x, ops.constant(tensor(w_values, bf16)), [1] * rank,
                                                pads_begin=[0] * rank, pads_end=[0] * rank,
                                                dilations=[1] * (rank - 1) + [dilation])
        return infer(ov.Model([y], [x]), x_values, bf16).ravel()

    exact, low = run(False), run(True)
    print(f"openvino {ov.__version__}; {describe('CPU plugin, bf16')}; {rank}-D, dilation {dilation}")
    print(f"  float32:  {exact.tolist()}\n  bfloat16: {low.tolist()}")
    return bool((np.isnan(low) & ~np.isnan(exact)).any())


if __name__ == "__main__":
    sys.exit(1 if reproduces(2, 2) else 0)
