# tconv-repro: framework=torch versions=>=2.13 requires=amx_bf16
"""PyTorch's bfloat16 conv_transpose3d on oneDNN's AMX kernels leaves the output_padding positions unwritten.

Found by `tconv fuzz --special` (seed 91) on an Intel Xeon with AMX-BF16. x (1, 1, 1, 1, 3), w (1, 1, 2, 1, 8),
stride (2, 1, 1), dilation (1, 1, 2), output_padding (1, 0, 0): the result is (1, 1, 3, 1, 17), and its
depth position 2 is the output_padding, zeros by the definition (no tap lands there; PyTorch's float32
gives zeros). In bfloat16 on oneDNN with AMX, some calls (1 or 2 in 20 here, at random) fill it with
garbage: values up to 2e38, as if the memory was never written. With oneDNN capped below AMX
(ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16) none of 20 do. The fuzzed layers showed the same in TensorFlow's
oneDNN path and in OpenVINO's jit_avx512_amx_bf16 kernel
(tensorflow_onednn_amx_bfloat16_output_padding_garbage.py, openvino_amx_bfloat16_output_padding_garbage.py).

The layer runs 200 times. Exit status 1 while any result has a non-zero value in the output_padding.
"""

import torch
from _platform import describe

print(f"torch {torch.__version__}; {describe('mkldnn (oneDNN), bfloat16')}")
torch.manual_seed(0)
x = torch.randn(1, 1, 1, 1, 3).bfloat16()
w = torch.randn(1, 1, 2, 1, 8).bfloat16()
garbage = []
for _ in range(200):
    y = torch.nn.functional.conv_transpose3d(x, w, stride=(2, 1, 1), dilation=(1, 1, 2), output_padding=(1, 0, 0))
    region = y[:, :, 2].float()
    if bool((region != 0).any()):
        garbage.append(region.abs().max().item())
print(f"calls with garbage in the output_padding: {len(garbage)} of 200" + (f", up to {max(garbage):.3g}" if garbage else ""))
raise SystemExit(1 if garbage else 0)
