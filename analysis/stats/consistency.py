"""Error consistency (Geirhos et al. 2020) per pair of agents, with the pairs at ceiling counted apart.

kappa = (c_obs - c_exp) / (1 - c_exp) on trial-by-trial correctness of two agents over the stimuli both
saw (matched by stimulus_id; a missing answer is wrong). When both agents are right on every shared
stimulus (ceiling) or both wrong on every one (floor), c_exp = 1 and kappa is undefined; model-vs-human
sets it to 1 there (c_obs = 1), and so do we by default (``ceiling="one"``) for comparability.
``ceiling="exclude"`` leaves such pairs out instead. Either way every pair gets a status
(ok / ceiling / floor / too_few_shared), counted per condition and drawn apart in the heatmaps.

Bootstrap intervals resample the unit the question generalises over: participants for human-human and
human-model means (and a model's training runs when it has several), or, as an option, the stimuli of
the condition. Why the old intervals could miss their own point estimate: they resampled stimuli and
recomputed each pair's kappa with the ceiling convention, so a pair with one error in ten shared
stimuli (kappa 0) lost that error in about a third of the resamples and became a ceiling pair with
kappa 1; eligibility (shared >= min_shared) was also recounted on duplicated stimuli. The resampled
means were biased upward, above the estimate. Here a pair's status is fixed by the observed data, and
the participant bootstrap reweights fixed pair kappas, so the estimator it resamples is the estimator
reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.stats.metrics import HUMANS_POOLED, correctness_matrix

CEILING_POLICIES = ("one", "exclude")
BOOT_UNITS = ("participants", "items")
STATUSES = ("ok", "ceiling", "floor", "too_few_shared")


@dataclass(frozen=True)
class KappaOptions:
    """How kappa treats undefined pairs and how its interval is resampled."""

    ceiling: str = "one"
    unit: str = "participants"
    min_shared: int = 5
    n_boot: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        if self.ceiling not in CEILING_POLICIES:
            raise ValueError(f"ceiling must be one of {CEILING_POLICIES}, got {self.ceiling!r}")
        if self.unit not in BOOT_UNITS:
            raise ValueError(f"unit must be one of {BOOT_UNITS}, got {self.unit!r}")


@dataclass(frozen=True)
class ConsistencyResult:
    """summary: one row per comparison x condition; pairs: one row per pair with its status."""

    summary: pd.DataFrame
    pairs: pd.DataFrame
    options: KappaOptions


def pair_stats(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Consistency for all pairs of rows of a (n_a x S) and b (n_b x S); NaN = not shown.

    ``kappa`` is the raw formula (NaN where c_exp = 1). weights are stimulus multiplicities: shape (S,)
    gives (n_a, n_b) arrays, (B, S) gives (B, n_a, n_b) for B resamples.
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
        degenerate = np.isclose(c_exp, 1.0)
        kappa = np.where(degenerate, np.nan, (c_obs - c_exp) / np.where(degenerate, 1.0, 1 - c_exp))
    eps = 1e-9
    ceiling = (n > 0) & (np.abs(a_right - n) < eps) & (np.abs(b_right - n) < eps)
    floor = (n > 0) & (a_right < eps) & (b_right < eps)
    return {
        "n": n,
        "c_obs": c_obs,
        "c_exp": c_exp,
        "kappa": kappa,
        "ceiling": ceiling,
        "floor": floor,
        "acc_diff_sq": (p1 - p2) ** 2,
    }


def error_consistency(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
    """Error consistency of two agents on aligned stimuli (1/0, NaN = not shown), published convention.

    kappa is 1 when c_obs = 1 (model-vs-human's convention), including the undefined ceiling case.
    """
    st = pair_stats(np.asarray(correct_a, float)[None, :], np.asarray(correct_b, float)[None, :])
    out = {k: float(v[0, 0]) for k, v in st.items() if k not in ("ceiling", "floor")}
    if st["n"][0, 0] > 0 and np.isclose(out["c_obs"], 1.0):
        out["kappa"] = 1.0
    elif st["n"][0, 0] == 0:
        out["kappa"] = float("nan")
    return out


def pair_status(st: dict[str, np.ndarray], min_shared: int) -> np.ndarray:
    """'too_few_shared' < 'ceiling' / 'floor' < 'ok', element-wise over a pair_stats result."""
    status = np.full(st["n"].shape, "ok", dtype=object)
    status[st["floor"]] = "floor"
    status[st["ceiling"]] = "ceiling"
    status[st["n"] < min_shared] = "too_few_shared"
    return status


def pair_values(st: dict[str, np.ndarray], status: np.ndarray, ceiling: str) -> np.ndarray:
    """The kappa each pair contributes: raw, 1 at ceiling/floor (or NaN if excluded), NaN if too few."""
    value = np.where(status == "ok", st["kappa"], np.nan)
    if ceiling == "one":
        value = np.where((status == "ceiling") | (status == "floor"), 1.0, value)
    return value.astype(float)


@dataclass
class _Comparison:
    kind: str
    agent_a: str
    agent_b: str
    A: np.ndarray  # rows x stimuli
    B: np.ndarray
    names_a: list[str]
    names_b: list[str]
    mask: np.ndarray  # which (row a, row b) pairs belong to the comparison
    resample_a: bool  # participants/runs of side a are a sample to resample
    resample_b: bool


def _percentile(boots: np.ndarray) -> tuple[float, float]:
    boots = boots[np.isfinite(boots)]
    if len(boots) < 20:
        return (np.nan, np.nan)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return (float(lo), float(hi))


def _unit_boot(
    value: np.ndarray, used: np.ndarray, comp: _Comparison, rng: np.random.Generator, n_boot: int
) -> np.ndarray:
    """Mean pair kappa under multinomial reweighting of the agents (pairs of one agent with itself drop)."""
    na, nb = value.shape
    v = np.where(used, value, 0.0)
    u = used.astype(float)
    wa = rng.multinomial(na, np.full(na, 1 / na), size=n_boot).astype(float) if comp.resample_a else None
    if comp.kind == "human-human":
        wb = wa
    else:
        wb = rng.multinomial(nb, np.full(nb, 1 / nb), size=n_boot).astype(float) if comp.resample_b else None
    wa = np.ones((n_boot, na)) if wa is None else wa
    wb = np.ones((n_boot, nb)) if wb is None else wb
    if comp.kind == "human-human":  # symmetric pair matrices with an empty diagonal
        v = v + v.T
        u = u + u.T
    num = np.einsum("bi,ij,bj->b", wa, v, wb)
    den = np.einsum("bi,ij,bj->b", wa, u, wb)
    return np.divide(num, den, out=np.full(n_boot, np.nan), where=den > 0)


def _item_boot(
    comp: _Comparison,
    status: np.ndarray,
    value: np.ndarray,
    used: np.ndarray,
    options: KappaOptions,
    rng: np.random.Generator,
) -> tuple[np.ndarray, float]:
    """Mean pair kappa over resamples of the stimuli; pair status stays as observed.

    A pair with a defined kappa can lose, in a resample, every stimulus on which it erred, so that its
    kappa is undefined there. Giving it 1 (the convention) or leaving it out both push the resampled
    means upward (such pairs mostly have kappa near 0), which is how intervals ended up above their own
    estimates; it keeps its observed kappa instead. Returns the resampled means and the share of
    (resample, pair) cells where that happened: a large share means the item bootstrap understates the
    uncertainty near ceiling.
    """
    n_boot = options.n_boot
    rows_a = np.flatnonzero(used.any(axis=1))
    rows_b = np.flatnonzero(used.any(axis=0))
    A, B = comp.A[rows_a], comp.B[rows_b]
    st_used = used[np.ix_(rows_a, rows_b)]
    st_status = status[np.ix_(rows_a, rows_b)]
    observed = value[np.ix_(rows_a, rows_b)]  # ceiling/floor pairs: their convention value throughout
    n_stim = A.shape[1]
    weights = rng.multinomial(n_stim, np.full(n_stim, 1 / n_stim), size=n_boot).astype(float)
    chunk = max(1, int(4e6 // max(1, len(A) * len(B) * 2 + n_stim)))
    means, bad, total = [], 0, 0
    ok = st_used & (st_status == "ok")
    for start in range(0, n_boot, chunk):
        st = pair_stats(A, B, weights[start : start + chunk])
        val = np.where(ok[None] & np.isfinite(st["kappa"]), st["kappa"], observed[None])
        cell = st_used[None] & np.isfinite(val)
        bad += int((ok[None] & ~np.isfinite(st["kappa"])).sum())
        total += int(ok.sum()) * len(val)
        counts = cell.sum(axis=(1, 2))
        sums = np.where(cell, val, 0.0).sum(axis=(1, 2))
        means.append(np.divide(sums, counts, out=np.full(len(sums), np.nan), where=counts > 0))
    return (np.concatenate(means) if means else np.array([])), (bad / total if total else 0.0)


def _comparisons(
    sub: pd.DataFrame, humans: list[str], groups: dict[str, list[str]], models: list[str]
) -> list[_Comparison]:
    stim = sorted(sub["stimulus_id"].unique())
    H = correctness_matrix(sub, humans, stim)
    out = []
    if len(humans) > 1:
        mask = np.triu(np.ones((len(humans), len(humans)), bool), k=1)
        out.append(_Comparison("human-human", "humans", "humans", H, H, humans, humans, mask, True, True))
    if humans:
        for group, runs in groups.items():
            R = correctness_matrix(sub, runs, stim)
            mask = np.ones((len(humans), len(runs)), bool)
            out.append(
                _Comparison(
                    "human-model", HUMANS_POOLED, group, H, R, humans, runs, mask, True, len(runs) > 1
                )
            )
    if len(models) > 1:
        M = correctness_matrix(sub, models, stim)
        for i in range(len(models)):
            for j in range(i + 1, len(models)):
                mask = np.zeros((len(models), len(models)), bool)
                mask[i, j] = True
                out.append(
                    _Comparison("model-model", models[i], models[j], M, M, models, models, mask, False, False)
                )
    return out


def error_consistency_analysis(
    trials: pd.DataFrame, options: KappaOptions, groups: dict[str, list[str]] | None = None
) -> ConsistencyResult:
    """Kappa per pair and per comparison x condition, with counts of undefined pairs and bootstrap CIs.

    groups maps a model (architecture) name to its training runs' agent names; human-model kappa is then
    averaged over participants and runs. Without groups every model is its own one-run group.
    """
    data = trials[~trials["catch"]]
    rng = np.random.default_rng(options.seed)
    humans = sorted(data.loc[data["agent_type"] == "human", "agent"].unique())
    models = sorted(data.loc[data["agent_type"] == "model", "agent"].unique())
    groups = groups or {m: [m] for m in models}
    summary_rows: list[dict[str, object]] = []
    pair_rows: list[dict[str, object]] = []
    for cond in sorted(data["condition"].dropna().unique()):
        sub = data[data["condition"] == cond]
        for comp in _comparisons(sub, humans, groups, models):
            st = pair_stats(comp.A, comp.B)
            status = pair_status(st, options.min_shared)
            value = pair_values(st, status, options.ceiling)
            used = comp.mask & np.isfinite(value)
            in_pairs = comp.mask
            unit = "items" if comp.kind == "model-model" else options.unit
            degenerate_share = 0.0
            if not used.any() or options.n_boot <= 0:
                boots = np.array([])
            elif unit == "items":
                boots, degenerate_share = _item_boot(comp, status, value, used, options, rng)
            else:
                boots = _unit_boot(value, used, comp, rng, options.n_boot)
            lo, hi = _percentile(boots)
            counts = {s: int((in_pairs & (status == s)).sum()) for s in STATUSES}
            summary_rows.append(
                {
                    "comparison": comp.kind,
                    "agent_a": comp.agent_a,
                    "agent_b": comp.agent_b,
                    "condition": cond,
                    "kappa": float(value[used].mean()) if used.any() else np.nan,
                    "kappa_ci_low": lo,
                    "kappa_ci_high": hi,
                    "ci_unit": unit,
                    "n_pairs_possible": int(in_pairs.sum()),
                    "n_pairs_used": int(used.sum()),
                    "n_pairs_ceiling": counts["ceiling"],
                    "n_pairs_floor": counts["floor"],
                    "n_pairs_too_few_shared": counts["too_few_shared"],
                    "ceiling_policy": options.ceiling,
                    "c_obs": float(st["c_obs"][used].mean()) if used.any() else np.nan,
                    "c_exp": float(st["c_exp"][used].mean()) if used.any() else np.nan,
                    "acc_diff_sq": float(st["acc_diff_sq"][used].mean()) if used.any() else np.nan,
                    "boot_undefined_share": degenerate_share,
                }
            )
            for i, j in zip(*np.nonzero(in_pairs), strict=True):
                pair_rows.append(
                    {
                        "comparison": comp.kind,
                        "condition": cond,
                        "agent_a": comp.names_a[i],
                        "agent_b": comp.names_b[j],
                        "n_shared": int(st["n"][i, j]),
                        "status": status[i, j],
                        "c_obs": float(st["c_obs"][i, j]),
                        "c_exp": float(st["c_exp"][i, j]),
                        "kappa_raw": float(st["kappa"][i, j]),
                        "kappa": float(value[i, j]),
                        "acc_diff_sq": float(st["acc_diff_sq"][i, j]),
                    }
                )
    return ConsistencyResult(pd.DataFrame(summary_rows), pd.DataFrame(pair_rows), options)
