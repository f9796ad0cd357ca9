"""The reproducers under cases/repro/ still reproduce.

Each script states its framework and the versions on which the discrepancy is known
(`# tconv-repro: framework=onnx versions=>=1.13`) and exits 1 while it is present. On a matching
installed version the script must still exit 1: when a framework fixes the bug this test says
so, and the known-discrepancy entry and the finding are updated.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from adapters.base import FRAMEWORK_MODULES, framework_installed
from harness import machine
from harness.environment import installed_version
from tests.conftest import REPO

SCRIPTS = sorted(p for p in (REPO / "cases" / "repro").glob("*.py") if not p.name.startswith("_"))
HEADER = re.compile(r"^# tconv-repro: framework=(\w+) versions=(\S*)(?: requires=(\w+))?$")


def _header(path):
    match = HEADER.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert match, f"{path.name} lacks its '# tconv-repro: framework=... versions=...' first line"
    return match.group(1), match.group(2)


def _installed(framework: str) -> bool:
    """A tconv framework by its module; a converter of its own tox env (`litert_torch`) by its
    distribution (a script run without it would exit 1 on the ImportError, not on the finding)."""
    if framework in FRAMEWORK_MODULES:
        return framework_installed(framework)
    return installed_version(framework) is not None


def _requires(path) -> str | None:
    """A CPU feature (cpuinfo name) the reproducer needs, from its `requires=` header field."""
    return HEADER.match(path.read_text(encoding="utf-8").splitlines()[0]).group(3)


def _param(path):
    framework, _ = _header(path)
    return pytest.param(path, id=path.name, marks=[getattr(pytest.mark, framework), pytest.mark.xdist_group(framework)])


def test_there_are_reproducers() -> None:
    assert len(SCRIPTS) >= 5


@pytest.mark.parametrize("path", [_param(p) for p in SCRIPTS])
def test_reproducer_still_reproduces(path) -> None:
    framework, versions = _header(path)
    if not _installed(framework):
        pytest.skip(f"{framework} is not installed")
    version = installed_version(framework) or "0"
    if versions and Version(version) not in SpecifierSet(versions):
        pytest.skip(f"{framework} {version} is outside {versions}")
    feature = _requires(path)
    if feature and not machine.has(feature):
        pytest.skip(f"needs a CPU with {feature}")
    done = subprocess.run([sys.executable, "-c", _UNCAUGHT_EXITS_3, str(path)], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    # a script that dies (an ImportError, a changed API) would exit 1 too: that is not the discrepancy
    assert done.returncode != 3, f"{path.name} crashed:\n{done.stderr[-2000:]}"
    assert done.returncode == 1, f"no longer reproduces on {framework} {version}:\n{done.stdout}\n{done.stderr[-2000:]}"


# Runs a reproducer as `python script.py` would, except that an exception nobody caught exits 3
# (Python's own status for it is 1, the reproducers' "still there"); a framework that logs a
# traceback it caught itself (tf2onnx does) changes nothing.
_UNCAUGHT_EXITS_3 = """
import os, runpy, sys, traceback
def _crashed(*exception):
    traceback.print_exception(*exception)
    sys.stderr.flush()
    os._exit(3)
sys.excepthook = _crashed
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
"""
