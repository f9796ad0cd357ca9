# tconv-repro: framework=torch versions=>=2.13 requires=avx512_bf16
"""PyTorch's bfloat16 grouped transposed convolution on oneDNN (AVX512-BF16, AMX) leaks NaN across groups.

Found by `tconv fuzz --special` on an Intel Xeon. conv_transpose3d with groups 2, stride (1, 1, 2),
output_padding (0, 0, 1): x (1, 2, 1, 1, 2) whose group 0 holds an inf, w (2, 1, 1, 2, 1). Group 1's
input and weights are finite, so its output is finite by the definition (float32 and PyTorch's native
kernels: [-0.0806, 0, 1.0, 0, 0.1955, 0, -2.4238, 0]); in bfloat16 on oneDNN with AVX512-BF16 or AMX
it has NaN at two positions, [nan, 0, 1.0, 0, nan, 0, -2.42, 0]: group 0's inf multiplied into group 1.
With 1000 in place of the inf group 1 is right, and oneDNN capped at AVX2 is right.

Exit status 1 while group 1's bfloat16 output has NaN.
"""

import torch
from _platform import describe

print(f"torch {torch.__version__}; {describe('mkldnn (oneDNN), bfloat16')}")
x = torch.tensor([[[[[0.04638672, float("inf")]]], [[[0.13671875, -1.6953125]]]]])  # (1, 2, 1, 1, 2)
w = torch.tensor([[[[[1.421875], [-0.6171875]]]], [[[[-0.58984375], [1.4296875]]]]])  # (2, 1, 1, 2, 1)
group_1 = {}
for dtype in (torch.float32, torch.bfloat16):
    y = torch.nn.functional.conv_transpose3d(x.to(dtype), w.to(dtype), stride=(1, 1, 2), output_padding=(0, 0, 1),
                                             groups=2)
    group_1[dtype] = y.float()[0, 1].ravel()
    print(f"  {dtype}: group 1 = {group_1[dtype].tolist()}")
raise SystemExit(1 if bool(group_1[torch.bfloat16].isnan().any()) else 0)
