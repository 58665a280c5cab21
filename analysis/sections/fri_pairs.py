"""The FRI-pairs section: the paper's figure (human gap against network gap) and tables.

The statistics are analysis.stats.fri_pairs'; this module draws and presents them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from analysis.render.document import Block, FigureBlock, Paragraph, Table, not_applicable
from analysis.render.style import CHANCE_STYLE, legend_outside, model_colour, new_figure
from analysis.sections.base import Context, Section
from analysis.stats import fri_pairs
from analysis.stats.fri_pairs import FriPairsResult


def gap_figure(result: FriPairsResult) -> Figure:
    """One point per pair: the network's confidence gap (x) against the human accuracy gap (y), FRI - partner.

    Vertical bars are the pairs' 95% Newcombe intervals; the dotted line is y = x (people as fragile as the
    network), the grey lines are zero (people not fragile at all).
    """
    fig, ax = new_figure(5.2, 3.8)
    pairs = result.pairs
    markers = {"shift": "o", "shrink": "s"}
    for i, ((model, kind), g) in enumerate(pairs.groupby(["model", "fri_kind"], dropna=False)):
        err = np.vstack([g["human_gap"] - g["human_gap_low"], g["human_gap_high"] - g["human_gap"]])
        ax.errorbar(
            g["model_gap"],
            g["human_gap"],
            yerr=np.nan_to_num(err),
            fmt=markers.get(str(kind), "o"),
            ms=4,
            capsize=2,
            lw=0.8,
            alpha=0.85,
            color=model_colour(i),
            label=f"{model} ({kind})",
        )
    ax.axhline(0, **CHANCE_STYLE)
    ax.axvline(0, **CHANCE_STYLE)
    ax.plot([-1, 1], [-1, 1], ":", color="black", lw=0.8, label="y = x")
    ax.set_xlim(min(-0.05, float(pairs["model_gap"].min()) - 0.05), 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("network confidence gap: p(true) on FRI - on partner")
    ax.set_ylabel("human accuracy gap: FRI - partner")
    if result.groups:
        ax.set_title(f"answers among {result.groups}")
    legend_outside(ax)
    return fig


POOLED_CAPTION = (
    "Pooled over pairs: human accuracy on FRI and partner crops, their difference (linear-probability GEE "
    "clustered on participant, robust 95% CI), the network's mean confidence gap (t 95% CI over pairs) and "
    "Spearman's rho between the two gaps."
)
PAIRS_CAPTION = (
    "Per pair: human accuracy on each crop (different people), the gap with Newcombe's 95% interval, and the "
    "network's correctness and p(true) on each crop. Gaps are FRI minus partner for both."
)


FRI_COLUMNS = {
    "human_acc_fri": "human_accuracy_fri",
    "human_acc_partner": "human_accuracy_partner",
    "human_gap_p": "human_gap_p_value",
    "spearman_p": "spearman_p_value",
    "n_fri": "n_trials_fri",
    "n_partner": "n_trials_partner",
    "model_conf_fri": "model_p_true_fri",
    "model_conf_partner": "model_p_true_partner",
}
"""Names that say what the FRI tables hold (model_conf is the network's p(true), not its top score)."""


def compute(ctx: Context, _: dict[str, Any]) -> FriPairsResult:
    """The oriented pairs (fri / fri_partner) of the set, as model_eval exports them."""
    return fri_pairs.fri_pair_analysis(
        ctx.kept, label_groups=ctx.table.stimuli.label_groups, predictions=ctx.predictions
    )


def present(result: FriPairsResult, ctx: Context) -> list[Block]:
    if result.pairs.empty:
        return not_applicable("FRI pairs")
    return [
        *[Paragraph(note) for note in result.notes],
        Table("fri_pairs_pooled", result.pooled_frame().rename(columns=FRI_COLUMNS), POOLED_CAPTION),
        FigureBlock(
            "fri_pairs",
            gap_figure(result),
            "One point per FRI pair and network (circles: shifted crops, squares: shrunk crops): the "
            "network's confidence gap, p(true) on the FRI crop minus on its partner (x), against people's "
            "accuracy gap, FRI minus partner (y), with Newcombe 95% intervals (vertical bars). Dotted: "
            "y = x (people as fragile as the network); dashed: zero.",
        ),
        Table("fri_pairs", result.pairs.rename(columns=FRI_COLUMNS), PAIRS_CAPTION),
    ]


SECTION = Section("fri", "7. Fragile recognition image (FRI) pairs", compute, present)
