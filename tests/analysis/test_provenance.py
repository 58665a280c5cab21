"""Provenance: the checkpoint's training summary as model_eval stores it, hashes, versions, command."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from analysis.load import redact_url
from analysis.provenance import checkpoint_summary, collect_provenance
from model_eval.nets.checkpoint import save_checkpoint
from model_eval.nets.registry import Preprocessing


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
    row = checkpoint_summary(path)
    assert (row["name"], row["arch"], row["members"], row["seed"]) == ("lenet5-seed3", "lenet5", 2, 3)
    assert row["epochs_run"] == 2 and row["epochs_planned"] == 2
    assert row["val_accuracy"] == "0.7500, 0.7000"  # the last epoch of each member
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert "not readable" in checkpoint_summary(bad)["note"]


def test_collect_provenance(tmp_path: Path) -> None:
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "stimulus_set.json").write_text(json.dumps({"name": "x", "content_hash": "abc123"}))
    (tmp_path / "set" / "manifest.csv").write_text("stimulus_id\n1\n")
    (tmp_path / "r.csv").write_text("participant\n")
    url = "postgresql+psycopg://user:hunter2@db/study"
    prov = collect_provenance(
        tmp_path / "set",
        [("responses", str(tmp_path / "r.csv")), ("responses", redact_url(url))],
        [_checkpoint(tmp_path / "m.pt")],
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
