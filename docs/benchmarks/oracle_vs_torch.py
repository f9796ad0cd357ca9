"""The oracle's cost against PyTorch's float64 conv_transpose2d on a DCGAN layer.

N=16, 128 -> 64 channels, 32x32 input, kernel 4, stride 2, padding 1, 2 threads, best of 7.
OpenBLAS is slowed by OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE on this machine; run without them:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python docs/benchmarks/oracle_vs_torch.py
"""

import time

import numpy as np
import torch

from harness.oracle import conv_transpose

torch.set_num_threads(2)
rng = np.random.default_rng(0)
x = rng.standard_normal((16, 128, 32, 32))
w = rng.standard_normal((128, 64, 4, 4))
tx, tw = torch.from_numpy(x), torch.from_numpy(w)


def best(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


torch_s = best(lambda: torch.nn.functional.conv_transpose2d(tx, tw, stride=2, padding=1))
oracle_s = best(lambda: conv_transpose(x, w, stride=2, padding=1))
same = np.allclose(conv_transpose(x, w, stride=2, padding=1),
                   torch.nn.functional.conv_transpose2d(tx, tw, stride=2, padding=1).numpy(), rtol=1e-12, atol=1e-9)
print(f"torch {torch_s * 1e3:.1f} ms, oracle {oracle_s * 1e3:.1f} ms, ratio {oracle_s / torch_s:.2f} (same answer: {same})")
