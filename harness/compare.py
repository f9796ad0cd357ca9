"""Comparing two reports: did any answer get worse when framework versions changed?

Rows are matched on (`case_file`, `case_id`, `adapter`). Worse (the contract): a row that was
`pass`, `xfail`, `xpass` or `unsupported` is now `fail` or `error`, or `pass` is now
`unsupported`. Warnings only: rows that appeared or vanished, and passing rows whose
error-to-tolerance ratio grew more than `growth_limit` times (ratios under `RATIO_FLOOR` count
as the floor, so exact zeros turning into rounding noise are not reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.report import KEY, environment_of, records

WAS_FINE = {"pass", "xfail", "xpass", "unsupported"}
BAD = {"fail", "error"}
RATIO_FLOOR = 0.01


def got_worse(before: str, after: str) -> bool:
    """The contract's rule for a status change that fails a comparison."""
    return (before in WAS_FINE and after in BAD) or (before == "pass" and after == "unsupported")


@dataclass
class Comparison:
    """The matched table and the rows worth naming."""

    table: pd.DataFrame
    worse: pd.DataFrame
    grew: pd.DataFrame
    appeared: pd.DataFrame
    vanished: pd.DataFrame
    versions: list[tuple[str, str, str]] = field(default_factory=list)
    platforms: list[tuple[str, str, str]] = field(default_factory=list)
    growth_limit: float = 2.0
    base_environment: dict[str, str] = field(default_factory=dict)  # each side's environment header (the HTML page)
    new_environment: dict[str, str] = field(default_factory=dict)

    @property
    def platform_differs(self) -> bool:
        """The two reports were made on CPUs or compute paths that pick other kernels: status
        changes may be platform differences, which platform-conditioned entries turn to xfail."""
        return any(old != new for _, old, new in self.platforms)

    def platform_lines(self) -> list[str]:
        lines = [f"{name}: {old} -> {new}" if old != new else f"{name}: {old}" for name, old, new in self.platforms]
        if self.platform_differs:
            lines.insert(0, "the reports were made on different platforms (CPU features or compute paths differ)")
        return lines

    def worse_lines(self) -> list[str]:
        return [f"{r.case_file}::{r.case_id}[{r.adapter}{'' if r.check == 'forward' else ':' + r.check}]: "
                f"{r.status_base} -> {r.status_new}"
                + (f" ({r.message_new})" if r.message_new else "")
                for r in self.worse.itertuples()]

    def changed_rows(self) -> list[tuple[str, str, str, str, str, str]]:
        """Rows whose status changed or whose passing error grew: (row, base, new, ratios, change), worst first."""
        def ratio(value: float) -> str:
            return "" if pd.isna(value) else f"{value:.3g}"

        grew = set(map(tuple, self.grew[KEY].itertuples(index=False)))
        worse = set(map(tuple, self.worse[KEY].itertuples(index=False)))
        both = self.table.dropna(subset=["status_base", "status_new"])
        rows = []
        for r in both.itertuples():
            key = (r.case_file, r.case_id, r.adapter)
            if r.status_base == r.status_new and key not in grew:
                continue
            change = "worse" if key in worse else "error grew" if key in grew else "changed"
            rows.append((f"{r.case_file}::{r.case_id}[{r.adapter}]", str(r.status_base), str(r.status_new),
                         ratio(r.tol_ratio_base), ratio(r.tol_ratio_new), change))
        order = {"worse": 0, "error grew": 1, "changed": 2}
        return sorted(rows, key=lambda row: order[row[-1]])

    def version_lines(self) -> list[str]:
        return [f"{name}: {old} -> {new}" if old != new else f"{name}: {old}" for name, old, new in self.versions]

    def warnings(self) -> list[str]:
        lines = [f"error grew {r.tol_ratio_new / max(r.tol_ratio_base, RATIO_FLOOR):.3g}x (still passing): "
                 f"{r.case_file}::{r.case_id}[{r.adapter}] ratio {r.tol_ratio_base:.3g} -> {r.tol_ratio_new:.3g}"
                 for r in self.grew.itertuples()]
        lines += _listed("appeared", self.appeared, "status_new")
        lines += _listed("vanished", self.vanished, "status_base")
        return lines


