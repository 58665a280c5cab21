"""One scorecard for every paper: each published number beside ours, with the data and network behind it.

A paper plugs in by defining, in its module ``model_eval.reproduce.<paper>`` (listed in
:data:`PAPERS`), a function ``scorecard(run: ScorecardRun) -> list[ScorecardRow]`` that runs the
paper's experiments under ``run.out / <paper>`` (small when ``run.quick``) and returns one
:class:`ScorecardRow` per paper number. :func:`build_scorecard` calls every such function and writes
``scorecard.csv`` and ``scorecard.html``; a paper module without one is listed as not run.
"""

from __future__ import annotations

import html
import importlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

PAPERS = ("hosseini", "aghdam", "srivastava")


@dataclass(frozen=True)
class ScorecardRun:
    """What every paper's ``scorecard`` function gets: where to write, how big, which data sets.

    ``roots`` maps a stimuli source name (mnist, cifar10, gtsrb, ...) to the folder holding the
    paper's data set; a paper runs a labelled stand-in for a data set without a root.
    """

    out: Path
    quick: bool = False
    seed: int = 0
    device: str | None = None
    progress: bool = True
    max_minutes: float | None = None
    roots: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScorecardRow:
    """One paper number beside ours. ``paper_value`` None: the paper does not give it (ours shown);
    ``our_value`` None: not run. ``paper_data``: ours ran on the paper's data set (else a stand-in)."""

    paper: str  # e.g. "Hosseini 2017"
    where: str  # table, figure or section
    quantity: str  # what the number is, with its unit
    network: str
    paper_dataset: str
    our_dataset: str
    paper_data: bool
    paper_value: float | None
    our_value: float | None
    note: str = ""

    @property
    def difference(self) -> float | None:
        """Ours minus the paper's (None when either is missing)."""
        if _missing(self.paper_value) or _missing(self.our_value):
            return None
        return round(float(self.our_value) - float(self.paper_value), 2)  # type: ignore[arg-type]


COLUMNS = [
    "paper",
    "where",
    "quantity",
    "network",
    "paper data set",
    "our data set",
    "ran on",
    "paper value",
    "ours",
    "difference",
    "note",
]


def _missing(v: float | None) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def scorecard_table(rows: Sequence[ScorecardRow]) -> pd.DataFrame:
    """The rows as the printed and written table."""
    records = []
    for r in rows:
        d = asdict(r)
        records.append(
            {
                "paper": d["paper"],
                "where": d["where"],
                "quantity": d["quantity"],
                "network": d["network"],
                "paper data set": d["paper_dataset"],
                "our data set": d["our_dataset"],
                "ran on": "paper's data" if r.paper_data else "stand-in",
                "paper value": "not given in the paper" if _missing(r.paper_value) else r.paper_value,
                "ours": None if _missing(r.our_value) else r.our_value,
                "difference": r.difference,
                "note": d["note"],
            }
        )
    return pd.DataFrame(records, columns=COLUMNS)


def build_scorecard(run: ScorecardRun, papers: Sequence[str] = PAPERS) -> tuple[pd.DataFrame, list[str]]:
    """Run every paper's ``scorecard`` function; (the table, the papers that have none yet)."""
    rows: list[ScorecardRow] = []
    missing = []
    for paper in papers:
        try:
            module = importlib.import_module(f"model_eval.reproduce.{paper}")
        except ModuleNotFoundError:
            missing.append(paper)
            continue
        fn = getattr(module, "scorecard", None)
        if fn is None:
            missing.append(paper)
            continue
        rows += fn(run)
    return scorecard_table(rows), missing


def write_scorecard(
    table: pd.DataFrame, out: Path, *, title: str, meta: dict[str, object]
) -> tuple[Path, Path]:
    """``scorecard.csv`` and ``scorecard.html`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "scorecard.csv"
    table.to_csv(csv, index=False)
    items = "".join(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in meta.items())
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:1400px;margin:2em auto}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #bbb;padding:3px 6px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><ul>{items}</ul>"
        + table.to_html(index=False, na_rep="", border=0)
        + "</body></html>"
    )
    page_path = out / "scorecard.html"
    page_path.write_text(page, encoding="utf-8")
    return csv, page_path
