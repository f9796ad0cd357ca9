"""How fast the NumPy oracle is against PyTorch's float64 transposed convolution.

The oracle runs once per case and once more per gradient check, so a slow oracle is a slow
`tconv run`. Its target (issue 13) is a fraction of PyTorch's own float64 time on three layer
shapes, measured here the only way such a ratio means anything on a shared machine: both in one
process, with the same thread count, interleaved, taking medians of several repeats after a
warm-up.

OpenBLAS reads `OPENBLAS_CORETYPE` / `OPENBLAS_L2_SIZE` at start; where they are set to slow
kernels (as on the project's CI machines) run without them:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python -m harness.bench_oracle
"""

from __future__ import annotations

import ctypes
import glob
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from harness.oracle import conv_transpose


@dataclass(frozen=True)
class Workload:
    """One layer: input (N, C_in, *size), kernel (C_in, C_out, *k), and its geometry."""

    name: str
    batch: int
    in_channels: int
    out_channels: int
    input_size: tuple[int, ...]
    kernel_size: int
    stride: int
    padding: int
    target: float  # the ratio oracle / torch the oracle must stay under


WORKLOADS = (
    Workload("dcgan-2d", 16, 128, 64, (32, 32), 4, 2, 1, 0.7),
    Workload("audio-1d", 8, 256, 128, (4096,), 25, 4, 0, 1.0),
    Workload("volume-3d", 2, 64, 32, (16, 16, 16), 4, 2, 1, 1.0),
)


def set_blas_threads(threads: int) -> bool:
    """Set NumPy's OpenBLAS thread count at run time; False where it cannot be found.

    threadpoolctl is not a dependency; NumPy's wheels ship scipy-openblas, whose setter is a plain
    C symbol next to NumPy (`numpy.libs`)."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        threadpool_limits(limits=threads, user_api="blas")
        return True
    folder = os.path.dirname(np.__file__) + ".libs"
    for path in glob.glob(os.path.join(folder, "*openblas*")):
        lib = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                       "openblas_set_num_threads"):
            if hasattr(lib, symbol):
                getattr(lib, symbol)(ctypes.c_int(threads))
                return True
    return False


def median_times_ms(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median wall time of each function in ms, run interleaved (a load spike hits them all)."""
    for fn in fns:
        fn()  # warm-up: first-touch page faults, BLAS thread start
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for slot, fn in zip(times, fns):
            start = time.perf_counter()
            fn()
            slot.append(time.perf_counter() - start)
    return [statistics.median(slot) * 1e3 for slot in times]


def oracle_ratios(*, repeats: int = 5, threads: int = 2,
                  oracle: Callable[..., np.ndarray] = conv_transpose) -> list[dict]:
    """For each workload: {workload, oracle_ms, torch_ms, ratio, target, same}.

    `same`: the two answers agree to 1e-12 relative (a fast wrong oracle is no use). `oracle`
    may name another implementation to compare (e.g. an older one)."""
    import torch  # optional dependency: only the benchmark needs it

    torch.set_num_threads(threads)
    set_blas_threads(threads)
    torch_fns = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d,
                 3: torch.nn.functional.conv_transpose3d}
    rows = []
    for load in WORKLOADS:
        rng = np.random.default_rng(0)
        rank = len(load.input_size)
        x = rng.standard_normal((load.batch, load.in_channels, *load.input_size))
        w = rng.standard_normal((load.in_channels, load.out_channels) + (load.kernel_size,) * rank)
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        conv = torch_fns[rank]
        ours = oracle(x, w, stride=load.stride, padding=load.padding)
        theirs = conv(tx, tw, stride=load.stride, padding=load.padding).numpy()
        same = ours.shape == theirs.shape and bool(np.abs(ours - theirs).max() <= 1e-12 * np.abs(theirs).max())
        del ours, theirs
        geometry = {"stride": load.stride, "padding": load.padding}
        oracle_ms, torch_ms = median_times_ms([partial(oracle, x, w, **geometry), partial(conv, tx, tw, **geometry)],
                                         repeats)
        rows.append({"workload": load.name, "oracle_ms": oracle_ms, "torch_ms": torch_ms,
                     "ratio": oracle_ms / torch_ms, "target": load.target, "same": same})
    return rows


def main() -> None:
    for row in oracle_ratios():
        print(f"{row['workload']:<10} oracle {row['oracle_ms']:8.1f} ms  torch {row['torch_ms']:8.1f} ms  "
              f"ratio {row['ratio']:.2f} (target <= {row['target']})  same answer: {row['same']}")


if __name__ == "__main__":
    main()
