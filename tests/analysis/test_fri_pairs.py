"""FRI-pair analysis against independently computed values: Newcombe's interval, the clustered GEE gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.render.style import figure_bytes
from analysis.sections.fri_pairs import gap_figure
from analysis.stats.fri_pairs import fri_pair_analysis, gee_gap, newcombe_interval, score_on_groups


def test_newcombe_interval_matches_the_papers_worked_example():
    # Newcombe 1998 (Stat. Med. 17:873), Table II example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339
    low, high = newcombe_interval(56, 70, 48, 80)
    assert low == pytest.approx(0.0524, abs=5e-5) and high == pytest.approx(0.3339, abs=5e-5)


def _trials(rng: np.random.Generator, n_people: int = 12) -> pd.DataFrame:
    """Each person sees the FRI crop of half the pairs and the partner crop of the other half."""
    rows = []
    for i in range(n_people):
        for k in range(6):
            cond = "fri" if (i + k) % 2 == 0 else "fri_partner"
            p = 0.8 if cond == "fri" else 0.6
            rows.append(
                ("human", f"h{i}", f"h{i}", f"p{k}", cond, int(rng.random() < p), np.nan, k % 3, k % 3)
            )
    for k in range(6):
        rows.append(("model", "net", None, f"p{k}", "fri", 1, 0.9 - 0.05 * k, k % 3, k % 3))
        rows.append(("model", "net", None, f"p{k}", "fri_partner", 0, 0.2 + 0.02 * k, (k % 3 + 1) % 3, k % 3))
    df = pd.DataFrame(
        rows,
        columns=[
            "agent_type",
            "agent",
            "participant",
            "pair_id",
            "condition",
            "correct",
            "prob_true",
            "response",
            "label",
        ],
    )
    return df.assign(
        catch=False,
        model="net",
        fri_kind="shrink",
        region_size=10,
        stimulus_id=df["pair_id"] + df["condition"],
    )


def test_gee_gap_equals_a_hand_computed_cluster_robust_difference():
    df = _trials(np.random.default_rng(3))
    hum = df[df["agent_type"] == "human"]
    gap, low, high, p, res = gee_gap(hum)
    # by hand: OLS of correct on [1, is_fri]; sandwich (X'X)^-1 (sum_g X_g' e_g e_g' X_g) (X'X)^-1
    y = hum["correct"].to_numpy(float)
    x = np.column_stack([np.ones(len(y)), (hum["condition"] == "fri").to_numpy(float)])
    beta = np.linalg.solve(x.T @ x, x.T @ y)
    e = y - x @ beta
    meat = np.zeros((2, 2))
    for g in hum["participant"].unique():
        m = (hum["participant"] == g).to_numpy()
        score = x[m].T @ e[m]
        meat += np.outer(score, score)
    bread = np.linalg.inv(x.T @ x)
    se = np.sqrt((bread @ meat @ bread)[1, 1])
    assert gap == pytest.approx(beta[1], abs=1e-10)
    assert gap == pytest.approx(y[x[:, 1] == 1].mean() - y[x[:, 1] == 0].mean(), abs=1e-10)
    assert (low, high) == (
        pytest.approx(beta[1] - 1.959964 * se, abs=1e-5),
        pytest.approx(beta[1] + 1.959964 * se, abs=1e-5),
    )
    assert 0 < p < 1 and res is not None


def test_per_pair_table_orients_both_gaps_fri_minus_partner():
    df = _trials(np.random.default_rng(4))
    res = fri_pair_analysis(df)
    pairs = res.pairs.set_index("pair_id")
    assert len(pairs) == 6
    hum = df[df["agent_type"] == "human"]
    for k in range(6):
        h = hum[hum["pair_id"] == f"p{k}"]
        a1 = h.loc[h["condition"] == "fri", "correct"]
        a2 = h.loc[h["condition"] == "fri_partner", "correct"]
        row = pairs.loc[f"p{k}"]
        assert (row["n_fri"], row["n_partner"]) == (len(a1), len(a2)) == (6, 6)
        assert row["human_gap"] == pytest.approx(a1.mean() - a2.mean())
        assert (row["human_gap_low"], row["human_gap_high"]) == pytest.approx(
            newcombe_interval(int(a1.sum()), 6, int(a2.sum()), 6)
        )
        assert row["model_gap"] == pytest.approx((0.9 - 0.05 * k) - (0.2 + 0.02 * k))
        assert (row["model_correct_fri"], row["model_correct_partner"]) == (1, 0)
    (pooled,) = res.pooled
    assert pooled.n_pairs == 6 and pooled.n_participants == 12
    assert pooled.human_gap == pytest.approx(gee_gap(hum)[0])
    assert pooled.model_gap_mean == pytest.approx(pairs["model_gap"].mean())
    fig = gap_figure(res)  # one marker per pair: the 6 points of the errorbar series
    assert sum(len(line.get_xdata()) for line in fig.axes[0].lines if line.get_marker() in ("o", "s")) == 6
    assert figure_bytes(fig, "png").startswith(b"\x89PNG")


def test_group_scoring_counts_an_answer_in_the_right_group_as_correct():
    groups = {
        "name": "g",
        "groups": [{"id": 0, "name": "a", "classes": [0, 1]}, {"id": 1, "name": "b", "classes": [2]}],
    }
    t = pd.DataFrame(
        {
            "agent_type": ["human", "human", "model", "model"],
            "response": [0, 1, 1, 2.0],
            "label": [1, 2, 0, 0],
        }
    )
    # humans: group 0 for class 1 and group 1 for class 2 are right; the model: class 1 is in group 0, right
    assert score_on_groups(t, groups).tolist() == [1, 1, 1, 0]
