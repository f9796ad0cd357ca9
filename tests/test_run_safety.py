"""Reports that are never half-written or mixed, stops that keep the finished rows, and
user-supplied text that cannot script the page, a spreadsheet or the terminal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.cli_checks import lock_out
from harness.report import read_report
from tests.conftest import REPO

SLOW_PLUGIN = textwrap.dedent('''
    import time
    from pathlib import Path
    from adapters.base import Adapter
    from adapters.numpy_matrix import ADAPTERS as MATRIX

    class Slow(Adapter):
        name, framework = "slow.matrix", "slow"
        def run(self, case):
            time.sleep(0.1)
            with open(Path(__file__).with_name("ran.txt"), "a") as ran:  # what the test waits for
                ran.write(case.id + "\\n")
            return MATRIX[0].run(case)

    ADAPTERS = (Slow(),)
''')
FLIPPED_PLUGIN = textwrap.dedent('''
    from adapters.base import Adapter
    from adapters.numpy_matrix import ADAPTERS as MATRIX

    class Flipped(Adapter):
        name, framework = "flipped.matrix", "flipped"
        def run(self, case):
            return MATRIX[0].run(case)[..., ::-1, ::-1]

    ADAPTERS = (Flipped(),)
''')


def _cases(path: Path, ids: list[str]) -> Path:
    entries = "".join(f"  - id: {json.dumps(i)}\n    input: {{shape: [1, 1, 3, 3], seed: {n}}}\n"
                      f"    kernel: {{shape: [1, 1, 3, 3], seed: {n + 1}}}\n" for n, i in enumerate(ids))
    path.write_text("cases:\n" + entries, encoding="utf-8")
    return path


def _interruptible() -> None:
    """SIGINT as at a terminal: a shell starts background jobs with it ignored, and Python then
    leaves it ignored (a test suite run that way would see no Ctrl-C at all)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(("signum", "status", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")])
def test_a_stopped_run_writes_its_finished_rows_as_a_partial_report(tmp_path, signum, status, name) -> None:
    cases = _cases(tmp_path / "many.yaml", [f"c{i}" for i in range(60)])  # 6 s of rows: the signal comes first
    plugin = tmp_path / "slow.py"
    plugin.write_text(SLOW_PLUGIN, encoding="utf-8")
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "harness", "run", str(cases), "--plugin", str(plugin),
                                "--frameworks", "slow", "--out", str(out), "--quiet"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_interruptible)
    ran, deadline = tmp_path / "ran.txt", time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and \
            (not ran.exists() or len(ran.read_text().splitlines()) < 2):  # the worker started, a row reached the parent
        time.sleep(0.1)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == status, err
    assert f"interrupted ({name})" in err and "Traceback" not in err
    frame, env, _ = read_report(out / "report.csv")
    assert 0 < len(frame) < 60 and set(frame["status"]) == {"pass"}
    assert env["partial"].startswith(f"yes: stopped by {name} after {len(frame)} of 60 rows")
    document = json.loads((out / "report.json").read_text())
    assert document["summary"]["partial"] is True and len(document["rows"]) == len(frame)
    assert "PARTIAL REPORT" in (out / "report.html").read_text()


def test_a_signal_while_the_report_is_written_waits_for_all_three_files(tconv, tmp_path, monkeypatch) -> None:
    import harness.html

    cases = _cases(tmp_path / "c.yaml", ["a", "b"])
    out = tmp_path / "out"
    assert tconv("run", cases, "--frameworks", "numpy", "--out", out, "--quiet")[0] == 0
    old = {p.name: p.stat().st_mtime_ns for p in out.glob("report.*")}
    render = harness.html.render_html

    def render_then_signal(*args, **kwargs):  # SIGTERM after report.csv is rendered, the HTML still pending
        os.kill(os.getpid(), signal.SIGTERM)
        return render(*args, **kwargs)

    monkeypatch.setattr(harness.html, "render_html", render_then_signal)
    _cases(cases, ["a", "b", "c"])
    status, _, err = tconv("run", cases, "--frameworks", "numpy", "--out", out, "--quiet")
    assert status == 143, err
    for name in ("report.csv", "report.json", "report.html"):  # all three replaced, none left from the old run
        assert (out / name).stat().st_mtime_ns != old[name]
    from adapters import select_adapters

    rows = 3 * len(select_adapters(frameworks=["numpy"]))  # the new run's rows, in every file
    assert len(read_report(out / "report.csv")[0]) == rows and len(read_report(out / "report.json")[0]) == rows
    assert not list(out.glob(".report.*"))  # no temporary file left behind


def test_a_second_run_into_a_locked_out_folder_is_refused(tconv, tmp_path) -> None:
    cases = _cases(tmp_path / "c.yaml", ["a"])
    out = tmp_path / "out"
    out.mkdir()
    with lock_out(out):
        status, _, err = tconv("run", cases, "--frameworks", "numpy", "--out", out, "--quiet")
    assert status == 2 and "another tconv run (pid " in err and "give another --out" in err
    assert not (out / "report.csv").exists()
    assert tconv("run", cases, "--frameworks", "numpy", "--out", out, "--quiet")[0] == 0  # released


def test_formats_left_out_are_removed_so_runs_never_mix(tconv, tmp_path) -> None:
    cases = _cases(tmp_path / "c.yaml", ["a"])
    out = tmp_path / "out"
    assert tconv("run", cases, "--frameworks", "numpy", "--out", out, "--quiet")[0] == 0
    assert tconv("run", cases, "--frameworks", "numpy", "--out", out, "--quiet", "--formats", "csv")[0] == 0
    assert sorted(p.name for p in out.glob("report.*")) == ["report.csv"]


HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "'; alert(3); '", "</table><b>x"]


