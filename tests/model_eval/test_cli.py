"""CLI: train -> predict round trip on a tiny budget, FRI export, and one-line user errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import stimuli
from model_eval import predict_stimulus_set
from model_eval.cli import main
from model_eval.nets.checkpoint import save_checkpoint
from model_eval.nets.registry import Preprocessing
from model_eval.predictions.predict import PREDICTION_COLUMNS
from tests.model_eval.fake_nets import save_fake_checkpoint

N_CLASSES = 43


def _stimulus_set(out, n_classes: int | None = None, n_per_class: int = 1):
    """A small regular + negative set written through stimuli's public writer."""
    src = stimuli.get_source("synthetic", split="test", n_per_class=n_per_class, seed=3)
    classes = list(src.classes) if n_classes is None else list(src.classes)[:n_classes]
    keep = [i for i in range(len(src)) if int(src.labels[i]) < len(classes)]
    images = src.images(keep)
    rows, imgs = [], []
    for i, img in zip(keep, images, strict=True):
        label = int(src.labels[i])
        for cond, im in (("regular", img), ("negative", 1.0 - img)):
            rows.append(
                {
                    "source_id": f"s{i}",
                    "label": label,
                    "family": "regular" if cond == "regular" else "negative",
                    "condition": cond,
                    "catch": False,
                }
            )
            imgs.append(im)
    legend = {c.id: src.legend_image(c.id) for c in classes}
    return stimuli.write_stimulus_set(
        out, rows, imgs, classes, legend, name="t", seed=1, source="synthetic", progress=False
    )


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    rc = main(
        [
            "train",
            "--arch",
            "mvgg5",
            "--out",
            str(out),
            "--n-per-class",
            "3",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--tag",
            "tiny",
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    return out


def test_train_then_predict_round_trip(tiny_checkpoint, tmp_path, capsys):
    set_dir = _stimulus_set(tmp_path / "set")
    out = tmp_path / "pred.csv"
    capsys.readouterr()
    rc = main(
        [
            "predict",
            "--model",
            str(tiny_checkpoint),
            str(tiny_checkpoint),
            "--name",
            "a",
            "b",
            "--stimuli",
            str(set_dir),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "negative" in printed and "regular" in printed  # the accuracy table
    # one image per class in each condition: chance = 43 * (1/43)^2 = 1/43 = 0.023
    assert "chance (imbalance-aware)" in printed and "0.023" in printed
    df = pd.read_csv(out)
    assert tuple(df.columns) == PREDICTION_COLUMNS
    manifest = stimuli.load_stimulus_set(set_dir).manifest
    assert len(df) == 2 * len(manifest)
    assert set(df["model"]) == {"a", "b"}
    # both names are the same network: identical answers; confidences are probabilities
    a, b = df[df.model == "a"].reset_index(drop=True), df[df.model == "b"].reset_index(drop=True)
    assert (a["response"] == b["response"]).all()
    assert ((df["confidence"] > 0) & (df["confidence"] <= 1)).all()
    assert (df["confidence"] >= df["prob_true"] - 1e-9).all()
    assert (df["response"] == df["top1"]).all()
    # the public function gives the same frame, with the checkpoint's stable name
    api = predict_stimulus_set([tiny_checkpoint], set_dir, progress=False)
    assert set(api["model"]) == {"mvgg5-tiny"}
    assert np.array_equal(api["response"].to_numpy(), a["response"].to_numpy())


def test_resume_of_a_finished_run_keeps_the_checkpoint(tiny_checkpoint, tmp_path):
    import shutil

    import torch

    copy = tmp_path / "copy.pt"
    shutil.copy(tiny_checkpoint, copy)
    before = torch.load(copy, weights_only=True)["members"][0]
    assert (
        main(
            [
                "train",
                "--arch",
                "mvgg5",
                "--out",
                str(copy),
                "--n-per-class",
                "3",
                "--epochs",
                "1",
                "--batch-size",
                "32",
                "--tag",
                "tiny",
                "--no-progress",
                "--resume",
            ]
        )
        == 0
    )
    after = torch.load(copy, weights_only=True)["members"][0]
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_unknown_model_name_is_one_line_on_stderr(tmp_path, capsys):
    rc = main(["train", "--arch", "nope", "--out", str(tmp_path / "x.pt"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc != 0
    assert err.count("\n") == 1 and "unknown model 'nope'" in err


def test_checkpoint_for_another_class_count_is_refused(tiny_checkpoint, tmp_path, capsys):
    set_dir = _stimulus_set(tmp_path / "five", n_classes=5)
    rc = main(
        [
            "predict",
            "--model",
            str(tiny_checkpoint),
            "--stimuli",
            str(set_dir),
            "--out",
            str(tmp_path / "p.csv"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert rc != 0 and err.count("\n") == 1
    assert "43 classes" in err and "has 5" in err
    assert not (tmp_path / "p.csv").exists()


def test_invalid_stimulus_set_is_refused(tiny_checkpoint, tmp_path, capsys):
    set_dir = _stimulus_set(tmp_path / "bad", n_classes=3)
    manifest = set_dir / "manifest.csv"
    manifest.write_text(manifest.read_text().replace("regular", "regulax", 1))  # breaks the content hash
    assert stimuli.validate_stimulus_set(set_dir)  # the set is really invalid
    rc = main(
        [
            "predict",
            "--model",
            str(tiny_checkpoint),
            "--stimuli",
            str(set_dir),
            "--out",
            str(tmp_path / "p.csv"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert rc != 0 and err.count("\n") == 1 and "invalid" in err
    assert not (tmp_path / "p.csv").exists()


class _Hashing(torch.nn.Module):
    """Answers class floor(997 * mean(crop)) mod N: correctness changes often between 1-px crops."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.n = num_classes
        self.scale = torch.nn.Parameter(torch.tensor(997.0), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = torch.floor(x.mean(dim=(1, 2, 3)) * self.scale).long() % self.n
        return torch.nn.functional.one_hot(k, self.n).float() * 10


@pytest.fixture(scope="module")
def hashing_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("hash") / "hash.pt"
    return save_fake_checkpoint(path, "_test_hashing", _Hashing, name="hashing", num_classes=N_CLASSES)


def test_fri_writes_maps_and_exports_a_valid_stimulus_set(hashing_checkpoint, tmp_path, capsys):
    out, export = tmp_path / "fri", tmp_path / "fri_set"
    rc = main(
        [
            "fri",
            "--model",
            str(hashing_checkpoint),
            "--n-images",
            "2",
            "--image-size",
            "32",
            "--ratios",
            "0.7",
            "0.8",
            "--out",
            str(out),
            "--export",
            str(export),
            "--no-progress",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    assert "loose_shift" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("fri_maps_*")) == [
        "fri_maps_000.npz",
        "fri_maps_000.png",
        "fri_maps_001.npz",
        "fri_maps_001.png",
    ]
    maps = np.load(out / "fri_maps_000.npz")
    side = int(maps["sides"][0])
    assert maps[f"s{side}_correct"].shape == (32 - side + 1, 32 - side + 1)
    assert stimuli.validate_stimulus_set(export) == []
    loaded = stimuli.load_stimulus_set(export)
    m = loaded.manifest
    assert set(m["family"]) == {"fri"} and set(m["condition"]) == {"fri", "fri_partner"}
    assert (m.groupby("pair_id").size() == 2).all()
    assert set(m["model"]) == {"hashing"}
    # every exported pair really is a pair the model answers differently (one right, one wrong)
    pred = predict_stimulus_set([hashing_checkpoint], export, progress=False).merge(m, on="stimulus_id")
    pred["correct"] = pred["response"] == pred["label"]
    assert (pred.groupby("pair_id")["correct"].nunique() == 2).all()


@pytest.mark.parametrize("command", ["models", "train", "predict", "fri", "noise", "min-noise"])
def test_every_subcommand_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert "Usage:" in capsys.readouterr().out


def test_interrupted_run_resumes_to_completion(tmp_path):
    import torch

    out = tmp_path / "r.pt"
    args = [
        "train",
        "--arch",
        "mvgg5",
        "--out",
        str(out),
        "--n-per-class",
        "2",
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--no-progress",
    ]
    assert main([*args, "--max-minutes", "0.000001"]) == 3  # the budget stops it after one step: not done
    first = torch.load(out, weights_only=True)
    assert first["history"] == [] and first["train_state"]["stopped"] == "time budget"
    assert (first["train_state"]["epoch"], first["train_state"]["step"]) == (0, 1)
    assert not first["train_state"]["done"] and first["train_state"]["optimizer"] is not None
    assert main([*args, "--resume"]) == 0
    done = torch.load(out, weights_only=True)
    assert [h["epoch"] for h in done["history"]] == [1, 2]
    assert done["train_state"]["done"]


def test_noise_and_min_noise_commands(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "noise"
    assert (
        main(
            [
                "noise",
                "--model",
                str(tiny_checkpoint),
                "--n-images",
                "43",
                "--sigmas",
                "0",
                "20",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    summary = pd.read_csv(out / "noise_summary.csv")
    assert list(summary["sigma"]) == [0.0, 20.0] and (summary["n"] == 43).all()
    assert summary["accuracy"].between(0, 1).all() and (out / "noise.png").stat().st_size > 0
    per_class = pd.read_csv(out / "noise_per_class.csv")
    assert len(per_class) == 2 * N_CLASSES and (per_class["support"] == 1).all()
    csv = tmp_path / "mn.csv"
    assert (
        main(
            [
                "min-noise",
                "--model",
                str(tiny_checkpoint),
                "--n-images",
                "1",
                "--population",
                "10",
                "--max-iterations",
                "5",
                "--out",
                str(csv),
                "--no-progress",
            ]
        )
        == 0
    )
    res = pd.read_csv(csv)
    row = res.iloc[0]  # an image the tiny network misclassifies is skipped (Aghdam et al.), else searched
    assert len(res) == 1 and (row["skipped"] or (row["norm"] >= 0 and 1 <= row["iterations"] <= 5))


def test_gray_checkpoint_on_a_colour_source_is_one_clear_line(tmp_path, capsys):
    """fri/noise feed source images straight in: a 1-channel network on RGB signs is refused up front."""
    from model_eval.nets.checkpoint import build_members

    src = stimuli.get_source("synthetic", split="test", n_per_class=1, seed=3)
    path = tmp_path / "gray.pt"
    save_checkpoint(
        path,
        arch="lenet5",
        name="gray",
        num_classes=N_CLASSES,
        in_channels=1,
        members=build_members("lenet5", 1, num_classes=N_CLASSES, in_channels=1, input_size=32),
        preprocessing=Preprocessing(32, (0.5,), (0.5,)),
        classes=[{"id": c.id, "name": c.name} for c in src.classes],
        config={},
        source="mnist",
    )
    for cmd in (["fri", "--out", str(tmp_path / "fri")], ["noise", "--out", str(tmp_path / "noise")]):
        rc = main([cmd[0], "--model", str(path), "--n-images", "2", "--no-progress", *cmd[1:]])
        err = capsys.readouterr().err
        assert rc != 0 and err.count("\n") == 1, err
        assert "1-channel" in err and "3-channel" in err
        assert not (tmp_path / cmd[0]).exists()
