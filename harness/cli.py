"""The `tconv` command line: `run`, `merge`, `compare`, `report`, `support`, `fuzz`, `adapters`.

Exit statuses (the contract): 0 clean; 1 when a row is `fail` or `error` (`run`) or got worse
(`compare`, `run --baseline`); 2 for bad input: arguments, case files, reports, each one line
`tconv: ...` on stderr that says what to do (a case file with several problems lists them all,
one line each), never a traceback; 3 for a failure of tconv itself (one line, the traceback
saved to a file); 130 when interrupted.

Every argument is checked before any row runs: the case files and the `--cases`/`--adapters`
patterns (each must match something), the `--known` table, the `--baseline` report, the
`--out` folder (created, and written to once).
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from adapters import FRAMEWORKS, all_adapters, missing_frameworks, select_adapters
from adapters.base import Adapter
from harness import __version__
from harness.casefile import CaseFileError
from harness import cli_checks as checks
from harness.cli_checks import LOG_NAME, BadInput
from harness.console import Console, printable, stderr_to
from harness.dtypes import DTYPE_NAMES
from harness.schema import CHECK_NAMES
from harness.workers import DEFAULT_TIMEOUT
from harness.discrepancies import KnownDiscrepancies
from harness.stopping import deferred_signals, exit_status_for, signal_name, stop_signals

if TYPE_CHECKING:
    import pandas as pd

    from harness.case import Case

BAD_INPUT = 2
INTERNAL_ERROR = 3  # a failure of tconv itself: never 0, 1 (rows) or 2 (input)
INTERRUPTED = 130
BROKEN_PIPE = 141


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(BAD_INPUT, f"tconv: error: {message}\n")


def _frameworks(text: str) -> tuple[str, ...]:
    """Split `--frameworks`; the names are checked once the plugins (which may add some) are loaded."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"unknown framework(s) (none given); choose from {', '.join(FRAMEWORKS)}")
    return names


def _formats(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ("csv", "json", "html")]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown format(s) {', '.join(unknown)}; choose from csv, json, html")
    return ("csv", *names)


EPILOG = ("exit status: 0 no row failed (or got worse), 1 a row is fail/error (or got worse), 2 bad input "
          "(arguments, case files, reports), 3 a failure of tconv itself")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive, finite number of seconds")
    return value


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N (such as 2/4)") from None
    if n < 1 or not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"{text}: I must be between 1 and N, and N at least 1")
    return i, n


_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20, "g": 1e9, "gb": 1e9,
          "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}


def _size(text: str) -> int:
    match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    try:
        value = float(match.group(1)) * _UNITS[unit] if match and unit in _UNITS else None
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 4GiB, 500MB or 2e9")
    return int(value)


def _amount(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number such as 2e10") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive, finite number")
    return int(value)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not above 0")
    return value


