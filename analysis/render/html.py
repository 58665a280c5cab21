"""The report as one self-contained HTML page (figures inline as SVG). No statistics here."""

from __future__ import annotations

import base64
import html

import pandas as pd

from analysis.render.document import Document, FigureBlock, Heading, Paragraph, Table, Warning
from analysis.render.formatting import formatted_rows, safe_name
from analysis.render.style import figure_bytes

WIDE_COLUMNS = 9
"""Tables with more columns than this are printed on landscape pages (named page `wide`)."""

CSS = """
body{font-family:'Helvetica Neue',Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
 color:#222;line-height:1.45;font-size:15px}
table{border-collapse:separate;border-spacing:0;font-size:12px;margin:0}
td,th{border-right:1px solid #ddd;border-bottom:1px solid #ddd;padding:2px 6px;text-align:right;
 vertical-align:top}
td{white-space:nowrap;max-width:28em;overflow-wrap:anywhere}
td.text{white-space:normal;text-align:left;min-width:10em}
th{background:#f3f3f3;white-space:normal;min-width:4em;max-width:10em;position:sticky;top:0;z-index:1}
.tw{overflow:auto;max-height:32em;border:1px solid #ccc;margin:.4em 0 1em}
.warn{background:#fde2e1;border:2px solid #c0392b;padding:.6em;font-weight:bold}
figure{margin:.8em 0}figure img{max-width:100%;min-width:min(100%,640px)}
figcaption{font-size:13px;color:#444}
details summary{cursor:pointer;color:#0072B2}.caption{font-style:italic}
@page{size:A4;margin:12mm}
@page wide{size:A4 landscape;margin:10mm}
@media print{
 body{max-width:none;margin:0;padding:0;font-size:10pt}
 .tw{overflow:visible;max-height:none;border:none}
 table{font-size:7pt;width:100%;table-layout:auto}
 td,th{white-space:normal;max-width:none;position:static;padding:1px 3px}
 thead{display:table-header-group}tr{break-inside:avoid}
 section.wide{page:wide}
 details>summary{display:none}details:not([open])>*:not(summary){display:none}
 figure{break-inside:avoid}figure img{min-width:0;max-height:180mm}
 h2{break-after:avoid}.caption{break-after:avoid}
}
"""


def _is_text(values: pd.Series) -> bool:
    """A column of words (names, notes), which wraps, rather than numbers, which do not."""
    longest = values.astype(str).str.len().max() if len(values) else 0
    return values.dtype == object and bool(longest and longest > 24)


def _table_html(df: pd.DataFrame) -> str:
    head = "".join(f"<th scope='col'>{html.escape(str(c))}</th>" for c in df.columns)
    text = [_is_text(df[c]) for c in df.columns]
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='text'>{html.escape(v)}</td>" if t else f"<td>{html.escape(v)}</td>"
            for v, t in zip(row, text, strict=True)
        )
        + "</tr>"
        for row in formatted_rows(df)
    )
    return f"<div class='tw'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def render_html(doc: Document) -> str:
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(doc.title)}</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<style>{CSS}</style></head><body><h1>{html.escape(doc.title)}</h1>"
    ]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out.append(f"<h2>{html.escape(b.text)}</h2>")
        elif isinstance(b, Paragraph):
            out.append(f"<p>{html.escape(b.text)}</p>")
        elif isinstance(b, Warning):
            out.append(f"<p class='warn'>{html.escape(b.text)}</p>")
        elif isinstance(b, Table):
            where = f"tables/{safe_name(b.name)}.csv"
            wide = " class='wide'" if len(b.frame.columns) > WIDE_COLUMNS else ""
            out.append(f"<section{wide}>")
            out.append(f"<p class='caption'>{html.escape(b.caption)} ({html.escape(where)})</p>")
            if b.collapsed:
                if b.preview:
                    out.append(_table_html(b.frame.head(b.preview)))
                out.append(
                    f"<details><summary>all {len(b.frame)} rows (also in {html.escape(where)})</summary>"
                    f"{_table_html(b.frame)}</details>"
                )
            else:
                out.append(_table_html(b.frame))
            out.append("</section>")
        elif isinstance(b, FigureBlock):
            data = base64.b64encode(figure_bytes(b.figure, "svg")).decode("ascii")
            out.append(
                f"<figure><img alt='{html.escape(b.caption)}' src='data:image/svg+xml;base64,{data}'>"
                f"<figcaption>{html.escape(b.caption)} (figures/{html.escape(safe_name(b.name))}.svg, "
                ".png)</figcaption></figure>"
            )
    out.append("</body></html>")
    return "\n".join(out)
