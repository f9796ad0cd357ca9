"""The command line: `tconv run` on the seeds with the NumPy formulations, exit statuses, report files."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from harness.report import CONTRACT_COLUMNS
from tests.conftest import REPO

SEEDS = REPO / "cases" / "seeds.yaml"


def test_seeds_pass_on_numpy(tconv, tmp_path) -> None:
    status, out, _ = tconv("run", SEEDS, "--frameworks", "numpy", "--out", tmp_path, "--quiet")
    assert status == 0, out
    frame = pd.read_csv(tmp_path / "report.csv")
    assert list(frame.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    assert set(frame["status"]) == {"pass"}
    oracle_rows = frame[frame["adapter"] == "oracle"]
    assert len(oracle_rows) == 8 and set(oracle_rows["framework"]) == {"numpy"}
    assert set(frame["adapter"]) == {"oracle", "numpy.scatter", "numpy.matrix", "numpy.zero_insertion", "numpy.per_tap"}
    assert (tmp_path / "report.html").stat().st_size > 1000
    assert (tmp_path / "report.json").exists()


def test_oracle_rows_appear_whatever_frameworks_are_named(tconv, tmp_path, monkeypatch) -> None:
    """A named framework that is not installed leaves no adapter; the oracle rows are there all the same."""
    import adapters

    monkeypatch.setattr(adapters, "framework_installed", lambda framework: framework != "torch")
    status, out, _ = tconv("run", SEEDS, "--frameworks", "torch", "--out", tmp_path, "--quiet")
    assert status == 0
    frame = pd.read_csv(tmp_path / "report.csv")
    assert set(frame["adapter"]) == {"oracle"} and len(frame) == 8
    assert "framework not installed, its adapters left out: torch" in out


def test_a_wrong_golden_value_fails_the_oracle_row(write_cases, tconv, tmp_path) -> None:
    path = write_cases("cases:\n  - id: wrong\n    input: [[0, 1], [2, 3]]\n    kernel: [[1, 2], [3, 4]]\n"
                       "    expected: [[0, 1, 2], [2, 10, 10], [6, 17, 13]]\n")
    status, _, _ = tconv("run", path, "--frameworks", "numpy", "--out", tmp_path / "out", "--quiet")
    assert status == 1
    frame = pd.read_csv(tmp_path / "out" / "report.csv")
    row = frame[frame["adapter"] == "oracle"].iloc[0]
    assert row["status"] == "fail" and row["worst_index"] == "0,0,2,2" and "expected 13, got 12" in row["message"]


def test_unknown_framework_is_a_bad_argument(tconv, tmp_path) -> None:
    status, _, err = tconv("run", SEEDS, "--frameworks", "numpy,tensorfloww", "--out", tmp_path)
    assert status == 2 and "tensorfloww" in err


def test_missing_path_is_a_bad_argument(tconv, tmp_path) -> None:
    status, _, err = tconv("run", tmp_path / "nope.yaml", "--out", tmp_path)
    assert status == 2 and "nope.yaml" in err and "Traceback" not in err


def test_python_dash_m_harness_is_the_same_program(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(SEEDS), "--frameworks", "numpy",
                           "--out", str(tmp_path), "--quiet"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "report.csv").exists()
