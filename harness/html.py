"""`report.html`: one self-contained page (no network, no external scripts or fonts).

It opens with the verdict, then the adapter x status summary, the diagnoses, the support table
(which adapter handles which feature, `harness.support`), the case x adapter matrix coloured by
status (each cell shows the error-to-tolerance ratio to three significant digits; its tooltip the
message; the case column stays in view when the matrix scrolls sideways), filters by framework,
status and case, and one detail section per failing row (failures and errors first, then known
issues) with the parameters, the shapes, the diagnosis and, for 1-D and 2-D cases, a picture of
expected, actual and difference. Every value from the report is HTML-escaped. `STYLE` and
`page()` are shared with the comparison page (`harness.compare`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import pandas as pd

from harness.diagnosis import group_diagnoses
from harness.pictures import difference_png
from harness.report import records

STATUS_ORDER = ["fail", "error", "xpass", "xfail", "unsupported", "pass"]
BAD = ("fail", "error")
# Each picture costs ~0.35 s of matplotlib (55 were 14 s of a 17 s run): the first row of every adapter
# and diagnosis gets one, then the next rows in order, up to the cap; the JSON keeps every row's slice.
MAX_PICTURES = 24
# Pictures of known issues (xfail, xpass) are not news: a few show what the mechanism looks like; the
# budget goes to failures first.
MAX_KNOWN_PICTURES = 8
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 24px 48px;color:#222}
h1{margin:16px 0 4px}h2{margin-top:28px;border-bottom:1px solid #ddd}
.verdict{padding:12px 16px;border-radius:6px;font-size:18px;font-weight:600;margin:12px 0}
.verdict.ok{background:#e3f6e5;color:#14532d}.verdict.bad{background:#fde2e2;color:#7f1d1d}
table{border-collapse:separate;border-spacing:0;border-top:1px solid #ddd;border-left:1px solid #ddd}
td,th{border-right:1px solid #ddd;border-bottom:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f5}thead th{position:sticky;top:0;z-index:2;vertical-align:bottom}
#matrix thead th{cursor:pointer}
table.sticky1 tbody td:first-child{position:sticky;left:0;z-index:1;background:#fff;box-shadow:1px 0 0 #bbb}
table.sticky1 thead th:first-child{left:0;z-index:3;box-shadow:1px 0 0 #bbb}
#matrix td.c{text-align:center;font-size:12px;min-width:44px;cursor:default;white-space:nowrap}
#support td.s{font-size:12px;white-space:nowrap;line-height:1.2}#support th{font-size:12px}
#support .n{font-size:11px;color:#444}
.pass{background:#c9f0d0}.fail{background:#f7a8a8}.error{background:#f5c26b}.xfail{background:#d9d2f5}
.xpass{background:#f9e79f}.unsupported{background:#eceff1;color:#555}.none{background:#fff;color:#999}
.worse{background:#f7a8a8}.better{background:#c9f0d0}.differs{background:#fff7d6}
.warn{background:#fff7d6;border:1px solid #f0d98a;padding:6px 10px;border-radius:4px;margin:6px 0}
.controls{margin:8px 0;display:flex;gap:12px;flex-wrap:wrap;align-items:center}
.detail{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:12px 0}
.detail h3{margin:4px 0 8px;font-size:15px;overflow-wrap:anywhere}.detail img{max-width:100%;display:block}
.detail .body{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
.detail dl{display:grid;grid-template-columns:auto auto auto auto;gap:1px 10px;margin:0;font-size:13px}
.detail dt{font-weight:600;color:#555}.detail dd{margin:0;overflow-wrap:anywhere}
code{background:#f4f4f5;padding:0 3px;border-radius:3px}.small{color:#666;font-size:12px}
.head{overflow-wrap:anywhere}.wrap{overflow-wrap:anywhere}
.tablewrap{overflow-x:auto;max-width:100%}
.matrixwrap{overflow:auto;max-height:75vh;border:1px solid #ddd}
.matrixwrap table{border-top:0;border-left:0}
#changed td.wrap{min-width:18em}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.chip{display:inline-block;padding:0 5px;border-radius:3px;border:1px solid #ddd;color:#222;white-space:nowrap}
.legend{line-height:1.9}
@media (max-width:700px){
 body{margin:0 10px 32px}h1{font-size:24px}.verdict{font-size:16px}
 .detail dl{grid-template-columns:auto auto}
 table.sticky1 tbody td:first-child{min-width:28vw;max-width:44vw;overflow-wrap:anywhere}
 #matrix tbody td:first-child,#changed tbody td:first-child{min-width:36vw;font-size:12px}
 #matrix thead th{font-size:11px;overflow-wrap:anywhere;max-width:7em}
 #diagnoses td:last-child{min-width:14em}
 .sides{grid-template-columns:1fr}
}
"""
SCRIPT = """
const $=s=>document.querySelector(s),$$=s=>[...document.querySelectorAll(s)];
function applyFilters(){
  const text=$('#f-case').value.toLowerCase(),fw=$('#f-framework').value,st=$('#f-status').value;
  $$('#matrix thead th.a').forEach(th=>{const show=!fw||th.dataset.framework===fw;th.hidden=!show;
    $$('#matrix td[data-adapter="'+th.dataset.adapter+'"]').forEach(td=>td.hidden=!show);});
  $$('#matrix tbody tr').forEach(tr=>{const okCase=tr.dataset.case.toLowerCase().includes(text);
    const cells=[...tr.querySelectorAll('td.c')].filter(td=>!td.hidden);
    const okStatus=!st||cells.some(td=>td.dataset.status===st);tr.hidden=!(okCase&&okStatus);});
  $$('.detail').forEach(d=>{d.hidden=!(d.dataset.case.toLowerCase().includes(text)&&(!fw||d.dataset.framework===fw)
    &&(!st||d.dataset.status===st));});
  $('#shown').textContent=$$('#matrix tbody tr:not([hidden])').length;
}
function sortBy(col){
  const body=$('#matrix tbody'),rows=[...body.rows],dir=body.dataset.sort===String(col)?-1:1;
  body.dataset.sort=dir===1?String(col):'';
  const key=r=>{const c=r.cells[col];return col===0?c.textContent:parseFloat(c.dataset.ratio??'-1')};
  rows.sort((a,b)=>{const x=key(a),y=key(b);return (x>y?1:x<y?-1:0)*dir;});rows.forEach(r=>body.appendChild(r));
}
window.addEventListener('DOMContentLoaded',()=>{
  ['#f-case','#f-framework','#f-status'].forEach(s=>$(s).addEventListener('input',applyFilters));
  $$('#matrix thead th').forEach((th,i)=>th.addEventListener('click',()=>sortBy(i)));applyFilters();
  document.body.dataset.rendered=String(Math.round(performance.now()));
});
window.addEventListener('load',()=>{document.body.dataset.loaded=String(Math.round(performance.now()));});
"""


