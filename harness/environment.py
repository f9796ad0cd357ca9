"""The environment a report was made in: Python, platform, CPU, versions, commit, command, time.

Versions come from installed distribution metadata, so describing the environment imports no
framework. Every report format carries this header (the CSV as `env_*` columns).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from functools import cache
from pathlib import Path

import harness
from harness import machine

# Distributions worth naming, by framework; the first installed one gives the version.
DISTRIBUTIONS = {
    "numpy": ("numpy",),
    "torch": ("torch",),
    "tensorflow": ("tensorflow-cpu", "tensorflow", "tf-nightly"),
    "keras": ("keras",),
    "jax": ("jax",),
    "jaxlib": ("jaxlib",),
    "onnx": ("onnx",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "ml_dtypes": ("ml_dtypes",),
    "openvino": ("openvino",),
    "paddle": ("paddlepaddle",),
    "litert": ("ai-edge-litert",),
    "tf2onnx": ("tf2onnx",),
    "litert_torch": ("litert-torch",),
    "mlx": ("mlx",),
    "tinygrad": ("tinygrad",),
}


@cache
def installed_version(framework: str) -> str | None:
    """The version of a framework's distribution, or None when it is not installed (read once per
    process: adapters ask it for every row, and reading a distribution's metadata costs ~1.5 ms)."""
    for dist in DISTRIBUTIONS.get(framework, (framework,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    commit = out.stdout.strip()
    return f"{commit}-dirty" if commit and dirty.stdout.strip() else commit


def environment(command: list[str] | None = None) -> dict[str, str]:
    """The header: one flat mapping of strings."""
    env = {
        "tconv_version": harness.__version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **machine.facts(),
        "command": " ".join(command if command is not None else sys.argv),
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    env.update(framework_paths())
    for framework in DISTRIBUTIONS:
        env[f"version_{framework}"] = installed_version(framework) or "not installed"
    return env


def framework_paths() -> dict[str, str]:
    """Each framework's process-wide compute switches, read without importing it: TensorFlow's
    oneDNN rewrites (on by default on x86-64) and tconv's PyTorch mkldnn setting. The per-row
    `path` column says which kernels each case actually took."""
    tf_off = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() in ("0", "false")
    return {
        "path_tensorflow": "eigen only (TF_ENABLE_ONEDNN_OPTS=0)" if tf_off else "onednn where TF's dtype rule allows",
        "path_torch": "mkldnn enabled" if machine.torch_mkldnn_requested() else "mkldnn disabled (TCONV_TORCH_MKLDNN=0)",
    }
