"""How many participants a human-vs-model comparison needs, with every assumption stated.

Assumptions (printed with the table): a two-sided test at level alpha on the human proportion correct
against the model's accuracy, which is treated as known (one-sample normal test on Cohen's h, the
closed form that statsmodels' NormalIndPower solves: n = ((z_(1-alpha/2) + z_power) / h)^2 trials);
trials are clustered in participants, so n is inflated by the design effect 1 + (m - 1) ICC (Kish
1965) with m trials per participant in the condition and the ICC from the GEE fit; and no fewer than
MIN_PARTICIPANTS participants, because cluster-robust (sandwich) standard errors are anti-conservative
with fewer clusters (Mancl & DeRouen 2001 show inflated type-I error below about 20-40), rounded up to
whole counterbalancing cycles (a multiple of the number of trial lists).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_effectsize

MIN_PARTICIPANTS = 20


@dataclass(frozen=True)
class PowerResult:
    table: pd.DataFrame
    assumptions: str


def participants_needed(
    p_human: float,
    difference: float,
    trials_per_participant: float,
    icc: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    n_lists: int = 1,
    minimum: int = MIN_PARTICIPANTS,
) -> dict[str, float]:
    """Participants to detect human accuracy differing from a fixed model accuracy by ``difference``."""
    p_model = min(max(p_human - difference, 1e-6), 1 - 1e-6)
    h = abs(float(proportion_effectsize(p_human, p_model)))
    icc = 0.0 if not np.isfinite(icc) else max(0.0, icc)
    m = max(trials_per_participant, 1)
    deff = 1 + (m - 1) * icc
    if h == 0 or not np.isfinite(h):
        return {
            "p_model": p_model,
            "cohens_h": h,
            "trials_needed": np.nan,
            "design_effect": deff,
            "participants_for_power": np.nan,
            "participants_needed": np.nan,
        }
    n_trials = ((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) / h) ** 2
    for_power = math.ceil(n_trials * deff / m)
    lists = max(1, int(n_lists))
    needed = max(for_power, minimum)
    needed = int(math.ceil(needed / lists) * lists)
    return {
        "p_model": p_model,
        "cohens_h": h,
        "trials_needed": float(n_trials),
        "design_effect": deff,
        "participants_for_power": for_power,
        "participants_needed": needed,
    }


def power_analysis(
    kept: pd.DataFrame,
    human_vs_model: pd.DataFrame,
    *,
    difference: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> PowerResult:
    """Per condition: participants needed for the target difference and for each observed difference."""
    humans = kept[(kept["agent_type"] == "human") & ~kept["catch"]]
    lists = humans["list_id"].dropna().nunique() if "list_id" in humans else 0
    rows = []
    for cond, g in humans.groupby("condition"):
        p_h = float(g["correct"].mean())
        m = float(g.groupby("agent").size().mean())
        hvm = human_vs_model[human_vs_model["condition"] == cond] if len(human_vs_model) else human_vs_model
        icc_vals = hvm["icc"].dropna() if len(hvm) else pd.Series(dtype=float)
        icc = float(icc_vals.mean()) if len(icc_vals) else 0.0
        targets = [("target difference", difference)]
        for _, r in hvm.iterrows():
            if abs(r["diff"]) > 0:
                targets.append((f"observed vs {r['model']}", abs(float(r["diff"]))))
        now = int(g["agent"].nunique())
        for basis, d in targets:
            res = participants_needed(p_h, d, m, icc, alpha=alpha, power=power, n_lists=max(lists, 1))
            need = res["participants_needed"]
            rows.append(
                {
                    "condition": cond,
                    "basis": basis,
                    "difference": d,
                    "p_human": p_h,
                    "trials_per_participant": m,
                    "icc": icc,
                    "cohens_h": res["cohens_h"],
                    "design_effect": res["design_effect"],
                    "participants_for_power": res["participants_for_power"],
                    "participants_needed": need,
                    "participants_now": now,
                    "more_needed": max(0, int(need) - now) if np.isfinite(need) else np.nan,
                }
            )
    assumptions = (
        f"Two-sided alpha = {alpha}, power = {power}. The model's accuracy is treated as known (one-sample "
        "normal test on Cohen's h, n = ((z_(1-alpha/2) + z_power) / h)^2 trials, computed in closed form). "
        "Trials are clustered in participants: n is multiplied by the design effect 1 + (m - 1) ICC, with m "
        "trials per participant in the condition and the ICC from the GEE fit (0 where unavailable). "
        f"The recommendation is never below {MIN_PARTICIPANTS} participants, because cluster-robust standard "
        "errors are anti-conservative with fewer clusters (Mancl & DeRouen 2001), and is rounded up to a "
        f"multiple of the number of trial lists ({max(lists, 1)}) so that counterbalancing is complete."
    )
    return PowerResult(pd.DataFrame(rows), assumptions)
