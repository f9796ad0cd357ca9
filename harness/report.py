"""Reports: the rows as a pandas table, written as CSV, JSON and HTML, and read back.

`report.csv` is one row per case and adapter: the contract's columns first, the case parameters
and measurements next, and the environment header as `env_*` columns (the same on every row), so
the file stays a plain table that any CSV reader takes. `report.json` holds the same rows under
an `environment` header, plus, for failing 1-D and 2-D rows, the slice of expected and actual
arrays that the HTML page plots.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.runner import Row

CONTRACT_COLUMNS = [
    "case_file", "case_id", "adapter", "framework", "framework_version", "status", "max_abs_err",
    "message", "diagnosis",
]
DETAIL_COLUMNS = [
    "dtype", "rank", "input_shape", "kernel_shape", "stride", "padding", "output_padding", "dilation",
    "groups", "bias", "output_shape", "expected_shape", "actual_shape", "max_rel_err", "tol_ratio",
    "worst_index", "expected_value", "actual_value", "time_ms", "device", "path", "sent", "known_issue",
]
COLUMNS = CONTRACT_COLUMNS + DETAIL_COLUMNS
KEY = ["case_file", "case_id", "adapter"]


def rows_frame(rows: Sequence[Row], environment: dict[str, str] | None = None) -> pd.DataFrame:
    """The rows as a table with the report's column order (environment as `env_*` columns)."""
    frame = pd.DataFrame([r.as_dict() for r in rows])
    for column in COLUMNS:
        if column not in frame:
            frame[column] = pd.Series(dtype=object)
    frame = frame[COLUMNS].copy()
    for key, value in (environment or {}).items():
        frame[f"env_{key}"] = value
    return frame


def environment_of(frame: pd.DataFrame) -> dict[str, str]:
    """The environment header stored in a report table's `env_*` columns."""
    if frame.empty:
        return {}
    return {c.removeprefix("env_"): str(frame[c].iloc[0]) for c in frame.columns if c.startswith("env_")}


def _plot_slices(rows: Sequence[Row]) -> dict[str, dict]:
    return {r.full_id: r.plot for r in rows if r.plot}


def _json_safe(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def write_reports(out: Path, rows: Sequence[Row], environment: dict[str, str], *,
                  formats: Sequence[str] = ("csv", "json", "html"),
                  summary: dict[str, object] | None = None) -> dict[str, Path]:
    """Write report.csv (always) and report.json / report.html into `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    frame = rows_frame(rows, environment)
    paths = {"csv": out / "report.csv"}
    frame.to_csv(paths["csv"], index=False, float_format="%.6g")
    plots = _plot_slices(rows)
    if "json" in formats:
        records = [{k: _json_safe(v) for k, v in rec.items() if not k.startswith("env_")}
                   for rec in frame.to_dict(orient="records")]
        document = {"environment": environment, "summary": summary or {}, "rows": records, "plots": plots}
        paths["json"] = out / "report.json"
        paths["json"].write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")
    if "html" in formats:
        from harness.html import render_html

        paths["html"] = out / "report.html"
        paths["html"].write_text(render_html(frame, environment, plots=plots, summary=summary), encoding="utf-8")
    return paths


def read_report(path: str | Path) -> tuple[pd.DataFrame, dict[str, str], dict[str, dict]]:
    """A saved report (CSV or JSON) -> (rows, environment, plots)."""
    path = Path(path)
    if path.suffix == ".json":
        document = json.loads(path.read_text(encoding="utf-8"))
        frame = pd.DataFrame(document.get("rows", []))
        for column in ("max_abs_err", "max_rel_err", "tol_ratio", "expected_value", "actual_value", "time_ms"):
            if column in frame:
                frame[column] = pd.to_numeric(frame[column].replace({"inf": math.inf, "-inf": -math.inf}),
                                              errors="coerce")
        return frame, dict(document.get("environment", {})), dict(document.get("plots", {}))
    text_columns = ("case_file", "case_id", "adapter", "message", "diagnosis", "known_issue", "worst_index",
                    "framework_version", "path", "sent", "padding", "stride", "output_padding", "dilation", "output_shape")
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={c: str for c in text_columns})
    for column in text_columns:
        if column in frame:
            frame[column] = frame[column].fillna("")
    return frame, environment_of(frame), {}
