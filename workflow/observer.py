"""A synthetic observer, so a newcomer can see a full report before recruiting anyone.

The model is deliberately simple and documented, because its output is labelled SIMULATED and only
serves to show what the platform produces:

* Each simulated participant answers correctly with probability
  ``sigmoid(logit(p_condition) + ability + difficulty)``. ``p_condition`` is the human accuracy that
  Hosseini et al. (2017, Table II) report for the condition: 98.48% on regular color signs, 97.31% on
  their negatives, 98.00% on gray signs and 96.41% on gray negatives. ``ability`` ~ N(0, 0.5) is
  drawn once per participant and ``difficulty`` ~ N(0, 0.5) once per source image, so trials cluster
  the way real data do.
* Catch trials are clear regular images, answered correctly with probability ``p_catch``.
* A wrong answer picks uniformly among the other classes.
* Reaction times are log-normal: median 900 ms (1100 ms on negatives), log-sd 0.35.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from model_eval.reproduce.papers import human_rate

# The paper's human rates per condition: color 98.48% / 97.31%, gray 98.00% / 96.41% (regular / negative).
HOSSEINI_HUMAN_ACCURACY: dict[str, float] = {
    c: human_rate(c) for c in ("regular", "negative", "gray", "gray_negative")
}


@dataclass(frozen=True)
class ObserverModel:
    """Parameters of the simulated observer; the defaults follow the seed paper's human figures."""

    accuracy: Mapping[str, float] = field(default_factory=lambda: dict(HOSSEINI_HUMAN_ACCURACY))
    default_accuracy: float = 0.9
    p_catch: float = 0.99
    ability_sd: float = 0.5
    difficulty_sd: float = 0.5
    rt_median_ms: float = 900.0
    rt_median_negative_ms: float = 1100.0
    rt_log_sd: float = 0.35

    def __post_init__(self) -> None:
        for name, p in {**self.accuracy, "default": self.default_accuracy, "catch": self.p_catch}.items():
            if not 0.0 < p < 1.0:
                raise ValueError(f"accuracy for {name!r} must lie strictly between 0 and 1, got {p}")


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def item_difficulties(source_ids: list[str], model: ObserverModel, seed: int) -> dict[str, float]:
    """One difficulty per source image, shared by every simulated participant."""
    rng = np.random.default_rng(seed)
    unique = sorted(set(source_ids))
    return dict(zip(unique, rng.normal(0.0, model.difficulty_sd, len(unique)).tolist(), strict=True))


def answer(
    *,
    label: int,
    condition: str,
    catch: bool,
    n_classes: int,
    ability: float,
    difficulty: float,
    model: ObserverModel,
    rng: np.random.Generator,
) -> tuple[int, float]:
    """One simulated trial: the chosen class id and the reaction time in ms."""
    if catch:
        p = model.p_catch
    else:
        base = model.accuracy.get(condition, model.default_accuracy)
        p = 1.0 / (1.0 + math.exp(-(_logit(base) + ability + difficulty)))
    if rng.random() < p:
        response = label
    else:
        response = int(rng.integers(0, n_classes - 1))
        response += response >= label
    median = model.rt_median_negative_ms if "negative" in condition else model.rt_median_ms
    rt = float(rng.lognormal(math.log(median), model.rt_log_sd))
    return int(response), round(rt, 1)
