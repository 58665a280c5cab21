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
    stimulus_set,
    validate_stimulus_set,
    write_stimulus_set,
)
from stimuli.stimulus_set import ID_RE, png_chunks

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
    rows = {(r.source_id, r.condition): r for r in ss.manifest.itertuples()}  # rows are shuffled
    assert [rows[f"src{k}", "regular"].label_name for k in range(3)] == ["Stop", "Priority road", "Yield"]
    assert ss.manifest["catch"].dtype == bool and not ss.manifest["catch"].any()
    assert ss.manifest["sigma"].isna().all()
    meta = json.loads((sset / "stimulus_set.json").read_text())
    assert set(meta) == {"name", "classes", "generator_version", "seed", "source", "params", "content_hash"}
    assert meta["classes"][0] == {"id": 0, "name": "Stop", "legend": "legend/0.png"}
    sid = rows["src0", "regular"].stimulus_id  # input row 0
    assert ss.image(sid).shape == (8, 8, 3)
    np.testing.assert_array_equal(ss.image(sid), _images(6)[0])  # lossless round trip on the 8-bit grid
    assert ss.legend_path(2) == sset / "legend" / "2.png"
    with pytest.raises(KeyError):
        ss.image_path("not-an-id")


def test_ids_are_opaque_random_and_independent_of_labels(tmp_path: Path):
    a = load_stimulus_set(_write(tmp_path / "a", labels=(0, 1, 2, 0, 1, 2))).manifest
    b = load_stimulus_set(_write(tmp_path / "b", labels=(0, 1, 2, 0, 1, 2))).manifest
    c = load_stimulus_set(_write(tmp_path / "c", labels=(2, 2, 2, 1, 1, 0), seed=4)).manifest
    # fresh ids on every write, even for the same seed and rows: an id tells nothing about the seed, the
    # labels or the row, and no two sets share one (128 random bits: a clash has probability < 1e-30)
    ids = [set(m["stimulus_id"]) for m in (a, b, c)]
    assert ids[0].isdisjoint(ids[1]) and ids[0].isdisjoint(ids[2]) and ids[1].isdisjoint(ids[2])
    assert all(ID_RE.fullmatch(s) and len(s) == 32 for s in a["stimulus_id"])
    assert a["stimulus_id"].is_unique
    assert not hasattr(stimulus_set, "make_ids")  # no seeded id generator is left to call


def test_writer_shuffles_rows_and_keeps_each_image_with_its_row(tmp_path: Path):
    n = 60
    row = {"family": "regular", "condition": "regular"}
    rows = [{**row, "source_id": f"src{k}", "label": k % 3} for k in range(n)]
    images = [np.full((2, 2, 3), k / 255, dtype=np.float32) for k in range(n)]  # pixel value = input row
    legend = {c.id: np.zeros((2, 2, 3), dtype=np.float32) for c in CLASSES}
    out = write_stimulus_set(
        tmp_path / "s", rows, images, CLASSES, legend, name="order", seed=0, source="t", progress=False
    )
    assert validate_stimulus_set(out) == []
    ss = load_stimulus_set(out)
    written = [int(s[3:]) for s in ss.manifest["source_id"]]
    for k, sid in zip(written, ss.manifest["stimulus_id"], strict=True):
        assert (np.round(ss.image(sid) * 255) == k).all()  # the image still belongs to its row
    assert sorted(written) == list(range(n))
    # a uniform shuffle keeps the input order with probability 1/60! (< 1e-80), so this never flakes
    assert written != list(range(n))


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
    assert any("not 32 lowercase hex" in p for p in problems)
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
