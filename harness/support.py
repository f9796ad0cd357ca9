"""The support table: for each adapter, which features of the contract it handles, from a report's rows.

The question porting users ask first is "can framework X do this?". Each cell summarises the
rows of one adapter whose case uses one feature (a dtype, a rank, groups, dilation, a padding
form, `output_padding`, `output_shape`, bias, empty tensors; gradients where the report has
gradient rows), by the worst status among them:

- `pass`: every such row passes (`xpass` counts as a pass: the answer was right);
- `unsupported` / `unsupported k/n`: all / k of the n rows are refused by the framework, the rest pass;
- `known issue k/n`: k rows give a wrong answer or refuse a valid case, as a recorded known issue
  (`xfail`); the rest pass or are unsupported;
- `fails k/n`: k rows fail or error with no known issue: a regression or a bug in tconv;
- `-`: no row of this adapter uses the feature (the adapter was not run on such a case).

A row counts in every column whose feature its case uses (a bfloat16 case with groups counts in
both columns), so the notes under the table say why rows are unsupported or known issues. Rows
of empty tensors count only under `any case` and `empty`.
Forward rows give the feature columns; gradient rows (`check` other than `forward`) give one
column per gradient. The `oracle` rows (the oracle against a case's `expected`) are left out.

`python -m harness.support reports/baseline/report.csv > docs/support-matrix.md` writes the
committed table; `tests/test_support.py` checks that it is current.
"""

from __future__ import annotations

import html
import re
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

GENERATE_COMMAND = "python -m harness.support reports/baseline/report.csv > docs/support-matrix.md"
PASSING = {"pass", "xpass"}
FAILING = {"fail", "error"}
# The verdict of a cell, worst first, with its CSS class (the run page's status colours).
VERDICTS = {"fails": "fail", "known issue": "xfail", "unsupported": "unsupported", "pass": "pass", "-": "none"}
PADDING_WORDS = ("valid", "same", "same_upper", "same_lower")
# Empty-tensor rows count only here: a framework refusing an empty tensor says nothing of its dtypes or options.
EVERY_ROW = ("any case", "empty")


def _ints(value: object) -> list[int]:
    """The integers written in a parameter (`2`, `[1, 2]`, `[[1, 0], [0, 1]]`, `2x4x4x3`)."""
    return [int(v) for v in re.findall(r"-?\d+", "" if value is None else str(value))]


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _shape(value: object) -> list[int]:
    return [int(v) for v in _text(value).split("x") if v.strip().lstrip("-").isdigit()]


def _padding_form(value: object) -> str:
    """`int` (a positive crop, one int or one per dim), `pairs`, a padding word, or `` (no padding)."""
    text = _text(value).lower()
    if text in PADDING_WORDS:
        return text
    if text.startswith("[["):
        return "pairs"
    return "int" if any(v > 0 for v in _ints(text)) else ""


def _depthwise(row: Mapping[str, object]) -> bool:
    groups = _ints(row.get("groups"))
    shape = _shape(row.get("input_shape"))
    return bool(groups) and groups[0] > 1 and len(shape) > 1 and shape[1] == groups[0]


def _empty(row: Mapping[str, object]) -> bool:
    inputs, kernel = _shape(row.get("input_shape")), _shape(row.get("kernel_shape"))
    return (len(inputs) > 1 and 0 in inputs[:2]) or (len(kernel) > 1 and kernel[1] == 0)


def _rank(row: Mapping[str, object]) -> int:
    ranks = _ints(row.get("rank"))
    return ranks[0] if ranks else max(len(_shape(row.get("input_shape"))) - 2, 0)


@dataclass(frozen=True)
class Feature:
    name: str  # the column heading
    description: str  # for the legend
    uses: Callable[[Mapping[str, object]], bool]


def _dtype(name: str) -> Feature:
    return Feature(name, f"the case computes in {name}", lambda row: _text(row.get("dtype")) == name)


def _ranked(rank: int) -> Feature:
    return Feature(f"{rank}-D", f"{rank} spatial dimension{'s' if rank > 1 else ''}", lambda row: _rank(row) == rank)


