"""Load the data of a training run (torchvision reference script's ``load_data``).

Reads the source once, converts it to gray when asked, holds out a per-class stratified validation
split, and builds the training set the configuration asks for: regular images (plus optional extra
negatives and noisy copies), or N negatives only. The validation images are kept regular; the
negative evaluation set is their negatives, so both accuracies are measured on held-out images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from model_eval.data import TensorData, load_source, negative, noisy_copies

if TYPE_CHECKING:
    from model_eval.training.loop import TrainConfig

LUMA_601 = (0.299, 0.587, 0.114)  # ITU-R BT.601, the weights stimuli.transforms.grayscale uses


@dataclass
class TrainingData:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor  # regular validation images (held out)
    y_val: torch.Tensor
    classes: list[dict[str, Any]]
    channels: int  # channels the network sees (1 for gray)
    source: str
    negatives_only: bool

    @property
    def x_val_negative(self) -> torch.Tensor:
        return negative(self.x_val)


def to_gray(images: torch.Tensor) -> torch.Tensor:
    """NCHW RGB -> N1HW luma (BT.601, as stimuli's grayscale); 1-channel input is returned unchanged."""
    if images.shape[1] == 1:
        return images
    w = torch.tensor(LUMA_601, dtype=images.dtype).view(1, 3, 1, 1)
    return (images * w).sum(1, keepdim=True).clamp_(0, 1)


def stratified_split(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Hold out ``fraction`` of every class (rounded, at least one image of a class with two or more).

    Returns sorted (train indices, validation indices); seeded, so a resumed run gets the same split.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    gen = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_val = round(len(idx) * fraction)
        if fraction > 0 and n_val == 0 and len(idx) >= 2:
            n_val = 1
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return torch.sort(torch.cat(train)).values, torch.sort(torch.cat(val)).values


def spread_over_classes(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``n`` indices of ``labels`` taken round-robin over the classes in a seeded order (all if n >= len)."""
    gen = torch.Generator().manual_seed(seed)
    members = [torch.nonzero(labels == c).flatten() for c in torch.unique(labels).tolist()]
    queues: list[list[int]] = [q[torch.randperm(len(q), generator=gen)].tolist() for q in members]
    picked: list[int] = []
    while len(picked) < min(n, len(labels)):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop())
    return torch.tensor(picked, dtype=torch.long)


def training_set(cfg: TrainConfig, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The images a run trains on, from the training split (x, y)."""
    if cfg.negatives_only:
        n = len(x) if cfg.n_negatives is None else cfg.n_negatives
        pick = spread_over_classes(y, n, cfg.seed + 1)
        return negative(x[pick]), y[pick]
    parts_x, parts_y = [x], [y]
    if cfg.negatives > 0:
        pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(cfg.seed + 1))
        pick = pick.repeat(math.ceil(cfg.negatives / len(x)))[: cfg.negatives]
        parts_x.append(negative(x[pick]))
        parts_y.append(y[pick])
    if cfg.noise_copies > 0:
        nx, ny = noisy_copies(x, y, cfg.noise_copies, cfg.noise_sigmas, cfg.seed + 2)
        parts_x.append(nx)
        parts_y.append(ny)
    return torch.cat(parts_x), torch.cat(parts_y)


def load_data(cfg: TrainConfig, input_size: int, source_data: TensorData | None = None) -> TrainingData:
    """Everything one training run needs, in memory (``source_data`` skips re-reading the source)."""
    data = source_data or load_source(
        cfg.source, root=cfg.root, split="train", size=input_size, n_per_class=cfg.n_per_class, seed=cfg.seed
    )
    images = to_gray(data.images) if cfg.gray else data.images
    tr_idx, va_idx = stratified_split(data.labels, cfg.val_fraction, cfg.seed)
    x_train, y_train = training_set(cfg, images[tr_idx], data.labels[tr_idx])
    return TrainingData(
        x_train,
        y_train,
        images[va_idx],
        data.labels[va_idx],
        data.classes,
        int(images.shape[1]),
        data.source,
        cfg.negatives_only,
    )
