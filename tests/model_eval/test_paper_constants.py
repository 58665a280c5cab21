"""The paper constants: complete (no number left out), and read by what depends on them."""

from __future__ import annotations

import pytest

from model_eval.reproduce.papers.hosseini import HOSSEINI_HUMANS, HOSSEINI_TABLE_II, human_rate
from model_eval.reproduce.papers.hosseini_short import HOSSEINI_SHORT_TABLE_I


def test_table_ii_has_every_row_of_the_paper():
    # Hosseini 2017, Table II, read off the paper: 2 LeNet-5, 5 CIFAR-10 MVGG, 2 GTSRB MVGG-8 rows
    rows = {
        (r["network"], r["dataset"], r["variant"]): (r["regular"], r["negative"]) for r in HOSSEINI_TABLE_II
    }
    assert rows[("lenet5", "MNIST", "augmented")] == (99.25, 12.38)
    assert rows[("mvgg8", "GTSRB-gray", "")] == (98.12, 12.29)
    assert [r["network"] for r in HOSSEINI_TABLE_II if r["dataset"] == "CIFAR-10"] == [
        f"mvgg{d}" for d in range(5, 10)
    ]
    assert all(isinstance(v, float) for pair in rows.values() for v in pair)
    assert len(rows) == 9
    assert HOSSEINI_HUMANS["participants"] == 10


def test_short_paper_table_i_is_complete():
    assert [r["eps"] for r in HOSSEINI_SHORT_TABLE_I] == [0.0, 0.05, 0.1, 0.2, 0.5]
    assert all(len(r["MNIST"]) == 2 and len(r["GTSRB"]) == 2 for r in HOSSEINI_SHORT_TABLE_I)


@pytest.mark.parametrize(
    ("condition", "rate"),
    [("regular", 0.9848), ("negative", 0.9731), ("gray", 0.98), ("gray_negative", 0.9641)],
)
def test_the_simulated_observer_uses_the_rate_of_each_condition(condition, rate):
    from workflow.observer import ObserverModel

    assert human_rate(condition) == pytest.approx(rate)
    assert ObserverModel().accuracy[condition] == pytest.approx(rate)
