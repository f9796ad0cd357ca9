"""The pytest plugin (`harness/pytest_plugin.py`) on a user's own case folder, run as a user runs
it: `python -m pytest --tconv FOLDER` in a fresh process, from another directory.

The case folder has one case file; a plugin adapter (`mine.flipped`, the oracle on the kernel
rotated by 180 degrees) stands in for a user's broken implementation, so the failing items, their
messages and the report can be checked without depending on a framework being wrong.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from adapters import select_adapters
from tests.conftest import child_pytest

CASES = """\
cases:
  - id: unet-up
    batch: 1
    in_channels: 2
    out_channels: 2
    input_size: [3, 3]
    kernel_size: 2
    stride: 2
  - id: wavegan
    batch: 1
    in_channels: 2
    out_channels: 1
    input_size: 6
    kernel_size: 5
    stride: 4
    padding: 2
    output_padding: 1
  - id: golden
    input: [[1, 2], [3, 4]]
    kernel: [[1, 2], [3, 4]]
    expected: [[1, 4, 4], [6, 20, 16], [9, 24, 16]]
"""

FLIPPED = """\
import numpy as np

from adapters.base import Adapter
from harness.dtypes import numpy_dtype
from harness.oracle import conv_transpose


class Flipped(Adapter):
    name = "mine.flipped"
    framework = "mine"

    def run(self, case):
        w = case.kernel[(slice(None), slice(None)) + (slice(None, None, -1),) * case.rank]
        return conv_transpose(case.input, w, **case.oracle_kwargs()).astype(numpy_dtype(case.dtype))


ADAPTERS = (Flipped(),)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "my_cases").mkdir()
    (tmp_path / "my_cases" / "layers.yaml").write_text(CASES, encoding="utf-8")
    (tmp_path / "flipped.py").write_text(FLIPPED, encoding="utf-8")
    return tmp_path


NUMPY_ADAPTERS = len(select_adapters(frameworks=["numpy"]))


def test_items_carry_ids_from_the_data(project: Path) -> None:
    result = child_pytest(project, "--tconv", "my_cases", "--tconv-frameworks", "numpy", "--collect-only", "-q")
    ids = [line for line in result.stdout.splitlines() if "::" in line]
    assert "my_cases/layers.yaml::unet-up[numpy.scatter]" in ids
    assert "my_cases/layers.yaml::golden[oracle]" in ids
    assert "my_cases/layers.yaml::wavegan[numpy.matrix]" in ids
    assert not any("torch" in i for i in ids), "--tconv-frameworks numpy must leave other adapters out"
    assert len(ids) == 3 * NUMPY_ADAPTERS + 1  # three cases x the NumPy formulations, plus the golden case's oracle


def test_a_failing_item_reports_the_row_and_the_report_is_written(project: Path) -> None:
    result = child_pytest(project, "--tconv", "my_cases", "--tconv-frameworks", "numpy,mine",
                       "--tconv-plugin", "flipped.py", "--tconv-report", "out", "-q")
    assert result.returncode == 1, result.stdout[-2000:]
    assert "FAILED my_cases/layers.yaml::unet-up[mine.flipped]" in result.stdout
    assert "diagnosis: kernel rotated 180 degrees" in result.stdout  # the row's bug report, not a traceback
    assert "Traceback" not in result.stdout
    frame = pd.read_csv(project / "out" / "report.csv")
    assert len(frame) == 3 * (NUMPY_ADAPTERS + 1) + 1
    assert set(frame[frame.adapter == "mine.flipped"].status) == {"fail"}
    assert set(frame[frame.adapter != "mine.flipped"].status) == {"pass"}
    assert (project / "out" / "report.html").exists()


def test_markers_select_frameworks(project: Path) -> None:
    result = child_pytest(project, "--tconv", "my_cases", "--tconv-frameworks", "numpy,mine",
                       "--tconv-plugin", "flipped.py", "-m", "not mine", "-q")
    assert result.returncode == 0, result.stdout[-2000:]
    assert f"{3 * NUMPY_ADAPTERS + 1} passed, 3 deselected" in result.stdout


