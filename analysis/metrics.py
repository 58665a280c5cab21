"""Descriptive metrics: Wilson intervals, accuracy tables, error consistency, confusion matrices."""

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


def _pair_stats(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Vectorised consistency for all pairs of rows of a (n_a x S) and b (n_b x S); NaN = unseen.

    Matching is by column, i.e. by stimulus_id. weights are bootstrap multiplicities of the
    stimuli: shape (S,) gives (n_a, n_b) arrays, shape (B, S) gives (B, n_a, n_b) for B resamples.
    """
    w = np.ones(a.shape[1]) if weights is None else np.asarray(weights, float)
    seen_a = (~np.isnan(a)).astype(float)
    seen_b = (~np.isnan(b)).astype(float)
    right_a = np.nan_to_num(a)
    right_b = np.nan_to_num(b)
    if w.ndim == 2:
        w = w[:, None, :]
    n = (seen_a * w) @ seen_b.T
    both_right = (right_a * w) @ right_b.T
    a_right = (right_a * w) @ seen_b.T
    b_right = (seen_a * w) @ right_b.T
    both_wrong = n - a_right - b_right + both_right
    with np.errstate(invalid="ignore", divide="ignore"):
        c_obs = (both_right + both_wrong) / n
        p1 = a_right / n
        p2 = b_right / n
        c_exp = p1 * p2 + (1 - p1) * (1 - p2)
        kappa = (c_obs - c_exp) / (1 - c_exp)
    kappa = np.where(np.isclose(c_obs, 1.0), 1.0, kappa)
    kappa = np.where(n > 0, kappa, np.nan)
    return {"n": n, "c_obs": c_obs, "c_exp": c_exp, "kappa": kappa, "acc_diff_sq": (p1 - p2) ** 2}


def error_consistency(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
    """Error consistency (Geirhos et al. 2020) of two agents on the same stimuli (aligned arrays).

    Entries are 1/0, NaN where an agent did not see the stimulus; only shared stimuli count.
    """
    out = _pair_stats(np.asarray(correct_a, float)[None, :], np.asarray(correct_b, float)[None, :])
    return {k: float(v[0, 0]) for k, v in out.items()}


def _group_means(stats_: dict[str, np.ndarray], pair_mask: np.ndarray, min_shared: int) -> dict[str, float]:
    ok = pair_mask & (stats_["n"] >= min_shared)
    if not ok.any():
        return {"kappa": np.nan, "c_obs": np.nan, "c_exp": np.nan, "acc_diff_sq": np.nan, "n_pairs": 0}
    return {
        "kappa": float(np.nanmean(stats_["kappa"][ok])),
        "c_obs": float(np.nanmean(stats_["c_obs"][ok])),
        "c_exp": float(np.nanmean(stats_["c_exp"][ok])),
        "acc_diff_sq": float(np.nanmean(stats_["acc_diff_sq"][ok])),
        "n_pairs": int(ok.sum()),
    }


def error_consistency_table(
    trials: pd.DataFrame, *, n_boot: int = 500, seed: int = 0, min_shared: int = 5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Error consistency per condition for human-human, human-model and model-model comparisons.

    Per condition: each pair's kappa is computed on the stimuli both saw; human-model values are
    averaged over humans (per model), human-human over unique pairs of participants sharing at
    least ``min_shared`` stimuli. The 95% interval comes from a bootstrap over the condition's stimuli.
    Returns (summary per comparison x condition, per-pair table).
    """
    data = trials[~trials["catch"]]
    rng = np.random.default_rng(seed)
    humans = sorted(data.loc[data["agent_type"] == "human", "agent"].unique())
    models = sorted(data.loc[data["agent_type"] == "model", "agent"].unique())
    summary_rows = []
    pair_rows = []
    for cond in sorted(data["condition"].dropna().unique()):
        sub = data[data["condition"] == cond]
        stim = sorted(sub["stimulus_id"].unique())
        H = correctness_matrix(sub, humans, stim)
        M = correctness_matrix(sub, models, stim)
        comparisons: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray, list[tuple[str, str]]]] = []
        if len(humans) > 1:
            mask = np.triu(np.ones((len(humans), len(humans)), bool), k=1)
            comparisons.append(
                (
                    "human-human",
                    HUMANS_POOLED,
                    H,
                    H,
                    mask,
                    [(humans[i], humans[j]) for i, j in zip(*np.nonzero(mask), strict=True)],
                )
            )
        for k, model in enumerate(models):
            if len(humans):
                comparisons.append(
                    (
                        "human-model",
                        model,
                        H,
                        M[k : k + 1],
                        np.ones((len(humans), 1), bool),
                        [(h, model) for h in humans],
                    )
                )
        if len(models) > 1:
            mask = np.triu(np.ones((len(models), len(models)), bool), k=1)
            comparisons.append(
                (
                    "model-model",
                    "models",
                    M,
                    M,
                    mask,
                    [(models[i], models[j]) for i, j in zip(*np.nonzero(mask), strict=True)],
                )
            )
        for kind, target, A, B, mask, names in comparisons:
            st = _pair_stats(A, B)
            if kind == "model-model":
                for (i, j), (a, b) in zip(zip(*np.nonzero(mask), strict=True), names, strict=True):
                    single = np.zeros_like(mask)
                    single[i, j] = True
                    summary_rows.append(
                        _with_boot(kind, a, b, cond, st, single, A, B, rng, n_boot, min_shared)
                    )
            else:
                row = _with_boot(
                    kind,
                    "humans" if kind == "human-human" else HUMANS_POOLED,
                    "humans" if kind == "human-human" else target,
                    cond,
                    st,
                    mask,
                    A,
                    B,
                    rng,
                    n_boot,
                    min_shared,
                )
                summary_rows.append(row)
            for i, j in zip(*np.nonzero(mask), strict=True):
                a_name = humans[i] if kind != "model-model" else models[i]
                b_name = (
                    humans[j] if kind == "human-human" else (target if kind == "human-model" else models[j])
                )
                pair_rows.append(
                    {
                        "comparison": kind,
                        "condition": cond,
                        "agent_a": a_name,
                        "agent_b": b_name,
                        "n_shared": int(st["n"][i, j]),
                        "c_obs": st["c_obs"][i, j],
                        "c_exp": st["c_exp"][i, j],
                        "kappa": st["kappa"][i, j],
                        "acc_diff_sq": st["acc_diff_sq"][i, j],
                    }
                )
    return pd.DataFrame(summary_rows), pd.DataFrame(pair_rows)


