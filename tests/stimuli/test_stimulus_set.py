"""The stimulus-set contract: writing, loading, validation and tamper detection."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from stimuli import (
    MANIFEST_COLUMNS,
    ClassInfo,
    StimulusSetError,
    load_stimulus_set,
    validate_stimulus_set,
    write_stimulus_set,
)
from stimuli.stimulus_set import png_chunks

CLASSES = [ClassInfo(0, "Stop"), ClassInfo(1, "Yield"), ClassInfo(2, "Priority road")]


def _images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.round(rng.random((8, 8, 3)) * 255).astype(np.float32) / 255 for _ in range(n)]


def _write(out: Path, seed: int = 3, labels=(0, 1, 2, 0, 1, 2)) -> Path:
    rows = [
        {
            "source_id": f"src{k // 2}",
            "label": lab,
            "family": "negative",
            "condition": "regular" if k % 2 == 0 else "negative",
            "catch": False,
        }
        for k, lab in enumerate(labels)
    ]
    legend = {c.id: np.full((8, 8, 3), 0.5, dtype=np.float32) for c in CLASSES}
    return write_stimulus_set(
        out,
        rows,
        _images(len(rows)),
        CLASSES,
        legend,
        name="unit",
        seed=seed,
        source="test",
        params={"k": 1},
        progress=False,
    )


@pytest.fixture
def sset(tmp_path: Path) -> Path:
    return _write(tmp_path / "set")


def test_written_set_is_valid_and_loads(sset: Path):
    assert validate_stimulus_set(sset) == []
    ss = load_stimulus_set(sset)
    assert tuple(ss.manifest.columns) == MANIFEST_COLUMNS
    assert ss.classes == CLASSES and ss.name == "unit"
    assert ss.manifest["label_name"].tolist() == ["Stop", "Yield", "Priority road"] * 2
    assert ss.manifest["catch"].dtype == bool and not ss.manifest["catch"].any()
    assert ss.manifest["sigma"].isna().all()
    meta = json.loads((sset / "stimulus_set.json").read_text())
    assert set(meta) == {"name", "classes", "generator_version", "seed", "source", "params", "content_hash"}
    assert meta["classes"][0] == {"id": 0, "name": "Stop", "legend": "legend/0.png"}
    sid = ss.manifest["stimulus_id"][0]
    assert ss.image(sid).shape == (8, 8, 3)
    np.testing.assert_array_equal(ss.image(sid), _images(6)[0])  # lossless round trip on the 8-bit grid
    assert ss.legend_path(2) == sset / "legend" / "2.png"
    with pytest.raises(KeyError):
        ss.image_path("not-an-id")


def test_ids_are_opaque_random_and_independent_of_labels(tmp_path: Path):
    a = load_stimulus_set(_write(tmp_path / "a", labels=(0, 1, 2, 0, 1, 2))).manifest
    b = load_stimulus_set(_write(tmp_path / "b", labels=(2, 2, 2, 1, 1, 0))).manifest
    c = load_stimulus_set(_write(tmp_path / "c", seed=4)).manifest
    # same seed, different labels -> same id sequence: ids carry no information about labels
    assert a["stimulus_id"].tolist() == b["stimulus_id"].tolist()
    assert set(a["stimulus_id"]).isdisjoint(c["stimulus_id"])
    assert all(len(s) == 16 and int(s, 16) >= 0 for s in a["stimulus_id"])
    assert a["stimulus_id"].is_unique


def test_pngs_carry_no_metadata_chunks(sset: Path):
    for p in [*sset.glob("images/*.png"), *sset.glob("legend/*.png")]:
        kinds = [k for k, _ in png_chunks(p.read_bytes())]
        assert set(kinds) <= {b"IHDR", b"IDAT", b"IEND"}, (p, kinds)
        with Image.open(p) as im:
            assert not im.info.get("dpi") and not getattr(im, "text", {})


def _first_image(root: Path) -> Path:
    return sorted((root / "images").iterdir())[0]


def _tamper_pixel(root: Path) -> None:
    p = _first_image(root)
    arr = np.asarray(Image.open(p).convert("RGB")).copy()
    arr[0, 0, 0] ^= 1
    Image.fromarray(arr).save(p)


def _tamper_manifest_row(root: Path) -> None:
    text = (root / "manifest.csv").read_text()
    (root / "manifest.csv").write_text(text.replace(",regular,", ",gray,", 1))


def _add_text_chunk(root: Path) -> None:
    p = _first_image(root)
    data = p.read_bytes()
    payload = b"Comment\x00Stop negative"
    chunk = (
        struct.pack(">I", len(payload)) + b"tEXt" + payload + struct.pack(">I", zlib.crc32(b"tEXt" + payload))
    )
    p.write_bytes(data[:33] + chunk + data[33:])  # right after IHDR


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_tamper_pixel, "content hash mismatch"),
        (_tamper_manifest_row, "content hash mismatch"),
        (lambda r: (r / "images" / "0123456789abcdef.png").write_bytes(b"x"), "extra file: images/0123"),
        (lambda r: (r / "notes.txt").write_text("hi"), "extra file: notes.txt"),
        (lambda r: _first_image(r).unlink(), "missing file: images/"),
        (lambda r: (r / "legend" / "1.png").unlink(), "missing file: legend/1.png"),
        (_add_text_chunk, "metadata chunks ['tEXt']"),
        (lambda r: (r / "manifest.csv").write_text("a,b\n1,2\n"), "header must be exactly"),
        (lambda r: (r / "stimulus_set.json").write_text("{not json"), "not valid JSON"),
        (
            lambda r: (r / "stimulus_set.json").write_text(
                (r / "stimulus_set.json").read_text().replace('"Yield"', '"Give way"')
            ),
            "does not match class 1",
        ),
        (lambda r: (r / "manifest.csv").unlink(), "missing file: manifest.csv"),
    ],
)
def test_tampering_is_detected(sset: Path, tamper, expected: str):
    tamper(sset)
    problems = validate_stimulus_set(sset)
    assert any(expected in p for p in problems), problems
    with pytest.raises(StimulusSetError, match="invalid stimulus set"):
        load_stimulus_set(sset)


def test_label_text_in_file_name_is_reported(sset: Path):
    # rename an image to a name that leaks its class, and fix up the manifest to match
    m = pd.read_csv(sset / "manifest.csv", dtype=str, keep_default_na=False)
    old = m.loc[0, "stimulus_id"]
    (sset / "images" / f"{old}.png").rename(sset / "images" / "stop_negative.png")
    m.loc[0, "stimulus_id"] = "stop_negative"
    m.to_csv(sset / "manifest.csv", index=False)
    problems = validate_stimulus_set(sset)
    assert any("not 16 lowercase hex" in p for p in problems)
    assert any("label/condition text" in p and "stop" in p for p in problems), problems


def test_changed_metadata_json_is_detected(sset: Path):
    meta = json.loads((sset / "stimulus_set.json").read_text())
    meta["seed"] = 99
    (sset / "stimulus_set.json").write_text(json.dumps(meta))
    assert validate_stimulus_set(sset) == [
        "content hash mismatch: a file or manifest row was changed after the set was written"
    ]


def test_copy_of_valid_set_is_valid(sset: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(sset, copy)
    assert validate_stimulus_set(copy) == []


def test_writer_rejects_bad_input(tmp_path: Path):
    legend = {c.id: np.zeros((4, 4, 3), dtype=np.float32) for c in CLASSES}
    img = [np.zeros((4, 4, 3), dtype=np.float32)]
    row = {"source_id": "s", "label": 0, "family": "negative", "condition": "regular"}
    with pytest.raises(ValueError, match="not a class id"):
        write_stimulus_set(
            tmp_path / "a", [{**row, "label": 7}], img, CLASSES, legend, name="x", seed=0, source="t"
        )
    with pytest.raises(ValueError, match="family"):
        write_stimulus_set(
            tmp_path / "b", [{**row, "family": "odd"}], img, CLASSES, legend, name="x", seed=0, source="t"
        )
    with pytest.raises(ValueError, match="must not carry stimulus_id"):
        write_stimulus_set(
            tmp_path / "c", [{**row, "stimulus_id": "x"}], img, CLASSES, legend, name="x", seed=0, source="t"
        )
    with pytest.raises(ValueError, match="unknown manifest fields"):
        write_stimulus_set(
            tmp_path / "c", [{**row, "colour": "x"}], img, CLASSES, legend, name="x", seed=0, source="t"
        )
    with pytest.raises(ValueError, match="legend"):
        write_stimulus_set(tmp_path / "d", [row], img, CLASSES, {0: img[0]}, name="x", seed=0, source="t")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        write_stimulus_set(tmp_path / "e", [row], [img[0] + 2], CLASSES, legend, name="x", seed=0, source="t")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "old.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        write_stimulus_set(tmp_path / "f", [row], img, CLASSES, legend, name="x", seed=0, source="t")


def test_validate_missing_directory(tmp_path: Path):
    assert validate_stimulus_set(tmp_path / "nope") == [f"{tmp_path / 'nope'}: not a directory"]