LISTED_ROWS = 20


def _listed(what: str, rows: pd.DataFrame, status: str) -> list[str]:
    """One warning per row, or per adapter with a count when there are many."""
    if len(rows) <= LISTED_ROWS:
        return [f"row {what}: {r.case_file}::{r.case_id}[{r.adapter}] ({getattr(r, status)})" for r in rows.itertuples()]
    return [f"{len(group)} rows {what} for adapter {adapter} (e.g. {group.case_file.iloc[0]}::{group.case_id.iloc[0]})"
            for adapter, group in rows.groupby("adapter")]


def _versions(base: pd.DataFrame, new: pd.DataFrame, base_env: dict[str, str], new_env: dict[str, str]) -> list[tuple[str, str, str]]:
    """Framework versions per side, from the rows (what ran), else the environment header."""
    def per_framework(frame: pd.DataFrame) -> dict[str, str]:
        if frame.empty or "framework_version" not in frame:
            return {}
        grouped = frame[frame["adapter"] != "oracle"].groupby("framework")["framework_version"]
        return {k: ",".join(sorted(set(map(str, v)))) for k, v in grouped}

    old, cur = per_framework(base), per_framework(new)
    for key, value in base_env.items():
        if key.startswith("version_"):
            old.setdefault(key.removeprefix("version_"), value)
    for key, value in new_env.items():
        if key.startswith("version_"):
            cur.setdefault(key.removeprefix("version_"), value)
    return [(name, old.get(name, "-"), cur.get(name, "-")) for name in sorted(set(old) | set(cur))]


# Environment keys that change which kernels frameworks pick (see harness.machine).
PLATFORM_KEYS = ("cpu_vendor", "cpu", "cpu_isa", "path_tensorflow", "path_torch")


def _platforms(base_env: dict[str, str], new_env: dict[str, str]) -> list[tuple[str, str, str]]:
    """Each side's platform facts (`-` where a report predates them), switches included."""
    keys = list(PLATFORM_KEYS) + sorted({k for k in (*base_env, *new_env) if k.startswith("switch_")})
    return [(k, base_env.get(k, "-"), new_env.get(k, "-")) for k in keys if k in base_env or k in new_env]


def _with_check(frame: pd.DataFrame) -> pd.DataFrame:
    """Reports from before gradient checks have no `check` column: all their rows are forward rows."""
    if "check" not in frame:
        return frame.assign(check="forward")
    return frame.assign(check=frame["check"].astype(object).where(frame["check"].notna(), "forward"))


def compare_reports(base: pd.DataFrame, new: pd.DataFrame, *, base_environment: dict[str, str] | None = None,
                    new_environment: dict[str, str] | None = None, growth_limit: float = 2.0,
                    only_new_adapters: bool = False) -> Comparison:
    """Match two report tables and find the rows that got worse (and the warnings).

    `only_new_adapters` leaves out base rows of adapters the new run did not run (a run of one
    framework against a baseline of all), so they are not reported as vanished.
    """
    if only_new_adapters:
        base = base[base["adapter"].isin(set(new["adapter"]))]
    base_environment = dict(base_environment or environment_of(base))
    new_environment = dict(new_environment or environment_of(new))
    columns = KEY + ["status", "tol_ratio", "message", "framework_version"]
    left, right = (_with_check(frame).reindex(columns=columns).astype(
        {"case_file": str, "case_id": str, "adapter": str, "check": str}) for frame in (base, new))
    table = left.merge(right, on=KEY, how="outer", suffixes=("_base", "_new"), indicator=True)
    for side in ("base", "new"):
        table[f"tol_ratio_{side}"] = pd.to_numeric(table[f"tol_ratio_{side}"], errors="coerce")
        table[f"message_{side}"] = table[f"message_{side}"].fillna("").astype(str)
    both = table[table["_merge"] == "both"]
    worse_mask = [got_worse(str(b), str(n)) for b, n in zip(both["status_base"], both["status_new"])]
    worse = both[pd.Series(worse_mask, index=both.index, dtype=bool)]
    passing = both[(both["status_base"] == "pass") & (both["status_new"] == "pass")]
    grew = passing[passing["tol_ratio_new"] > growth_limit * passing["tol_ratio_base"].clip(lower=RATIO_FLOOR)]
    return Comparison(
        table=table.drop(columns="_merge"),
        worse=worse,
        grew=grew,
        appeared=table[table["_merge"] == "right_only"],
        vanished=table[table["_merge"] == "left_only"],
        versions=_versions(base, new, base_environment, new_environment),
        platforms=_platforms(base_environment, new_environment),
        growth_limit=growth_limit,
        base_environment=base_environment,
        new_environment=new_environment,
    )


