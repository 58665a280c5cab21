"""The one small interface every image source implements (synthetic signs, GTSRB, MNIST, CIFAR-10, folders).

Image convention (stated once for the whole package): numpy float32, RGB, HWC, values in [0, 1];
sources with one channel (MNIST) give HxWx1.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from .classes import ClassInfo


class ImageSource(ABC):
    """A labelled, indexable collection of images with a closed set of classes."""

    name: str = "source"
    channels: int = 3

    def __init__(self, labels: np.ndarray, classes: list[ClassInfo]) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.classes = list(classes)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        n = len(self)
        if not isinstance(i, int | np.integer):
            raise TypeError(f"index must be an int, got {type(i).__name__}")
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for {self.name} with {n} images")
        return self._load(int(i)), int(self.labels[i])

    @abstractmethod
    def _load(self, i: int) -> np.ndarray:
        """Image i as float32 HxWxC in [0, 1]."""

    def images(self, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """A batch (N, H, W, C) float32; subclasses override this when they have a faster path."""
        idx = range(len(self)) if indices is None else [int(i) for i in indices]
        imgs = [self[i][0] for i in idx]
        if not imgs:
            return np.zeros((0, 0, 0, self.channels), dtype=np.float32)
        shapes = {im.shape for im in imgs}
        if len(shapes) > 1:
            raise ValueError(
                f"{self.name}: images differ in size {sorted(shapes)[:3]}; pass size= to get_source"
            )
        return np.stack(imgs).astype(np.float32, copy=False)

    def indices_of_class(self, class_id: int) -> np.ndarray:
        return np.flatnonzero(self.labels == class_id)

    def legend_image(self, class_id: int) -> np.ndarray:
        """One clear representative image of the class, picked among its first 50 images as the best
        combined rank of sharpness (variance of the Laplacian) and typicality (closeness to the class
        mean)."""
        idx = self.indices_of_class(class_id)
        if idx.size == 0:
            raise ValueError(f"{self.name} has no image of class {class_id}")
        imgs = [self[int(i)][0] for i in idx[:50]]
        sharp = np.array([sharpness(im) for im in imgs])
        if len({im.shape for im in imgs}) == 1:
            stack = np.stack(imgs).reshape(len(imgs), -1)
            typical = -np.linalg.norm(stack - stack.mean(axis=0), axis=1)
        else:  # native-size images cannot be averaged: sharpness alone
            typical = np.zeros(len(imgs))
        score = np.argsort(np.argsort(sharp)) + np.argsort(np.argsort(typical))
        return imgs[int(np.argmax(score))]


def sharpness(img: np.ndarray) -> float:
    """Variance of the discrete Laplacian of the luma: a standard focus measure (higher = sharper)."""
    g = img.mean(axis=2) if img.ndim == 3 else img
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var()) if lap.size else 0.0


def stratified_indices(
    labels: np.ndarray, n_per_class: int, rng: np.random.Generator, exclude: np.ndarray | None = None
) -> np.ndarray:
    """n_per_class indices drawn without replacement from every class present (sorted, seeded)."""
    if n_per_class < 0:
        raise ValueError(f"n_per_class must be >= 0, got {n_per_class}")
    labels = np.asarray(labels)
    mask = np.ones(labels.shape[0], dtype=bool)
    if exclude is not None and len(exclude):
        mask[np.asarray(exclude, dtype=np.int64)] = False
    chosen = []
    for c in np.unique(labels):
        pool = np.flatnonzero((labels == c) & mask)
        if pool.size < n_per_class:
            raise ValueError(f"class {int(c)} has only {pool.size} images available, {n_per_class} requested")
        chosen.append(rng.choice(pool, size=n_per_class, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