def test_hostile_values_in_every_column_are_escaped_in_the_html(tconv, tmp_path) -> None:
    cases = _cases(tmp_path / "c.yaml", ["a"])
    out = tmp_path / "out"
    tconv("run", cases, "--frameworks", "numpy", "--out", out, "--quiet", "--formats", "csv")
    frame = pd.read_csv(out / "report.csv", keep_default_na=False)
    rows = []
    for n, value in enumerate(HOSTILE * 3):
        row = frame.iloc[0].copy()
        for column in frame.columns:
            row[column] = value
        row["case_id"], row["status"] = f"{value}{n}", ["fail", "error", value][n % 3]
        rows.append(row)
    crafted = tmp_path / "crafted.csv"
    pd.DataFrame(rows).to_csv(crafted, index=False)
    status, _, err = tconv("report", crafted, "--html", tmp_path / "page.html")
    assert status == 0, err
    page = (tmp_path / "page.html").read_text()
    for value in HOSTILE:
        assert value not in page
    assert "<img src=x" not in page and "<script>alert" not in page and "&lt;script&gt;alert(1)" in page


def test_case_ids_that_look_like_formulas_or_carry_escapes_are_neutralised(tconv, tmp_path) -> None:
    ids = ["=HYPERLINK(\"http://x\")", "+1", "@SUM(A1)", "'=already", "-x", "plain"]
    cases = _cases(tmp_path / "c.yaml", ids)
    plugin = tmp_path / "flipped.py"
    plugin.write_text(FLIPPED_PLUGIN, encoding="utf-8")
    out = tmp_path / "out"
    status, stdout, err = tconv("run", cases, "--plugin", plugin, "--frameworks", "flipped", "--out", out)
    assert status == 1, err
    text = (out / "report.csv").read_text()
    for line in text.splitlines()[1:]:
        assert not line.startswith(("=", "+", "@", "-")), line
    assert "'=HYPERLINK" in text and "'''=already" not in text and "''=already" in text
    assert set(read_report(out / "report.csv")[0]["case_id"]) == set(ids)  # reading it back restores them
    assert set(read_report(out / "report.json")[0]["case_id"]) == set(ids)
    assert tconv("compare", out / "report.csv", out / "report.json")[0] == 0


def test_control_characters_in_what_adapters_say_do_not_reach_the_terminal(tconv, tmp_path) -> None:
    cases = _cases(tmp_path / "c.yaml", ["a"])
    plugin = tmp_path / "escapes.py"
    plugin.write_text(textwrap.dedent('''
        from adapters.base import Adapter

        class Escapes(Adapter):
            name, framework = "escapes.adapter", "escapes"
            def run(self, case):
                raise RuntimeError("\\x1b]0;owned\\x07\\x1b[2J screen cleared")

        ADAPTERS = (Escapes(),)
    '''), encoding="utf-8")
    status, stdout, err = tconv("run", cases, "--plugin", plugin, "--frameworks", "escapes", "--out", tmp_path / "o")
    assert status == 1, err
    assert "\x1b" not in stdout + err and "\x07" not in stdout + err
    assert "\\x1b]0;owned\\x07\\x1b[2J screen cleared" in stdout


def test_a_dollar_sign_in_a_case_id_does_not_break_the_pictures(tconv, tmp_path) -> None:
    cases = _cases(tmp_path / "c.yaml", ["price$x^{$and$\\frac{1", "$$"])
    plugin = tmp_path / "flipped.py"
    plugin.write_text(FLIPPED_PLUGIN, encoding="utf-8")
    out = tmp_path / "out"
    status, _, err = tconv("run", cases, "--plugin", plugin, "--frameworks", "flipped", "--out", out, "--quiet")
    assert status == 1, err
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2


def test_same_named_case_files_in_different_folders_stay_apart(tconv, tmp_path) -> None:
    case = "cases:\n  - id: c\n    input: [[1, 2]]\n    kernel: [[1, 1]]\n    expected: [[1, 3, {last}]]\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.yaml").write_text(case.format(last=2), encoding="utf-8")
    (tmp_path / "b" / "x.yaml").write_text(case.format(last=5), encoding="utf-8")  # wrong golden value
    out = tmp_path / "out"
    status, _, err = tconv("run", tmp_path / "a" / "x.yaml", tmp_path / "b" / "x.yaml", "--frameworks", "numpy",
                           "--out", out, "--quiet")
    assert status == 1, err
    frame = read_report(out / "report.csv")[0]
    oracle = frame[frame["adapter"] == "oracle"].set_index("case_file")["status"].to_dict()
    assert oracle == {"a/x.yaml": "pass", "b/x.yaml": "fail"}
    assert 'data-case="b/x.yaml::c"' in (out / "report.html").read_text()
    assert tconv("compare", out / "report.csv", out / "report.json", "--quiet")[0] == 0
