"""No dead ends on the command line: each mistake is exit status 2 and one line `tconv: ...` that
says what to do, found before any row runs; a crash of tconv itself has its own status (3). And
the terminal: the bar counts the rows really produced, the frameworks' stderr goes to
frameworks.log, failure lines fit the terminal."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console as RichConsole

from harness import __version__
from harness.cli import build_parser, main
from harness.console import Console
from harness.runner import Row, planned_rows, run
from harness.schema import CASE_KEYS
from tests.conftest import REPO

GOOD = """\
cases:
  - id: golden
    input: [[0, 1], [2, 3]]
    kernel: [[1, 2], [3, 4]]
    stride: 2
    expected: [[0, 0, 1, 2], [0, 0, 3, 4], [2, 4, 3, 6], [6, 8, 9, 12]]
  - id: plain
    input: [[1, 2], [3, 4]]
    kernel: [[1, 0], [0, 1]]
"""
BAD_CASE = "  - id: {id}\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    stride: 0\n"


def one_line(status: int, err: str) -> str:
    """The single `tconv: ...` line of a bad-input exit."""
    lines = err.strip().splitlines()
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("tconv: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def good(write_cases) -> Path:
    return write_cases(GOOD, "good.yaml")


@pytest.fixture
def report_csv(tconv, good, tmp_path) -> Path:
    """A real report of the tiny case file (numpy only)."""
    status, _, _ = run_numpy(tconv, good, "--formats", "csv", out=tmp_path / "base")
    assert status == 0
    return tmp_path / "base" / "report.csv"


def run_numpy(tconv, *args, out: Path):
    return tconv("run", *args, "--frameworks", "numpy", "--out", out, "--quiet")


# --- tconv run: arguments checked before any row runs -----------------------------------------


def test_cases_pattern_matching_nothing(tconv, good, tmp_path) -> None:
    status, _, err = run_numpy(tconv, good, "--cases", "nosuch*", out=tmp_path / "out")
    line = one_line(status, err)
    assert "--cases 'nosuch*' matches none of the 2 cases" in line and "good.yaml::golden" in line
    assert not (tmp_path / "out" / "report.csv").exists()


def test_cases_pattern_may_name_the_bare_id(tconv, good, tmp_path) -> None:
    status, _, _ = run_numpy(tconv, good, "--cases", "gold*", out=tmp_path / "out")
    assert status == 0
    assert set(pd.read_csv(tmp_path / "out" / "report.csv")["case_id"]) == {"golden"}


def test_adapters_pattern_matching_nothing(tconv, good, tmp_path) -> None:
    status, _, err = run_numpy(tconv, good, "--adapters", "numpy.matrix,none-such", out=tmp_path / "out")
    line = one_line(status, err)
    assert "--adapters 'none-such' matches no adapter" in line and "numpy.scatter" in line


def test_adapters_pattern_of_another_framework_is_said(tconv, good, tmp_path) -> None:
    status, out, _ = run_numpy(tconv, good, "--adapters", "torch.*", out=tmp_path / "out")
    assert status == 0
    assert "no adapter ran: --adapters 'torch.*' names none of the frameworks numpy" in " ".join(out.split())


def test_folder_without_case_files(tconv, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a case file")
    status, _, err = run_numpy(tconv, empty, out=tmp_path / "out")
    assert "a folder without case files" in one_line(status, err)


def test_missing_known_table(tconv, good, tmp_path) -> None:
    status, _, err = run_numpy(tconv, good, "--known", tmp_path / "nope.yaml", out=tmp_path / "out")
    line = one_line(status, err)
    assert "--known" in line and "nope.yaml: no such file" in line


def test_malformed_known_table(tconv, good, tmp_path) -> None:
    broken = tmp_path / "known.yaml"
    broken.write_text("discrepancies:\n  - adapter: [unclosed\n")
    status, _, err = run_numpy(tconv, good, "--known", broken, out=tmp_path / "out")
    assert "YAML syntax error" in one_line(status, err)
    broken.write_text("discrepancies:\n  - adapter: torch.*\n    reason: no link\n")
    status, _, err = run_numpy(tconv, good, "--known", broken, out=tmp_path / "out")
    assert "link or a reproducer" in one_line(status, err)
    broken.write_text("discrepancies:\n  - adapter: a\n    reason: r\n    link: l\n  - [unclosed\n")
    status, _, err = run_numpy(tconv, good, "--known", broken, out=tmp_path / "out")
    assert "known.yaml: line 6: YAML syntax error" in one_line(status, err)
    # an alias bomb (10^9 values written as 90) is refused at once, never expanded
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]"
                                                         for i in range(1, 9)]
    broken.write_text("\n".join(bomb) + "\ndiscrepancies: []\n")
    status, _, err = run_numpy(tconv, good, "--known", broken, out=tmp_path / "out")
    assert "a0: Extra inputs are not permitted" in one_line(status, err)


def test_missing_baseline_is_found_before_the_run(tconv, good, tmp_path) -> None:
    status, _, err = run_numpy(tconv, good, "--baseline", tmp_path / "nope.csv", out=tmp_path / "out")
    line = one_line(status, err)
    assert "--baseline" in line and "no such file" in line
    assert not (tmp_path / "out" / "report.csv").exists(), "checked before any row runs"


def test_baseline_without_the_needed_columns(tconv, good, tmp_path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    status, _, err = run_numpy(tconv, good, "--baseline", other, out=tmp_path / "out")
    assert "lacks the column(s) case_file, case_id, adapter, status" in one_line(status, err)


def test_out_that_is_a_file(tconv, good, tmp_path) -> None:
    target = tmp_path / "taken"
    target.write_text("")
    status, _, err = run_numpy(tconv, good, out=target)
    assert f"--out {target} is a file; give a folder" in one_line(status, err)
    status, _, err = run_numpy(tconv, good, out=target / "sub")
    assert "cannot create the folder" in one_line(status, err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_that_is_not_writable(tconv, good, tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        status, _, err = run_numpy(tconv, good, out=locked)
        assert "cannot write in the folder" in one_line(status, err)
    finally:
        locked.chmod(0o700)


def test_plugin_that_does_not_import(tconv, good, tmp_path) -> None:
    plugin = tmp_path / "mine.py"
    plugin.write_text("ADAPTERS = (\n")
    status, _, err = run_numpy(tconv, good, "--plugin", plugin, out=tmp_path / "out")
    assert "importing it failed: SyntaxError" in one_line(status, err)
    status, _, err = run_numpy(tconv, good, "--plugin", tmp_path / "absent.py", out=tmp_path / "out")
    assert "no such file" in one_line(status, err)


def test_baseline_on_a_subset_of_the_case_files_lists_nothing_as_vanished(tconv, good, write_cases, tmp_path) -> None:
    other = write_cases(GOOD.replace("golden", "second").replace("plain", "third"), "other.yaml")
    status, _, _ = run_numpy(tconv, good, other, out=tmp_path / "base")
    assert status == 0
    status, out, _ = tconv("run", good, "--frameworks", "numpy", "--out", tmp_path / "new",
                           "--baseline", tmp_path / "base" / "report.csv")
    out = " ".join(out.split())
    assert status == 0
    assert "0 vanished" in out and "row vanished" not in out and "rows vanished" not in out
    status, out, _ = tconv("run", good, "--frameworks", "numpy", "--cases", "*::golden", "--adapters", "numpy.matrix",
                           "--out", tmp_path / "new", "--baseline", tmp_path / "base" / "report.csv")
    assert status == 0 and "0 vanished" in " ".join(out.split())


# --- tconv compare and tconv report -----------------------------------------------------------


def test_compare_of_reports_that_share_no_row(tconv, report_csv, write_cases, tmp_path) -> None:
    other = write_cases(GOOD.replace("golden", "second").replace("plain", "third"), "other.yaml")
    status, _, _ = run_numpy(tconv, other, out=tmp_path / "other")
    assert status == 0
    status, _, err = tconv("compare", report_csv, tmp_path / "other" / "report.csv")
    # The contract: rows that appeared or vanished are warnings only, and nothing got worse.
    assert status == 0 and "share no row" in err and "Traceback" not in err


def test_compare_of_a_truncated_csv(tconv, report_csv, tmp_path) -> None:
    text = report_csv.read_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text[: len(text) - 40])
    status, _, err = tconv("compare", report_csv, cut)
    assert "truncated" in one_line(status, err)
    lines = text.splitlines(keepends=True)
    cut.write_text("".join(lines[:-1]) + lines[-1].split(",", 3)[0] + "\n")  # a record cut short at a field
    status, _, err = tconv("compare", report_csv, cut)
    assert "truncated" in one_line(status, err)


def test_compare_of_a_header_only_csv(tconv, report_csv, tmp_path) -> None:
    header = tmp_path / "header.csv"
    header.write_text(report_csv.read_text().splitlines(keepends=True)[0])
    status, _, err = tconv("compare", header, report_csv)
    line = one_line(status, err)
    assert line.startswith("tconv: BASE:") and "no rows" in line


def test_compare_of_an_empty_file(tconv, report_csv, tmp_path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    status, _, err = tconv("compare", report_csv, empty)
    assert "is empty" in one_line(status, err)


def test_compare_of_files_without_the_needed_columns(tconv, report_csv, tmp_path) -> None:
    frame = pd.read_csv(report_csv)
    partial = tmp_path / "partial.csv"
    frame.drop(columns=["status"]).to_csv(partial, index=False)
    status, _, err = tconv("compare", report_csv, partial)
    assert "lacks the column(s) status" in one_line(status, err)


def test_compare_of_a_missing_file(tconv, report_csv, tmp_path) -> None:
    status, _, err = tconv("compare", report_csv, tmp_path / "nope.csv")
    assert "no such file" in one_line(status, err)


def test_compare_of_a_case_file(tconv, report_csv, good) -> None:
    status, _, err = tconv("compare", good, report_csv)
    assert "is a case file, not a report" in one_line(status, err)


def test_report_of_a_case_file(tconv, good, tmp_path) -> None:
    status, _, err = tconv("report", good, "--html", tmp_path / "page.html")
    line = one_line(status, err)
    assert "is a case file, not a report" in line and "tconv run" in line
    assert not (tmp_path / "page.html").exists()


def test_report_of_a_malformed_report(tconv, tmp_path) -> None:
    broken = tmp_path / "report.json"
    broken.write_text('{"rows": [{"case_file": "a.yaml"')
    status, _, err = tconv("report", broken, "--html", tmp_path / "page.html")
    assert "not valid JSON" in one_line(status, err)
    broken.write_text('{"environment": {}}')
    status, _, err = tconv("report", broken, "--html", tmp_path / "page.html")
    assert "without a 'rows' list" in one_line(status, err)
    broken.write_text('{"rows": [{"case_file": "a.yaml", "case_id": "x", "adapter": "numpy.matrix", '
                      '"status": "pass"}]}')
    status, _, err = tconv("report", broken, "--html", tmp_path / "page.html")
    assert "lacks the column(s) framework" in one_line(status, err)


def test_report_of_a_folder(tconv, report_csv, tmp_path) -> None:
    status, _, err = tconv("report", report_csv.parent, "--html", tmp_path / "page.html")
    assert "is a folder" in one_line(status, err) and "report.csv" in err


# --- case files: every problem at once ---------------------------------------------------------


def test_every_error_of_a_case_file_at_once(tconv, write_cases, tmp_path) -> None:
    path = write_cases("cases:\n" + "".join(BAD_CASE.format(id=i) for i in ("a", "b"))
                       + "  - id: c\n    input: [[1]]\n" + GOOD.split("cases:\n")[1], "bad.yaml")
    status, _, err = run_numpy(tconv, path, out=tmp_path / "out")
    assert status == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"tconv: 3 errors in {path}")
    assert len(lines) == 4
    assert "case 'a': field 'stride'" in lines[1] and "case 'b': field 'stride'" in lines[2]
    assert "case 'c': field 'kernel'" in lines[3] and all(str(path) in line for line in lines[1:])


def test_errors_of_several_files_are_listed_up_to_a_limit(tconv, write_cases, tmp_path) -> None:
    write_cases("cases:\n" + "".join(BAD_CASE.format(id=f"x{i}") for i in range(15)), "one.yaml")
    write_cases("cases:\n" + "".join(BAD_CASE.format(id=f"y{i}") for i in range(10)), "two.yaml")
    write_cases("cases:\n  - id: [broken\n", "three.yaml")
    status, _, err = run_numpy(tconv, tmp_path, out=tmp_path / "out")
    lines = err.strip().splitlines()
    assert status == 2 and lines[0].startswith("tconv: 26 errors in 3 case files")
    assert len(lines) == 1 + 20 + 1 and "... and 6 more" in lines[-1]


def test_a_single_error_keeps_its_one_line(tconv, write_cases, tmp_path) -> None:
    path = write_cases("cases:\n" + BAD_CASE.format(id="only"), "bad.yaml")
    status, _, err = run_numpy(tconv, path, out=tmp_path / "out")
    assert "case 'only': field 'stride'" in one_line(status, err)


# --- the program ---------------------------------------------------------------------------------


def test_version(tconv) -> None:
    status, out, _ = tconv("--version")
    assert status == 0 and out.strip() == f"tconv {__version__}"


def test_every_argument_has_help() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    for name, sub in [("tconv", parser), *subparsers.choices.items()]:
        for action in sub._actions:
            if action.dest == "command":
                continue
            assert action.help, f"{name} {'/'.join(action.option_strings) or action.dest} has no help"


def test_a_crash_of_tconv_has_its_own_status(tconv, monkeypatch) -> None:
    import harness.cli_commands

    def broken() -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(harness.cli_commands, "adapters", broken)
    status, _, err = tconv("adapters")
    assert status == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tconv: internal error") and "RuntimeError: a bug" in lines[0]
    saved = Path(re.search(r"traceback saved to (\S+?);", lines[0]).group(1))
    try:
        assert "Traceback" in saved.read_text() and "a bug" in saved.read_text()
    finally:
        saved.unlink()


def test_a_crash_during_the_run_restores_stderr(tconv, good, tmp_path, monkeypatch) -> None:
    import harness.scheduler

    def broken(*args, **kwargs):
        raise RuntimeError("runner bug")

    monkeypatch.setattr(harness.scheduler, "run_isolated", broken)
    before = os.fstat(2)
    status, _, err = run_numpy(tconv, good, out=tmp_path / "out")
    assert status == 3 and "runner bug" in err and len(err.strip().splitlines()) == 1
    saved = tmp_path / "out" / "tconv-crash.txt"  # the traceback is kept in the run's --out folder
    assert f"traceback saved to {saved}" in err and "RuntimeError: runner bug" in saved.read_text()
    after = os.fstat(2)
    assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)


# --- the terminal ----------------------------------------------------------------------------


def test_the_announced_total_is_the_rows_produced(tconv, write_cases, tmp_path, monkeypatch) -> None:
    text = GOOD + "  - id: shape-only\n    input: [[1, 2]]\n    kernel: [[1]]\n    expected_shape: [1, 1, 1, 2]\n"
    if "check" in CASE_KEYS:
        text += "  - id: gradients\n    input: [[1, 2]]\n    kernel: [[1, 3]]\n    check: [forward, grad_input]\n"
    path = write_cases(text)
    announced: list[int] = []
    real = Console.progress

    def progress(self, *, total):
        announced.append(total)
        return real(self, total=total)

    monkeypatch.setattr(Console, "progress", progress)
    status, _, _ = tconv("run", path, "--frameworks", "numpy", "--out", tmp_path / "out")
    assert status == 0
    rows = len(pd.read_csv(tmp_path / "out" / "report.csv"))
    assert announced == [rows]


def test_planned_rows_counts_what_run_produces() -> None:
    from adapters import select_adapters
    from harness.casefile import load_cases

    cases = load_cases([REPO / "cases" / "seeds.yaml", REPO / "cases" / "empty.yaml"])
    adapters = select_adapters(frameworks=("numpy",))
    assert planned_rows(cases, adapters) == len(run(cases, adapters).rows)
    assert planned_rows(cases, []) == sum(c.expected is not None or c.expected_shape is not None for c in cases)


def test_frameworks_stderr_goes_to_a_log_not_the_terminal(good, tmp_path, capfd) -> None:
    plugin = tmp_path / "noisy.py"
    plugin.write_text(
        "import os\nfrom adapters.base import Adapter\nfrom adapters.numpy_matrix import NumpyMatrix\n\n"
        "class Noisy(Adapter):\n    name = 'numpy.noisy'\n    framework = 'numpy'\n"
        "    def run(self, case):\n"
        "        os.write(2, b'E0000 00:00 fake.cc:1] oneDNN supports DT_HALF only on platforms with AVX-512\\n')\n"
        "        return NumpyMatrix().run(case)\n\nADAPTERS = (Noisy(),)\n")
    out = tmp_path / "out"
    status = main(["run", str(good), "--frameworks", "numpy", "--adapters", "numpy.noisy", "--plugin", str(plugin),
                   "--out", str(out)])
    printed = capfd.readouterr()
    assert status == 0
    assert "E0000" not in printed.err and "E0000" not in printed.out
    log = (out / "frameworks.log").read_text()
    assert log.count("oneDNN supports DT_HALF") == 2
    assert f"framework log: 2 lines the frameworks wrote to stderr, in {out / 'frameworks.log'}" in printed.out
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n", "fd 2 is restored"
    # A quiet run of the same folder without noise leaves no stale log behind.
    status = main(["run", str(good), "--frameworks", "numpy", "--adapters", "numpy.matrix", "--out", str(out),
                   "--quiet"])
    assert status == 0 and not (out / "frameworks.log").exists()


def _failing_row(message: str) -> Row:
    return Row("file.yaml", "case", "numpy.matrix", "numpy", "2.0", "fail", message=message, diagnosis="kernel rotated")


def test_failure_lines_fit_the_terminal() -> None:
    screen = io.StringIO()
    console = Console(quiet=True, console=RichConsole(file=screen, width=60, force_terminal=True, color_system=None))
    long = "max abs err 3 at [0,0,1,1]: expected 13, got 12 " + "x" * 200
    console.summary([_failing_row(long), _failing_row("short")], paths={"csv": Path("r/report.csv")}, warnings=[])
    lines = screen.getvalue().splitlines()
    assert all(len(line) <= 60 for line in lines), lines
    assert lines[0].startswith("fail file.yaml::case[numpy.matrix]: max abs err") and lines[0].endswith("…")
    assert lines[1] == "fail file.yaml::case[numpy.matrix]: short (kernel rotated)"
    assert "(cut to fit the terminal; full text in the report)" in screen.getvalue()


def test_failure_lines_are_whole_off_a_terminal() -> None:
    screen = io.StringIO()
    console = Console(quiet=True, console=RichConsole(file=screen, width=60, force_terminal=False))
    console.summary([_failing_row("y" * 200)], paths={"csv": Path("report.csv")}, warnings=[])
    assert "y" * 200 in screen.getvalue()
