"""The report as one self-contained HTML page (figures inline as SVG). No statistics here."""

from __future__ import annotations

import base64
import html

import pandas as pd

from analysis.render.document import Document, FigureBlock, Heading, Paragraph, Table, Warning
from analysis.render.formatting import formatted_rows, safe_name
from analysis.render.style import figure_bytes

CSS = (
    "body{font-family:'Helvetica Neue',Arial,sans-serif;max-width:1100px;margin:2em auto;color:#222;"
    "line-height:1.45;font-size:15px}table{border-collapse:collapse;font-size:12px;margin:.4em 0}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}th{background:#f3f3f3}"
    ".warn{background:#fde2e1;border:2px solid #c0392b;padding:.6em;font-weight:bold}"
    "figure{margin:.8em 0}figure img{max-width:100%}figcaption{font-size:13px;color:#444}"
    "details summary{cursor:pointer;color:#0072B2}.caption{font-style:italic}.tw{overflow-x:auto}"
    "figure img{min-width:min(100%,640px)}"
)


def _table_html(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in formatted_rows(df)
    )
    return f"<div class='tw'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def render_html(doc: Document) -> str:
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(doc.title)}</title>"
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
        elif isinstance(b, FigureBlock):
            data = base64.b64encode(figure_bytes(b.figure, "svg")).decode("ascii")
            out.append(
                f"<figure><img alt='{html.escape(b.caption)}' src='data:image/svg+xml;base64,{data}'>"
                f"<figcaption>{html.escape(b.caption)} (figures/{html.escape(safe_name(b.name))}.svg, "
                ".png)</figcaption></figure>"
            )
    out.append("</body></html>")
    return "\n".join(out)
