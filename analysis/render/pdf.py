"""The report as a PDF laid out on A4 pages with matplotlib's PdfPages (needs nothing beyond matplotlib)."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import matplotlib.image as mpimg
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from analysis.render.document import Document, FigureBlock, Heading, Paragraph, Table, Warning
from analysis.render.formatting import formatted_rows, safe_name
from analysis.render.style import figure_bytes, journal_style

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
        rows = [list(map(str, df.columns)), *formatted_rows(df)]
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
