"""Accuracy against PSNR: a logistic psychometric curve per agent and its halfway threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from analysis.stats.metrics import HUMANS_POOLED


@dataclass(frozen=True)
class PsychometricFit:
    """p(psnr) = chance + (top - chance) * sigmoid((psnr - threshold) / scale).

    `threshold` is, by construction, the PSNR where accuracy is halfway between chance and `top`
    (the agent's clean accuracy), which is the quantity the report needs.
    """

    agent: str
    chance: float
    top: float
    threshold: float
    scale: float
    n_trials: int
    converged: bool
    note: str = ""

    def predict(self, psnr: np.ndarray) -> np.ndarray:
        return self.chance + (self.top - self.chance) * special.expit(
            (np.asarray(psnr) - self.threshold) / self.scale
        )


def fit_psychometric(
    psnr: np.ndarray, correct: np.ndarray, *, chance: float, top: float, agent: str = ""
) -> PsychometricFit:
    """Maximum-likelihood binomial fit of threshold and scale with chance and top fixed."""
    x = np.asarray(psnr, float)
    y = np.asarray(correct, float)
    ok = np.isfinite(x)
    x, y = x[ok], y[ok]
    top = float(np.clip(top, chance + 1e-3, 1 - 1e-6))
    if len(x) < 3 or np.ptp(x) == 0:
        return PsychometricFit(agent, chance, top, np.nan, np.nan, len(x), False, "too few PSNR levels")

    def nll(theta: np.ndarray) -> float:
        thr, log_s = theta
        p = chance + (top - chance) * special.expit((x - thr) / np.exp(log_s))
        p = np.clip(p, 1e-9, 1 - 1e-9)
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).sum())

    span = float(np.ptp(x))
    starts = [
        (float(np.median(x)), np.log(span / 8)),
        (float(x.min()), np.log(span / 4)),
        (float(x.max()), np.log(span / 4)),
    ]
    best = None
    for s in starts:
        r = optimize.minimize(
            nll, np.array(s), method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 4000}
        )
        if best is None or r.fun < best.fun:
            best = r
    assert best is not None
    thr, log_s = best.x
    note = ""
    if thr < x.min() or thr > x.max():
        note = "threshold outside the measured PSNR range (extrapolated)"
    return PsychometricFit(
        agent, chance, top, float(thr), float(np.exp(log_s)), len(x), bool(best.success), note
    )


def noise_analysis(trials: pd.DataFrame, n_classes: int) -> tuple[pd.DataFrame, list[PsychometricFit]]:
    """Per agent (humans pooled, each model): accuracy per noise level, and the fitted curve.

    The clean level is the agent's accuracy on regular (non-catch) images; without regular trials
    it is the best accuracy observed at any noise level.
    """
    data = trials[~trials["catch"]]
    noise = data[(data["family"] == "noise") & data["psnr"].notna()]
    if noise.empty:
        return pd.DataFrame(), []
    chance = 1.0 / n_classes
    agents = [(HUMANS_POOLED, data[data["agent_type"] == "human"])]
    agents += [(m, g) for m, g in data[data["agent_type"] == "model"].groupby("agent")]
    levels = []
    fits = []
    for agent, g in agents:
        gn = g[(g["family"] == "noise") & g["psnr"].notna()]
        if gn.empty:
            continue
        lv = (
            gn.groupby("condition")
            .agg(
                psnr=("psnr", "mean"),
                sigma=("sigma", "first"),
                accuracy=("correct", "mean"),
                n=("correct", "size"),
            )
            .reset_index()
        )
        lv.insert(0, "agent", agent)
        levels.append(lv)
        reg = g[g["condition"] == "regular"]
        top = float(reg["correct"].mean()) if len(reg) else float(lv["accuracy"].max())
        fits.append(
            fit_psychometric(
                gn["psnr"].to_numpy(), gn["correct"].to_numpy(), chance=chance, top=top, agent=agent
            )
        )
    return pd.concat(levels, ignore_index=True).sort_values(["agent", "psnr"]), fits
