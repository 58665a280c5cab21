"""Checkpoints: a save/load round trip predicts identically; ensembles average softmax."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from model_eval.nets.checkpoint import (
    CheckpointError,
    Classifier,
    build_members,
    load_checkpoint,
    save_checkpoint,
)
from model_eval.nets.registry import Preprocessing

CLASSES = [{"id": i, "name": f"c{i}"} for i in range(6)]


def _members(n, seed=0):
    torch.manual_seed(seed)
    members = build_members("mvgg5_bn", n, num_classes=6, in_channels=3, input_size=32)
    for m in members:  # move BatchNorm statistics away from their defaults so they must round-trip
        m.train()
        with torch.no_grad():
            m(torch.rand(8, 3, 32, 32))
    return members


def test_round_trip_gives_identical_predictions(tmp_path):
    pre = Preprocessing(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    members = _members(1)
    before = Classifier(members, pre).eval()
    path = save_checkpoint(
        tmp_path / "m.pt",
        arch="mvgg5_bn",
        name="mvgg5-test",
        members=members,
        num_classes=6,
        in_channels=3,
        preprocessing=pre,
        classes=CLASSES,
        config={"seed": 0},
        source="synthetic",
    )
    loaded = load_checkpoint(path)
    x = torch.rand(5, 3, 40, 40)  # not the input size: the resize is part of the classifier
    with torch.no_grad():
        assert torch.equal(before(x), loaded.classifier(x))
    assert loaded.name == "mvgg5-test"
    assert loaded.classes == CLASSES
    assert loaded.data["config"] == {"seed": 0}


def test_ensemble_output_is_log_of_mean_softmax():
    pre = Preprocessing(32, (0.5,) * 3, (0.5,) * 3)
    members = [m.eval() for m in _members(3, seed=2)]
    ens = Classifier(members, pre).eval()
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        # reference: each member on the normalised input, softmax averaged by hand
        manual = sum(F.softmax(m((x - 0.5) / 0.5), dim=1) for m in members) / 3
        assert torch.allclose(F.softmax(ens(x), dim=1), manual, atol=1e-6)


def test_bad_checkpoint_files_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a model_eval checkpoint"):
        load_checkpoint(junk)
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a model_eval checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
