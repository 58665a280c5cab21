"""The minimum-noise search of Aghdam et al. 2016: a genetic algorithm for the smallest additive noise
that changes a network's decision on an image (tournament selection, crossover, mutation, elitism)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from model_eval.reproduce.papers.aghdam import AGHDAM_GA
from model_eval.runtime.device import autocast, to_device


@dataclass
class GAConfig:
    """Minimum-noise search settings. Tournament size, the three crossovers, the +-10 (0-255 scale)
    uniform mutation, elitism of the best solution and the 50-iteration stop rule are Aghdam et al.'s
    (:data:`model_eval.reproduce.papers.aghdam.AGHDAM_GA`); the paper gives none of the rest (population,
    beta, lambda, iterations, rates, initial noise), so those are ours and configurable."""

    population: int = 40
    max_iterations: int = 500
    # stop rule: an image stops after this many generations without a better fitness
    patience: int = int(AGHDAM_GA["patience"])
    tournament: int = int(AGHDAM_GA["tournament"])
    elite: int = int(AGHDAM_GA["elite"])  # elitism: the best survive unchanged
    crossover_rate: float = 0.9
    mutation_rate: float = 0.05  # probability that a gene is mutated
    mutation_range: float = float(AGHDAM_GA["mutation_range_255"]) / 255.0  # uniform in [-m, m], [0, 1] scale
    init_sigma: float = 0.15  # the initial noise sigmas are spread over (0, init_sigma]
    lam: float = 0.05  # lambda: weight of ||r||_2 (on the [0, 1] scale) in the fitness
    beta: float | None = None  # beta of psi; None: the number of classes (so beta * L[c] >= 1 > L[k] - L[c])
    max_batch: int = 4096  # images per forward pass (population x images are evaluated together)


@dataclass
class MinimumNoise:
    """One image's search result (``skipped``: the clean image was misclassified, so no search ran)."""

    label: int
    clean_pred: int  # c, the class the network gives the clean image
    clean_score: float  # softmax score L[c] of the clean image
    skipped: bool
    perturbation: np.ndarray | None  # r = clip(x + genes) - x, CHW (None when skipped)
    norm: float  # ||r||_2 on the [0, 1] scale
    psnr: float
    margin: float  # L[c] - max_{j != c} L[j] on the noisy image (< 0: classified as another class)
    misclassified: bool
    predicted: int  # class of the noisy image
    fitness: float
    iterations: int
    history: list[float] = field(default_factory=list)  # best fitness per generation

    def row(self) -> dict[str, object]:
        """The per-sample fields kept in results tables (everything but the arrays)."""
        keys = (
            "label",
            "clean_pred",
            "clean_score",
            "skipped",
            "norm",
            "psnr",
            "margin",
            "misclassified",
            "predicted",
            "fitness",
            "iterations",
        )
        return {k: getattr(self, k) for k in keys}


