"""JAX's compiled shapes persist between runs in tconv's cache folder, per JAX version and CPU,
and give the same answers; `TCONV_JAX_CACHE=0` turns the cache off."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness import machine
from tests.conftest import REPO

pytest.importorskip("jax")
pytestmark = pytest.mark.jax

SCRIPT = """
from harness.casefile import load_cases
from harness.runner import adapter_row
from adapters.jax_lax import ADAPTERS
(case,) = [c for c in load_cases(["cases/seeds.yaml"]) if c.id == "d2l-stride-2"]
print(*(adapter_row(case, a).status for a in ADAPTERS))
"""


def _run(tmp_path, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    environ.update(TCONV_CACHE_DIR=str(tmp_path / "cache"), **env)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=environ, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_compiled_shapes_are_cached_per_jax_version_and_cpu(tmp_path) -> None:
    import jax

    assert _run(tmp_path) == "pass pass"
    folder = tmp_path / "cache" / "jax" / f"{jax.__version__}-{machine.fingerprint()}"
    entries = list(folder.iterdir())
    assert entries, "nothing was cached"
    assert _run(tmp_path) == "pass pass"  # answers from the cached executables are judged the same


def test_the_cache_can_be_turned_off(tmp_path) -> None:
    assert _run(tmp_path, TCONV_JAX_CACHE="0") == "pass pass"
    assert not (tmp_path / "cache" / "jax").exists()