def _padding(form: str, heading: str, description: str) -> Feature:
    return Feature(heading, description, lambda row: _padding_form(row.get("padding")) == form)


FEATURES: tuple[Feature, ...] = (
    Feature("any case", "every row of the adapter", lambda row: True),
    *(_dtype(d) for d in ("float32", "float16", "bfloat16", "float64")),
    *(_ranked(r) for r in (1, 2, 3)),
    Feature("stride > 1", "a stride above 1 in some dim", lambda row: any(v > 1 for v in _ints(row.get("stride")))),
    Feature("dilation > 1", "a dilation above 1 in some dim",
            lambda row: any(v > 1 for v in _ints(row.get("dilation")))),
    Feature("groups > 1", "grouped: groups > 1", lambda row: any(v > 1 for v in _ints(row.get("groups")))),
    Feature("depthwise", "groups = C_in > 1", _depthwise),
    _padding("int", "padding int", "`padding` an int > 0, or one int per dim (PyTorch's crop)"),
    _padding("pairs", "padding pairs", "`padding: [[begin, end], ...]` (ONNX pads)"),
    _padding("valid", "valid", "`padding: valid`"),
    _padding("same", "same", "`padding: same` (TensorFlow/Keras)"),
    _padding("same_upper", "same_upper", "`padding: same_upper` (ONNX SAME_UPPER)"),
    _padding("same_lower", "same_lower", "`padding: same_lower` (ONNX SAME_LOWER)"),
    Feature("output_padding", "`output_padding` > 0 in some dim",
            lambda row: any(v > 0 for v in _ints(row.get("output_padding")))),
    Feature("output_shape", "`output_shape` given", lambda row: bool(_text(row.get("output_shape")))),
    Feature("bias", "a bias", lambda row: _text(row.get("bias")) == "yes"),
    Feature("empty", "an empty tensor: N, C_in or C_out = 0", _empty),
)


@dataclass
class Cell:
    """The rows of one adapter that use one feature, and the verdict they add up to."""

    counts: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def _count(self, statuses: set[str]) -> int:
        return sum(n for s, n in self.counts.items() if s in statuses)

    @property
    def verdict(self) -> str:
        """`fails`, `known issue`, `unsupported`, `pass` or `-` (no rows)."""
        if not self.total:
            return "-"
        if self._count(FAILING):
            return "fails"
        if self.counts.get("xfail"):
            return "known issue"
        if self.counts.get("unsupported"):
            return "unsupported"
        if self._count(PASSING) == self.total:
            return "pass"
        return "fails"  # a status outside the contract's six: never shown as fine

    @property
    def count(self) -> int:
        """How many rows have the verdict's status."""
        verdict = self.verdict
        if verdict == "fails":
            return self.total - self._count(PASSING | {"xfail", "unsupported"})
        if verdict == "known issue":
            return self.counts["xfail"]
        if verdict == "unsupported":
            return self.counts["unsupported"]
        return self.total if verdict == "pass" else 0

    @property
    def label(self) -> str:
        """`pass`, `unsupported`, `unsupported 3/12`, `known issue 2/40`, `fails 1/8`, `-`."""
        verdict = self.verdict
        if verdict in ("-", "pass") or (verdict == "unsupported" and self.count == self.total):
            return verdict
        return f"{verdict} {self.count}/{self.total}"

    @property
    def css(self) -> str:
        return VERDICTS[self.verdict]

    @property
    def breakdown(self) -> str:
        """`40 rows: 38 pass, 2 xfail` (the tooltip)."""
        order = ["pass", "xpass", "unsupported", "xfail", "fail", "error"]
        statuses = sorted(self.counts, key=lambda s: (order.index(s) if s in order else len(order), s))
        parts = ", ".join(f"{self.counts[s]} {s}" for s in statuses)
        return f"{self.total} row{'s' if self.total != 1 else ''}: {parts}" if self.total else "no rows"


