# tconv-repro: framework=torch versions=>=2.13 requires=amx_bf16
"""PyTorch's bfloat16 transposed convolution on oneDNN's AMX kernel multiplies padding zeros by the kernel.

Found by `tconv fuzz --special` on an Intel Xeon with AMX-BF16. conv_transpose1d of one input
x = [0.0469] with a kernel (C_in=1, C_out=2, k=2) [[inf, -0.619], [-0.591, 1.433]], bfloat16: output
channel 0 is [x*inf, x*(-0.619)] = [inf, -0.029]: its second position has one real term, and the
inf tap lands past the input there (a structural zero the definition never multiplies). On its
default mkldnn path on AMX PyTorch gives [inf, nan]; with oneDNN capped below AMX
(ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 or AVX2), on its native kernels and in float32 it gives
[inf, -0.029]. A convention difference (JAX and TensorFlow multiply such zeros everywhere:
structural_zeros_nan.py), new with the AMX kernel.

Exit status 1 while the bfloat16 result has NaN where the float32 one is finite.
"""

import torch
from _platform import describe

print(f"torch {torch.__version__}; {describe('mkldnn (oneDNN), bfloat16')}")
x = torch.tensor([[[0.0469]]])
w = torch.tensor([[[float("inf"), -0.619], [-0.591, 1.433]]])
exact = torch.nn.functional.conv_transpose1d(x, w)
low = torch.nn.functional.conv_transpose1d(x.bfloat16(), w.bfloat16()).float()
print(f"  float32:  {exact.tolist()}\n  bfloat16: {low.tolist()}")
raise SystemExit(1 if bool((low.isnan() & ~exact.isnan()).any()) else 0)
