"""The other `tconv` subcommands: `compare`, `report`, `support`, `fuzz`, `merge`, `bench`,
`adapters`. Each checks its arguments first (exit 2 with one line), then does its work.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from adapters import FRAMEWORKS, all_adapters, select_adapters
from adapters.base import framework_installed, missing_requirements
from harness import cli_checks as checks
from harness.cli_checks import LOG_NAME, BadInput
from harness.cli_parser import BAD_INPUT
from harness.cli_run import shared_keys
from harness.console import Console, printable, stderr_to
from harness.stopping import deferred_signals



def compare(args: argparse.Namespace) -> int:
    from harness.compare import compare_reports, write_comparison

    try:
        base, base_env, _ = checks.read(args.base, "BASE")
        new, new_env, _ = checks.read(args.new, "NEW")
        checks.check_writable(args.csv, "--csv")
        checks.check_writable(args.html, "--html")
    except BadInput as error:
        print(f"tconv: {printable(str(error))}", file=sys.stderr)
        return BAD_INPUT
    if not shared_keys(base, new):
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


def report(args: argparse.Namespace) -> int:
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


def adapters() -> int:

    for adapter in all_adapters():
        missing = missing_requirements(adapter)  # the framework's module, or a converter it requires
        state = f"not installed (needs {', '.join(missing)})" if missing else "installed"
        print(f"{adapter.name:32} {adapter.framework:12} {state}")
    return 0


def support(args: argparse.Namespace) -> int:
    from harness.report import CONTRACT_COLUMNS
    from harness.support import to_markdown

    try:
        frame, env, _ = checks.read(args.report, "REPORT", needed=CONTRACT_COLUMNS)
    except BadInput as error:
        print(f"tconv: {printable(str(error))}", file=sys.stderr)
        return BAD_INPUT
    sys.stdout.write(to_markdown(frame, env, source=str(args.report)))
    return 0


def fuzz(args: argparse.Namespace) -> int:
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

    adapters = [a for a in adapters if not missing_requirements(a)]
    if not adapters:
        print("tconv: no installed adapter selected; check --frameworks/--adapters (`tconv adapters`)",
              file=sys.stderr)
        return BAD_INPUT
    log = args.out / LOG_NAME
    with stderr_to(log):
        status = run_fuzz(adapters, budget=args.budget, seconds=args.time, seed=args.seed, dtypes=args.dtypes,
                          checks=args.checks, special=args.special, large=args.large, known=known, out=args.out,
                          database=Path(".tconv/fuzz-db"), environment=environment(), quiet=args.quiet,
                          plugins=args.plugin or (), log=log, timeout=args.timeout)
    if log.is_file() and not log.stat().st_size:
        log.unlink()
    return status


def merge(args: argparse.Namespace) -> int:
    from harness.merge import MergeError, write_merged
    from harness.report import records

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
    console.summary([_FrameRow(r) for r in records(frame)], paths=paths, warnings=warnings)
    return 0 if not frame["status"].isin(["fail", "error"]).any() else 1


class _FrameRow:
    """A report row read back, with what `Console.summary` reads of a runner row."""

    def __init__(self, record: dict) -> None:
        self.adapter, self.status = str(record["adapter"]), str(record["status"])
        self.framework, self.framework_version = str(record.get("framework", "")), str(record.get("framework_version", ""))
        self.message, self.diagnosis = str(record.get("message", "") or ""), str(record.get("diagnosis", "") or "")
        route = record.get("route")  # the summary lists conversion paths apart (NaN in a CSV: none)
        self.route = route if isinstance(route, str) else ""
        check = record.get("check")
        suffix = "" if not isinstance(check, str) or check in ("", "forward") else f":{check}"
        self.full_id = f"{record['case_file']}::{record['case_id']}[{self.adapter}{suffix}]"


def bench(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from harness.bench import bench, print_bench

    try:
        checks.check_frameworks(args.frameworks, [])
        checks.check_adapter_globs(args.adapters, [])
        checks.check_writable(args.json, "--json")
        if not args.cases.exists():
            raise BadInput(f"--cases {args.cases}: no such file or folder; give case files or a folder of them")
        if "torch" not in (args.frameworks or FRAMEWORKS) or not framework_installed("torch"):
            raise BadInput("tconv bench compares the oracle with PyTorch: install torch and keep it in --frameworks")
    except BadInput as error:
        print(f"tconv: {printable(str(error))}", file=sys.stderr)
        return BAD_INPUT
    adapters = [a for a in select_adapters(frameworks=args.frameworks, names=args.adapters) if not missing_requirements(a)]
    console = Console()
    with stderr_to(Path(tempfile.gettempdir()) / "tconv-bench-frameworks.log"):
        result = bench(adapters, cases_path=args.cases, repeats=args.repeats, suite_seconds=args.suite_seconds,
                       fuzz_seconds=args.fuzz_seconds, threads=args.threads)
    print_bench(result, console.out)
    if args.json is not None:
        args.json.write_text(json.dumps(dataclasses.asdict(result), indent=1), encoding="utf-8")
        console.out.print(f"wrote {args.json}")
    return 0
