"""`tconv fuzz` on the terminal and on disk: the progress bar, the findings' case files, an HTML
list of them, and examples per second per framework.

Exit status: 0 when the run found nothing the known-discrepancy table does not explain, 1 when
it found something (each finding is a case file under `--out`), as `tconv run` does for rows.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console as RichConsole
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters.base import Adapter
from harness.discrepancies import KnownDiscrepancies
from harness.fuzz import Finding, IsolatedRows, Stats, fuzz, write_finding
from harness.workers import FUZZ_TIMEOUT

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>tconv fuzz findings</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:80em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}th{{background:#f4f4f4}}
code{{font-size:90%}}</style></head><body>
<h1>tconv fuzz: {count} finding(s)</h1><p>{summary}</p>
<table><tr><th>adapter</th><th>check</th><th>mechanism</th><th>case (shrunk)</th><th>message</th><th>file</th></tr>
{rows}</table></body></html>
"""


def findings_page(findings: Sequence[tuple[Finding, Path]], summary: str) -> str:
    """One row per finding: who, what, the shrunk case's parameters, and its case file."""
    rows = []
    for finding, path in findings:
        adapter, check, kind = finding.key
        params = ", ".join(f"{k}={v}" for k, v in finding.row.params.items() if v not in ("", "no"))
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in
                                     (adapter, check, kind, params, finding.row.message[:300]))
                    + f'<td><a href="{html.escape(path.name)}"><code>{html.escape(path.name)}</code></a></td></tr>')
    return PAGE.format(count=len(findings), summary=html.escape(summary), rows="\n".join(rows))


def run_fuzz(adapters: Sequence[Adapter], *, budget: int, seconds: float | None, seed: int, dtypes: tuple[str, ...],
             checks: tuple[str, ...], known: KnownDiscrepancies, out: Path, database: Path | None,
             environment: dict[str, str], special: bool = False, large: bool = False, quiet: bool = False,
             plugins: Sequence[Path] = (), log: Path | None = None, timeout: float = FUZZ_TIMEOUT) -> int:
    """Fuzz with the adapters in worker processes (a crash is a finding, not the end of the run),
    write what was found, print the summary; the exit status."""
    console = RichConsole(highlight=False, stderr=False)
    started = time.monotonic()
    columns = [TextColumn("fuzz"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[found]} finding(s)"),
               TimeElapsedColumn()]
    with Progress(*columns, console=console, disable=quiet, transient=True) as progress:
        task = progress.add_task("fuzz", total=budget, found=0)

        def on_example(stats: Stats) -> None:
            progress.update(task, completed=min(stats.examples, budget), found=len(stats.findings))

        isolated = IsolatedRows(plugins=plugins, log=log, timeout=timeout)
        try:
            stats = fuzz(adapters, budget=budget, seconds=seconds, seed=seed, dtypes=dtypes, checks=checks,
                         known=known, special=special, large=large, database=database, on_example=on_example,
                         isolated=isolated)
        finally:
            isolated.close()
    elapsed = time.monotonic() - started
    written = [(finding, write_finding(finding, out, environment=environment)) for finding in stats.findings.values()]
    summary = (f"{stats.examples} examples (shrinking included) in {elapsed:.0f} s, seed {seed}, dtypes "
               f"{', '.join(dtypes)}, checks {', '.join(checks)}; {len(written)} finding(s) not explained by the "
               "known-discrepancy table")
    if written:
        out.mkdir(parents=True, exist_ok=True)
        (out / "findings.html").write_text(findings_page(written, summary), encoding="utf-8")
    table = Table(title="examples/s per framework (its adapters alone)", box=None, title_justify="left")
    table.add_column("framework")
    table.add_column("examples/s", justify="right")
    for framework, rate in stats.rates().items():
        table.add_row(framework, f"{rate:.1f}")
    if not quiet:
        console.print(table)
    console.print(summary)
    for finding, path in written:
        adapter, check, kind = finding.key
        console.print(f"finding: {adapter}{'' if check == 'forward' else ':' + check}: {kind} -> {path}",
                      markup=False)
    return 1 if written else 0