def _choices(what: str, names: Sequence[str]):  # noqa: ANN202
    def parse(text: str) -> tuple[str, ...]:
        chosen = tuple(n.strip().lower() for n in text.split(",") if n.strip())
        unknown = [n for n in chosen if n not in names]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or '(none given)'}; "
                                             f"choose from {', '.join(names)}")
        return chosen

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tconv", description="Conformance harness for transposed convolution.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"tconv {__version__}",
                        help="print tconv's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    run = sub.add_parser("run", help="run case files on the installed frameworks and write a report",
                         description="Run every case of the given files and folders on every selected adapter, "
                                     "judge each result against the oracle and write a report.", epilog=EPILOG)
    run.add_argument("paths", nargs="+", metavar="PATH", help="case files (YAML) or folders of them")
    run.add_argument("--frameworks", type=_frameworks, default=None, metavar="LIST",
                     help=f"comma-separated, from {','.join(FRAMEWORKS)} or a plugin adapter's framework "
                          "(default: all installed); selects plugin adapters too")
    run.add_argument("--adapters", default="*", metavar="GLOB[,GLOB]",
                     help="only adapters (built-in or plugin) whose name matches one of the globs; each glob "
                          "must match an adapter (`tconv adapters` lists them)")
    run.add_argument("--cases", default="*", metavar="GLOB",
                     help="only cases whose FILE::ID (e.g. seeds.yaml::d2l-*) or ID matches; must match one")
    run.add_argument("--plugin", type=Path, action="append", default=[], metavar="FILE.py",
                     help="also run the ADAPTERS defined in this file (your own implementation); repeatable")
    run.add_argument("--out", type=Path, default=Path("reports/latest"), metavar="DIR",
                     help="folder for report.csv, report.json, report.html and frameworks.log (created; "
                          "default: reports/latest)")
    run.add_argument("--known", type=Path, default=None, metavar="YAML",
                     help="known-discrepancy table (default: cases/known_discrepancies.yaml)")
    run.add_argument("--baseline", type=Path, default=None, metavar="REPORT",
                     help="also compare with this earlier report.csv/json; a row that got worse makes the exit "
                          "status 1 (only the rows of the case files, cases and adapters this run has count)")
    run.add_argument("--formats", type=_formats, default=("csv", "json", "html"), metavar="LIST",
                     help="which of csv,json,html to write (default: all three; csv is always written)")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    run.add_argument("--jobs", type=_positive, default=1, metavar="N",
                     help="framework families run in N worker processes at once (default 1); the report is the "
                          "same as a serial run's")
    run.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="S",
                     help=f"a job (one case on one adapter) that runs longer is killed and becomes an error row "
                          f"(default {DEFAULT_TIMEOUT:g} s)")
    run.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                     help="run only shard I of N (1-based): cases split by a hash of FILE::ID, so N CI jobs cover "
                          "every case exactly once; join their reports with `tconv merge`")
    run.add_argument("--max-memory", type=_size, default=None, metavar="SIZE",
                     help="refuse cases estimated to need more memory (e.g. 4GiB; default a quarter of the RAM)")
    run.add_argument("--max-work", type=_amount, default=None, metavar="N",
                     help="refuse cases estimated to need more work (multiply-adds, e.g. 2e10)")

    compare = sub.add_parser("compare", help="compare two reports: rows whose status got worse",
                             description="Match two reports' rows on (case_file, case_id, adapter) and name "
                                         "those whose status got worse (exit 1).", epilog=EPILOG)
    compare.add_argument("base", type=Path, metavar="BASE", help="the earlier report (report.csv or report.json)")
    compare.add_argument("new", type=Path, metavar="NEW", help="the later report (report.csv or report.json)")
    compare.add_argument("--csv", type=Path, default=None, metavar="FILE", help="write the comparison table as CSV")
    compare.add_argument("--html", type=Path, default=None, metavar="FILE",
                         help="write the comparison as an HTML page")
    compare.add_argument("--quiet", action="store_true", help="only the lines of rows that got worse")

    report = sub.add_parser("report", help="re-render report.html from a saved report.csv or report.json",
                            description="Render the HTML page again from a saved report (pictures need the "
                                        "JSON).", epilog=EPILOG)
    report.add_argument("report", type=Path, metavar="REPORT", help="a report.csv or report.json that tconv run wrote")
    report.add_argument("--html", type=Path, required=True, metavar="OUT", help="the HTML file to write")

    support = sub.add_parser("support", help="which adapter handles which feature (Markdown) from a saved report",
                             description="Print the support table of a saved report.csv or report.json "
                                         "(the form of docs/support-matrix.md).", epilog=EPILOG)
    support.add_argument("report", type=Path, metavar="REPORT", help="a report.csv or report.json that tconv run wrote")

    fuzz = sub.add_parser("fuzz", help="random cases on every adapter; disagreements shrunk to case files",
                          description="Draw random valid cases (hypothesis), run them on the selected adapters, and "
                                      "write each disagreement the known-discrepancy table does not explain, shrunk, "
                                      "as a case file. Exit 1 when something was found.", epilog=EPILOG)
    fuzz.add_argument("--budget", type=_positive, default=200, metavar="N", help="examples to draw (default 200)")
    fuzz.add_argument("--time", type=_positive, default=None, metavar="S", help="stop after S seconds")
    fuzz.add_argument("--seed", type=int, default=0, metavar="S",
                      help="the seed: the same seed draws the same examples (default 0)")
    fuzz.add_argument("--frameworks", type=_frameworks, default=None, metavar="LIST",
                      help="comma-separated frameworks whose adapters run (default: all installed)")
    fuzz.add_argument("--adapters", default="*", metavar="GLOB[,GLOB]", help="only adapters matching the globs")
    fuzz.add_argument("--plugin", type=Path, action="append", default=[], metavar="FILE.py",
                      help="also fuzz the ADAPTERS defined in this file; repeatable")
    fuzz.add_argument("--dtypes", type=_choices("dtypes", DTYPE_NAMES), default=("float32",), metavar="LIST",
                      help=f"comma-separated, from {','.join(DTYPE_NAMES)} (default float32)")
    fuzz.add_argument("--checks", type=_choices("checks", CHECK_NAMES), default=("forward",), metavar="LIST",
                      help=f"comma-separated, from {','.join(CHECK_NAMES)} (default forward)")
    fuzz.add_argument("--special", action="store_true", help="also put inf, NaN, huge and subnormal values in the data")
    fuzz.add_argument("--large", action="store_true", help="kernel sizes up to 12 (default: up to 4, small and fast)")
    fuzz.add_argument("--known", type=Path, default=None, metavar="YAML",
                      help="known-discrepancy table (default: cases/known_discrepancies.yaml)")
    fuzz.add_argument("--out", type=Path, default=Path("cases/found"), metavar="DIR",
                      help="folder for the findings' case files and findings.html (default: cases/found)")
    fuzz.add_argument("--quiet", action="store_true", help="no progress bar and no rate table")

    merge = sub.add_parser("merge", help="join the reports of sharded runs (--shard I/N) into one report",
                           description="Join reports (report.json keeps the pictures; report.csv works too) of "
                                       "runs that cover different cases or adapters into one report; each row keeps "
                                       "its run's environment. A row in two reports is an error.", epilog=EPILOG)
    merge.add_argument("reports", nargs="+", type=Path, metavar="REPORT", help="report.json or report.csv files")
    merge.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the merged report")
    merge.add_argument("--formats", type=_formats, default=("csv", "json", "html"), metavar="LIST",
                       help="which of csv,json,html to write (default: all three; csv is always written)")
    merge.add_argument("--quiet", action="store_true", help="no summary table")

    sub.add_parser("adapters", help="list the adapters and whether their framework is installed",
                   description="List every adapter, its framework and whether that framework is installed.")
    return parser


