"""FRI export as Srivastava et al. 2019 ran the study: pair identity, orientation, sampling, top-5, groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import stimuli
from model_eval import predict_stimulus_set
from model_eval.cli import main
from model_eval.fri.maps import classify_crops
from tests.model_eval.fake_nets import save_fake_checkpoint
from tests.model_eval.test_fri import reference_crop

N_CLASSES = 43


class _Scored(torch.nn.Module):
    """Distinct pseudo-random class scores from the crop's mean: correctness flips often between 1-px crops.

    Every class gets its own score (no ties), so top-5 correctness is well defined. The input is snapped to
    the 8-bit grid first, so a crop scores the same before and after it is written as a PNG.
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.n = num_classes
        self.scale = torch.nn.Parameter(torch.tensor(997.0), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = torch.round(x * 255.0).mean(dim=(1, 2, 3)).view(-1, 1) / 255.0
        c = torch.arange(1, self.n + 1, dtype=torch.float32, device=x.device).view(1, -1)
        return torch.frac(m * self.scale * c * 0.618034) * 10.0


@pytest.fixture(scope="module")
def scored_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("scored") / "scored.pt"
    return save_fake_checkpoint(path, "_test_scored", _Scored, name="scored", num_classes=N_CLASSES)


def _export(ckpt, tmp_path, *extra: str, n_images: int = 4, name: str = "set") -> pd.DataFrame:
    export = tmp_path / name
    rc = main(
        [
            "fri",
            "--model",
            str(ckpt),
            "--n-images",
            str(n_images),
            "--image-size",
            "24",
            "--ratios",
            "0.7",
            "0.8",
            "--out",
            str(tmp_path / f"{name}_maps"),
            "--export",
            str(export),
            "--no-progress",
            *extra,
        ]
    )
    assert rc == 0
    assert stimuli.validate_stimulus_set(export) == []
    return stimuli.load_stimulus_set(export).manifest


def _scored(ckpt, export, manifest: pd.DataFrame, topk: int = 1) -> pd.DataFrame:
    pred = predict_stimulus_set([ckpt], export, progress=False).merge(manifest, on="stimulus_id")
    tops = pred[[f"top{k}" for k in range(1, topk + 1)]].to_numpy(dtype=float)
    pred["correct"] = (tops == pred["label"].to_numpy()[:, None]).any(axis=1)
    return pred


@pytest.mark.parametrize("kind", ["shift", "shrink"])
@pytest.mark.parametrize("strictness", ["loose", "strict"])
def test_fri_member_is_right_and_partner_wrong(scored_checkpoint, tmp_path, kind, strictness):
    m = _export(
        scored_checkpoint,
        tmp_path,
        "--kind",
        kind,
        "--strictness",
        strictness,
        "--pairs-per-kind",
        "3",
        n_images=6,
    )
    assert set(m["condition"]) == {"fri", "fri_partner"} and set(m["fri_kind"]) == {kind}
    pred = _scored(scored_checkpoint, tmp_path / "set", m)
    by = pred.pivot_table(index="pair_id", columns="condition", values="correct", aggfunc="first")
    assert len(by) >= 2
    assert by["fri"].all() and not by["fri_partner"].any()
    # one identity per pair: both members share a source_id no other pair uses
    ids = m.groupby("pair_id")["source_id"].agg(["nunique", "first"])
    assert (ids["nunique"] == 1).all() and ids["first"].is_unique
    assert (m.groupby(["source_id", "condition"]).size() == 1).all()
    # geometry: the partner is the 1-px shift (same side) or one of the 9 inner crops (side - 2)
    for _, g in m.groupby("pair_id"):
        f, p = g.set_index("condition").loc["fri"], g.set_index("condition").loc["fri_partner"]
        if kind == "shift":
            assert int(p["side"]) == int(f["side"]) == int(f["region_size"])
            assert abs(int(p["x"]) - int(f["x"])) + abs(int(p["y"]) - int(f["y"])) == 1
        else:
            assert int(p["side"]) == int(f["side"]) - 2
            assert 0 <= int(p["x"]) - int(f["x"]) <= 2 and 0 <= int(p["y"]) - int(f["y"]) <= 2


def test_strict_pairs_are_strict_in_the_saved_maps(scored_checkpoint, tmp_path):
    m = _export(scored_checkpoint, tmp_path, "--kind", "shrink", "--strictness", "strict", n_images=6)
    fri = m[m["condition"] == "fri"]
    image_of = pd.read_csv(tmp_path / "set_maps" / "fri_fractions.csv").groupby("source_id")["image"].first()
    assert len(fri) >= 1
    for r in fri.itertuples():
        n = int(image_of[str(r.source_id).split("#")[0]])
        mp = np.load(tmp_path / "set_maps" / f"fri_maps_{n:03d}.npz")
        assert mp[f"s{r.region_size}_strict_shrink"][r.y, r.x] and mp[f"s{r.region_size}_correct"][r.y, r.x]


def test_sample_draws_n_pairs_reproducibly(scored_checkpoint, tmp_path):
    a = _export(
        scored_checkpoint, tmp_path, "--sample", "5", "--kind", "shrink", "--seed", "3", n_images=8, name="a"
    )
    b = _export(
        scored_checkpoint, tmp_path, "--sample", "5", "--kind", "shrink", "--seed", "3", n_images=8, name="b"
    )
    assert a["pair_id"].nunique() == 5 and len(a) == 10 and set(a["fri_kind"]) == {"shrink"}
    key = ["source_id", "condition", "x", "y", "side"]
    pd.testing.assert_frame_equal(
        a.sort_values(key)[key].reset_index(drop=True), b.sort_values(key)[key].reset_index(drop=True)
    )
    # the pairs come from several images, not the first image's candidates
    assert a["source_id"].str.split("#").str[0].nunique() > 1


def test_srivastava_preset_asks_for_40_shrink_pairs(scored_checkpoint, tmp_path, capsys):
    m = _export(scored_checkpoint, tmp_path, "--preset", "srivastava", n_images=3)
    assert set(m["fri_kind"]) == {"shrink"}
    n = m["pair_id"].nunique()
    err = capsys.readouterr().err
    assert n == 40 or f"only {n} of the 40 pairs" in err
    # the paper's people answered among 10 ImageNet supercategories; a GTSRB set among its superclasses
    meta = stimuli.load_stimulus_set(tmp_path / "set").meta
    assert meta["label_groups"]["name"] == "gtsrb_superclasses" and len(meta["label_groups"]["groups"]) == 6
    assert (tmp_path / "set_maps" / "fri_rates.png").stat().st_size > 0


def test_top5_correctness_maps_equal_a_reference(scored_checkpoint):
    from model_eval.nets.checkpoint import load_checkpoint

    model = load_checkpoint(scored_checkpoint).classifier
    image = torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(5))
    maps = classify_crops(model, image, label=7, side=12, topk=5, batch_size=13)
    ref = np.zeros_like(maps.correct)
    with torch.no_grad():
        for y in range(ref.shape[0]):
            for x in range(ref.shape[1]):
                crop = reference_crop(image, x, y, 12, 16)[None]
                ref[y, x] = 7 in model(crop)[0].topk(5).indices.tolist()
    np.testing.assert_array_equal(maps.correct, ref)
    assert 0 < ref.mean() < 1


