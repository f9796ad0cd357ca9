"""Comparing two reports: did any answer get worse when framework versions changed?

Rows are matched on (`case_file`, `case_id`, `adapter`). Worse (the contract): a row that was
`pass`, `xfail`, `xpass` or `unsupported` is now `fail` or `error`, or `pass` is now
`unsupported`. Warnings only: rows that appeared or vanished, and passing rows whose
error-to-tolerance ratio grew more than `growth_limit` times (ratios under `RATIO_FLOOR` count
as the floor, so exact zeros turning into rounding noise are not reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import pandas as pd

from harness.report import KEY, environment_of

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
        return [f"{r.case_file}::{r.case_id}[{r.adapter}]: {r.status_base} -> {r.status_new}"
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


def compare_reports(base: pd.DataFrame, new: pd.DataFrame, *, base_environment: dict[str, str] | None = None,
                    new_environment: dict[str, str] | None = None, growth_limit: float = 2.0,
                    only_new_adapters: bool = False) -> Comparison:
    """Match two report tables and find the rows that got worse (and the warnings).

    `only_new_adapters` leaves out base rows of adapters the new run did not run (a run of one
    framework against a baseline of all), so they are not reported as vanished.
    """
    if only_new_adapters:
        base = base[base["adapter"].isin(set(new["adapter"]))]
    columns = KEY + ["status", "tol_ratio", "message", "framework_version"]
    left = base.reindex(columns=columns).astype({"case_file": str, "case_id": str, "adapter": str})
    right = new.reindex(columns=columns).astype({"case_file": str, "case_id": str, "adapter": str})
    table = left.merge(right, on=KEY, how="outer", suffixes=("_base", "_new"), indicator=True)
    for side in ("base", "new"):
        table[f"tol_ratio_{side}"] = pd.to_numeric(table[f"tol_ratio_{side}"], errors="coerce")
        table[f"message_{side}"] = table[f"message_{side}"].fillna("").astype(str)
    both = table[table["_merge"] == "both"]
    worse_mask = [got_worse(str(b), str(n)) for b, n in zip(both["status_base"], both["status_new"])]
    worse = both[worse_mask]
    passing = both[(both["status_base"] == "pass") & (both["status_new"] == "pass")]
    grew = passing[passing["tol_ratio_new"] > growth_limit * passing["tol_ratio_base"].clip(lower=RATIO_FLOOR)]
    return Comparison(
        table=table.drop(columns="_merge"),
        worse=worse,
        grew=grew,
        appeared=table[table["_merge"] == "right_only"],
        vanished=table[table["_merge"] == "left_only"],
        versions=_versions(base, new, base_environment or environment_of(base), new_environment or environment_of(new)),
        platforms=_platforms(base_environment or environment_of(base), new_environment or environment_of(new)),
        growth_limit=growth_limit,
    )


def write_comparison(comparison: Comparison, *, csv: Path | None = None, html: Path | None = None) -> None:
    """The comparison as a CSV table (one row per matched key) and/or a small HTML page."""
    table = comparison.table.copy()
    worse_keys = set(map(tuple, comparison.worse[KEY].itertuples(index=False)))
    grew_keys = set(map(tuple, comparison.grew[KEY].itertuples(index=False)))
    table["change"] = [
        "worse" if key in worse_keys else "error grew" if key in grew_keys
        else "appeared" if pd.isna(sb) else "vanished" if pd.isna(sn) else "same" if sb == sn else "changed"
        for key, sb, sn in zip(map(tuple, table[KEY].itertuples(index=False)), table["status_base"], table["status_new"])
    ]
    if csv is not None:
        csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(csv, index=False)
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        interesting = table[table["change"] != "same"]
        verdict = (f"{len(comparison.worse)} rows got worse" if len(comparison.worse) else "no row got worse")
        versions = "".join(f"<li>{escape(v)}</li>" for v in comparison.version_lines())
        platforms = "".join(f"<li>{escape(v)}</li>" for v in comparison.platform_lines())
        warnings = "".join(f"<li>{escape(w)}</li>" for w in comparison.warnings())
        html.write_text(
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>tconv compare</title>"
            "<style>body{font:14px system-ui,sans-serif;margin:16px}td,th{border:1px solid #ddd;padding:2px 6px}"
            "table{border-collapse:collapse}.worse{background:#f7a8a8}</style></head><body>"
            f"<h1>tconv compare</h1><h2>{escape(verdict)}</h2><h3>Platforms</h3><ul>{platforms}</ul>"
            f"<h3>Versions</h3><ul>{versions}</ul>"
            f"<h3>Warnings</h3><ul>{warnings or '<li>none</li>'}</ul><h3>Changed rows</h3>"
            + interesting.to_html(index=False, na_rep="", classes="rows", escape=True)
            + "</body></html>",
            encoding="utf-8",
        )
