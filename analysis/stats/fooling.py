"""Fooling images (Nguyen et al. 2015) in the report: do people see the class the network sees?

For a stimulus set of family ``fooling`` the manifest's label is the class the network assigns, so a
person "agrees with the network" when they pick that class. People may also answer "none of these"
(stored and exported as the word ``none``, its own answer, not a missing one). Per condition (encoding)
this module gives:

- the share of trials on which people chose the network's class, with a Wilson 95% interval, against
  chance (1 / number of classes; exact one-sided binomial test, H1: above chance);
- the share of "none" answers (Wilson interval), and an exact test of network class vs "none": among the
  trials answered with one of the two, is the network's class chosen half the time? (the conditional
  binomial test of two multinomial proportions being equal);
- the network's mean confidence on these images (from the predictions if given, else from the
  confidences recorded in the set's ``stimulus_set.json``);
- per image, the network's label and confidence and people's most frequent answer: the contact sheet.

Intervals and tests treat trials as independent (descriptive; each person sees each target class once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from analysis.inputs.load import StimulusSetInfo
from analysis.stats.metrics import wilson_interval

NONE = "none"
FAMILY = "fooling"


@dataclass(frozen=True)
class FoolingResult:
    """Typed results; every frame is tidy (one row per condition, per model x condition, per image)."""

    rates: pd.DataFrame
    network: pd.DataFrame
    images: pd.DataFrame
    n_classes: int

    def summary_scalars(self) -> dict[str, float]:
        """The section's headline numbers, for summary.json."""
        all_ = self.rates[self.rates["condition"] == "all"].iloc[0]
        return {
            "fooling_rate_network_class": float(all_["rate"]),
            "fooling_none_rate": float(all_["none_rate"]),
        }


def is_fooling_set(info: StimulusSetInfo) -> bool:
    return bool((info.manifest["family"] == FAMILY).any())


def human_answers(kept: pd.DataFrame, responses: pd.DataFrame) -> pd.DataFrame:
    """The analysed human trials (after exclusions) with their raw answer: a class id or "none"."""
    humans = kept[(kept["agent_type"] == "human") & ~kept["catch"]]
    raw = responses[["participant", "stimulus_id", "response"]].copy()
    raw["participant"] = raw["participant"].astype(str)
    raw["answer"] = raw["response"].map(_answer)
    raw = raw.drop_duplicates(["participant", "stimulus_id"], keep="first")
    out = humans[["agent", "stimulus_id", "condition", "label"]].merge(
        raw[["participant", "stimulus_id", "answer"]],
        left_on=["agent", "stimulus_id"],
        right_on=["participant", "stimulus_id"],
        how="left",
    )
    return out.drop(columns="participant")


def _answer(v: object) -> str | int | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    text = str(v).strip()
    if text.lower() == NONE:
        return NONE
    try:
        return int(float(text))
    except ValueError:
        return None


def fooling_analysis(
    kept: pd.DataFrame, responses: pd.DataFrame, info: StimulusSetInfo
) -> FoolingResult | None:
    """None when the set holds no fooling images."""
    if not is_fooling_set(info):
        return None
    n_classes = info.n_classes
    man = info.manifest[(info.manifest["family"] == FAMILY) & ~info.manifest["catch"]]
    answers = human_answers(kept, responses)
    rows = []
    for cond, grp in [*answers.groupby("condition"), ("all", answers)]:
        n = len(grp)
        chose = int((grp["answer"] == grp["label"]).sum())
        none = int((grp["answer"] == NONE).sum())
        missing = int(grp["answer"].isna().sum())
        lo, hi = wilson_interval(chose, n)
        nlo, nhi = wilson_interval(none, n)
        rows.append(
            {
                "condition": cond,
                "n_trials": n,
                "n_participants": int(grp["agent"].nunique()),
                "chose_network_class": chose,
                "rate": chose / n if n else float("nan"),
                "ci_low": lo,
                "ci_high": hi,
                "chance": 1.0 / n_classes,
                "p_vs_chance": binomtest(chose, n, 1.0 / n_classes, alternative="greater").pvalue
                if n
                else float("nan"),
                "none": none,
                "none_rate": none / n if n else float("nan"),
                "none_ci_low": nlo,
                "none_ci_high": nhi,
                "other_class_rate": (n - chose - none - missing) / n if n else float("nan"),
                "no_answer": missing,
                "p_class_vs_none": binomtest(chose, chose + none, 0.5).pvalue
                if chose + none
                else float("nan"),
            }
        )
    rates = pd.DataFrame(rows)
    network = _network(kept, man, info)
    images = _images(answers, man, kept, info)
    return FoolingResult(rates, network, images, n_classes)


