"""Descriptive statistics against independently computed reference values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis.stats.consistency import KappaOptions, error_consistency, error_consistency_analysis
from analysis.stats.metrics import (
    HUMANS_POOLED,
    accuracy_by_condition,
    confusion_matrices,
    most_confused_pairs,
    wilson_interval,
)

# Newcombe R.G. (1998) "Two-sided confidence intervals for the single proportion: comparison of
# seven methods", Stat Med 17:857-872, Table I, method 3 (score interval without continuity correction).
NEWCOMBE_1998 = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("k", "n", "lo", "hi"), NEWCOMBE_1998)
def test_wilson_matches_newcombe_table(k: int, n: int, lo: float, hi: float) -> None:
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=6e-5)


def test_wilson_matches_statsmodels_and_edges() -> None:
    # A separate implementation: statsmodels' proportion_confint(method="wilson").
    for k, n in [(3, 7), (50, 51), (12, 40)]:
        assert wilson_interval(k, n) == pytest.approx(proportion_confint(k, n, method="wilson"), abs=1e-12)
    assert wilson_interval(10, 10)[1] == 1.0
    assert np.isnan(wilson_interval(0, 0)[0])


def _cohen_kappa_from_table(both_right: int, a_only: int, b_only: int, both_wrong: int) -> float:
    n = both_right + a_only + b_only + both_wrong
    po = (both_right + both_wrong) / n
    pa, pb = (both_right + a_only) / n, (both_right + b_only) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return (po - pe) / (1 - pe)


def test_error_consistency_is_cohens_kappa_textbook_example() -> None:
    # Cohen's kappa textbook 2x2 example (Wikipedia "Cohen's kappa", 50 proposals): 20 yes/yes,
    # 5 yes/no, 10 no/yes, 15 no/no -> p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = np.array([1] * 20 + [1] * 5 + [0] * 10 + [0] * 15, float)
    b = np.array([1] * 20 + [0] * 5 + [1] * 10 + [0] * 15, float)
    res = error_consistency(a, b)
    assert res["c_obs"] == pytest.approx(0.7)
    assert res["c_exp"] == pytest.approx(0.5)
    assert res["kappa"] == pytest.approx(0.4)
    assert res["acc_diff_sq"] == pytest.approx((25 / 50 - 30 / 50) ** 2)


def test_error_consistency_hand_calculation_and_unseen() -> None:
    # Hand calculation: shared stimuli are the first five; c_obs = 3/5, p1 = p2 = 3/5,
    # c_exp = .36 + .16 = .52, kappa = (.6 - .52) / .48 = 1/6. The NaN stimuli are not shared.
    a = np.array([1, 1, 0, 0, 1, np.nan, 1])
    b = np.array([1, 0, 0, 1, 1, 0, np.nan])
    res = error_consistency(a, b)
    assert res["n"] == 5
    assert res["kappa"] == pytest.approx(1 / 6)
    assert res["kappa"] == pytest.approx(_cohen_kappa_from_table(2, 1, 1, 1))


def test_error_consistency_identical_and_independent_agents() -> None:
    rng = np.random.default_rng(0)
    a = (rng.random(400) < 0.7).astype(float)
    assert error_consistency(a, a)["kappa"] == 1.0
    # Identical and all correct: c_exp = 1 too, kappa is defined as 1 (c_obs = 1).
    ones = np.ones(30)
    assert error_consistency(ones, ones)["kappa"] == 1.0
    # Independent agents: kappa near 0 (its standard error here is about 0.01).
    x = (rng.random(20000) < 0.7).astype(float)
    y = (rng.random(20000) < 0.6).astype(float)
    assert abs(error_consistency(x, y)["kappa"]) < 0.04


def _trials(rows: list[tuple[str, str, str, str, int, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["agent", "agent_type", "stimulus_id", "condition", "label", "response"])
    df["catch"] = False
    df["correct"] = (df["response"] == df["label"]).astype(int)
    return df


def test_error_consistency_table_matches_by_stimulus_and_averages_over_humans() -> None:
    stim = [f"s{i}" for i in range(8)]
    labels = [0] * 8
    model = [0, 0, 1, 1, 0, 1, 0, 0]
    h1 = [0, 0, 1, 0, 0, 1, 1, 0]
    h2 = [0, 1, 1, 1, 0, np.nan, 0, 0]  # NaN: timeout, counts as wrong
    rows = []
    for agent, kind, resp in [("m", "model", model), ("h1", "human", h1), ("h2", "human", h2)]:
        rows += [(agent, kind, s, "c", lab, r) for s, lab, r in zip(stim, labels, resp, strict=True)]
    df = _trials(rows)
    # Shuffle trial order: matching must be by stimulus_id, so nothing changes.
    shuffled = df.sample(frac=1.0, random_state=3)
    res = error_consistency_analysis(shuffled, KappaOptions(n_boot=50, min_shared=5))
    summ, pairs = res.summary, res.pairs

    def correct(resp: list[float]) -> np.ndarray:
        return (np.array(resp) == 0).astype(float)

    k1 = error_consistency(correct(h1), correct(model))["kappa"]
    k2 = error_consistency(correct(h2), correct(model))["kappa"]
    hm = summ[summ["comparison"] == "human-model"].iloc[0]
    assert hm["agent_a"] == HUMANS_POOLED and hm["agent_b"] == "m"
    assert hm["kappa"] == pytest.approx((k1 + k2) / 2)
    assert hm["n_pairs_used"] == 2
    hh = summ[summ["comparison"] == "human-human"].iloc[0]
    assert hh["kappa"] == pytest.approx(error_consistency(correct(h1), correct(h2))["kappa"])
    assert np.isfinite(hm["kappa_ci_low"]) and hm["kappa_ci_low"] <= hm["kappa_ci_high"]
    assert set(pairs["comparison"]) == {"human-model", "human-human"}


def test_accuracy_by_condition_pooled_and_wilson() -> None:
    rows = [("h1", "human", f"s{i}", "regular", 0, 0 if i < 3 else 1) for i in range(4)]
    rows += [("h2", "human", f"s{i}", "regular", 0, 0) for i in range(4)]
    rows += [("m", "model", f"s{i}", "regular", 0, 1) for i in range(4)]
    acc = accuracy_by_condition(_trials(rows)).set_index("agent")
    assert acc.loc[HUMANS_POOLED, "accuracy"] == pytest.approx(7 / 8)
    assert (acc.loc[HUMANS_POOLED, "ci_low"], acc.loc[HUMANS_POOLED, "ci_high"]) == wilson_interval(7, 8)
    assert acc.loc["h1", "accuracy"] == pytest.approx(0.75)
    assert acc.loc["m", "accuracy"] == 0


def test_confusions_counts_and_top_pair() -> None:
    rows = [("m", "model", f"s{i}", "neg", 0, 2) for i in range(3)]
    rows += [
        ("m", "model", "s3", "neg", 0, 0),
        ("m", "model", "s4", "neg", 1, np.nan),
        ("m", "model", "s5", "neg", 1, 1),
    ]
    mats = confusion_matrices(_trials(rows), n_classes=3)
    mat = mats[("m", "neg")]
    expected = np.array([[1, 0, 3, 0], [0, 1, 0, 1], [0, 0, 0, 0]])
    np.testing.assert_array_equal(mat, expected)
    top = most_confused_pairs(mats, {0: "a", 1: "b", 2: "c"})
    assert (top.iloc[0]["true"], top.iloc[0]["answered"], top.iloc[0]["count"]) == (0, 2, 3)
    assert top.iloc[0]["share_of_true"] == pytest.approx(0.75)


def test_item_bootstrap_interval_equals_explicit_resampling() -> None:
    # Reference: resample the stimuli explicitly (repeat each column by its multiplicity) with the same
    # seeded multinomial draws, recompute kappa each time, and take the 2.5/97.5 percentiles.
    rng = np.random.default_rng(5)
    n = 60
    h = (rng.random(n) < 0.7).astype(int)
    m = np.where(rng.random(n) < 0.6, h, 1 - h)
    rows = [("h", "human", f"s{i}", "c", 1, float(h[i])) for i in range(n)]
    rows += [("m", "model", f"s{i}", "c", 1, float(m[i])) for i in range(n)]
    res = error_consistency_analysis(_trials(rows), KappaOptions(unit="items", n_boot=200, seed=9))
    ref_rng = np.random.default_rng(9)
    # Stimuli are sorted by id inside the function; apply the same order here.
    order = np.argsort([f"s{i}" for i in range(n)])
    hs, ms = h[order].astype(float), m[order].astype(float)
    kappas = []
    for w in ref_rng.multinomial(n, np.full(n, 1 / n), size=200):
        idx = np.repeat(np.arange(n), w)
        kappas.append(error_consistency(hs[idx], ms[idx])["kappa"])
    row = res.summary.iloc[0]
    assert row["ci_unit"] == "items"
    assert (row["kappa_ci_low"], row["kappa_ci_high"]) == pytest.approx(
        tuple(np.percentile(kappas, [2.5, 97.5]))
    )
