"""FRI pairs as Srivastava et al. 2019 analysed them: human accuracy gap against network confidence gap.

Each pair (manifest ``pair_id``) has an ``fri`` crop, which the network classifies correctly, and an
``fri_partner`` crop (shifted by one pixel, or shrunk by two), which it gets wrong; separate groups of
people see the two crops (study_server's lists). Both gaps are oriented the same way, FRI minus partner:

* human gap = accuracy on the FRI crop - accuracy on the partner crop (positive: people are fragile too);
* network gap = p(true) on the FRI crop - p(true) on the partner crop (usually positive, not always:
  a weak network may be right at p(true) = 0.03 and wrong at 0.031).

Per pair the two accuracies come from different people, so the gap's interval is Newcombe's hybrid
score interval for two independent proportions (Newcombe 1998, Stat. Med. 17:873, method 10). Pooled
over pairs, each person saw FRI crops of some pairs and partner crops of others, so the pooled gap is a
linear-probability GEE, correct ~ 1 + is_fri, clustered on participant with the robust (sandwich)
covariance: its slope is the difference of the two pooled accuracies, its interval respects that one
person's answers are correlated.

With label groups declared in the stimulus set (stimuli.label_groups), people answered among groups; the
network is scored on the same groups: the group of its top-1 class (``scoring="top1"``), or the group
with the largest summed probability (``scoring="summed"``, needs predictions with ``group_summed``), and
its confidence is the summed probability of the true group (``prob_true_group``) when the predictions
carry it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats.metrics import wilson_interval

FRI, PARTNER = "fri", "fri_partner"
MIN_CLUSTERS = 5  # below this many participants the sandwich variance is not worth reporting


@dataclass(frozen=True)
class PooledGap:
    """The pooled human gap of one model's pairs (GEE) and the network's mean gap."""

    model: str
    n_pairs: int
    n_participants: int
    human_acc_fri: float
    human_acc_partner: float
    human_gap: float
    human_gap_low: float
    human_gap_high: float
    human_gap_p: float
    model_gap_mean: float
    model_gap_low: float
    model_gap_high: float
    spearman_rho: float
    spearman_p: float
    gee: Any = field(default=None, repr=False, compare=False)
    """The statsmodels GEE result (``summary()`` stays available); None when it could not be fitted."""


@dataclass(frozen=True)
class FriPairsResult:
    """Per-pair table (one row per model x pair), pooled gaps per model, and notes on what was assumed."""

    pairs: pd.DataFrame
    pooled: list[PooledGap]
    notes: list[str]
    groups: str | None = None

    def pooled_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{k: v for k, v in p.__dict__.items() if k != "gee"} for p in self.pooled])


def newcombe_interval(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> tuple[float, float]:
    """Hybrid score interval for p1 - p2 of two independent proportions (Newcombe 1998, method 10)."""
    if n1 <= 0 or n2 <= 0:
        return (float("nan"), float("nan"))
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, confidence)
    l2, u2 = wilson_interval(k2, n2, confidence)
    d = p1 - p2
    return (
        d - float(np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
        d + float(np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)),
    )


def read_label_groups(stimulus_dir: str | Path) -> dict | None:
    """The ``label_groups`` a stimulus set declares in stimulus_set.json (None when it declares none)."""
    meta = json.loads((Path(stimulus_dir) / "stimulus_set.json").read_text(encoding="utf-8"))
    return meta.get("label_groups") or None


def _group_of(label_groups: dict) -> dict[int, int]:
    return {int(c): int(g["id"]) for g in label_groups["groups"] for c in g["classes"]}


def score_on_groups(trials: pd.DataFrame, label_groups: dict) -> pd.Series:
    """Correctness (0/1) when people answered among label groups: a human's response is a group id, a
    model's a class id scored by its group (the group of its top-1 class)."""
    g = _group_of(label_groups)
    truth = trials["label"].astype(int).map(g)
    model_group = trials["response"].map(lambda r: g.get(int(r)) if pd.notna(r) else np.nan)
    human = (trials["agent_type"] == "human").to_numpy()
    return pd.Series(
        np.where(human, trials["response"] == truth, model_group == truth).astype(int), index=trials.index
    )


