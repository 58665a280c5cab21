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


GEE_COLUMNS = {
    "z": "z_statistic",
    "or_ci_low": "odds_ratio_ci_low",
    "or_ci_high": "odds_ratio_ci_high",
    "icc": "icc_participants",
}
HUMAN_VS_MODEL_COLUMNS = GEE_COLUMNS | {
    "acc_a": "accuracy_model",
    "acc_b": "accuracy_people",
    "n_a": "n_trials_model",
    "n_b": "n_trials_people",
    "diff": "diff_people_minus_model",
}
WITHIN_COLUMNS = GEE_COLUMNS | {
    "label": "contrast",
    "acc_a": "accuracy_baseline",
    "acc_b": "accuracy_tested",
    "n_a": "n_trials_baseline",
    "n_b": "n_trials_tested",
    "diff": "diff_tested_minus_baseline",
}
MCNEMAR_COLUMNS = {
    "n_pairs": "n_image_pairs",
    "acc_a": "accuracy_baseline",
    "acc_b": "accuracy_tested",
    "a_right_b_wrong": "n_baseline_right_tested_wrong",
    "a_wrong_b_right": "n_baseline_wrong_tested_right",
}
POPULATION_COLUMNS = {
    "diff": "diff_humans_minus_model",
    "se": "se_diff",
    "z": "z_statistic",
    "n_items": "n_stimuli",
}
"""Column names that say what they hold (binary_contrast's a/b are the baseline and the tested group)."""


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
        blocks.append(
            Table(
                "people_vs_models",
                r.population.rename(columns=POPULATION_COLUMNS),
                "People vs models (crossed bootstrap): diff_humans_minus_model with its 95% interval "
                "(ci_low, ci_high), bootstrap standard error and z statistic, p-value and Holm-adjusted "
                "p-value; variance_sources says what the bootstrap resampled.",
            )
        )
    if len(r.human_vs_model):
        blocks += [
            Paragraph(inference.GEE_WHY),
            Table(
                "human_vs_model",
                r.human_vs_model.drop(columns=["label"]).rename(columns=HUMAN_VS_MODEL_COLUMNS),
                "Per model run: GEE (humans clustered on participant, the run's answers on item), Holm "
                "across rows; icc_participants: the within-participant correlation of the GEE fit.",
            ),
        ]
    if len(r.within_humans):
        blocks.append(
            Table(
                "within_humans",
                r.within_humans.drop(columns=["condition"]).rename(columns=WITHIN_COLUMNS),
                "Within participants (GEE): for 'negative vs regular', tested = negative and baseline = "
                "regular.",
            )
        )
    if len(r.within_models):
        blocks.append(
            Table(
                "within_models_mcnemar",
                r.within_models.assign(contrast=r.within_models["contrast"].map(_tested_vs_baseline)).rename(
                    columns=MCNEMAR_COLUMNS
                ),
                "Within each model: McNemar's exact test on images paired by source_id; for "
                "'negative vs regular', tested = negative and baseline = regular.",
            )
        )
    return blocks


def _tested_vs_baseline(contrast: str) -> str:
    """model_paired_tests names a contrast 'baseline vs tested'; the report names them all 'tested vs
    baseline', as the within-participant table does."""
    baseline, tested = contrast.split(" vs ", 1)
    return f"{tested} vs {baseline}"


SECTION = Section("tests", "3. People vs models, and condition contrasts", compute_tests, present_tests)
