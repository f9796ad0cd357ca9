"""The harness can fail: adapters broken on purpose give `fail` rows, and the report's diagnosis
names the slip (kernel flipped, channel axes swapped, channels-last misread, crop shifted) for
at least 90% of their failing rows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from adapters.base import Adapter
from adapters.layout import rot180
from adapters.numpy_zero_insertion import NumpyZeroInsertion
from harness.case import Case
from harness.casefile import load_cases
from harness.report import write_reports
from harness.runner import run
from tests.conftest import REPO

CASES = load_cases([REPO / "cases"])


class Broken(Adapter):
    """A real formulation with one slip added at its boundary."""

    framework = "numpy"

    def __init__(self, name: str, slip) -> None:
        self.name, self.slip, self.inner = name, slip, NumpyZeroInsertion()

    def supports(self, case: Case) -> str | None:
        return self.inner.supports(case)

    def run(self, case: Case) -> np.ndarray:
        return self.slip(case, self.inner)


def flip_kernel(case: Case, inner: Adapter) -> np.ndarray:
    return inner.run(dataclasses.replace(case, kernel=rot180(case.kernel)))


def swap_kernel_axes(case: Case, inner: Adapter) -> np.ndarray:
    g, (c_in, c_out_g, *k) = case.groups, case.kernel.shape
    if c_in // g != c_out_g:
        raise ValueError("the swapped kernel does not fit this case")  # an error row, not a fail
    swapped = case.kernel.reshape(g, c_out_g, c_out_g, *k).swapaxes(1, 2).reshape(case.kernel.shape)
    return inner.run(dataclasses.replace(case, kernel=swapped))


def misread_channels_last(case: Case, inner: Adapter) -> np.ndarray:
    y = inner.run(case)
    return np.moveaxis(y, 1, -1).reshape(y.shape)  # a NHWC buffer taken for NCHW


def same_lower_for_same(case: Case, inner: Adapter) -> np.ndarray:
    if case.padding_word not in ("same", "same_upper"):
        return inner.run(case)
    return inner.run(dataclasses.replace(case, padding=("same_lower",) * case.rank))


SLIPS = [
    ("kernel-flipped", flip_kernel, "kernel rotated 180 degrees"),
    ("channels-swapped", swap_kernel_axes, "C_in/C_out kernel axes swapped"),
    ("channels-last-misread", misread_channels_last, "output channels-last read as channels-first"),
    ("same-lower-for-upper", same_lower_for_same, "crop shifted by one"),
]


@pytest.mark.parametrize("name, slip, expected", SLIPS, ids=[s[0] for s in SLIPS])
def test_broken_adapter_fails_and_is_diagnosed(tmp_path, name, slip, expected) -> None:
    result = run(CASES, [Broken(f"broken.{name}", slip)])
    write_reports(tmp_path, result.rows, {"command": "test"}, formats=("csv",))
    frame = pd.read_csv(tmp_path / "report.csv", keep_default_na=False)
    failing = frame[(frame["adapter"] == f"broken.{name}") & (frame["status"] == "fail")]
    assert len(failing) >= 20, f"the slip should break many cases, broke {len(failing)}"
    named = failing["diagnosis"].str.startswith(expected)
    assert named.mean() >= 0.9, failing.loc[~named, ["case_id", "diagnosis"]].head(10).to_string()
    assert not result.ok


def test_an_unbroken_adapter_passes_the_same_cases() -> None:
    result = run(CASES[:40], [Broken("unbroken", lambda case, inner: inner.run(case))])
    assert {r.status for r in result.rows} <= {"pass", "unsupported"}


def test_failure_message_is_a_bug_report() -> None:
    case = next(c for c in CASES if c.id == "seed003-tf-same-stride-2")
    from harness.runner import adapter_row

    row = adapter_row(case, Broken("broken.kernel-flipped", flip_kernel))
    report = row.bug_report()
    assert row.status == "fail"
    for fragment in ("seeds.yaml::seed003-tf-same-stride-2[broken.kernel-flipped]", "stride=2", "padding=same",
                     "max abs err", "worst element [", "expected", "actual", "diagnosis: kernel rotated 180"):
        assert fragment in report, report
