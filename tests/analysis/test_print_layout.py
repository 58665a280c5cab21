"""How the report prints: landscape pages chosen by a table's real width and shared by consecutive
wide tables, and a long table printed once (its preview), not twice."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from analysis.render.document import Document, Paragraph, Table
from analysis.render.html import PORTRAIT_MM, landscape_runs, print_width_mm
from analysis.render.pdf import find_chromium
from analysis.report import write_outputs
from tests.conftest import require_service


def _ids(n_rows: int, n_cols: int, width: int) -> pd.DataFrame:
    """Columns of unbreakable identifiers ``width`` characters long."""
    return pd.DataFrame({f"id{c}": [f"{c}{r:0{width - 1}d}" for r in range(n_rows)] for c in range(n_cols)})


def test_landscape_is_decided_by_width_not_by_column_count() -> None:
    # ten columns of one-digit numbers: each column is its 4 em minimum (9.9 mm at 7 pt) plus 2 mm of
    # padding, 119 mm in all, which fits the 186 mm of a portrait A4 page
    short = pd.DataFrame({f"c{i}": [1, 2] for i in range(10)})
    assert print_width_mm(short) == pytest.approx(10 * (7 * 4 * 25.4 / 72 + 2.0))
    assert print_width_mm(short) < PORTRAIT_MM
    # seven columns of 20-character identifiers (too short to count as wrapping text): 20 x 1.37 mm
    # (0.556 em at 7 pt) + 2 mm = 29.5 mm each, 207 mm in all
    long = _ids(2, 7, 20)
    assert print_width_mm(long) == pytest.approx(7 * (20 * 7 * 0.556 * 25.4 / 72 + 2.0))
    assert print_width_mm(long) > PORTRAIT_MM


def test_consecutive_wide_tables_share_one_landscape_run() -> None:
    wide, narrow = _ids(3, 7, 20), _ids(3, 2, 6)
    blocks = [
        Paragraph("intro"),
        Table("a", wide, "wide a"),
        Paragraph("between"),
        Table("b", wide, "wide b"),
        Table("c", narrow, "narrow c"),
        Table("d", wide.head(0), "empty wide d"),  # nothing printed: never landscape
        Table("e", wide, "hidden wide e", preview=0),  # collapsed to its caption on paper
    ]
    assert landscape_runs(blocks) == [(1, 3)]


def _pdftotext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _orientations(pdf: Path) -> str:
    info = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", "999", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    sizes = re.findall(r"^Page +\d+ size: +([\d.]+) x ([\d.]+)", info, flags=re.M)
    return "".join("L" if float(w) > float(h) else "P" for w, h in sizes)


@pytest.mark.skipif(find_chromium() is None, reason="needs Chromium to print the PDF")
def test_printed_pdf_groups_wide_tables_and_prints_a_long_table_once(tmp_path: Path) -> None:
    require_service("pdftotext", shutil.which("pdftotext") is not None, "install poppler-utils")
    wide = _ids(3, 7, 20)
    long = pd.DataFrame({"row": [f"row{r:03d}" for r in range(30)], "value": range(30)})
    doc = Document(
        "print layout",
        [
            Paragraph("A portrait page first."),
            Table("wide_a", wide, "First wide table."),
            Paragraph("Text between the wide tables."),
            Table("wide_b", wide.assign(id0=wide["id0"].str.replace("0", "9")), "Second wide table."),
            Table("long", long, "A long table.", preview=5),
        ],
    )
    _, pdf = write_outputs(doc, tmp_path, "html", chromium=find_chromium())
    assert pdf is not None
    # one portrait page, both wide tables on one landscape page, the long table back on portrait
    assert _orientations(pdf) == "PLP"
    text = _pdftotext(pdf)
    # the preview is printed once and the full copy (a collapsed <details>) not at all
    assert [text.count(f"row{r:03d}") for r in range(7)] == [1, 1, 1, 1, 1, 0, 0]
    assert "all 30 rows" not in text
    assert "the first 5 of 30 rows shown; every row is in tables/long.csv." in text.replace("\n", " ")
    # the HTML itself holds both copies (preview and full table)
    assert (tmp_path / "report.html").read_text().count("row000") == 2
