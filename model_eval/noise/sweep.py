"""Noise robustness (Aghdam et al. 2016): accuracy, confidence and per-class precision/recall vs sigma/PSNR.

The paper degrades every test image with Gaussian noise 150 times per sigma (0-255 scale) and plots every
noisy sample's PSNR against its score. The sweep does the same on the device: noise is drawn, added,
clipped to [0, 1] and scored in whole batches (no Python loop per image), and every sample's sigma,
image, prediction, true-class score and PSNR is kept (:class:`NoiseSamples`). Noise and PSNR follow
``stimuli.transforms.gaussian_noise`` and ``psnr`` (clip(x + N(0, sigma / 255)); 10 log10(255^2 / MSE)),
so the sweep degrades images as the noise stimulus sets do, drawn from torch's generator instead of
numpy's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from model_eval.reproduce.papers.aghdam import AGHDAM_SIGMAS
from model_eval.runtime.device import autocast, to_device

SIGMAS = AGHDAM_SIGMAS


@dataclass
class NoiseSamples:
    """Every noisy sample of a sweep, one entry per (sigma, draw, image) in that order."""

    sigma: np.ndarray  # float32
    image: np.ndarray  # int32 index into the swept images
    label: np.ndarray  # int16
    pred: np.ndarray  # int16
    score: np.ndarray  # float32 softmax score of the true label (the paper's scatter y)
    psnr: np.ndarray  # float32 dB; inf where the noisy image equals the clean one

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {k: getattr(self, k) for k in ("sigma", "image", "label", "pred", "score", "psnr")}
        )

    def save(self, path: Path) -> None:
        """A compressed npz (a CSV of millions of rows would be larger than the report)."""
        np.savez_compressed(path, **{k: v for k, v in self.frame().items()})


@dataclass
class NoiseSweep:
    summary: pd.DataFrame  # one row per sigma: sigma, psnr_mean, psnr_std, accuracy, mean_confidence, n
    per_class: pd.DataFrame  # one row per (sigma, class): precision, recall, support
    pooled: pd.DataFrame  # one row per class: precision, recall, support over the whole noisy set
    samples: NoiseSamples

    @property
    def noisy_accuracy(self) -> float:
        """Top-1 accuracy over the whole noisy set (every sigma > 0, every draw): the paper's headline."""
        noisy = self.samples.sigma > 0
        return (
            float((self.samples.pred[noisy] == self.samples.label[noisy]).mean()) if noisy.any() else math.nan
        )


def noise_sweep(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int,
    sigmas: tuple[float, ...] = SIGMAS,
    draws: int = 1,
    seed: int = 0,
    device: torch.device | None = None,
    batch_size: int = 1024,
    progress: bool = True,
) -> NoiseSweep:
    """Accuracy, per-class precision/recall and mean confidence per sigma, ``draws`` noisy copies of
    every (N, H, W, C) image per sigma (sigma 0 is the clean set, scored once)."""
    if draws < 1:
        raise ValueError("draws must be >= 1")
    device = device or next(model.parameters()).device
    model.eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2).to(device)
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=device)
    n = len(x)
    per_batch = max(1, batch_size // max(n, 1))  # draws per forward (each forward holds whole draws)
    chunks: list[tuple[float, int]] = []
    for sigma in sigmas:
        k = 1 if sigma == 0 else draws
        chunks += [(float(sigma), min(per_batch, k - d)) for d in range(0, k, per_batch)]
    parts: dict[str, list[torch.Tensor]] = {
        k: [] for k in ("sigma", "image", "pred", "score", "psnr", "conf")
    }
    with torch.inference_mode():
        for sigma, k in tqdm(chunks, desc="noise sweep", disable=not progress, leave=False):
            rep_all = x.repeat(k, 1, 1, 1) if k > 1 else x
            idx_all = torch.arange(n, device=device).repeat(k)
            for s in range(0, n * k, batch_size):
                rep, idx = rep_all[s : s + batch_size], idx_all[s : s + batch_size]
                noise = torch.randn(rep.shape, generator=gen, device=device) * (sigma / 255.0)
                noisy = (rep + noise).clamp_(0, 1) if sigma > 0 else rep
                mse = ((noisy - rep) * 255.0).pow(2).flatten(1).mean(1)
                with autocast(device):
                    probs = F.softmax(model(to_device(noisy, device)).float(), dim=1)
                parts["sigma"].append(torch.full((len(idx),), sigma, device=device))
                parts["image"].append(idx)
                parts["pred"].append(probs.argmax(1))
                parts["score"].append(probs.gather(1, y[idx][:, None]).squeeze(1))
                parts["conf"].append(probs.max(1).values)
                parts["psnr"].append(10 * torch.log10(255.0**2 / mse))
    cat = {k: torch.cat(v).cpu().numpy() if v else np.zeros(0) for k, v in parts.items()}
    image = cat["image"].astype(np.int32)
    samples = NoiseSamples(
        cat["sigma"].astype(np.float32),
        image,
        np.asarray(labels)[image].astype(np.int16),
        cat["pred"].astype(np.int16),
        cat["score"].astype(np.float32),
        cat["psnr"].astype(np.float32),
    )
    rows, class_rows = [], []
    for sigma in sigmas:
        at = samples.sigma == np.float32(sigma)
        pred, true, psnrs = samples.pred[at], samples.label[at], samples.psnr[at]
        finite = psnrs[np.isfinite(psnrs)]
        rows.append(
            {
                "sigma": float(sigma),
                "psnr_mean": float(finite.mean()) if finite.size else np.inf,
                "psnr_std": float(finite.std()) if finite.size else 0.0,
                "accuracy": float((pred == true).mean()),
                "mean_confidence": float(cat["conf"][at].mean()),
                "n": int(at.sum()),
            }
        )
        class_rows += [{"sigma": float(sigma), **r} for r in precision_recall(pred, true, num_classes)]
    noisy = samples.sigma > 0
    pooled = precision_recall(samples.pred[noisy], samples.label[noisy], num_classes) if noisy.any() else []
    return NoiseSweep(pd.DataFrame(rows), pd.DataFrame(class_rows), pd.DataFrame(pooled), samples)


def precision_recall(pred: np.ndarray, y: np.ndarray, num_classes: int) -> list[dict[str, float]]:
    """Per-class precision and recall (NaN where a class is never predicted / never present)."""
    out = []
    for c in range(num_classes):
        tp = int(((pred == c) & (y == c)).sum())
        predicted, support = int((pred == c).sum()), int((y == c).sum())
        out.append(
            {
                "class": c,
                "precision": tp / predicted if predicted else np.nan,
                "recall": tp / support if support else np.nan,
                "support": support,
            }
        )
    return out
