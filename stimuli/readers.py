"""Readers for data sets on disk: GTSRB (official and torchvision layouts), MNIST, CIFAR-10, image folders.

Nothing is downloaded unless download=True is passed explicitly. A missing or malformed data set raises
DataSourceError saying where we looked and which layout we expect.
"""

from __future__ import annotations

import csv
import gzip
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from .base import ImageSource, stratified_indices
from .classes import ClassInfo, gtsrb_classes
from .errors import DataSourceError
from .transforms import resize, roi_crop

GTSRB_LAYOUT = (
    "official: ROOT/[GTSRB/]Final_Training/Images/000NN/GT-000NN.csv (+ .ppm files) and "
    "ROOT/[GTSRB/]Final_Test/Images/*.ppm with GT-final_test.csv; or torchvision: "
    "ROOT/gtsrb/GTSRB/Training/000NN/*.ppm and ROOT/gtsrb/GTSRB/Final_Test/Images + "
    "ROOT/gtsrb/GT-final_test.csv"
)
MNIST_LAYOUT = "ROOT/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (torchvision's layout)"
CIFAR_LAYOUT = "ROOT/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta} (torchvision's layout)"
FOLDER_LAYOUT = (
    "ROOT/<class name>/<image>.{png,jpg,jpeg,ppm,bmp} (one subfolder per class, sorted = class ids)"
)
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
GT_COLUMNS = ("Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId")


def _load_file(path: Path, mode: str = "RGB") -> np.ndarray:
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert(mode), dtype=np.float32) / 255.0
    except (OSError, ValueError, SyntaxError) as exc:  # PIL raises all three for corrupt files
        raise DataSourceError(f"cannot read image {path}: {exc}") from exc
    return arr[:, :, None] if arr.ndim == 2 else arr


def _subsample(labels: np.ndarray, n_per_class: int | None, seed: int) -> np.ndarray:
    if n_per_class is None:
        return np.arange(labels.shape[0])
    try:
        return stratified_indices(labels, int(n_per_class), np.random.default_rng([int(seed), 7]))
    except ValueError as exc:
        raise DataSourceError(str(exc)) from exc


class FileSource(ImageSource):
    """Images stored one per file, optionally with an ROI per file; resized to size x size on load."""

    def __init__(
        self,
        name: str,
        paths: list[Path],
        labels: np.ndarray,
        classes: list[ClassInfo],
        *,
        size: int | None,
        rois: list[tuple[int, int, int, int] | None] | None = None,
        roi_crop_: bool = False,
        channels: int = 3,
    ) -> None:
        super().__init__(labels, classes)
        self.name, self.paths, self.size, self.channels = name, paths, size, channels
        self.rois = rois or [None] * len(paths)
        self.roi_crop = roi_crop_
        if roi_crop_ and any(r is None for r in self.rois):
            raise DataSourceError(
                f"{name}: roi_crop needs the ROI columns of the GT-*.csv files, which are "
                f"missing for some images (expected layout: {GTSRB_LAYOUT})"
            )

    def _load(self, i: int) -> np.ndarray:
        img = _load_file(self.paths[i], "L" if self.channels == 1 else "RGB")
        roi = self.rois[i]
        if self.roi_crop and roi is not None:
            h, w = img.shape[:2]
            x1, y1, x2, y2 = roi
            img = roi_crop(img, max(0, x1), max(0, y1), min(w - 1, x2), min(h - 1, y2))
        return resize(img, self.size) if self.size else img


# ---- GTSRB ------------------------------------------------------------------------------------------------


def _read_gt_csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter=";"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataSourceError(f"cannot read GTSRB annotation file {path}: {exc}") from exc
    if not rows or any(c not in rows[0] for c in GT_COLUMNS):
        raise DataSourceError(
            f"malformed GTSRB annotation file {path}: expected ';'-separated columns {';'.join(GT_COLUMNS)}"
        )
    return rows