def _e(value: object) -> str:
    """A value as escaped HTML text (quotes too, so it is safe in attributes); None and NaN as ``."""
    return html.escape("" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value))


def _significant(value: float, digits: int) -> str:
    """`value` to `digits` significant digits, exponents short: 1.01, 0.000123, 1.23e-5, 2.65e6."""
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def ratio_text(value: object) -> str:
    """The error-to-tolerance ratio for a cell, to three significant digits: `0.0123`, `1.01`, `2.65e6`, `inf`.

    The text never crosses 1 (the pass limit) by rounding: a failing 1.0004 shows as `1.0004`, not
    `1`, and a passing 0.9996 as `0.9996`; past nine digits, `>1`.
    """
    try:
        ratio = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if math.isnan(ratio):
        return ""
    if math.isinf(ratio):
        return "inf" if ratio > 0 else "-inf"
    for digits in range(3, 10):
        text = _significant(ratio, digits)
        if (float(text) > 1) == (ratio > 1):
            return text
    return ">1" if ratio > 1 else "1"


_ratio_text = ratio_text


def _value_text(value: object) -> str:
    """A detail value, unescaped: floats to 6 significant digits, the rest as is."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else str(value)


def _status_rank(status: object) -> int:
    """Failures and errors first, then known issues (xfail), then the rest."""
    return {"fail": 0, "error": 0, "xfail": 1}.get(str(status), 2)


def _check_suffix(row: Mapping[str, object]) -> str:
    check = row.get("check")
    return "" if check is None or (isinstance(check, float) and math.isnan(check)) or str(check) in ("", "forward") \
        else f":{check}"


def _row_key(row: Mapping[str, object]) -> str:
    """`file::id[adapter]` (`[adapter:grad_input]` for a gradient row): the runner's `Row.full_id`."""
    return f"{row['case_file']}::{row['case_id']}[{row['adapter']}{_check_suffix(row)}]"


