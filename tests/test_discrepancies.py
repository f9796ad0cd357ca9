"""The known-discrepancy table: validation, matching (ids, adapters, versions, parameters),
xfail/xpass, and stale entries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.base import Adapter
from adapters.numpy_scatter import NumpyScatter
from harness.casefile import case_from_mapping
from harness.discrepancies import DEFAULT_TABLE, Discrepancy, KnownDiscrepancies, load_discrepancies
from harness.runner import adapter_row, run

CASE = case_from_mapping({"id": "c", "input": [[1, 2], [3, 4]], "kernel": [[1, 0], [2, -1]], "stride": 2})


class Wrong(Adapter):
    """Always off by one: a framework with a bug."""

    name = "numpy.wrong"
    framework = "numpy"

    def run(self, case):
        return NumpyScatter().run(case) + np.float32(1)


def entry(**fields) -> Discrepancy:
    return Discrepancy(**{"adapter": "numpy.wrong", "reason": "off by one", "reproducer": "x.py", **fields})


def test_the_built_in_table_is_valid_and_traceable() -> None:
    table = load_discrepancies(DEFAULT_TABLE)
    assert table.entries
    root = DEFAULT_TABLE.parent.parent
    for item in table.entries:
        assert item.reason and (item.link or item.reproducer)
        if item.reproducer:
            assert (root / item.reproducer).is_file(), item.reproducer


def test_entries_need_a_link_or_reproducer_and_a_valid_specifier() -> None:
    with pytest.raises(ValueError):
        Discrepancy(adapter="a", reason="r")
    with pytest.raises(ValueError):
        Discrepancy(adapter="a", reason="r", link="l", versions="~~2")
    with pytest.raises(ValueError):
        Discrepancy(adapter="a", reason="r", link="l", when={"groups": ">x"})


def test_bad_table_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "known.yaml"
    path.write_text("discrepancies:\n  - adapter: a\n    reason: r\n    link: l\n    version: '>1'\n")
    with pytest.raises(ValueError, match="version"):
        load_discrepancies(path)


def test_matching_on_versions_and_parameters() -> None:
    params = CASE.describe()
    assert entry(versions=">=2,<3").applies_to(CASE.full_id, "numpy.wrong", "2.4.6", params)
    assert not entry(versions="<2").applies_to(CASE.full_id, "numpy.wrong", "2.4.6", params)
    assert entry(versions=">=2.13").applies_to(CASE.full_id, "numpy.wrong", "2.13.0+cpu", params)
    assert entry(when={"stride": ">1"}).applies_to(CASE.full_id, "numpy.wrong", "1", params)
    assert not entry(when={"stride": ">2"}).applies_to(CASE.full_id, "numpy.wrong", "1", params)
    assert entry(when={"padding_kind": "exp*"}).applies_to(CASE.full_id, "numpy.wrong", "1", params)
    assert not entry(when={"dtype": "float16"}).applies_to(CASE.full_id, "numpy.wrong", "1", params)
    assert not entry(case="other.yaml::*").applies_to(CASE.full_id, "numpy.wrong", "1", params)


def test_a_known_failure_is_xfail_and_a_fixed_one_xpass() -> None:
    table = KnownDiscrepancies([entry()])
    row = adapter_row(CASE, Wrong(), discrepancies=table)
    assert row.status == "xfail" and "off by one" in row.known_issue
    fixed = KnownDiscrepancies([entry(adapter="numpy.scatter")])
    row = adapter_row(CASE, NumpyScatter(), discrepancies=fixed)
    assert row.status == "xpass"
    lenient = KnownDiscrepancies([entry(adapter="numpy.scatter", strict=False)])
    assert adapter_row(CASE, NumpyScatter(), discrepancies=lenient).status == "pass"


def test_an_entry_on_another_version_leaves_the_failure_visible() -> None:
    table = KnownDiscrepancies([entry(versions="<1")])
    assert adapter_row(CASE, Wrong(), discrepancies=table).status == "fail"


def test_stale_entries_are_reported() -> None:
    table = KnownDiscrepancies([
        entry(),  # explains numpy.wrong's failure: used
        entry(adapter="numpy.scatter", reason="fixed since"),  # covers a passing row: stale (and xpass)
        entry(adapter="numpy.scatter", strict=False),  # may pass on other data: its reproducer decides
        entry(adapter="numpy.scatter", case="nowhere::*"),  # covers no row of this run: no verdict
        entry(adapter="jax.*"),  # did not run: no verdict
    ])
    result = run([CASE], [Wrong(), NumpyScatter()], discrepancies=table)
    assert [r.status for r in result.rows if r.adapter == "numpy.wrong"] == ["xfail"]
    assert result.stale == [table.entries[1].label]
    assert [r.status for r in result.rows if r.adapter == "numpy.scatter"] == ["xpass"]
    assert result.ok


def test_an_entry_covers_forward_rows_unless_it_names_checks() -> None:
    """A gradient row is not explained by an entry about the forward result: only entries whose
    `when` names the checks (`check: grad_input`, `check: "*"`) cover gradient rows."""
    forward_only = Discrepancy(adapter="x.*", reason="forward", kind="bug", link="https://example.org")
    every_check = Discrepancy(adapter="x.*", reason="all", kind="bug", link="https://example.org",
                              when={"check": "*"})
    one_check = Discrepancy(adapter="x.*", reason="one", kind="bug", link="https://example.org",
                            when={"check": "grad_weight"})
    for check, expected in (("forward", (True, True, False)), ("grad_input", (False, True, False)),
                            ("grad_weight", (False, True, True))):
        params = {"check": check}
        found = tuple(e.applies_to("f.yaml::c", "x.a", "1.0", params) for e in (forward_only, every_check, one_check))
        assert found == expected, check


def test_an_entry_can_name_the_checks_the_cases_job_ran() -> None:
    """`checks` in `when` is what the case's job ran: a crash in the input gradient takes the job's forward
    row with it, and only a case that asked for that gradient can have crashed there."""
    from harness.runner import Row, label

    table = KnownDiscrepancies([entry(when={"check": "*", "checks": "*grad_input*"}, message="the worker process died*")])
    for checks, expected in ((["forward", "grad_input"], "xfail"), (["forward"], "error")):
        case = case_from_mapping({"id": "c", "input": [[1.0, 2.0]], "kernel": [[1.0]], "check": checks})
        row = Row(case.file, case.id, "numpy.wrong", "numpy", "1.0", "error", check="forward",
                  message="the worker process died: killed by SIGSEGV (segmentation fault)")
        label(row, case, table)
        assert row.status == expected, checks


def test_lookup_gives_the_first_covering_entry_of_the_table_for_each_adapter() -> None:
    """The lookup reads only the entries whose adapter pattern names the row's adapter, and in table
    order: each adapter gets the first entry that covers its row, whichever adapter asked first."""
    table = KnownDiscrepancies([
        entry(adapter="jax.*", reason="jax first"),
        entry(adapter="numpy.scatter", when={"dtype": "float16"}, reason="scatter, float16 only"),
        entry(adapter="numpy.*", reason="every numpy adapter"),
        entry(adapter="*", reason="any adapter"),
        entry(adapter="numpy.scatter", reason="scatter, never reached"),
    ])
    params = CASE.describe()
    asked = [("torch.functional", "any adapter"), ("numpy.scatter", "every numpy adapter"),
             ("jax.conv_transpose", "jax first"), ("numpy.wrong", "every numpy adapter"),
             ("numpy.scatter", "every numpy adapter"), ("torch.functional", "any adapter")]
    for adapter, reason in asked:
        assert table.lookup(CASE.full_id, adapter, "1", params).reason == reason, adapter
    assert table.lookup(CASE.full_id, "numpy.scatter", "1", {**params, "dtype": "float16"}).reason == \
        "scatter, float16 only"
    assert table.exercised == table.used == {0, 1, 2, 3}
    assert KnownDiscrepancies([entry(adapter="jax.*")]).lookup(CASE.full_id, "numpy.wrong", "1", params) is None


def test_a_lost_jobs_row_is_covered_only_by_an_entry_that_names_its_message() -> None:
    """A crash or timeout row carries what the adapter sends (asked of a fresh worker), so an entry about
    every message of a layer (`*`, a refusal or a wrong answer) would otherwise claim the crash too."""
    params = CASE.describe()
    died = "the worker process died: killed by SIGSEGV (segmentation fault)"
    assert entry(when={"stride": ">1"}).applies_to(CASE.full_id, "numpy.wrong", "1", params, died)
    assert not entry(when={"stride": ">1"}).applies_to(CASE.full_id, "numpy.wrong", "1", params, died, lost=True)
    assert entry(message="*SIGSEGV*").applies_to(CASE.full_id, "numpy.wrong", "1", params, died, lost=True)
    assert not entry(message="max abs err*").applies_to(CASE.full_id, "numpy.wrong", "1", params, died, lost=True)