def gee_gap(trials: pd.DataFrame) -> tuple[float, float, float, float, Any]:
    """(gap, low, high, p) of accuracy on FRI minus partner crops, GEE clustered on participant."""
    import statsmodels.api as sm

    y = trials["correct"].to_numpy(dtype=float)
    x = (trials["condition"] == FRI).to_numpy(dtype=float)
    groups = pd.factorize(trials["participant"])[0]
    if trials["participant"].nunique() < MIN_CLUSTERS or x.min() == x.max():
        return (
            float(y[x == 1].mean() - y[x == 0].mean()) if 0 < x.sum() < len(x) else float("nan"),
            float("nan"),
            float("nan"),
            float("nan"),
            None,
        )
    model = sm.GEE(
        y,
        sm.add_constant(x, has_constant="add"),
        groups=groups,
        family=sm.families.Gaussian(),
        cov_struct=sm.cov_struct.Independence(),
    )
    res = model.fit()
    low, high = np.asarray(res.conf_int())[1]
    p = float(res.pvalues[1]) if np.isfinite(res.bse[1]) and res.bse[1] > 0 else float("nan")
    return float(res.params[1]), float(low), float(high), p, res


def fri_pair_analysis(
    trials: pd.DataFrame,
    *,
    label_groups: dict | None = None,
    predictions: pd.DataFrame | None = None,
    scoring: str = "top1",
    confidence: float = 0.95,
) -> FriPairsResult:
    """Per pair and pooled: human accuracy on the FRI and its partner, their gap, and the network's gap.

    ``trials`` is the analysis long table (after exclusions): human rows carry ``participant``, model
    rows ``agent`` = model name and ``prob_true``; both carry the manifest's ``condition``, ``pair_id``,
    ``label`` and ``catch``. A pair is compared with the model it was found for (manifest ``model``)
    when that model's predictions are present, else with every model (and a note says so).
    """
    if scoring not in ("top1", "summed"):
        raise ValueError(f"scoring must be top1 or summed, got {scoring!r}")
    notes: list[str] = []
    data = trials[
        ~trials["catch"].astype(bool) & trials["condition"].isin([FRI, PARTNER]) & trials["pair_id"].notna()
    ].copy()
    if data.empty:
        return FriPairsResult(pd.DataFrame(), [], ["no FRI pairs (conditions fri and fri_partner)"])
    data["pair_id"] = data["pair_id"].astype(str)
    group_name = None
    if label_groups:
        group_name = str(label_groups.get("name", "label groups"))
        truth = data["label"].astype(int).map(_group_of(label_groups))
        data["correct"] = score_on_groups(data, label_groups)
        extra = _group_predictions(predictions)
        if extra is not None:
            data = data.merge(extra, on=["agent", "stimulus_id"], how="left")
            has = data["prob_true_group"].notna()
            data.loc[has, "prob_true"] = data.loc[has, "prob_true_group"]
            if scoring == "summed":
                ok = has & (data["agent_type"] == "model")
                data.loc[ok, "correct"] = (data.loc[ok, "group_summed"] == truth[ok]).astype(int)
            notes.append(
                f"answers scored on the {group_name} groups; network confidence = summed p(true group)"
            )
        else:
            if scoring == "summed":
                raise ValueError(
                    "summed group scoring needs predictions with group_summed (model_eval predict "
                    "on a set that declares label groups)"
                )
            notes.append(
                f"answers scored on the {group_name} groups (network: group of its top-1 class); "
                "network confidence is p(true class): the predictions carry no prob_true_group"
            )
    hum = data[data["agent_type"] == "human"]
    counts = hum.groupby(["pair_id", "condition"])["correct"].agg(["sum", "count"])
    meta = data.groupby("pair_id")[["fri_kind", "region_size", "model", "label"]].first()
    rows = []
    for (agent, pair), g in data[data["agent_type"] == "model"].groupby(["agent", "pair_id"]):
        by = g.set_index("condition")
        if not {FRI, PARTNER} <= set(by.index):
            continue
        k1, n1 = _count(counts, pair, FRI)
        k2, n2 = _count(counts, pair, PARTNER)
        lo, hi = newcombe_interval(k1, n1, k2, n2, confidence)
        found_for = meta.loc[pair, "model"]
        rows.append(
            {
                "model": agent,
                "pair_id": pair,
                "found_for": "" if pd.isna(found_for) else str(found_for),
                "fri_kind": meta.loc[pair, "fri_kind"],
                "region_size": meta.loc[pair, "region_size"],
                "label": int(meta.loc[pair, "label"]),
                "n_fri": n1,
                "human_acc_fri": k1 / n1 if n1 else np.nan,
                "n_partner": n2,
                "human_acc_partner": k2 / n2 if n2 else np.nan,
                "human_gap": (k1 / n1 - k2 / n2) if n1 and n2 else np.nan,
                "human_gap_low": lo,
                "human_gap_high": hi,
                "model_correct_fri": int(by.loc[FRI, "correct"]),
                "model_correct_partner": int(by.loc[PARTNER, "correct"]),
                "model_conf_fri": float(by.loc[FRI, "prob_true"]),
                "model_conf_partner": float(by.loc[PARTNER, "prob_true"]),
            }
        )
    pairs = pd.DataFrame(rows)
    if pairs.empty:
        return FriPairsResult(
            pairs, [], [*notes, "no model predictions on both crops of any pair"], group_name
        )
    own = (pairs["found_for"] == pairs["model"]) | (pairs["found_for"] == "")
    if own.any():
        pairs = pairs[own]
    else:
        notes.append("the pairs were found for a model not in the predictions: compared with every model")
    pairs = pairs.assign(model_gap=pairs["model_conf_fri"] - pairs["model_conf_partner"]).reset_index(
        drop=True
    )
    wrong = pairs[(pairs["model_correct_fri"] != 1) | (pairs["model_correct_partner"] != 0)]
    if len(wrong):
        notes.append(
            f"{len(wrong)} pair(s) where the model is not right on the FRI and wrong on its partner "
            "(another model, or group scoring merges the two answers)"
        )
    pooled = [_pooled(str(m), g, hum, confidence) for m, g in pairs.groupby("model")]
    return FriPairsResult(pairs, pooled, notes, group_name)


