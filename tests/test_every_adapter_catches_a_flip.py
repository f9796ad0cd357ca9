"""Every adapter, built-in runtimes and conversion paths alike, is shown to run its framework for
real: handed a kernel rotated by 180 degrees (a wrong input, as a slipped layout conversion would
give), it must produce rows that FAIL against the oracle of the unflipped case. An adapter that
returned the oracle's answer, or never passed the kernel through, would pass here and fail this."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from adapters import all_adapters
from adapters.base import Adapter, framework_installed, missing_requirements
from adapters.layout import rot180
from harness.case import Case
from harness.casefile import load_cases
from harness.discrepancies import load_discrepancies
from harness.runner import adapter_row
from tests.conftest import REPO

# float32 seeds whose kernels are not symmetric under rot180 (a flip changes the answer)
CASES = [c for c in load_cases([REPO / "cases" / "seeds.yaml", REPO / "cases" / "ranks.yaml"])
         if c.dtype == "float32" and not np.array_equal(c.kernel, rot180(c.kernel))]


class KernelFlipped(Adapter):
    """`inner`, given the case with its kernel rotated by 180 degrees."""

    def __init__(self, inner: Adapter) -> None:
        self.inner, self.name, self.framework = inner, f"{inner.name}+flipped", inner.framework

    def version(self) -> str:
        return self.inner.version()

    def supports(self, case: Case) -> str | None:
        return self.inner.supports(case)

    def run(self, case: Case) -> np.ndarray:
        return self.inner.run(dataclasses.replace(case, kernel=rot180(case.kernel)))


@pytest.mark.parametrize("adapter", all_adapters(), ids=lambda a: a.name)
def test_a_flipped_kernel_fails(adapter: Adapter) -> None:
    if not framework_installed(adapter.framework):
        pytest.skip(f"{adapter.framework} is not installed")
    if missing_requirements(adapter):  # a converter in its own tox env
        pytest.skip(f"{', '.join(missing_requirements(adapter))} is not installed")
    flipped = KernelFlipped(adapter)
    known = load_discrepancies()
    chosen, honest = [], []
    for case in (c for c in CASES if adapter.supports(c) is None):
        row = adapter_row(case, adapter, discrepancies=known)
        honest.append(row)
        if row.status == "pass":  # a case the adapter gets right (not a known bug of its framework)
            chosen.append(case)
        if len(chosen) == 4:
            break
    assert len(chosen) >= 2, f"{adapter.name} passes too few of the float32 seeds to be checked"
    assert not [r for r in honest if r.status in ("fail", "error")], [r.bug_report() for r in honest
                                                                      if r.status in ("fail", "error")]
    rows = [adapter_row(c, flipped) for c in chosen]
    assert [r.status for r in rows] == ["fail"] * len(rows), [(r.full_id, r.status, r.message) for r in rows]
    assert all("rot180" in r.diagnosis or "rotated" in r.diagnosis for r in rows), [r.diagnosis for r in rows]
