"""Terminal output: a progress bar while running, then a short summary table (rich).

The bar says what it is doing (`importing tensorflow...`, then the case that runs) and counts
the rows the run will really produce. On a terminal, failure lines are cut to its width (the
full text is in the report). `--quiet` turns the bar and the tables off (for CI logs); the exit
status and the report files are the same.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console as RichConsole
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from harness.compare import Comparison
    from harness.runner import Row

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` safe for a terminal: control characters (an escape sequence in a case id could
    move the cursor, retitle the window or hide text) shown as `\\x1b`-style escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _markup(text: object) -> str:
    """User-supplied text inside rich markup: control characters shown, brackets escaped."""
    return escape(printable(str(text)))


STATUS_STYLE = {"pass": "green", "fail": "bold red", "error": "bold yellow", "unsupported": "dim",
                "xfail": "magenta", "xpass": "yellow"}
STATUSES = tuple(STATUS_STYLE)
HEADERS = {"unsupported": "unsup."}


@contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send what is written to file descriptor 2 (TensorFlow's and XLA's C++ logs, Python
    warnings) to `path` instead of the terminal, where it would land inside the progress bar;
    fd 2 is restored afterwards, also on an exception. A process without an fd 2 runs as is."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        path.write_bytes(b"")
        with open(path, "ab") as log:  # appending: the workers write into the same file
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                try:
                    sys.stderr.flush()
                except (OSError, ValueError):
                    pass
                os.dup2(saved, 2)
    finally:
        os.close(saved)


class Bar:
    """The running bar's handle: `phase(text)` says what is going on, `advance(row)` counts a row.
    Without a bar (quiet, nothing to run) both do nothing."""

    def __init__(self, progress: Progress | None = None, task: TaskID | None = None) -> None:
        self._progress, self._task = progress, task
        self.advanced = 0

    def phase(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=escape(printable(text)))

    def advance(self, row: "Row | None" = None) -> None:
        self.advanced += 1
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1)


class Console:
    """What `tconv` prints; silent but for failures and warnings when quiet."""

    def __init__(self, *, quiet: bool = False, console: RichConsole | None = None) -> None:
        self.quiet = quiet
        self.out = console if console is not None else RichConsole(highlight=False)

    @contextmanager
    def progress(self, *, total: int) -> Iterator[Bar]:
        """A progress bar over `total` rows; yields its `Bar` (phase text, advance per row)."""
        if self.quiet or total == 0:
            yield Bar()
            return
        columns = (TextColumn("[bold]tconv run"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"))
        with Progress(*columns, console=self.out, transient=True) as bar:
            yield Bar(bar, bar.add_task("starting...", total=total))

    def _row_line(self, status: str, text: str) -> bool:
        """One failure line; on a terminal cut to its width (True when cut)."""
        text = printable(text)
        line = f"[{STATUS_STYLE[status]}]{status}[/] {escape(text)}"
        if not self.out.is_terminal:
            self.out.print(line, soft_wrap=True)
            return False
        self.out.print(line, no_wrap=True, overflow="ellipsis", crop=True)
        return cell_len(status) + 1 + cell_len(text) > self.out.width

    def summary(self, rows: Sequence["Row"], *, paths: Mapping[str, Path], warnings: Sequence[str],
                log: Path | None = None) -> None:
        """Counts per adapter and status, the failing rows, warnings, the frameworks' own log
        (what they wrote to stderr during the run, kept out of the bar) and where the report is."""
        counts = Counter((r.adapter, r.status) for r in rows)
        if not self.quiet:
            table = Table(title="tconv: rows per adapter and status", box=box.SIMPLE_HEAD, pad_edge=False)
            table.add_column("adapter", no_wrap=True)
            for status in STATUSES:
                table.add_column(HEADERS.get(status, status), justify="right", style=STATUS_STYLE[status], no_wrap=True)
            routes = {r.adapter: r.route for r in rows}
            adapters = list(dict.fromkeys(r.adapter for r in rows))
            for adapter in [a for a in adapters if not routes[a]]:  # native runtimes first, conversion paths apart
                table.add_row(escape(printable(adapter)), *(str(counts[(adapter, s)] or "") for s in STATUSES))
            converted = [a for a in adapters if routes[a]]
            if converted:
                table.add_section()
                for adapter in converted:
                    table.add_row(escape(printable(adapter)) + " [dim](conversion)[/]",
                                  *(str(counts[(adapter, s)] or "") for s in STATUSES))
            self.out.print(table)
            versions = dict.fromkeys(f"{r.framework} {r.framework_version}" for r in rows if r.adapter != "oracle")
            self.out.print(f"versions: {escape(printable(', '.join(versions)))}", soft_wrap=True)
        bad = [r for r in rows if r.status in ("fail", "error")]
        cut = False
        for row in bad[:40]:
            detail = f" ({row.diagnosis})" if row.diagnosis else ""
            cut |= self._row_line(row.status, " ".join(f"{row.full_id}: {row.message}{detail}".split()))
        if len(bad) > 40:
            self.out.print(f"... and {len(bad) - 40} more failing rows, see the report")
        elif cut:
            self.out.print("(cut to fit the terminal; full text in the report)")
        for warning in warnings:
            self.out.print(f"[yellow]warning:[/] {escape(printable(warning))}", soft_wrap=True)
        total = Counter(r.status for r in rows)
        line = ", ".join(f"{total[s]} {s}" for s in STATUSES if total[s])
        self.out.print(f"{len(rows)} rows: {line or 'none'}")
        if log is not None:
            lines = len(log.read_text(encoding="utf-8", errors="replace").splitlines())
            self.out.print(f"framework log: {lines} line{'s' if lines != 1 else ''} the frameworks wrote to stderr, "
                           f"in {escape(str(log))}", soft_wrap=True)
        report = paths.get("html") or paths.get("csv")
        self.out.print(f"report: {escape(str(report))}")

    def comparison(self, comparison: "Comparison", *, show_worse: bool = True) -> None:
        """Platforms and versions on each side, a table of the rows that changed, and the warnings.
        A platform difference is said first: it explains status changes before versions do."""
        if comparison.platform_differs:
            self.out.print("[bold yellow]platforms differ[/]: " + _markup("; ".join(
                f"{name} {old} -> {new}" for name, old, new in comparison.platforms if old != new)), soft_wrap=True)
        if show_worse:
            for line in comparison.worse_lines():
                self.out.print(f"[bold red]worse[/] {_markup(line)}", soft_wrap=True)
        if self.quiet:
            return
        versions = Table(title="tconv compare: framework versions")
        for column in ("framework", "base", "new"):
            versions.add_column(column)
        for name, old, new in comparison.versions:
            versions.add_row(name, old, new, style="yellow" if old != new else None)
        self.out.print(versions)
        if comparison.platforms:
            platforms = Table(title="tconv compare: platforms")
            for column in ("fact", "base", "new"):
                platforms.add_column(column, overflow="fold")
            for name, old, new in comparison.platforms:
                platforms.add_row(_markup(name), _markup(old), _markup(new), style="yellow" if old != new else None)
            self.out.print(platforms)
        changed = comparison.changed_rows()
        if changed:
            table = Table(title=f"tconv compare: rows that changed ({len(changed)})")
            table.add_column("row", overflow="fold")
            for column in ("base", "new", "ratio base", "ratio new", "change"):
                table.add_column(column, no_wrap=True)
            for row in changed[:60]:
                style = "bold red" if row[-1] == "worse" else None
                table.add_row(*(_markup(str(v)) for v in row), style=style)
            self.out.print(table)
            if len(changed) > 60:
                self.out.print(f"... and {len(changed) - 60} more (--csv writes them all)")
        for warning in comparison.warnings():
            self.out.print(f"[yellow]warning:[/] {_markup(warning)}", soft_wrap=True)
        self.out.print(f"{len(comparison.worse)} rows got worse, {len(comparison.grew)} passing rows' "
                       f"error grew more than {comparison.growth_limit:g}x, {len(comparison.appeared)} appeared, "
                       f"{len(comparison.vanished)} vanished")
