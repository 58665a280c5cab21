"""The report's sections: a registry of (compute -> typed result, present -> blocks) pairs.

Adding a section is one entry in SECTIONS::

    Section("fooling", "Fooling images", compute=fooling.compute, present=fooling.present)

``compute(ctx, results)`` does the statistics (in the section's own module) and returns a typed result
(a frozen dataclass or a tidy DataFrame); ``results`` holds the results of the sections before it, by
key, for a section that builds on another (power reads the human-vs-model GEE fits). ``present(result,
ctx)`` turns that result into document blocks (headings, paragraphs, tables, figures) and computes
nothing. The renderers in analysis.render turn the blocks into HTML, Markdown and PDF. report.py only
walks this list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis import (
    fooling,
    fri_pairs_render,
    inference,
    metrics,
    plots,
    power,
    psychometric,
    replicates,
    rt,
)
from analysis.consistency import ConsistencyResult, KappaOptions, error_consistency_analysis
from analysis.document import Block, FigureBlock, Heading, Paragraph, Table, Warning, not_applicable
from analysis.exclusions import ExclusionResult
from analysis.load import LongTable
from analysis.provenance import Provenance
from analysis.render import fmt


@dataclass(frozen=True)
class Options:
    n_boot: int = 500
    seed: int = 0
    power_difference: float = 0.05
    alpha: float = 0.05
    power: float = 0.8
    kappa: KappaOptions = field(default_factory=KappaOptions)
    max_confusion_figures: int = 8
    top_confusions: int = 5


@dataclass(frozen=True)
class Context:
    """Everything a section may read: the joined data, what the exclusions kept, options, model groups."""

    table: LongTable
    exclusions: ExclusionResult
    options: Options
    groups: dict[str, list[str]]
    provenance: Provenance | None = None
    predictions: pd.DataFrame | None = None  # raw predictions (group scores for FRI pairs)
    responses: pd.DataFrame | None = None  # raw responses ("none" answers of fooling sets)

    @property
    def kept(self) -> pd.DataFrame:
        return self.exclusions.kept

    @property
    def chance(self) -> float:
        return 1.0 / self.table.stimuli.n_classes

    @property
    def class_names(self) -> dict[int, str]:
        return self.table.stimuli.class_names


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    compute: Callable[[Context, dict[str, Any]], Any]
    present: Callable[[Any, Context], list[Block]]


# ------------------------------------------------------------------ 0. data and exclusions


@dataclass(frozen=True)
class DataSummary:
    n_participants_raw: int
    n_participants_analysed: int
    models: list[str]
    issues: list[str]
    catch_trials: int
    catch_accuracy_mean: float


def compute_data(ctx: Context, _: dict[str, Any]) -> DataSummary:
    t = ctx.table.trials
    humans = t[t["agent_type"] == "human"]
    catch = humans[humans["catch"]]
    return DataSummary(
        n_participants_raw=int(humans["agent"].nunique()),
        n_participants_analysed=int(ctx.kept.loc[ctx.kept["agent_type"] == "human", "agent"].nunique()),
        models=sorted(ctx.kept.loc[ctx.kept["agent_type"] == "model", "agent"].unique()),
        issues=list(ctx.table.issues),
        catch_trials=len(catch),
        catch_accuracy_mean=float(catch.groupby("agent")["correct"].mean().mean()) if len(catch) else np.nan,
    )


def present_data(r: DataSummary, ctx: Context) -> list[Block]:
    info = ctx.table.stimuli
    ex = ctx.exclusions
    removed = ex.removed
    catch = ex.rules.set_index("rule").loc["failed catch trials"]
    blocks: list[Block] = [
        Paragraph(
            f"Stimulus set {info.name!r} with {info.n_classes} classes (chance = 1/{info.n_classes} = "
            f"{ctx.chance:.3f}); {r.n_participants_raw} participants in the responses, "
            f"{r.n_participants_analysed} analysed; models: {', '.join(r.models) or 'none'}."
        ),
        Paragraph(
            f"Exclusion rule for catch trials: {ex.catch_rule.describe()}. It removed "
            f"{catch['participants_excluded']} participant(s), of whom {catch['of_them_completed']} "
            f"completed the study and {catch['of_them_paid']} were paid (per the study server's export). "
            f"In all, {len(removed)} participant(s) were removed by the participant rules below."
        ),
    ]
    blocks += [Warning(f"Input problem: {i}") for i in r.issues] or [
        Paragraph(
            "No input problems found (all stimulus ids known, class ids in range, no duplicate trials)."
        )
    ]
    blocks.append(
        Table(
            "exclusions",
            ex.rules,
            "Exclusions: each rule, whether it was on, what it removed, and how many of the removed "
            "participants had completed and been paid.",
        )
    )
    if len(removed):
        blocks.append(
            Table(
                "excluded_participants",
                removed.drop(columns=["n_trials"]),
                "Removed participants with their catch-trial record and the server's status.",
                preview=8,
            )
        )
    if r.catch_trials:
        blocks.append(
            Paragraph(
                f"Catch trials: {r.catch_trials} trials, mean participant catch accuracy "
                f"{fmt(r.catch_accuracy_mean)} (before exclusions); catch trials are not part of "
                "the analyses below."
            )
        )
    return blocks


# ------------------------------------------------------------------ 1. accuracy


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
    main = r.table[r.table["agent_type"] != "human"]
    blocks: list[Block] = [
        Table(
            "accuracy",
            main,
            "Accuracy per agent x condition with Wilson 95% intervals (pooled-human intervals treat trials "
            "as independent and are descriptive only; see the per-participant plot for the spread).",
        ),
        FigureBlock(
            "accuracy",
            plots.accuracy_plot(r.table, r.population.runs, ctx.chance),
            "Accuracy by condition: pooled humans (Wilson 95% CI) and each model (mean over its training "
            "runs; white dots: individual runs). Dashed line: chance.",
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
            r.per_class,
            "Accuracy per class x condition (humans pooled, each model).",
            preview=0,
        )
    )
    return blocks


# ------------------------------------------------------------------ 2. participants


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
            plots.participant_dots(r.per, r.summary, r.runs, ctx.chance),
            "Each participant's accuracy per condition (gray), the participants' mean with a 95% t interval "
            "over participants (black), and each model's runs (diamonds). Dashed line: chance.",
        ),
        Table("participant_summary", r.summary, "Accuracy over participants per condition."),
        Table("accuracy_per_participant", r.per, "Accuracy per participant x condition.", preview=0),
    ]


# ------------------------------------------------------------------ 3. tests


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


# ------------------------------------------------------------------ 4. error consistency


def compute_consistency(ctx: Context, _: dict[str, Any]) -> ConsistencyResult:
    return error_consistency_analysis(ctx.kept, ctx.options.kappa, ctx.groups)


def present_consistency(r: ConsistencyResult, ctx: Context) -> list[Block]:
    if r.summary.empty:
        return not_applicable("Error consistency")
    o = r.options
    policy = (
        "set to 1, the published convention (model-vs-human), for comparability"
        if o.ceiling == "one"
        else "left out (--kappa-ceiling exclude)"
    )
    blocks: list[Block] = [
        Paragraph(
            "Cohen's kappa on trial-by-trial correctness (Geirhos et al. 2020): trials matched by "
            "stimulus_id, "
            "a missing answer counts as wrong, per condition, then averaged over pairs of participants "
            f"(human-human) or participants x training runs (human-model). Pairs sharing fewer than "
            f"{o.min_shared} stimuli are left out. Where both agents are right on every shared stimulus "
            f"(ceiling) or both wrong (floor), kappa is undefined; such pairs are {policy}, and they are "
            "counted per condition (n_pairs_ceiling, n_pairs_floor). 95% intervals: percentile bootstrap "
            f"over {o.unit if o.unit == 'items' else 'participants (and training runs)'} ({o.n_boot} "
            "resamples); model-model intervals resample stimuli."
        )
    ]
    s = r.summary
    heavy = s[
        (s["n_pairs_used"] > 0) & ((s["n_pairs_ceiling"] + s["n_pairs_floor"]) / s["n_pairs_used"] > 0.25)
    ]
    for _, row in heavy.iterrows():
        if o.ceiling == "one":
            blocks.append(
                Warning(
                    f"{row['comparison']} {row['condition']}: "
                    f"{row['n_pairs_ceiling'] + row['n_pairs_floor']} "
                    f"of {row['n_pairs_used']} pairs are at ceiling/floor and enter with kappa = 1; the mean "
                    f"{fmt(row['kappa'])} reflects the convention as much as the data (see "
                    "--kappa-ceiling exclude)."
                )
            )
    unreliable = s[s["boot_undefined_share"] > 0.1]
    for _, row in unreliable.iterrows():
        blocks.append(
            Warning(
                f"{row['comparison']} {row['condition']}: in {row['boot_undefined_share']:.0%} of "
                "item resamples a pair's kappa was undefined (it kept its observed value); so close to "
                "ceiling the item bootstrap understates the uncertainty: prefer --kappa-ci participants."
            )
        )
    blocks += [
        Table("error_consistency", s, "Error consistency per comparison x condition."),
        FigureBlock(
            "kappa_summary",
            plots.kappa_summary_plot(s),
            "Mean error consistency with bootstrap 95% intervals, human-human and each model vs humans "
            "(model-model pairs are in the table); dashed line: kappa 0.",
        ),
    ]
    agents = [a for runs in ctx.groups.values() for a in runs]
    humans = ctx.kept[ctx.kept["agent_type"] == "human"].groupby("agent")["list_id"].first()
    agents += list(humans.sort_values(kind="stable").index)
    for cond in sorted(r.pairs["condition"].unique()):
        present = set(r.pairs.loc[r.pairs["condition"] == cond, ["agent_a", "agent_b"]].to_numpy().ravel())
        row = s[(s["condition"] == cond) & (s["comparison"] == "human-human")]
        counts = ""
        if len(row):
            x = row.iloc[0]
            counts = (
                f" Human pairs: {x['n_pairs_possible']}, of which {x['n_pairs_too_few_shared']} "
                "shared too few "
                f"trials, {x['n_pairs_ceiling']} were at ceiling and {x['n_pairs_floor']} at floor."
            )
        blocks.append(
            FigureBlock(
                f"consistency_{cond}",
                plots.consistency_heatmap(r.pairs, cond, [a for a in agents if a in present], o.ceiling),
                f"Pairwise kappa, condition {cond} (models first, then participants grouped by trial list)."
                + counts,
            )
        )
    return blocks


# ------------------------------------------------------------------ 5. confusions


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


# ------------------------------------------------------------------ 6. reaction times


def compute_rt(ctx: Context, _: dict[str, Any]) -> rt.RTResult:
    return rt.rt_analysis(ctx.kept, n_boot=max(ctx.options.n_boot, 1000), seed=ctx.options.seed)


def present_rt(r: rt.RTResult, ctx: Context) -> list[Block]:
    if r.empty:
        return not_applicable("Reaction times (no human RTs)")
    return [
        Paragraph(rt.__doc__.split("\n\n")[1].replace("\n", " ") if rt.__doc__ else ""),
        Table("rt_by_condition", r.by_condition, "Median RT per condition (humans; models have no RT)."),
        Table(
            "rt_correct_vs_wrong",
            r.correct_vs_wrong,
            "RT on correct vs wrong answers (paired per participant).",
        ),
        FigureBlock(
            "rt", plots.rt_plot(r.per_participant, r.by_condition), "Reaction times (answered trials)."
        ),
        Table("rt_per_participant", r.per_participant, "Median RT per participant x condition.", preview=0),
    ]


# ------------------------------------------------------------------ 7-8. FRI and noise


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
        Table("noise_levels", levels, "Accuracy per noise level."),
        Table("noise_thresholds", fits_df, "Psychometric fits and halfway thresholds."),
        FigureBlock("noise", plots.noise_plot(levels, fits), "Accuracy against PSNR (dotted: thresholds)."),
    ]


# ------------------------------------------------------------------ 9. power


def compute_power(ctx: Context, results: dict[str, Any]) -> power.PowerResult:
    hvm = results["tests"].human_vs_model if "tests" in results else pd.DataFrame()
    o = ctx.options
    return power.power_analysis(ctx.kept, hvm, difference=o.power_difference, alpha=o.alpha, power=o.power)


def present_power(r: power.PowerResult, ctx: Context) -> list[Block]:
    if r.table.empty:
        return not_applicable("Power analysis")
    return [Paragraph("Assumptions: " + r.assumptions), Table("power", r.table, "Participants needed.")]


# ------------------------------------------------------------------ 10. provenance


def compute_provenance(ctx: Context, _: dict[str, Any]) -> Provenance | None:
    return ctx.provenance


def present_provenance(r: Provenance | None, ctx: Context) -> list[Block]:
    if r is None:
        return not_applicable("Provenance")
    blocks: list[Block] = [
        Paragraph(f"Command: {r.command}"),
        Table("provenance_stimuli", r.stimulus_set, "Stimulus set."),
        Table("provenance_inputs", r.inputs, "Input files (SHA-256)."),
        Table("provenance_software", r.software, "Software versions."),
    ]
    if len(r.checkpoints):
        blocks.append(
            Table("provenance_checkpoints", r.checkpoints, "Network checkpoints and their training.")
        )
        if {"epochs_run", "epochs_planned"} <= set(r.checkpoints.columns):
            planned = pd.to_numeric(r.checkpoints["epochs_planned"], errors="coerce")
            for c in r.checkpoints[r.checkpoints["epochs_run"] < planned].itertuples():
                blocks.append(
                    Warning(
                        f"{c.checkpoint}: training stopped after {c.epochs_run} of {c.epochs_planned} epochs "
                        f"(validation accuracy {c.val_accuracy}); its predictions are of a partly trained "
                        "network."
                    )
                )
    else:
        blocks.append(
            Paragraph(
                "No checkpoint given (--checkpoint): the networks' training state is not recorded here."
            )
        )
    return blocks


SECTIONS: list[Section] = [
    Section("data", "Data and exclusions", compute_data, present_data),
    Section("accuracy", "1. Accuracy", compute_accuracy, present_accuracy),
    Section("participants", "2. Participants", compute_participants, present_participants),
    Section("tests", "3. People vs models, and condition contrasts", compute_tests, present_tests),
    Section("consistency", "4. Error consistency", compute_consistency, present_consistency),
    Section("confusions", "5. Confusions", compute_confusions, present_confusions),
    Section("rt", "6. Reaction times", compute_rt, present_rt),
    Section(
        "fri", "7. Fragile recognition image (FRI) pairs", fri_pairs_render.compute, fri_pairs_render.present
    ),
    Section("fooling", "7b. Fooling images (Nguyen et al. 2015)", fooling.compute, fooling.present),
    Section("noise", "8. Noise: accuracy against PSNR", compute_noise, present_noise),
    Section("power", "9. Power: how many participants are needed", compute_power, present_power),
    Section("provenance", "10. Provenance", compute_provenance, present_provenance),
]
"""The report, in order. Append (or insert) a Section to add one."""


def heading(section: Section) -> Heading:
    return Heading(section.title)
