"""Reaction times: median RT per condition (and per participant), and RT on correct vs wrong answers.

RT distributions are skewed, so each participant is summarised by their median RT (answered trials
only; a timeout has no RT), and the group by the mean of those medians with a 95% percentile bootstrap
interval over participants, the usual practice in psychophysics (e.g. Ratcliff 1993 on RT outliers
and medians). Correct vs wrong compares each participant's two medians within a condition (a paired
difference), so people who err more often do not dominate. Models have no RTs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HUMANS = "humans"


@dataclass(frozen=True)
class RTResult:
    """per_participant: median RT per participant x condition (and x correctness);
    by_condition: the group summary per condition; correct_vs_wrong: paired differences."""

    per_participant: pd.DataFrame
    by_condition: pd.DataFrame
    correct_vs_wrong: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.by_condition.empty


def bootstrap_mean_ci(
    values: np.ndarray, *, n_boot: int, rng: np.random.Generator, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean (NaN with fewer than 2 values)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) < 2 or n_boot <= 0:
        return (np.nan, np.nan)
    idx = rng.integers(0, len(v), size=(n_boot, len(v)))
    means = v[idx].mean(axis=1)
    a = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [a, 100 - a])
    return (float(lo), float(hi))


def rt_analysis(trials: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> RTResult:
    """Median RTs per participant, their mean per condition with CIs, and correct vs wrong."""
    rng = np.random.default_rng(seed)
    data = trials[
        (trials["agent_type"] == "human") & ~trials["catch"] & trials["answered"] & trials["rt_ms"].notna()
    ]
    if data.empty:
        empty = pd.DataFrame()
        return RTResult(empty, empty, empty)
    per = (
        data.groupby(["agent", "condition"])
        .agg(median_rt_ms=("rt_ms", "median"), n_trials=("rt_ms", "size"), accuracy=("correct", "mean"))
        .reset_index()
        .rename(columns={"agent": "participant"})
    )
    split = (
        data.assign(answer=np.where(data["correct"] == 1, "correct", "wrong"))
        .groupby(["agent", "condition", "answer"])["rt_ms"]
        .median()
        .unstack("answer")
        .reindex(columns=["correct", "wrong"])
        .rename(columns={"correct": "median_rt_correct_ms", "wrong": "median_rt_wrong_ms"})
        .reset_index()
        .rename(columns={"agent": "participant"})
    )
    per = per.merge(split, on=["participant", "condition"], how="left")
    rows, cw_rows = [], []
    for cond, g in per.groupby("condition"):
        lo, hi = bootstrap_mean_ci(g["median_rt_ms"].to_numpy(), n_boot=n_boot, rng=rng)
        rows.append(
            {
                "agent": HUMANS,
                "condition": cond,
                "n_participants": len(g),
                "mean_of_median_rt_ms": float(g["median_rt_ms"].mean()),
                "ci_low": lo,
                "ci_high": hi,
                "median_of_medians_ms": float(g["median_rt_ms"].median()),
            }
        )
        both = g.dropna(subset=["median_rt_correct_ms", "median_rt_wrong_ms"])
        diff = (both["median_rt_wrong_ms"] - both["median_rt_correct_ms"]).to_numpy()
        lo, hi = bootstrap_mean_ci(diff, n_boot=n_boot, rng=rng)
        cw_rows.append(
            {
                "condition": cond,
                "mean_median_rt_correct_ms": float(g["median_rt_correct_ms"].mean()),
                "mean_median_rt_wrong_ms": float(g["median_rt_wrong_ms"].mean())
                if g["median_rt_wrong_ms"].notna().any()
                else np.nan,
                "n_participants_with_both": len(both),
                "wrong_minus_correct_ms": float(diff.mean()) if len(diff) else np.nan,
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    return RTResult(per, pd.DataFrame(rows), pd.DataFrame(cw_rows))
