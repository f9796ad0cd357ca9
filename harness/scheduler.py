"""`tconv run`'s scheduler: the runner's rows, made in worker processes, in parallel, stoppable.

The jobs (one case on one adapter) are grouped by framework family, the families that import
TensorFlow in one group (`harness.workers.process_group`); each group's jobs run in case order on
that group's worker (`harness.workers`), and up to `jobs` groups run at once. The rows
come back in the serial runner's order whatever finished first, and are labelled by the known-
discrepancy table in the parent (which also keeps its staleness bookkeeping), so `--jobs 2` gives
the same report as `--jobs 1` (timings aside). A stop (SIGINT, SIGTERM) ends the workers and returns
the rows finished so far, marked partial. `shard` splits the cases for CI jobs.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from adapters.base import Adapter
from harness import runner
from harness.case import Case
from harness.discrepancies import KnownDiscrepancies
from harness.workers import DEFAULT_TIMEOUT, Job, Stopped, Worker, process_group

# Slowest process groups first, so that with --jobs the long ones start at once (by their seconds in a
# built-in run here, caches cold and warm); a plugin's own framework comes after them.
FAMILY_ORDER = ("tinygrad", "tensorflow", "jax", "openvino", "torch", "onnx", "paddle", "numpy", "mlx", "onnxruntime")


@dataclass
class Progress:
    """Callbacks for the progress bar, called from the family threads (under one lock)."""

    on_row: Callable[[runner.Row], None] | None = None
    on_job: Callable[[Job], None] | None = None


def shard(cases: Sequence[Case], index: int, count: int) -> list[Case]:
    """The cases of shard `index` (1-based) of `count`: by a hash of `file::id`, so each case is in
    exactly one shard, the same one on every machine and whatever other cases a file gains."""
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: the index must be between 1 and {count}")
    return [c for c in cases
            if int.from_bytes(hashlib.sha256(c.full_id.encode("utf-8")).digest()[:8], "big") % count == index - 1]


def _family_key(group: str) -> tuple[int, str]:
    return (FAMILY_ORDER.index(group) if group in FAMILY_ORDER else len(FAMILY_ORDER), group)


def run_isolated(
    cases: Sequence[Case], adapters: Sequence[Adapter], *, plugins: Sequence[Path] = (),
    discrepancies: KnownDiscrepancies | None = None, missing_frameworks: tuple[str, ...] = (),
    jobs: int = 1, timeout: float = DEFAULT_TIMEOUT, log: Path | None = None,
    progress: Progress | None = None, stop: threading.Event | None = None,
) -> runner.RunResult:
    """Every case on every adapter, each adapter in its family's worker; see the module docstring.

    The result is `partial` when `stop` was set before every job ran.
    """
    progress = progress or Progress()
    stop = stop or threading.Event()
    lock = threading.Lock()
    oracle_rows: dict[int, runner.Row] = {}
    by_family: dict[str, list[Job]] = {}
    batches = runner.prepare_batches(cases)
    for case_index, case in enumerate(cases):
        for adapter_index, adapter in enumerate(adapters):
            if runner.job_checks(case):
                upcoming = batches.get(case_index, ()) if runner.prepares(adapter) else ()
                job = Job(case_index * len(adapters) + adapter_index, case, adapter.name, adapter.framework, upcoming)
                by_family.setdefault(process_group(adapter.framework), []).append(job)
    done: dict[int, list[runner.Row]] = {}

    def report(rows: list[runner.Row]) -> None:
        for row in rows:
            if progress.on_row is not None:
                progress.on_row(row)

    def family(jobs_of_family: list[Job]) -> None:
        worker = Worker(jobs_of_family[0].framework, plugins=plugins, log=log, timeout=timeout, stop=stop)
        try:
            for job in jobs_of_family:
                if stop.is_set():
                    return
                with lock:
                    if progress.on_job is not None:
                        progress.on_job(job)
                rows = worker.run(job)
                with lock:
                    for row in rows:
                        runner.label(row, job.case, discrepancies)
                    done[job.index] = rows
                    report(rows)
        except Stopped:
            return
        finally:
            worker.close()

    families = sorted(by_family, key=_family_key)
    interrupted: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="tconv-family") as pool:
        futures = [pool.submit(family, by_family[name]) for name in families]
        try:
            for case_index, case in enumerate(cases):  # the oracle rows, in the parent meanwhile
                if stop.is_set():
                    break
                row = runner.guarded_oracle_row(case)
                if row is not None:
                    with lock:
                        oracle_rows[case_index] = row
                        report([row])
            pending = set(futures)
            while pending:  # short waits, so that the main thread takes its signals
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                for future in finished:
                    future.result()
        except KeyboardInterrupt as error:  # SIGINT, or SIGTERM (`harness.stopping.Terminated`)
            stop.set()
            interrupted = error
        except BaseException:  # a bug in tconv: stop the workers, then let the CLI report it (exit 3)
            stop.set()
            raise
    rows = _in_serial_order(cases, adapters, oracle_rows, done)
    stale = [e.label for e in discrepancies.stale()] if discrepancies is not None and not stop.is_set() else []
    expected = runner.planned_rows(cases, adapters)
    result = runner.RunResult(rows, missing_frameworks, stale, partial=len(rows) < expected)
    if interrupted is not None:
        result.interrupted_by = interrupted
    return result


def _in_serial_order(cases: Sequence[Case], adapters: Sequence[Adapter], oracle_rows: dict[int, runner.Row],
                     done: dict[int, list[runner.Row]]) -> list[runner.Row]:
    """The rows as `runner.run` orders them: per case its oracle row, then each adapter's rows."""
    rows: list[runner.Row] = []
    for case_index in range(len(cases)):
        if case_index in oracle_rows:
            rows.append(oracle_rows[case_index])
        for adapter_index in range(len(adapters)):
            rows += done.get(case_index * len(adapters) + adapter_index, [])
    return rows