# The columns the features read (and all they are shown: a feature reading another sees nothing).
FEATURE_COLUMNS = ("dtype", "rank", "input_shape", "kernel_shape", "stride", "padding", "output_padding", "dilation",
                   "groups", "bias", "output_shape")
# The columns the features and the notes read: a report's other columns (the environment, the
# values of the worst element, ...) are left out before its rows become dicts (most of the time).
READ = ("adapter", "status", "check", "dtype", "rank", "input_shape", "kernel_shape", "stride", "padding",
        "output_padding", "dilation", "groups", "bias", "output_shape", "known_issue", "diagnosis", "message")


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The rows as dicts of the `READ` columns the report has."""
    from harness.report import records

    return records(frame, READ)


def _forward(frame: pd.DataFrame) -> pd.DataFrame:
    if "check" not in frame:
        return frame
    return frame[frame["check"].fillna("forward").astype(str).isin(["forward", ""])]


def _gradient_checks(frame: pd.DataFrame) -> list[str]:
    if "check" not in frame:
        return []
    checks = frame["check"].fillna("forward").astype(str)
    return sorted(set(checks) - {"forward", ""})


def _adapters(frame: pd.DataFrame) -> list[str]:
    """The adapters in the run page's order (by framework, then name), the oracle left out."""
    rows = frame[frame["adapter"].astype(str) != "oracle"]
    ordered = rows.assign(adapter=rows["adapter"].astype(str), framework=rows["framework"].astype(str))
    return list(dict.fromkeys(ordered.sort_values(["framework", "adapter"])["adapter"]))


def support_cells(frame: pd.DataFrame) -> tuple[list[str], list[str], dict[tuple[str, str], Cell]]:
    """(adapters, feature columns, {(adapter, column): Cell}); columns no row uses are left out."""
    adapters = _adapters(frame)
    cells: dict[tuple[str, str], Cell] = {(a, f.name): Cell() for a in adapters for f in FEATURES}
    used: set[str] = set()
    features_of: dict[tuple[str, ...], tuple[str, ...]] = {}  # a case's parameters -> the features it uses
    for row in _records(_forward(frame)):
        adapter = str(row["adapter"])
        if adapter == "oracle":
            continue
        parameters = tuple(repr(row.get(column)) for column in FEATURE_COLUMNS)
        if parameters not in features_of:  # every adapter's row of a case has the same: asked once per case
            features_of[parameters] = _features_used({column: row.get(column) for column in FEATURE_COLUMNS})
        for name in features_of[parameters]:
            cells[(adapter, name)].counts[str(row["status"])] += 1
            used.add(name)
    columns = [f.name for f in FEATURES if f.name in used]
    checks = _gradient_checks(frame)
    if checks:
        gradient_rows = frame[frame["check"].fillna("forward").astype(str).isin(checks)]
        for check in checks:
            for adapter in adapters:
                cells[(adapter, check)] = Cell()
        for row in _records(gradient_rows):
            if str(row["adapter"]) != "oracle":
                cells[(str(row["adapter"]), str(row["check"]))].counts[str(row["status"])] += 1
        columns += checks
    return adapters, columns, cells


def _features_used(parameters: Mapping[str, object]) -> tuple[str, ...]:
    """The features a case's parameters use; an empty tensor's only those of `EVERY_ROW`."""
    empty = _empty(parameters)
    return tuple(f.name for f in FEATURES if f.uses(parameters) and (not empty or f.name in EVERY_ROW))


