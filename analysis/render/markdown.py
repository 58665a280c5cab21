"""The report as Markdown that links the figure files written beside it. No statistics here."""

from __future__ import annotations

import pandas as pd

from analysis.render.document import Document, FigureBlock, Heading, Paragraph, Table, Warning
from analysis.render.formatting import formatted_rows, safe_name


def _table_md(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in formatted_rows(df):
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
