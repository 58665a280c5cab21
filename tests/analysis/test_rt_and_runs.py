"""RT summaries against hand-computed medians, and models as populations (runs grouped, spread, test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.replicates import group_runs, parse_runs_argument, population_analysis
from analysis.stats.rt import rt_analysis


def _human(agent: str, cond: str, rts: list[float], correct: list[int]) -> list[dict]:
    return [
        {
            "agent": agent,
            "agent_type": "human",
            "condition": cond,
            "catch": False,
            "answered": True,
            "rt_ms": rt,
            "correct": c,
            "stimulus_id": f"{cond}{i}",
        }
        for i, (rt, c) in enumerate(zip(rts, correct, strict=True))
    ]


def test_rt_medians_by_hand() -> None:
    rows = _human("a", "reg", [500, 700, 900, 1300], [1, 1, 1, 0])
    rows += _human("b", "reg", [600, 650, 2000], [1, 0, 0])
    rows += _human("c", "reg", [400, 800], [1, 1])
    df = pd.DataFrame(rows)
    # a timeout has no RT and a catch trial is not analysed: neither may move a median
    df = pd.concat(
        [
            df,
            pd.DataFrame(
                [
                    {**rows[0], "answered": False, "rt_ms": np.nan, "correct": 0},
                    {**rows[0], "catch": True, "rt_ms": 99999.0},
                ]
            ),
        ],
        ignore_index=True,
    )
    res = rt_analysis(df, n_boot=200, seed=0)
    per = res.per_participant.set_index("participant")
    # by hand: a: median(500, 700, 900, 1300) = 800; b: 650; c: 600
    assert per.loc["a", "median_rt_ms"] == 800 and per.loc["b", "median_rt_ms"] == 650
    assert per.loc["c", "median_rt_ms"] == 600
    # correct / wrong medians: a 700 / 1300, b 600 / median(650, 2000) = 1325, c 600 / none
    assert (per.loc["a", "median_rt_correct_ms"], per.loc["a", "median_rt_wrong_ms"]) == (700, 1300)
    assert (per.loc["b", "median_rt_correct_ms"], per.loc["b", "median_rt_wrong_ms"]) == (600, 1325)
    assert np.isnan(per.loc["c", "median_rt_wrong_ms"])
    row = res.by_condition.iloc[0]
    assert row["mean_of_median_rt_ms"] == pytest.approx((800 + 650 + 600) / 3)
    assert row["median_of_medians_ms"] == 650
    assert row["ci_low"] <= row["mean_of_median_rt_ms"] <= row["ci_high"]
    cw = res.correct_vs_wrong.iloc[0]
    assert cw["n_participants_with_both"] == 2
    assert cw["wrong_minus_correct_ms"] == pytest.approx(((1300 - 700) + (1325 - 600)) / 2)


def test_runs_grouped_by_suffix_and_explicitly() -> None:
    models = ["mvgg8-seed0", "mvgg8-seed1", "lenet5", "a", "b"]
    groups = group_runs(models, parse_runs_argument(["pair=a,b"]))
    assert groups == {"pair": ["a", "b"], "mvgg8": ["mvgg8-seed0", "mvgg8-seed1"], "lenet5": ["lenet5"]}
    with pytest.raises(ValueError, match="NAME=model_a"):
        parse_runs_argument(["nothing"])


def _population(n_runs: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(12):
        for i in range(30):
            rows.append((f"p{p}", "human", f"s{i}", int(rng.random() < 0.9)))
    run_acc = [0.5, 0.7, 0.6][:n_runs]
    for r, acc in enumerate(run_acc):
        for i in range(30):
            rows.append((f"net-seed{r}", "model", f"s{i}", int(i < round(acc * 30))))
    df = pd.DataFrame(rows, columns=["agent", "agent_type", "stimulus_id", "correct"])
    return df.assign(condition="c", catch=False)


def test_population_spread_and_crossed_test() -> None:
    df = _population(3)
    res = population_analysis(
        df, group_runs(sorted(df.loc[df["agent_type"] == "model", "agent"].unique())), n_boot=1000, seed=0
    )
    spread = res.spread.iloc[0]
    assert spread["n_runs"] == 3
    assert spread["mean_accuracy"] == pytest.approx(0.6)
    assert spread["sd_between_runs"] == pytest.approx(np.std([0.5, 0.7, 0.6], ddof=1))
    assert (spread["min_accuracy"], spread["max_accuracy"]) == pytest.approx((0.5, 0.7))
    t = res.tests.iloc[0]
    human = df[df["agent_type"] == "human"]["correct"].mean()
    assert t["diff"] == pytest.approx(human - 0.6)
    assert t["ci_low"] <= t["diff"] <= t["ci_high"]
    assert t["variance_sources"] == "participants, items, runs"
    # One run: the same items, but the network is fixed; the report must say so.
    one = population_analysis(_population(1), {"net": ["net-seed0"]}, n_boot=1000, seed=0)
    assert one.single_run_groups == ["net"]
    assert "network fixed" in one.tests.iloc[0]["variance_sources"]
    # Spread between runs widens the interval compared with holding one run fixed.
    assert (t["ci_high"] - t["ci_low"]) > (one.tests.iloc[0]["ci_high"] - one.tests.iloc[0]["ci_low"])
