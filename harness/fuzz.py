"""`tconv fuzz`: random cases on every adapter; disagreements shrunk to YAML case files.

Hypothesis draws case mappings (`harness.fuzz_strategies`); each example runs on every selected
adapter through the one runner, and the property is the judge's verdict: a `fail` or `error` row
that the known-discrepancy table does not explain is a finding. Each finding raises an exception
of its own class, one class per mechanism (adapter, check, diagnosis or error type), so
hypothesis shrinks every mechanism separately (smallest shapes, the first option of every
choice, the smallest integers) and reports each once. `tconv fuzz` runs the adapters in worker
processes (`IsolatedRows`): a framework that crashes or hangs on a layer is a finding too. The
run goes in rounds (a seed each, `seed + round`) until the example budget or the time is spent;
hypothesis' example database (`.tconv/fuzz-db`) replays earlier failures first. A finding is
written as a case file whose comment holds every adapter's verdict, the diagnosis, the versions
and the platform: running it with `tconv run` reproduces the disagreement.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adapters.base import Adapter, import_first
from harness.case import Case
from harness.discrepancies import KnownDiscrepancies
from harness.runner import Row, adapter_row, gradient_rows, label
from harness.workers import FUZZ_TIMEOUT, Job, Worker, process_group, release_compiled_functions

DATABASE = Path(".tconv/fuzz-db")


class Finding(Exception):
    """An unexplained disagreement; subclassed per mechanism so hypothesis tells them apart."""

    key: tuple[str, str, str] = ("", "", "")

    def __init__(self, mapping: dict[str, Any], row: Row, rows: list[Row]) -> None:
        super().__init__(f"{row.full_id}: {row.status}: {row.message[:200]}")
        self.mapping, self.row, self.rows = mapping, row, rows


class _OutOfTime(KeyboardInterrupt):
    """The time is spent: raised from an example to end hypothesis' round at once. Hypothesis
    shrinks any other exception as a failure, and `reject()` kept it drawing (and rejecting)
    thousands of examples to fill the round: 30 s for a 1 s budget, measured. On a
    KeyboardInterrupt it stops without saving the example to its database."""


_FINDING_CLASSES: dict[tuple[str, str, str], type[Finding]] = {}


def mechanism(row: Row) -> tuple[str, str, str]:
    """What makes two failing rows the same bug: adapter, check, and the diagnosis (for an error,
    the exception type and its message with the numbers taken out)."""
    if row.status == "error":
        kind = re.sub(r"\d+", "N", row.message.split(" (at ")[0])[:80]
    else:
        kind = row.diagnosis or "unexplained"
    return row.adapter, row.check, kind


def finding_class(key: tuple[str, str, str]) -> type[Finding]:
    if key not in _FINDING_CLASSES:
        name = "Finding_" + re.sub(r"\W+", "_", "_".join(key))[:60]
        _FINDING_CLASSES[key] = type(name, (Finding,), {"key": key})
    return _FINDING_CLASSES[key]


def rows_for(case: Any, adapters: Sequence[Adapter], known: KnownDiscrepancies | None) -> list[Row]:
    """Every row of one example: forward and gradient rows of each adapter."""
    rows: list[Row] = []
    for adapter in adapters:
        if "forward" in case.checks:
            rows.append(adapter_row(case, adapter, discrepancies=known))
        rows += gradient_rows(case, adapter, discrepancies=known)
    return rows


class IsolatedRows:
    """`rows_for`, with each adapter run in its family's worker process (`harness.workers`, as
    `tconv run` runs them): a framework that crashes or hangs on a drawn layer gives `error` rows
    ("the worker process died: killed by SIGSEGV"), a finding like any other that hypothesis
    shrinks, and the next example gets a new worker. In one process, the first segfault (PyTorch's
    AMX bfloat16 input gradient of some layers) ended the whole campaign with nothing written."""

    def __init__(self, *, plugins: Sequence[Path] = (), log: Path | None = None,
                 timeout: float = FUZZ_TIMEOUT) -> None:
        self.plugins, self.log, self.timeout = list(plugins), log, timeout
        self.workers: dict[str, Worker] = {}
        self.stop = threading.Event()

    def __call__(self, case: Case, adapters: Sequence[Adapter], known: KnownDiscrepancies | None) -> list[Row]:
        rows: list[Row] = []
        for adapter in adapters:
            group = process_group(adapter.framework)
            if group not in self.workers:
                self.workers[group] = Worker(adapter.framework, plugins=self.plugins, log=self.log,
                                             timeout=self.timeout, stop=self.stop)
            for row in self.workers[group].run(Job(0, case, adapter.name, adapter.framework)):
                label(row, case, known)  # the parent labels, as `tconv run`'s scheduler does
                rows.append(row)
        return rows

    def release(self) -> None:
        """Between rounds: the workers drop their frameworks' compiled functions (JAX's grow per shape)."""
        for worker in self.workers.values():
            worker.release()

    def close(self) -> None:
        """End every worker (`Worker.close` kills one that does not finish)."""
        for worker in self.workers.values():
            worker.close()
        self.workers.clear()


@dataclass
class Stats:
    """Examples run (shrinking included), seconds spent per framework, findings by mechanism."""

    examples: int = 0
    rejected: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)

    def rates(self) -> dict[str, float]:
        """Examples per second each framework's adapters would sustain alone."""
        return {f: self.examples / s for f, s in sorted(self.seconds.items()) if s > 0}


