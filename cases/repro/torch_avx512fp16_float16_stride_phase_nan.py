# tconv-repro: framework=torch versions=>=2.13 requires=avx512_fp16
"""PyTorch's float16 transposed convolution on oneDNN's AVX512-FP16 kernels multiplies a zero past the input by the kernel.

Found by `tconv fuzz --special` on an Intel Xeon (seed 61). conv_transpose1d of one input x = 0.89 with
the kernel [inf, -0.619, -0.591], stride 2: the result is [x*inf, x*-0.619, x*-0.591] = [inf, -0.551,
-0.526], every position one tap on the one input. On oneDNN with AVX512-FP16 PyTorch gives
[inf, -0.551, nan]: the last position also takes the inf tap times the input after the last one, a zero
the definition never multiplies. Stride 1 and 3 are right; natively (mkldnn off), with oneDNN capped at
AVX2, and in float32 it is right. The same convention as torch_avx512fp16_float16_structural_zeros_nan.py
(there the zeros of an output_padding), on a layer with no output_padding and no zero extension.

Exit status 1 while the float16 result has NaN where the float32 one is finite.
"""

import torch
from _platform import describe

print(f"torch {torch.__version__}; {describe('mkldnn (oneDNN), float16')}")
x = torch.tensor([[[0.89]]])
w = torch.tensor([[[float("inf"), -0.619, -0.591]]])
exact = torch.nn.functional.conv_transpose1d(x, w, stride=2)
low = torch.nn.functional.conv_transpose1d(x.half(), w.half(), stride=2).float()
print(f"  float32: {exact.ravel().tolist()}\n  float16: {low.ravel().tolist()}")
raise SystemExit(1 if bool((low.isnan() & ~exact.isnan()).any()) else 0)
