"""Participant and trial exclusions: each rule is switchable and its counts are always reported."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ExclusionRules:
    """Defaults follow common online-study practice; None or False switches a rule off."""

    catch_min_accuracy: float | None = 1.0
    drop_incomplete: bool = True
    rt_min_ms: float | None = 200.0
    rt_max_ms: float | None = 30000.0
    min_regular_accuracy: float | None = None


def apply_exclusions(trials: pd.DataFrame, rules: ExclusionRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (kept trials, a table with one row per rule: participants and trials it removed).

    Participant rules are evaluated on the raw data in order (catch, incomplete, regular accuracy);
    a participant is counted under the first rule that excludes them. The RT rule removes trials.
    """
    humans = trials[trials["agent_type"] == "human"]
    rows: list[dict[str, object]] = []
    excluded: set[str] = set()

    def record(rule: str, enabled: bool, setting: str, who: set[str], n_trials: int) -> None:
        rows.append(
            {
                "rule": rule,
                "enabled": enabled,
                "setting": setting,
                "participants_excluded": len(who),
                "trials_excluded": n_trials,
            }
        )

    # 1. Catch trials: a participant who fails them was not paying attention.
    catch = humans[humans["catch"]]
    who: set[str] = set()
    if rules.catch_min_accuracy is not None and len(catch):
        acc = catch.groupby("agent")["correct"].mean()
        who = set(acc[acc < rules.catch_min_accuracy].index) - excluded
    n = int(humans["agent"].isin(who).sum())
    record(
        "failed catch trials",
        rules.catch_min_accuracy is not None,
        f"catch accuracy < {rules.catch_min_accuracy}" if rules.catch_min_accuracy is not None else "off",
        who,
        n,
    )
    excluded |= who

    # 2. Incomplete: status not finished, or fewer trials than others on the same list.
    who = set()
    if rules.drop_incomplete and len(humans):
        completed = humans.groupby("agent")["completed"].first()  # the server's word, when exported
        unfinished = {a for a, done in completed.items() if isinstance(done, bool | np.bool_) and not done}
        counts = humans.groupby("agent").size()
        lists = humans.groupby("agent")["list_id"].first().fillna("__all__").astype(str)
        expected = counts.groupby(lists).transform("max")
        short = set(counts[counts < expected].index)
        who = (unfinished | short) - excluded
    n = int(humans["agent"].isin(who).sum())
    record(
        "incomplete participants",
        rules.drop_incomplete,
        "not completed (per the study server) or fewer trials than their list"
        if rules.drop_incomplete
        else "off",
        who,
        n,
    )
    excluded |= who

    # 3. Optional: minimum accuracy on regular (non-catch) images.
    who = set()
    if rules.min_regular_accuracy is not None:
        reg = humans[(humans["condition"] == "regular") & ~humans["catch"]]
        acc = reg.groupby("agent")["correct"].mean()
        who = set(acc[acc < rules.min_regular_accuracy].index) - excluded
    n = int(humans["agent"].isin(who).sum())
    record(
        "low regular-image accuracy",
        rules.min_regular_accuracy is not None,
        f"regular accuracy < {rules.min_regular_accuracy}"
        if rules.min_regular_accuracy is not None
        else "off",
        who,
        n,
    )
    excluded |= who

    kept = trials[~((trials["agent_type"] == "human") & trials["agent"].isin(excluded))]

    # 4. RT outliers: trials too fast to be a real decision, or so slow the participant was away.
    rt_on = rules.rt_min_ms is not None or rules.rt_max_ms is not None
    # Only answered trials: a timeout is a wrong answer (model-vs-human's convention), not an outlier.
    is_h = (kept["agent_type"] == "human") & kept["answered"]
    bad = pd.Series(False, index=kept.index)
    if rules.rt_min_ms is not None:
        bad |= is_h & (kept["rt_ms"] < rules.rt_min_ms)
    if rules.rt_max_ms is not None:
        bad |= is_h & (kept["rt_ms"] > rules.rt_max_ms)
    record(
        "RT outlier trials",
        rt_on,
        f"rt_ms < {rules.rt_min_ms} or > {rules.rt_max_ms}" if rt_on else "off",
        set(),
        int(bad.sum()),
    )
    kept = kept[~bad]
    return kept.reset_index(drop=True), pd.DataFrame(rows)
