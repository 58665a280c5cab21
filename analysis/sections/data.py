"""Data and exclusions: who is in the responses, which rules removed whom, input problems."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.render.document import Block, Paragraph, Table, Warning
from analysis.render.formatting import fmt
from analysis.sections.base import Context, Section
from analysis.stats.timing import TimingResult, timing_quality


@dataclass(frozen=True)
class DataSummary:
    n_participants_raw: int
    n_participants_analysed: int
    models: list[str]
    issues: list[str]
    catch_trials: int
    catch_accuracy_mean: float
    timing: TimingResult


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
        timing=timing_quality(t, ctx.exclusions_rules.timing),
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
                removed.drop(columns=["n_trials"]).rename(
                    columns={"n_catch": "n_catch_trials", "n_catch_failed": "n_catch_trials_failed"}
                ),
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
    return blocks + _timing_blocks(r.timing)


def _timing_blocks(t: TimingResult) -> list[Block]:
    """How the screen was measured and whether the browser kept time: reported whatever the rule."""
    blocks: list[Block] = []
    methods = t.distance_methods
    if methods:
        said = {"blind_spot": "measured with the blind-spot method", "assumed": "assumed, not measured"}
        parts = [f"{n} participant(s) {said.get(m, m)}" for m, n in methods.items()]
        blocks.append(Paragraph("Viewing distance: " + "; ".join(parts) + "."))
    else:
        blocks.append(Paragraph("Viewing distance: not recorded in this export (assumed by the study)."))
    if t.n_timed:
        blocks.append(
            Paragraph(
                f"Timing: {t.n_mistimed} of {t.n_timed} timed trials ({t.n_mistimed / t.n_timed:.1%}) missed "
                f"the requested duration ({t.rule.describe()}); "
                + (
                    "they are excluded."
                    if t.rule.apply
                    else "they are kept (--exclude-mistimed removes them)."
                )
            )
        )
        blocks.append(
            Table(
                "timing_per_participant",
                t.per_participant,
                "Per participant: measured refresh rate, viewing-distance method and distance, timed trials "
                "and those whose presentation missed the requested number of frames.",
                preview=8,
            )
        )
    else:
        blocks.append(
            Paragraph("Timing: no timed trials (untimed presentation, or an export without frame counts).")
        )
    return blocks


SECTION = Section("data", "Data and exclusions", compute_data, present_data)
