"""Reaction times of people per condition, and on correct vs wrong answers."""

from __future__ import annotations

from typing import Any

from analysis.render import plots
from analysis.render.document import Block, FigureBlock, Paragraph, Table, not_applicable
from analysis.sections.base import Context, Section
from analysis.stats import rt


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
            "rt",
            plots.rt_plot(r.per_participant, r.by_condition, ctx.conditions(r.per_participant["condition"])),
            "People's reaction times on answered trials within the RT limits (networks have none). Left: "
            "each participant's median RT per condition (gray dots) and the mean of those medians with a "
            "percentile-bootstrap 95% interval over participants (black). Right: each participant's "
            "median RT on correct (blue) and on wrong (orange) answers per condition; a participant "
            "with no wrong answer in a condition has no orange dot there.",
        ),
        Table("rt_per_participant", r.per_participant, "Median RT per participant x condition.", preview=0),
    ]


SECTION = Section("rt", "6. Reaction times", compute_rt, present_rt)
