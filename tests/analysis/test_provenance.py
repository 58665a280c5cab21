"""Provenance: each network's training summary from the predictions' sidecar, hashes, versions, command."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from analysis.inputs.load import redact_url
from analysis.inputs.provenance import collect_provenance
from model_eval.nets.checkpoint import CheckpointError, save_checkpoint
from model_eval.nets.registry import Preprocessing
from model_eval.predictions.provenance import network_entry, write_sidecar


def _checkpoint(path: Path) -> Path:
    history = [
        {"member": 0, "epoch": 1, "loss": 2.0, "val_accuracy": 0.5},
        {"member": 0, "epoch": 2, "loss": 1.0, "val_accuracy": 0.75},
        {"member": 1, "epoch": 2, "loss": 1.1, "val_accuracy": 0.7},
    ]
    return save_checkpoint(
        path,
        arch="lenet5",
        name="lenet5-seed3",
        members=[torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)],
        num_classes=2,
        in_channels=1,
        preprocessing=Preprocessing(),
        classes=[{"id": 0, "name": "a"}, {"id": 1, "name": "b"}],
        config={"seed": 3, "epochs": 2, "lr": 0.003},
        source="synthetic",
        history=history,
    )


def test_checkpoint_training_summary(tmp_path: Path) -> None:
    path = _checkpoint(tmp_path / "m.pt")
    row = network_entry("lenet5-seed3", path)  # what model_eval writes beside its predictions
    assert (row["name"], row["arch"], row["members"], row["seed"]) == ("lenet5-seed3", "lenet5", 2, 3)
    assert row["epochs_run"] == 2 and row["epochs_planned"] == 2
    assert row["val_accuracy"] == "0.7500, 0.7000"  # the last epoch of each member
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):  # model_eval refuses a foreign file rather than describe it
        network_entry("bad", bad)


def test_collect_provenance(tmp_path: Path) -> None:
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "stimulus_set.json").write_text(json.dumps({"name": "x", "content_hash": "abc123"}))
    (tmp_path / "set" / "manifest.csv").write_text("stimulus_id\n1\n")
    (tmp_path / "r.csv").write_text("participant\n")
    url = "postgresql+psycopg://user:hunter2@db/study"
    (tmp_path / "p.csv").write_text("model,stimulus_id\n")
    write_sidecar(tmp_path / "p.csv", [network_entry("lenet5-seed3", _checkpoint(tmp_path / "m.pt"))])
    prov = collect_provenance(
        tmp_path / "set",
        [
            ("responses", str(tmp_path / "r.csv")),
            ("responses", redact_url(url)),
            ("predictions", str(tmp_path / "p.csv")),
        ],
        ["--responses", redact_url(url), "--out", "o u t"],
    )
    stim = dict(zip(prov.stimulus_set["quantity"], prov.stimulus_set["value"], strict=True))
    assert stim["content hash (stimulus_set.json)"] == "abc123"
    assert stim["manifest.csv sha256"] == hashlib.sha256(b"stimulus_id\n1\n").hexdigest()
    assert prov.inputs["sha256"].iloc[0] == hashlib.sha256(b"participant\n").hexdigest()
    assert prov.inputs["sha256"].iloc[1] == ""  # a URL has no file hash
    assert "hunter2" not in prov.command and "user:***@db" in prov.command and "'o u t'" in prov.command
    versions = dict(zip(prov.software["package"], prov.software["version"], strict=True))
    assert versions["numpy"] == __import__("numpy").__version__
    assert prov.checkpoints.iloc[0]["val_accuracy"] == "0.7500, 0.7000"
