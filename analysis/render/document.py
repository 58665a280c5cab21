"""The report as typed blocks: what sections produce and what every renderer (HTML, Markdown, PDF) reads.

A section turns its typed result into a list of these blocks; it never formats HTML. Tables are tidy
DataFrames: a long one is shown collapsed (its first rows, with the full table in tables/<name>.csv).
Figures stay matplotlib Figures until a renderer writes them (SVG inline in HTML, SVG and 300-dpi PNG
files beside it, vector pages in the PDF).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from matplotlib.figure import Figure


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Warning:  # a report block (shadows the builtin only inside this module's importers)
    text: str


@dataclass(frozen=True)
class Table:
    """A table shown in the report; ``preview`` rows are shown inline, the rest only in the CSV.

    The default shows a whole results table (agents x conditions, comparisons x conditions) on paper;
    per-participant and per-class tables set a small preview (or 0) instead."""

    name: str
    frame: pd.DataFrame
    caption: str
    preview: int = 40

    @property
    def collapsed(self) -> bool:
        return len(self.frame) > self.preview


@dataclass(frozen=True)
class FigureBlock:
    name: str
    figure: Figure
    caption: str


Block = Heading | Paragraph | Warning | Table | FigureBlock


def not_applicable(what: str) -> list[Block]:
    """What a section says when its inputs hold no data for it."""
    return [Paragraph(f"{what}: not applicable (no data for it in these inputs).")]


@dataclass
class Document:
    """Title, blocks in order, extra tables written only as CSV, and headline scalars for summary.json."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    scalars: dict[str, Any] = field(default_factory=dict)  # JSON values, read back by key

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        shown = {b.name: b.frame for b in self.blocks if isinstance(b, Table)}
        return {**shown, **self.extra_tables}

    @property
    def figures(self) -> list[FigureBlock]:
        return [b for b in self.blocks if isinstance(b, FigureBlock)]
