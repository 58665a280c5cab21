"""Confusion matrices and the most confused class pairs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.render import plots
from analysis.render.document import Block, FigureBlock, Paragraph, Table, not_applicable
from analysis.sections.base import Context, Section
from analysis.stats import metrics


@dataclass(frozen=True)
class ConfusionResult:
    matrices: dict[tuple[str, str], np.ndarray]
    top: pd.DataFrame


def compute_confusions(ctx: Context, _: dict[str, Any]) -> ConfusionResult:
    mats = metrics.confusion_matrices(ctx.kept, len(ctx.class_names))
    return ConfusionResult(
        mats, metrics.most_confused_pairs(mats, ctx.class_names, ctx.options.top_confusions)
    )


def present_confusions(r: ConfusionResult, ctx: Context) -> list[Block]:
    if not r.matrices:
        return not_applicable("Confusion matrices")
    blocks: list[Block] = []
    items = sorted(r.matrices.items())
    for i, ((agent, cond), mat) in enumerate(items):
        if i >= ctx.options.max_confusion_figures:
            blocks.append(
                Paragraph(f"{len(items) - i} further confusion matrices are in tables/confusion_*.csv.")
            )
            break
        top = r.top[(r.top["agent"] == agent) & (r.top["condition"] == cond)]
        named = "; ".join(f"{t.true_name} → {t.answered_name} ({t.count})" for t in top.head(3).itertuples())
        blocks.append(
            FigureBlock(
                f"confusion_{agent}_{cond}",
                plots.confusion_plot(mat, ctx.class_names, f"{agent} — {cond}", top),
                f"Confusions, {agent}, {cond} (row-normalised; outlined: the top confusions"
                + (f": {named}" if named else "")
                + ").",
            )
        )
    blocks.append(Table("most_confused", r.top, "Most confused class pairs (true → answered).", preview=10))
    return blocks


SECTION = Section("confusions", "5. Confusions", compute_confusions, present_confusions)
