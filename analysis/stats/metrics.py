"""Descriptive metrics: Wilson intervals, accuracy tables, correctness matrices, confusion matrices.

Error consistency lives in analysis.stats.consistency.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

HUMANS_POOLED = "humans (pooled)"


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval: keeps coverage near nominal even at p near 0 or 1 (Newcombe 1998)."""
    if n <= 0:
        return (float("nan"), float("nan"))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)  # scipy.stats.norm.ppf is ~100x slower per call
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 or n successes the bound is exactly 0 or 1; avoid rounding residue there.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (float(low), float(high))


def _acc_rows(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    g = df.groupby(by, dropna=False)["correct"].agg(["sum", "count"]).reset_index()
    g = g.rename(columns={"sum": "n_correct", "count": "n"})
    g["accuracy"] = g["n_correct"] / g["n"]
    ci = [wilson_interval(int(k), int(n)) for k, n in zip(g["n_correct"], g["n"], strict=True)]
    g["ci_low"] = [c[0] for c in ci]
    g["ci_high"] = [c[1] for c in ci]
    return g


def accuracy_by_condition(trials: pd.DataFrame, extra: str | None = None) -> pd.DataFrame:
    """Accuracy per agent x condition (optionally x another column), humans pooled and individually.

    Pooled human accuracy is the proportion over all human trials; its Wilson interval ignores
    clustering and is descriptive only (the inferential tests use GEE).
    """
    by = ["condition"] + ([extra] if extra else [])
    data = trials[~trials["catch"]]
    parts = []
    humans = data[data["agent_type"] == "human"]
    if len(humans):
        pooled = _acc_rows(humans, by)
        pooled.insert(0, "agent", HUMANS_POOLED)
        pooled.insert(1, "agent_type", "humans")
        parts.append(pooled)
    per = _acc_rows(data, ["agent", "agent_type", *by])
    parts.append(per)
    out = pd.concat(parts, ignore_index=True)
    order = {"humans": 0, "model": 1, "human": 2}
    out["_o"] = out["agent_type"].map(order)
    return out.sort_values(["_o", "agent", *by]).drop(columns="_o").reset_index(drop=True)


def correctness_matrix(trials: pd.DataFrame, agents: list[str], stimulus_ids: list[str]) -> np.ndarray:
    """agents x stimuli matrix: 1 right, 0 wrong (missing answer = wrong), NaN = not shown."""
    idx_a = {a: i for i, a in enumerate(agents)}
    idx_s = {s: j for j, s in enumerate(stimulus_ids)}
    mat = np.full((len(agents), len(stimulus_ids)), np.nan)
    sub = trials[trials["agent"].isin(idx_a) & trials["stimulus_id"].isin(idx_s)]
    rows = sub["agent"].map(idx_a).to_numpy(dtype=int)
    cols = sub["stimulus_id"].map(idx_s).to_numpy(dtype=int)
    mat[rows, cols] = sub["correct"].to_numpy(dtype=float)
    return mat


def confusion_matrices(trials: pd.DataFrame, n_classes: int) -> dict[tuple[str, str], np.ndarray]:
    """Counts[true, response] per (agent, condition), humans pooled plus each model.

    Unanswered trials and out-of-range answers go to an extra last column ("no valid answer").
    """
    data = trials[~trials["catch"]]
    out: dict[tuple[str, str], np.ndarray] = {}
    groups = [(HUMANS_POOLED, data[data["agent_type"] == "human"])]
    groups += [(m, g) for m, g in data[data["agent_type"] == "model"].groupby("agent")]
    for agent, g in groups:
        for cond, gc in g.groupby("condition"):
            mat = np.zeros((n_classes, n_classes + 1), dtype=int)
            resp = gc["response"].to_numpy(dtype=float)
            valid = ~np.isnan(resp) & (resp >= 0) & (resp < n_classes)
            col = np.where(valid, np.nan_to_num(resp), n_classes).astype(int)
            np.add.at(mat, (gc["label"].to_numpy(dtype=int), col), 1)
            out[(agent, str(cond))] = mat
    return out


def most_confused_pairs(
    mats: dict[tuple[str, str], np.ndarray], class_names: dict[int, str], top: int = 5
) -> pd.DataFrame:
    """The largest off-diagonal cells (true class -> answered class) per agent x condition."""
    rows = []
    for (agent, cond), mat in mats.items():
        k = mat.shape[0]
        off = mat[:, :k].copy()
        np.fill_diagonal(off, 0)
        flat = np.argsort(off, axis=None)[::-1][:top]
        for f in flat:
            t, r = divmod(int(f), k)
            if off[t, r] == 0:
                break
            rows.append(
                {
                    "agent": agent,
                    "condition": cond,
                    "true": t,
                    "true_name": class_names.get(t, str(t)),
                    "answered": r,
                    "answered_name": class_names.get(r, str(r)),
                    "count": int(off[t, r]),
                    "share_of_true": float(off[t, r] / max(1, mat[t].sum())),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "agent",
            "condition",
            "true",
            "true_name",
            "answered",
            "answered_name",
            "count",
            "share_of_true",
        ],
    )


def participant_accuracy(trials: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per participant x condition (non-catch trials): the unit of the per-participant plot."""
    data = trials[(trials["agent_type"] == "human") & ~trials["catch"]]
    g = data.groupby(["agent", "condition"])["correct"].agg(["sum", "count"]).reset_index()
    g = g.rename(columns={"agent": "participant", "sum": "n_correct", "count": "n"})
    g["accuracy"] = g["n_correct"] / g["n"]
    return g


def participant_summary(per: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per condition: mean participant accuracy with a t interval over participants (the sampling unit)."""
    from scipy import stats

    rows = []
    for cond, g in per.groupby("condition"):
        v = g["accuracy"].to_numpy(float)
        n = len(v)
        mean = float(v.mean())
        sd = float(v.std(ddof=1)) if n > 1 else float("nan")
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n)) if n > 1 else float("nan")
        rows.append(
            {
                "condition": cond,
                "n_participants": n,
                "mean": mean,
                "sd": sd,
                "ci_low": max(0.0, mean - half) if n > 1 else float("nan"),
                "ci_high": min(1.0, mean + half) if n > 1 else float("nan"),
                "min": float(v.min()),
                "max": float(v.max()),
            }
        )
    return pd.DataFrame(rows)