def support_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows = adapters, columns = features, each cell its label (`pass`, `known issue 2/40`, ...)."""
    adapters, columns, cells = support_cells(frame)
    table = pd.DataFrame([[cells[(a, c)].label for c in columns] for a in adapters], index=adapters, columns=columns,
                         dtype=object)
    table.index.name = "adapter"
    return table


def _versions(frame: pd.DataFrame) -> dict[str, str]:
    rows = frame[frame["adapter"].astype(str) != "oracle"]
    return {str(a): ",".join(sorted({_text(v) for v in g})) for a, g in rows.groupby("adapter")["framework_version"]}


MAX_NOTES = 12  # reasons listed per adapter; the rest counted


def _reason(row: Mapping[str, object]) -> str:
    """Why a row does not pass, in words that repeat across rows: the known issue of an xfail,
    the diagnosed mechanism of a fail, the message of an unsupported or erroring row (without
    the framework's own appended error text)."""
    from harness.diagnosis import mechanism

    status = str(row.get("status"))
    if status == "xfail" and _text(row.get("known_issue")):
        return _text(row.get("known_issue"))
    if status in ("fail", "xpass", "xfail"):
        diagnosis = _text(row.get("diagnosis"))
        return f"wrong values: {mechanism(diagnosis)}" if diagnosis else "wrong values (no diagnosis)"
    message = re.split(r": \[", _text(row.get("message")), maxsplit=1)[0]
    return message or "(no message)"


def _why(frame: pd.DataFrame) -> dict[str, list[tuple[str, str, int]]]:
    """Per adapter, the distinct reasons for its non-passing rows: (status, reason, rows), worst status
    first, then most rows first."""
    reasons: dict[str, Counter] = {}
    for row in _records(frame[frame["adapter"].astype(str) != "oracle"]):
        status = str(row["status"])
        if status not in PASSING:
            reasons.setdefault(str(row["adapter"]), Counter())[(status, _reason(row))] += 1
    order = {"fail": 0, "error": 1, "xfail": 2, "unsupported": 3}
    return {a: sorted(((s, r, n) for (s, r), n in c.items()), key=lambda t: (order.get(t[0], 4), -t[2], t[1]))
            for a, c in reasons.items()}


LEGEND = [
    ("pass", "every row of the adapter that uses the feature passes (an `xpass` counts as a pass)"),
    ("unsupported", "the adapter refuses all such rows, saying what the framework lacks (see the notes); "
                    "`unsupported k/n`: k of the n rows, the rest pass"),
    ("known issue k/n", "k of the n rows give a wrong answer or refuse a valid case, a recorded known issue "
                        "(`xfail`, see the notes); the rest pass or are unsupported"),
    ("fails k/n", "k of the n rows fail or error with no known issue"),
    ("-", "no row of the adapter uses the feature"),
]

SHORT_LEGEND = [
    ("pass", "all such rows pass"),
    ("unsupported", "the adapter refuses all (with k/n: k of n) such rows"),
    ("known issue k/n", "k rows wrong or refused, a recorded known issue (xfail)"),
    ("fails k/n", "k rows fail or error"),
    ("-", "no such row"),
]


def _md(value: object) -> str:
    """Text as Markdown that renders as itself: `*`, `|`, `<`, brackets, backslashes and
    word-boundary underscores escaped (intraword ones, as in `same_upper`, stay)."""
    text = re.sub(r"([\\*|<\[\]`])", r"\\\1", str(value).replace("\n", " "))
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)


