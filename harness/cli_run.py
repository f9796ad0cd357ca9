"""`tconv run`: the plan (every argument checked first), the isolated run, the report.

Nothing here can fail a run late: `_plan` loads the plugins, case files (with the limits),
the known-discrepancy table and the baseline, and locks `--out` before a row runs. SIGINT and
SIGTERM stop the run and keep the finished rows as a partial report (`harness.stopping`).
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters import FRAMEWORKS, missing_frameworks, missing_requirements_of, select_adapters
from adapters.base import Adapter
from harness import cli_checks as checks
from harness import model_cache
from harness.casefile import CaseFileError
from harness.cli_checks import LOG_NAME, BadInput
from harness.cli_parser import BAD_INPUT
from harness.console import Console, printable, stderr_to
from harness.discrepancies import KnownDiscrepancies
from harness.stopping import deferred_signals, exit_status_for, signal_name, stop_signals

if TYPE_CHECKING:
    import pandas as pd

    from harness.case import Case

@dataclass
class RunPlan:
    """Everything `tconv run` needs, every argument checked: nothing here can fail a run late."""

    adapters: list[Adapter]
    missing: tuple[str, ...]
    cases: list["Case"]
    files: set[str]  # display names of every case file read (before --cases)
    known: KnownDiscrepancies
    baseline: "pd.DataFrame | None"
    baseline_env: dict[str, str]
    shard_note: str = ""
    left_out: tuple[str, ...] = ()  # adapters whose required converter is not installed here


def _case_selected(case_file: str, case_id: str, pattern: str) -> bool:
    """`--cases` matches `FILE::ID` or, for convenience, the bare id."""
    return fnmatch.fnmatchcase(f"{case_file}::{case_id}", pattern) or fnmatch.fnmatchcase(case_id, pattern)


def _plan(args: argparse.Namespace) -> RunPlan:
    plugins = checks.load_plugins(args.plugin)
    try:
        adapters = list(select_adapters(frameworks=args.frameworks, names=args.adapters, plugins=plugins))
    except ValueError as error:
        raise BadInput(f"--plugin: {error}") from None
    checks.check_frameworks(args.frameworks, plugins)
    checks.check_adapter_globs(args.adapters, plugins)
    known = checks.load_known(args.known)
    baseline, baseline_env = checks.load_baseline(args.baseline)
    from harness.limits import DEFAULT_LIMITS, Limits

    limits = Limits(max_memory=args.max_memory or DEFAULT_LIMITS.max_memory,
                    max_work=args.max_work or DEFAULT_LIMITS.max_work)
    loaded = checks.load_case_files(args.paths, limits=limits)
    cases = [c for c in loaded if _case_selected(c.file, c.id, args.cases)]
    if not cases:
        raise BadInput(f"--cases {args.cases!r} matches none of the {len(loaded)} cases; give a glob over FILE::ID "
                       f"or ID, such as {loaded[0].full_id!r} or '*{loaded[0].id.split('/')[0]}*'")
    checks.check_out(args.out, args.formats)
    note = ""
    if args.shard is not None:
        from harness.scheduler import shard

        index, count = args.shard
        cases = shard(cases, index, count)
        note = f"shard {index}/{count}: {len(cases)} of the selected cases"
    return RunPlan(adapters, missing_frameworks(args.frameworks), cases, {c.file for c in loaded}, known,
                   baseline, baseline_env, note, missing_requirements_of(args.frameworks, args.adapters, plugins))


def run_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """`tconv run`; with `--no-cache` the workers (which take this process's environment) keep no
    converted model and no JAX executable."""
    with model_cache.disabled(jax=True) if args.no_cache else contextlib.nullcontext():
        status = _run_command(args, argv)
    if model_cache.enabled() and not args.no_cache:
        model_cache.prune_now_and_then()
    return status


def _run_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness import runner
    from harness.environment import environment
    from harness.report import write_reports
    from harness.scheduler import Progress, run_isolated

    try:
        plan = _plan(args)
        lock = checks.lock_out(args.out)
    except (BadInput, CaseFileError) as error:
        print(f"tconv: {printable(str(error))}", file=sys.stderr)
        return BAD_INPUT
    console = Console(quiet=args.quiet)
    total = runner.planned_rows(plan.cases, plan.adapters)
    log = args.out / LOG_NAME
    with lock, stop_signals():
        with stderr_to(log), console.progress(total=total) as bar:
            progress = Progress(on_row=bar.advance, on_job=lambda job: bar.phase(f"{job.adapter}: {job.case.full_id}"))
            result = run_isolated(plan.cases, plan.adapters, plugins=args.plugin, discrepancies=plan.known,
                                  missing_frameworks=plan.missing, jobs=args.jobs, timeout=args.timeout, log=log,
                                  progress=progress)
        has_log = log.is_file() and log.stat().st_size > 0
        if log.is_file() and not has_log:
            log.unlink()
        env = environment(["tconv", *argv])
        warnings = [f"framework not installed, its adapters left out: {f}" for f in plan.missing]
        warnings += [f"adapter not installed, left out: {a}" for a in plan.left_out]  # e.g. a converter's tox env
        warnings += [f"stale known-discrepancy entry (matched no row): {s}" for s in result.stale]
        if not plan.adapters and not plan.missing and not plan.left_out:
            warnings.append(f"no adapter ran: --adapters {args.adapters!r} names none of the frameworks "
                            f"{','.join(args.frameworks or FRAMEWORKS)} (only oracle rows)")
        if plan.shard_note:
            warnings.append(plan.shard_note)
        if result.partial:
            stopped = signal_name(result.interrupted_by)
            env["partial"] = f"yes: stopped by {stopped} after {len(result.rows)} of {total} rows"
            warnings.insert(0, f"PARTIAL report: the run was stopped by {stopped} after {len(result.rows)} of "
                               f"{total} rows")
        comparison = None
        if plan.baseline is not None and not result.partial:
            comparison, notes = _compare_with_baseline(plan, args.cases, result.rows, env)
            warnings += notes
        summary = {"counts": counts(result.rows), "warnings": warnings, "cases": len(plan.cases),
                   "adapters": [a.name for a in plan.adapters], "partial": result.partial}
        try:
            with deferred_signals():
                paths = write_reports(args.out, result.rows, env, summary=summary, formats=args.formats)
        except OSError as error:
            print(f"tconv: cannot write the report into {args.out} ({error.strerror or error}); free space or give "
                  "another --out and run again", file=sys.stderr)
            return BAD_INPUT
    console.summary(result.rows, paths=paths, warnings=warnings, log=log if has_log else None)
    if result.partial:
        print(f"tconv: interrupted ({signal_name(result.interrupted_by)}); the partial report is in {args.out}",
              file=sys.stderr)
        return exit_status_for(result.interrupted_by)
    if comparison is not None:
        console.comparison(comparison)
        if not comparison.worse.empty:
            return 1
    return 0 if result.ok else 1


def _compare_with_baseline(plan: RunPlan, pattern: str, rows: Sequence[object], env: dict[str, str]):  # noqa: ANN202
    """The run against `--baseline`, counting only the baseline rows this run could have made:
    those of the case files it read, the cases `--cases` chose and the adapters that ran."""
    from harness.compare import compare_reports
    from harness.report import rows_frame

    base = plan.baseline
    assert base is not None
    keep = [str(f) in plan.files and _case_selected(str(f), str(i), pattern)
            for f, i in zip(base["case_file"], base["case_id"])]
    base = base[keep]
    new = rows_frame(rows)  # type: ignore[arg-type]
    if not shared_keys(base, new):
        return None, ["the baseline has no row of this run's case files, cases and adapters: nothing compared"]
    comparison = compare_reports(base, new, base_environment=plan.baseline_env, new_environment=env,
                                 only_new_adapters=True)
    return comparison, comparison.warnings()


def _keys(frame: "pd.DataFrame") -> set[tuple[str, str, str, str]]:
    checks = frame["check"] if "check" in frame else ["forward"] * len(frame)
    return {(str(f), str(i), str(a), str(c) if isinstance(c, str) and c else "forward")
            for f, i, a, c in zip(frame["case_file"], frame["case_id"], frame["adapter"], checks)}


def shared_keys(base: "pd.DataFrame", new: "pd.DataFrame") -> bool:
    return bool(_keys(base) & _keys(new))


def counts(rows: Sequence[object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1  # type: ignore[attr-defined]
    return counts
