"""What every report section shares: the options, the context it reads, and the Section record.

A section is a module in this package with a ``SECTION = Section(key, title, compute, present)``:
``compute(ctx, results)`` does the statistics (through analysis.stats) and returns a typed result (a
frozen dataclass or a tidy DataFrame); ``results`` holds the results of the sections before it, by key,
for a section that builds on another (power reads the human-vs-model GEE fits). ``present(result,
ctx)`` turns that result into document blocks (headings, paragraphs, tables, figures) and computes
nothing. This module imports no section, so sections import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.inputs.load import LongTable
from analysis.inputs.provenance import Provenance
from analysis.render.document import Block, Heading
from analysis.stats.consistency import KappaOptions
from analysis.stats.exclusions import ExclusionResult, ExclusionRules


@dataclass(frozen=True)
class Options:
    n_boot: int = 500
    seed: int = 0
    power_difference: float = 0.05
    alpha: float = 0.05
    power: float = 0.8
    kappa: KappaOptions = field(default_factory=KappaOptions)
    top_confusions: int = 5


@dataclass(frozen=True)
class Context:
    """Everything a section may read: the joined data, what the exclusions kept, options, model groups."""

    table: LongTable
    exclusions: ExclusionResult
    options: Options
    groups: dict[str, list[str]]
    provenance: Provenance | None = None
    predictions: pd.DataFrame | None = None  # raw predictions (group scores for FRI pairs)
    responses: pd.DataFrame | None = None  # raw responses ("none" answers of fooling sets)

    @property
    def kept(self) -> pd.DataFrame:
        return self.exclusions.kept

    @property
    def exclusions_rules(self) -> ExclusionRules:
        """The rules the exclusions applied (the timing rule's threshold among them)."""
        return self.exclusions.applied

    @property
    def chance(self) -> float:
        return 1.0 / self.table.stimuli.n_classes

    def conditions(self, present: Iterable[object]) -> list[str]:
        """The conditions in ``present`` in the stimulus set's own order (regular first)."""
        return self.table.stimuli.order(present)

    def in_set_order(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame``'s rows with conditions in the set's order, so no table lists them alphabetically.

        Rows are grouped as before by the text columns left of ``condition`` (agent, participant,
        model: in the order they first appear), then put in the set's condition order; rows that tie
        keep their order. A frame without a ``condition`` column is returned as it is.
        """
        if "condition" not in frame.columns or frame.empty:
            return frame
        before = list(frame.columns)[: list(frame.columns).index("condition")]
        keys = [c for c in before if not pd.api.types.is_numeric_dtype(frame[c])]
        rank = {c: i for i, c in enumerate(self.conditions(frame["condition"].dropna()))}
        sort = pd.DataFrame(
            {f"k{i}": pd.factorize(frame[c])[0] for i, c in enumerate(keys)}, index=frame.index
        )
        sort["condition"] = frame["condition"].map(lambda c: rank.get(str(c), len(rank)))
        order = sort.sort_values(list(sort.columns), kind="stable").index
        return frame.loc[order].reset_index(drop=True)

    @property
    def class_names(self) -> dict[int, str]:
        return self.table.stimuli.class_names


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    compute: Callable[[Context, dict[str, Any]], Any]
    present: Callable[[Any, Context], list[Block]]


def heading(section: Section) -> Heading:
    """The section's title as the heading the report shows above its blocks."""
    return Heading(section.title)