def to_markdown(frame: pd.DataFrame, environment: Mapping[str, str] | None = None, *,
                source: str = "reports/baseline/report.csv") -> str:
    """The support table as a Markdown document: how it was made, the table, the legend, the notes."""
    environment = dict(environment or {})
    adapters, columns, cells = support_cells(frame)
    versions = _versions(frame)
    packages = ", ".join(f"{k.removeprefix('version_')} {v}" for k, v in sorted(environment.items())
                         if k.startswith("version_") and v)
    machine = "; ".join(v for v in (environment.get("cpu", ""), environment.get("cpu_isa", ""),
                                    f"Python {environment['python']}" if environment.get("python") else "") if v)
    paths = "; ".join(f"{k.removeprefix('path_')}: {v}" for k, v in sorted(environment.items())
                      if k.startswith("path_"))
    features = {f.name: f.description for f in FEATURES}
    lines = [
        "# Support matrix: which adapter handles which feature",
        "",
        f"Generated from `{source}` ({len(frame)} rows, made {environment.get('time', 'at an unrecorded time')}) by",
        f"`{GENERATE_COMMAND}`;",
        "`tests/test_support.py` fails when this file and the baseline disagree. Do not edit it by hand.",
        "",
        f"- Versions: {packages or 'not recorded'}.",
        f"- Machine: {machine or 'not recorded'}.",
        f"- Compute paths: {paths or 'not recorded'}.",
        "",
        "Each cell sums up the rows of one adapter whose case uses the feature of the column, by the",
        "worst status among them. A row counts in every column whose feature its case uses (a bfloat16",
        "case with groups counts in both), so read a cell with the notes below, which say why rows are",
        "unsupported or known issues; rows of empty tensors count only under `any case` and `empty`.",
        "Statuses of the low-precision dtypes depend on the CPU (see [findings.md](findings.md)).",
        "",
        "| adapter | version | " + " | ".join(_md(c) for c in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for adapter in adapters:
        row = " | ".join(_md(cells[(adapter, c)].label) for c in columns)
        lines.append(f"| {_md(adapter)} | {_md(versions.get(adapter, ''))} | {row} |")
    lines += ["", "**Cells.**", ""]
    lines += [f"- `{word}`: {text}" for word, text in LEGEND]
    lines += ["", "**Columns.**", ""]
    lines += [f"- {name}: {features.get(name, f'the gradient {name} (rows with `check: {name}`)')}" for name in columns]
    lines += ["", "## Notes: why rows do not pass", ""]
    why = _why(frame)
    for adapter in adapters:
        if adapter not in why:
            continue
        lines.append(f"**{_md(adapter)}**")
        lines.append("")
        for status, reason, rows in why[adapter][:MAX_NOTES]:
            lines.append(f"- {status}, {rows} row{'s' if rows != 1 else ''}: {_md(reason)}")
        rest = why[adapter][MAX_NOTES:]
        if rest:
            lines.append(f"- and {len(rest)} more reasons ({sum(n for _, _, n in rest)} rows)")
        lines.append("")
    if not why:
        lines += ["Every row passes.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _two_lines(label: str) -> str:
    """`known issue 2/40` as the verdict over its count (a narrower column), escaped."""
    words, _, count = label.rpartition(" ")
    if "/" not in count:
        return html.escape(label)
    return f'{html.escape(words)}<br><span class="n">{html.escape(count)}</span>'


def to_html(frame: pd.DataFrame) -> str:
    """The support table as an HTML fragment (a table and its legend) for the run page."""
    adapters, columns, cells = support_cells(frame)
    if not adapters:
        return ""
    e = html.escape
    features = {f.name: f.description for f in FEATURES}
    head = "".join(f'<th title="{e(features.get(c, "the gradient " + c))}">{e(c)}</th>' for c in columns)
    body = []
    for adapter in adapters:
        row = [cells[(adapter, c)] for c in columns]
        tds = "".join(f'<td class="s {e(cell.css)}" title="{e(adapter)}, {e(c)}: {e(cell.breakdown)}">'
                      f"{_two_lines(cell.label)}</td>" for c, cell in zip(columns, row))
        body.append(f"<tr><td>{e(adapter)}</td>{tds}</tr>")
    legend = " &middot; ".join(f'<span class="chip {VERDICTS[word.split(" k/n")[0]]}">{e(word)}</span> {e(text)}'
                               for word, text in SHORT_LEGEND)
    return (f'<p class="small">Per adapter and feature, the worst status among the rows whose case uses the '
            f"feature; a row counts in every column it uses (empty tensors only under any case and empty). "
            f"Hover a cell for its rows.</p><p class=\"small legend\">{legend}</p>"
            f'<div class="tablewrap"><table id="support" class="sticky1"><thead><tr><th>adapter</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.support REPORT.csv|json`: the Markdown support matrix on standard output."""
    from harness.report import read_report

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print(f"usage: python -m harness.support REPORT.csv  (e.g. {GENERATE_COMMAND})", file=sys.stderr)
        return 2
    frame, environment, _ = read_report(args[0])
    sys.stdout.write(to_markdown(frame, environment, source=args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
