"""Noise: accuracy against PSNR, with a psychometric threshold per agent."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.render import plots
from analysis.render.document import Block, FigureBlock, Paragraph, Table, not_applicable
from analysis.sections.base import Context, Section
from analysis.stats import psychometric


def compute_noise(ctx: Context, _: dict[str, Any]) -> tuple[pd.DataFrame, list[psychometric.PsychometricFit]]:
    return psychometric.noise_analysis(ctx.kept, ctx.table.stimuli.n_classes)


def present_noise(r: tuple[pd.DataFrame, list[psychometric.PsychometricFit]], ctx: Context) -> list[Block]:
    levels, fits = r
    if levels.empty:
        return not_applicable("Noise analysis")
    fits_df = pd.DataFrame(
        [
            {
                "agent": f.agent,
                "chance": f.chance,
                "clean_accuracy": f.top,
                "threshold_psnr_db": f.threshold,
                "scale_db": f.scale,
                "n_trials": f.n_trials,
                "converged": f.converged,
                "note": f.note,
            }
            for f in fits
        ]
    )
    return [
        Paragraph(
            f"Logistic psychometric curve per agent, from chance (1/{ctx.table.stimuli.n_classes}) "
            "to the agent's "
            "clean accuracy, fitted by maximum likelihood; the threshold is the PSNR halfway between the two."
        ),
        Table("noise_levels", levels.rename(columns={"n": "n_trials"}), "Accuracy per noise level."),
        Table("noise_thresholds", fits_df, "Psychometric fits and halfway thresholds."),
        FigureBlock(
            "noise",
            plots.noise_plot(levels, fits),
            "Proportion correct against PSNR: dots, each agent's accuracy at each noise level (trials "
            "pooled; models' runs pooled); lines, its fitted logistic curve; dotted vertical lines, its "
            "halfway threshold; dashed line: chance.",
        ),
    ]


SECTION = Section("noise", "8. Noise: accuracy against PSNR", compute_noise, present_noise)