def _count(counts: pd.DataFrame, pair: str, cond: str) -> tuple[int, int]:
    if (pair, cond) not in counts.index:
        return 0, 0
    row = counts.loc[(pair, cond)]
    return int(row["sum"]), int(row["count"])


def _group_predictions(predictions: pd.DataFrame | None) -> pd.DataFrame | None:
    if predictions is None or "prob_true_group" not in predictions.columns:
        return None
    out = predictions[["model", "stimulus_id", "prob_true_group", "group_summed"]].rename(
        columns={"model": "agent"}
    )
    return out.assign(agent=out["agent"].astype(str), stimulus_id=out["stimulus_id"].astype(str))


def _pooled(model: str, pairs: pd.DataFrame, hum: pd.DataFrame, confidence: float) -> PooledGap:
    mine = hum[hum["pair_id"].isin(set(pairs["pair_id"]))]
    gap, low, high, p, res = gee_gap(mine) if len(mine) else (np.nan, np.nan, np.nan, np.nan, None)
    mg = pairs["model_gap"].to_numpy(dtype=float)
    if len(mg) > 1:
        half = stats.t.ppf(0.5 + confidence / 2, len(mg) - 1) * mg.std(ddof=1) / np.sqrt(len(mg))
    else:
        half = np.nan
    ok = pairs[["human_gap", "model_gap"]].dropna()
    if len(ok) >= 3 and ok["human_gap"].nunique() > 1 and ok["model_gap"].nunique() > 1:
        rho, rp = stats.spearmanr(ok["human_gap"], ok["model_gap"])
    else:
        rho, rp = np.nan, np.nan
    acc = mine.groupby("condition")["correct"].mean()
    return PooledGap(
        model=model,
        n_pairs=len(pairs),
        n_participants=int(mine["participant"].nunique()),
        human_acc_fri=float(acc.get(FRI, np.nan)),
        human_acc_partner=float(acc.get(PARTNER, np.nan)),
        human_gap=gap,
        human_gap_low=low,
        human_gap_high=high,
        human_gap_p=p,
        model_gap_mean=float(mg.mean()),
        model_gap_low=float(mg.mean() - half),
        model_gap_high=float(mg.mean() + half),
        spearman_rho=float(rho),
        spearman_p=float(rp),
        gee=res,
    )
