# tconv-repro: framework=torch versions=>=2.13 requires=amx_bf16
"""PyTorch's bfloat16 matrix product on oneDNN's AMX kernels reads one element past each row of A when
K is odd: an inf or NaN that starts the next row turns the row before it into NaN.

Found by `tconv fuzz --special --large` (seed 261, its wide channel counts) as the weight gradient of
`conv_transpose1d` in bfloat16: x (1, 24, 3) with an inf at channel 5, position 0, w (24, 15, 4),
dilation 2, output_padding 1. The forward runs PyTorch's own (slow) kernel, whose weight gradient is a
matrix product, and PyTorch sends bfloat16 matrix products to oneDNN: input channel 4's whole gradient
row comes out NaN, although nothing of channel 4 is non-finite. Scripted alone: A (24, 3) with an inf
at [5, 0], B (3, 60), `A @ B` in bfloat16 gives NaN in row 4 as well as row 5's own infs (`torch.mm`,
`torch.bmm` and `F.linear` alike).
- An inf at [r, 0] makes row r - 1 NaN; at [r, 1] or [r, 2] it makes nothing else NaN. So the padding
  slot of an odd K (K pairs, as AMX's bfloat16 tiles take them) reads the next row's first element, and
  multiplies it by B's zero padding: a finite value gives 0 (no error shows; 1e30 there leaves row 4
  right), an inf or NaN gives NaN.
- Odd K = 3, 5, 7, 9, 31 show it, even K does not. N of 59 and more shows it, 48 and less does not;
  M of 24 or more.
- float16, float32, `torch.backends.mkldnn.flags(enabled=False)`, and oneDNN capped below AMX
  (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16) are right.

Exit status 1 while a row of the product (or of the weight gradient) is NaN that holds nothing non-finite.
"""

import numpy as np
import torch
from _platform import describe

print(f"torch {torch.__version__}; {describe('mkldnn (oneDNN) matmul, bfloat16')}")
rng = np.random.default_rng(0)
a, b = rng.standard_normal((24, 3)), rng.standard_normal((3, 60))
a[5, 0] = np.inf
product = (torch.tensor(a, dtype=torch.bfloat16) @ torch.tensor(b, dtype=torch.bfloat16)).double().numpy()
matmul_rows = sorted(set(np.argwhere(np.isnan(product))[:, 0].tolist()) - {5})
print(f"  A (24, 3) @ B (3, 60), inf at A[5, 0]: NaN in rows {matmul_rows} besides row 5 (none by the definition)")

x, w = rng.standard_normal((1, 24, 3)), rng.standard_normal((24, 15, 4))
x[0, 5, 0] = np.inf
weight = torch.tensor(w, dtype=torch.bfloat16, requires_grad=True)
y = torch.nn.functional.conv_transpose1d(torch.tensor(x, dtype=torch.bfloat16), weight, dilation=2, output_padding=1)
y.backward(torch.tensor(rng.standard_normal(tuple(y.shape)), dtype=torch.bfloat16))
gradient_rows = sorted(set(np.argwhere(np.isnan(weight.grad.double().numpy()))[:, 0].tolist()) - {5})
print(f"  conv_transpose1d weight gradient, inf at x[0, 5, 0]: NaN in input channels {gradient_rows} besides 5")
raise SystemExit(1 if matmul_rows or gradient_rows else 0)
