"""Power: the closed-form sample size against a hand calculation, with the stated minimum and rounding."""

from __future__ import annotations

import math
import warnings

import pytest
from scipy import stats

from analysis.stats.power import MIN_PARTICIPANTS, participants_needed


def test_power_matches_hand_formula() -> None:
    # One-sample normal approximation by hand: n = ((z_.975 + z_.8) / h)^2,
    # h = 2 asin(sqrt(.95)) - 2 asin(sqrt(.90)); participants = ceil(n * (1 + (m - 1) icc) / m).
    h = 2 * math.asin(math.sqrt(0.95)) - 2 * math.asin(math.sqrt(0.90))
    n = ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / h) ** 2
    res = participants_needed(0.95, 0.05, trials_per_participant=20, icc=0.1, n_lists=4)
    assert res["cohens_h"] == pytest.approx(h)
    assert res["trials_needed"] == pytest.approx(n, rel=1e-9)
    assert res["design_effect"] == pytest.approx(2.9)
    for_power = math.ceil(n * 2.9 / 20)  # 46 by hand
    assert res["participants_for_power"] == for_power
    assert res["participants_needed"] == math.ceil(max(for_power, MIN_PARTICIPANTS) / 4) * 4


def test_huge_difference_gives_the_sensible_minimum_without_warnings() -> None:
    # h about 1.9 needs 3 trials by the formula; the recommendation is the stated minimum, rounded up
    # to whole counterbalancing cycles (3 lists: 21), and no solver runs (so nothing can warn).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = participants_needed(0.95, 0.85, trials_per_participant=10, icc=0.0, n_lists=3)
    h = 2 * math.asin(math.sqrt(0.95)) - 2 * math.asin(math.sqrt(0.10))
    n = ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / h) ** 2
    assert res["trials_needed"] == pytest.approx(n, rel=1e-9)
    assert res["participants_for_power"] == 1
    assert res["participants_needed"] == 21
