"""Fragile recognition images (Srivastava et al. 2019): correctness maps and the four FRI maps.

Definitions (all coordinates are pixels of the analysed image, H x W, CHW float in [0, 1]):

* A *region* of side ``s`` at ``(x, y)`` is the square crop ``image[:, y:y+s, x:x+s]``; regions lie
  at every ``x in 0..W-s`` and ``y in 0..H-s`` (stride 1 by default; with a larger stride the map is
  reported only at the stride's grid, but neighbours are still the 1-px ones).
* Each crop is resized to the network input (``out`` x ``out``) by bilinear sampling at the centres of
  an ``out`` x ``out`` grid of bins over the region: output ``j`` reads image coordinate
  ``x + (j + 0.5) * s / out - 0.5`` (torchvision's ``roi_align`` with ``aligned=True`` and one sample
  per bin; coordinates are clamped to the image). When the region is at least as large as the input
  (``s >= out``) this is exactly :func:`torch.nn.functional.interpolate` of the cut-out region
  (bilinear, ``align_corners=False``, no antialiasing); when it is smaller, the output pixels that
  sample within half a source pixel of the region's border blend in its surroundings where
  ``interpolate`` would clamp to the region's edge. The crop is then classified; the *correctness
  map* ``C_s[y, x]`` says whether the top-1 class equals the image's label (with ``topk=5``: whether
  the label is among the five most probable classes, the ImageNet top-5 criterion).
* *Shift* changes of a region: the four crops of the same side moved by one pixel
  (``(x±1, y)``, ``(x, y±1)``), those that lie inside the image.
* *Shrink* changes of a region: the nine crops of side ``s-2`` inside it, at ``(x+dx, y+dy)`` with
  ``dx, dy in {0, 1, 2}`` (map ``C_{s-2}``).
* A change *flips* a region when its correctness differs from the region's, in either direction
  (correct -> incorrect or incorrect -> correct). A region is a *loose* FRI if at least one of its
  changes flips it and a *strict* FRI if it has changes and every one of them flips it.

Crops are cut and resized for a whole batch at once by one ``roi_align`` call on the device (there is
no Python loop per crop), and the batch's answers stay on the device until the map is done (one
transfer per map, not per batch). On CUDA the network runs in bf16 autocast on channels-last batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from model_eval.runtime.device import autocast, to_device

FRI_KINDS = ("loose_shift", "strict_shift", "loose_shrink", "strict_shrink")


def extract_crops(
    image: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, side: int, out: int
) -> torch.Tensor:
    """Square crops of ``side`` at top-left ``(xs[i], ys[i])`` of a CHW image, resized: (n, C, out, out).

    One batched ``roi_align`` (see the module docstring for the sampling it does).
    """
    _, h, w = image.shape
    if side < 1 or side > min(h, w):
        raise ValueError(f"crop side {side} does not fit a {h}x{w} image")
    dev = image.device
    x0 = xs.to(dev).view(-1).to(image.dtype)
    y0 = ys.to(dev).view(-1).to(image.dtype)
    boxes = torch.stack([torch.zeros_like(x0), x0, y0, x0 + side, y0 + side], dim=1)
    return roi_align(
        image.unsqueeze(0), boxes, output_size=out, spatial_scale=1.0, sampling_ratio=1, aligned=True
    )


@dataclass
class CropPredictions:
    """Top-1 class and probability of the true class for every region of one side (full grid)."""

    side: int
    pred: np.ndarray  # (H-side+1, W-side+1) int64, -1 where not computed
    prob_true: np.ndarray  # float32, nan where not computed
    label: int
    topk: int = 1
    rank_true: np.ndarray | None = None  # classes more probable than the label; -1 where not computed

    @property
    def correct(self) -> np.ndarray:
        if self.topk == 1 or self.rank_true is None:
            return self.pred == self.label
        return (self.rank_true >= 0) & (self.rank_true < self.topk)


def true_class_rank(probs: torch.Tensor, label: int) -> torch.Tensor:
    """How many classes each row ranks strictly above ``label`` (0: the label is the top-1 class)."""
    return (probs > probs[:, label : label + 1]).sum(1)


def is_correct(probs: torch.Tensor, label: int, topk: int = 1) -> torch.Tensor:
    """Top-k correctness of each row of class probabilities (top-1: argmax, as :class:`CropPredictions`)."""
    if topk == 1:
        return probs.argmax(1) == label
    return true_class_rank(probs, label) < topk


def classify_crops(
    model: nn.Module,
    image: torch.Tensor,
    label: int,
    side: int,
    *,
    positions: np.ndarray | None = None,
    batch_size: int = 512,
    device: torch.device | None = None,
    topk: int = 1,
) -> CropPredictions:
    """Classify the crops of ``side`` at ``positions`` ((n, 2) array of (y, x); default every position)."""
    if topk < 1:
        raise ValueError(f"topk must be >= 1, got {topk}")
    device = device or next(model.parameters()).device
    input_size = int(getattr(model, "input_size", image.shape[-1]))
    h, w = image.shape[-2:]
    ny, nx = h - side + 1, w - side + 1
    if positions is None:
        yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        positions = np.stack([yy.ravel(), xx.ravel()], axis=1)
    pred = np.full((ny, nx), -1, dtype=np.int64)
    prob = np.full((ny, nx), np.nan, dtype=np.float32)
    rank = np.full((ny, nx), -1, dtype=np.int64)
    img = image.to(device=device, dtype=torch.float32)
    pos = torch.as_tensor(positions, dtype=torch.long)
    pos_dev = pos.to(device)
    tops, pts, ranks = [], [], []
    with torch.inference_mode():
        for s in range(0, len(pos), batch_size):
            p = pos_dev[s : s + batch_size]
            crops = extract_crops(img, p[:, 1], p[:, 0], side, input_size)
            with autocast(device):
                logits = model(to_device(crops, device))
            probs = F.softmax(logits.float(), dim=1)
            tops.append(probs.argmax(1))
            pts.append(probs[:, label])
            if topk > 1:
                ranks.append(true_class_rank(probs, label))
        if tops:  # one device-to-host transfer per map
            pn = pos.numpy()
            pred[pn[:, 0], pn[:, 1]] = torch.cat(tops).cpu().numpy()
            prob[pn[:, 0], pn[:, 1]] = torch.cat(pts).cpu().numpy()
            if topk > 1:
                rank[pn[:, 0], pn[:, 1]] = torch.cat(ranks).cpu().numpy()
    return CropPredictions(side, pred, prob, label, topk, rank if topk > 1 else None)


def derive_fri_maps(correct: np.ndarray, correct_small: np.ndarray) -> dict[str, np.ndarray]:
    """The four FRI maps from the correctness maps at side s (ny, nx) and s-2 (ny+2, nx+2).

    Pure logic on boolean arrays (see the module docstring for the definitions).
    """
    c = np.asarray(correct, dtype=bool)
    cs = np.asarray(correct_small, dtype=bool)
    ny, nx = c.shape
    if cs.shape != (ny + 2, nx + 2):
        raise ValueError(f"shrink map must be {(ny + 2, nx + 2)} for a {c.shape} map, got {cs.shape}")
    flips = np.zeros((ny, nx), dtype=np.int64)
    count = np.zeros((ny, nx), dtype=np.int64)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        valid = np.zeros((ny, nx), dtype=bool)
        valid[max(0, -dy) : ny - max(0, dy), max(0, -dx) : nx - max(0, dx)] = True
        shifted = np.zeros((ny, nx), dtype=bool)
        shifted[valid] = c[max(0, dy) : ny + min(0, dy), max(0, dx) : nx + min(0, dx)].ravel()
        count += valid
        flips += valid & (shifted != c)
    shrink_flips = np.zeros((ny, nx), dtype=np.int64)
    for dy in range(3):
        for dx in range(3):
            shrink_flips += cs[dy : dy + ny, dx : dx + nx] != c
    return {
        "loose_shift": flips > 0,
        "strict_shift": (count > 0) & (flips == count),
        "loose_shrink": shrink_flips > 0,
        "strict_shrink": shrink_flips == 9,
    }


@dataclass
class FriResult:
    """Maps of one image at one region side (position grid subsampled by ``stride``)."""

    side: int
    ratio: float
    stride: int
    regions: CropPredictions
    shrunk: CropPredictions
    maps: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def fractions(self) -> dict[str, float]:
        out = {k: float(v.mean()) if v.size else float("nan") for k, v in self.maps.items()}
        out["correct"] = float(self.correct_map.mean()) if self.correct_map.size else float("nan")
        return out

    @property
    def correct_map(self) -> np.ndarray:
        return self.regions.correct[:: self.stride, :: self.stride]


def needed_positions(ny: int, nx: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of side-s crops (regions + 1-px neighbours) and side-(s-2) crops a stride grid needs."""
    gy, gx = np.meshgrid(np.arange(0, ny, stride), np.arange(0, nx, stride), indexing="ij")
    grid = np.stack([gy.ravel(), gx.ravel()], axis=1)
    if stride == 1:
        big = grid
    else:
        moves = np.array([[0, 0], [0, 1], [0, -1], [1, 0], [-1, 0]])
        big = (grid[:, None, :] + moves[None]).reshape(-1, 2)
        big = big[(big[:, 0] >= 0) & (big[:, 0] < ny) & (big[:, 1] >= 0) & (big[:, 1] < nx)]
        big = np.unique(big, axis=0)
    offs = np.array([[dy, dx] for dy in range(3) for dx in range(3)])
    small = np.unique((grid[:, None, :] + offs[None]).reshape(-1, 2), axis=0)
    return big, small