def _gt_entries(rows: list[dict[str, str]], folder: Path, csv_path: Path) -> tuple[list, list, list]:
    paths, labels, rois = [], [], []
    for n, r in enumerate(rows, start=2):
        try:
            label = int(r["ClassId"])
            roi = (int(r["Roi.X1"]), int(r["Roi.Y1"]), int(r["Roi.X2"]), int(r["Roi.Y2"]))
        except (TypeError, ValueError) as exc:
            raise DataSourceError(f"malformed GTSRB annotation file {csv_path} line {n}: {exc}") from exc
        if not 0 <= label <= 42:
            raise DataSourceError(
                f"malformed GTSRB annotation file {csv_path} line {n}: ClassId {label} not in 0..42"
            )
        p = folder / r["Filename"]
        if not p.is_file():
            raise DataSourceError(f"GTSRB image {p} listed in {csv_path} is missing")
        paths.append(p)
        labels.append(label)
        rois.append(roi)
    return paths, labels, rois


def _find_gtsrb(root: Path, split: str) -> tuple[str, Path, Path | None]:
    """(layout, image dir, GT csv or None) for the first layout found under root."""
    bases = [root, root / "GTSRB"]
    if split == "train":
        for b in bases:
            if (b / "Final_Training" / "Images").is_dir():
                return "official", b / "Final_Training" / "Images", None
        if (root / "gtsrb" / "GTSRB" / "Training").is_dir():
            return "torchvision", root / "gtsrb" / "GTSRB" / "Training", None
    else:
        for b in bases:
            img_dir = b / "Final_Test" / "Images"
            if img_dir.is_dir():
                for cand in (
                    img_dir / "GT-final_test.csv",
                    b / "GT-final_test.csv",
                    root / "GT-final_test.csv",
                ):
                    if cand.is_file():
                        return "official", img_dir, cand
        tv = root / "gtsrb" / "GTSRB" / "Final_Test" / "Images"
        if tv.is_dir() and (root / "gtsrb" / "GT-final_test.csv").is_file():
            return "torchvision", tv, root / "gtsrb" / "GT-final_test.csv"
    raise DataSourceError(f"GTSRB {split} split not found under {root}; expected {GTSRB_LAYOUT}")


def gtsrb_source(
    root: Path,
    split: str,
    size: int | None,
    n_per_class: int | None,
    seed: int,
    roi_crop_: bool,
    download: bool,
) -> FileSource:
    if split not in ("train", "test"):
        raise DataSourceError(f"GTSRB has splits 'train' and 'test', not {split!r}")
    if download:
        _torchvision_download("GTSRB", root, split)
    layout, img_dir, gt = _find_gtsrb(root, split)
    paths: list[Path] = []
    labels: list[int] = []
    rois: list = []
    if split == "train":
        class_dirs = sorted(d for d in img_dir.iterdir() if d.is_dir() and d.name.isdigit())
        if not class_dirs:
            raise DataSourceError(f"no class folders 000NN in {img_dir}; expected {GTSRB_LAYOUT}")
        for d in class_dirs:
            cid = int(d.name)
            csv_path = d / f"GT-{d.name}.csv"
            if csv_path.is_file():
                p, lab, r = _gt_entries(_read_gt_csv(csv_path), d, csv_path)
                if any(v != cid for v in lab):
                    raise DataSourceError(f"malformed {csv_path}: ClassId differs from folder {d.name}")
            elif layout == "torchvision":
                p = sorted(f for f in d.iterdir() if f.suffix.lower() == ".ppm")
                lab, r = [cid] * len(p), [None] * len(p)
            else:
                raise DataSourceError(f"missing {csv_path}; expected {GTSRB_LAYOUT}")
            paths += p
            labels += lab
            rois += r
    else:
        assert gt is not None
        paths, labels, rois = _gt_entries(_read_gt_csv(gt), img_dir, gt)
    if not paths:
        raise DataSourceError(f"GTSRB {split} split under {root} holds no images; expected {GTSRB_LAYOUT}")
    lab_arr = np.asarray(labels, dtype=np.int64)
    keep = _subsample(lab_arr, n_per_class, seed)
    return FileSource(
        "gtsrb",
        [paths[i] for i in keep],
        lab_arr[keep],
        gtsrb_classes(),
        size=size,
        rois=[rois[i] for i in keep],
        roi_crop_=roi_crop_,
    )


# ---- arrays in memory: MNIST, CIFAR-10 ---------------------------------------------------------------


