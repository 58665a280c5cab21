"""Noise robustness (Aghdam et al. 2016): accuracy vs sigma/PSNR, and the minimum-noise search.

Noise and PSNR come from ``stimuli.transforms`` (sigma on the 0-255 scale), so the sweep degrades
images exactly as the noise stimulus sets do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from model_eval.device import autocast, to_device

SIGMAS = (1, 2, 4, 8, 10, 14, 18, 20, 25, 30, 35, 40)


def _predict(model: nn.Module, x: np.ndarray, device: torch.device, batch_size: int) -> np.ndarray:
    """Softmax probabilities of an (N, H, W, C) float batch."""
    out = []
    with torch.inference_mode():
        for s in range(0, len(x), batch_size):
            t = torch.from_numpy(np.ascontiguousarray(x[s: s + batch_size])).permute(0, 3, 1, 2)
            with autocast(device):
                logits = model(to_device(t, device))
            out.append(F.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


@dataclass
class NoiseSweep:
    summary: pd.DataFrame  # one row per sigma: sigma, psnr_mean, psnr_std, accuracy, mean_confidence, n
    per_class: pd.DataFrame  # one row per (sigma, class): precision, recall, support


def noise_sweep(model: nn.Module, images: np.ndarray, labels: np.ndarray, *, num_classes: int,
                sigmas: tuple[float, ...] = SIGMAS, draws: int = 1, seed: int = 0,
                device: torch.device | None = None, batch_size: int = 256,
                progress: bool = True) -> NoiseSweep:
    """Accuracy, per-class precision/recall, mean confidence per sigma (``draws`` noisy copies each)."""
    from stimuli.transforms import gaussian_noise

    device = device or next(model.parameters()).device
    model.eval()
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, dtype=np.int64)
    rows, class_rows = [], []
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
        finite = np.asarray(psnrs)[np.isfinite(psnrs)]
        rows.append({"sigma": float(sigma), "psnr_mean": float(finite.mean()) if finite.size else np.inf,
                     "psnr_std": float(finite.std()) if finite.size else 0.0,
                     "accuracy": float((pred == y).mean()), "mean_confidence": float(probs.max(1).mean()),
                     "n": len(y)})
        for c in range(num_classes):
            tp = int(((pred == c) & (y == c)).sum())
            predicted, support = int((pred == c).sum()), int((y == c).sum())
            class_rows.append({"sigma": float(sigma), "class": c,
                               "precision": tp / predicted if predicted else np.nan,
                               "recall": tp / support if support else np.nan, "support": support})
    return NoiseSweep(pd.DataFrame(rows), pd.DataFrame(class_rows))


@dataclass
class GAConfig:
    """Evolutionary minimum-noise search settings (Aghdam et al. 2016)."""

    population: int = 40
    max_iterations: int = 500
    patience: int = 50  # stop after this many iterations without improvement
    tournament: int = 5
    elite: int = 2
    crossover_rate: float = 0.9
    mutation_rate: float = 0.05  # per gene
    mutation_sigma: float = 0.02  # on the [0, 1] scale
    init_sigma: float = 0.15  # initial noise sigmas spread over (0, init_sigma]
    lam: float = 0.05  # weight of ||r|| in the fitness
    kappa: float = 0.0  # psi = max(margin, -kappa)


@dataclass
class MinimumNoise:
    perturbation: np.ndarray  # r = clip(x + genes) - x, CHW
    norm: float  # ||r||_2 on the [0, 1] scale
    psnr: float
    margin: float  # logit of the true class minus the best other logit (< 0: misclassified)
    misclassified: bool
    predicted: int
    iterations: int
    history: list[float] = field(default_factory=list)  # best fitness per iteration


def _margins(logits: torch.Tensor, label: int) -> torch.Tensor:
    other = logits.clone()
    other[:, label] = -torch.inf
    return logits[:, label] - other.max(1).values


def minimum_noise_search(model: nn.Module, image: torch.Tensor, label: int, *, config: GAConfig | None = None,
                         seed: int = 0, device: torch.device | None = None,
                         progress: bool = False) -> MinimumNoise:
    """Evolve the smallest additive noise that makes ``model`` misclassify ``image`` (CHW in [0, 1]).

    Genes are the real-valued pixels of r. Fitness (minimised) is psi(L, c) + lam * ||r||, with
    psi = max(L_c - max_{j != c} L_j, -kappa), which is <= 0 once the image is misclassified. Each
    generation: elitism (the best ``elite`` survive unchanged), tournament selection of size 5,
    crossover picked at random among arithmetic (one alpha), intermediate (alpha per gene in
    [-0.25, 1.25]) and uniform (per-gene coin), then Gaussian mutation per gene. The whole population
    is evaluated in one forward pass.
    """
    from stimuli.transforms import psnr

    cfg = config or GAConfig()
    if cfg.population < max(cfg.tournament, cfg.elite + 1):
        raise ValueError("population must exceed the tournament size and the elite count")
    device = device or next(model.parameters()).device
    model.eval()
    gen = torch.Generator(device="cpu").manual_seed(seed)
    x = image.to(device=device, dtype=torch.float32)
    p, shape = cfg.population, x.shape

    def randn(*s: int) -> torch.Tensor:
        return torch.randn(*s, generator=gen).to(device)

    def rand(*s: int) -> torch.Tensor:
        return torch.rand(*s, generator=gen).to(device)

    def evaluate(genes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r = (x + genes).clamp(0, 1) - x  # only realisable perturbations count
        with torch.inference_mode(), autocast(device):
            logits = model(to_device(x + r, device)).float()
        margin = _margins(logits, label)
        fit = margin.clamp_min(-cfg.kappa) + cfg.lam * r.flatten(1).norm(dim=1)
        return r, fit, margin

    sig = torch.linspace(cfg.init_sigma / p, cfg.init_sigma, p, device=device).view(p, *([1] * len(shape)))
    genes, fit, margin = evaluate(randn(p, *shape) * sig)
    best_fit, stale, history, it = float(fit.min()), 0, [], 0
    bar = tqdm(range(cfg.max_iterations), desc="minimum noise", disable=not progress, leave=False)
    for it in bar:  # noqa: B007 - `it` is reported
        order = torch.argsort(fit)
        elite = genes[order[: cfg.elite]]
        n_child = p - cfg.elite

        def tournament(n: int, fit: torch.Tensor = fit) -> torch.Tensor:
            cand = torch.randint(0, p, (n, cfg.tournament), generator=gen).to(device)
            return cand.gather(1, fit[cand].argmin(1, keepdim=True)).squeeze(1)

        a, b = genes[tournament(n_child)], genes[tournament(n_child)]
        kind = torch.randint(0, 3, (n_child,), generator=gen).to(device).view(-1, *([1] * len(shape)))
        alpha_arith = rand(n_child, *([1] * len(shape)))
        alpha_inter = rand(n_child, *shape) * 1.5 - 0.25
        coin = (rand(n_child, *shape) < 0.5).float()
        alpha = torch.where(kind == 0, alpha_arith, torch.where(kind == 1, alpha_inter, coin))
        child = alpha * a + (1 - alpha) * b
        keep = (rand(n_child, *([1] * len(shape))) >= cfg.crossover_rate).float()
        child = keep * a + (1 - keep) * child
        mutate = (rand(n_child, *shape) < cfg.mutation_rate).float()
        child = child + mutate * randn(n_child, *shape) * cfg.mutation_sigma
        genes, fit, margin = evaluate(torch.cat([elite, child]))
        cur = float(fit.min())
        history.append(cur)
        if cur < best_fit - 1e-9:
            best_fit, stale = cur, 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    i = int(torch.argmin(fit))
    r = genes[i].cpu().numpy()
    x_np = x.cpu().numpy()
    noisy = np.clip(x_np + r, 0, 1)
    hwc = np.transpose(x_np, (1, 2, 0)), np.transpose(noisy, (1, 2, 0))
    with torch.inference_mode(), autocast(device):
        pred = int(model(to_device(x[None] + genes[i: i + 1], device)).float().argmax(1))
    return MinimumNoise(r, float(np.linalg.norm(r)), float(psnr(*hwc)), float(margin[i]),
                        bool(margin[i] < 0), pred, it + 1, history)
