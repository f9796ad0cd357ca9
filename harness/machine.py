"""What the machine is, as far as it changes numerics: CPU vendor and model, the ISA features
frameworks select kernels by, and the switches that move a framework onto another path.

Frameworks pick kernels per CPU: TensorFlow uses oneDNN for float16 only with AVX512-FP16 (or
AMX-FP16 or AVX-NE-CONVERT) and falls back to Eigen elsewhere; PyTorch's CPU float16/bfloat16
convolutions go to oneDNN (mkldnn) only where its device check passes. A verdict is therefore a
verdict on (release, path), and every report records both. Reading `/proc/cpuinfo` imports no
framework, so describing the machine is cheap and safe.

`TCONV_TORCH_MKLDNN=0` makes tconv's PyTorch adapters run with `torch.backends.mkldnn` disabled
(the native kernels a CPU without oneDNN float16 support takes); `TF_ENABLE_ONEDNN_OPTS=0` and
`ONEDNN_MAX_CPU_ISA` are the frameworks' own switches, recorded here when set.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

# ISA features that select kernels in the frameworks tconv runs (cpuinfo flag names).
KERNEL_SELECTING_FEATURES = (
    "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16",
    "amx_tile", "amx_bf16", "amx_fp16", "avx_ne_convert", "avx_vnni",
)

# Environment switches that move frameworks onto other paths; recorded with their values.
PATH_SWITCHES = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "TCONV_TORCH_MKLDNN",
                 "XLA_FLAGS", "OMP_NUM_THREADS")


@cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo (empty off Linux)."""
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return info
    for line in text.splitlines():
        if not line.strip():
            if info:
                break
            continue
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return info


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (cpuinfo names: `avx512_fp16`, `amx_bf16`, ...)."""
    return frozenset(_cpuinfo().get("flags", "").split())


def fingerprint() -> str:
    """A short name for this CPU's model and features: compiled code cached on disk (JAX's
    executables) is only reused on a CPU with the same features, never one missing some."""
    import hashlib

    text = f"{platform.machine()}|{cpu_model()}|{' '.join(sorted(cpu_flags()))}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def cache_root() -> Path:
    """tconv's user cache folder: `$TCONV_CACHE_DIR`, else `$XDG_CACHE_HOME/tconv`, else `~/.cache/tconv`."""
    if os.environ.get("TCONV_CACHE_DIR"):
        return Path(os.environ["TCONV_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tconv"


def has(feature: str) -> bool:
    """Whether the CPU reports a feature (cpuinfo name)."""
    return feature in cpu_flags()


def cpu_vendor() -> str:
    """`GenuineIntel`, `AuthenticAMD`, ... (the machine name where cpuinfo is missing)."""
    return _cpuinfo().get("vendor_id", "") or platform.machine()


def cpu_model() -> str:
    return _cpuinfo().get("model name", "") or platform.processor() or platform.machine()


def isa_summary() -> str:
    """The kernel-selecting features present, space-separated, in a fixed order."""
    return " ".join(f for f in KERNEL_SELECTING_FEATURES if has(f))


def switches() -> dict[str, str]:
    """The path switches that are set in this process's environment."""
    return {name: os.environ[name] for name in PATH_SWITCHES if name in os.environ}


def wait_passively() -> None:
    """OpenMP threads that sleep while idle, unless the user chose (`OMP_WAIT_POLICY`); called before a
    framework loads. tconv runs frameworks side by side (its workers, pytest-xdist's), and idle
    threads spinning (GNU OpenMP's default) took the cores another framework computed on: PyTorch's
    worker of a warm `tconv run` 10.0-11.1 -> 7.3-7.4 s of CPU in the same wall time, and
    `pytest cases --tconv-frameworks torch` on 2 xdist workers 22-25 -> 13.4 s. Only how idle
    threads wait changes, not their number or the split of the work: the reports are identical."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def torch_mkldnn_requested() -> bool:
    """False when `TCONV_TORCH_MKLDNN` asks tconv to run PyTorch with oneDNN disabled."""
    return os.environ.get("TCONV_TORCH_MKLDNN", "1").strip().lower() not in ("0", "false", "off", "no")


def facts() -> dict[str, str]:
    """Platform facts for the report header and for known-discrepancy conditions.

    Every kernel-selecting feature is present as `yes`/`no`, so an entry can say
    `when: {avx512_fp16: "no"}` and mean it.
    """
    data = {
        "cpu_vendor": cpu_vendor(),
        "cpu": cpu_model(),
        "cpu_isa": isa_summary(),
        "machine": platform.machine(),
    }
    for feature in KERNEL_SELECTING_FEATURES:
        data[feature] = "yes" if has(feature) else "no"
    for name, value in switches().items():
        data[f"switch_{name}"] = value
    return data


@contextlib.contextmanager
def switched(values: Mapping[str, str]) -> Iterator[None]:
    """These environment switches set for the block (read by tconv or a framework as it runs), then
    each as it was, unset where it was unset."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
