"""Error consistency (Cohen's kappa on trial-by-trial correctness) between people and models."""

from __future__ import annotations

from typing import Any

from analysis.render import plots
from analysis.render.document import Block, FigureBlock, Paragraph, Table, Warning, not_applicable
from analysis.render.formatting import fmt
from analysis.sections.base import Context, Section
from analysis.stats.consistency import ConsistencyResult, error_consistency_analysis

KAPPA_COLUMNS = {
    "c_obs": "observed_agreement",
    "c_exp": "expected_agreement",
    "acc_diff_sq": "accuracy_difference_squared",
    "n_shared": "n_shared_stimuli",
}
"""Names that say what the kappa tables hold (here and in tables/error_consistency_pairs.csv)."""


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
        Table(
            "error_consistency",
            s.rename(columns=KAPPA_COLUMNS),
            "Error consistency per comparison x condition: mean kappa with its 95% interval, the pairs "
            "behind it, and the mean observed and expected (from the two accuracies) agreement.",
        ),
        FigureBlock(
            "kappa_summary",
            plots.kappa_summary_plot(s, ctx.conditions(s["condition"])),
            "Per condition: mean error consistency (kappa) over pairs of participants (human-human, black) "
            "and over participant x training-run pairs for each model (colours), with bootstrap 95% "
            "intervals; model-model pairs are in the table; dashed line: kappa 0.",
        ),
    ]
    agents = [a for runs in ctx.groups.values() for a in runs]
    humans = ctx.kept[ctx.kept["agent_type"] == "human"].groupby("agent")["list_id"].first()
    agents += list(humans.sort_values(kind="stable").index)
    undefined = "counted as 1 in the means" if o.ceiling == "one" else "left out of the means"
    for cond in ctx.conditions(r.pairs["condition"]):
        present = set(r.pairs.loc[r.pairs["condition"] == cond, ["agent_a", "agent_b"]].to_numpy().ravel())
        row = s[(s["condition"] == cond) & (s["comparison"] == "human-human")]
        counts = ""
        if len(row):
            x = row.iloc[0]
            counts = (
                f" Human pairs: {x['n_pairs_possible']}; sharing too few trials: "
                f"{x['n_pairs_too_few_shared']}; at ceiling: {x['n_pairs_ceiling']}; "
                f"at floor: {x['n_pairs_floor']}."
            )
        blocks.append(
            FigureBlock(
                f"consistency_{cond}",
                plots.consistency_heatmap(r.pairs, cond, [a for a in agents if a in present], o.ceiling),
                f"Pairwise error consistency, condition {cond}: one cell per pair of agents (models first, "
                "then participants grouped by trial list), coloured by kappa where it is defined; yellow: "
                "both agents right on every shared stimulus (ceiling; marked F where both were wrong on "
                f"every one, floor), kappa undefined and {undefined}; hatched: fewer than {o.min_shared} "
                "shared stimuli; dark: the diagonal (an agent with itself)." + counts,
            )
        )
    return blocks


SECTION = Section("consistency", "4. Error consistency", compute_consistency, present_consistency)
