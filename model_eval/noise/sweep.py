"""Noise robustness (Aghdam et al. 2016): accuracy, confidence and per-class precision/recall vs sigma/PSNR.

Noise and PSNR come from ``stimuli.transforms`` (sigma on the 0-255 scale), so the sweep degrades
images exactly as the noise stimulus sets do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from model_eval.reproduce.papers.aghdam import AGHDAM_SIGMAS
from model_eval.runtime.device import autocast, to_device

SIGMAS = AGHDAM_SIGMAS


def _predict(model: nn.Module, x: np.ndarray, device: torch.device, batch_size: int) -> np.ndarray:
    """Softmax probabilities of an (N, H, W, C) float batch."""
    out = []
    with torch.inference_mode():
        for s in range(0, len(x), batch_size):
            t = torch.from_numpy(np.ascontiguousarray(x[s : s + batch_size])).permute(0, 3, 1, 2)
            with autocast(device):
                logits = model(to_device(t, device))
            out.append(F.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


@dataclass
class NoiseSweep:
    summary: pd.DataFrame  # one row per sigma: sigma, psnr_mean, psnr_std, accuracy, mean_confidence, n
    per_class: pd.DataFrame  # one row per (sigma, class): precision, recall, support
    pooled: pd.DataFrame  # one row per class: precision, recall, support over the whole noisy set


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
    batch_size: int = 256,
    progress: bool = True,
) -> NoiseSweep:
    """Accuracy, per-class precision/recall, mean confidence per sigma (``draws`` noisy copies each)."""
    from stimuli.transforms import gaussian_noise

    device = device or next(model.parameters()).device
    model.eval()
    rng = np.random.default_rng(seed)  # pooled precision/recall: over every sigma > 0 (the noisy set)
    labels = np.asarray(labels, dtype=np.int64)
    rows, class_rows = [], []
    all_pred, all_true = [], []
    for sigma in tqdm(sigmas, desc="noise sweep", disable=not progress, leave=False):
        noisy, psnrs = [], []
        for _ in range(draws):
            for img in images:
                n, p = gaussian_noise(img, float(sigma), rng)
                noisy.append(n)
                psnrs.append(p)
        probs = _predict(model, np.stack(noisy), device, batch_size)
        y = np.tile(labels, draws)
        pred = probs.argmax(1)
        if sigma > 0:
            all_pred.append(pred)
            all_true.append(y)
        finite = np.asarray(psnrs)[np.isfinite(psnrs)]
        rows.append(
            {
                "sigma": float(sigma),
                "psnr_mean": float(finite.mean()) if finite.size else np.inf,
                "psnr_std": float(finite.std()) if finite.size else 0.0,
                "accuracy": float((pred == y).mean()),
                "mean_confidence": float(probs.max(1).mean()),
                "n": len(y),
            }
        )
        class_rows += [{"sigma": float(sigma), **r} for r in _precision_recall(pred, y, num_classes)]
    pooled = (
        _precision_recall(np.concatenate(all_pred), np.concatenate(all_true), num_classes) if all_pred else []
    )
    return NoiseSweep(pd.DataFrame(rows), pd.DataFrame(class_rows), pd.DataFrame(pooled))


def _precision_recall(pred: np.ndarray, y: np.ndarray, num_classes: int) -> list[dict[str, float]]:
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
