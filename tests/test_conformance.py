"""The conformance matrix: every built-in case on every adapter, judged against the oracle.

Test ids come from the data: `seeds.yaml::d2l-basic[torch.functional]`. Each framework has a
marker (`pytest -m torch`, `-m "not tensorflow"`); a framework that is not installed is
skipped with the reason, an `unsupported` row is skipped with what the framework lacks, and a
row explained by `cases/known_discrepancies.yaml` is an expected failure.
"""

from __future__ import annotations

import pytest

from adapters import all_adapters
from adapters.base import framework_installed
from harness.casefile import load_cases
from harness.discrepancies import load_discrepancies
from harness.runner import adapter_row, oracle_row
from tests.conftest import REPO

CASES = load_cases([REPO / "cases"])
KNOWN = load_discrepancies()


def _params():
    for case in CASES:
        if case.expected is not None or case.expected_shape is not None:
            yield pytest.param(case, None, id=f"{case.full_id}[oracle]", marks=pytest.mark.numpy)
        for adapter in all_adapters():
            marks = [getattr(pytest.mark, adapter.framework), pytest.mark.xdist_group(adapter.framework)]
            yield pytest.param(case, adapter, id=f"{case.full_id}[{adapter.name}]", marks=marks)


@pytest.mark.parametrize("case, adapter", list(_params()))
def test_conformance(case, adapter) -> None:
    if adapter is None:
        row = oracle_row(case)
    else:
        if not framework_installed(adapter.framework):
            pytest.skip(f"{adapter.framework} is not installed")
        row = adapter_row(case, adapter, discrepancies=KNOWN)
    assert row is not None
    if row.status == "unsupported":
        pytest.skip(f"unsupported: {row.message}")
    if row.status == "xfail":
        pytest.xfail(f"known discrepancy: {row.known_issue} | {row.message}")
    assert row.status in ("pass", "xpass"), row.bug_report()
