"""Reports: the CSV/JSON/HTML files, their environment header, re-rendering, and the page in a
real headless Chromium (rendered, fast, small)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.report import COLUMNS
from tests.conftest import CHROMIUM_FLAGS, REPO

BROKEN = REPO / "docs" / "examples" / "broken_adapter.py"
ENVIRONMENT_KEYS = {"python", "platform", "cpu", "tconv_version", "git_commit", "command", "time", "version_numpy"}


@pytest.fixture(scope="module")
def failing_report(tmp_path_factory) -> Path:
    """A real run with failures: the NumPy formulations plus a deliberately broken adapter."""
    from harness.cli import main

    out = tmp_path_factory.mktemp("broken")
    plugin = tmp_path_factory.mktemp("plugin") / "broken_numpy.py"
    plugin.write_text(
        "import dataclasses\nfrom adapters.base import Adapter\nfrom adapters.layout import rot180\n"
        "from adapters.numpy_matrix import NumpyMatrix\n\n"
        "class Flipped(Adapter):\n    name = 'numpy.BROKEN-flipped'\n    framework = 'numpy'\n"
        "    def run(self, case):\n        return NumpyMatrix().run(dataclasses.replace(case, kernel=rot180(case.kernel)))\n\n"
        "ADAPTERS = (Flipped(),)\n")
    status = main(["run", str(REPO / "cases" / "seeds.yaml"), str(REPO / "cases" / "ranks.yaml"),
                   "--frameworks", "numpy", "--plugin", str(plugin), "--out", str(out), "--quiet"])
    assert status == 1
    return out


def test_csv_has_the_contract_and_detail_columns(failing_report: Path) -> None:
    frame = pd.read_csv(failing_report / "report.csv", keep_default_na=False)
    assert list(frame.columns[: len(COLUMNS)]) == COLUMNS
    env = {c.removeprefix("env_") for c in frame.columns if c.startswith("env_")}
    assert ENVIRONMENT_KEYS <= env
    broken = frame[frame["adapter"] == "numpy.BROKEN-flipped"]
    assert (broken["status"] == "fail").sum() >= 20
    row = broken[broken["status"] == "fail"].iloc[0]
    assert row["diagnosis"].startswith("kernel rotated 180") and row["worst_index"] and float(row["tol_ratio"]) > 1
    assert row["expected_shape"] == row["actual_shape"] and row["device"] == "cpu" and float(row["time_ms"]) >= 0


def test_json_has_rows_environment_and_plots(failing_report: Path) -> None:
    document = json.loads((failing_report / "report.json").read_text())
    assert ENVIRONMENT_KEYS <= set(document["environment"])
    assert len(document["rows"]) == len(pd.read_csv(failing_report / "report.csv"))
    assert document["plots"], "failing 1-D/2-D rows keep a slice for the pictures"
    assert document["summary"]["counts"]["fail"] >= 20


def test_html_is_self_contained_with_verdict_summary_matrix_details(failing_report: Path) -> None:
    page = (failing_report / "report.html").read_text()
    assert re.search(r'id="verdict">FAIL', page)
    for anchor in ('id="summary"', 'id="matrix"', 'id="diagnoses"', 'id="environment"', 'id="f-framework"',
                   'id="f-status"', 'id="f-case"', "data:image/png;base64,"):
        assert anchor in page
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', page), "no network resources"
    assert "kernel rotated 180 degrees" in page


def test_report_command_rerenders_from_csv_and_json(failing_report: Path, tconv, tmp_path: Path) -> None:
    status, out, _ = tconv("report", failing_report / "report.csv", "--html", tmp_path / "from-csv.html")
    assert status == 0 and "from-csv.html" in out
    from_csv = (tmp_path / "from-csv.html").read_text()
    assert 'id="matrix"' in from_csv and "numpy.BROKEN-flipped" in from_csv
    status, _, _ = tconv("report", failing_report / "report.json", "--html", tmp_path / "from-json.html")
    assert status == 0 and "data:image/png;base64," in (tmp_path / "from-json.html").read_text()


def test_quiet_prints_only_failures_and_the_report_path(tconv, tmp_path: Path) -> None:
    status, out, _ = tconv("run", REPO / "cases" / "seeds.yaml", "--frameworks", "numpy", "--out", tmp_path, "--quiet")
    assert status == 0 and "rows per adapter" not in out and "report:" in out
    status, out, _ = tconv("run", REPO / "cases" / "seeds.yaml", "--frameworks", "numpy", "--out", tmp_path)
    assert "rows per adapter and status" in out and "numpy.scatter" in out


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    pytest.skip("headless Chromium is not installed (Debian package `chromium`; .ci/run installs it)")


def _dump_dom(page: Path, profile: Path) -> tuple[str, float]:
    start = time.perf_counter()
    done = subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, time.perf_counter() - start


def test_page_renders_in_headless_chromium(failing_report: Path, tmp_path: Path) -> None:
    dom, _ = _dump_dom(failing_report / "report.html", tmp_path / "profile")
    assert re.search(r'data-rendered="\d+"', dom), "the page's script ran"
    assert re.search(r'id="verdict"[^>]*>FAIL: \d+ failing', dom)
    summary = re.search(r'<table id="summary">.*?</table>', dom, re.S).group(0)
    assert summary.count("<tr>") >= 5 and "numpy.BROKEN-flipped" in summary
    matrix = re.search(r'<table id="matrix">.*?</table>', dom, re.S).group(0)
    assert matrix.count('class="c fail"') >= 20 and matrix.count('class="c pass"') >= 60
    shown = re.search(r'<span id="shown">(\d+)</span>', dom)
    assert shown and int(shown.group(1)) == matrix.count("<tr data-case=")


@pytest.mark.slow
@pytest.mark.xdist_group("suite")
def test_built_in_suite_page_is_small_and_fast(suite_report: Path, tmp_path: Path) -> None:
    page = suite_report / "report.html"
    size = page.stat().st_size
    assert size < 5 * 2**20, f"{size / 2**20:.1f} MB"
    dom, wall = _dump_dom(page, tmp_path / "profile")
    loaded = int(re.search(r'data-loaded="(\d+)"', dom).group(1))
    assert loaded < 2000, f"the page took {loaded} ms to load (browser wall time {wall:.1f} s)"
    assert re.search(r'id="verdict"[^>]*>(PASS|FAIL)', dom)
