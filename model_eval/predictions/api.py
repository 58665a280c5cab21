"""The typed entry point for predictions: every checkpoint on every stimulus, written with its sidecar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model_eval.metrics import chance_level
from model_eval.nets.checkpoint import read_checkpoint
from model_eval.predictions.predict import accuracy_table, load_valid_stimulus_set, predict_on_set
from model_eval.predictions.provenance import network_entry, write_sidecar
from model_eval.runtime import distributed


@dataclass(frozen=True)
class PredictResult:
    """Predictions in the contract's columns, accuracy per model (rows) x condition with an
    imbalance-aware chance row, and the files written (``None`` on a torchrun rank other than 0)."""

    predictions: pd.DataFrame
    accuracy: pd.DataFrame
    csv: Path | None
    sidecar: Path | None


def predict(
    checkpoints: Sequence[str | Path],
    stimuli: str | Path,
    *,
    out: str | Path | None = None,
    names: Sequence[str] | None = None,
    batch_size: int = 256,
    device: str | None = None,
    progress: bool = True,
) -> PredictResult:
    """Predict every stimulus of the set ``stimuli`` with each checkpoint; with ``out``, write the
    predictions CSV there and its ``.networks.json`` sidecar beside it."""
    distributed.init_if_needed(device)
    set_ = load_valid_stimulus_set(stimuli)
    df = predict_on_set(
        checkpoints, set_, names=names, device=device, batch_size=batch_size, progress=progress
    )
    table = accuracy_table(df, set_.manifest)
    m = set_.manifest[~set_.manifest["catch"].astype(str).str.lower().isin({"true", "1"})]
    table.loc["chance (imbalance-aware)"] = m.groupby("condition")["label"].apply(
        lambda labels: chance_level(labels.astype(int))
    )
    if out is None or distributed.rank_and_world()[0] != 0:
        return PredictResult(df, table, None, None)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    entries = []
    for i, path in enumerate(checkpoints):
        data = read_checkpoint(path)
        model = names[i] if names is not None else str(data["name"])
        entries.append(network_entry(model, path, data))
    return PredictResult(df, table, out, write_sidecar(out, entries))
