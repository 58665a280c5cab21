"""Error consistency: ceiling counts on constructed data, the two ceiling policies, and intervals that
contain their own point estimates (the bug of the item bootstrap with the kappa = 1 convention)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.consistency import KappaOptions, error_consistency, error_consistency_analysis, pair_stats


def _rows(agent: str, kind: str, cond: str, wrong: set[int], stims: range) -> list[dict]:
    return [
        {
            "agent": agent,
            "agent_type": kind,
            "stimulus_id": f"s{i:02d}",
            "condition": cond,
            "catch": False,
            "correct": 0 if i in wrong else 1,
        }
        for i in stims
    ]


def _constructed() -> pd.DataFrame:
    """Five people; h1, h2 all correct on s00-s09 (a ceiling pair); h3 wrong on s00, s01; h4 and h5 saw
    s10-s19 only (so they share nothing with h1-h3), h4 wrong on s10, h5 wrong on s10 and s11."""
    rows = _rows("h1", "human", "c", set(), range(10))
    rows += _rows("h2", "human", "c", set(), range(10))
    rows += _rows("h3", "human", "c", {0, 1}, range(10))
    rows += _rows("h4", "human", "c", {10}, range(10, 20))
    rows += _rows("h5", "human", "c", {10, 11}, range(10, 20))
    return pd.DataFrame(rows)


# (h4, h5) by hand: n = 10, both right 8, both wrong 1 (s10), h4 right & h5 wrong 1 (s11).
# c_obs = 0.9; p4 = 0.9, p5 = 0.8; c_exp = 0.9 * 0.8 + 0.1 * 0.2 = 0.74; kappa = 0.16 / 0.26.
K45 = 0.16 / 0.26
# (h1, h3) and (h2, h3): one agent all correct, so c_obs = c_exp = p3 and kappa = 0.


def test_ceiling_and_too_few_counts_and_policies() -> None:
    one = error_consistency_analysis(_constructed(), KappaOptions(n_boot=0, min_shared=5))
    row = one.summary.iloc[0]
    assert row["comparison"] == "human-human"
    assert row["n_pairs_possible"] == 10
    assert row["n_pairs_ceiling"] == 1
    assert row["n_pairs_floor"] == 0
    assert row["n_pairs_too_few_shared"] == 6  # h1-h3 with h4, h5
    assert row["n_pairs_used"] == 4
    assert row["kappa"] == pytest.approx((1 + 0 + 0 + K45) / 4)
    status = one.pairs.set_index(["agent_a", "agent_b"])["status"]
    assert status[("h1", "h2")] == "ceiling" and status[("h4", "h5")] == "ok"
    assert status[("h1", "h4")] == "too_few_shared"

    excl = error_consistency_analysis(_constructed(), KappaOptions(ceiling="exclude", n_boot=0))
    row = excl.summary.iloc[0]
    assert row["n_pairs_used"] == 3 and row["n_pairs_ceiling"] == 1
    assert row["kappa"] == pytest.approx((0 + 0 + K45) / 3)
    assert np.isnan(excl.pairs.set_index(["agent_a", "agent_b"]).loc[("h1", "h2"), "kappa"])


def test_floor_pair_and_published_convention() -> None:
    wrong = np.zeros(6)
    st = pair_stats(wrong[None], wrong[None])
    assert st["floor"][0, 0] and not st["ceiling"][0, 0] and np.isnan(st["kappa"][0, 0])
    # The published convention (model-vs-human): kappa = 1 whenever observed agreement is 1.
    assert error_consistency(np.ones(6), np.ones(6))["kappa"] == 1.0
    assert error_consistency(wrong, wrong)["kappa"] == 1.0


def _latent_study(n_people: int, n_items: int, base: float, seed: int) -> pd.DataFrame:
    """People and three runs of one model answer items whose difficulty they share (so kappa > 0);
    people are split over two lists that see different items, as in a Latin square."""
    rng = np.random.default_rng(seed)
    rows = []
    for cond, shift in (("easy", 1.5), ("hard", -0.5)):
        difficulty = rng.normal(0, 1.5, n_items)
        for p in range(n_people):
            items = range(0, n_items, 2) if p % 2 == 0 else range(1, n_items, 2)
            for i in items:
                prob = 1 / (1 + np.exp(-(base + shift - difficulty[i] + rng.normal(0, 0.3))))
                rows.append((f"p{p:02d}", "human", f"{cond}{i:03d}", cond, int(rng.random() < prob)))
        for r in range(3):
            for i in range(n_items):
                prob = 1 / (1 + np.exp(-(shift - 1.2 * difficulty[i] + rng.normal(0, 0.5))))
                rows.append((f"net-seed{r}", "model", f"{cond}{i:03d}", cond, int(rng.random() < prob)))
    df = pd.DataFrame(rows, columns=["agent", "agent_type", "stimulus_id", "condition", "correct"])
    df["catch"] = False
    return df


@pytest.mark.parametrize("ceiling", ["one", "exclude"])
@pytest.mark.parametrize("unit", ["participants", "items"])
def test_every_estimate_lies_inside_its_interval(ceiling: str, unit: str) -> None:
    data = _latent_study(n_people=16, n_items=40, base=1.0, seed=3)
    groups = {"net": ["net-seed0", "net-seed1", "net-seed2"]}
    res = error_consistency_analysis(
        data, KappaOptions(ceiling=ceiling, unit=unit, n_boot=400, seed=1), groups
    )
    s = res.summary
    assert set(s["comparison"]) == {"human-human", "human-model", "model-model"}
    assert s["kappa_ci_low"].notna().all()
    inside = (s["kappa_ci_low"] <= s["kappa"]) & (s["kappa"] <= s["kappa_ci_high"])
    assert inside.all(), s[~inside][["comparison", "condition", "kappa", "kappa_ci_low", "kappa_ci_high"]]
    # The human-model value is the mean over people x runs of each pair's kappa (checked pair by pair).
    hm = s[(s["comparison"] == "human-model") & (s["condition"] == "hard")].iloc[0]
    sub = data[data["condition"] == "hard"]
    wide = sub.pivot(index="stimulus_id", columns="agent", values="correct")
    kappas = [
        error_consistency(wide[h].to_numpy(float), wide[r].to_numpy(float))["kappa"]
        for h in sorted(sub.loc[sub["agent_type"] == "human", "agent"].unique())
        for r in groups["net"]
    ]
    assert hm["kappa"] == pytest.approx(np.mean(kappas))
    assert hm["n_pairs_used"] == 16 * 3


@pytest.mark.parametrize("unit", ["participants", "items"])
def test_near_ceiling_estimate_inside_its_interval(unit: str) -> None:
    # The demo's situation: ~97% correct, 10 shared items per pair, many pairs at ceiling. Resampling
    # items and re-applying kappa = 1 made the resampled means exceed the estimate; resampling
    # participants, or items with each pair's status fixed as observed, keeps it inside.
    data = _latent_study(n_people=20, n_items=20, base=4.0, seed=7)
    res = error_consistency_analysis(data, KappaOptions(unit=unit, n_boot=500, seed=2))
    hh = res.summary[res.summary["comparison"] == "human-human"]
    assert (hh["n_pairs_ceiling"] > 0).any()
    assert ((hh["kappa_ci_low"] <= hh["kappa"]) & (hh["kappa"] <= hh["kappa_ci_high"])).all()
