"""`Adapter.prepare` gets every case ahead of its row, a few at a time, on each of the three ways
rows are made: `runner.run` in one process, `tconv run`'s family workers and the pytest items.
Its failure decides nothing: every row is still made by `run`, and says what `run` says."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.runner import PREPARE_AHEAD
from tests.conftest import child_pytest

pytestmark = pytest.mark.numpy

CASES = 70  # more than two batches of PREPARE_AHEAD

# A plugin adapter that notes each batch `prepare` gets (in the file $TCONV_TEST_PREPARED) and
# fails on a batch holding the case `refused-...`; its rows are NumPy's scatter formulation.
PLUGIN = '''
import os
from adapters.base import Adapter
from adapters.numpy_scatter import NumpyScatter


class Noting(Adapter):
    name = "noting.scatter"
    framework = "noting"

    def version(self):
        return "0.1"

    def prepare(self, cases):
        with open(os.environ["TCONV_TEST_PREPARED"], "a", encoding="utf-8") as notes:
            notes.write(" ".join(case.id for case in cases) + "\\n")
        if any(case.id.startswith("refused") for case in cases):
            raise RuntimeError("this batch cannot be prepared")

    def run(self, case):
        return NumpyScatter().run(case)


ADAPTERS = (Noting(),)
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    lines = ["defaults: {batch: 1, in_channels: 1, out_channels: 1, kernel_size: 2}", "cases:"]
    lines += [f"  - {{id: {'refused' if n == 40 else 'layer'}-{n}, input_size: [{2 + n % 3}, 3], seed: {n}}}"
              for n in range(CASES)]
    lines += ["  - {id: backward-only, input_size: [2, 2], check: [grad_input]}"]
    (tmp_path / "cases.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "noting.py").write_text(PLUGIN, encoding="utf-8")
    monkeypatch.setenv("TCONV_TEST_PREPARED", str(tmp_path / "prepared.txt"))
    return tmp_path


def _batches(project: Path) -> list[list[str]]:
    return [line.split() for line in (project / "prepared.txt").read_text(encoding="utf-8").splitlines()]


def _check(batches: list[list[str]]) -> None:
    """Each forward case handed once, in order, at most PREPARE_AHEAD at a time."""
    handed = [case for batch in batches for case in batch]
    assert handed == [f"{'refused' if n == 40 else 'layer'}-{n}" for n in range(CASES)]
    assert max(map(len, batches)) <= PREPARE_AHEAD and len(batches) >= -(-CASES // PREPARE_AHEAD)


def test_the_runner_prepares_ahead_and_ignores_a_failure(project: Path) -> None:
    from adapters import load_plugin
    from harness.casefile import load_cases
    from harness.runner import run

    rows = run(load_cases([project / "cases.yaml"]), load_plugin(project / "noting.py")).rows
    _check(_batches(project))
    assert {r.status for r in rows if r.check == "forward"} == {"pass"} and len(rows) == CASES + 1


def test_tconv_runs_workers_prepare_ahead(project: Path, tconv) -> None:
    status, _, err = tconv("run", project / "cases.yaml", "--plugin", project / "noting.py", "--frameworks", "noting",
                           "--out", project / "out", "--quiet", "--formats", "csv")
    assert status == 0, err
    _check(_batches(project))
    frame = pd.read_csv(project / "out" / "report.csv")
    assert set(frame[frame.check == "forward"].status) == {"pass"} and len(frame) == CASES + 1


@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "loadgroup"]], ids=["one-process", "xdist"])
def test_pytest_items_prepare_ahead(project: Path, workers: list[str]) -> None:
    pytest.importorskip("xdist") if workers else None
    done = child_pytest(project, "--tconv", "cases.yaml", "--tconv-plugin", "noting.py", "--tconv-frameworks", "noting",
                     "-q", *workers)
    assert done.returncode == 0, done.stdout[-2000:]
    assert f"{CASES} passed" in done.stdout
    _check(_batches(project))
