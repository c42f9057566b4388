"""One self-contained HTML file for an evaluation or a benchmark: images embedded as base64, no
network, no JavaScript. Plain strings with html.escape: the page is small and fixed, and a
template engine would be one more dependency for it."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from dfdetect.evaluation.metrics import ALL_METRICS, METRIC_TITLES

if TYPE_CHECKING:
    from dfdetect.evaluation.evaluate import EvalReport
    from dfdetect.report.figures import Mistake

#: Interval columns other parts of dfdetect may add to results rows (bootstrap CIs).
INTERVALS = {"auc": ("auc_lo", "auc_hi"), "frame_auc": ("fauc_lo", "fauc_hi")}
LEADING = ("model", "loss", "set", "ratio", "n_real", "n_fake", "n_skipped")

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:1.5em;margin-bottom:0} h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}
.sub{color:#666;margin-top:4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f3f3f3} td.l,th.l{text-align:left}
tr.repeats td{background:#fafaf0}
.ci{color:#777;font-size:11px}
td.wrap{white-space:normal;word-break:break-all;max-width:900px}
.figs img{max-width:48%;margin-right:1%;vertical-align:top}
.cm{display:inline-block;margin:0 18px 12px 0;vertical-align:top}
.cm td.hit{background:#e6f4e6} .cm td.miss{background:#fbe9e9}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px;width:360px;font-size:13px}
.card img{height:112px;margin:2px 4px 2px 0;vertical-align:top;image-rendering:auto}
.card img.wide{height:auto;width:100%}
.note{color:#a60;font-size:12px}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def metric_cell(row: Mapping[str, Any], metric: str) -> str:
    """'0.912 ± 0.010' (repeats), then a '[lo, hi]' interval when the row has one."""
    from dfdetect.report.tables import fmt_value

    value = _num(row.get(metric))
    std = _num(row.get(f"{metric}_std")) if row.get("kind") == "repeats" else None
    text = esc(fmt_value(value, std))
    lo_key, hi_key = INTERVALS.get(metric, (f"{metric}_lo", f"{metric}_hi"))
    lo, hi = _num(row.get(lo_key)), _num(row.get(hi_key))
    if lo is not None and hi is not None:
        text += f' <span class="ci">[{lo:.3f}, {hi:.3f}]</span>'
    return text


def metrics_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The results rows (results.csv) as an HTML table, one row per set or repeat summary."""
    if not rows:
        return "<p>No results.</p>"
    lead = [c for c in LEADING if any(c in r for r in rows)]
    metrics = [m for m in ALL_METRICS if any(m in r for r in rows)]
    head = "".join(f'<th class="l">{esc(c)}</th>' if c in ("model", "loss", "set", "ratio") else f"<th>{esc(c)}</th>"
                   for c in lead)
    head += "".join(f"<th>{esc(METRIC_TITLES.get(m, m))}</th>" for m in metrics) + '<th class="l">note</th>'
    body = []
    for r in rows:
        repeats = r.get("kind") == "repeats"
        cells = []
        for c in lead:
            v = r.get(c, "")
            if c == "set" and repeats:
                v = f"{v} (×{int(_num(r.get('repeats')) or 0)})"
            if c in ("n_real", "n_fake", "n_skipped") and _num(v) is not None:
                v = int(_num(v))
            elif _num(v) is None and not isinstance(v, str):
                v = ""
            cells.append(f'<td class="l">{esc(v)}</td>' if c in ("model", "loss", "set", "ratio") else f"<td>{esc(v)}</td>")
        cells += [f"<td>{metric_cell(r, m)}</td>" for m in metrics]
        note = r.get("note")
        cells.append(f'<td class="l">{esc(note) if isinstance(note, str) else ""}</td>')
        body.append(f'<tr class="{"repeats" if repeats else "set"}">' + "".join(cells) + "</tr>")
    notes = []
    if any(r.get("kind") == "repeats" for r in rows):
        notes.append("(×k): mean ± std over k repeats.")
    if any(_num(r.get(lo)) is not None for r in rows for lo, _ in INTERVALS.values()):
        notes.append("[lo, hi]: the AUC's interval as results.csv gives it.")
    legend = f'<p class="sub">{esc(" ".join(notes))}</p>' if notes else ""
    return f"<table><tr>{head}</tr>{''.join(body)}</table>" + legend


def kv_table(items: Mapping[str, Any]) -> str:
    rows = []
    for k, v in items.items():
        text = json.dumps(v, sort_keys=True, default=str) if isinstance(v, (dict, list, tuple)) else str(v)
        rows.append(f'<tr><th class="l">{esc(k)}</th><td class="l wrap">{esc(text)}</td></tr>')
    return "<table>" + "".join(rows) + "</table>"


def confusion_html(title: str, cm: Mapping[str, int], threshold: float) -> str:
    return (f'<div class="cm"><b>{esc(title)}</b><table>'
            f'<tr><th></th><th>called fake</th><th>called real</th></tr>'
            f'<tr><th class="l">fake</th><td class="hit">{cm["tp"]}</td><td class="miss">{cm["fn"]}</td></tr>'
            f'<tr><th class="l">real</th><td class="miss">{cm["fp"]}</td><td class="hit">{cm["tn"]}</td></tr>'
            f'</table><span class="sub">P(fake) ≥ {threshold:g} is called fake</span></div>')


