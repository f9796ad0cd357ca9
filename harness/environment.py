"""The environment a report was made in: Python, platform, CPU, versions, commit, command, time.

Versions come from installed distribution metadata, so describing the environment imports no
framework. Every report format carries this header (the CSV as `env_*` columns).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path

import harness

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
}


def installed_version(framework: str) -> str | None:
    """The version of a framework's distribution, or None when it is not installed."""
    for dist in DISTRIBUTIONS.get(framework, (framework,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
        "cpu": _cpu(),
        "command": " ".join(command if command is not None else sys.argv),
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    for framework in DISTRIBUTIONS:
        env[f"version_{framework}"] = installed_version(framework) or "not installed"
    return env
