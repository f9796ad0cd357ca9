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
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.runner import Row

CONTRACT_COLUMNS = [
    "case_file", "case_id", "adapter", "framework", "framework_version", "status", "max_abs_err",
    "message", "diagnosis",
]
DETAIL_COLUMNS = [
    "check", "dtype", "rank", "input_shape", "kernel_shape", "stride", "padding", "output_padding", "dilation",
    "groups", "bias", "output_shape", "expected_shape", "actual_shape", "max_rel_err", "tol_ratio",
    "worst_index", "expected_value", "actual_value", "time_ms", "device", "path", "sent", "route",
    "known_issue",
]
COLUMNS = CONTRACT_COLUMNS + DETAIL_COLUMNS
KEY = ["case_file", "case_id", "adapter", "check"]  # the contract's key, plus what was judged (forward or a gradient)


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


def records(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> list[dict[str, object]]:
    """The rows as dicts (of `columns` only, where given), Python values as `to_dict("records")`
    gives them, column by column: `to_dict` boxes each element of a string column in turn, and on
    a report of 24,000 rows and 77 columns it took most of the HTML page's time."""
    names = list(frame.columns) if columns is None else [c for c in columns if c in frame.columns]
    return [dict(zip(names, values)) for values in zip(*(frame[c].tolist() for c in names))]


def environment_of(frame: pd.DataFrame) -> dict[str, str]:
    """The environment header stored in a report table's `env_*` columns."""
    if frame.empty:
        return {}
    # an empty cell (read back as NaN) is a key the run did not have: not the text "nan"
    return {c.removeprefix("env_"): str(frame[c].iloc[0]) for c in frame.columns
            if c.startswith("env_") and not pd.isna(frame[c].iloc[0])}


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
    return write_frame(out, rows_frame(rows, environment), environment, plots=_plot_slices(rows), formats=formats,
                       summary=summary)


FORMULA_START = tuple("=+-@\t\r")  # what a spreadsheet takes for the start of a formula


def _neutralised(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (`=HYPERLINK(...)`), behind a `'`; a cell
    that already starts with `'` before such a character gets one more, so reading reverses it."""
    if isinstance(value, str) and value and value.lstrip("'")[:1] in FORMULA_START and value.lstrip("'"):
        return "'" + value
    return value


def _restored(value: object) -> object:
    """The reverse of `_neutralised`, for reading a report back."""
    if isinstance(value, str) and value.startswith("'") and value.lstrip("'")[:1] in FORMULA_START \
            and value.lstrip("'"):
        return value[1:]
    return value


def _neutralised_column(values: pd.Series) -> pd.Series:
    """`_neutralised` of each cell, asked once per distinct value (most columns, the environment's
    above all, hold a few values over thousands of rows)."""
    try:
        distinct = pd.unique(values)
    except TypeError:  # an unhashable cell: each in turn
        return values.map(_neutralised)
    changed = {value: _neutralised(value) for value in distinct if isinstance(value, str)}
    changed = {value: safe for value, safe in changed.items() if safe != value}
    return values.where(~values.isin(list(changed)), values.map(changed)) if changed else values


def csv_text(frame: pd.DataFrame) -> str:
    """The table as report.csv holds it: formulas neutralised, floats to 6 significant digits."""
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = _neutralised_column(safe[column])
    return safe.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def json_text(document: dict[str, object]) -> str:
    """report.json, a row to a line: each part by json's C encoder (its indented output is written by
    the pure-Python one, ~3 s for the built-in suite's 20,000 rows), still one row per line for diff
    and grep."""
    parts = []
    for key, value in document.items():
        if key == "rows" and isinstance(value, list) and value:
            text = "[\n" + ",\n".join(json.dumps(row, default=str) for row in value) + "\n]"
        else:
            text = json.dumps(value, default=str)
        parts.append(f"{json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}"


def write_frame(out: Path, frame: pd.DataFrame, environment: dict[str, str], *, plots: dict[str, dict],
                formats: Sequence[str] = ("csv", "json", "html"), summary: dict[str, object] | None = None,
                environments: dict[str, dict[str, str]] | None = None) -> dict[str, Path]:
    """Every format rendered first, then each file written under a temporary name and renamed
    over the old one (a reader sees the old file or the new one, never half of one); a format
    not written this time is removed, so the folder never mixes two runs' files."""
    out.mkdir(parents=True, exist_ok=True)
    texts = {"csv": csv_text(frame)}
    if "json" in formats:
        rows = [{k: _json_safe(v) for k, v in rec.items()} for rec in records(frame, [c for c in frame.columns
                                                                                   if not c.startswith("env_")])]
        document = {"environment": environment, "summary": summary or {}, "rows": rows, "plots": plots}
        if environments:
            document["environments"] = environments
        texts["json"] = json_text(document)
    if "html" in formats:
        from harness.html import render_html

        texts["html"] = render_html(frame, environment, plots=plots, summary=summary, environments=environments)
    paths = {kind: out / f"report.{kind}" for kind in texts}
    temporary = {kind: _write_temporary(out, paths[kind].name, text) for kind, text in texts.items()}
    for kind, temp in temporary.items():
        os.replace(temp, paths[kind])
    for kind in ("json", "html"):
        if kind not in texts:
            (out / f"report.{kind}").unlink(missing_ok=True)
    return paths


def _write_temporary(out: Path, name: str, text: str) -> Path:
    """`text` in a new hidden file beside its final name, flushed to disk; removed on failure.
    Created with mode 0666 less the umask, as any report file (mkstemp's 0600 is for secrets)."""
    temp = out / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


NEEDED_COLUMNS = ("case_file", "case_id", "adapter", "status")  # what any reading of a report needs


class ReportError(ValueError):
    """A file that is not a readable tconv report; `str()` says what is wrong and what to give."""


def read_report(path: str | Path, *, needed: Sequence[str] = NEEDED_COLUMNS, allow_empty: bool = False
                ) -> tuple[pd.DataFrame, dict[str, str], dict[str, dict]]:
    """A saved report (CSV or JSON) -> (rows, environment, plots).

    Raises `ReportError` for what is not a report: a missing file or a folder, a case file, an
    empty, header-only or truncated CSV, JSON that is not a report, a table without the
    `needed` columns or without rows.
    """
    path = Path(path)
    hint = "give the report.csv or report.json that `tconv run` wrote"
    if path.is_dir():
        raise ReportError(f"{path} is a folder; {hint} (e.g. {path / 'report.csv'})")
    if not path.exists():
        raise ReportError(f"{path}: no such file; {hint}")
    if path.suffix.lower() in (".yaml", ".yml"):
        raise ReportError(f"{path} is a case file, not a report; run it first (`tconv run {path} --out DIR`), "
                          "then use DIR/report.json")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"{path}: cannot read ({error}); {hint}") from None
    if not text.strip():
        raise ReportError(f"{path} is empty; {hint}")
    if path.suffix.lower() == ".json":
        frame, environment, plots = _read_json(path, text, hint)
    else:
        frame, environment, plots = _read_csv(path, text, hint), None, {}
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ReportError(f"{path} lacks the column(s) {', '.join(missing)}: not a tconv report; {hint}")
    if frame.empty and not allow_empty:
        raise ReportError(f"{path} has no rows (only a header); {hint}, of a run that produced rows")
    return frame, environment if environment is not None else environment_of(frame), plots


def _read_json(path: Path, text: str, hint: str) -> tuple[pd.DataFrame, dict[str, str], dict[str, dict]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(f"{path}: not valid JSON ({error.msg} at line {error.lineno}; truncated?); {hint}") from None
    rows = document.get("rows") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ReportError(f"{path}: JSON without a 'rows' list: not a tconv report; {hint}")
    frame = pd.DataFrame(rows)
    for column in ("max_abs_err", "max_rel_err", "tol_ratio", "expected_value", "actual_value", "time_ms"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column].replace({"inf": math.inf, "-inf": -math.inf}),
                                          errors="coerce")
    environment, plots = document.get("environment"), document.get("plots")
    return frame, environment if isinstance(environment, dict) else {}, plots if isinstance(plots, dict) else {}


def _read_csv(path: Path, text: str, hint: str) -> pd.DataFrame:
    import csv
    import io

    # A report is written whole; a last line without its newline, or a record with another number of
    # fields than the header, is a file cut short (a run killed while writing, a partial copy).
    if not text.endswith("\n"):
        raise ReportError(f"{path} is truncated (its last line is incomplete); {hint}")
    try:
        records = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as error:
        raise ReportError(f"{path}: not a CSV table ({error}); {hint}") from None
    width = len(records[0])
    for number, record in enumerate(records[1:], start=2):
        if record and len(record) != width:
            raise ReportError(f"{path}: record {number} has {len(record)} fields, the header {width} "
                              f"(truncated or not a tconv report); {hint}")
    text_columns = ("case_file", "case_id", "adapter", "message", "diagnosis", "known_issue", "worst_index",
                    "framework_version", "path", "sent", "route", "padding", "stride", "output_padding", "dilation",
                    "output_shape")
    try:
        frame = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""],
                            dtype={c: str for c in text_columns}, low_memory=False)  # whole columns typed at once:
        # a merged report's env_* column is empty on the rows of the runs that lacked it
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise ReportError(f"{path}: not a CSV table ({' '.join(str(error).split())}); {hint}") from None
    for column in text_columns:
        if column in frame:
            frame[column] = frame[column].fillna("")
    if not any(start + "'" in text for start in (",", "\n", '"')):  # no cell starts with ': none was neutralised
        return frame
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            quoted = frame[column].str.startswith("'", na=False)  # only such cells can be neutralised ones
            if quoted.any():
                frame.loc[quoted, column] = frame.loc[quoted, column].map(_restored)
    return frame
