"""Inferential tests: GEE contrasts, McNemar's exact test, Holm correction (power: analysis.stats.power).

Why GEE (and not a GLMM): the question is a population-averaged one ("do people, on average,
get more of these images right than the model?"), which is what a GEE estimates. With an
exchangeable working correlation clustered on participant and robust (sandwich) standard
errors, it respects that a participant's trials are not independent without needing
correct random-effect distributions, and it is deterministic and fast. statsmodels'
BinomialBayesMixedGLM (the binary GLMM on offer) is a mean-field variational fit whose
posterior SDs for the fixed effects came out too small in our checks (p = 0.008 for a
0.944 vs 0.925 difference that the GEE, rightly, calls null). Items are the model's clusters:
each model answer to a stimulus is its own cluster, so the model's accuracy carries item
sampling variance. Convergence and separation warnings are caught and recorded in the result.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_effectsize


@dataclass(frozen=True)
class ContrastResult:
    """One binary contrast on proportion correct (group b vs group a), with how it was computed."""

    label: str
    condition: str
    method: str
    acc_a: float
    acc_b: float
    n_a: int
    n_b: int
    diff: float
    odds_ratio: float
    or_ci_low: float
    or_ci_high: float
    cohens_h: float
    z: float
    p_value: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    icc: float = float("nan")
    result: object | None = None

    def as_row(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "result"} | {"notes": "; ".join(self.notes)}


# Below this many clusters the sandwich variance is degenerate (one cluster gives SE = 0).
MIN_CLUSTERS = 5


def _fit_gee(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> tuple[Any, list[str]]:
    """GEE logit(correct) ~ 1 + x, exchangeable within groups; warnings become notes, not errors.

    Returns statsmodels' GEEResults (untyped, hence Any) or None when the fit is unusable.
    """
    notes: list[str] = []
    exog = sm.add_constant(x.astype(float), has_constant="add")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = sm.GEE(
                y.astype(float),
                exog,
                groups=groups,
                family=sm.families.Binomial(),
                cov_struct=sm.cov_struct.Exchangeable(),
            )
            res = model.fit(maxiter=100)
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, OverflowError) as exc:
            notes.append(f"GEE failed ({type(exc).__name__}: {exc})")
            res = None
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        if text not in notes:
            notes.append(text)
    if res is not None and not np.all(np.isfinite(np.asarray(res.bse))):
        notes.append("GEE standard errors not finite")
        res = None
    return res, notes


def _separated(y_a: np.ndarray, y_b: np.ndarray) -> bool:
    return any(len(v) == 0 or v.min() == v.max() for v in (y_a, y_b))


def binary_contrast(
    y_a: np.ndarray,
    groups_a: np.ndarray,
    y_b: np.ndarray,
    groups_b: np.ndarray,
    *,
    label: str,
    condition: str,
) -> ContrastResult:
    """Compare proportion correct of b against a with a clustered GEE (b coded 1).

    When a group is all right or all wrong (perfect separation) the logit is not estimable, and with
    fewer than MIN_CLUSTERS clusters the robust variance is degenerate; then we fall back to Fisher's
    exact test on pooled counts and say so in the notes (it ignores clustering).
    """
    y_a, y_b = np.asarray(y_a, float), np.asarray(y_b, float)
    acc_a, acc_b = float(y_a.mean()) if len(y_a) else np.nan, float(y_b.mean()) if len(y_b) else np.nan
    h = float(proportion_effectsize(acc_b, acc_a)) if len(y_a) and len(y_b) else np.nan
    base: dict[str, Any] = {  # the fields every ContrastResult below shares
        "label": label,
        "condition": condition,
        "acc_a": acc_a,
        "acc_b": acc_b,
        "n_a": len(y_a),
        "n_b": len(y_b),
        "diff": acc_b - acc_a,
        "cohens_h": h,
    }
    if len(y_a) == 0 or len(y_b) == 0:
        return ContrastResult(
            method="not applicable",
            odds_ratio=np.nan,
            or_ci_low=np.nan,
            or_ci_high=np.nan,
            z=np.nan,
            p_value=np.nan,
            notes=("a group has no trials",),
            **base,
        )
    notes: list[str] = []
    g = np.concatenate([np.asarray(groups_a).astype(str), np.asarray(groups_b).astype(str)])
    n_clusters = len(np.unique(g))
    if _separated(y_a, y_b):
        notes.append("perfect separation (a group is all correct or all wrong): logit GEE not estimable")
    elif n_clusters < MIN_CLUSTERS:
        notes.append(
            f"only {n_clusters} clusters: the robust (sandwich) variance needs at least {MIN_CLUSTERS}"
        )
    else:
        if n_clusters < 20:
            notes.append(f"{n_clusters} clusters: robust standard errors may be anti-conservative")
        y = np.concatenate([y_a, y_b])
        x = np.concatenate([np.zeros(len(y_a)), np.ones(len(y_b))])
        res, fit_notes = _fit_gee(y, x, g)
        notes += fit_notes
        if res is not None:
            beta, se = float(res.params[1]), float(res.bse[1])
            icc = float(getattr(res.model.cov_struct, "dep_params", np.nan))
            return ContrastResult(
                method="GEE (logit, exchangeable, clustered)",
                odds_ratio=math.exp(beta),
                or_ci_low=math.exp(beta - 1.959964 * se),
                or_ci_high=math.exp(beta + 1.959964 * se),
                z=beta / se,
                p_value=float(2 * stats.norm.sf(abs(beta / se))),
                notes=tuple(notes),
                icc=icc,
                result=res,
                **base,
            )
    table = np.array([[y_b.sum(), len(y_b) - y_b.sum()], [y_a.sum(), len(y_a) - y_a.sum()]])
    odds, p = stats.fisher_exact(table)
    notes.append(
        "fell back to Fisher's exact test on pooled trials (ignores clustering: p is anti-conservative)"
    )
    return ContrastResult(
        method="Fisher exact (fallback)",
        odds_ratio=float(odds),
        or_ci_low=np.nan,
        or_ci_high=np.nan,
        z=np.nan,
        p_value=float(p),
        notes=tuple(notes),
        **base,
    )


def human_vs_model_tests(trials: pd.DataFrame) -> pd.DataFrame:
    """Human vs each model in each condition, Holm-corrected across all these contrasts."""
    data = trials[~trials["catch"]]
    rows = []
    for cond, sub in data.groupby("condition"):
        hum = sub[sub["agent_type"] == "human"]
        if hum.empty:
            continue
        for model, ms in sub[sub["agent_type"] == "model"].groupby("agent"):
            r = binary_contrast(
                ms["correct"].to_numpy(),
                ("item:" + ms["stimulus_id"]).to_numpy(),
                hum["correct"].to_numpy(),
                ("p:" + hum["agent"]).to_numpy(),
                label=f"humans vs {model}",
                condition=str(cond),
            )
            rows.append(r.as_row() | {"model": model})
    return holm(pd.DataFrame(rows))


def within_human_tests(trials: pd.DataFrame) -> pd.DataFrame:
    """Within-participant condition contrasts (e.g. regular vs negative), GEE clustered on participant."""
    data = trials[(trials["agent_type"] == "human") & ~trials["catch"]]
    conds = set(data["condition"].dropna())
    pairs = [
        ("regular", "negative"),
        ("regular", "gray"),
        ("gray", "gray_negative"),
        ("negative", "gray_negative"),
    ]
    rows = []
    for a, b in pairs:
        if a in conds and b in conds:
            da, db = data[data["condition"] == a], data[data["condition"] == b]
            r = binary_contrast(
                da["correct"].to_numpy(),
                da["agent"].to_numpy(),
                db["correct"].to_numpy(),
                db["agent"].to_numpy(),
                label=f"{b} vs {a}",
                condition=f"{a}/{b}",
            )
            rows.append(r.as_row())
    return holm(pd.DataFrame(rows))


def holm(df: pd.DataFrame, col: str = "p_value") -> pd.DataFrame:
    """Add Holm step-down adjusted p-values over the finite p-values of a table of contrasts."""
    df = df.copy()
    if df.empty:
        df["p_holm"] = []
        return df
    ok = df[col].notna().to_numpy()
    adj = np.full(len(df), np.nan)
    if ok.any():
        adj[ok] = multipletests(df.loc[ok, col].to_numpy(), method="holm")[1]
    df["p_holm"] = adj
    return df


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: discordant pairs b vs c under Binomial(b + c, 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    return float(min(1.0, 2 * stats.binom.cdf(min(b, c), n, 0.5)))


def model_paired_tests(
    trials: pd.DataFrame,
    pairs: tuple[tuple[str, str], ...] = (("regular", "negative"), ("gray", "gray_negative")),
) -> pd.DataFrame:
    """Per model, McNemar's exact test on regular vs negative correctness of the same source image."""
    data = trials[(trials["agent_type"] == "model") & ~trials["catch"]]
    rows = []
    for model, g in data.groupby("agent"):
        for a, b in pairs:
            wide = g[g["condition"].isin([a, b])].pivot_table(
                index="source_id", columns="condition", values="correct", aggfunc="first"
            )
            if a not in wide or b not in wide:
                continue
            wide = wide.dropna()
            ra, rb = wide[a].astype(int), wide[b].astype(int)
            n10 = int(((ra == 1) & (rb == 0)).sum())
            n01 = int(((ra == 0) & (rb == 1)).sum())
            rows.append(
                {
                    "model": model,
                    "contrast": f"{a} vs {b}",
                    "n_pairs": len(wide),
                    "acc_a": float(ra.mean()),
                    "acc_b": float(rb.mean()),
                    "a_right_b_wrong": n10,
                    "a_wrong_b_right": n01,
                    "p_value": mcnemar_exact(n10, n01),
                }
            )
    return holm(pd.DataFrame(rows))


GEE_WHY = (
    "Tests on proportion correct per model run use GEE (logit link, exchangeable working correlation, "
    "robust sandwich standard errors) clustered on participant; each model answer is its own cluster (an "
    "item). GEE was chosen over a mixed-effects logistic regression because the question is "
    "population-averaged, because it stays valid when the random-effect distribution is misspecified, and "
    "because it is deterministic; statsmodels' binary GLMM (BinomialBayesMixedGLM) is a mean-field "
    "variational fit whose posterior understates the uncertainty of the fixed effects. These per-run tests "
    "treat the run as fixed and do not model crossed item effects among humans; the crossed bootstrap above "
    "does. Where a group is all right or all wrong (perfect separation) Fisher's exact test on pooled counts "
    "is used instead, marked in the notes. p-values are Holm-corrected across the rows of each table."
)
"""How the per-run human-vs-model tests work and why, for the report."""
