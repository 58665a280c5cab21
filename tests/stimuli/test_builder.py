"""Stimulus-set builder and CLI: exact negatives on disk, stratification, catch trials, determinism.

Random ids and row order (issue 10) are tested in test_opaque_ids.py.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stimuli import load_stimulus_set, validate_stimulus_set
from stimuli.builder import AGHDAM_SIGMAS, build, n_catch, preset_config
from stimuli.cli import main
from stimuli.stimulus_set import png_chunks
from tests.stimuli.test_opaque_ids import assert_same_images


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


@pytest.fixture(scope="module")
def negative_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default `negative` preset, built once through the CLI."""
    out = tmp_path_factory.mktemp("neg") / "set"
    assert main(["build", "--preset", "negative", "--out", str(out), "--seed", "11", "--no-progress"]) == 0
    return out


def _by_source(ss, condition: str) -> dict[str, str]:
    m = ss.manifest
    sub = m[(m.condition == condition) & ~m["catch"]]
    return dict(zip(sub.source_id, sub.stimulus_id, strict=True))


def test_negative_preset_layout(negative_set: Path):
    assert validate_stimulus_set(negative_set) == []
    ss = load_stimulus_set(negative_set)
    m = ss.manifest
    main_trials = m[~m["catch"]]
    assert set(m.family) == {"negative"}
    assert sorted(main_trials.condition.unique()) == ["gray", "gray_negative", "negative", "regular"]
    # stratification: 4 distinct sources per class, every source in all 4 conditions
    per_class = main_trials.groupby("label").source_id.nunique()
    assert per_class.index.tolist() == list(range(43)) and (per_class == 4).all()
    assert (main_trials.groupby("source_id").condition.nunique() == 4).all()
    assert len(main_trials) == 43 * 4 * 4
    assert len(list((negative_set / "legend").iterdir())) == 43


def test_catch_trials_use_unused_sources(negative_set: Path):
    m = load_stimulus_set(negative_set).manifest
    catch = m[m["catch"]]
    assert len(catch) == n_catch(172, 4, 0.1) == 19  # round(0.1 * 172 / 0.9): ~10% of a participant's trials
    assert set(catch.condition) == {"regular"}
    assert set(catch.source_id).isdisjoint(set(m[~m["catch"]].source_id))
    assert catch.source_id.is_unique


def test_negatives_are_exact_on_written_files(negative_set: Path):
    ss = load_stimulus_set(negative_set)
    regular, neg = _by_source(ss, "regular"), _by_source(ss, "negative")
    gray, gneg = _by_source(ss, "gray"), _by_source(ss, "gray_negative")
    for src in regular:
        r = _pixels(ss.image_path(regular[src]))
        np.testing.assert_array_equal(_pixels(ss.image_path(neg[src])), 255 - r)
        g = _pixels(ss.image_path(gray[src]))
        np.testing.assert_array_equal(_pixels(ss.image_path(gneg[src])), 255 - g)
        # gray = BT.601 luma of the regular image, rounded to 8 bits, in 3 equal channels
        luma = np.round(r @ np.array([0.299, 0.587, 0.114]))
        assert np.abs(g[..., 0] - luma).max() <= 1
        assert (g[..., 0] == g[..., 1]).all() and (g[..., 0] == g[..., 2]).all()


def test_no_label_leaks_in_names_or_chunks(negative_set: Path):
    ss = load_stimulus_set(negative_set)
    words = {w.lower() for c in ss.classes for w in c.name.replace("(", " ").split() if len(w) > 3}
    words |= {"regular", "negative", "gray", "catch"}
    for p in (negative_set / "images").iterdir():
        assert len(p.stem) == 32 and int(p.stem, 16) >= 0
        assert not any(w in p.name.lower() for w in words)
        kinds = {k for k, _ in png_chunks(p.read_bytes())}
        assert kinds == {b"IHDR", b"IDAT", b"IEND"}  # pixels only: no text, time or other metadata chunks


def test_same_seed_gives_same_images_under_new_ids(negative_set: Path, tmp_path: Path):
    again = tmp_path / "again"
    assert main(["build", "--preset", "negative", "--out", str(again), "--seed", "11", "--no-progress"]) == 0
    assert_same_images(negative_set, again)  # and no shared stimulus or source id
    assert validate_stimulus_set(again) == []


def test_other_seed_gives_other_set(tmp_path: Path):
    a = build(preset_config("regular", n_per_class=1, seed=1), tmp_path / "a", progress=False)
    b = build(preset_config("regular", n_per_class=1, seed=2), tmp_path / "b", progress=False)
    ma, mb = load_stimulus_set(a).manifest, load_stimulus_set(b).manifest
    assert set(ma.stimulus_id).isdisjoint(mb.stimulus_id)
    assert (a / "manifest.csv").read_bytes() != (b / "manifest.csv").read_bytes()


def test_noise_preset_records_psnr_of_written_images(tmp_path: Path):
    out = build(
        preset_config("noise", n_per_class=1, seed=3, catch_fraction=0.0), tmp_path / "n", progress=False
    )
    ss = load_stimulus_set(out)
    m = ss.manifest
    assert sorted(m.sigma.unique()) == [0, *AGHDAM_SIGMAS]
    assert set(m.family) == {"noise"} and len(m) == 43 * 13
    clean = dict(
        zip(m[m.condition == "regular"].source_id, m[m.condition == "regular"].stimulus_id, strict=True)
    )
    assert m.loc[m.condition == "regular", "psnr"].isna().all()
    for row in m[m.condition != "regular"].itertuples():
        assert row.condition == f"noise_s{int(row.sigma)}"
        x = _pixels(ss.image_path(clean[row.source_id])).astype(np.float64)
        y = _pixels(ss.image_path(row.stimulus_id)).astype(np.float64)
        expected = 10 * math.log10(255**2 / np.mean((x - y) ** 2))  # PSNR definition on the 0-255 scale
        assert row.psnr == pytest.approx(expected, abs=1e-4)
    # more noise -> lower PSNR on average
    means = m[m.condition != "regular"].groupby("sigma").psnr.mean()
    assert means.is_monotonic_decreasing


