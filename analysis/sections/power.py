"""Power: how many participants a study needs to detect a given human-model difference."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.render.document import Block, Paragraph, Table, not_applicable
from analysis.sections.base import Context, Section
from analysis.stats import power


def compute_power(ctx: Context, results: dict[str, Any]) -> power.PowerResult:
    hvm = results["tests"].human_vs_model if "tests" in results else pd.DataFrame()
    o = ctx.options
    return power.power_analysis(ctx.kept, hvm, difference=o.power_difference, alpha=o.alpha, power=o.power)


def present_power(r: power.PowerResult, ctx: Context) -> list[Block]:
    if r.table.empty:
        return not_applicable("Power analysis")
    table = r.table.rename(
        columns={
            "difference": "difference_to_detect",
            "p_human": "human_accuracy",
            "icc": "icc_participants",
        }
    )
    return [Paragraph("Assumptions: " + r.assumptions), Table("power", table, "Participants needed.")]


SECTION = Section("power", "9. Power: how many participants are needed", compute_power, present_power)
