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


def agent_type_shares(r: ConfusionResult, ctx: Context) -> dict[str, dict[str, np.ndarray]]:
    """Per agent type (people pooled; networks pooled), condition -> row-normalised confusions."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for kind, is_kind in (
        ("people", lambda a: a == metrics.HUMANS_POOLED),
        ("networks", lambda a: a != metrics.HUMANS_POOLED),
    ):
        counts: dict[str, np.ndarray] = {}
        for (agent, cond), mat in r.matrices.items():
            if is_kind(agent):
                counts[cond] = counts.get(cond, 0) + mat
        if counts:
            out[kind] = {c: _row_shares(counts[c]) for c in ctx.table.stimuli.order(counts)}
    return out


def _row_shares(mat: np.ndarray) -> np.ndarray:
    rows = mat.sum(axis=1, keepdims=True)
    return np.divide(mat, rows, out=np.zeros(mat.shape, float), where=rows > 0)


def present_confusions(r: ConfusionResult, ctx: Context) -> list[Block]:
    if not r.matrices:
        return not_applicable("Confusion matrices")
    blocks: list[Block] = []
    for kind, shares in agent_type_shares(r, ctx).items():
        who = "all participants' trials pooled" if kind == "people" else "all networks' answers pooled"
        if not plots.largest_confusions(shares, len(ctx.class_names), 1):
            blocks.append(Paragraph(f"Confusions of {kind}: none (every answer was the true class)."))
            continue
        blocks.append(
            FigureBlock(
                f"confusions_{kind}",
                plots.confusion_changes_plot(shares, ctx.class_names, kind, ctx.options.top_confusions * 2),
                f"Confusions of {kind} ({who}): one row per class pair (true → answered), up to "
                f"{ctx.options.top_confusions * 2} pairs with the largest shares in any condition, largest "
                "first; one column per condition; each cell's colour (and number) is the share of the true "
                "class's trials answered as that class in that condition (no number where it is 0). Every "
                "agent's full matrix per condition is in tables/confusion_<agent>_<condition>.csv.",
            )
        )
    top = r.top.rename(
        columns={
            "true": "true_class",
            "true_name": "true_class_name",
            "answered": "answered_class",
            "answered_name": "answered_class_name",
            "count": "n_trials",
            "share_of_true": "share_of_true_class_trials",
        }
    )
    blocks.append(Table("most_confused", top, "Most confused class pairs (true → answered).", preview=10))
    return blocks


SECTION = Section("confusions", "5. Confusions", compute_confusions, present_confusions)
