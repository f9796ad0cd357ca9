"""Shared fixtures: writing case files, calling the command line in-process."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main

REPO = Path(__file__).resolve().parent.parent


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
