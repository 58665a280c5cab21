"""The report as one self-contained HTML page (figures inline as SVG). No statistics here."""

from __future__ import annotations

import base64
import html

import pandas as pd

from analysis.render.document import Block, Document, FigureBlock, Heading, Paragraph, Table, Warning
from analysis.render.formatting import formatted_rows, safe_name
from analysis.render.style import figure_bytes

PORTRAIT_MM = 186.0
"""The printed width of a portrait A4 page inside its 12 mm margins; a table wider goes landscape."""
CELL_CHAR_MM = 7 * 0.556 * 25.4 / 72
"""One character of a printed cell: 7 pt Arial (Liberation Sans), whose digits are 0.556 em wide."""
HEAD_CHAR_MM = 7 * 0.55 * 25.4 / 72
"""One character of a printed header (bold letters and underscores, measured in Chromium's print)."""
CELL_PAD_MM = 2.0
"""A cell's 3 px of padding on each side and its 1 px border, in millimetres at 96 px per inch."""
TEXT_MIN_MM = 7 * 10 * 25.4 / 72
"""A column of words wraps down to 10 em (td.text's min-width)."""
HEAD_MIN_MM = 7 * 4 * 25.4 / 72
"""No column is narrower than 4 em (th's min-width)."""

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
details summary{cursor:pointer;color:#0072B2}.print-only{display:none}.caption{font-style:italic}
@page{size:A4;margin:12mm}
@page wide{size:A4 landscape;margin:10mm}
@media print{
 body{max-width:none;margin:0;padding:0;font-size:10pt}
 .tw{overflow:visible;max-height:none;border:none}
 table{font-size:7pt;width:100%;table-layout:auto}
 td,th{max-width:none;position:static;padding:1px 3px;white-space:normal;overflow-wrap:normal}
 td.text{overflow-wrap:anywhere}
 thead{display:table-header-group}tr{break-inside:avoid}
 div.wide{page:wide}.print-only{display:block;font-size:8pt;color:#444}
 details>summary{display:none}details:not([open])>*:not(summary){display:none}
 figure{break-inside:avoid}figure img{min-width:0;max-height:180mm}
 h2{break-after:avoid}.caption{break-after:avoid}
}
"""


def _is_text(values: pd.Series) -> bool:
    """A column of words (names, notes), which wraps, rather than numbers, which do not."""
    longest = values.astype(str).str.len().max() if len(values) else 0
    words = values.dtype == object or pd.api.types.is_string_dtype(values)
    return words and bool(longest and longest > 24)


def print_width_mm(df: pd.DataFrame) -> float:
    """About how wide ``df`` prints at ease: each column as wide as its header's longest word or its
    cells' longest word (numbers never wrap), a column of sentences 10 em (it wraps).

    It decides landscape pages by what a table holds, not by its number of columns: ten short
    columns fit a portrait page, four columns of long identifiers may not. A table wider than even a
    landscape page still prints whole: its headers wrap after underscores and its words at spaces.
    """
    rows = formatted_rows(df)
    width = 0.0
    for i, col in enumerate(df.columns):
        head = _longest_word(str(col)) * HEAD_CHAR_MM
        cells = max((_longest_word(r[i]) for r in rows), default=0) * CELL_CHAR_MM
        if _is_text(df[col]):  # sentences wrap, and a long word breaks anywhere
            cells = TEXT_MIN_MM
        width += max(head, cells, HEAD_MIN_MM) + CELL_PAD_MM
    return width


def _longest_word(text: str) -> int:
    return max((len(w) for w in text.split()), default=0)


def _printed(b: Table) -> pd.DataFrame:
    """The rows a table shows on paper: all, or its preview when collapsed (the rest is in its CSV)."""
    return b.frame.head(b.preview) if b.collapsed else b.frame


def _is_wide(b: Block) -> bool:
    return isinstance(b, Table) and len(_printed(b)) > 0 and print_width_mm(_printed(b)) > PORTRAIT_MM


def landscape_runs(blocks: list[Block]) -> list[tuple[int, int]]:
    """(first, last) block indices to print together on landscape pages: from a wide table to the
    last wide table after it with only text and tables between (no figure), so consecutive wide
    tables share pages instead of each taking its own."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(blocks):
        if not _is_wide(blocks[i]):
            i += 1
            continue
        last = j = i
        while j + 1 < len(blocks) and not isinstance(blocks[j + 1], FigureBlock):
            j += 1
            if _is_wide(blocks[j]):
                last = j
        runs.append((i, last))
        i = last + 1
    return runs


def _table_html(df: pd.DataFrame) -> str:
    # a name may wrap after an underscore (<wbr>) where its column is too narrow, never inside a word
    head = "".join(f"<th scope='col'>{html.escape(str(c)).replace('_', '_<wbr>')}</th>" for c in df.columns)
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
    starts = dict(landscape_runs(doc.blocks))
    ends = set(starts.values())
    for k, b in enumerate(doc.blocks):
        if k in starts:
            out.append("<div class='wide'>")
        out.append(_block_html(b))
        if k in ends:
            out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out)


def _block_html(b: Block) -> str:
    if isinstance(b, Heading):
        return f"<h2>{html.escape(b.text)}</h2>"
    if isinstance(b, Paragraph):
        return f"<p>{html.escape(b.text)}</p>"
    if isinstance(b, Warning):
        return f"<p class='warn'>{html.escape(b.text)}</p>"
    if isinstance(b, FigureBlock):
        data = base64.b64encode(figure_bytes(b.figure, "svg")).decode("ascii")
        return (
            f"<figure><img alt='{html.escape(b.caption)}' src='data:image/svg+xml;base64,{data}'>"
            f"<figcaption>{html.escape(b.caption)} (figures/{html.escape(safe_name(b.name))}.svg, "
            ".png)</figcaption></figure>"
        )
    where = f"tables/{safe_name(b.name)}.csv"
    out = ["<section>", f"<p class='caption'>{html.escape(b.caption)} ({html.escape(where)})</p>"]
    if b.collapsed:
        if b.preview:
            out.append(_table_html(b.frame.head(b.preview)))
        out.append(
            f"<details><summary>all {len(b.frame)} rows (also in {html.escape(where)})</summary>"
            f"{_table_html(b.frame)}</details><p class='print-only'>{_print_note(b, where)}</p>"
        )
    else:
        out.append(_table_html(b.frame))
    out.append("</section>")
    return "\n".join(out)


def _print_note(b: Table, where: str) -> str:
    """What paper says in place of a collapsed table's full copy (which print hides)."""
    shown = f"the first {b.preview} of {len(b.frame)} rows shown" if b.preview else f"{len(b.frame)} rows"
    return f"{shown}; every row is in {html.escape(where)}."
