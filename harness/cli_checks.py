"""The checks `tconv` makes before it runs anything: each mistake is a `BadInput` whose text is
the one line the command prints after `tconv: `, saying what to do.

Plugins load and their frameworks are known; `--adapters` globs name adapters; the `--known`
table and the `--baseline` report read; case folders hold case files; `--out` is a folder that
takes files; `--csv`/`--html` outputs can be written. A mistake found here costs nothing; found
after a run of minutes it would cost the run.
"""

from __future__ import annotations

import fnmatch
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from adapters import FRAMEWORKS, all_adapters, load_plugin, unknown_frameworks
from adapters.base import Adapter
from harness.casefile import case_files, load_cases
from harness.discrepancies import DEFAULT_TABLE, KnownDiscrepancies, load_discrepancies
from harness.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    import pandas as pd

    from harness.case import Case

LOG_NAME = "frameworks.log"


class BadInput(Exception):
    """A mistake on the command line; `str()` is the line after `tconv: `, saying what to do."""


def load_plugins(paths: Sequence[Path]) -> list[Adapter]:
    plugins: list[Adapter] = []
    for path in paths:
        if not path.is_file():
            raise BadInput(f"--plugin {path}: no such file; give a Python file that defines ADAPTERS")
        try:
            plugins.extend(load_plugin(path))
        except ValueError as error:
            raise BadInput(f"--plugin {error}") from None
        except BaseException as error:  # noqa: BLE001 - the user's code failed (or sys.exit()) on import: their input
            if isinstance(error, KeyboardInterrupt):  # Ctrl-C while it loads
                raise
            where = f" (line {error.lineno})" if isinstance(error, SyntaxError) and error.lineno else ""
            raise BadInput(f"--plugin {path}: importing it failed: {type(error).__name__}: "
                           f"{' '.join(str(error).split())}{where}; fix the file") from None
    return plugins


def check_adapter_globs(patterns: str, plugins: Sequence[Adapter]) -> None:
    """Each `--adapters` glob names at least one adapter tconv knows (built-in, installed or not,
    or a plugin's): a typo is a bad argument. (A glob of another framework than `--frameworks`
    names selects nothing, which the summary says: `--frameworks` wins.)"""
    names = [a.name for a in (*all_adapters(), *plugins)]
    globs = [p.strip() for p in patterns.split(",") if p.strip()]
    if not globs:
        raise BadInput("--adapters is empty; give one or more globs such as 'torch.*,numpy.matrix'")
    for glob in globs:
        if not any(fnmatch.fnmatchcase(n, glob) for n in names):
            raise BadInput(f"--adapters {glob!r} matches no adapter; choose from {', '.join(names)} "
                           "(`tconv adapters` lists them)")


def load_known(path: Path | None) -> KnownDiscrepancies:
    if path is not None and not path.is_file():
        what = "is a folder" if path.is_dir() else "no such file"
        raise BadInput(f"--known {path}: {what}; give a known-discrepancy YAML table, or leave --known out "
                       "for the built-in one")
    try:
        return load_discrepancies(path if path is not None else DEFAULT_TABLE)
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise BadInput(f"--known: {' '.join(str(error).split())}; fix the table (see cases/known_discrepancies.yaml)") \
            from None


def load_baseline(path: Path | None) -> tuple["pd.DataFrame | None", dict[str, str]]:
    if path is None:
        return None, {}
    from harness.report import ReportError, read_report

    try:
        frame, env, _ = read_report(path)
    except ReportError as error:
        raise BadInput(f"--baseline: {error}") from None
    return frame, env


def load_case_files(paths: Sequence[str], *, limits: "Limits | None" = None) -> list["Case"]:
    for path in map(Path, paths):
        if path.is_dir() and not case_files([path]):
            raise BadInput(f"{path}: a folder without case files (*.yaml, *.yml); give case files or folders "
                           "that hold them")
    cases = load_cases(paths, limits=limits or DEFAULT_LIMITS)  # CaseFileError: printed as it is
    if not cases:
        raise BadInput(f"no cases in {', '.join(map(str, paths))}; give case files with a 'cases:' list")
    return cases


def check_out(out: Path, formats: Sequence[str]) -> None:
    """The report folder exists (created now) and takes files: a mistake here must not cost a whole run."""
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} is a file; give a folder (tconv writes report.csv, report.json and "
                       "report.html into it)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInput(f"--out {out}: cannot create the folder ({error.strerror or error}); give a folder you can "
                       "write to") from None
    try:
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise BadInput(f"--out {out}: cannot write in the folder ({error.strerror or error}); give a folder you "
                       "can write to") from None
    for name in [f"report.{f}" for f in dict.fromkeys(formats)] + [LOG_NAME]:
        if (out / name).is_dir():
            raise BadInput(f"--out {out}: {name} there is a folder; remove it or give another --out")


LOCK_NAME = ".tconv.lock"


class OutLock:
    """An exclusive lock on a report folder for the whole run (`fcntl.flock`: released by the
    kernel when the process ends, however it ends), so two runs never mix their files."""

    def __init__(self, out: Path, handle: object) -> None:
        self.out, self.handle = out, handle

    def __enter__(self) -> "OutLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()  # type: ignore[attr-defined]


def lock_out(out: Path) -> OutLock:
    """Lock `--out` or say which run holds it (`BadInput`)."""
    import fcntl
    import os

    handle = open(out / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - held until the run ends
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise BadInput(f"--out {out}: another tconv run ({holder}) is writing its report there; wait for it to "
                       "finish or give another --out") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return OutLock(out, handle)


def check_frameworks(frameworks: Sequence[str] | None, plugins: Sequence[Adapter]) -> None:
    """`--frameworks` names built-in frameworks or those of the loaded plugin adapters; checked
    after the plugins load (argparse cannot know their frameworks), still a bad argument."""
    unknown = unknown_frameworks(frameworks or (), plugins)
    if unknown:
        choices = ", ".join(dict.fromkeys([*FRAMEWORKS, *(a.framework for a in plugins)]))
        raise BadInput(f"error: argument --frameworks: unknown framework(s) {', '.join(unknown)}; "
                       f"choose from {choices}")


def read(path: Path, what: str, **kwargs):  # noqa: ANN003, ANN202
    from harness.report import ReportError, read_report

    try:
        return read_report(path, **kwargs)
    except ReportError as error:
        raise BadInput(f"{what}: {error}") from None


def check_writable(path: Path | None, option: str) -> None:
    if path is None:
        return
    if path.is_dir():
        raise BadInput(f"{option} {path} is a folder; give a file name")
    if path.parent.exists() and not path.parent.is_dir():
        raise BadInput(f"{option} {path}: {path.parent} is a file, not a folder; give another path")
