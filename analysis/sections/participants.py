"""Each participant's accuracy per condition, beside the models' runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.render import plots
from analysis.render.document import Block, FigureBlock, Table, not_applicable
from analysis.sections.base import Context, Section
from analysis.stats import metrics


@dataclass(frozen=True)
class ParticipantResult:
    per: pd.DataFrame
    summary: pd.DataFrame
    runs: pd.DataFrame  # each model run's accuracy per condition, for the same figure


def compute_participants(ctx: Context, results: dict[str, Any]) -> ParticipantResult:
    per = metrics.participant_accuracy(ctx.kept)
    summary = metrics.participant_summary(per) if len(per) else pd.DataFrame()
    return ParticipantResult(per, summary, results["accuracy"].population.runs)


def present_participants(r: ParticipantResult, ctx: Context) -> list[Block]:
    if r.per.empty:
        return not_applicable("Per-participant accuracy")
    return [
        FigureBlock(
            "participants",
            plots.participant_dots(r.per, r.summary, r.runs, ctx.chance, ctx.conditions(r.per["condition"])),
            "Each participant's accuracy per condition (gray), the participants' mean with a 95% t interval "
            "over participants (black), and each model's runs (diamonds). Dashed line: chance.",
        ),
        Table(
            "participant_summary",
            r.summary.rename(columns={c: f"{c}_accuracy" for c in ("mean", "sd", "min", "max")}),
            "Accuracy over participants per condition: mean with a t 95% interval (ci_low, ci_high), "
            "standard deviation, lowest and highest participant.",
        ),
        Table(
            "accuracy_per_participant",
            r.per.rename(columns={"n": "n_trials"}),
            "Accuracy per participant x condition.",
            preview=0,
        ),
    ]


SECTION = Section("participants", "2. Participants", compute_participants, present_participants)