def fuzz(
    adapters: Sequence[Adapter],
    *,
    budget: int = 200,
    seconds: float | None = None,
    seed: int = 0,
    dtypes: tuple[str, ...] = ("float32",),
    checks: tuple[str, ...] = ("forward",),
    special: bool = False,
    large: bool = False,
    known: KnownDiscrepancies | None = None,
    database: Path | None = DATABASE,
    round_size: int = 50,
    on_example: Callable[[Stats], None] | None = None,
    isolated: IsolatedRows | None = None,
) -> Stats:
    """Draw `budget` examples (fewer when `seconds` run out first), shrink what fails; returns
    the statistics and the findings. With `isolated` the adapters run in its worker processes
    (which it keeps open: the caller closes them), otherwise in this one."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.database import DirectoryBasedExampleDatabase
    from hypothesis import reject

    from harness.casefile import CaseFileError, case_from_mapping
    from harness import model_cache
    from harness.fuzz_strategies import case_mappings

    if isolated is None:
        import_first(a.framework for a in adapters)
    rows_of = isolated or rows_for
    stats = Stats()
    start = time.monotonic()
    strategy = case_mappings(dtypes=dtypes, checks=checks, special=special, large=large)

    def out_of_time() -> bool:
        return seconds is not None and time.monotonic() - start > seconds

    def example(mapping: dict[str, Any]) -> None:
        if out_of_time():
            raise _OutOfTime
        try:
            case = case_from_mapping(mapping, file="fuzz.yaml")
        except CaseFileError:
            stats.rejected += 1
            reject()
        stats.examples += 1
        rows = []
        for adapter in adapters:
            began = time.perf_counter()
            rows += rows_of(case, [adapter], known)
            stats.seconds[adapter.framework] += time.perf_counter() - began
        if on_example is not None:
            on_example(stats)
        failing = sorted((r for r in rows if r.status in ("fail", "error")), key=mechanism)
        if failing:
            finding = finding_class(mechanism(failing[0]))(mapping, failing[0], rows)
            # Kept here too: hypothesis only shrinks candidates that still fail, so the last one
            # of a mechanism is its smallest, and it survives a round cut short by `--time`.
            stats.findings[finding.key] = finding
            raise finding

    round_number, remaining = 0, budget
    while remaining > 0 and not out_of_time():
        size = min(round_size, remaining)
        remaining -= size
        test = settings(
            max_examples=size, deadline=None, report_multiple_bugs=True, print_blob=False,
            database=None if database is None else DirectoryBasedExampleDatabase(str(database)),
            suppress_health_check=list(HealthCheck),
        )(given(strategy)(example))
        test = hypothesis_seed(seed * 1000 + round_number)(test)
        before = stats.examples
        try:
            with model_cache.disabled():  # random layers never come back: keep none of their models
                test()
        except _OutOfTime:
            break
        except BaseException as error:  # noqa: BLE001 - the findings come back as exceptions
            for finding in _findings_in(error, cut_short=out_of_time()):
                stats.findings[finding.key] = finding
        round_number += 1
        if isolated is None:
            release_compiled_functions()
        else:
            isolated.release()
        if stats.examples == before:  # nothing valid drawn in a whole round: stop rather than spin
            break
    return stats


def _findings_in(error: BaseException, *, cut_short: bool = False) -> list[Finding]:
    """The findings inside what hypothesis raised (one, or a group of them). A round cut short by
    the time limit ends in hypothesis' complaint that its final replay was rejected, and a round
    whose every draw was invalid in `Unsatisfiable`: neither loses what was found (`stats` holds
    it). Anything else is a bug of tconv and is raised again."""
    from hypothesis.errors import Unsatisfiable, UnsatisfiedAssumption

    if isinstance(error, Finding):
        return [error]
    if isinstance(error, BaseExceptionGroup):
        found = []
        for inner in error.exceptions:
            found += _findings_in(inner, cut_short=cut_short)
        return found
    if isinstance(error, Unsatisfiable) or (cut_short and isinstance(error, UnsatisfiedAssumption)):
        return []
    raise error


def slug(key: tuple[str, str, str]) -> str:
    return re.sub(r"[^a-z0-9]+", "-", "-".join(key).lower()).strip("-")[:80]


def write_finding(finding: Finding, out: Path, *, environment: dict[str, str]) -> Path:
    """The shrunk case as a case file: running it with `tconv run` shows the disagreement."""
    name = slug(finding.key)
    mapping = {**finding.mapping, "id": name}
    verdicts = [f"#   {r.adapter}{'' if r.check == 'forward' else ':' + r.check}: {r.status}"
                + (f" ({r.message[:120]})" if r.status != "pass" and r.message else "") for r in finding.rows]
    versions = sorted({f"{r.framework} {r.framework_version}" for r in finding.rows})
    header = [
        f"# Found by `tconv fuzz`: {finding.row.full_id} is {finding.row.status}.",
        f"# Diagnosis: {finding.row.diagnosis or 'none'}",
        f"# Message: {finding.row.message[:300]}",
        f"# Versions: {', '.join(versions)}",
        f"# Platform: {environment.get('cpu', '?')} ({environment.get('cpu_isa', '?')})",
        "# Verdicts of every adapter on this case:",
        *verdicts,
    ]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.yaml"
    body = yaml.safe_dump({"cases": [mapping]}, sort_keys=False, default_flow_style=None)
    path.write_text("\n".join(header) + "\n" + body, encoding="utf-8")
    return path
