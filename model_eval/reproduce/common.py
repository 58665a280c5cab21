"""Shared parts of ``python -m model_eval reproduce hosseini|aghdam``: budget, test data, report.

Each paper module runs its experiments and returns :class:`Section` objects (a titled table whose
rows put the paper's number beside ours, plus figures); :func:`write_report` turns them into
``report.html`` with one CSV per table. Paper numbers come only from
:mod:`model_eval.reproduce.papers`.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from model_eval.data import TensorData, load_source
from model_eval.nets.checkpoint import load_checkpoint
from model_eval.runtime.device import autocast, to_device
from model_eval.training.data import to_gray
from model_eval.training.loop import TrainConfig, TrainingStopped, fit


@dataclass
class Budget:
    """Splits ``--max-minutes`` over the training runs still to come (None: no time limit)."""

    minutes: float | None
    start: float = field(default_factory=time.monotonic)

    def share(self, work: float, work_left: float, reserve: float = 0.15) -> float | None:
        """Minutes for the next run: what is left (less a reserve for evaluation), in proportion of the
        run's work (epochs x images) to the work of the runs still to come (itself included)."""
        if self.minutes is None:
            return None
        left = self.minutes * (1 - reserve) - (time.monotonic() - self.start) / 60
        return max(left * work / max(work_left, work, 1e-9), 0.05)


@dataclass
class Run:
    """A trained checkpoint and how its training ended."""

    path: Path
    epochs_done: int
    stopped_early: bool


def train_run(
    cfg: TrainConfig,
    path: Path,
    budget: Budget,
    work: float,
    work_left: float,
    data: TensorData | None,
    monitor: TensorData | None = None,
) -> Run:
    """Train (or continue: a finished checkpoint is reused, a stopped one resumed) within its budget
    share; ``monitor``: test images measured after every epoch (:func:`fit`)."""
    cfg.max_minutes = budget.share(work, work_left)
    stopped = False
    try:
        fit(cfg, path, resume=True, source_data=data, monitor=monitor)
    except TrainingStopped:
        stopped = True
    hist = load_checkpoint(path).data["history"]
    return Run(path, len(hist), stopped)


def predictions(
    path: Path, images: torch.Tensor, device: torch.device, batch_size: int = 512
) -> torch.Tensor:
    """Top-1 classes of a checkpoint on NCHW images in [0, 1] (RGB images go gray for a gray network)."""
    ck = load_checkpoint(path, device=device)
    x = to_gray(images) if ck.in_channels == 1 else images
    out = []
    with torch.inference_mode():
        for s in range(0, len(x), batch_size):
            with autocast(device):
                out.append(ck.classifier(to_device(x[s : s + batch_size], device)).argmax(1).cpu())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def accuracy(
    path: Path, images: torch.Tensor, labels: torch.Tensor, device: torch.device, batch_size: int = 512
) -> float:
    """Test accuracy of a checkpoint on NCHW images in [0, 1] (RGB images go gray for a gray network)."""
    pred = predictions(path, images, device, batch_size)
    return int((pred == labels).sum()) / max(len(labels), 1)


def load_test_split(
    source: str, root: str | None, size: int, n_per_class: int | None, seed: int
) -> TensorData:
    """The test split of a source (synthetic: its own disjoint test images)."""
    return load_source(source, root=root, split="test", size=size, n_per_class=n_per_class, seed=seed)


def pct(v: float | None) -> float | None:
    """A fraction as a percentage rounded to 0.1 (None and NaN stay None)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return round(100 * v, 1)


@dataclass
class Section:
    title: str
    table: pd.DataFrame
    csv_name: str
    note: str = ""
    figures: list[str] = field(default_factory=list)
    print_rows: int | None = None  # print only the first rows of a long table (the CSV has all)

    def __post_init__(self) -> None:
        # paper columns hold None where a number is not transcribed: make them numeric (NaN -> "n/a")
        for col in self.table.columns:
            values = self.table[col]
            numbers = all(
                v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values
            )
            if values.dtype == object and numbers:
                self.table[col] = pd.to_numeric(values)


def print_table(section: Section) -> None:
    print(f"\n{section.title}")
    shown = section.table if section.print_rows is None else section.table.head(section.print_rows)
    if len(shown):
        print(shown.to_string(index=False, na_rep="n/a"))
    if len(shown) < len(section.table):
        print(f"... {len(section.table) - len(shown)} more rows in {section.csv_name}")
    if section.note:
        print(section.note)


def write_report(out: Path, title: str, intro: str, sections: list[Section], meta: dict[str, Any]) -> Path:
    """report.html (tables beside the paper's, figures) and one CSV per table."""
    out.mkdir(parents=True, exist_ok=True)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1300px;margin:2em auto}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #bbb;padding:3px 6px;"
        "text-align:right}.wide{overflow-x:auto}"
        "img{max-width:100%;border:1px solid #ddd;margin:6px 0}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p><ul>",
    ]
    parts += [f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in meta.items()]
    parts.append("</ul>")
    for s in sections:
        s.table.to_csv(out / s.csv_name, index=False)
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        parts.append("<div class='wide'>" + s.table.to_html(index=False, na_rep="n/a", border=0) + "</div>")
        if s.note:
            parts.append(f"<p>{html.escape(s.note)}</p>")
        parts += [f"<img src='{html.escape(f)}' alt='{html.escape(f)}'>" for f in s.figures]
        parts.append(f"<p><a href='{html.escape(s.csv_name)}'>{html.escape(s.csv_name)}</a></p>")
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