def aghdam_fitness(
    probs: torch.Tensor, c: torch.Tensor, norms: torch.Tensor, beta: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Aghdam et al.'s fitness (minimised) on softmax scores ``probs`` (N, K) for target classes ``c`` (N,):

    psi = beta * L[c] while the image is still classified as c, and L[k] - L[c] once it is classified
    as k != c (so among fooling candidates, the one closest to the boundary wins); plus lam * ||r||_2.
    Returns (fitness, margin L[c] - max_{j != c} L[j]).
    """
    lc = probs.gather(1, c[:, None]).squeeze(1)
    pred = probs.argmax(1)
    lk = probs.max(1).values
    psi = torch.where(pred == c, beta * lc, lk - lc)
    other = probs.scatter(1, c[:, None], -torch.inf).max(1).values
    return psi + lam * norms, lc - other


def _softmax(model: nn.Module, x: torch.Tensor, device: torch.device, max_batch: int) -> torch.Tensor:
    out = []
    with torch.inference_mode():
        for s in range(0, len(x), max_batch):
            with autocast(device):
                out.append(F.softmax(model(to_device(x[s : s + max_batch], device)).float(), dim=1))
    return torch.cat(out) if out else torch.zeros(0, 0, device=device)


def minimum_noise_batch(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | list[int],
    *,
    config: GAConfig | None = None,
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool = False,
) -> list[MinimumNoise]:
    """Aghdam et al.'s evolutionary search for the smallest additive noise r that changes the class of
    each image (NCHW in [0, 1]); the populations of all images are evaluated in one batched forward.

    c is the class the network gives the clean image; images it misclassifies (c != label) are skipped.
    Genes are the real-valued pixels of r. Each generation: elitism, tournament selection, one of the
    three crossovers per child (arithmetic: one alpha in [0, 1]; intermediate: alpha per gene in
    [-0.25, 1.25]; uniform: a coin per gene), then uniform mutation in [-m, m] of some genes. Only
    realisable noise counts: r = clip(x + genes, 0, 1) - x.
    """
    from stimuli.transforms import psnr

    cfg = config or GAConfig()
    if cfg.population < max(cfg.tournament, cfg.elite + 1):
        raise ValueError("population must exceed the tournament size and the elite count")
    device = device or next(model.parameters()).device
    model.eval()
    x_all = images.to(device=device, dtype=torch.float32)
    labels_t = torch.as_tensor(labels, dtype=torch.long, device=device)
    clean = _softmax(model, x_all, device, cfg.max_batch)
    beta = float(cfg.beta if cfg.beta is not None else clean.shape[1])
    clean_pred = clean.argmax(1)
    active = torch.nonzero(clean_pred == labels_t).flatten()
    gen = torch.Generator(device=device).manual_seed(seed)
    p, shape = cfg.population, tuple(x_all.shape[1:])
    one = (1,) * len(shape)
    results: dict[int, MinimumNoise] = {}

    x = x_all[active]  # (B, C, H, W)
    c = clean_pred[active]
    b = len(active)

    def evaluate(genes: torch.Tensor, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        nb = len(x)
        r = (x[:, None] + genes).clamp(0, 1) - x[:, None]  # (B, P, C, H, W)
        probs = _softmax(model, (x[:, None] + r).flatten(0, 1), device, cfg.max_batch)
        fit, margin = aghdam_fitness(
            probs, c.repeat_interleave(p), r.flatten(2).norm(dim=2).flatten(), beta, cfg.lam
        )
        return r, fit.view(nb, p), margin.view(nb, p), probs.argmax(1).view(nb, p)

    sig = torch.linspace(cfg.init_sigma / p, cfg.init_sigma, p, device=device).view(1, p, *one)
    genes = torch.randn(b, p, *shape, generator=gen, device=device) * sig
    if b:
        genes, fit, margin, pred = evaluate(genes, x, c)
    else:  # every clean image misclassified: nothing to search
        fit = margin = torch.zeros(0, p, device=device)
        pred = torch.zeros(0, p, dtype=torch.long, device=device)
    best = fit.min(1).values.clone()
    stale = torch.zeros(b, dtype=torch.long, device=device)
    iters = torch.zeros(b, dtype=torch.long, device=device)
    history: list[list[float]] = [[] for _ in range(b)]
    running = torch.ones(b, dtype=torch.bool, device=device)  # empty when b == 0: the loop ends at once
    bar = tqdm(range(cfg.max_iterations), desc="minimum noise", disable=not progress, leave=False)
    for _ in bar:
        idx = torch.nonzero(running).flatten()
        if len(idx) == 0:
            break
        g, f = genes[idx], fit[idx]
        nb, n_child = len(idx), p - cfg.elite
        order = torch.argsort(f, dim=1)
        elite = g.gather(1, order[:, : cfg.elite].view(nb, cfg.elite, *one).expand(nb, cfg.elite, *shape))

        def tournament(
            g: torch.Tensor = g, f: torch.Tensor = f, nb: int = nb, n: int = n_child
        ) -> torch.Tensor:
            cand = torch.randint(0, p, (nb, n, cfg.tournament), generator=gen, device=device)
            win = cand.gather(2, f.gather(1, cand.flatten(1)).view(nb, n, -1).argmin(2, keepdim=True))
            return g.gather(1, win.view(nb, n, *one).expand(nb, n, *shape))

        pa, pb = tournament(), tournament()
        kind = torch.randint(0, 3, (nb, n_child, *one), generator=gen, device=device)
        alpha_arith = torch.rand(nb, n_child, *one, generator=gen, device=device)
        alpha_inter = torch.rand(nb, n_child, *shape, generator=gen, device=device) * 1.5 - 0.25
        coin = (torch.rand(nb, n_child, *shape, generator=gen, device=device) < 0.5).float()
        alpha = torch.where(kind == 0, alpha_arith, torch.where(kind == 1, alpha_inter, coin))
        child = alpha * pa + (1 - alpha) * pb
        cross = torch.rand(nb, n_child, *one, generator=gen, device=device) < cfg.crossover_rate
        child = torch.where(cross, child, pa)
        mutate = torch.rand(nb, n_child, *shape, generator=gen, device=device) < cfg.mutation_rate
        step = (torch.rand(nb, n_child, *shape, generator=gen, device=device) * 2 - 1) * cfg.mutation_range
        child = child + mutate * step
        new_g, new_f, new_m, new_p = evaluate(torch.cat([elite, child], 1), x[idx], c[idx])
        genes[idx], fit[idx], margin[idx], pred[idx] = new_g, new_f, new_m, new_p
        iters[idx] += 1
        cur = new_f.min(1).values
        better = cur < best[idx] - 1e-9
        best[idx] = torch.minimum(best[idx], cur)
        stale[idx] = torch.where(better, torch.zeros_like(stale[idx]), stale[idx] + 1)
        running[idx] = stale[idx] < cfg.patience
        for j, v in zip(idx.tolist(), cur.tolist(), strict=True):
            history[j].append(v)
    for j, i in enumerate(active.tolist()):
        k = int(torch.argmin(fit[j]))
        r = genes[j, k].cpu().numpy()
        x_np = x[j].cpu().numpy()
        noisy = np.clip(x_np + r, 0, 1)
        quality = psnr(np.transpose(x_np, (1, 2, 0)), np.transpose(noisy, (1, 2, 0)))
        results[i] = MinimumNoise(
            int(labels_t[i]),
            int(clean_pred[i]),
            float(clean[i, clean_pred[i]]),
            False,
            r,
            float(np.linalg.norm(r)),
            float(quality),
            float(margin[j, k]),
            bool(pred[j, k] != c[j]),
            int(pred[j, k]),
            float(fit[j, k]),
            int(iters[j]),
            history[j],
        )
    nan = float("nan")
    for i in range(len(x_all)):
        if i not in results:
            results[i] = MinimumNoise(
                int(labels_t[i]),
                int(clean_pred[i]),
                float(clean[i, clean_pred[i]]),
                True,
                None,
                nan,
                nan,
                nan,
                False,
                int(clean_pred[i]),
                nan,
                0,
            )
    return [results[i] for i in range(len(x_all))]


def minimum_noise_search(
    model: nn.Module,
    image: torch.Tensor,
    label: int,
    *,
    config: GAConfig | None = None,
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool = False,
) -> MinimumNoise:
    """The search for one image (CHW in [0, 1]); see :func:`minimum_noise_batch`."""
    return minimum_noise_batch(
        model, image[None], [label], config=config, seed=seed, device=device, progress=progress
    )[0]