def test_cli_validate_valid_and_tampered(negative_set: Path, tmp_path: Path, capsys):
    assert main(["validate", str(negative_set)]) == 0
    assert capsys.readouterr().out.strip() == "valid"

    bad = tmp_path / "bad"
    shutil.copytree(negative_set, bad)
    victim = sorted((bad / "images").iterdir())[5]
    arr = _pixels(victim).astype(np.uint8)
    arr[3, 3] = 255 - arr[3, 3]
    Image.fromarray(arr).save(victim)
    (bad / "extra.png").write_bytes(b"")
    assert main(["validate", str(bad)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert any("extra file: extra.png" in ln for ln in lines)
    (bad / "extra.png").unlink()
    assert main(["validate", str(bad)]) == 1
    assert "content hash mismatch" in capsys.readouterr().out


def test_cli_preview_writes_contact_sheet(negative_set: Path, tmp_path: Path, capsys):
    out = tmp_path / "sheet.png"
    assert main(["preview", str(negative_set), "--out", str(out), "--per-condition", "8"]) == 0
    with Image.open(out) as im:
        assert im.width > 400 and im.height > 400


def test_cli_user_errors_are_one_line(tmp_path: Path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert main(["build", "--preset", "regular", "--out", str(tmp_path / "full"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not empty" in err and len(err.strip().splitlines()) == 1
    assert (
        main(
            [
                "build",
                "--preset",
                "regular",
                "--source",
                "gtsrb",
                "--root",
                str(tmp_path / "none"),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1
    assert main(["preview", str(tmp_path / "none"), "--out", str(tmp_path / "s.png")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["build", "--preset", "nope", "--out", "x"]) == 2  # click's usage error


@pytest.mark.parametrize("cmd", ["build", "validate", "preview", "presets"])
def test_every_subcommand_has_help(cmd: str, capsys):
    assert main([cmd, "--help"]) == 0
    assert "Usage:" in capsys.readouterr().out


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="sigma"):
        preset_config("noise", sigmas=(0.0,))
    with pytest.raises(ValueError, match="catch fraction"):
        preset_config("negative", catch_fraction=1.5)
    with pytest.raises(ValueError, match="unknown conditions"):
        preset_config("negative", conditions=("sepia",))
    with pytest.raises(ValueError, match="unknown preset"):
        preset_config("fancy")


def test_build_from_gtsrb_tree_with_legend_index(tmp_path: Path, capsys):
    from tests.stimuli.test_sources import GT_HEADER, _train_class

    root = tmp_path / "GTSRB"
    for cid in (0, 14):
        _train_class(root / "Final_Training" / "Images" / f"{cid:05d}", cid, 4)
    assert GT_HEADER.startswith("Filename;")
    out = tmp_path / "set"
    argv = [
        "build",
        "--preset",
        "negative",
        "--source",
        "gtsrb",
        "--root",
        str(root),
        "--split",
        "train",
        "--n-per-class",
        "2",
        "--size",
        "16",
        "--roi-crop",
        "--legend-index",
        "14:5",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    ss = load_stimulus_set(out)
    m = ss.manifest
    assert sorted(m[~m["catch"]].label.unique()) == [0, 14] and len(m[~m["catch"]]) == 2 * 2 * 4
    assert ss.meta["source"] == "gtsrb" and ss.meta["params"]["legend_index"] == {"14": 5}
    # the legend of class 14 is source image 5 (class 14's second image, colour (140, 200, 7)) ROI-cropped
    legend = _pixels(ss.legend_path(14))
    assert legend.shape == (16, 16, 3)
    np.testing.assert_allclose(legend.reshape(-1, 3).mean(axis=0), [140, 200, 7], atol=2)
    bad = [
        "build",
        "--preset",
        "regular",
        "--source",
        "gtsrb",
        "--root",
        str(root),
        "--split",
        "train",
        "--legend-index",
        "14:0",
        "--n-per-class",
        "1",
        "--out",
        str(tmp_path / "bad"),
        "--no-progress",
    ]
    assert main(bad) == 2  # image 0 is class 0, not 14
    assert "--legend-index 14:0 does not name an image of class 14" in capsys.readouterr().err


def test_build_from_mnist_makes_gray_and_negative(tmp_path: Path):
    from tests.stimuli.test_sources import _idx

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    _idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, size=(30, 28, 28)), False)
    _idx(raw / "t10k-labels-idx1-ubyte", np.repeat(np.arange(10), 3), False)
    out = build(
        preset_config("negative", source="mnist", root=str(tmp_path), n_per_class=2, size=28),
        tmp_path / "s",
        progress=False,
    )
    ss = load_stimulus_set(out)
    assert [c.name for c in ss.classes] == [str(k) for k in range(10)]
    regular, neg = _by_source(ss, "regular"), _by_source(ss, "negative")
    for src in regular:
        np.testing.assert_array_equal(
            _pixels(ss.image_path(neg[src])), 255 - _pixels(ss.image_path(regular[src]))
        )
