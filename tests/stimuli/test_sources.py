"""Image sources: synthetic signs, GTSRB in both on-disk layouts, MNIST, CIFAR-10, image folders, errors."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stimuli import ClassInfo, DataSourceError, get_source
from stimuli.classes import gtsrb_classes

GT_HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"


# ---- synthetic -------------------------------------------------------------------------------------------


def test_synthetic_shapes_labels_and_classes():
    src = get_source("synthetic", split="val", n_per_class=2, seed=0)
    assert len(src) == 86 and src.channels == 3 and src.name == "synthetic"
    assert src.labels.dtype == np.int64
    assert np.bincount(src.labels).tolist() == [2] * 43
    assert src.classes[14] == ClassInfo(14, "Stop") and len(src.classes) == 43
    img, label = src[5]
    assert img.shape == (32, 32, 3) and img.dtype == np.float32 and label == 2
    assert img.min() >= 0.0 and img.max() <= 1.0
    batch = src.images([0, 5, 85])
    assert batch.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(batch[1], img)


def test_synthetic_class_names_come_from_the_bundled_csv():
    shared = Path(__file__).resolve().parents[3] / "shared" / "gtsrb_classes.csv"
    names = [c.name for c in gtsrb_classes()]
    assert (
        names[0] == "Speed limit (20km/h)"
        and names[42] == "End of no passing by vehicles over 3.5 metric tons"
    )
    if shared.is_file():  # the package copy must agree with the project's reference list
        import csv

        with open(shared, newline="") as fh:
            assert [r["name"] for r in csv.DictReader(fh)] == names


def test_synthetic_is_deterministic_and_splits_differ():
    a = get_source("synthetic", split="train", n_per_class=3, seed=4).images()
    b = get_source("synthetic", split="train", n_per_class=3, seed=4).images()
    np.testing.assert_array_equal(a, b)
    # lazy access in another order gives the same pixels
    src = get_source("synthetic", split="train", n_per_class=3, seed=4)
    np.testing.assert_array_equal(src[100][0], a[100])
    c = get_source("synthetic", split="test", n_per_class=3, seed=4).images()
    d = get_source("synthetic", split="train", n_per_class=3, seed=5).images()
    for other in (c, d):
        diffs = np.abs(a - other).reshape(len(a), -1).mean(axis=1)
        assert diffs.min() > 0.01  # every image differs, none is reused across splits or seeds


def test_synthetic_views_vary_within_a_class():
    imgs = get_source("synthetic", split="train", n_per_class=10, seed=0).images(range(10))
    flat = imgs.reshape(10, -1)
    assert np.abs(flat[:, None] - flat[None]).mean(axis=2)[np.triu_indices(10, 1)].min() > 0.02


@pytest.mark.parametrize("size", [48, 64])
def test_synthetic_any_size(size: int):
    src = get_source("synthetic", split="test", n_per_class=1, size=size)
    assert src[0][0].shape == (size, size, 3)
    assert src.legend_image(14).shape == (size, size, 3)


def test_synthetic_legend_is_the_canonical_sign():
    src = get_source("synthetic", n_per_class=1)
    stop = src.legend_image(14)
    # the stop sign is mostly red: R high, G and B low at the centre ring
    centre = np.median(stop[12:20, 4:8].reshape(-1, 3), axis=0)
    assert centre[0] > 0.6 and centre[1] < 0.3 and centre[2] < 0.3
    blue = src.legend_image(35)[4:8, 14:18].reshape(-1, 3).mean(axis=0)  # Ahead only: blue disc
    assert blue[2] > 0.45 and blue[0] < 0.25


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        get_source("synthetic", split="dev")
    with pytest.raises(ValueError, match="size"):
        get_source("synthetic", size=3)
    with pytest.raises(DataSourceError, match="unknown source"):
        get_source("imagenet")
    with pytest.raises(DataSourceError, match="pass root"):
        get_source("mnist")


# ---- GTSRB fixtures written by the tests -----------------------------------------------------------------


def _ppm(path: Path, w: int, h: int, colour: tuple[int, int, int]) -> None:
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[:] = (20, 20, 20)
    arr[2 : h - 2, 2 : w - 2] = colour  # ROI is the inner block, border is dark
    Image.fromarray(arr).save(path, format="PPM")


def _train_class(folder: Path, cid: int, n: int, write_csv: bool = True) -> None:
    folder.mkdir(parents=True)
    lines = [GT_HEADER]
    for k in range(n):
        name = f"{k:05d}_00000.ppm"
        w, h = 12 + k, 14
        _ppm(folder / name, w, h, (10 * cid, 200, 7 * k))
        lines.append(f"{name};{w};{h};2;2;{w - 3};{h - 3};{cid}")
    if write_csv:
        (folder / f"GT-{cid:05d}.csv").write_text("\n".join(lines) + "\n")


def _test_images(folder: Path, labels: list[int]) -> list[str]:
    folder.mkdir(parents=True)
    lines = [GT_HEADER]
    for k, cid in enumerate(labels):
        name = f"{k:05d}.ppm"
        _ppm(folder / name, 15, 13, (10 * cid, 50, 50))
        lines.append(f"{name};15;13;2;2;12;10;{cid}")
    return lines


@pytest.fixture
def official_gtsrb(tmp_path: Path) -> Path:
    root = tmp_path / "GTSRB"
    for cid in (0, 1, 14):
        _train_class(root / "Final_Training" / "Images" / f"{cid:05d}", cid, 3)
    lines = _test_images(root / "Final_Test" / "Images", [14, 0, 1, 1])
    (root / "Final_Test" / "Images" / "GT-final_test.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def torchvision_gtsrb(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    base = root / "gtsrb" / "GTSRB"
    _train_class(base / "Training" / "00000", 0, 2, write_csv=False)
    _train_class(base / "Training" / "00002", 2, 2, write_csv=True)
    lines = _test_images(base / "Final_Test" / "Images", [2, 0, 0])
    (root / "gtsrb" / "GT-final_test.csv").write_text("\n".join(lines) + "\n")
    return root


def test_gtsrb_official_layout(official_gtsrb: Path):
    train = get_source("gtsrb", root=official_gtsrb, split="train", size=16)
    assert len(train) == 9 and sorted(set(train.labels.tolist())) == [0, 1, 14]
    assert train.classes[14].name == "Stop" and len(train.classes) == 43
    img, label = train[0]
    assert img.shape == (16, 16, 3) and label == 0
    test = get_source("gtsrb", root=official_gtsrb, split="test", size=None)
    assert test.labels.tolist() == [14, 0, 1, 1]
    raw = test[0][0]
    assert raw.shape == (13, 15, 3)
    np.testing.assert_allclose(raw[0, 0], np.array([20, 20, 20]) / 255, atol=1e-6)


def test_gtsrb_roi_crop_uses_csv_coordinates(official_gtsrb: Path):
    test = get_source("gtsrb", root=official_gtsrb, split="test", size=None, roi_crop=True)
    crop = test[0][0]
    # ROI 2;2;12;10 inclusive -> 11 columns x 9 rows, all inside the coloured block (no dark border)
    assert crop.shape == (9, 11, 3)
    np.testing.assert_allclose(
        crop.reshape(-1, 3), np.tile(np.array([140, 50, 50]) / 255, (99, 1)), atol=1e-6
    )
    also_root_above = get_source("gtsrb", root=official_gtsrb.parent, split="test", size=None)
    assert len(also_root_above) == 4  # ROOT/GTSRB/Final_Test also found


def test_gtsrb_torchvision_layout(torchvision_gtsrb: Path):
    train = get_source("gtsrb", root=torchvision_gtsrb, split="train", size=8)
    assert train.labels.tolist() == [0, 0, 2, 2]
    assert train.images().shape == (4, 8, 8, 3)
    test = get_source("gtsrb", root=torchvision_gtsrb, split="test", size=8, roi_crop=True)
    assert test.labels.tolist() == [2, 0, 0]
    with pytest.raises(DataSourceError, match="roi_crop needs the ROI"):
        get_source("gtsrb", root=torchvision_gtsrb, split="train", roi_crop=True)  # class 0 has no CSV


def test_gtsrb_stratified_subsample(official_gtsrb: Path):
    a = get_source("gtsrb", root=official_gtsrb, split="train", n_per_class=2, seed=1)
    b = get_source("gtsrb", root=official_gtsrb, split="train", n_per_class=2, seed=1)
    assert np.bincount(a.labels, minlength=15)[[0, 1, 14]].tolist() == [2, 2, 2]
    assert [str(p) for p in a.paths] == [str(p) for p in b.paths]
    with pytest.raises(DataSourceError, match="only 3 images"):
        get_source("gtsrb", root=official_gtsrb, split="train", n_per_class=4)


def test_gtsrb_missing_says_where_and_what(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataSourceError) as exc:
        get_source("gtsrb", root=tmp_path / "empty", split="train")
    msg = str(exc.value)
    assert str(tmp_path / "empty") in msg and "Final_Training/Images/000NN/GT-000NN.csv" in msg
    assert "gtsrb/GTSRB/Training" in msg
    with pytest.raises(DataSourceError, match="does not exist"):
        get_source("gtsrb", root=tmp_path / "absent")
    with pytest.raises(DataSourceError, match="splits 'train' and 'test'"):
        get_source("gtsrb", root=tmp_path / "empty", split="val")


def test_gtsrb_malformed_csv(official_gtsrb: Path):
    csv_path = official_gtsrb / "Final_Training" / "Images" / "00001" / "GT-00001.csv"
    csv_path.write_text("Filename,ClassId\nx.ppm,1\n")
    with pytest.raises(DataSourceError, match=r"malformed GTSRB annotation file .*GT-00001\.csv"):
        get_source("gtsrb", root=official_gtsrb, split="train")
    csv_path.write_text(GT_HEADER + "\n00000_00000.ppm;12;14;2;2;9;x;1\n")
    with pytest.raises(DataSourceError, match="line 2"):
        get_source("gtsrb", root=official_gtsrb, split="train")
    csv_path.write_text(GT_HEADER + "\nmissing.ppm;12;14;2;2;9;9;1\n")
    with pytest.raises(DataSourceError, match=r"missing\.ppm .* is missing"):
        get_source("gtsrb", root=official_gtsrb, split="train")


def test_gtsrb_corrupt_image_is_a_clear_error(official_gtsrb: Path):
    (official_gtsrb / "Final_Test" / "Images" / "00000.ppm").write_bytes(b"P6 garbage")
    src = get_source("gtsrb", root=official_gtsrb, split="test")
    with pytest.raises(DataSourceError, match="cannot read image"):
        src[0]


# ---- MNIST, CIFAR-10, image folders ------------------------------------------------------------------------


def _idx(path: Path, arr: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_layout(tmp_path: Path, gz: bool):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(4 * 28 * 28).reshape(4, 28, 28) % 256
    _idx(raw / "t10k-images-idx3-ubyte", images, gz)
    _idx(raw / "t10k-labels-idx1-ubyte", np.array([7, 2, 1, 0]), gz)
    src = get_source("mnist", root=tmp_path, split="test", size=None)
    assert src.channels == 1 and src.labels.tolist() == [7, 2, 1, 0]
    img, label = src[1]
    assert img.shape == (28, 28, 1) and label == 2
    np.testing.assert_allclose(img[:, :, 0], images[1] / 255, atol=1e-6)
    assert get_source("mnist", root=tmp_path, split="test")[0][0].shape == (32, 32, 1)
    with pytest.raises(DataSourceError, match=r"MNIST train files not found .*MNIST/raw"):
        get_source("mnist", root=tmp_path, split="train")


def test_mnist_malformed(tmp_path: Path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") * 3 + b"\x00")
    _idx(raw / "t10k-labels-idx1-ubyte", np.array([1]), False)
    with pytest.raises(DataSourceError, match="malformed MNIST idx file"):
        get_source("mnist", root=tmp_path, split="test")


def test_cifar10_pickle_layout(tmp_path: Path):
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, size=(3, 3072), dtype=np.uint8)
    with open(base / "test_batch", "wb") as fh:
        pickle.dump({b"data": data, b"labels": [3, 8, 0]}, fh)
    src = get_source("cifar10", root=tmp_path, split="test")
    assert src.labels.tolist() == [3, 8, 0] and src.classes[3].name == "cat"
    img = src[0][0]
    # CIFAR rows are 1024 R, then 1024 G, then 1024 B values, row-major
    np.testing.assert_allclose(img[0, 1], data[0, [1, 1025, 2049]] / 255, atol=1e-6)
    (base / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DataSourceError, match="malformed CIFAR-10 file"):
        get_source("cifar10", root=tmp_path, split="test")
    with pytest.raises(DataSourceError, match="data_batch_1 not found"):
        get_source("cifar10", root=tmp_path, split="train")


def test_imagefolder(tmp_path: Path):
    for name, colour in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for k in range(2):
            Image.new("RGB", (20, 10), colour).save(tmp_path / "imgs" / name / f"{k}.png")
    (tmp_path / "imgs" / "cat" / "readme.txt").write_text("ignored")
    src = get_source("imagefolder", root=tmp_path / "imgs", size=8)
    assert [c.name for c in src.classes] == ["cat", "dog"] and src.labels.tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(src[3][0][4, 4], [0, 0, 1], atol=1e-6)
    assert src.legend_image(1).shape == (8, 8, 3)
    (tmp_path / "none").mkdir()
    with pytest.raises(DataSourceError, match="no images found"):
        get_source("imagefolder", root=tmp_path / "none")


def test_no_download_without_flag(tmp_path: Path, monkeypatch):
    import torchvision.datasets as tvd

    def boom(*a, **k):
        raise AssertionError("download attempted")

    monkeypatch.setattr(tvd, "MNIST", boom)
    monkeypatch.setattr(tvd, "GTSRB", boom)
    (tmp_path / "x").mkdir()
    for name in ("mnist", "gtsrb", "cifar10"):
        with pytest.raises(DataSourceError):
            get_source(name, root=tmp_path / "x", split="test")


def test_download_failure_is_wrapped(tmp_path: Path, monkeypatch):
    import torchvision.datasets as tvd

    def offline(*a, **k):
        raise RuntimeError("network unreachable")

    monkeypatch.setattr(tvd, "MNIST", offline)
    with pytest.raises(DataSourceError, match=r"downloading MNIST .* failed: network unreachable"):
        get_source("mnist", root=tmp_path / "dl", split="test", download=True)


def test_auto_legend_prefers_sharp_typical_image(tmp_path: Path):
    folder = tmp_path / "imgs" / "checks"
    folder.mkdir(parents=True)
    checker = (np.indices((16, 16)).sum(axis=0) % 2 * 255).astype(np.uint8)
    blurred = np.full((16, 16), 128, dtype=np.uint8)  # no edges at all: sharpness 0
    Image.fromarray(blurred).convert("RGB").save(folder / "0_blurred.png")
    Image.fromarray(checker).convert("RGB").save(folder / "1_sharp.png")
    shifted = np.roll(checker, 1, axis=1)  # sharp too, but the mean is dominated by the unshifted pattern
    Image.fromarray(checker).convert("RGB").save(folder / "2_sharp.png")
    Image.fromarray(shifted).convert("RGB").save(folder / "3_shifted.png")
    src = get_source("imagefolder", root=tmp_path / "imgs", size=None)
    legend = src.legend_image(0)
    np.testing.assert_array_equal(legend[:, :, 0], checker / 255)
