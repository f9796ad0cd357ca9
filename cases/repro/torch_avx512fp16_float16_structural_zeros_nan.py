# tconv-repro: framework=torch versions=>=2.13 requires=avx512_fp16
"""PyTorch's float16 transposed convolution on oneDNN's AVX512-FP16 kernels multiplies padding zeros by the kernel.

Found by `tconv fuzz --special` on an Intel Xeon. conv_transpose2d of one input x = 0.89 with a kernel
row [inf, nan], stride (1, 2), output_padding (0, 1): the result is [x*inf, x*nan, 0] = [inf, nan, 0],
its last position the output_padding, where no tap lands (a structural zero the definition never
multiplies). On oneDNN with AVX512-FP16 PyTorch gives [inf, nan, nan]; natively, with oneDNN capped at
AVX2, and in float32 it gives [inf, nan, 0]. A convention difference (bfloat16 on AMX:
torch_amx_bfloat16_structural_zeros_nan.py).

Exit status 1 while the float16 result has NaN where the float32 one is finite.
"""

import torch
from _platform import describe

print(f"torch {torch.__version__}; {describe('mkldnn (oneDNN), float16')}")
x = torch.tensor([[[[0.89]]]])
w = torch.tensor([[[[float("inf"), float("nan")]]]])
exact = torch.nn.functional.conv_transpose2d(x, w, stride=(1, 2), output_padding=(0, 1))
low = torch.nn.functional.conv_transpose2d(x.half(), w.half(), stride=(1, 2), output_padding=(0, 1)).float()
print(f"  float32: {exact.ravel().tolist()}\n  float16: {low.ravel().tolist()}")
raise SystemExit(1 if bool((low.isnan() & ~exact.isnan()).any()) else 0)
