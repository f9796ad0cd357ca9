# tconv-repro: framework=torch versions=>=2.13 requires=avx512_bf16
"""PyTorch's bfloat16 grouped transposed convolution on oneDNN (AVX512-BF16, AMX) leaks NaN across groups.

Found by `tconv fuzz --special` on an Intel Xeon. conv_transpose3d with groups 2, stride (1, 1, 2),
output_padding (0, 0, 1): x (1, 2, 1, 1, 2) whose group 0 holds an inf, w (2, 1, 1, 2, 1). Group 1's
input and weights are finite, so its output is finite by the definition (float32 and PyTorch's native
kernels: [-0.0806, 0, 1.0, 0, 0.1955, 0, -2.4238, 0]); in bfloat16 on oneDNN with AVX512-BF16 or AMX
it has NaN at two positions, [nan, 0, 1.0, 0, nan, 0, -2.42, 0]: group 0's inf multiplied into group 1.
With 1000 in place of the inf group 1 is right, and oneDNN capped at AVX2 is right.

Where the group holds an inf of its own the leak turns it into NaN (seed 161): conv_transpose1d with
groups 2, stride 2, output_padding 1, x (1, 2, 3) with an inf at position 0 in both groups, one-tap
weights [0.5, -0.6]: group 0 starts with inf by the definition (and in float32); bfloat16 gives NaN.

Exit status 1 while group 1's bfloat16 output (first layer) or group 0's first output (second) has NaN.
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
x1 = torch.tensor([[[float("inf"), 1.383, 0.137], [float("inf"), 0.601, 0.243]]])  # (1, 2, 3)
w1 = torch.tensor([[[0.5]], [[-0.6]]])  # (2, 1, 1)
first = {dtype: torch.nn.functional.conv_transpose1d(x1.to(dtype), w1.to(dtype), stride=2, output_padding=1,
                                                     groups=2).float()[0, 0, 0].item() for dtype in (torch.float32, torch.bfloat16)}
print(f"  1-D, both groups inf: group 0's first output float32 {first[torch.float32]}, bfloat16 {first[torch.bfloat16]}")
raise SystemExit(1 if bool(group_1[torch.bfloat16].isnan().any()) or first[torch.bfloat16] != first[torch.bfloat16] else 0)
