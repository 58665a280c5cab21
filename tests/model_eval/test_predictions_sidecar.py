"""The predictions' provenance sidecar: ``X.networks.json`` beside ``X.csv``, one entry per model."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import torch

import model_eval
from model_eval.cli import main
from tests.model_eval.test_cli import _stimulus_set

FIELDS = [
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
]


def test_predict_writes_the_networks_sidecar(tmp_path, capsys):
    cfg = model_eval.train_config(
        arch="mvgg5", n_per_class=2, epochs=1, batch_size=16, ensemble=2, seed=4, device="cpu", progress=False
    )
    ckpt = model_eval.train(cfg, tmp_path / "two.pt").checkpoint
    set_dir = _stimulus_set(tmp_path / "set")
    out = tmp_path / "preds.csv"
    argv = ["predict", "--model", str(ckpt), str(ckpt), "--name", "first", "second"]
    assert (
        main([*argv, "--stimuli", str(set_dir), "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    )
    assert f"wrote {out}" in capsys.readouterr().out

    doc = json.loads((tmp_path / "preds.networks.json").read_text())
    assert doc["schema"] == 1
    assert set(pd.read_csv(out)["model"]) == {e["model"] for e in doc["networks"]} == {"first", "second"}
    # reference values read straight from the file, without model_eval
    raw = torch.load(ckpt, weights_only=True)
    finals = {h["member"]: h["val_accuracy"] for h in raw["history"]}  # the last row per member wins
    expected_val = ", ".join(f"{finals[k]:.4f}" for k in sorted(finals))
    digest = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    for entry in doc["networks"]:
        assert list(entry) == FIELDS
        assert entry["name"] == "mvgg5" and entry["arch"] == "mvgg5" and entry["source"] == "synthetic"
        assert (entry["members"], entry["seed"], entry["epochs_run"], entry["epochs_planned"]) == (2, 4, 1, 1)
        assert entry["val_accuracy"] == expected_val and expected_val.count(", ") == 1
        assert entry["torch"] == torch.__version__
        assert entry["checkpoint"] == str(ckpt) and entry["sha256"] == digest
        config = json.loads(entry["training_config"])
        assert config["arch"] == "mvgg5" and config["ensemble"] == 2 and "noise_sigmas" not in config


def test_a_network_without_checkpoint_file_gets_what_is_known():
    from model_eval.predictions import network_entry

    entry = network_entry("resnet50-imagenet", None)
    assert entry["model"] == entry["name"] == "resnet50-imagenet"
    assert entry["val_accuracy"] == "" and entry["sha256"] is None and entry["checkpoint"] is None
