"""The `tconv` command line: `run`, `compare`, `report`, `adapters`.

Exit statuses (the contract): `run` gives 0 when no row is `fail` or `error`, 1 when some row
is, 2 for bad arguments or case files; `compare` gives 1 when a row got worse. A malformed case
file is one line on stderr naming the file, the case and the field, never a traceback.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from collections.abc import Sequence
from pathlib import Path

from adapters import FRAMEWORKS, all_adapters, load_plugin, missing_frameworks, select_adapters, unknown_frameworks
from adapters.base import Adapter
from harness.casefile import CaseFileError, load_cases
from harness.console import Console
from harness.discrepancies import DEFAULT_TABLE, load_discrepancies


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"tconv: error: {message}\n")


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tconv", description="Conformance harness for transposed convolution.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run case files on the installed frameworks and write a report")
    run.add_argument("paths", nargs="+", metavar="PATH", help="case files or folders of them")
    run.add_argument("--frameworks", type=_frameworks, default=None,
                     help=f"comma-separated, from {','.join(FRAMEWORKS)} or a plugin adapter's framework "
                          "(default: all installed); selects plugin adapters too")
    run.add_argument("--adapters", default="*", metavar="GLOB[,GLOB]",
                     help="only adapters (built-in or plugin) whose name matches one of the globs")
    run.add_argument("--cases", default="*", metavar="GLOB", help="only cases whose file::id matches")
    run.add_argument("--plugin", type=Path, action="append", default=[], metavar="FILE.py",
                     help="also run the ADAPTERS defined in this file (your own implementation); repeatable")
    run.add_argument("--out", type=Path, default=Path("reports/latest"), metavar="DIR",
                     help="folder for report.csv, report.json and report.html (default: reports/latest)")
    run.add_argument("--known", type=Path, default=DEFAULT_TABLE, metavar="YAML",
                     help="known-discrepancy table (default: cases/known_discrepancies.yaml)")
    run.add_argument("--baseline", type=Path, default=None, metavar="CSV",
                     help="also compare with this earlier report; a row that got worse makes the exit status 1")
    run.add_argument("--formats", type=_formats, default=("csv", "json", "html"), metavar="LIST",
                     help="which of csv,json,html to write (default: all three; csv is always written)")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")

    compare = sub.add_parser("compare", help="compare two reports: rows whose status got worse")
    compare.add_argument("base", type=Path, metavar="BASE")
    compare.add_argument("new", type=Path, metavar="NEW")
    compare.add_argument("--csv", type=Path, default=None, help="write the comparison table as CSV")
    compare.add_argument("--html", type=Path, default=None, help="write the comparison as an HTML page")
    compare.add_argument("--quiet", action="store_true", help="only the lines of rows that got worse")

    report = sub.add_parser("report", help="re-render report.html from a saved report.csv or report.json")
    report.add_argument("report", type=Path, metavar="REPORT")
    report.add_argument("--html", type=Path, required=True, metavar="OUT")

    sub.add_parser("adapters", help="list the adapters and whether their framework is installed")
    return parser


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness import runner
    from harness.environment import environment
    from harness.report import write_reports

    console = Console(quiet=args.quiet)
    try:
        plugins = [a for path in args.plugin for a in load_plugin(path)]
        adapters = list(select_adapters(frameworks=args.frameworks, names=args.adapters, plugins=plugins))
        _check_frameworks(args.frameworks, plugins)
        cases = load_cases(args.paths)
        known = load_discrepancies(args.known)
    except (CaseFileError, ValueError, OSError, ImportError) as error:
        print(f"tconv: {error}", file=sys.stderr)
        return 2
    cases = [c for c in cases if fnmatch.fnmatchcase(c.full_id, args.cases)]
    missing = missing_frameworks(args.frameworks)
    with console.progress(total=len(cases) * (len(adapters) + 1)) as advance:
        result = runner.run(cases, adapters, discrepancies=known, missing_frameworks=missing, on_row=advance)
    warnings = [f"framework not installed, its adapters left out: {f}" for f in missing]
    warnings += [f"stale known-discrepancy entry (matched no row): {s}" for s in result.stale]
    comparison = None
    if args.baseline is not None:
        from harness.compare import compare_reports
        from harness.report import read_report, rows_frame

        base, base_env, _ = read_report(args.baseline)
        comparison = compare_reports(base, rows_frame(result.rows), base_environment=base_env,
                                     new_environment=environment(), only_new_adapters=True)
        warnings += comparison.warnings()
    summary = {"counts": _counts(result.rows), "warnings": warnings, "cases": len(cases),
               "adapters": [a.name for a in adapters]}
    paths = write_reports(args.out, result.rows, environment(["tconv", *argv]), summary=summary,
                          formats=args.formats)
    console.summary(result.rows, paths=paths, warnings=warnings)
    if comparison is not None:
        console.comparison(comparison)
        if not comparison.worse.empty:
            return 1
    return 0 if result.ok else 1


def _check_frameworks(frameworks: Sequence[str] | None, plugins: Sequence[Adapter]) -> None:
    """`--frameworks` names built-in frameworks or those of the loaded plugin adapters; checked
    after the plugins load (argparse cannot know their frameworks), still a bad argument."""
    unknown = unknown_frameworks(frameworks or (), plugins)
    if unknown:
        choices = ", ".join(dict.fromkeys([*FRAMEWORKS, *(a.framework for a in plugins)]))
        raise ValueError(f"error: argument --frameworks: unknown framework(s) {', '.join(unknown)}; "
                         f"choose from {choices}")


def _counts(rows: Sequence[object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1  # type: ignore[attr-defined]
    return counts


def _compare(args: argparse.Namespace) -> int:
    from harness.compare import compare_reports, write_comparison
    from harness.report import read_report

    try:
        base, base_env, _ = read_report(args.base)
        new, new_env, _ = read_report(args.new)
    except (OSError, ValueError, KeyError) as error:
        print(f"tconv: cannot read report: {error}", file=sys.stderr)
        return 2
    comparison = compare_reports(base, new, base_environment=base_env, new_environment=new_env)
    for line in comparison.worse_lines():
        print(line)
    console = Console(quiet=args.quiet)
    console.comparison(comparison, show_worse=False)
    if args.csv or args.html:
        write_comparison(comparison, csv=args.csv, html=args.html)
    return 1 if not comparison.worse.empty else 0


def _report(args: argparse.Namespace) -> int:
    from harness.html import render_html
    from harness.report import read_report

    try:
        frame, env, plots = read_report(args.report)
    except (OSError, ValueError, KeyError) as error:
        print(f"tconv: cannot read report: {error}", file=sys.stderr)
        return 2
    args.html.parent.mkdir(parents=True, exist_ok=True)
    args.html.write_text(render_html(frame, env, plots=plots), encoding="utf-8")
    print(f"wrote {args.html}")
    return 0


def _adapters() -> int:
    from adapters.base import framework_installed

    for adapter in all_adapters():
        state = "installed" if framework_installed(adapter.framework) else "not installed"
        print(f"{adapter.name:32} {adapter.framework:12} {state}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return _run(args, argv)
    if args.command == "compare":
        return _compare(args)
    if args.command == "report":
        return _report(args)
    return _adapters()
