"""Renderers: one Document (analysis.document) to HTML, Markdown or PDF. No statistics here.

HTML is self-contained (figures inline as SVG); Markdown links the figure files; the PDF is laid out
on A4 pages with matplotlib's PdfPages (text, collapsed tables and figures in reading order), so it
needs nothing beyond matplotlib and no network.
"""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from analysis.document import Document, FigureBlock, Heading, Paragraph, Table, Warning
from analysis.style import figure_bytes, journal_style


def fmt(v: object, col: str = "") -> str:
    """Numbers as a reader wants them: p-values with 3 significant digits, others with 3 decimals."""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, float | np.floating):
        if not math.isfinite(float(v)):
            return "–"
        if col.startswith("p_") or col == "p_value":
            # below 1e-15 a normal-tail p-value says nothing more (and underflows to 0)
            return "< 1e-15" if float(v) < 1e-15 else f"{float(v):.3g}"
        if float(v).is_integer() and abs(float(v)) < 1e6 and not col.startswith(("kappa", "acc", "c_")):
            return str(int(v))
        return f"{float(v) + 0.0:.3f}".replace("-0.000", "0.000")  # no negative zero
    if isinstance(v, np.integer):
        return str(int(v))
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _formatted(df: pd.DataFrame) -> list[list[str]]:
    return [[fmt(v, str(c)) for c, v in row.items()] for _, row in df.iterrows()]


# ---------------------------------------------------------------- HTML

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
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in _formatted(df)
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


# ---------------------------------------------------------------- Markdown


def _table_md(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in _formatted(df):
        lines.append("| " + " | ".join(v.replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def render_md(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += [f"## {b.text}", ""]
        elif isinstance(b, Paragraph):
            out += [b.text, ""]
        elif isinstance(b, Warning):
            out += [f"> **{b.text}**", ""]
        elif isinstance(b, Table):
            where = f"tables/{safe_name(b.name)}.csv"
            out += [f"*{b.caption}* ({where})", ""]
            if b.preview:
                out += [_table_md(b.frame.head(b.preview)), ""]
            if b.collapsed:
                out += [f"*First {b.preview} of {len(b.frame)} rows; all of them in {where}.*", ""]
        elif isinstance(b, FigureBlock):
            out += [f"![{b.caption}](figures/{safe_name(b.name)}.svg)", "", f"*{b.caption}*", ""]
    return "\n".join(out)


# ---------------------------------------------------------------- PDF

A4 = (8.27, 11.69)
MARGIN = 0.7


class _PdfLayout:
    """Flows blocks top to bottom over A4 pages."""

    def __init__(self, pdf: PdfPages) -> None:
        self.pdf = pdf
        self.page: Figure | None = None
        self.y = 0.0
        self.width = A4[0] - 2 * MARGIN

    def _new_page(self) -> None:
        self.flush()
        self.page = Figure(figsize=A4)
        FigureCanvasAgg(self.page)
        self.y = MARGIN

    def flush(self) -> None:
        if self.page is not None:
            self.pdf.savefig(self.page)
            self.page = None

    def _room(self, height: float) -> None:
        if self.page is None or self.y + height > A4[1] - MARGIN:
            self._new_page()

    def text(
        self,
        text: str,
        size: float = 9,
        weight: str = "normal",
        family: str = "sans-serif",
        wrap: int | None = None,
        colour: str = "#222222",
    ) -> None:
        chars = wrap or int(self.width * 72 / (size * (0.6 if weight == "bold" else 0.54)))
        lines = []
        for para in text.split("\n"):
            lines += textwrap.wrap(para, chars) or [""]
        step = size * 1.4 / 72
        for line in lines:
            self._room(step)
            assert self.page is not None
            self.page.text(
                MARGIN / A4[0],
                1 - (self.y + step * 0.8) / A4[1],
                line,
                fontsize=size,
                fontweight=weight,
                family=family,
                color=colour,
                va="baseline",
            )
            self.y += step
        self.y += step * 0.4

    def table(self, block: Table) -> None:
        df = block.frame.head(block.preview)
        rows = [list(map(str, df.columns)), *_formatted(df)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        size = 6.5
        budget = int(self.width * 72 / (size * 0.6))
        shown, total = [], 0
        for i, w in enumerate(widths):
            w = min(w, 28)
            if total + w + 2 > budget:
                break
            shown.append((i, w))
            total += w + 2
        lines = ["  ".join(r[i][:w].rjust(w) for i, w in shown) for r in rows]
        note = []
        if len(shown) < len(widths):
            note.append(f"{len(widths) - len(shown)} more columns")
        if block.collapsed:
            shown_rows = f"first {block.preview} of " if block.preview else "all "
            note.append(f"{shown_rows}{len(block.frame)} rows")
        caption = block.caption + (
            f" ({'; '.join(note)} in tables/{safe_name(block.name)}.csv)" if note else ""
        )
        self.text(caption, size=8, weight="bold")
        if block.preview:
            self.text("\n".join(lines), size=size, family="monospace", wrap=10_000)

    def figure(self, block: FigureBlock) -> None:
        png = figure_bytes(block.figure, "png")
        img = mpimg.imread(io.BytesIO(png), format="png")
        h_px, w_px = img.shape[:2]
        w_in = min(self.width, w_px / 300)
        h_in = h_px / w_px * w_in
        max_h = A4[1] - 2 * MARGIN - 0.6
        if h_in > max_h:
            w_in, h_in = w_in * max_h / h_in, max_h
        self._room(h_in + 0.4)
        assert self.page is not None
        ax = self.page.add_axes((MARGIN / A4[0], 1 - (self.y + h_in) / A4[1], w_in / A4[0], h_in / A4[1]))
        ax.imshow(img, interpolation="none")  # embedded as drawn, no resampling
        ax.set_axis_off()
        self.y += h_in + 0.08
        self.text(block.caption, size=8, colour="#444444")


def render_pdf(doc: Document, path: Path) -> Path:
    """Write the whole report as a PDF beside the HTML (same blocks, same order)."""
    with journal_style(), PdfPages(path, metadata={"Title": doc.title, "Creator": "analysis.compare"}) as pdf:
        lay = _PdfLayout(pdf)
        lay.text(doc.title, size=14, weight="bold")
        for b in doc.blocks:
            if isinstance(b, Heading):
                lay._room(0.6)
                lay.y += 0.1
                lay.text(b.text, size=12, weight="bold")
            elif isinstance(b, Paragraph):
                lay.text(b.text)
            elif isinstance(b, Warning):
                lay.text(b.text, weight="bold", colour="#B03A2E")
            elif isinstance(b, Table):
                lay.table(b)
            elif isinstance(b, FigureBlock):
                lay.figure(b)
        lay.flush()
    return path
