# tconv-repro: framework=openvino versions=>=2026.4 requires=amx_bf16
"""OpenVINO's CPU plugin crashes the process on a bfloat16 GroupConvolutionBackpropData with a dilated kernel.

Found by `tconv fuzz` on an Intel Xeon with AMX-BF16, on both OpenVINO adapters (its opset and
its ONNX front end). x (1, 2, 1, 5) and weights (2, 1, 2, 4, 1) (groups 2, a 4 x 1 kernel) in
bfloat16, dilations (3, 1), auto_pad same_lower, output_shape (1, 5), compiled for "CPU" with
INFERENCE_PRECISION_HINT bf16: the inference is killed by SIGSEGV. With groups 1
(ConvolutionBackpropData), with float32 inputs and weights under the same hint, or with oneDNN
capped below AMX (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16, which OpenVINO's oneDNN reads too), it
returns the result.

The layer runs in a child process. Exit status 1 while that process dies by a signal, 0 once it
returns the result.
"""

import openvino as ov
from _platform import describe, dies_by_signal

LAYER = """
import numpy as np
import openvino as ov
import openvino.opset13 as ops
from _openvino import infer, tensor

x = ops.parameter([1, 2, 1, 5], ov.Type.bf16, name="x")
w = ops.constant(tensor(np.random.default_rng(1).standard_normal((2, 1, 2, 4, 1)), bf16=True))
y = ops.group_convolution_backprop_data(x, w, [1, 1], ops.constant(np.array([1, 5], np.int64)), pads_begin=[0, 0],
                                        pads_end=[0, 0], dilations=[3, 1], auto_pad="same_lower")
result = infer(ov.Model([y], [x]), np.random.default_rng(0).standard_normal((1, 2, 1, 5)), bf16=True)
print("result shape:", result.shape)
"""

print(f"openvino {ov.__version__}; {describe('CPU plugin, bf16')}")
raise SystemExit(dies_by_signal(LAYER))
