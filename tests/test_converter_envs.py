"""Adapters whose converter lives in its own tox env (`onnx.onnx2tf`, `torch.nobuco`,
`onnx.onnx2torch`): an adapter's `requires` (modules beside its framework's) decides whether it is
installed, a run leaves it out when they are missing (no error rows) and says so, and `tconv merge`
joins the env's report with the main one although both have the cases' oracle rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adapters import all_adapters, installed_adapters, missing_requirements_of, requirements_met, select_adapters
from adapters.base import Adapter, adapter_installed, framework_installed, missing_requirements, module_installed
from harness.case import Case
from tests.conftest import REPO

SEEDS = REPO / "cases" / "seeds.yaml"
MISSING = "tconv_test_no_such_converter"
PLUGIN = f'''
import numpy as np
from adapters.base import Adapter
from adapters.numpy_matrix import NumpyMatrix


class NeedsConverter(Adapter):
    name, framework, requires = "numpy.needs_converter", "numpy", ("{MISSING}",)

    def run(self, case):
        raise AssertionError("never run: its converter is missing")


class HasConverter(NeedsConverter):
    name, requires = "numpy.has_converter", ("numpy",)

    def run(self, case):
        return NumpyMatrix().run(case)


ADAPTERS = (NeedsConverter(), HasConverter())
'''


class _Needs(Adapter):
    name, framework = "numpy.needs", "numpy"

    def run(self, case: Case) -> np.ndarray:
        raise AssertionError("not run here")


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    path = tmp_path / "converters.py"
    path.write_text(PLUGIN, encoding="utf-8")
    return path


def test_requires_decides_whether_an_adapter_is_installed() -> None:
    missing, present = _Needs(), _Needs()
    missing.requires, present.requires = (MISSING, "numpy"), ("numpy",)
    assert missing_requirements(missing) == (MISSING,) and not adapter_installed(missing)
    assert missing_requirements(present) == () and adapter_installed(present)
    assert not requirements_met(missing) and requirements_met(present)


def test_a_dotted_module_whose_package_is_missing_is_not_installed() -> None:
    """`find_spec("mlx.core")` raises without mlx; the check says 'not installed' instead."""
    assert module_installed("numpy.linalg")
    assert not module_installed(f"{MISSING}.core")


def test_no_run_selects_an_adapter_whose_converter_is_missing(plugin: Path) -> None:
    from adapters import load_plugin

    needs, has = load_plugin(plugin)
    chosen = select_adapters(frameworks=["numpy"], plugins=[needs, has])
    assert has in chosen and needs not in chosen
    assert select_adapters(names="numpy.needs_converter", plugins=[needs, has]) == ()
    assert missing_requirements_of(["numpy"], "*", [needs, has]) == (f"numpy.needs_converter (needs {MISSING})",)


def test_a_run_leaves_it_out_and_says_so(tconv, plugin: Path, tmp_path: Path) -> None:
    status, _, _ = tconv("run", SEEDS, "--plugin", plugin, "--frameworks", "numpy", "--adapters", "numpy.*_converter",
                           "--out", tmp_path, "--quiet")
    assert status == 0
    frame = pd.read_csv(tmp_path / "report.csv")
    assert set(frame["adapter"]) == {"oracle", "numpy.has_converter"} and set(frame["status"]) == {"pass"}
    summary = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert f"adapter not installed, left out: numpy.needs_converter (needs {MISSING})" in summary


@pytest.mark.parametrize("name, converter", [("onnx.onnx2tf", "onnx2tf"), ("torch.nobuco", "nobuco"),
                                             ("onnx.onnx2torch", "onnx2torch")])
def test_the_converter_paths_need_their_converters(tconv, name: str, converter: str, tmp_path: Path) -> None:
    adapter = next(a for a in all_adapters() if a.name == name)
    assert converter in adapter.requires and adapter.route.startswith("conversion:")
    if module_installed(converter):
        pytest.skip(f"{converter} is installed here (its tox env)")
    if not framework_installed(adapter.framework):
        pytest.skip(f"{adapter.framework} is not installed here: the adapter is left out for that")
    assert adapter not in installed_adapters() and adapter not in select_adapters()
    status, out, _ = tconv("adapters")
    line = next(line for line in out.splitlines() if line.startswith(name + " "))
    assert f"not installed (needs {converter}" in line
    status, _, _ = tconv("run", SEEDS, "--adapters", name, "--out", tmp_path, "--quiet")
    assert status == 0  # no error rows for an adapter that cannot run here: only the oracle's
    assert set(pd.read_csv(tmp_path / "report.csv")["adapter"]) == {"oracle"}
    assert f"adapter not installed, left out: {name} (needs {converter}" in (tmp_path / "report.json").read_text()


def test_merge_keeps_one_oracle_row_of_runs_of_other_adapters(tconv, tmp_path: Path) -> None:
    """A converter env's report and the main one both have every case's oracle row."""
    for adapter in ("numpy.scatter", "numpy.matrix"):
        status, _, err = tconv("run", SEEDS, "--adapters", adapter, "--out", tmp_path / adapter, "--quiet",
                               "--formats", "csv")
        assert status == 0, err
    reports = [tmp_path / a / "report.csv" for a in ("numpy.scatter", "numpy.matrix")]
    status, _, err = tconv("merge", *reports, "--out", tmp_path / "merged", "--quiet", "--formats", "csv")
    assert status == 0, err
    merged = pd.read_csv(tmp_path / "merged" / "report.csv")
    parts = [pd.read_csv(r) for r in reports]
    oracle = merged[merged["adapter"] == "oracle"]
    assert len(oracle) == len(parts[0][parts[0]["adapter"] == "oracle"]) > 0
    assert not oracle.duplicated(subset=["case_file", "case_id"]).any()
    assert len(merged) == len(parts[0]) + len(parts[1]) - len(oracle)
    assert set(merged["adapter"]) == {"oracle", "numpy.scatter", "numpy.matrix"}
    # the baseline is merged again when an env's rows come in: a merged report is not a partial one
    status, _, err = tconv("run", SEEDS, "--adapters", "numpy.per_tap", "--out", tmp_path / "per_tap", "--quiet",
                           "--formats", "csv")
    status, out, err = tconv("merge", tmp_path / "merged" / "report.csv", tmp_path / "per_tap" / "report.csv",
                             "--out", tmp_path / "again", "--formats", "csv")
    assert status == 0 and "partial" not in out + err, out + err


def test_merge_refuses_oracle_rows_that_disagree(tconv, tmp_path: Path) -> None:
    for adapter in ("numpy.scatter", "numpy.matrix"):
        tconv("run", SEEDS, "--adapters", adapter, "--out", tmp_path / adapter, "--quiet", "--formats", "csv")
    other = tmp_path / "numpy.matrix" / "report.csv"
    frame = pd.read_csv(other)
    frame.loc[frame.index[frame["adapter"] == "oracle"][0], "status"] = "fail"
    frame.to_csv(other, index=False)
    status, _, err = tconv("merge", tmp_path / "numpy.scatter" / "report.csv", other, "--out", tmp_path / "m")
    assert status == 2 and "oracle rows of seeds.yaml::" in err and len(err.strip().splitlines()) == 1