def fri_for_side(
    model: nn.Module,
    image: torch.Tensor,
    label: int,
    side: int,
    *,
    stride: int = 1,
    ratio: float = float("nan"),
    batch_size: int = 512,
    device: torch.device | None = None,
    topk: int = 1,
) -> FriResult:
    """Correctness maps at ``side`` and ``side - 2`` and the four FRI maps of one image."""
    h, w = image.shape[-2:]
    if side < 3 or side > min(h, w):
        raise ValueError(f"region side must be in 3..{min(h, w)}, got {side}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    ny, nx = h - side + 1, w - side + 1
    big, small = needed_positions(ny, nx, stride)
    regions = classify_crops(
        model, image, label, side, positions=big, batch_size=batch_size, device=device, topk=topk
    )
    shrunk = classify_crops(
        model, image, label, side - 2, positions=small, batch_size=batch_size, device=device, topk=topk
    )
    maps = {k: v[::stride, ::stride] for k, v in derive_fri_maps(regions.correct, shrunk.correct).items()}
    return FriResult(side, ratio, stride, regions, shrunk, maps)


def side_for_ratio(ratio: float, image_side: int) -> int:
    """Region side for a proportion of the image side (rounded, at least 3)."""
    if not 0 < ratio <= 1:
        raise ValueError(f"region ratio must be in (0, 1], got {ratio}")
    return max(3, round(ratio * image_side))
