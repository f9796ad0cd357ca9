"""`report.html`: one self-contained page (no network, no external scripts or fonts).

It opens with the verdict, then the adapter x status summary, the case x adapter matrix coloured
by status (each cell shows the error-to-tolerance ratio; its tooltip the message), filters by
framework, status and case, and one detail section per failing row with the parameters, the
shapes, the diagnosis and, for 1-D and 2-D cases, a picture of expected, actual and difference.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import pandas as pd

from harness.diagnosis import group_diagnoses
from harness.pictures import difference_png

STATUS_ORDER = ["fail", "error", "xpass", "xfail", "unsupported", "pass"]
BAD = ("fail", "error")
MAX_PICTURES = 80
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 24px 48px;color:#222}
h1{margin:16px 0 4px}h2{margin-top:28px;border-bottom:1px solid #ddd}
.verdict{padding:12px 16px;border-radius:6px;font-size:18px;font-weight:600;margin:12px 0}
.verdict.ok{background:#e3f6e5;color:#14532d}.verdict.bad{background:#fde2e2;color:#7f1d1d}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
th{background:#f4f4f5;position:sticky;top:0;cursor:pointer}
#matrix td.c{text-align:center;font-size:12px;min-width:44px;cursor:default}
.pass{background:#c9f0d0}.fail{background:#f7a8a8}.error{background:#f5c26b}.xfail{background:#d9d2f5}
.xpass{background:#f9e79f}.unsupported{background:#eceff1;color:#777}.none{background:#fff}
.warn{background:#fff7d6;border:1px solid #f0d98a;padding:6px 10px;border-radius:4px;margin:6px 0}
.controls{margin:8px 0;display:flex;gap:12px;flex-wrap:wrap;align-items:center}
.detail{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:12px 0}
.detail h3{margin:4px 0 8px;font-size:15px}.detail img{max-width:100%;display:block}
.detail .body{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
.detail dl{display:grid;grid-template-columns:auto auto auto auto;gap:1px 10px;margin:0;font-size:13px}
.detail dt{font-weight:600;color:#555}.detail dd{margin:0}
code{background:#f4f4f5;padding:0 3px;border-radius:3px}.small{color:#666;font-size:12px}
.matrixwrap{overflow:auto;max-height:75vh;border:1px solid #ddd}
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
    return html.escape("" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value))


def _ratio_text(value: object) -> str:
    """The error-to-tolerance ratio for a cell: `0.02`, `3.1`, `>1e6` (far off), `inf`."""
    try:
        ratio = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if math.isnan(ratio):
        return ""
    if math.isinf(ratio):
        return "inf"
    return ">1e6" if ratio > 1e6 else f"{ratio:.2g}"


def _value_text(value: object) -> str:
    """A detail value, unescaped: floats to 6 significant digits, the rest as is."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else str(value)


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


