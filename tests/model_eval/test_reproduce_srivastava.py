"""``reproduce srivastava`` on a tiny budget, and the ImageNet networks' weights found only on disk."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

import stimuli
from model_eval.cli import main
from model_eval.nets.pretrained import cached_weights
from tests.model_eval.fake_nets import save_fake_checkpoint
from tests.model_eval.test_fri_export import N_CLASSES, _Scored


@pytest.mark.slow
def test_reproduce_srivastava_draws_fri_rates_and_exports_the_study(tmp_path, capsys):
    out = tmp_path / "s"
    # a stand-in whose correctness flips often between neighbouring crops, so FRI pairs exist
    ckpt = save_fake_checkpoint(
        tmp_path / "scored.pt", "_test_scored", _Scored, name="scored", num_classes=N_CLASSES
    )
    argv = ["reproduce", "srivastava", "--model", str(ckpt), "--n-images", "2", "--no-progress"]
    argv += ["--device", "cpu", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    # no ImageNet weights in torchvision's cache here: each paper network is skipped with its reason
    assert "VGG-16 (vgg16) skipped" in printed and "Inception (inception_v3) skipped" in printed
    rates = pd.read_csv(out / "fri_rates.csv")
    # ours, recomputed from the per-image map fractions the fri run wrote: mean over images, in %
    per_image = pd.read_csv(out / "maps" / "stand_in" / "fri_fractions.csv")
    ref = per_image.groupby("ratio")[["loose_shrink", "strict_shift"]].mean() * 100
    got = rates.set_index("ratio")
    assert list(got.index) == [0.5, 0.6, 0.7, 0.8, 0.9] and (got["images"] == 2).all()
    pd.testing.assert_series_equal(got["loose_shrink"], ref["loose_shrink"].round(2), check_names=False)
    pd.testing.assert_series_equal(got["strict_shift"], ref["strict_shift"].round(2), check_names=False)
    assert (out / "fri_rates.png").stat().st_size > 0 and "fri_rates.png" in (out / "report.html").read_text()
    study = pd.read_csv(out / "human_study.csv").set_index("quantity")
    assert (
        study.loc["FRI pairs shown", "paper"] == "40"
        and study.loc["participants per crop group", "paper"] == "20"
    )
    exported = stimuli.load_stimulus_set(out / "human_study_set")
    assert str(exported.manifest["pair_id"].nunique()) == study.loc["FRI pairs shown", "ours"]
    assert (
        set(exported.manifest["fri_kind"]) == {"shrink"} and len(exported.meta["label_groups"]["groups"]) == 6
    )


def test_cached_weights_are_found_only_in_torchvision_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert cached_weights("inception_v3") is None
    (tmp_path / "checkpoints").mkdir()
    # torchvision's file name for Inception_V3_Weights.IMAGENET1K_V1 (its download URL's last part)
    path = tmp_path / "checkpoints" / "inception_v3_google-0cc3c7bd.pth"
    path.write_bytes(b"")
    assert cached_weights("inception_v3") == path
