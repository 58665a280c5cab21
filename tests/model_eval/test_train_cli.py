"""``model_eval train`` arguments: every mistake is one line, before any image is rendered."""

from __future__ import annotations

import pytest

import stimuli
from model_eval.cli import main


@pytest.fixture
def no_rendering(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("images were rendered before the arguments were checked")

    monkeypatch.setattr(stimuli, "get_source", refuse)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--arch", "resnet18", "--weights", "nosuch.pth"], "weights file not found: nosuch.pth"),
        (["--arch", "mvgg8", "--weights", "nosuch.pth"], "--weights is for torchvision"),
        (["--arch", "nope"], "unknown model 'nope'"),
        (["--init", "nosuch.pt"], "checkpoint not found"),
        (["--n-negatives", "5"], "n_negatives"),
        (["--target-accuracy", "2"], "target_accuracy"),
        (["--max-minutes", "0"], "max_minutes"),
        (["--epochs", "-1"], "epochs"),
    ],
)
def test_bad_train_arguments_fail_before_rendering(no_rendering, tmp_path, capsys, extra, message):
    assert main(["train", "--out", str(tmp_path / "m.pt"), "--no-progress", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "m.pt").exists()


def test_presets_fill_what_the_user_left_out():
    from model_eval.training import train_config

    dnn = train_config(arch="hosseini_dnn")
    assert (dnn.size, dnn.gray, dnn.equalize, dnn.val_fraction) == (28, True, True, 0.2)
    mvgg = train_config(batch_size=8)
    assert mvgg.arch == "mvgg8" and mvgg.batch_size == 8 and mvgg.max_minutes is None
