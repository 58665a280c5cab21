"""The human noise ceiling: how consistently each person answers the same image twice.

A study may show a fraction of its stimuli a second time (the export's ``repeat`` = 1 on the second
showing). Per participant, on the stimuli they saw twice: the share of identical answers (answer
agreement; two timeouts agree), and the error consistency (Cohen's kappa on correctness, Geirhos et al.
2020, through analysis.stats.consistency) between first and second showing. A model's error
consistency with people can be read against this ceiling: people are not more consistent with others
than with themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats.consistency import error_consistency


@dataclass(frozen=True)
class RetestResult:
    pairs: pd.DataFrame  # participant, stimulus_id, condition, response/correct on each showing
    per_participant: pd.DataFrame  # participant, condition ("all" and each), n_repeated, agreement, kappa
    ceiling: pd.DataFrame  # condition, n_participants, mean kappa with t 95% CI, mean agreement

    @property
    def empty(self) -> bool:
        return self.pairs.empty

    def summary_scalars(self) -> dict[str, object]:
        if self.ceiling.empty:
            return {}
        row = self.ceiling[self.ceiling["condition"] == "all"].iloc[0]
        return {"human_test_retest_kappa": float(row["kappa_mean"])}


def _t_interval(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def retest_consistency(first: pd.DataFrame, repeats: pd.DataFrame) -> RetestResult:
    """First showings (the analysed human trials) against the repeats of the same stimuli."""
    cols = ["participant", "stimulus_id", "condition", "response", "correct"]
    if repeats.empty or first.empty:
        empty = pd.DataFrame(columns=cols)
        return RetestResult(empty, pd.DataFrame(), pd.DataFrame())
    one = first[(first["agent_type"] == "human") & ~first["catch"]].assign(participant=lambda d: d["agent"])
    pairs = one[cols].merge(
        repeats[["participant", "stimulus_id", "response", "correct"]],
        on=["participant", "stimulus_id"],
        suffixes=("_first", "_second"),
    )
    pairs["same_answer"] = pairs["response_first"].fillna(-1) == pairs["response_second"].fillna(-1)
    rows = []
    for (who, cond), g in [
        *(((p, "all"), g) for p, g in pairs.groupby("participant")),
        *pairs.groupby(["participant", "condition"]),
    ]:
        ec = error_consistency(g["correct_first"].to_numpy(float), g["correct_second"].to_numpy(float))
        rows.append(
            {
                "participant": who,
                "condition": cond,
                "n_repeated": len(g),
                "answer_agreement": float(g["same_answer"].mean()),
                "c_obs": ec["c_obs"],
                "kappa": ec["kappa"],
            }
        )
    per = pd.DataFrame(rows)
    ceiling = []
    for cond, g in per.groupby("condition", sort=False):
        k = g["kappa"].to_numpy(float)
        lo, hi = _t_interval(k)
        ceiling.append(
            {
                "condition": cond,
                "n_participants": len(g),
                "n_repeated": int(g["n_repeated"].sum()),
                "kappa_mean": float(np.nanmean(k)) if np.isfinite(k).any() else np.nan,
                "kappa_ci_low": lo,
                "kappa_ci_high": hi,
                "answer_agreement_mean": float(g["answer_agreement"].mean()),
            }
        )
    return RetestResult(pairs, per, pd.DataFrame(ceiling))
