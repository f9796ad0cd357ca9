"""The oracle's answers are kept per process by the case's content (`harness.runner._References`):
a copy of a case (as a worker receives it through a pipe) is answered from the cache, a changed
case is not, and the cache keeps to its byte budget."""

from __future__ import annotations

import dataclasses

import numpy as np

from harness import runner
from harness.casefile import load_cases
from harness.judge import reference_for
from tests.conftest import REPO

CASE = next(c for c in load_cases([REPO / "cases" / "padding.yaml"]) if c.bias is not None)


def _counting(monkeypatch) -> list[str]:  # noqa: ANN001
    calls: list[str] = []

    def counted(case):  # noqa: ANN001, ANN202
        calls.append(case.id)
        return reference_for(case)

    monkeypatch.setattr(runner, "reference_for", counted)
    monkeypatch.setattr(runner, "_REFERENCES", runner._References(max_bytes=2**30))
    return calls


def test_a_copy_of_a_case_is_answered_from_the_cache(monkeypatch) -> None:
    calls = _counting(monkeypatch)
    first = runner.cached_reference(CASE)
    copy = dataclasses.replace(CASE, input=CASE.input.copy(), kernel=CASE.kernel.copy())
    assert runner.cached_reference(copy) is first and len(calls) == 1


def test_any_change_the_oracle_sees_is_computed_afresh(monkeypatch) -> None:
    calls = _counting(monkeypatch)
    runner.cached_reference(CASE)
    changes = [{"kernel": CASE.kernel * 2}, {"input": CASE.input + 1}, {"bias": CASE.bias + 1}, {"bias": None},
               {"stride": (3,) * CASE.rank}, {"dtype": "float16"}, {"output_padding": (1,) * CASE.rank}]
    for change in changes:
        changed = dataclasses.replace(CASE, **change)
        np.testing.assert_array_equal(runner.cached_reference(changed).exact, reference_for(changed).exact)
    assert len(calls) == 1 + len(changes)


def test_the_cache_keeps_to_its_byte_budget(monkeypatch) -> None:
    calls = _counting(monkeypatch)
    size = sum(v.nbytes for v in vars(reference_for(CASE)).values() if isinstance(v, np.ndarray))
    monkeypatch.setattr(runner, "_REFERENCES", runner._References(max_bytes=2 * size))
    cases = [dataclasses.replace(CASE, kernel=CASE.kernel + i) for i in range(3)]
    for case in cases:
        runner.cached_reference(case)
    assert runner._REFERENCES.size <= 2 * size and len(runner._REFERENCES.kept) == 2
    runner.cached_reference(cases[0])  # the oldest went first: computed again
    runner.cached_reference(cases[2])  # the newest stayed
    assert calls.count(CASE.id) == 4
