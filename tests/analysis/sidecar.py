"""Test stand-in for model_eval's side of the predictions contract: X.csv -> X.networks.json.

model_eval writes this record whenever it writes predictions; until it does in every branch, the tests
that run model_eval write it here from the checkpoint, with the fields the record holds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from analysis.inputs.provenance import networks_sidecar
from model_eval.checkpoint import read_checkpoint


def checkpoint_summary(path: Path) -> dict[str, object]:
    """One network's record: how it was trained and how well it validated (model_eval's checkpoint)."""
    row: dict[str, object] = {}
    try:
        data = read_checkpoint(path)
    except Exception as exc:  # a foreign file is reported, not fatal
        row["note"] = f"not readable as a model_eval checkpoint ({type(exc).__name__}: {exc})"
        return {"checkpoint": str(path), **row}
    config = data.get("config") or {}
    history = list(data.get("history") or [])
    last: dict[int, dict[str, Any]] = {}  # each member's last history row
    for h in history:
        last[int(h.get("member", 0))] = h
    val = [float(h["val_accuracy"]) for h in last.values() if h.get("val_accuracy") is not None]
    row.update(
        {
            "name": data.get("name"),
            "arch": data.get("arch"),
            "members": len(data.get("members") or []),
            "source": data.get("source"),
            "seed": config.get("seed"),
            "epochs_run": max((int(h.get("epoch", 0)) for h in history), default=0),
            "epochs_planned": config.get("epochs"),
            "val_accuracy": ", ".join(f"{v:.4f}" for v in val) if val else "",
            "torch": data.get("torch_version"),
            "checkpoint": str(path),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "training_config": json.dumps(
                {k: v for k, v in config.items() if isinstance(v, int | float | str | bool) or v is None},
                sort_keys=True,
            ),
        }
    )
    return row


def write_networks_sidecar(predictions: Path, checkpoints: dict[str, Path]) -> Path:
    """The record beside ``predictions``: one entry per (model name in the CSV, its checkpoint)."""
    networks = [{"model": model, **checkpoint_summary(path)} for model, path in checkpoints.items()]
    path = networks_sidecar(predictions)
    path.write_text(json.dumps({"schema": 1, "networks": networks}, indent=1), encoding="utf-8")
    return path
