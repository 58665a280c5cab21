"""get_source: one entry point for every image source (synthetic signs, GTSRB, MNIST, CIFAR-10, folders)."""

from __future__ import annotations

from pathlib import Path

from .base import ImageSource
from .errors import DataSourceError
from .readers import cifar10_source, gtsrb_source, imagefolder_source, mnist_source
from .synthetic import SyntheticSigns

SOURCE_NAMES = ("synthetic", "gtsrb", "mnist", "cifar10", "imagefolder")


def get_source(
    name: str = "synthetic",
    *,
    root: str | Path | None = None,
    split: str = "train",
    size: int | None = 32,
    n_per_class: int | None = None,
    seed: int = 0,
    roi_crop: bool = False,
    download: bool = False,
) -> ImageSource:
    """The image source `name`; real data sets are read from `root` and never downloaded unless download=True.

    size: images are resized to size x size (None keeps the native size of fixed-size sets such as MNIST).
    """
    if name not in SOURCE_NAMES:
        raise DataSourceError(f"unknown source {name!r}; choose one of {', '.join(SOURCE_NAMES)}")
    if size is not None and (not isinstance(size, int) or not 8 <= size <= 1024):
        raise ValueError(f"size must be an int in 8..1024 or None, got {size!r}")
    if n_per_class is not None and int(n_per_class) < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    if name == "synthetic":
        return SyntheticSigns(
            split=split, size=32 if size is None else size, n_per_class=n_per_class, seed=seed
        )
    if root is None:
        raise DataSourceError(
            f"source {name!r} reads from disk: pass root= (--root) pointing at the data set"
        )
    path = Path(root).expanduser()
    if not path.exists() and not download:
        raise DataSourceError(
            f"data root {path} does not exist (nothing is downloaded unless you pass --download)"
        )
    if name == "gtsrb":
        return gtsrb_source(path, split, size, n_per_class, seed, roi_crop, download)
    if roi_crop:
        raise ValueError("roi_crop is only available for GTSRB (its annotation files carry the ROI)")
    if name == "mnist":
        return mnist_source(path, split, size, n_per_class, seed, download)
    if name == "cifar10":
        return cifar10_source(path, split, size, n_per_class, seed, download)
    return imagefolder_source(path, size, n_per_class, seed)