def _boot_kappas(
    A: np.ndarray, B: np.ndarray, mask: np.ndarray, rng: np.random.Generator, n_boot: int, min_shared: int
) -> np.ndarray:
    """Mean kappa over the masked pairs for each bootstrap resample of the stimuli (batched)."""
    if n_boot <= 0:
        return np.array([])
    rows_a = np.flatnonzero(mask.any(axis=1))
    rows_b = np.flatnonzero(mask.any(axis=0))
    A, B, mask = A[rows_a], B[rows_b], mask[np.ix_(rows_a, rows_b)]
    n_stim = A.shape[1]
    weights = np.stack(
        [np.bincount(rng.integers(0, n_stim, n_stim), minlength=n_stim) for _ in range(n_boot)]
    ).astype(float)
    chunk = max(1, int(4e6 // max(1, max(len(A), len(B)) * n_stim)))
    out = []
    for start in range(0, n_boot, chunk):
        st = _pair_stats(A, B, weights[start : start + chunk])
        ok = mask[None] & (st["n"] >= min_shared) & np.isfinite(st["kappa"])
        counts = ok.sum(axis=(1, 2))
        sums = np.where(ok, st["kappa"], 0.0).sum(axis=(1, 2))
        out.append(np.divide(sums, counts, out=np.full(len(sums), np.nan), where=counts > 0))
    res = np.concatenate(out) if out else np.array([])
    return res[np.isfinite(res)]


def _with_boot(
    kind: str,
    a: str,
    b: str,
    cond: str,
    st: dict[str, np.ndarray],
    mask: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    rng: np.random.Generator,
    n_boot: int,
    min_shared: int,
) -> dict[str, object]:
    est = _group_means(st, mask, min_shared)
    boots = _boot_kappas(A, B, mask, rng, n_boot, min_shared) if est["n_pairs"] else np.array([])
    lo, hi = np.percentile(boots, [2.5, 97.5]) if len(boots) >= 20 else (np.nan, np.nan)
    return {
        "comparison": kind,
        "agent_a": a,
        "agent_b": b,
        "condition": cond,
        "kappa": est["kappa"],
        "kappa_ci_low": float(lo),
        "kappa_ci_high": float(hi),
        "c_obs": est["c_obs"],
        "c_exp": est["c_exp"],
        "acc_diff_sq": est["acc_diff_sq"],
        "n_pairs": est["n_pairs"],
    }


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
