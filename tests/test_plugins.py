"""`--plugin` adapters are chosen by `--frameworks` and `--adapters` exactly like built-in ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from adapters import load_plugin, select_adapters, unknown_frameworks
from tests.conftest import REPO

pytestmark = pytest.mark.numpy

SEEDS = REPO / "cases" / "seeds.yaml"
BROKEN = REPO / "docs" / "examples" / "broken_adapter.py"
PLUGIN = '''
from adapters.base import Adapter
from adapters.numpy_scatter import NumpyScatter


class MyScatter(Adapter):
    name = "myfw.scatter"
    framework = "myfw"

    def version(self):
        return "0.1"

    def run(self, case):
        return NumpyScatter().run(case)


class NumpyCopy(Adapter):
    name = "numpy.PLUGIN-copy"
    framework = "numpy"

    def run(self, case):
        return NumpyScatter().run(case)


ADAPTERS = (MyScatter(), NumpyCopy())
'''


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    path = tmp_path / "my_plugin.py"
    path.write_text(PLUGIN, encoding="utf-8")
    return path


def adapters_run(tconv, plugin: Path, out: Path, *options: str) -> set[str]:
    """The adapters (oracle aside) with rows in a run of two seed cases."""
    status, _, err = tconv("run", SEEDS, "--cases", "*stride-2*", "--plugin", plugin, "--out", out,
                           "--quiet", "--formats", "csv", *options)
    assert status == 0, err
    frame = pd.read_csv(out / "report.csv")
    assert len(frame) > 0
    return set(frame["adapter"]) - {"oracle"}


def test_frameworks_selects_a_plugin_framework(tconv, plugin: Path, tmp_path: Path) -> None:
    assert adapters_run(tconv, plugin, tmp_path / "out", "--frameworks", "myfw") == {"myfw.scatter"}


def test_frameworks_excludes_plugins_of_other_frameworks(tconv, plugin: Path, tmp_path: Path) -> None:
    names = adapters_run(tconv, plugin, tmp_path / "out", "--frameworks", "numpy")
    assert names == {"numpy.scatter", "numpy.matrix", "numpy.zero_insertion", "numpy.per_tap", "numpy.PLUGIN-copy"}


def test_adapters_globs_select_plugins(tconv, plugin: Path, tmp_path: Path) -> None:
    names = adapters_run(tconv, plugin, tmp_path / "a", "--frameworks", "numpy,myfw", "--adapters", "myfw.*")
    assert names == {"myfw.scatter"}
    names = adapters_run(tconv, plugin, tmp_path / "b", "--frameworks", "numpy",
                         "--adapters", "numpy.PLUGIN*,numpy.matrix")
    assert names == {"numpy.PLUGIN-copy", "numpy.matrix"}


def test_frameworks_wins_over_adapters_for_plugins(tconv, plugin: Path, tmp_path: Path) -> None:
    assert adapters_run(tconv, plugin, tmp_path / "out", "--frameworks", "numpy", "--adapters", "myfw.*") == set()


def test_broken_example_is_left_out_by_frameworks(tconv, tmp_path: Path) -> None:
    # docs/examples/broken_adapter.py is framework torch: `--frameworks numpy` leaves it out.
    status, _, err = tconv("run", SEEDS, "--frameworks", "numpy", "--plugin", BROKEN, "--out", tmp_path,
                           "--quiet", "--formats", "csv")
    assert status == 0, err
    assert "torch.BROKEN-flipped-kernel" not in set(pd.read_csv(tmp_path / "report.csv")["adapter"])


def test_a_plugin_framework_without_its_plugin_is_a_bad_argument(tconv, tmp_path: Path) -> None:
    status, _, err = tconv("run", SEEDS, "--frameworks", "numpy,myfw", "--out", tmp_path)
    assert status == 2 and "myfw" in err and "Traceback" not in err


def test_unknown_framework_names_the_plugin_frameworks(tconv, plugin: Path, tmp_path: Path) -> None:
    status, _, err = tconv("run", SEEDS, "--frameworks", "myfww", "--plugin", plugin, "--out", tmp_path)
    assert status == 2 and "myfww" in err and "myfw" in err.split("choose from")[1]


def test_a_plugin_name_that_is_taken_is_a_bad_argument(tconv, tmp_path: Path) -> None:
    path = tmp_path / "dup.py"
    path.write_text(PLUGIN.replace('"numpy.PLUGIN-copy"', '"numpy.scatter"'), encoding="utf-8")
    status, _, err = tconv("run", SEEDS, "--frameworks", "numpy", "--plugin", path, "--out", tmp_path / "out")
    assert status == 2 and "numpy.scatter" in err and "Traceback" not in err


def test_select_adapters(plugin: Path) -> None:
    plugins = load_plugin(plugin)
    everything = [a.name for a in select_adapters(plugins=plugins)]
    assert everything[-2:] == ["myfw.scatter", "numpy.PLUGIN-copy"] and "numpy.scatter" in everything
    assert [a.name for a in select_adapters(frameworks=("myfw",), plugins=plugins)] == ["myfw.scatter"]
    assert [a.name for a in select_adapters(names="*copy", plugins=plugins)] == ["numpy.PLUGIN-copy"]
    assert select_adapters(frameworks=("numpy",), names="myfw.*", plugins=plugins) == ()
    assert unknown_frameworks(("numpy", "myfw", "nope"), plugins) == ("nope",)
