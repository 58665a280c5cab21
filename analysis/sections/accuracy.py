"""Accuracy per agent and condition, with models as populations of training runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.render import plots
from analysis.render.document import Block, FigureBlock, Table, not_applicable
from analysis.sections.base import Context, Section
from analysis.stats import metrics, replicates


@dataclass(frozen=True)
class AccuracyResult:
    table: pd.DataFrame  # humans pooled, each model run, each participant
    per_class: pd.DataFrame
    population: replicates.PopulationResult


def compute_accuracy(ctx: Context, _: dict[str, Any]) -> AccuracyResult:
    acc = metrics.accuracy_by_condition(ctx.kept)
    per_class = metrics.accuracy_by_condition(ctx.kept, extra="label")
    per_class = per_class[per_class["agent_type"] != "human"].copy()
    if len(per_class):
        per_class.insert(
            per_class.columns.get_loc("label") + 1,
            "label_name",
            per_class["label"].map(lambda c: ctx.class_names.get(int(c), str(c))),
        )
    pop = replicates.population_analysis(
        ctx.kept, ctx.groups, n_boot=max(ctx.options.n_boot, 1000), seed=ctx.options.seed
    )
    return AccuracyResult(acc, per_class, pop)


def present_accuracy(r: AccuracyResult, ctx: Context) -> list[Block]:
    if r.table.empty:
        return not_applicable("Accuracy")
    main = r.table[r.table["agent_type"] != "human"].rename(columns={"n": "n_trials"})
    multi_run = bool(len(r.population.runs)) and bool(
        (r.population.runs.groupby("model")["run"].nunique() > 1).any()
    )
    blocks: list[Block] = [
        Table(
            "accuracy",
            main,
            "Accuracy per agent x condition with Wilson 95% intervals (pooled-human intervals treat trials "
            "as independent and are descriptive only; see the per-participant plot for the spread).",
        ),
        FigureBlock(
            "accuracy",
            plots.accuracy_plot(r.table, r.population.runs, ctx.chance, ctx.conditions(r.table["condition"])),
            "Accuracy by condition: people pooled and each network, with Wilson 95% intervals on every bar "
            "(trials pooled; for a network with several training runs, its runs' trials pooled"
            + (", and white dots mark the individual runs" if multi_run else "")
            + "). Dashed line: chance.",
        ),
    ]
    if len(r.population.spread):
        blocks.append(
            Table(
                "model_runs",
                r.population.spread,
                "Models as populations: accuracy over training runs (seeds or ensemble members) "
                "per condition.",
            )
        )
    blocks.append(
        Table(
            "accuracy_per_class",
            r.per_class.rename(columns={"n": "n_trials", "label": "class", "label_name": "class_name"}),
            "Accuracy per class x condition (humans pooled, each model).",
            preview=0,
        )
    )
    return blocks


SECTION = Section("accuracy", "1. Accuracy", compute_accuracy, present_accuracy)
