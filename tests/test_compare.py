"""`tconv compare` and the committed baseline: a changed answer fails with the rows named."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from adapters.layout import rot180
from adapters.numpy_matrix import NumpyMatrix
from harness.casefile import load_cases
from harness.compare import compare_reports, got_worse
from harness.report import read_report, write_reports
from harness.runner import run
from tests.conftest import REPO

BASELINE = REPO / "reports" / "baseline" / "report.csv"
REFRESH = "tconv run cases --out reports/baseline --formats csv --quiet"


class FlippedMatrix(NumpyMatrix):
    """numpy.matrix, under its own name, broken on purpose (the kernel rotated 180 degrees)."""

    def run(self, case):
        return super().run(dataclasses.replace(case, kernel=rot180(case.kernel)))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    cases = load_cases([REPO / "cases" / "seeds.yaml", REPO / "cases" / "channels.yaml"])
    base, new = tmp_path_factory.mktemp("base"), tmp_path_factory.mktemp("new")
    write_reports(base, run(cases, [NumpyMatrix()]).rows, {"command": "base"}, formats=("csv",))
    broken = run(cases, [FlippedMatrix()])
    write_reports(new, broken.rows, {"command": "new"}, formats=("csv",))
    affected = {f"{r.case_file}::{r.case_id}[{r.adapter}]" for r in broken.rows if r.status == "fail"}
    return base / "report.csv", new / "report.csv", affected


def test_the_contract_rule_for_worse() -> None:
    for before in ("pass", "xfail", "xpass", "unsupported"):
        assert got_worse(before, "fail") and got_worse(before, "error")
    assert got_worse("pass", "unsupported")
    assert not got_worse("fail", "pass") and not got_worse("unsupported", "pass")
    assert not got_worse("xfail", "unsupported") and not got_worse("fail", "error")


def test_a_report_compared_with_itself_is_fine(two_runs, tconv) -> None:
    base, _, _ = two_runs
    status, out, _ = tconv("compare", base, base)
    assert status == 0 and "0 rows got worse" in out


def test_a_broken_adapter_makes_compare_fail_and_names_every_row(two_runs, tconv, tmp_path) -> None:
    base, new, affected = two_runs
    assert len(affected) >= 20
    status, out, _ = tconv("compare", base, new, "--csv", tmp_path / "c.csv", "--html", tmp_path / "c.html")
    assert status == 1
    named = {line.split(": ")[0] for line in out.splitlines() if ": pass -> fail" in line}
    assert named == affected
    table = pd.read_csv(tmp_path / "c.csv")
    assert (table["change"] == "worse").sum() == len(affected)
    assert "rows got worse" in (tmp_path / "c.html").read_text()


def test_appeared_vanished_and_growing_errors_are_warnings(two_runs, tmp_path) -> None:
    base, _, _ = two_runs
    frame, _, _ = read_report(base)
    shifted = frame.copy()
    shifted.loc[0, "case_id"] = "renamed"
    passing = shifted.index[(shifted["status"] == "pass")][1]
    shifted.loc[passing, "tol_ratio"] = 0.9  # was 0: still a pass, error grew
    comparison = compare_reports(frame, shifted)
    assert comparison.worse.empty
    warnings = comparison.warnings()
    assert any("appeared" in w for w in warnings) and any("vanished" in w for w in warnings)
    assert any("error grew" in w for w in warnings)


def test_versions_on_each_side_are_reported(two_runs) -> None:
    base, new, _ = two_runs
    comparison = compare_reports(read_report(base)[0], read_report(new)[0])
    assert [v[0] for v in comparison.versions].count("numpy") == 1


@pytest.mark.slow
@pytest.mark.xdist_group("suite")
def test_the_built_in_suite_matches_the_committed_baseline(suite_report) -> None:
    """A framework answer that changed since the baseline fails here, with the rows named."""
    assert BASELINE.exists(), f"no baseline: make one with `{REFRESH}`"
    base, base_env, _ = read_report(BASELINE)
    new, new_env, _ = read_report(suite_report / "report.csv")
    comparison = compare_reports(base, new, base_environment=base_env, new_environment=new_env)
    lines = comparison.worse_lines()
    assert not lines, ("rows got worse than the baseline:\n" + "\n".join(lines) + "\nversions: "
                       + "; ".join(comparison.version_lines()) + f"\n(refresh on purpose with `{REFRESH}`)")
