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


def test_the_committed_baseline_covers_every_built_in_case_and_adapter() -> None:
    """The matrix run is compared with the baseline (pyproject's `tconv_baseline`); a row the
    baseline lacks is compared with nothing, so a case or adapter added without a refreshed
    baseline fails here."""
    from adapters import all_adapters, select_adapters
    from adapters.base import adapter_installed
    from harness.pytest_plugin import _STATE  # noqa: F401 - the plugin is what reads the ini option

    assert BASELINE.exists(), f"no baseline: make one with `{REFRESH}`"
    assert 'tconv_baseline = "reports/baseline/report.csv"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")
    base, _, _ = read_report(BASELINE)
    have = set(zip(base["case_file"], base["case_id"], base["adapter"], base["check"].replace("", "forward")))
    wanted, merged_in = set(), set()
    elsewhere = [a for a in all_adapters() if not adapter_installed(a)]  # run in their own tox env (converters, tinygrad)
    for case in load_cases([REPO / "cases"]):
        if case.expected is not None or case.expected_shape is not None:
            wanted.add((case.file, case.id, "oracle", "forward"))
        wanted |= {(case.file, case.id, adapter.name, check) for adapter in select_adapters() for check in case.checks}
        merged_in |= {(case.file, case.id, adapter.name, check) for adapter in elsewhere for check in case.checks}
    missing = sorted(wanted - have)
    assert not missing, f"{len(missing)} rows missing from the baseline, e.g. {missing[:3]}: refresh with `{REFRESH}`"
    # rows of those adapters come from their env's report (`tconv merge`, docs/version-matrix.md): optional here
    assert not sorted(have - wanted - merged_in)[:3], "the baseline has rows no built-in case gives: refresh it"