def test_xdist_workers_send_their_rows_to_the_report(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """... and a worker that skips its interpreter's teardown (`_skip_interpreter_teardown`) still
    runs the exit handlers registered after tconv's and removes its temporary folders; its OpenMP
    threads wait passively (`machine.wait_passively`: the workers share the cores)."""
    pytest.importorskip("xdist")
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    # conftest.py loads before tconv's handler registers; its folder's weakref finalizer may have registered before
    (project / "conftest.py").write_text("import tempfile\nKEPT = tempfile.TemporaryDirectory()\n" + RECEIVED,
                                         encoding="utf-8")
    (project / "test_other.py").write_text(
        "import atexit, pathlib\n"
        "from conftest import KEPT\n"
        "def test_other():\n"
        "    pathlib.Path('folder.txt').write_text(KEPT.name)\n"
        "    pathlib.Path('wait.txt').write_text(__import__('os').environ.get('OMP_WAIT_POLICY', 'unset'))\n"
        "    atexit.register(pathlib.Path('atexit-ran.txt').write_text, 'yes')\n", encoding="utf-8")
    result = child_pytest(project, "--tconv", "my_cases", "test_other.py", "--tconv-frameworks", "numpy", "-n", "2",
                          "--tconv-report", "out", "-q")
    assert result.returncode == 0, result.stdout[-2000:]
    frame = pd.read_csv(project / "out" / "report.csv")
    assert len(frame) == 3 * NUMPY_ADAPTERS + 1 and set(frame.status) == {"pass"}
    folder = Path((project / "folder.txt").read_text(encoding="utf-8"))
    assert folder.is_absolute() and not folder.exists()
    assert (project / "atexit-ran.txt").read_text(encoding="utf-8") == "yes"
    assert (project / "wait.txt").read_text(encoding="utf-8") == "PASSIVE"
    # What the controller heard (`keep_worker_messages_lean`): a tconv item's call report (its row) and
    # logfinish (the progress), not its silent setup and teardown reports or its logstart; other tests all
    received = json.loads((project / "received.json").read_text(encoding="utf-8"))
    items = 3 * NUMPY_ADAPTERS + 1
    assert received["tconv"] == {"call": items, "logfinish": items}, received
    assert received["other"] == {"setup": 1, "call": 1, "teardown": 1, "logstart": 1, "logfinish": 1}, received


# A conftest's hooks on the controller: the messages it received per kind of item, written at the end.
RECEIVED = """
import collections, json
SEEN = collections.defaultdict(collections.Counter)
def _kind(nodeid):
    return "other" if "test_other" in nodeid else "tconv"
def pytest_runtest_logreport(report):
    SEEN[_kind(report.nodeid)][report.when] += 1
def pytest_runtest_logstart(nodeid):
    SEEN[_kind(nodeid)]["logstart"] += 1
def pytest_runtest_logfinish(nodeid):
    SEEN[_kind(nodeid)]["logfinish"] += 1
def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        with open("received.json", "w") as handle:
            json.dump(SEEN, handle)
"""


def test_the_ini_option_lists_case_folders_once(project: Path) -> None:
    (project / "pytest.ini").write_text("[pytest]\ntconv_paths = my_cases\n", encoding="utf-8")
    (project / "test_other.py").write_text("def test_other():\n    pass\n", encoding="utf-8")
    everything = child_pytest(project, "--tconv-frameworks", "numpy", "-q")
    passed = f"{3 * NUMPY_ADAPTERS + 1 + 1} passed"  # the case items and test_other
    assert everything.returncode == 0 and passed in everything.stdout, everything.stdout[-2000:]
    only_other = child_pytest(project, "test_other.py", "--tconv-frameworks", "numpy", "-q")
    assert "1 passed" in only_other.stdout


@pytest.mark.parametrize("args, words", [
    (["--tconv", "missing_folder"], "no such file or folder: missing_folder"),
    (["--tconv", "my_cases", "--tconv-known", "nope.yaml"], "--tconv-known: no such file"),
    (["--tconv", "my_cases", "--tconv-known", "broken.yaml"], "broken.yaml: line 3: YAML syntax error"),
    (["--tconv", "my_cases", "--tconv-frameworks", "numpyy"], "unknown framework(s) numpyy"),
])
def test_usage_mistakes_are_one_line(project: Path, args: list[str], words: str) -> None:
    (project / "broken.yaml").write_text("discrepancies:\n  - adapter: [unclosed\n", encoding="utf-8")
    result = child_pytest(project, *args, "-q")
    assert result.returncode == 4  # pytest's usage-error status
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_a_malformed_case_file_is_a_collection_error_naming_the_field(project: Path) -> None:
    (project / "my_cases" / "bad.yaml").write_text(textwrap.dedent("""\
        cases:
          - id: a
            input: [[1, 2], [3, 4]]
            kernel: [[1, 2], [3, 4]]
            strides: 2
        """), encoding="utf-8")
    result = child_pytest(project, "--tconv", "my_cases", "--tconv-frameworks", "numpy", "-q")
    assert result.returncode == 2
    assert "bad.yaml: case 'a': field 'strides'" in result.stdout
    assert "Traceback" not in result.stdout


NOT_HERE = """\
from adapters.base import Adapter
from harness.dtypes import numpy_dtype
from harness.oracle import conv_transpose


class NotHere(Adapter):
    name = "mine.not_here"
    framework = "mine"

    def supports(self, case):
        return "this build lacks transposed convolution"

    def run(self, case):
        return conv_transpose(case.input, case.kernel, **case.oracle_kwargs()).astype(numpy_dtype(case.dtype))


ADAPTERS = (NotHere(),)
"""


def test_a_row_worse_than_the_baseline_fails_the_session(project: Path) -> None:
    """pass -> unsupported skips its items, yet the session fails naming the rows; a run of a
    subset compares the rows it has; the ini option sets the baseline for every run."""
    (project / "not_here.py").write_text(NOT_HERE, encoding="utf-8")
    args = ["--tconv", "my_cases", "--tconv-frameworks", "numpy,mine", "--tconv-plugin", "not_here.py", "-q",
            "-p", "no:xdist"]
    made = child_pytest(project, *args, "--tconv-report", "base")
    assert made.returncode == 0, made.stdout[-2000:]
    same = child_pytest(project, *args, "--tconv-baseline", "base/report.csv")
    assert same.returncode == 0 and "tconv: no row got worse than the baseline" in same.stdout, same.stdout[-2000:]

    frame = pd.read_csv(project / "base" / "report.csv", keep_default_na=False)
    assert set(frame.loc[frame.adapter == "mine.not_here", "case_file"]) == {"layers.yaml"}  # as `tconv run` names it
    frame.loc[frame.adapter == "mine.not_here", "status"] = "pass"  # as if the adapter had run before
    frame.to_csv(project / "base" / "report.csv", index=False)
    worse = child_pytest(project, *args, "--tconv-baseline", "base/report.csv")
    assert worse.returncode == 1, worse.stdout[-2000:]
    assert "3 rows got worse than the baseline" in worse.stdout
    assert "layers.yaml::unet-up[mine.not_here]: pass -> unsupported" in worse.stdout
    assert "passed" in worse.stdout and "failed" not in worse.stdout.split("tconv:")[0]

    (project / "pytest.ini").write_text("[pytest]\ntconv_baseline = base/report.csv\n", encoding="utf-8")
    subset = child_pytest(project, *args, "-k", "unet-up and not_here")
    assert subset.returncode == 1 and "1 rows got worse" in subset.stdout, subset.stdout[-2000:]
    assert "(1 rows compared)" in subset.stdout
    fine = child_pytest(project, *args, "-k", "numpy")
    assert fine.returncode == 0 and "no row got worse" in fine.stdout, fine.stdout[-2000:]


def test_a_missing_baseline_is_a_usage_error(project: Path) -> None:
    result = child_pytest(project, "--tconv", "my_cases", "--tconv-baseline", "nope.csv", "-q")
    assert result.returncode == 4 and "--tconv-baseline: no such file: nope.csv" in result.stderr


@pytest.mark.parametrize(("ini", "options", "lean"), [
    (True, {}, True), (False, {}, False), (True, {"xmlpath": "junit.xml"}, False), (True, {"reportlog": "log.jsonl"}, False),
])
def test_lean_worker_messages_are_the_default_but_not_for_every_phase_readers(ini, options, lean) -> None:
    """`tconv_lean_xdist` (ini, on by default) turns it off, and so do JUnit XML and report logs."""
    from harness.pytest_plugin import _lean_xdist

    config = type("Config", (), {"option": type("Options", (), options)(), "getini": lambda self, name: ini})()
    assert _lean_xdist(config) is lean