def _recorded_confidence(info: StimulusSetInfo, man: pd.DataFrame) -> pd.Series:
    """Per stimulus, the confidence the generator recorded (stimulus_set.json params.elites)."""
    try:
        meta = json.loads((Path(info.root) / "stimulus_set.json").read_text(encoding="utf-8"))
        elites = meta.get("params", {}).get("elites", {})
    except (OSError, ValueError):
        elites = {}
    keys = man["source_id"].astype(str) + "/" + man["condition"].astype(str)
    return pd.Series(
        [elites.get(k, {}).get("confidence", np.nan) for k in keys], index=man["stimulus_id"].values
    )


def _network(kept: pd.DataFrame, man: pd.DataFrame, info: StimulusSetInfo) -> pd.DataFrame:
    preds = kept[(kept["agent_type"] == "model") & kept["stimulus_id"].isin(man["stimulus_id"])]
    rows = []
    if len(preds):
        for (model, cond), grp in preds.groupby(["agent", "condition"]):
            rows.append(
                {
                    "model": model,
                    "condition": cond,
                    "source": "predictions",
                    "n_images": len(grp),
                    "mean_confidence": float(grp["confidence"].mean()),
                    "min_confidence": float(grp["confidence"].min()),
                    "agrees_with_label": float((grp["response"] == grp["label"]).mean()),
                }
            )
    else:
        rec = _recorded_confidence(info, man)
        for cond, grp in man.groupby("condition"):
            conf = rec.loc[grp["stimulus_id"].values]
            rows.append(
                {
                    "model": str(grp["model"].iloc[0]),
                    "condition": cond,
                    "source": "stimulus_set.json",
                    "n_images": len(grp),
                    "mean_confidence": float(conf.mean()),
                    "min_confidence": float(conf.min()),
                    "agrees_with_label": 1.0,
                }
            )
    return pd.DataFrame(rows)


def _images(
    answers: pd.DataFrame, man: pd.DataFrame, kept: pd.DataFrame, info: StimulusSetInfo
) -> pd.DataFrame:
    preds = kept[kept["agent_type"] == "model"]
    conf = (
        preds.groupby("stimulus_id")["confidence"].mean() if len(preds) else _recorded_confidence(info, man)
    )
    rows = []
    by_stim = dict(tuple(answers.groupby("stimulus_id")))
    for r in man.itertuples():
        got = by_stim.get(r.stimulus_id)
        counts = got["answer"].dropna().value_counts() if got is not None else pd.Series(dtype=int)
        n = int(counts.sum())
        top = counts.index[0] if n else None
        rows.append(
            {
                "stimulus_id": r.stimulus_id,
                "condition": r.condition,
                "network_label": int(r.label),
                "network_label_name": info.class_names.get(int(r.label), str(r.label)),
                "network_confidence": float(conf.get(r.stimulus_id, np.nan)),
                "n_answers": n,
                "top_answer": ""
                if top is None
                else (NONE if top == NONE else info.class_names.get(int(top), str(top))),
                "top_answer_share": float(counts.iloc[0] / n) if n else float("nan"),
                "chose_network_class": int((got["answer"] == r.label).sum()) if got is not None else 0,
                "none": int((got["answer"] == NONE).sum()) if got is not None else 0,
            }
        )
    return pd.DataFrame(rows).sort_values(["condition", "network_label"]).reset_index(drop=True)