def mistake_card(m: "Mistake") -> str:
    wide = 'class="wide" '
    imgs = "".join(f'<img {wide if "timeline" in cap else ""}src="{uri}" alt="{esc(cap)}" title="{esc(cap)}">'
                   for cap, uri in m.images.items())
    note = f'<div class="note">{esc(m.note)}</div>' if m.note else ""
    return (f'<div class="card"><b>{esc(m.kind)}</b> · P(fake) {m.score:.3f} · label {"fake" if m.label else "real"}'
            f'<br><span class="sub">{esc(m.video_id)} · {esc(m.set_name)}</span><br>{imgs}{note}</div>')


def render_page(title: str, subtitle: str, sections: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{esc(h)}</h2>\n{content}\n" for h, content in sections)
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
            f'<h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>\n{body}</body></html>\n')


def build_report(
    reports: Mapping[str, "EvalReport"],
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str,
    config: Mapping[str, Any],
    threshold: float,
    figures: Sequence[tuple[str, str]] = (),
    explainers: Mapping[str, Callable] | None = None,
    mistakes_per_kind: int = 4,
) -> str:
    """The whole page: config, data, metrics, figures, confusion matrices and confident mistakes.

    `rows`: the results rows (what results.csv holds); `figures`: (caption, data URI) pairs;
    `explainers`: per report label, a function face stack -> StackExplanation for heat maps."""
    from dfdetect import __version__
    from dfdetect.report.figures import confident_mistakes, confusion, illustrate

    data_rows, seen = [], set()
    for rep in reports.values():
        for s in rep.sets:
            if str(s.path) not in seen:
                seen.add(str(s.path))
                data_rows.append(f'<tr><td class="l">{esc(s.name)}</td><td class="l">{esc(s.path)}</td>'
                                 f'<td>{int((s.labels == 0).sum())}</td><td>{int((s.labels == 1).sum())}</td>'
                                 f'<td>{s.n_skipped}</td></tr>')
    data = ('<table><tr><th class="l">set</th><th class="l">csv</th><th>real scored</th><th>fake scored</th>'
            "<th>skipped</th></tr>" + "".join(data_rows) + "</table>")
    cms = []
    for label, rep in reports.items():
        groups: set[str] = set()
        for s in rep.sets:
            if s.group not in groups:  # repeats: the first draw stands for its ratio
                groups.add(s.group)
                cms.append(confusion_html(f"{label} · {s.name}" if len(reports) > 1 else s.name, confusion(s, threshold), threshold))
    mistakes = confident_mistakes(dict(reports), threshold, mistakes_per_kind)
    for m in mistakes:
        label = next((k for k in reports if len(reports) == 1 or m.set_name.startswith(f"{k} · ")), None)
        illustrate(m, threshold, (explainers or {}).get(label) if label else None)
    cards = "".join(mistake_card(m) for m in mistakes) or "<p>No mistakes at this threshold.</p>"
    figs = "".join(f'<img src="{uri}" alt="{esc(cap)}" title="{esc(cap)}">' for cap, uri in figures)
    sections = [
        ("Run", kv_table(config)),
        ("Data tested on", data),
        ("Metrics per test set", metrics_table(rows)),
        ("ROC curves and AUC against ratio", f'<div class="figs">{figs}</div>'),
        (f"Confusion matrices at threshold {threshold:g}", "".join(cms)),
        ("Most confident mistakes", '<p class="sub">Reals with the highest P(fake) that were called fake, and '
         "fakes with the lowest P(fake) that got through: the face of the most telling frame, its Grad-CAM "
         "heat map where the model has a layer to explain, and the per-frame score timeline.</p>"
         f'<div class="cards">{cards}</div>'),
    ]
    return render_page(title, f"dfdetect {__version__}", sections)


def write_report(path: str | Path, page: str) -> Path:
    """Write atomically, so a half-written report never stands in for a finished one."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".part")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(p)
    return p


def add_section(path: str | Path, key: str, heading: str, content: str, title: str) -> Path:
    """Put a section into the report at `path`: replace the one marked `key`, else insert it before
    `</body>` of an existing dfdetect page, else write a new page holding only it (`title`)."""
    p = Path(path)
    start, end = f"<!-- dfdetect:{key} -->", f"<!-- /dfdetect:{key} -->"
    block = f"{start}<h2>{esc(heading)}</h2>\n{content}\n{end}\n"
    page = p.read_text(encoding="utf-8") if p.is_file() else ""
    if start in page and end in page:
        page = page[: page.index(start)] + block + page[page.index(end) + len(end) + 1:]
    elif "</body>" in page:
        page = page.replace("</body>", block + "</body>", 1)
    else:
        from dfdetect import __version__

        page = render_page(title, f"dfdetect {__version__}", []).replace("</body>", block + "</body>", 1)
    return write_report(p, page)
