"""`tconv merge`: the reports of `tconv run --shard I/N` jobs (or of runs of different framework
families, or of a tox env that cannot share the main environment) joined into one report.

Each row keeps its own run's environment (the `env_*` columns of report.csv; `environments` in
report.json, one entry per merged report; one table per report on the HTML page), since shards may
run on different machines. A row (`case_file`, `case_id`, `adapter`, `check`) in two reports is an
error: the shards overlapped, or the same report was given twice. The `oracle` rows are the
exception: every run of a case has one (whatever adapters it ran), so reports of other framework
families or adapters over the same cases share them; a case's oracle row is kept once (the first
report's) when the reports agree on its status, and an error when they do not. A partial report
stays partial.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.report import COLUMNS, KEY, ReportError, read_report, write_frame

ORACLE = "oracle"  # harness.runner.ORACLE: the adapter name of the oracle rows


class MergeError(ValueError):
    """Reports that cannot be one report; `str()` says which and why."""


def _with_environment(frame: pd.DataFrame, environment: dict[str, str]) -> pd.DataFrame:
    """Rows read from JSON carry their environment in the header: put it on each row."""
    frame = frame.copy()
    for key, value in environment.items():
        column = f"env_{key}"
        if column not in frame:
            frame[column] = str(value)
    return frame


def _one_oracle_row_per_case(merged: pd.DataFrame) -> pd.DataFrame:
    """The first of the oracle rows several reports have for one case (the oracle judged against
    the case's golden values: the same row in every run of the case); refused when they disagree."""
    oracle = merged["adapter"] == ORACLE
    repeated = oracle & merged.duplicated(subset=KEY, keep=False)
    if not repeated.any():
        return merged
    statuses = merged[repeated].groupby(KEY)["status"].nunique()
    if (statuses > 1).any():
        case_file, case_id, _, _ = statuses[statuses > 1].index[0]
        raise MergeError(f"the oracle rows of {case_file}::{case_id} differ in status between the reports "
                         "(their case files differ?); merge reports of runs of the same case files")
    return merged[~(oracle & merged.duplicated(subset=KEY, keep="first"))].reset_index(drop=True)


def merge_reports(paths: Sequence[Path]) -> tuple[pd.DataFrame, dict[str, str], dict[str, dict[str, str]],
                                                   dict[str, dict], list[str]]:
    """(rows, environment, environments per report, plots, warnings) of the reports at `paths`."""
    frames, environments, plots, warnings = [], {}, {}, []
    for path in paths:
        try:
            frame, environment, report_plots = read_report(path, allow_empty=True)
        except ReportError as error:
            raise MergeError(str(error)) from None
        name = str(path)
        if name in environments:
            raise MergeError(f"{path} is given twice; give each shard's report once")
        environments[name] = {str(k): str(v) for k, v in environment.items()}
        if environment.get("partial"):
            warnings.append(f"{path} is a partial report ({environment['partial']}); the merged report is partial")
        frames.append(_with_environment(frame, environments[name]))
        plots.update(report_plots)
    merged = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    if "check" in merged:
        merged["check"] = merged["check"].fillna("forward").replace("", "forward")
    else:
        merged["check"] = "forward"
    merged = _one_oracle_row_per_case(merged)
    duplicated = merged.duplicated(subset=KEY, keep=False)
    if duplicated.any():
        first = merged[duplicated].iloc[0]
        owners = [str(p) for p, f in zip(paths, frames) if ((f["case_file"] == first["case_file"])
                  & (f["case_id"] == first["case_id"]) & (f["adapter"] == first["adapter"])).any()]
        raise MergeError(f"row {first['case_file']}::{first['case_id']}[{first['adapter']}] is in {' and '.join(owners)} "
                         f"({int(duplicated.sum())} rows in more than one report): shards overlap; merge the reports "
                         "of one sharded run (--shard 1/N ... N/N)")
    if merged.empty:
        raise MergeError("the reports hold no rows; give the reports of runs that produced rows")
    environment = dict(next(iter(environments.values())))
    environment["merged"] = f"{len(paths)} reports: {', '.join(map(str, paths))}"
    partial = [e["partial"] for e in environments.values() if e.get("partial")]
    environment.pop("partial", None)
    if partial:
        environment["partial"] = f"yes: {len(partial)} of the merged reports are partial"
    for key in ("merged", "partial"):  # facts of the merged report, on every row as report.csv keeps them
        merged[f"env_{key}"] = environment.get(key, "")
    ordered = [c for c in COLUMNS if c in merged] + [c for c in merged.columns if c not in COLUMNS]
    return merged[ordered], environment, environments, plots, warnings


def write_merged(paths: Sequence[Path], out: Path, *, formats: Sequence[str]) -> tuple[dict[str, Path], pd.DataFrame,
                                                                                       list[str]]:
    """Merge `paths` and write the report into `out`; returns (paths written, rows, warnings)."""
    frame, environment, environments, plots, warnings = merge_reports(paths)
    counts = {str(k): int(v) for k, v in frame["status"].value_counts().items()}
    summary = {"counts": counts, "warnings": warnings, "merged": [str(p) for p in paths],
               "partial": bool(environment.get("partial"))}
    written = write_frame(out, frame, environment, plots=plots, formats=formats, summary=summary,
                          environments=environments)
    return written, frame, warnings
