"""Class descriptions shared by every source: a class is an integer id plus a human-readable name."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class ClassInfo:
    """One class of the closed set shown to participants."""

    id: int
    name: str


@dataclass(frozen=True)
class SignSpec:
    """How a synthetic GTSRB class looks (from the bundled gtsrb_classes.csv)."""

    class_id: int
    name: str
    shape: str
    fill: str
    border: str
    symbol: str


@lru_cache(maxsize=1)
def gtsrb_sign_specs() -> tuple[SignSpec, ...]:
    """The 43 GTSRB classes in GTSRB order, read from the package data file data/gtsrb_classes.csv."""
    text = resources.files("stimuli").joinpath("data/gtsrb_classes.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    specs = tuple(
        SignSpec(int(r["class_id"]), r["name"], r["shape"], r["fill"], r["border"], r["symbol"]) for r in rows
    )
    if [s.class_id for s in specs] != list(range(43)):
        raise RuntimeError("stimuli/data/gtsrb_classes.csv must list class ids 0..42 in order")
    return specs


def gtsrb_classes() -> list[ClassInfo]:
    """The GTSRB classes as ClassInfo, ids 0..42."""
    return [ClassInfo(s.class_id, s.name) for s in gtsrb_sign_specs()]
