# tconv-repro: framework=torch versions=>=2.1
"""PyTorch's native CPU transposed conv is not float32-accumulated in float16/bfloat16.

`F.conv_transpose2d` runs on oneDNN (mkldnn) or on PyTorch's own slow_conv_transpose2d. A CPU
without oneDNN float16 support (no AVX512-FP16/AMX-FP16: an AMD EPYC, say) takes the native path
for float16; disabling mkldnn (done here, so this runs the same on every CPU) takes it for
bfloat16 too. There:
1. float16 products are formed in float16: input [[300, -300], [1, 2]], kernel [[300, 300],
   [1, 2]] gives NaN (inf - inf) at a position whose exact answer is 0;
2. the kernel taps are added (col2im) in the low dtype: an 11x11 kernel of positive data is
   ulps off the exact result (4.7 float16 ulps here) where a float32 sum is within one.
Upstream: pytorch/pytorch#153700 and #153276.

Exit status 1 while the native path gives NaN for the exact 0, or is more than 4 ulps off.
"""

import numpy as np
import torch

from _platform import describe

print(f"torch {torch.__version__}; {describe('native (mkldnn disabled)')}")
with torch.backends.mkldnn.flags(enabled=False):
    x = torch.tensor([[[[300.0, -300.0], [1.0, 2.0]]]])
    w = torch.tensor([[[[300.0, 300.0], [1.0, 2.0]]]])
    y = torch.nn.functional.conv_transpose2d(x.half(), w.half())
    exact = torch.nn.functional.conv_transpose2d(x.double(), w.double())
    print(f"  float16 [0, 0, 0, 1]: got {float(y[0, 0, 0, 1])}, exact {float(exact[0, 0, 0, 1])}")
    nan_for_zero = bool(torch.isnan(y[0, 0, 0, 1]))

    rng = np.random.default_rng(0)
    xs = torch.from_numpy(rng.random((1, 1, 12, 12)))
    ws = torch.from_numpy(rng.random((1, 1, 11, 11)))
    worst = 0.0
    for dtype in (torch.float16, torch.bfloat16):
        a, b = xs.to(dtype), ws.to(dtype)
        got = torch.nn.functional.conv_transpose2d(a, b).double()
        ref = torch.nn.functional.conv_transpose2d(a.double(), b.double())
        eps = torch.finfo(dtype).eps  # ulp of 1: float16 2^-10, bfloat16 2^-7
        ulp = eps * torch.exp2(torch.floor(torch.log2(ref.abs())))
        ulps = float(((got - ref).abs() / ulp).max())
        worst = max(worst, ulps)
        print(f"  {str(dtype):15s} 11x11 taps of positive data: max error {ulps:.1f} ulp of the exact result")
raise SystemExit(1 if nan_for_zero or worst > 4 else 0)
