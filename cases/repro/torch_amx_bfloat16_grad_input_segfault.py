# tconv-repro: framework=torch versions=>=2.13 requires=amx_bf16
"""PyTorch's bfloat16 input gradient of conv_transpose2d crashes the process on oneDNN's AMX kernels.

Found by `tconv fuzz` on an Intel Xeon with AMX-BF16 (its campaign ended at this layer until the
fuzzer ran the frameworks in worker processes). x (1, 1, 1, 2), w (1, 1, 4, 2), padding (4, 0),
dilation (3, 1): the forward result is (1, 1, 2, 3); `y.backward()` is killed by SIGSEGV with two or more
threads (one thread returns the gradient), as are other layers whose dilated kernel reaches past
the padded input. In float32, and in bfloat16 on
PyTorch's native kernels (`torch.backends.mkldnn.flags(enabled=False)`) or with oneDNN capped
below AMX (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16), it returns the gradient.

The layer runs in a child process. Exit status 1 while that process dies by a signal, 0 once it
returns the gradient.
"""

import torch
from _platform import describe, dies_by_signal

LAYER = """
import torch
torch.set_num_threads(2)  # one thread runs it right: a process whose OMP_NUM_THREADS is 1 (Paddle sets it) would not crash
torch.manual_seed(0)
x = torch.randn(1, 1, 1, 2).bfloat16().requires_grad_()
w = torch.randn(1, 1, 4, 2).bfloat16()
y = torch.nn.functional.conv_transpose2d(x, w, padding=(4, 0), dilation=(3, 1))
y.backward(torch.ones_like(y))
print("input gradient:", x.grad.float().tolist())
"""

print(f"torch {torch.__version__}; {describe('mkldnn (oneDNN), bfloat16')}")
raise SystemExit(dies_by_signal(LAYER))
