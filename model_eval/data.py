"""Training data: a ``stimuli`` image source as in-memory tensors, plus the seeds' augmentations.

Every augmentation works on whole NCHW float batches in [0, 1] and takes an explicit generator, so a
seeded run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from stimuli import ImageSource


@dataclass
class TensorData:
    images: torch.Tensor  # N, C, H, W float32 in [0, 1]
    labels: torch.Tensor  # N int64
    classes: list[dict[str, Any]]
    channels: int
    source: str


def load_source(
    name: str, *, root: str | Path | None, split: str, size: int, n_per_class: int | None, seed: int
) -> TensorData:
    """Read a whole image source (synthetic by default) into memory via ``stimuli.get_source``."""
    import stimuli

    kwargs: dict[str, Any] = {"root": root, "split": split, "size": size, "seed": seed}
    if n_per_class is not None:
        kwargs["n_per_class"] = n_per_class
    src = stimuli.get_source(name, **kwargs)
    arr = np.ascontiguousarray(src.images(), dtype=np.float32)
    images = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()
    if images.shape[-1] != size or images.shape[-2] != size:
        images = F.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        ).clamp_(0, 1)
    labels = torch.as_tensor(np.asarray(src.labels), dtype=torch.int64)
    classes = [{"id": int(c.id), "name": str(c.name)} for c in src.classes]
    return TensorData(images, labels, classes, int(src.channels), str(src.name))


def pick_images(
    source: str, *, root: str | None, split: str, n_images: int, size: int, seed: int
) -> tuple[ImageSource, np.ndarray, np.ndarray, list[str]]:
    """``n_images`` images of a source split, spread evenly over the classes (seeded): the source, the
    (N, H, W, C) images, their labels, and a source id per image."""
    import stimuli

    src = stimuli.get_source(source, root=root, split=split, size=size, seed=seed)
    labels = np.asarray(src.labels)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    # round-robin over classes so a few images still cover several classes
    by_class: dict[int, list[int]] = {}
    for i in order:
        by_class.setdefault(int(labels[i]), []).append(int(i))
    picked: list[int] = []
    while len(picked) < min(n_images, len(labels)):
        for lst in by_class.values():
            if lst and len(picked) < n_images:
                picked.append(lst.pop())
    images = src.images(picked)
    return src, images, labels[picked], [f"{src.name}:{split}:{i}" for i in picked]


def split_validation(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded random split of ``range(n)`` into (train indices, validation indices)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = round(n * fraction)
    return perm[n_val:], perm[:n_val]


def negative(images: torch.Tensor) -> torch.Tensor:
    """Hosseini et al.'s negative image: every pixel x becomes 1 - x."""
    return 1.0 - images


def random_translate(images: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each image by an integer number of pixels in [-max_shift, max_shift] per axis (zero fill)."""
    if max_shift <= 0:
        return images
    n, _, h, w = images.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=gen)
    padded = F.pad(images, (max_shift, max_shift, max_shift, max_shift))
    rows = (torch.arange(h).view(1, h) + max_shift - shifts[:, :1]).to(images.device)  # n, h
    cols = (torch.arange(w).view(1, w) + max_shift - shifts[:, 1:]).to(images.device)  # n, w
    idx_n = torch.arange(n, device=images.device).view(n, 1, 1)
    out = padded.permute(0, 2, 3, 1)[idx_n, rows.view(n, h, 1), cols.view(n, 1, w)]
    return out.permute(0, 3, 1, 2).contiguous()


def random_reflect(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = (torch.rand(images.shape[0], generator=gen) < 0.5).to(images.device)
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def noisy_copies(
    images: torch.Tensor, labels: torch.Tensor, copies: int, sigmas: list[float], seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``copies`` noisy versions of every image, each at a sigma drawn from ``sigmas`` (mixed SNR).

    Uses stimuli's Gaussian-noise transform (sigma on the 0-255 scale), never a re-implementation.
    """
    from stimuli.transforms import gaussian_noise

    rng = np.random.default_rng(seed)
    arr = images.permute(0, 2, 3, 1).numpy()
    out = np.empty((copies * len(arr), *arr.shape[1:]), dtype=np.float32)
    for c in range(copies):
        for i, img in enumerate(arr):
            out[c * len(arr) + i] = gaussian_noise(img, float(rng.choice(sigmas)), rng)[0]
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous(), labels.repeat(copies)


def equalize_histogram_batch(images: torch.Tensor) -> torch.Tensor:
    """Per-image, per-channel histogram equalisation on the 8-bit grid, batched (NCHW in [0, 1]).

    The same mapping as ``stimuli.transforms.equalize_histogram`` (one image at a time in numpy), so a
    network trained on equalised images sees the same input in training and in prediction.
    """
    n_img, c, h, w = images.shape
    x = images.float()
    q = torch.round(x.clamp(0, 1) * 255.0).long().view(n_img, c, h * w)
    hist = torch.zeros(n_img, c, 256, dtype=torch.float64, device=x.device)
    hist.scatter_add_(2, q, torch.ones_like(q, dtype=torch.float64))
    cdf = hist.cumsum(2)
    n = float(h * w)
    cdf_min = torch.where(hist > 0, cdf, torch.full_like(cdf, n)).min(2, keepdim=True).values
    lut = torch.round((cdf - cdf_min) / (n - cdf_min).clamp_min(1.0) * 255.0) / 255.0
    out = lut.gather(2, q).clamp(0, 1).to(x.dtype)
    constant = (cdf_min == n).expand_as(out)  # one grey level: nothing to spread
    out = torch.where(constant, x.view(n_img, c, h * w), out)
    return out.view(n_img, c, h, w).to(images.dtype)