def _summary(frame: pd.DataFrame) -> str:
    table = pd.crosstab(frame["adapter"], frame["status"])
    statuses = [s for s in STATUS_ORDER if s in table.columns]
    head = "".join(f"<th>{_e(s)}</th>" for s in statuses)
    versions = frame.groupby("adapter")["framework_version"].first()
    body = []
    for adapter, counts in table.iterrows():
        cells = "".join(f'<td class="{s if counts[s] else "none"}">{int(counts[s])}</td>' for s in statuses)
        body.append(f"<tr><td>{_e(adapter)}</td><td>{_e(versions.get(adapter, ''))}</td>{cells}</tr>")
    return (f'<table id="summary"><thead><tr><th>adapter</th><th>version</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _diagnoses(frame: pd.DataFrame) -> str:
    """How the failing rows fail: one line per adapter, status and mechanism, with a count and
    one example (the same slip with other window offsets or term counts is one line, not many)."""
    failing = frame[frame["status"].isin(["fail", "xfail"]) & (frame["diagnosis"].astype(str) != "")]
    if failing.empty:
        return ""
    groups = group_diagnoses(zip(failing["adapter"].astype(str), failing["status"].astype(str),
                                 failing["diagnosis"].astype(str)))
    body = []
    for g in groups:
        others = f' <span class="small">(+{g.variants - 1} other details)</span>' if g.variants > 1 else ""
        body.append(f'<tr><td>{_e(g.adapter)}</td><td class="{_e(g.status)}">{_e(g.status)}</td>'
                    f"<td>{_e(g.mechanism)}</td><td>{g.rows}</td><td>{_e(g.example)}{others}</td></tr>")
    return ('<h2>Diagnoses</h2><table id="diagnoses"><thead><tr><th>adapter</th><th>status</th><th>diagnosis</th>'
            f"<th>rows</th><th>example</th></tr></thead><tbody>{''.join(body)}</tbody></table>")


def _matrix(frame: pd.DataFrame) -> str:
    adapters = list(dict.fromkeys(frame.sort_values(["framework", "adapter"])["adapter"]))
    framework_of = dict(zip(frame["adapter"], frame["framework"]))
    head = "".join(
        f'<th class="a" data-adapter="{_e(a)}" data-framework="{_e(framework_of[a])}">{_e(a)}</th>' for a in adapters
    )
    cells_by_case: dict[str, dict[str, pd.Series]] = {}
    for _, row in frame.iterrows():
        cells_by_case.setdefault(f"{row['case_file']}::{row['case_id']}", {})[row["adapter"]] = row
    body = []
    for case, cells in cells_by_case.items():
        tds = []
        for adapter in adapters:
            row = cells.get(adapter)
            if row is None:
                tds.append(f'<td class="c none" data-adapter="{_e(adapter)}" data-status=""></td>')
                continue
            status = row["status"]
            ratio = _ratio_text(row["tol_ratio"])
            label = ratio if status in ("pass", "fail", "xfail", "xpass") and ratio else status[:5]
            tip = " | ".join(str(v) for v in (status, row["message"], row["diagnosis"], row["known_issue"]) if _e(v))
            number = row["tol_ratio"] if ratio and ratio != "inf" else (1e9 if ratio == "inf" else -1)
            tds.append(f'<td class="c {status}" data-adapter="{_e(adapter)}" data-status="{status}" '
                       f'data-ratio="{number}" title="{_e(tip)}">{_e(label)}</td>')
        body.append(f'<tr data-case="{_e(case)}"><td>{_e(case)}</td>{"".join(tds)}</tr>')
    return (f'<div class="matrixwrap"><table id="matrix"><thead><tr><th>case</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _controls(frame: pd.DataFrame) -> str:
    frameworks = "".join(f"<option>{_e(f)}</option>" for f in sorted(frame["framework"].unique()))
    statuses = "".join(f"<option>{s}</option>" for s in STATUS_ORDER if s in set(frame["status"]))
    return ('<div class="controls"><label>case <input id="f-case" placeholder="filter by case"></label>'
            f'<label>framework <select id="f-framework"><option value="">all</option>{frameworks}</select></label>'
            f'<label>status <select id="f-status"><option value="">all</option>{statuses}</select></label>'
            '<span class="small"><span id="shown"></span> cases shown; click a header to sort</span></div>')


DETAIL_FIELDS = ["dtype", "input_shape", "kernel_shape", "stride", "padding", "output_padding", "dilation",
                 "groups", "bias", "output_shape", "expected_shape", "actual_shape", "max_abs_err", "max_rel_err",
                 "tol_ratio", "worst_index", "expected_value", "actual_value", "framework_version", "time_ms"]


def _details(frame: pd.DataFrame, plots: Mapping[str, dict]) -> str:
    failing = frame[frame["status"].isin(["fail", "error", "xfail", "xpass"])]
    if failing.empty:
        return "<p>No failing rows.</p>"
    parts, pictures = [], 0
    for _, row in failing.iterrows():
        key = f"{row['case_file']}::{row['case_id']}[{row['adapter']}]"
        params = "".join(f"<dt>{f}</dt><dd>{_e(_value_text(row.get(f)))}</dd>" for f in DETAIL_FIELDS if f in row)
        picture = ""
        if key in plots and pictures < MAX_PICTURES:
            png = difference_png(plots[key], title=key)
            picture = f'<img alt="expected, actual and difference" src="data:image/png;base64,{png}">'
            pictures += 1
        diagnosis = f"<p><b>Diagnosis:</b> {_e(row['diagnosis'])}</p>" if _e(row["diagnosis"]) else ""
        known = f"<p><b>Known issue:</b> {_e(row['known_issue'])}</p>" if _e(row["known_issue"]) else ""
        parts.append(
            f'<div class="detail {row["status"]}-detail" data-case="{_e(row["case_file"])}::{_e(row["case_id"])}" '
            f'data-framework="{_e(row["framework"])}" data-status="{_e(row["status"])}">'
            f'<h3 class="{row["status"]}">{_e(row["status"])}: {_e(key)}</h3>'
            f"<p>{_e(row['message'])}</p>{diagnosis}{known}<div class=\"body\"><dl>{params}</dl>{picture}</div></div>"
        )
    return "".join(parts)


def render_html(frame: pd.DataFrame, environment: Mapping[str, str], *, plots: Mapping[str, dict] | None = None,
                summary: Mapping[str, object] | None = None) -> str:
    """The whole page as one string."""
    env_rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in environment.items())
    warnings = "".join(f'<div class="warn">{_e(w)}</div>' for w in (summary or {}).get("warnings", []))  # type: ignore[union-attr]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tconv report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body><h1>tconv conformance report</h1>
<p class="small">Transposed convolution, every framework against the NumPy oracle.
{_e(environment.get('time', ''))} &middot; {_e(environment.get('command', ''))}</p>
{_verdict(frame)}{warnings}
<h2>Summary</h2>{_summary(frame)}{_diagnoses(frame)}
<h2>Matrix</h2><p class="small">Cells show the worst error as a multiple of the tolerance
(&le; 1 passes); hover for the message.</p>{_controls(frame)}{_matrix(frame)}
<h2>Failing rows</h2>{_details(frame, plots or {})}
<h2>Environment</h2><table id="environment">{env_rows}</table>
<script>{SCRIPT}</script></body></html>
"""

