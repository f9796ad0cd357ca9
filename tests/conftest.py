"""Shared fixtures: writing case files, calling the command line in-process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main

REPO = Path(__file__).resolve().parent.parent
# Third-party pytest plugins a child pytest needs none of; hypothesis' alone takes ~1.2 s to import here.
UNUSED_PLUGINS = ("cacheprovider", "hypothesispytest", "jaxtyping", "anyio")


def child_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m pytest ARGS` in `folder`, tconv importable as when it is installed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    plugins = [option for name in UNUSED_PLUGINS for option in ("-p", f"no:{name}")]
    return subprocess.run([sys.executable, "-m", "pytest", *plugins, *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def write_cases(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write YAML text (dedented) to a file in a temporary folder and return its path."""

    def write(text: str, name: str = "cases.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def tconv(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `tconv ARGS...` in this process: (exit status, stdout, stderr)."""

    def call(*args: str) -> tuple[int, str, str]:
        try:
            status = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse errors exit
            status = int(exit_.code or 0)
        out, err = capsys.readouterr()
        return status, out, err

    return call


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
