"""The `tconv` command line's grammar: subcommands, options and the parsing of their values.

Every value is checked here or in `harness.cli_checks` before any row runs; a bad one is exit 2
with argparse's usage line and one `tconv: error: ...` line that says what to give instead.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from adapters import FRAMEWORKS
from harness import __version__
from harness.dtypes import DTYPE_NAMES
from harness.schema import CHECK_NAMES
from harness.workers import DEFAULT_TIMEOUT, FUZZ_TIMEOUT

# Framework families at once by default: one per CPU this process may use (each family's kernels
# use threads of their own, so more than the CPUs only adds contention), at most 4 (memory).
DEFAULT_JOBS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
BAD_INPUT = 2
INTERNAL_ERROR = 3  # a failure of tconv itself: never 0, 1 (rows) or 2 (input)
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


def _positive_finite(text: str, what: str) -> float:
    """A number above 0 and below infinity (`--timeout`, `--max-work`); `what` names it in errors."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive, finite number")
    return value


def _seconds(text: str) -> float:
    return _positive_finite(text, "a number of seconds")


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
    return int(_positive_finite(text, "a number such as 2e10"))


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
    run.add_argument("--jobs", type=_positive, default=DEFAULT_JOBS, metavar="N",
                     help=f"framework families run in N worker processes at once (default: the CPUs this process "
                          f"may use, at most 4; here {DEFAULT_JOBS}); the report is the same as with --jobs 1")
    run.add_argument("--no-cache", action="store_true",
                     help="convert every model and compile every JAX shape afresh: leave tconv's cache folder "
                          "($TCONV_CACHE_DIR, else ~/.cache/tconv) alone (the report is the same either way)")
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
    fuzz.add_argument("--timeout", type=_seconds, default=FUZZ_TIMEOUT, metavar="S",
                      help=f"an adapter that runs one drawn layer longer is killed, and its rows are an error "
                           f"finding (default {FUZZ_TIMEOUT:g} s; hypothesis replays a hang while it shrinks it)")
    fuzz.add_argument("--special", action="store_true", help="also put inf, NaN, huge and subnormal values in the data")
    fuzz.add_argument("--large", action="store_true",
                      help="kernel sizes up to 12, or one wide axis a layer: channel counts across SIMD block "
                           "sizes (8-33 per group), a width across unrolling blocks (7-33) or a batch of 3-17 "
                           "(default: kernels up to 4, 1-3 channels per group, 1-6 positions a dim, batch 0-2: "
                           "small and fast)")
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

    bench = sub.add_parser("bench", help="time the oracle, the adapters, the built-in suite and the fuzzer here",
                           description="Measure, in one process: the oracle against PyTorch's float64 kernel on three "
                                       "workloads, every installed adapter on them, rows per second of the built-in "
                                       "suite and fuzz examples per second per framework, and the peak memory.",
                           epilog=EPILOG)
    bench.add_argument("--frameworks", type=_frameworks, default=None, metavar="LIST",
                       help="comma-separated frameworks whose adapters are timed (default: all installed)")
    bench.add_argument("--adapters", default="*", metavar="GLOB[,GLOB]",
                       help="only adapters whose name matches one of the globs (default: all of those frameworks)")
    bench.add_argument("--repeats", type=_positive, default=5, metavar="N", help="timed runs per measurement (median)")
    bench.add_argument("--threads", type=_positive, default=2, metavar="N", help="threads for NumPy and PyTorch")
    bench.add_argument("--cases", type=Path, default=Path("cases"), metavar="PATH",
                       help="the case files whose rows per second are measured (default: cases)")
    bench.add_argument("--suite-seconds", type=float, default=20.0, metavar="S",
                       help="time budget per framework for the suite's rows per second (0 skips it)")
    bench.add_argument("--fuzz-seconds", type=float, default=10.0, metavar="S",
                       help="time budget per framework for fuzz examples per second (0 skips it)")
    bench.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the figures as JSON")

    sub.add_parser("adapters", help="list the adapters and whether their framework is installed",
                   description="List every adapter, its framework and whether that framework is installed.")
    return parser


