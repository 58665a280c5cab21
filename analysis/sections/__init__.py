"""The report's sections, one module each, and the order the report shows them in.

Adding a section is a module here with ``SECTION = Section(key, title, compute, present)`` (see
analysis.sections.base) and one entry in SECTIONS. The report (analysis.report) only walks this list;
the section modules import analysis.sections.base, never this package, so there is no import cycle.
"""

from __future__ import annotations

from analysis.sections import (
    accuracy,
    confusions,
    consistency,
    contrasts,
    data,
    fooling,
    fri_pairs,
    noise,
    participants,
    power,
    provenance,
    reaction_times,
)
from analysis.sections.base import Context, Options, Section, heading

SECTIONS: list[Section] = [
    data.SECTION,
    accuracy.SECTION,
    participants.SECTION,
    contrasts.SECTION,
    consistency.SECTION,
    confusions.SECTION,
    reaction_times.SECTION,
    fri_pairs.SECTION,
    fooling.SECTION,
    noise.SECTION,
    power.SECTION,
    provenance.SECTION,
]
"""The report, in order. Insert a section's SECTION to add it."""

__all__ = ["SECTIONS", "Context", "Options", "Section", "heading"]
