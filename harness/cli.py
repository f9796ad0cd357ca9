"""The `tconv` command line: `run`, `merge`, `compare`, `report`, `support`, `fuzz`, `bench`, `adapters`.

Exit statuses (the contract): 0 clean; 1 when a row is `fail` or `error` (`run`) or got worse
(`compare`, `run --baseline`); 2 for bad input: arguments, case files, reports, each one line
`tconv: ...` on stderr that says what to do (a case file with several problems lists them all,
one line each), never a traceback; 3 for a failure of tconv itself (one line, the traceback
saved to a file: `DIR/tconv-crash.txt` for a run); 130 when interrupted (143 on SIGTERM).

The grammar is `harness.cli_parser`, the checks `harness.cli_checks`, `tconv run`
`harness.cli_run`, the other subcommands `harness.cli_commands`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from harness import __version__
from harness import cli_commands as commands
from harness.cli_parser import BROKEN_PIPE, INTERNAL_ERROR, build_parser
from harness.cli_run import run_command
from harness.stopping import exit_status_for, signal_name

__all__ = ["build_parser", "main"]


def _dispatch(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.command == "run":
        return run_command(args, argv)
    if args.command == "bench":
        return commands.bench(args)
    if args.command == "merge":
        return commands.merge(args)
    if args.command == "fuzz":
        return commands.fuzz(args)
    if args.command == "support":
        return commands.support(args)
    if args.command == "compare":
        return commands.compare(args)
    if args.command == "report":
        return commands.report(args)
    return commands.adapters()


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