# --- tconv run --------------------------------------------------------------------------------


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
                   baseline, baseline_env, note)


def _import_frameworks(adapters: Sequence[Adapter], bar) -> None:  # noqa: ANN001
    """Import each selected framework up front, with its name on the bar (TensorFlow alone takes
    seconds); a framework that fails to import is left to the rows, which report it."""
    from adapters.base import FRAMEWORK_MODULES, import_framework

    for framework in dict.fromkeys(a.framework for a in adapters):
        module = FRAMEWORK_MODULES.get(framework)
        if module is None:  # a plugin's own framework: its adapter imports it
            continue
        if module not in sys.modules:
            bar.phase(f"importing {framework}...")
        try:
            import_framework(module)
        except Exception:  # noqa: BLE001, S112 - each row says "cannot import ..."
            continue


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
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
        warnings += [f"stale known-discrepancy entry (matched no row): {s}" for s in result.stale]
        if not plan.adapters and not plan.missing:
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
        summary = {"counts": _counts(result.rows), "warnings": warnings, "cases": len(plan.cases),
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
    if not _shared_keys(base, new):
        return None, ["the baseline has no row of this run's case files, cases and adapters: nothing compared"]
    comparison = compare_reports(base, new, base_environment=plan.baseline_env, new_environment=env,
                                 only_new_adapters=True)
    return comparison, comparison.warnings()


def _keys(frame: "pd.DataFrame") -> set[tuple[str, str, str, str]]:
    checks = frame["check"] if "check" in frame else ["forward"] * len(frame)
    return {(str(f), str(i), str(a), str(c) if isinstance(c, str) and c else "forward")
            for f, i, a, c in zip(frame["case_file"], frame["case_id"], frame["adapter"], checks)}


def _shared_keys(base: "pd.DataFrame", new: "pd.DataFrame") -> bool:
    return bool(_keys(base) & _keys(new))


def _counts(rows: Sequence[object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1  # type: ignore[attr-defined]
    return counts


# --- tconv compare, report, adapters ----------------------------------------------------------


def _compare(args: argparse.Namespace) -> int:
    from harness.compare import compare_reports, write_comparison

    try:
        base, base_env, _ = checks.read(args.base, "BASE")
        new, new_env, _ = checks.read(args.new, "NEW")
        checks.check_writable(args.csv, "--csv")
        checks.check_writable(args.html, "--html")
    except BadInput as error:
        print(f"tconv: {printable(str(error))}", file=sys.stderr)
        return BAD_INPUT
    if not _shared_keys(base, new):
        # The contract: rows that appeared or vanished are warnings, and nothing got worse: 0.
        print(f"tconv: warning: {args.base} and {args.new} share no row (rows match on case_file, case_id, "
              "adapter, check): nothing was compared; compare reports of runs of the same case files",
              file=sys.stderr)
    comparison = compare_reports(base, new, base_environment=base_env, new_environment=new_env)
    for line in comparison.worse_lines():
        print(printable(line))
    console = Console(quiet=args.quiet)
    console.comparison(comparison, show_worse=False)
    if args.csv or args.html:
        try:
            write_comparison(comparison, csv=args.csv, html=args.html)
        except OSError as error:
            print(f"tconv: cannot write the comparison ({error}); give another --csv/--html path", file=sys.stderr)
            return BAD_INPUT
    return 1 if not comparison.worse.empty else 0


def _report(args: argparse.Namespace) -> int:
    from harness.html import render_html
    from harness.report import CONTRACT_COLUMNS

    try:
        frame, env, plots = checks.read(args.report, "REPORT", needed=CONTRACT_COLUMNS)
        checks.check_writable(args.html, "--html")
    except BadInput as error:
        print(f"tconv: {printable(str(error))}", file=sys.stderr)
        return BAD_INPUT
    try:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render_html(frame, env, plots=plots), encoding="utf-8")
    except OSError as error:
        print(f"tconv: --html {args.html}: cannot write it ({error.strerror or error}); give another path",
              file=sys.stderr)
        return BAD_INPUT
    print(f"wrote {args.html}")
    return 0


def _adapters() -> int:
    from adapters.base import framework_installed

    for adapter in all_adapters():
        state = "installed" if framework_installed(adapter.framework) else "not installed"
        print(f"{adapter.name:32} {adapter.framework:12} {state}")
    return 0


def _support(args: argparse.Namespace) -> int:
    from harness.report import CONTRACT_COLUMNS
    from harness.support import to_markdown

    try:
        frame, env, _ = checks.read(args.report, "REPORT", needed=CONTRACT_COLUMNS)
    except BadInput as error:
        print(f"tconv: {printable(str(error))}", file=sys.stderr)
        return BAD_INPUT
    sys.stdout.write(to_markdown(frame, env, source=str(args.report)))
    return 0


def _fuzz(args: argparse.Namespace) -> int:
    from harness.environment import environment
    from harness.fuzz_report import run_fuzz

    try:
        plugins = checks.load_plugins(args.plugin)
        checks.check_frameworks(args.frameworks, plugins)
        checks.check_adapter_globs(args.adapters, plugins)
        adapters = [a for a in select_adapters(frameworks=args.frameworks, names=args.adapters, plugins=plugins)]
        known = checks.load_known(args.known)
        checks.check_out(args.out, ())
    except BadInput as error:
        print(f"tconv: {printable(str(error))}", file=sys.stderr)
        return BAD_INPUT
    from adapters.base import framework_installed

    adapters = [a for a in adapters if framework_installed(a.framework)]
    if not adapters:
        print("tconv: no installed adapter selected; check --frameworks/--adapters (`tconv adapters`)",
              file=sys.stderr)
        return BAD_INPUT
    log = args.out / LOG_NAME
    with stderr_to(log):
        status = run_fuzz(adapters, budget=args.budget, seconds=args.time, seed=args.seed, dtypes=args.dtypes,
                          checks=args.checks, special=args.special, large=args.large, known=known, out=args.out,
                          database=Path(".tconv/fuzz-db"), environment=environment(), quiet=args.quiet)
    if log.is_file() and not log.stat().st_size:
        log.unlink()
    return status


def _merge(args: argparse.Namespace) -> int:
    from harness.merge import MergeError, write_merged

    try:
        checks.check_out(args.out, args.formats)
        lock = checks.lock_out(args.out)
    except BadInput as error:
        print(f"tconv: {printable(str(error))}", file=sys.stderr)
        return BAD_INPUT
    with lock:
        try:
            with deferred_signals():
                paths, frame, warnings = write_merged(args.reports, args.out, formats=args.formats)
        except MergeError as error:
            print(f"tconv: {printable(str(error))}", file=sys.stderr)
            return BAD_INPUT
        except OSError as error:
            print(f"tconv: cannot write the report into {args.out} ({error.strerror or error}); give another --out",
                  file=sys.stderr)
            return BAD_INPUT
    console = Console(quiet=args.quiet)
    console.summary([_FrameRow(r) for r in frame.to_dict(orient="records")], paths=paths, warnings=warnings)
    return 0 if not frame["status"].isin(["fail", "error"]).any() else 1


class _FrameRow:
    """A report row read back, with what `Console.summary` reads of a runner row."""

    def __init__(self, record: dict) -> None:
        self.adapter, self.status = str(record["adapter"]), str(record["status"])
        self.framework, self.framework_version = str(record.get("framework", "")), str(record.get("framework_version", ""))
        self.message, self.diagnosis = str(record.get("message", "") or ""), str(record.get("diagnosis", "") or "")
        check = record.get("check")
        suffix = "" if not isinstance(check, str) or check in ("", "forward") else f":{check}"
        self.full_id = f"{record['case_file']}::{record['case_id']}[{self.adapter}{suffix}]"


def _dispatch(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.command == "run":
        return _run(args, argv)
    if args.command == "merge":
        return _merge(args)
    if args.command == "fuzz":
        return _fuzz(args)
    if args.command == "support":
        return _support(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "report":
        return _report(args)
    return _adapters()


CRASH_NAME = "tconv-crash.txt"


def _internal_error(error: BaseException, out: Path | None = None) -> int:
    """A bug in tconv: one line, and the traceback in a file to attach to a bug report (in the
    run's `--out` folder when there is one, else a temporary file)."""
    text = "".join(traceback.format_exception(error))
    try:
        if out is not None and out.is_dir():
            handle, name = os.open(out / CRASH_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), str(out / CRASH_NAME)
        else:
            handle, name = tempfile.mkstemp(prefix="tconv-crash-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(f"tconv {__version__}, python {sys.version.split()[0]}\ncommand: {' '.join(sys.argv)}\n\n{text}")
        where = f"traceback saved to {name}"
    except OSError:
        where = "the traceback could not be saved"
    summary = " ".join(f"{type(error).__name__}: {error}".split())[:300]
    print(f"tconv: internal error (a bug in tconv, not in your input): {summary}; {where}; please report it",
          file=sys.stderr)
    return INTERNAL_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args, argv)
    except KeyboardInterrupt as error:  # SIGINT, or SIGTERM (`Terminated`) outside a run's rows
        print(f"tconv: interrupted ({signal_name(error)})", file=sys.stderr)
        return exit_status_for(error)
    except BrokenPipeError:  # `tconv compare ... | head`: the reader left; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    except Exception as error:  # noqa: BLE001 - any other exception is a bug in tconv
        return _internal_error(error, getattr(args, "out", None))
