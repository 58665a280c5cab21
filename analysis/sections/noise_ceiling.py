"""The human noise ceiling: each participant's test-retest consistency on repeated stimuli, beside the
error consistency of people with each other and with each model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.render import plots
from analysis.render.document import Block, FigureBlock, Paragraph, Table, not_applicable
from analysis.sections.base import Context, Section
from analysis.stats.consistency import ConsistencyResult
from analysis.stats.retest import RetestResult, retest_consistency


@dataclass(frozen=True)
class CeilingResult:
    retest: RetestResult
    beside: pd.DataFrame  # beside_ceiling

    def summary_scalars(self) -> dict[str, object]:
        return self.retest.summary_scalars()


def compute_ceiling(ctx: Context, results: dict[str, Any]) -> CeilingResult:
    r = retest_consistency(ctx.kept, ctx.table.repeats)
    return CeilingResult(r, beside_ceiling(r, results.get("consistency")) if not r.empty else pd.DataFrame())


def beside_ceiling(r: RetestResult, consistency: ConsistencyResult | None) -> pd.DataFrame:
    """Per condition: human-human and each human-model kappa, and the human test-retest ceiling."""
    ceiling = r.ceiling.set_index("condition")
    rows = []
    summary = consistency.summary if consistency is not None else pd.DataFrame()
    for _, s in summary[summary["comparison"] != "model-model"].iterrows() if len(summary) else []:
        cond = s["condition"]
        source = cond if cond in ceiling.index else "all"
        rows.append(
            {
                "condition": cond,
                "comparison": s["comparison"]
                if s["comparison"] == "human-human"
                else f"humans-{s['agent_b']}",
                "kappa": s["kappa"],
                "kappa_ci_low": s["kappa_ci_low"],
                "kappa_ci_high": s["kappa_ci_high"],
                "human_test_retest_kappa": ceiling.at[source, "kappa_mean"],
                "human_test_retest_ci_low": ceiling.at[source, "kappa_ci_low"],
                "human_test_retest_ci_high": ceiling.at[source, "kappa_ci_high"],
                "ceiling_from": "this condition" if source == cond else "all conditions pooled",
            }
        )
    return pd.DataFrame(rows)


def present_ceiling(c: CeilingResult, ctx: Context) -> list[Block]:
    r, side = c.retest, c.beside
    if r.empty:
        return not_applicable("Human noise ceiling (no repeated stimuli in the responses)")
    blocks: list[Block] = [
        Paragraph(
            "Each participant saw some stimuli twice (shown apart within the session). Test-retest "
            "consistency is their answer agreement between the two showings and the error consistency "
            "(kappa on correctness, same convention as above) of the first showing with the second; its mean "
            "over participants is the human noise ceiling: how consistent a person is with themself, which "
            "bounds the consistency a model can be expected to reach with people."
        ),
        Table("noise_ceiling", r.ceiling, "Human test-retest consistency per condition (mean, t 95% CI)."),
    ]
    if len(side):
        blocks.append(
            Table(
                "consistency_vs_ceiling",
                side,
                "Error consistency of people with each other and with each model, beside the human "
                "test-retest ceiling of the same condition (or pooled where a condition had no repeats).",
            )
        )
        blocks.append(
            FigureBlock(
                "consistency_vs_ceiling",
                plots.ceiling_plot(side, ctx.conditions(side["condition"])),
                "Per condition, points: mean error consistency (kappa) of people with each other (black) "
                "and with each model (colours), with bootstrap 95% intervals; grey bars: the human "
                "test-retest ceiling, the mean over participants of the kappa between their first and second "
                "showings, with a t 95% interval over participants (none with fewer than two; pooled "
                "over conditions where a condition had no repeats; see ceiling_from). Dashed line: kappa 0.",
            )
        )
    blocks.append(
        Table("test_retest_per_participant", r.per_participant, "Test-retest per participant.", preview=8)
    )
    return blocks


SECTION = Section("noise_ceiling", "4b. Human noise ceiling (test-retest)", compute_ceiling, present_ceiling)
