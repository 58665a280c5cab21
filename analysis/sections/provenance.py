"""Provenance: the inputs' hashes, software versions, the networks' training and the command."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.inputs.provenance import Provenance
from analysis.render.document import Block, Paragraph, Table, Warning, not_applicable
from analysis.sections.base import Context, Section


def compute_provenance(ctx: Context, _: dict[str, Any]) -> Provenance | None:
    return ctx.provenance


def present_provenance(r: Provenance | None, ctx: Context) -> list[Block]:
    if r is None:
        return not_applicable("Provenance")
    blocks: list[Block] = [
        Paragraph(f"Command: {r.command}"),
        Table("provenance_stimuli", r.stimulus_set, "Stimulus set."),
        Table("provenance_inputs", r.inputs, "Input files (SHA-256)."),
        Table("provenance_software", r.software, "Software versions."),
    ]
    if len(r.checkpoints):
        blocks.append(
            Table(
                "provenance_checkpoints",
                r.checkpoints,
                "Networks behind the predictions and their training, as each predictions file's "
                "sidecar (<predictions>.networks.json) records them.",
            )
        )
        run = pd.to_numeric(r.checkpoints["epochs_run"], errors="coerce")
        planned = pd.to_numeric(r.checkpoints["epochs_planned"], errors="coerce")
        for c in r.checkpoints[run < planned].itertuples():
            blocks.append(
                Warning(
                    f"{c.checkpoint}: training stopped after {c.epochs_run} of {c.epochs_planned} epochs "
                    f"(validation accuracy {c.val_accuracy}); its predictions are of a partly trained "
                    "network."
                )
            )
    blocks += [Paragraph(f"{note}.") for note in r.notes]
    return blocks


SECTION = Section("provenance", "10. Provenance", compute_provenance, present_provenance)
