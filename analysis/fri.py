"""Fragile recognition image pairs: human success gap against the model's confidence gap.

Each FRI pair (pair_id) has an `fri` crop and a `fri_counterpart` crop, shown to different
participant groups (Srivastava et al. 2019). Per pair we compare how many more people get the
counterpart right than the FRI with how much more confident the model is in the true class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def fri_pairs(trials: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """One row per (pair, model): human accuracy on both crops and the model's prob_true on both."""
    data = trials[
        ~trials["catch"] & trials["condition"].isin(["fri", "fri_counterpart"]) & trials["pair_id"].notna()
    ]
    if data.empty:
        return pd.DataFrame(), {}
    hum = data[data["agent_type"] == "human"]
    h = hum.pivot_table(index="pair_id", columns="condition", values="correct", aggfunc=["mean", "size"])
    rows = []
    models = data[data["agent_type"] == "model"]
    for (model, pair), g in models.groupby(["agent", "pair_id"]):
        by = g.set_index("condition")
        if not {"fri", "fri_counterpart"} <= set(by.index):
            continue
        owner = by["model"].dropna() if "model" in by else pd.Series(dtype=str)
        owner_name = str(owner.iloc[0]) if len(owner) else ""
        row = {
            "model": model,
            "pair_id": pair,
            "found_for": owner_name,
            "own_model": owner_name in ("", str(model)),
            "model_conf_fri": float(by.loc["fri", "prob_true"]),
            "model_conf_counterpart": float(by.loc["fri_counterpart", "prob_true"]),
            "model_correct_fri": int(by.loc["fri", "correct"]),
            "model_correct_counterpart": int(by.loc["fri_counterpart", "correct"]),
        }
        for cond in ("fri", "fri_counterpart"):
            key = ("mean", cond)
            row[f"human_acc_{cond}"] = float(h.loc[pair, key]) if pair in h.index and key in h else np.nan
            row[f"human_n_{cond}"] = int(h.loc[pair, ("size", cond)]) if pair in h.index and key in h else 0
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df, {}
    summary: dict[str, float] = {}
    if df["own_model"].any():
        # A pair is an FRI for the model it was found with; compare each pair with that model only.
        df = df[df["own_model"]]
    else:
        summary["pairs found for a model not in the predictions (compared with every model)"] = len(df)
    df = df.drop(columns="own_model").reset_index(drop=True)
    df["human_gap"] = df["human_acc_fri_counterpart"] - df["human_acc_fri"]
    df["model_conf_gap"] = df["model_conf_counterpart"] - df["model_conf_fri"]
    for model, g in df.groupby("model"):
        ok = g[["human_gap", "model_conf_gap"]].dropna()
        summary[f"{model}: pairs"] = len(g)
        summary[f"{model}: mean human gap"] = float(g["human_gap"].mean())
        summary[f"{model}: mean model confidence gap"] = float(g["model_conf_gap"].mean())
        if len(ok) >= 3 and ok["human_gap"].nunique() > 1 and ok["model_conf_gap"].nunique() > 1:
            rho, p = stats.spearmanr(ok["human_gap"], ok["model_conf_gap"])
            summary[f"{model}: spearman rho"] = float(rho)
            summary[f"{model}: spearman p"] = float(p)
    return df, summary