class ArraySource(ImageSource):
    """Images held as a uint8 array (N, H, W, C); resized to size x size when size differs."""

    def __init__(
        self, name: str, data: np.ndarray, labels: np.ndarray, classes: list[ClassInfo], size: int | None
    ) -> None:
        super().__init__(labels, classes)
        self.name, self.data, self.size, self.channels = name, data, size, int(data.shape[3])

    def _load(self, i: int) -> np.ndarray:
        img = self.data[i].astype(np.float32) / 255.0
        return resize(img, self.size) if self.size and self.size != img.shape[0] else img


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise DataSourceError(f"cannot read MNIST file {path}: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataSourceError(
            f"malformed MNIST idx file {path}: bad magic number (expected unsigned-byte idx)"
        )
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim)]
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataSourceError(
            f"malformed MNIST idx file {path}: header says {dims}, data has {body.size} bytes"
        )
    return body.reshape(dims)


def mnist_source(
    root: Path, split: str, size: int | None, n_per_class: int | None, seed: int, download: bool
) -> ArraySource:
    if split not in ("train", "test"):
        raise DataSourceError(f"MNIST has splits 'train' and 'test', not {split!r}")
    if download:
        _torchvision_download("MNIST", root, split)
    raw = root / "MNIST" / "raw"
    prefix = "train" if split == "train" else "t10k"
    found = {}
    for kind in ("images-idx3", "labels-idx1"):
        base = raw / f"{prefix}-{kind}-ubyte"
        cand = [p for p in (base, base.with_name(base.name + ".gz")) if p.is_file()]
        if not cand:
            raise DataSourceError(f"MNIST {split} files not found in {raw}; expected {MNIST_LAYOUT}")
        found[kind] = cand[0]
    images, labels = _read_idx(found["images-idx3"]), _read_idx(found["labels-idx1"]).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DataSourceError(
            f"malformed MNIST files in {raw}: {images.shape} images vs {labels.shape} labels"
        )
    keep = _subsample(labels, n_per_class, seed)
    classes = [ClassInfo(k, str(k)) for k in range(10)]
    return ArraySource("mnist", images[keep][:, :, :, None], labels[keep], classes, size)


CIFAR_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def cifar10_source(
    root: Path, split: str, size: int | None, n_per_class: int | None, seed: int, download: bool
) -> ArraySource:
    if split not in ("train", "test"):
        raise DataSourceError(f"CIFAR-10 has splits 'train' and 'test', not {split!r}")
    if download:
        _torchvision_download("CIFAR10", root, split)
    base = root / "cifar-10-batches-py"
    names = [f"data_batch_{k}" for k in range(1, 6)] if split == "train" else ["test_batch"]
    data, labels = [], []
    for n in names:
        p = base / n
        if not p.is_file():
            raise DataSourceError(f"CIFAR-10 file {p} not found; expected {CIFAR_LAYOUT}")
        try:
            with open(p, "rb") as fh:
                batch = pickle.load(fh, encoding="bytes")
            data.append(
                np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            )
            labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError, TypeError) as exc:
            raise DataSourceError(f"malformed CIFAR-10 file {p}: {exc}") from exc
    lab = np.concatenate(labels)
    keep = _subsample(lab, n_per_class, seed)
    classes = [ClassInfo(k, n) for k, n in enumerate(CIFAR_NAMES)]
    return ArraySource("cifar10", np.concatenate(data)[keep], lab[keep], classes, size)


def imagefolder_source(root: Path, size: int | None, n_per_class: int | None, seed: int) -> FileSource:
    if not root.is_dir():
        raise DataSourceError(f"image folder {root} not found; expected {FOLDER_LAYOUT}")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    paths: list[Path] = []
    labels: list[int] = []
    for cid, d in enumerate(class_dirs):
        files = sorted(f for f in d.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTS)
        paths += files
        labels += [cid] * len(files)
    if not paths:
        raise DataSourceError(f"no images found under {root}; expected {FOLDER_LAYOUT}")
    lab = np.asarray(labels, dtype=np.int64)
    keep = _subsample(lab, n_per_class, seed)
    classes = [ClassInfo(k, d.name) for k, d in enumerate(class_dirs)]
    return FileSource("imagefolder", [paths[i] for i in keep], lab[keep], classes, size=size)


def _torchvision_download(dataset: str, root: Path, split: str) -> None:
    """Only called when the user explicitly asked for --download."""
    try:
        import torchvision.datasets as tvd

        if dataset == "GTSRB":
            tvd.GTSRB(str(root), split=split, download=True)
        else:
            getattr(tvd, dataset)(str(root), train=(split == "train"), download=True)
    except Exception as exc:  # any download failure becomes one clear error
        raise DataSourceError(f"downloading {dataset} into {root} failed: {exc}") from exc
