"""Inferential tests against hand calculations, a separate implementation, and simulated known effects."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats
from statsmodels.stats.contingency_tables import mcnemar

from analysis.stats.inference import (
    binary_contrast,
    holm,
    human_vs_model_tests,
    mcnemar_exact,
    model_paired_tests,
    within_human_tests,
)


def test_mcnemar_exact_hand_binomial_and_statsmodels() -> None:
    # Hand calculation: b=1, c=9 discordant pairs, Binomial(10, 1/2):
    # p = 2 * (C(10,0) + C(10,1)) / 2^10 = 2 * 11 / 1024.
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    # A separate implementation: statsmodels' mcnemar(exact=True).
    for b, c in [(3, 12), (30, 1), (7, 9)]:
        ref = mcnemar(np.array([[10, b], [c, 4]]), exact=True).pvalue
        assert mcnemar_exact(b, c) == pytest.approx(ref)


def test_holm_hand_calculation() -> None:
    # Holm step-down by hand: sorted p = .01, .03, .04 times 3, 2, 1 -> .03, .06, .04;
    # made monotone: .03, .06, .06.
    df = holm(pd.DataFrame({"p_value": [0.01, 0.04, 0.03, np.nan]}))
    assert df["p_holm"].iloc[:3].tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert np.isnan(df["p_holm"].iloc[3])


def _clustered(
    rng: np.random.Generator, n_part: int, n_trials: int, beta0: float, beta1: float, sd: float
) -> tuple[np.ndarray, ...]:
    u = rng.normal(0, sd, n_part)
    g = np.repeat(np.arange(n_part), n_trials)
    ya = rng.random(len(g)) < special.expit(beta0 + u[g])
    yb = rng.random(len(g)) < special.expit(beta0 + beta1 + u[g])
    return ya.astype(float), g, yb.astype(float), g


def test_gee_recovers_known_within_participant_effect() -> None:
    # Simulated with a fixed seed: conditional log odds ratio -1.0, random-intercept SD 0.8.
    # GEE estimates the population-averaged effect, attenuated to about
    # beta / sqrt(1 + c^2 sd^2), c = 16 sqrt(3) / (15 pi) (Zeger, Liang & Albert 1988, Biometrics 44:1049).
    rng = np.random.default_rng(42)
    ya, ga, yb, gb = _clustered(rng, n_part=60, n_trials=40, beta0=1.2, beta1=-1.0, sd=0.8)
    res = binary_contrast(ya, ga, yb, gb, label="b vs a", condition="c")
    c = 16 * math.sqrt(3) / (15 * math.pi)
    target = -1.0 / math.sqrt(1 + c * c * 0.8**2)
    assert res.method.startswith("GEE")
    assert res.or_ci_low < math.exp(target) < res.or_ci_high
    assert res.p_value < 1e-6
    assert res.diff == pytest.approx(yb.mean() - ya.mean())
    # Cohen's h by hand: 2 asin(sqrt(p_b)) - 2 asin(sqrt(p_a)).
    assert res.cohens_h == pytest.approx(
        2 * math.asin(math.sqrt(yb.mean())) - 2 * math.asin(math.sqrt(ya.mean()))
    )
    assert res.icc > 0.02  # the random intercept shows up as within-participant correlation


def test_gee_null_effect_is_not_significant() -> None:
    rng = np.random.default_rng(7)
    ya, ga, yb, gb = _clustered(rng, n_part=40, n_trials=30, beta0=1.0, beta1=0.0, sd=0.8)
    res = binary_contrast(ya, ga, yb, gb, label="b vs a", condition="c")
    assert res.p_value > 0.05
    assert res.or_ci_low < 1 < res.or_ci_high


def test_perfect_separation_falls_back_with_a_note() -> None:
    ya = np.array([1.0] * 20)
    yb = np.array([1.0] * 15 + [0.0] * 5)
    res = binary_contrast(ya, np.arange(20), yb, np.repeat(np.arange(4), 5), label="x", condition="c")
    assert res.method == "Fisher exact (fallback)"
    assert "perfect separation" in "; ".join(res.notes)
    # Fisher's exact test by hand via the hypergeometric: 20/20 vs 15/20 correct, two-sided.
    ref = stats.fisher_exact([[15, 5], [20, 0]])[1]
    assert res.p_value == pytest.approx(ref)


def _long(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["catch"] = False
    return df


def test_model_mcnemar_pairs_by_source_id() -> None:
    # 10 sources: regular right on all; negative right on 2 -> 8 discordant (right, wrong), 0 the other way.
    rows = []
    for i in range(10):
        rows.append(
            {
                "agent": "m",
                "agent_type": "model",
                "source_id": f"s{i}",
                "condition": "regular",
                "correct": 1,
                "stimulus_id": f"r{i}",
            }
        )
        rows.append(
            {
                "agent": "m",
                "agent_type": "model",
                "source_id": f"s{9 - i}",
                "condition": "negative",
                "correct": int(9 - i < 2),
                "stimulus_id": f"n{i}",
            }
        )
    res = model_paired_tests(_long(rows)).iloc[0]
    assert (res["a_right_b_wrong"], res["a_wrong_b_right"], res["n_pairs"]) == (8, 0, 10)
    assert res["p_value"] == pytest.approx(2 * 0.5**8)


def test_human_vs_model_and_within_human_tables() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for p in range(20):
        for i in range(20):
            for cond, prob in (("regular", 0.9), ("negative", 0.75)):
                rows.append(
                    {
                        "agent": f"p{p}",
                        "agent_type": "human",
                        "stimulus_id": f"{cond}{i}",
                        "condition": cond,
                        "correct": int(rng.random() < prob),
                        "source_id": f"s{i}",
                    }
                )
    for i in range(20):
        for cond, prob in (("regular", 0.9), ("negative", 0.15)):
            rows.append(
                {
                    "agent": "net",
                    "agent_type": "model",
                    "stimulus_id": f"{cond}{i}",
                    "condition": cond,
                    "correct": int(rng.random() < prob),
                    "source_id": f"s{i}",
                }
            )
    df = _long(rows)
    hvm = human_vs_model_tests(df).set_index("condition")
    assert hvm.loc["negative", "p_holm"] < 1e-4
    assert hvm.loc["negative", "diff"] > 0.4
    assert (hvm["p_holm"] >= hvm["p_value"]).all()
    within = within_human_tests(df).iloc[0]
    assert within["label"] == "negative vs regular"
    assert within["diff"] < 0 and within["p_value"] < 0.01


def test_statsmodels_warnings_become_notes_not_errors() -> None:
    # Seven trials in five clusters: statsmodels divides by zero while estimating the exchangeable
    # correlation. pytest turns warnings into errors, so reaching the asserts proves they were caught.
    ya, ga = np.array([1.0, 0.0, 1.0]), np.array(["a", "a", "b"])
    yb, gb = np.array([1.0, 1.0, 0.0, 0.0]), np.array(["c", "c", "d", "e"])
    res = binary_contrast(ya, ga, yb, gb, label="x", condition="c")
    assert any("RuntimeWarning" in n for n in res.notes)
    assert len(res.notes) == len(set(res.notes))
    assert res.method == "Fisher exact (fallback)"
    assert res.p_value == pytest.approx(stats.fisher_exact([[2, 2], [2, 1]])[1])


def test_one_cluster_is_not_given_a_robust_p_value() -> None:
    rng = np.random.default_rng(0)
    ya, yb = (rng.random(50) < 0.5).astype(float), (rng.random(50) < 0.3).astype(float)
    res = binary_contrast(ya, np.zeros(50), yb, np.zeros(50), label="x", condition="c")
    assert res.method == "Fisher exact (fallback)"
    assert "only 1 clusters" in res.notes[0]