def test_top5_export_orients_pairs_by_top5(scored_checkpoint, tmp_path):
    m = _export(scored_checkpoint, tmp_path, "--topk", "5", "--kind", "shift", n_images=6)
    pred = _scored(scored_checkpoint, tmp_path / "set", m, topk=5)
    by = pred.pivot_table(index="pair_id", columns="condition", values="correct", aggfunc="first")
    assert len(by) >= 1 and by["fri"].all() and not by["fri_partner"].any()


def test_groups_are_declared_in_the_exported_set(scored_checkpoint, tmp_path):
    _export(scored_checkpoint, tmp_path, "--groups", "gtsrb_superclasses", "--sample", "3")
    meta = stimuli.load_stimulus_set(tmp_path / "set").meta
    groups = meta["label_groups"]
    assert groups["name"] == "gtsrb_superclasses" and len(groups["groups"]) == 6
    assert sorted(c for g in groups["groups"] for c in g["classes"]) == list(range(43))


def test_bad_fri_options_are_one_line_before_any_work(scored_checkpoint, tmp_path, capsys):
    out = tmp_path / "maps"
    for extra in (["--sample", "0", "--export", str(tmp_path / "x")], ["--groups", "gtsrb_superclasses"]):
        rc = main(["fri", "--model", str(scored_checkpoint), "--out", str(out), "--no-progress", *extra])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and err.startswith("error:")
    assert not out.exists()


def test_predictions_score_models_on_the_declared_groups(scored_checkpoint, tmp_path):
    from model_eval.nets.checkpoint import load_checkpoint

    m = _export(scored_checkpoint, tmp_path, "--groups", "gtsrb_superclasses", "--sample", "4")
    set_ = stimuli.load_stimulus_set(tmp_path / "set")
    group_of = stimuli.class_to_group(set_.meta["label_groups"])
    pred = predict_stimulus_set([scored_checkpoint], tmp_path / "set", progress=False).merge(
        m, on="stimulus_id"
    )
    model = load_checkpoint(scored_checkpoint).classifier
    for r in pred.itertuples():
        x = torch.from_numpy(set_.image(r.stimulus_id)).permute(2, 0, 1)[None]
        with torch.no_grad():
            probs = torch.softmax(model(x), 1)[0].double()
        summed = {
            g: float(sum(probs[c] for c, gg in group_of.items() if gg == g)) for g in set(group_of.values())
        }
        assert r.group_top1 == group_of[int(probs.argmax())] == group_of[int(r.response)]
        assert r.group_summed == max(summed, key=summed.get)
        assert r.prob_true_group == pytest.approx(summed[group_of[int(r.label)]], abs=1e-5)


def test_a_sample_over_both_kinds_never_repeats_an_fri_crop(scored_checkpoint, tmp_path):
    m = _export(scored_checkpoint, tmp_path, "--sample", "8", "--seed", "5", n_images=6)
    fri = m[m["condition"] == "fri"].assign(image=lambda d: d["source_id"].str.split("#").str[0])
    assert len(fri) >= 4 and not fri.duplicated(["image", "x", "y", "side"]).any()
    assert set(m["fri_kind"]) <= {"shift", "shrink"}
