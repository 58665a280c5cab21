"""Participant and trial exclusions: one catch-trial rule shared with the study server, every count reported.

The default catch rule is the study's own screening rule: the study server screens a participant out
once they fail more than ``catch_fail_threshold`` catch trials (a study setting, 1 by default), and the
responses export carries that setting per row. Analysing with the same rule means nobody the server
let finish, and paid, is dropped by a stricter rule nobody saw; a different rule can still be asked
for and is then stated as such. Each removed participant is listed with the server's word on whether
they completed the study and were paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# study_server's default `catch_fail_threshold` (study_server/settings.py); used only for exports
# that do not carry the study's own setting. tests/analysis/test_exclusions.py keeps the two equal.
SERVER_DEFAULT_CATCH_FAILURES = 1


@dataclass(frozen=True)
class CatchRule:
    """Exclude participants with more than ``max_failures`` failed catch trials (None: rule off)."""

    max_failures: int | None
    source: str
    min_accuracy: float | None = None  # the older accuracy form, only when asked for explicitly

    @property
    def enabled(self) -> bool:
        return self.max_failures is not None or self.min_accuracy is not None

    def describe(self) -> str:
        if self.min_accuracy is not None:
            return f"catch-trial accuracy below {self.min_accuracy:g} ({self.source})"
        if self.max_failures is None:
            return f"no catch-trial rule ({self.source})"
        s = "" if self.max_failures == 1 else "s"
        return f"more than {self.max_failures} failed catch trial{s} ({self.source})"


def study_catch_rule(responses: pd.DataFrame) -> CatchRule:
    """The study's screening rule, read from the export's ``catch_fail_threshold`` column."""
    if "catch_fail_threshold" in responses.columns and len(responses):
        values = pd.to_numeric(responses["catch_fail_threshold"], errors="coerce")
        distinct = sorted(set(values.dropna().astype(int)))
        if len(distinct) > 1:
            # several studies in one export: the most lenient keeps everyone any of them kept
            return CatchRule(max(distinct), f"study settings, most lenient of {distinct}")
        if distinct:
            return CatchRule(distinct[0], "the study's screening setting")
        return CatchRule(None, "the study does not screen on catch trials")
    return CatchRule(
        SERVER_DEFAULT_CATCH_FAILURES,
        "the study server's default; this export does not carry the study's setting",
    )


@dataclass(frozen=True)
class ExclusionRules:
    """Switchable rules; None or False switches one off. The catch rule comes from study_catch_rule."""

    catch: CatchRule = field(
        default_factory=lambda: CatchRule(SERVER_DEFAULT_CATCH_FAILURES, "the study server's default")
    )
    drop_incomplete: bool = True
    rt_min_ms: float | None = 200.0
    rt_max_ms: float | None = 30000.0
    min_regular_accuracy: float | None = None


@dataclass(frozen=True)
class ExclusionResult:
    """What the rules kept and removed.

    rules: one row per rule (participants and trials removed, and how many of those participants the
    server marked completed and paid); participants: one row per participant with their catch-trial
    record, the server's status and the rule that removed them (empty if kept).
    """

    kept: pd.DataFrame
    rules: pd.DataFrame
    participants: pd.DataFrame
    catch_rule: CatchRule

    @property
    def removed(self) -> pd.DataFrame:
        return self.participants[self.participants["excluded_by"] != ""]


def _participant_table(humans: pd.DataFrame) -> pd.DataFrame:
    if humans.empty:
        cols = ["participant", "n_trials", "n_catch", "n_catch_failed", "status", "completed", "paid"]
        return pd.DataFrame(columns=cols)
    g = humans.groupby("agent")
    catch = humans[humans["catch"]]
    failed = (1 - catch["correct"]).groupby(catch["agent"]).sum()
    table = pd.DataFrame(
        {
            "participant": list(g.groups),
            "n_trials": g.size().to_numpy(),
            "n_catch": catch.groupby("agent").size().reindex(list(g.groups), fill_value=0).to_numpy(),
            "n_catch_failed": failed.reindex(list(g.groups), fill_value=0).astype(int).to_numpy(),
            "status": g["status"].first().to_numpy(),
            "completed": g["completed"].first().to_numpy(),
            "paid": g["paid"].first().to_numpy(),
        }
    )
    return table


def _known_true(values: pd.Series) -> int:
    return int(sum(1 for v in values if isinstance(v, bool | np.bool_) and bool(v)))


def apply_exclusions(trials: pd.DataFrame, rules: ExclusionRules) -> ExclusionResult:
    """Apply the rules in order (catch, incomplete, regular accuracy, then RT trials).

    A participant is counted under the first rule that removes them. A timeout is a wrong answer, not
    an RT outlier.
    """
    humans = trials[trials["agent_type"] == "human"]
    people = _participant_table(humans).set_index("participant")
    people["excluded_by"] = ""
    rows: list[dict[str, object]] = []

    def record(rule: str, enabled: bool, setting: str, who: set[str], n_trials: int) -> None:
        who = {w for w in who if people.at[w, "excluded_by"] == ""}
        for w in who:
            people.at[w, "excluded_by"] = rule
        rows.append(
            {
                "rule": rule,
                "enabled": enabled,
                "setting": setting,
                "participants_excluded": len(who),
                "of_them_completed": _known_true(people.loc[sorted(who), "completed"]) if who else 0,
                "of_them_paid": _known_true(people.loc[sorted(who), "paid"]) if who else 0,
                "trials_excluded": n_trials if n_trials >= 0 else int(humans["agent"].isin(who).sum()),
            }
        )

    # 1. Catch trials: the study's own screening rule unless another was asked for.
    rule = rules.catch
    who: set[str] = set()
    if rule.min_accuracy is not None:
        acc = 1 - people["n_catch_failed"] / people["n_catch"].replace(0, np.nan)
        who = set(acc[acc < rule.min_accuracy].index)
    elif rule.max_failures is not None:
        who = set(people.index[people["n_catch_failed"] > rule.max_failures])
    record("failed catch trials", rule.enabled, rule.describe(), who, -1)

    # 2. Incomplete: not finished per the server, or fewer trials than others on the same list.
    who = set()
    if rules.drop_incomplete and len(humans):
        unfinished = {
            a for a, done in people["completed"].items() if isinstance(done, bool | np.bool_) and not done
        }
        lists = humans.groupby("agent")["list_id"].first().fillna("__all__").astype(str)
        counts = people["n_trials"]
        expected = counts.groupby(lists.reindex(counts.index)).transform("max")
        who = unfinished | set(counts[counts < expected].index)
    record(
        "incomplete participants",
        rules.drop_incomplete,
        "not completed (per the study server) or fewer trials than their list"
        if rules.drop_incomplete
        else "off",
        who,
        -1,
    )

    # 3. Optional: minimum accuracy on regular (non-catch) images.
    who = set()
    if rules.min_regular_accuracy is not None:
        reg = humans[(humans["condition"] == "regular") & ~humans["catch"]]
        acc = reg.groupby("agent")["correct"].mean()
        who = set(acc[acc < rules.min_regular_accuracy].index)
    record(
        "low regular-image accuracy",
        rules.min_regular_accuracy is not None,
        f"regular accuracy < {rules.min_regular_accuracy}"
        if rules.min_regular_accuracy is not None
        else "off",
        who,
        -1,
    )

    excluded = set(people.index[people["excluded_by"] != ""])
    kept = trials[~((trials["agent_type"] == "human") & trials["agent"].isin(excluded))]

    # 4. RT outliers: trials too fast to be a real decision, or so slow the participant was away.
    rt_on = rules.rt_min_ms is not None or rules.rt_max_ms is not None
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
    return ExclusionResult(
        kept=kept.reset_index(drop=True),
        rules=pd.DataFrame(rows),
        participants=people.reset_index(),
        catch_rule=rule,
    )