CHANGE_ORDER = {"worse": 0, "error grew": 1, "changed": 2, "appeared": 3, "vanished": 4, "same": 5}
MAX_PAGE_ROWS = 3000  # changed rows on the HTML page; the CSV has them all


def _change_table(comparison: Comparison) -> pd.DataFrame:
    """The matched table with a `change` column: worse, error grew, changed, appeared, vanished, same."""
    table = comparison.table.copy()
    worse_keys = set(map(tuple, comparison.worse[KEY].itertuples(index=False)))
    grew_keys = set(map(tuple, comparison.grew[KEY].itertuples(index=False)))
    table["change"] = [
        "worse" if key in worse_keys else "error grew" if key in grew_keys
        else "appeared" if pd.isna(sb) else "vanished" if pd.isna(sn) else "same" if sb == sn else "changed"
        for key, sb, sn in zip(map(tuple, table[KEY].itertuples(index=False)), table["status_base"],
                               table["status_new"])
    ]
    return table


def _status_counts(comparison: Comparison) -> str:
    """Per adapter and status, the rows on each side (`24 -> 0`), worse counts marked."""
    from harness.html import STATUS_ORDER, _e

    table = comparison.table
    base = table.dropna(subset=["status_base"]).groupby(["adapter", "status_base"]).size()
    new = table.dropna(subset=["status_new"]).groupby(["adapter", "status_new"]).size()
    present = {str(s) for s in (*table["status_base"].dropna(), *table["status_new"].dropna())}
    statuses = [s for s in STATUS_ORDER if s in present] + sorted(present - set(STATUS_ORDER))
    head = "".join(f"<th>{_e(s)}</th>" for s in statuses)
    body = []
    for adapter in sorted(set(map(str, table["adapter"]))):
        cells = []
        for status in statuses:
            old, cur = int(base.get((adapter, status), 0)), int(new.get((adapter, status), 0))
            bad = status in BAD and cur > old or status == "pass" and cur < old
            css = "worse" if bad else "differs" if old != cur else (status if cur else "none")
            cells.append(f'<td class="{_e(css)}">{old if old == cur else f"{old} &rarr; {cur}"}</td>')
        body.append(f"<tr><td>{_e(adapter)}</td>{''.join(cells)}</tr>")
    return (f'<div class="tablewrap"><table id="counts" class="sticky1"><thead><tr><th>adapter</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _changed_rows_html(table: pd.DataFrame) -> str:
    from harness.html import _e, ratio_text

    rows = table[table["change"] != "same"]
    rows = rows.iloc[rows["change"].map(CHANGE_ORDER).reset_index(drop=True).sort_values(kind="stable").index]
    if rows.empty:
        return "<p>No row changed status and no passing row's error grew.</p>"
    body = []
    for r in records(rows.head(MAX_PAGE_ROWS)):
        check = "" if str(r.get("check", "forward")) in ("forward", "", "nan") else f":{r['check']}"
        key = f"{r['case_file']}::{r['case_id']}[{r['adapter']}{check}]"
        base, new = ("" if pd.isna(r[c]) else str(r[c]) for c in ("status_base", "status_new"))
        message = r["message_new"] if new else r["message_base"]
        body.append(
            f'<tr><td>{_e(key)}</td><td class="{"worse" if r["change"] == "worse" else ""}">{_e(r["change"])}</td>'
            f'<td class="{_e(base) or "none"}">{_e(base) or "-"}</td>'
            f'<td class="{_e(new) or "none"}">{_e(new) or "-"}</td>'
            f'<td>{_e(ratio_text(r["tol_ratio_base"]))}</td><td>{_e(ratio_text(r["tol_ratio_new"]))}</td>'
            f'<td class="wrap">{_e(message)}</td></tr>')
    more = (f'<p class="small">{len(rows) - MAX_PAGE_ROWS} more changed rows are in the CSV (--csv).</p>'
            if len(rows) > MAX_PAGE_ROWS else "")
    return ('<div class="tablewrap"><table id="changed" class="sticky1"><thead><tr><th>row</th><th>change</th>'
            "<th>base</th><th>new</th><th>base ratio</th><th>new ratio</th><th>message</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>{more}")


def _environments_html(base: dict[str, str], new: dict[str, str]) -> str:
    """Both sides' environment headers side by side, the keys that differ marked."""
    from harness.html import _e

    keys = list(dict.fromkeys([*base, *new]))
    body = []
    for key in keys:
        old, cur = base.get(key, "-"), new.get(key, "-")
        css = ' class="differs"' if old != cur else ""
        body.append(f'<tr{css}><th>{_e(key)}</th><td class="wrap">{_e(old)}</td><td class="wrap">{_e(cur)}</td></tr>')
    return ('<div class="tablewrap"><table id="environments"><thead><tr><th>key</th><th>base</th><th>new</th></tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table></div>")


def render_comparison(comparison: Comparison) -> str:
    """The comparison as a page with the run page's look (`harness.html`): the verdict, the
    platform warning, the warnings, rows per adapter and status on both sides, the changed rows
    (worse first) and both sides' environments."""
    from harness.html import _e, page

    table = _change_table(comparison)
    worse = len(comparison.worse)
    matched = int((table["change"].isin(["worse", "error grew", "changed", "same"])).sum())
    if worse:
        text = f"FAIL: {worse} rows got worse (of {matched} matched)"
        verdict = f'<div class="verdict bad" id="verdict">{_e(text)}</div>'
    else:
        verdict = f'<div class="verdict ok" id="verdict">{_e(f"PASS: no row got worse ({matched} matched)")}</div>'
    platform = ('<div class="warn">' + _e("; ".join(comparison.platform_lines())) + "</div>"
                if comparison.platform_differs else "")
    warnings = comparison.warnings()
    warning_list = ("<ul>" + "".join(f'<li class="wrap">{_e(w)}</li>' for w in warnings) + "</ul>") if warnings \
        else "<p>None.</p>"
    sides = "".join(
        f'<div><b>{name}</b>: <span class="small head">{_e(env.get("time", "-"))} &middot; '
        f'{_e(env.get("command", "-"))}</span></div>'
        for name, env in (("base", comparison.base_environment), ("new", comparison.new_environment)))
    body = (f'<h1>tconv compare</h1><div class="sides">{sides}</div>{verdict}{platform}'
            f"<h2>Rows per adapter and status</h2><p class=\"small\">base &rarr; new where they differ.</p>"
            f"{_status_counts(comparison)}"
            f"<h2>Changed rows</h2>{_changed_rows_html(table)}"
            f"<h2>Warnings</h2>{warning_list}"
            f"<h2>Environments</h2>{_environments_html(comparison.base_environment, comparison.new_environment)}")
    return page("tconv compare", body)


def write_comparison(comparison: Comparison, *, csv: Path | None = None, html: Path | None = None) -> None:
    """The comparison as a CSV table (one row per matched key) and/or an HTML page with the run page's look."""
    table = _change_table(comparison)
    if csv is not None:
        csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(csv, index=False)
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_comparison(comparison), encoding="utf-8")
