"""People vs models (crossed bootstrap, GEE) and the condition contrasts within people and each model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.render.document import Block, Paragraph, Table, Warning, not_applicable
from analysis.sections.base import Context, Section
from analysis.stats import inference, replicates


@dataclass(frozen=True)
class TestsResult:
    human_vs_model: pd.DataFrame
    population: pd.DataFrame
    single_run: list[str]
    within_humans: pd.DataFrame
    within_models: pd.DataFrame


def compute_tests(ctx: Context, results: dict[str, Any]) -> TestsResult:
    pop: replicates.PopulationResult = results["accuracy"].population
    return TestsResult(
        inference.human_vs_model_tests(ctx.kept),
        pop.tests,
        pop.single_run_groups,
        inference.within_human_tests(ctx.kept),
        inference.model_paired_tests(ctx.kept),
    )


def present_tests(r: TestsResult, ctx: Context) -> list[Block]:
    blocks: list[Block] = []
    if r.population.empty:
        blocks += not_applicable("People vs models (need both human trials and predictions in a condition)")
    else:
        blocks.append(
            Paragraph(
                "People vs each model as populations: the difference in proportion correct (humans - model) "
                "with a 95% interval and p-value from a crossed bootstrap that resamples participants, "
                "stimuli and training runs together, so the test generalises over people, images and "
                "training runs (Holm-corrected across rows)."
            )
        )
        for g in r.single_run:
            blocks.append(
                Warning(
                    f"{g} has a single training run: its test treats the network as fixed (variation between "
                    "training runs is not part of the interval or the p-value). Train several seeds or an "
                    "ensemble and pass each run's predictions to generalise over training."
                )
            )
        few = r.population[(r.population["n_runs"] > 1) & (r.population["n_runs"] < 5)]
        for g in sorted(set(few["model"])):
            n = int(few.loc[few["model"] == g, "n_runs"].iloc[0])
            blocks.append(
                Warning(
                    f"{g} has {n} training runs: a bootstrap over so few runs understates the variance "
                    f"between runs (by a factor of about {(n - 1) / n:.2f}, and coarsely); treat its "
                    "interval as a lower bound on the uncertainty, and train more runs for a firm claim."
                )
            )
        blocks.append(Table("people_vs_models", r.population, "People vs models (crossed bootstrap)."))
    if len(r.human_vs_model):
        blocks += [
            Paragraph(inference.GEE_WHY),
            Table(
                "human_vs_model",
                r.human_vs_model.drop(columns=["label"]),
                "Per model run: GEE (humans clustered on participant, the run's answers on item), "
                "Holm across "
                "rows. acc_a = model, acc_b = humans.",
            ),
        ]
    if len(r.within_humans):
        blocks.append(Table("within_humans", r.within_humans, "Within participants: acc_b vs acc_a (GEE)."))
    if len(r.within_models):
        blocks.append(
            Table(
                "within_models_mcnemar",
                r.within_models,
                "Within each model: McNemar's exact test on images paired by source_id.",
            )
        )
    return blocks


SECTION = Section("tests", "3. People vs models, and condition contrasts", compute_tests, present_tests)
