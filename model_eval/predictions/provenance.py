"""The networks behind a predictions file, in a sidecar beside it, so a report reads files, not networks.

Whenever predictions are written to ``X.csv``, ``X.networks.json`` is written beside it::

    {"schema": 1, "networks": [{"model": ..., "name", "arch", "members", "source", "seed",
      "epochs_run", "epochs_planned", "val_accuracy", "torch", "checkpoint", "sha256",
      "training_config"}, ...]}

one entry per value of the predictions' ``model`` column. ``val_accuracy`` is each member's final
validation accuracy (4 decimals, ``", "``-separated, ``""`` when none was measured); ``training_config``
is the JSON (sorted keys) of the training configuration's scalar entries. A network without a
checkpoint file gets an entry with what is known and ``None`` for the rest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCHEMA = 1
SIDECAR_SUFFIX = ".networks.json"
FIELDS = (
    "model",
    "name",
    "arch",
    "members",
    "source",
    "seed",
    "epochs_run",
    "epochs_planned",
    "val_accuracy",
    "torch",
    "checkpoint",
    "sha256",
    "training_config",
)


def sidecar_path(predictions_csv: str | Path) -> Path:
    """``X.csv`` -> ``X.networks.json`` (same folder, same stem)."""
    p = Path(predictions_csv)
    return p.with_name(p.stem + SIDECAR_SUFFIX)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def network_entry(
    model: str, checkpoint: str | Path | None, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One sidecar entry: how the network behind ``model`` was trained and how well it validated.

    ``data`` is the checkpoint's dict (read from ``checkpoint`` when not given); without a checkpoint
    the entry carries the model name and ``None`` elsewhere.
    """
    entry: dict[str, Any] = dict.fromkeys(FIELDS)
    entry.update(model=model, name=model, val_accuracy="")
    if checkpoint is None:
        return entry
    if data is None:
        from model_eval.nets.checkpoint import read_checkpoint

        data = read_checkpoint(checkpoint)
    config = data.get("config") or {}
    history = list(data.get("history") or [])
    last: dict[int, dict[str, Any]] = {}  # each member's last history row
    for h in history:
        last[int(h.get("member", 0))] = h
    val = [float(h["val_accuracy"]) for h in last.values() if h.get("val_accuracy") is not None]
    entry.update(
        name=data.get("name"),
        arch=data.get("arch"),
        members=len(data.get("members") or []),
        source=data.get("source"),
        seed=config.get("seed"),
        epochs_run=max((int(h.get("epoch", 0)) for h in history), default=0),
        epochs_planned=config.get("epochs"),
        val_accuracy=", ".join(f"{v:.4f}" for v in val),
        torch=data.get("torch_version"),
        checkpoint=str(checkpoint),
        sha256=sha256_file(checkpoint),
        training_config=json.dumps(
            {k: v for k, v in config.items() if isinstance(v, int | float | str | bool) or v is None},
            sort_keys=True,
        ),
    )
    return entry


def write_sidecar(predictions_csv: str | Path, entries: Sequence[dict[str, Any]]) -> Path:
    """Write ``X.networks.json`` beside ``X.csv``; returns its path."""
    path = sidecar_path(predictions_csv)
    doc = {"schema": SCHEMA, "networks": [{k: e.get(k) for k in FIELDS} for e in entries]}
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path