def _verdict(frame: pd.DataFrame) -> str:
    counts = frame["status"].value_counts()
    bad = int(counts.get("fail", 0) + counts.get("error", 0))
    total = len(frame)
    if bad:
        text = (f"FAIL: {int(counts.get('fail', 0))} failing and {int(counts.get('error', 0))} erroring rows "
                f"out of {total}")
        return f'<div class="verdict bad" id="verdict">{_e(text)}</div>'
    text = f"PASS: no failing or erroring row out of {total} ({int(counts.get('xfail', 0))} known discrepancies)"
    return f'<div class="verdict ok" id="verdict">{_e(text)}</div>'


def _statuses(present: object) -> list[str]:
    """The statuses present, in the page's order (any outside the contract's six at the end)."""
    present = [str(s) for s in present]  # type: ignore[union-attr]
    return [s for s in STATUS_ORDER if s in present] + sorted(s for s in set(present) if s not in STATUS_ORDER)


def _summary(frame: pd.DataFrame) -> str:
    """Rows per adapter and status: native runtimes, then conversion paths under their own heading
    (a wrong answer there may be the converter's), each with the path it takes."""
    table = pd.crosstab(frame["adapter"].astype(str), frame["status"].astype(str))
    statuses = _statuses(table.columns)
    head = "".join(f"<th>{_e(s)}</th>" for s in statuses)
    adapters = frame["adapter"].astype(str)
    versions = frame.groupby(adapters)["framework_version"].first()
    routes = frame.groupby(adapters)["route"].first().astype(str) if "route" in frame else pd.Series(dtype=str)
    groups: dict[bool, list[str]] = {False: [], True: []}
    for adapter, counts in table.iterrows():
        route = routes.get(adapter, "")
        route = "" if pd.isna(route) else str(route)
        cells = "".join(f'<td class="{_e(s) if counts[s] else "none"}">{int(counts[s])}</td>' for s in statuses)
        label = f'{_e(adapter)}<br><span class="small">{_e(route)}</span>' if route else _e(adapter)
        groups[bool(route)].append(f"<tr><td>{label}</td><td>{_e(versions.get(adapter, ''))}</td>{cells}</tr>")
    body = "".join(groups[False])
    if groups[True]:
        body += (f'<tr class="route"><th colspan="{2 + len(statuses)}">conversion paths (exporter or converter, then '
                 f"a runtime)</th></tr>{''.join(groups[True])}")
    return (f'<div class="tablewrap"><table id="summary" class="sticky1"><thead><tr><th>adapter</th><th>version</th>'
            f"{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _diagnoses(frame: pd.DataFrame) -> str:
    """How the failing rows fail: one line per adapter, status and mechanism, with a count and
    one example (the same slip with other window offsets or term counts is one line, not many);
    failures before known issues."""
    failing = frame[frame["status"].isin(["fail", "xfail"]) & (frame["diagnosis"].astype(str) != "")]
    if failing.empty:
        return ""
    groups = group_diagnoses(zip(failing["adapter"].astype(str), failing["status"].astype(str),
                                 failing["diagnosis"].astype(str)))
    body = []
    for g in sorted(groups, key=lambda g: _status_rank(g.status)):
        others = f' <span class="small">(+{g.variants - 1} other details)</span>' if g.variants > 1 else ""
        body.append(f'<tr><td>{_e(g.adapter)}</td><td class="{_e(g.status)}">{_e(g.status)}</td>'
                    f"<td>{_e(g.mechanism)}</td><td>{g.rows}</td><td>{_e(g.example)}{others}</td></tr>")
    return ('<h2>Diagnoses</h2><div class="tablewrap"><table id="diagnoses" class="sticky1"><thead><tr><th>adapter</th>'
            "<th>status</th><th>diagnosis</th><th>rows</th><th>example</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _support(frame: pd.DataFrame) -> str:
    from harness.support import to_html

    table = to_html(frame)
    return f"<h2>Support</h2>{table}" if table else ""


def _matrix(frame: pd.DataFrame) -> str:
    ordered = frame.assign(adapter=frame["adapter"].astype(str), framework=frame["framework"].astype(str))
    adapters = list(dict.fromkeys(ordered.sort_values(["framework", "adapter"])["adapter"]))
    framework_of = dict(zip(ordered["adapter"], ordered["framework"]))
    head = "".join(
        f'<th class="a" data-adapter="{_e(a)}" data-framework="{_e(framework_of[a])}">{_e(a)}</th>' for a in adapters
    )
    cells_by_case: dict[str, dict[str, Mapping[str, object]]] = {}
    for row in records(ordered):
        case = f"{row['case_file']}::{row['case_id']}{_check_suffix(row)}"
        cells_by_case.setdefault(case, {})[row["adapter"]] = row
    body = []
    for case, cells in cells_by_case.items():
        tds = []
        for adapter in adapters:
            row = cells.get(adapter)
            if row is None:
                tds.append(f'<td class="c none" data-adapter="{_e(adapter)}" data-status=""></td>')
                continue
            status = str(row["status"])
            ratio = ratio_text(row.get("tol_ratio"))
            label = ratio if status in ("pass", "fail", "xfail", "xpass") and ratio else status[:5]
            tip = " | ".join(str(v) for v in (status, row.get("message"), row.get("diagnosis"), row.get("known_issue"))
                             if _e(v))
            finite = ratio and ratio not in ("inf", "-inf")
            number = float(row["tol_ratio"]) if finite else (1e300 if ratio == "inf" else -1)  # the sort key
            tds.append(f'<td class="c {_e(status)}" data-adapter="{_e(adapter)}" data-status="{_e(status)}" '
                       f'data-ratio="{number!r}" title="{_e(tip)}">{_e(label)}</td>')
        body.append(f'<tr data-case="{_e(case)}"><td>{_e(case)}</td>{"".join(tds)}</tr>')
    return (f'<div class="matrixwrap"><table id="matrix" class="sticky1"><thead><tr><th>case</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _controls(frame: pd.DataFrame) -> str:
    frameworks = "".join(f"<option>{_e(f)}</option>" for f in sorted(frame["framework"].astype(str).unique()))
    statuses = "".join(f"<option>{_e(s)}</option>" for s in _statuses(set(frame["status"].astype(str))))
    return ('<div class="controls"><label>case <input id="f-case" placeholder="filter by case"></label>'
            f'<label>framework <select id="f-framework"><option value="">all</option>{frameworks}</select></label>'
            f'<label>status <select id="f-status"><option value="">all</option>{statuses}</select></label>'
            '<span class="small"><span id="shown"></span> cases shown; click a header to sort</span></div>')


DETAIL_FIELDS = ["check", "dtype", "input_shape", "kernel_shape", "stride", "padding", "output_padding", "dilation",
                 "groups", "bias", "output_shape", "expected_shape", "actual_shape", "max_abs_err", "max_rel_err",
                 "tol_ratio", "worst_index", "expected_value", "actual_value", "framework_version", "time_ms"]


def _pictured(records: list[dict]) -> set[str]:
    """The rows (failures first, as ordered) that get a picture: the first of each adapter and
    diagnosis, then the others in order, at most MAX_PICTURES, of them MAX_KNOWN_PICTURES known issues."""
    def known(row: dict) -> bool:
        return str(row["status"]) in ("xfail", "xpass")

    first: dict[tuple[str, str, bool], dict] = {}
    for row in records:
        first.setdefault((str(row["adapter"]), str(row.get("diagnosis", "")), known(row)), row)
    drawn: list[str] = []
    known_drawn = 0
    for row in [*first.values(), *records]:
        key = _row_key(row)
        if len(drawn) >= MAX_PICTURES or key in drawn or (known(row) and known_drawn >= MAX_KNOWN_PICTURES):
            continue
        drawn.append(key)
        known_drawn += known(row)
    return set(drawn)


def _details(frame: pd.DataFrame, plots: Mapping[str, dict]) -> str:
    """One section per fail, error, xfail and xpass row: failures and errors first, then known issues."""
    failing = frame[~frame["status"].astype(str).isin(["pass", "unsupported"])]
    if failing.empty:
        return "<p>No failing rows.</p>"
    ranks = failing["status"].map(_status_rank)
    failing = failing.iloc[ranks.reset_index(drop=True).sort_values(kind="stable").index]
    rows = records(failing)
    drawn = _pictured([r for r in rows if _row_key(r) in plots])
    parts = []
    for row in rows:
        key = _row_key(row)
        params = "".join(f"<dt>{f}</dt><dd>{_e(_value_text(row.get(f)))}</dd>" for f in DETAIL_FIELDS
                         if f in row and not (f == "check" and not _check_suffix(row)))
        picture = ""
        if key in drawn:
            try:
                png = difference_png(plots[key], title=key)
            except Exception as error:  # noqa: BLE001 - a crafted or damaged report's plot data: no picture
                picture = f'<p class="small">(no picture: {_e(type(error).__name__)}: {_e(error)})</p>'
            else:
                picture = f'<img alt="expected, actual and difference" src="data:image/png;base64,{png}">'
        diagnosis = f"<p><b>Diagnosis:</b> {_e(row.get('diagnosis'))}</p>" if _e(row.get("diagnosis")) else ""
        known = f"<p><b>Known issue:</b> {_e(row.get('known_issue'))}</p>" if _e(row.get("known_issue")) else ""
        status = _e(row["status"])
        parts.append(
            f'<div class="detail {status}-detail" data-case="{_e(row["case_file"])}::{_e(row["case_id"])}" '
            f'data-framework="{_e(row["framework"])}" data-status="{status}">'
            f'<h3 class="{status}">{status}: {_e(key)}</h3>'
            f"<p class=\"wrap\">{_e(row.get('message'))}</p>{diagnosis}{known}"
            f"<div class=\"body\"><dl>{params}</dl>{picture}</div></div>"
        )
    return "".join(parts)


def page(title: str, body: str, *, script: str = "") -> str:
    """A whole self-contained page with the report's look: `title` is text, `body` HTML."""
    tail = f"<script>{script}</script>" if script else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>{body}
{tail}</body></html>
"""


def environment_table(environment: Mapping[str, str], *, table_id: str = "environment") -> str:
    rows = "".join(f'<tr><th>{_e(k)}</th><td class="wrap">{_e(v)}</td></tr>' for k, v in environment.items())
    return f'<div class="tablewrap"><table id="{_e(table_id)}">{rows}</table></div>'


def render_html(frame: pd.DataFrame, environment: Mapping[str, str], *, plots: Mapping[str, dict] | None = None,
                summary: Mapping[str, object] | None = None,
                environments: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The whole page as one string; `environments` (a merged report's shards) are each shown."""
    tables = (environment_table(environment) if not environments else "".join(
        f"<h3>{_e(name)}</h3>{environment_table(env, table_id=f'environment-{i}')}"
        for i, (name, env) in enumerate(environments.items())))
    partial = environment.get("partial", "")
    banner = f'<div class="verdict bad" id="partial">PARTIAL REPORT: {_e(partial)}</div>' if partial else ""
    warnings = "".join(f'<div class="warn">{_e(w)}</div>' for w in (summary or {}).get("warnings", []))  # type: ignore[union-attr]
    body = f"""<h1>tconv conformance report</h1>
<p class="small head">Transposed convolution, every framework against the NumPy oracle.
{_e(environment.get('time', ''))} &middot; {_e(environment.get('command', ''))}</p>
{banner}{_verdict(frame)}{warnings}
<h2>Summary</h2>{_summary(frame)}{_diagnoses(frame)}{_support(frame)}
<h2>Matrix</h2><p class="small">Cells show the worst error as a multiple of the tolerance, to three
significant digits (&le; 1 passes); hover for the message.</p>{_controls(frame)}{_matrix(frame)}
<h2>Failing rows</h2>{_details(frame, plots or {})}
<h2>Environment</h2>{tables}"""
    return page("tconv report", body, script=SCRIPT)
