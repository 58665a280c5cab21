"""Issue 24, point 1: nothing a participant receives tells an answer, even to someone who holds the
code and can rebuild sets. A set built without --seed comes from a secret seed (recorded in
stimulus_set.json, which the server never serves); --seed still reproduces a set exactly."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stimuli.builder import _prepared, build, condition_image, preset_config, source_images
from stimuli.cli import main
from stimuli.stimulus_set import png_chunks, read_png, to_uint8
from study_server.images import clean_png

DEFAULT = {"preset": "negative"}  # what `python -m workflow` builds (workflow.cli.build_stimuli)


def _pixel_hashes(images: list[np.ndarray]) -> set[str]:
    """One hash per image of its 8-bit pixels (float images in [0, 1] as the set writes them)."""
    as_bytes = (img if img.dtype == np.uint8 else to_uint8(img) for img in images)
    return {hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() for a in as_bytes}


def _served(set_dir: Path) -> list[np.ndarray]:
    """The stimuli as the server sends them (clean_png of each file), decoded."""
    out = []
    for path in sorted((set_dir / "images").glob("*.png")):
        data = clean_png(path)
        assert {kind for kind, _ in png_chunks(data)} <= {b"IHDR", b"IDAT", b"IEND"}  # pixels only
        with Image.open(io.BytesIO(data)) as im:
            pixels = np.asarray(im.convert("RGB"))
        assert np.array_equal(pixels, to_uint8(read_png(path)))  # the same pixels as the file
        out.append(pixels)
    return out


def _seed_of(set_dir: Path) -> int:
    return int(json.loads((set_dir / "stimulus_set.json").read_text())["seed"])


def test_no_seed_means_a_fresh_secret_seed_and_a_given_seed_reproduces(tmp_path: Path):
    """Before: --seed defaulted to 0, so every default set had the same images as anyone's rebuild."""
    assert main(["build", "--preset", "negative", "--n-per-class", "1", "--out", str(tmp_path / "a"),
                 "--no-progress"]) == 0  # fmt: skip
    cfg = preset_config("negative", n_per_class=1)
    build(cfg, tmp_path / "b", progress=False)
    seed_a, seed_b = _seed_of(tmp_path / "a"), _seed_of(tmp_path / "b")
    assert seed_a != seed_b and min(seed_a, seed_b) > 2**32  # 63 random bits: nothing to guess
    a, b = _pixel_hashes(_served(tmp_path / "a")), _pixel_hashes(_served(tmp_path / "b"))
    assert not a & b
    # the recorded seed (the researcher's, never served) rebuilds the same images
    build(replace(cfg, seed=seed_a), tmp_path / "again", progress=False)
    assert _pixel_hashes(_served(tmp_path / "again")) == a


@pytest.mark.slow
def test_rebuilding_the_default_set_with_seeds_0_to_99_finds_no_served_image(tmp_path: Path):
    """The attack of the issue: rebuild with small seeds and match served images (before: seed 0 matched
    every image, giving class, condition and catch status of each trial). Every image the default
    options can make from each seed (every rendered source in every condition) is compared."""
    cfg = preset_config(DEFAULT["preset"], n_per_class=1)  # the default preset and size; fewer sources
    build(cfg, tmp_path / "served", progress=False)
    served = _pixel_hashes(_served(tmp_path / "served"))
    assert len(served) > 100
    for seed in range(100):
        trial = replace(cfg, seed=seed)
        src = source_images(trial)
        candidates = [
            condition_image(_prepared(src, i, trial), cond)
            for i in range(len(src))
            for cond in trial.conditions
        ]
        assert not served & _pixel_hashes(candidates), f"seed {seed} rebuilds a served image"
