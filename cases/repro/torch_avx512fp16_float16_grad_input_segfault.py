# tconv-repro: framework=torch versions=>=2.13 requires=avx512_fp16
"""PyTorch's float16 input gradient of conv_transpose2d crashes the process on oneDNN's AVX512-FP16 kernels.

Found by `tconv fuzz` on an Intel Xeon with AVX512-FP16. x (1, 2, 3, 4), w (2, 2, 10, 3), stride
(3, 4), padding (7, 9), output_padding (1, 0), groups 2, dilation (1, 3): the forward result is
(1, 4, 3, 1); `y.backward()` is killed by SIGSEGV (the weight gradient alone is
fine), with the two threads the script asks for. In float32,
and in float16 on PyTorch's native kernels (`torch.backends.mkldnn.flags(enabled=False)`) or with
oneDNN capped below AVX512-FP16 (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16), it returns the gradient; CPUs
without AVX512-FP16 (AMD EPYC) never take that kernel.

The layer runs in a child process. Exit status 1 while that process dies by a signal, 0 once it
returns the gradient.
"""

import torch
from _platform import describe, dies_by_signal

LAYER = """
import torch
torch.set_num_threads(2)  # one thread runs it right: a process whose OMP_NUM_THREADS is 1 (Paddle sets it) would not crash
torch.manual_seed(0)
x = torch.randn(1, 2, 3, 4).half().requires_grad_()
w = torch.randn(2, 2, 10, 3).half()
y = torch.nn.functional.conv_transpose2d(x, w, stride=(3, 4), padding=(7, 9), output_padding=(1, 0), groups=2,
                                         dilation=(1, 3))
y.backward(torch.ones_like(y))
print("input gradient:", x.grad.float().flatten().tolist())
"""

print(f"torch {torch.__version__}; {describe('mkldnn (oneDNN), float16')}")
raise SystemExit(dies_by_signal(LAYER))
