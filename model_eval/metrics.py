"""Accuracy-table companions: the imbalance-aware chance level."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def chance_level(labels: Iterable[int]) -> float:
    """Accuracy of a guesser that answers class k with the class's frequency p_k: sum_k p_k^2.

    This is the chance level that accounts for class imbalance (Hosseini et al. 2017 give 3.76% for
    GTSRB, whose 43 test classes hold 60 to 750 images; uniform guessing would give 1/43 = 2.33%).
    NaN for an empty set.
    """
    arr = np.asarray(list(labels), dtype=np.int64)
    if arr.size == 0:
        return float("nan")
    p = np.bincount(arr) / arr.size
    return float((p**2).sum())
