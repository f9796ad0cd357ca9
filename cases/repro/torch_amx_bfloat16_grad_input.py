# tconv-repro: framework=torch versions=>=2.13 requires=amx_bf16
"""PyTorch's bfloat16 gradient of conv_transpose2d with respect to its input, on oneDNN's AMX kernels.

Found by `tconv fuzz` (cases/found/torch-amx-bfloat16-grad-input.yaml). x (1, 1, 5, 1), w
(1, 3, 3, 2), stride (2, 2), dilation (3, 1), padding (2, 0), output (1, 3, 11, 2): the input
gradient for an upstream gradient g is the forward convolution of g with w. In float32, float64, and in bfloat16 on
PyTorch's native kernels or with oneDNN capped below AMX (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16),
PyTorch gives [0.613, -0.926, 4.0, 0.289, -0.281]; on a CPU with AMX-BF16 (Intel Sapphire Rapids
and later) its default mkldnn path gives [0.613, 4.0, -0.281, 0.289, -4.562]: values moved to
other positions and one made up, sometimes garbage (1e38) where memory was left unwritten. The
weight gradient of other small shapes shows garbage too. CPUs without AMX (AMD EPYC) are right.

Exit status 1 while the bfloat16 mkldnn gradient differs from the float64 one by more than
bfloat16 rounding.
"""

import numpy as np
import torch
from _platform import describe

print(f"torch {torch.__version__}; {describe('mkldnn (oneDNN), bfloat16')}")
X = [0.04638671875, 1.3828125, 0.13671875, -1.6953125, 0.6015625]
W = [1.421875, -0.6171875, -0.58984375, 1.4296875, 0.58203125, -1.3828125, 1.28125, 0.328125, 0.60546875,
     0.2421875, -0.890625, -1.1328125, -0.091796875, -0.1259765625, -1.2578125, -0.5546875, -0.74609375, -0.58984375]
G = [0.166015625, 0.119140625, 0.51171875, -0.078125, -0.2177734375, -0.359375, -0.9921875, 1.140625, 0.158203125,
     -0.66796875, 0.1640625, 0.515625, 0.69140625, 1.2890625, -2.3125, -0.3984375, -1.765625, -0.462890625, 1.1953125,
     0.142578125, 0.0, 0.0, -0.7578125, 1.5625, -1.3515625, -0.78515625, -0.69921875, -0.498046875, 1.25, -0.82421875,
     -1.2734375, -0.44140625, 1.875, -1.2890625, 0.384765625, 1.78125, -0.76171875, -0.53515625, -2.15625, 0.357421875,
     0.67578125, -0.404296875, 0.0, 0.0, 2.28125, -1.7109375, 0.1787109375, -0.12451171875, 0.515625, -0.34765625,
     -0.047607421875, -1.1328125, 0.76171875, -0.1875, -0.314453125, -1.078125, 0.05419921875, 0.53515625, -0.3359375,
     -1.53125, -0.61328125, -1.8984375, 1.15625, -0.30859375, 0.0, 0.0]  # all exact in bfloat16
results = {}
for dtype in (torch.float64, torch.bfloat16):
    x = torch.tensor(X, dtype=dtype).reshape(1, 1, 5, 1).requires_grad_()
    w = torch.tensor(W, dtype=dtype).reshape(1, 3, 3, 2)
    y = torch.nn.functional.conv_transpose2d(x, w, stride=(2, 2), padding=(2, 0), dilation=(3, 1))
    y.backward(torch.tensor(G, dtype=dtype).reshape(y.shape))
    results[dtype] = x.grad.double().numpy().ravel()
    print(f"{dtype}: d/dx = {np.round(results[dtype], 3).tolist()}")
error = np.abs(results[torch.bfloat16] - results[torch.float64]).max()
limit = 0.02 * np.abs(results[torch.float64]).max() + 0.05
print(f"max difference {error:.3g} (bfloat16 rounding allows about {limit:.3g})")
raise SystemExit(1 if error > limit else 0)
