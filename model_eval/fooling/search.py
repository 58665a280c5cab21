"""Fooling images (Nguyen et al. 2015, "Deep neural networks are easily fooled"): images that a network
labels as a class with >= 99.99% confidence although people see nothing of the class in them.

Three encodings, each a search over images that keeps the best image found so far for every class:

- ``direct``: each pixel is a gene; offspring are mutated copies of elites (uniform: a gene is redrawn
  from U(0, 1); Gaussian: N(0, sigma) is added), each gene mutated with a rate that starts at 10% and
  halves every 1000 generations (the paper's schedule for the direct encoding, Methods).
- ``cppn``: the indirect encoding, CPPN genomes that grow (:mod:`model_eval.fooling.cppn`).
- ``gradient``: gradient ascent from noise on each class's log softmax score (the paper's third
  method, after Simonyan et al. 2013), one image per class, all classes in one batch.

Selection is MAP-Elites (Mouret & Clune 2015) as in the paper: an archive holds, per class, the image
with the highest softmax probability for that class; each generation's offspring are mutants of
elites picked uniformly at random, and one offspring can take over any class whose elite it beats.

Every image is evaluated as the 8-bit PNG it will become (rounded to k/255), in float32 without
autocast: bf16 logits cannot tell 0.9999 from 1.0, so the archive's confidences are exactly the ones a
later ``predict`` on the exported set finds. The whole population goes through the network in one
forward pass on the device; all randomness comes from one seeded generator, so a seed and a device
give the same images.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from model_eval.fooling.cppn import Genome, initial_genome, mutate, render
from model_eval.reproduce.papers.nguyen import NGUYEN_2015
from model_eval.runtime.device import prepare_model, to_device

ENCODINGS: tuple[str, ...] = ("direct", "cppn", "gradient")
TARGET_CONFIDENCE = round(NGUYEN_2015["target_confidence"] / 100, 6)
"""The paper's headline figure: images labelled "with 99.99% confidence" (abstract), as a fraction."""
ARCHIVE_COLUMNS = ("encoding", "generation", "elapsed_s", "evaluations", "class", "confidence")


def quantize(images: torch.Tensor) -> torch.Tensor:
    """The 8-bit grid every written PNG lies on."""
    return torch.round(images.clamp(0.0, 1.0) * 255.0) / 255.0


@dataclass(frozen=True)
class FoolConfig:
    """One search (one encoding); every field is recorded in the run's JSON."""

    encoding: str = "direct"
    target: float = TARGET_CONFIDENCE
    generations: int = 2000
    max_minutes: float | None = None
    population: int = 128
    seed: int = 0
    mutation: str = "uniform"  # direct encoding: uniform | gaussian
    mutation_rate: float = 0.1
    rate_halving: int = 1000
    sigma: float = 0.15
    lr: float = 0.05  # gradient ascent (Adam step on pixel values in [0, 1])
    log_every: int = 1

    def check(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, got {self.encoding!r}")
        if self.mutation not in ("uniform", "gaussian"):
            raise ValueError(f"mutation must be uniform or gaussian, got {self.mutation!r}")
        if not 0.0 < self.target < 1.0:
            raise ValueError(f"target confidence must lie in (0, 1), got {self.target}")
        for name in ("generations", "population", "rate_halving", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be positive")
        if not 0.0 < self.mutation_rate <= 1.0 or self.sigma <= 0 or self.lr <= 0:
            raise ValueError("mutation rate must lie in (0, 1], sigma and lr must be positive")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError("max-minutes must be positive")


@dataclass
class Archive:
    """MAP-Elites map: per class the best image (by that class's probability) and when it was found."""

    confidence: torch.Tensor  # C, float (probability of class c for the elite of cell c)
    images: torch.Tensor  # C, ch, h, w on the 8-bit grid
    generation: torch.Tensor  # C, long: generation the elite was found (-1: empty)
    genomes: list[Genome | None] = field(default_factory=list)

    @classmethod
    def empty(cls, n_classes: int, shape: tuple[int, int, int], device: torch.device) -> Archive:
        return cls(
            torch.full((n_classes,), -1.0, device=device),
            torch.zeros((n_classes, *shape), device=device),
            torch.full((n_classes,), -1, dtype=torch.long, device=device),
            [None] * n_classes,
        )

    def update(
        self, images: torch.Tensor, probs: torch.Tensor, generation: int, genomes: list[Genome] | None = None
    ) -> int:
        """Let each candidate take any class whose elite it beats; returns the number of cells improved."""
        best, idx = probs.max(0)  # per class: the best candidate of this batch
        better = best > self.confidence
        n = int(better.sum())
        if n:
            self.confidence = torch.where(better, best, self.confidence)
            self.images[better] = images[idx[better]]
            self.generation[better] = generation
            if genomes is not None:
                for c in torch.nonzero(better).flatten().tolist():
                    self.genomes[c] = genomes[int(idx[c])]
        return n

    def reached(self, target: float) -> torch.Tensor:
        return self.confidence >= target


@torch.no_grad()
def class_probabilities(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Softmax over the classes for a batch, in float32 (no autocast; see the module docstring)."""
    return F.softmax(model(to_device(images, images.device)).float(), dim=1)


@dataclass
class FoolResult:
    config: FoolConfig
    archive: Archive
    generations_run: int
    evaluations: int
    seconds: float
    stopped: str  # "target" | "generations" | "time"
    labels: torch.Tensor  # C: the class the network assigns to each elite
    label_confidence: torch.Tensor  # C: that class's probability


class _Logger:
    """Writes the archive-over-time CSV (long format: one row per generation and class)."""

    def __init__(self, stream: TextIO | None, encoding: str, every: int) -> None:
        self.writer = csv.writer(stream, lineterminator="\n") if stream is not None else None
        self.encoding, self.every = encoding, every

    def log(self, gen: int, elapsed: float, evals: int, archive: Archive, force: bool = False) -> None:
        if self.writer is None or (gen % self.every and not force):
            return
        conf = archive.confidence.cpu().tolist()
        for c, v in enumerate(conf):
            self.writer.writerow([self.encoding, gen, f"{elapsed:.3f}", evals, c, repr(float(v))])


def run_search(
    model: nn.Module,
    *,
    n_classes: int,
    channels: int,
    size: int,
    config: FoolConfig,
    device: torch.device,
    log: TextIO | None = None,
    progress: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> FoolResult:
    """Evolve (or ascend) images for every class until all reach the target, or a budget runs out."""
    config.check()
    model = prepare_model(model, device).eval()  # channels_last on CUDA
    for p in model.parameters():
        p.requires_grad_(False)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    archive = Archive.empty(n_classes, (channels, size, size), device)
    logger = _Logger(log, config.encoding, config.log_every)
    step = {"direct": _DirectStep, "cppn": _CppnStep, "gradient": _GradientStep}[config.encoding](
        model, n_classes, channels, size, config, device, gen, rng
    )
    start = clock()
    evals, stopped, g = 0, "generations", 0
    bar = tqdm(
        total=config.generations, desc=f"fooling ({config.encoding})", unit="gen", disable=not progress
    )
    try:
        for g in range(config.generations):
            images, probs, genomes = step(g, archive)
            evals += images.shape[0]
            archive.update(images, probs, g, genomes)
            elapsed = clock() - start
            logger.log(g, elapsed, evals, archive)
            reached = int(archive.reached(config.target).sum())
            bar.update(1)
            bar.set_postfix(reached=f"{reached}/{n_classes}", median=f"{archive.confidence.median():.5f}")
            if reached == n_classes:
                stopped = "target"
                break
            if config.max_minutes is not None and elapsed >= 60.0 * config.max_minutes:
                stopped = "time"
                break
    finally:
        bar.close()
    if g % config.log_every:  # the final state is always in the CSV
        logger.log(g, clock() - start, evals, archive, force=True)
    probs = class_probabilities(model, archive.images)
    conf, labels = probs.max(1)
    return FoolResult(config, archive, g + 1, evals, clock() - start, stopped, labels.cpu(), conf.cpu())


class _Step:
    def __init__(
        self,
        model: nn.Module,
        n_classes: int,
        channels: int,
        size: int,
        config: FoolConfig,
        device: torch.device,
        gen: torch.Generator,
        rng: np.random.Generator,
    ) -> None:
        self.model, self.n_classes, self.channels, self.size = model, n_classes, channels, size
        self.config, self.device, self.gen, self.rng = config, device, gen, rng

    def parents(self, archive: Archive, n: int) -> torch.Tensor:
        """Indices of n elites picked uniformly at random among the filled cells."""
        filled = torch.nonzero(archive.generation >= 0).flatten()
        pick = torch.randint(len(filled), (n,), generator=self.gen, device=self.device)
        return filled[pick]

    def __call__(self, g: int, archive: Archive) -> tuple[torch.Tensor, torch.Tensor, list[Genome] | None]:
        raise NotImplementedError


class _DirectStep(_Step):
    def __call__(self, g: int, archive: Archive) -> tuple[torch.Tensor, torch.Tensor, None]:
        cfg = self.config
        shape = (cfg.population, self.channels, self.size, self.size)
        if g == 0:
            x = torch.rand(shape, generator=self.gen, device=self.device)
        else:
            x = archive.images[self.parents(archive, cfg.population)].clone()
            rate = cfg.mutation_rate * 0.5 ** (g // cfg.rate_halving)
            hit = torch.rand(shape, generator=self.gen, device=self.device) < rate
            if cfg.mutation == "uniform":
                new = torch.rand(shape, generator=self.gen, device=self.device)
            else:
                new = x + cfg.sigma * torch.randn(shape, generator=self.gen, device=self.device)
            x = torch.where(hit, new, x)
        x = quantize(x)
        return x, class_probabilities(self.model, x), None


class _CppnStep(_Step):
    def __call__(self, g: int, archive: Archive) -> tuple[torch.Tensor, torch.Tensor, list[Genome]]:
        n = self.config.population
        if g == 0:
            genomes = [initial_genome(self.channels, self.rng) for _ in range(n)]
        else:
            parents = self.parents(archive, n).cpu().tolist()
            genomes = [mutate(archive.genomes[p], self.rng) for p in parents]
        x = quantize(render(genomes, self.size, self.device))
        return x, class_probabilities(self.model, x), genomes


class _GradientStep(_Step):
    """One image per class; each step is one Adam step on log p(class | 8-bit image), then a projection
    back into [0, 1] (projected gradient ascent)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        shape = (self.n_classes, self.channels, self.size, self.size)
        self.x = torch.rand(shape, generator=self.gen, device=self.device).requires_grad_(True)
        self.opt = torch.optim.Adam([self.x], lr=self.config.lr)
        self.targets = torch.arange(self.n_classes, device=self.device)

    def __call__(self, g: int, archive: Archive) -> tuple[torch.Tensor, torch.Tensor, None]:
        with torch.enable_grad():
            xq = self.x + (quantize(self.x) - self.x).detach()  # straight-through: the 8-bit image's score
            logp = F.log_softmax(self.model(to_device(xq, self.device)).float(), dim=1)
            loss = -logp[self.targets, self.targets].sum()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        with torch.no_grad():
            self.x.clamp_(0.0, 1.0)
        return xq.detach(), logp.detach().exp(), None


def write_results(out_dir: Path, results: list[FoolResult], class_names: dict[int, str]) -> Path:
    """Per encoding and class: the best image (PNG), its confidence and generation; summary.csv; genomes."""
    from stimuli import png_bytes

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for r in results:
        enc = r.config.encoding
        (out_dir / enc).mkdir(exist_ok=True)
        imgs = r.archive.images.permute(0, 2, 3, 1).cpu().numpy()
        for c in range(len(imgs)):
            (out_dir / enc / f"class_{c:03d}.png").write_bytes(png_bytes(imgs[c]))
            rows.append(
                {
                    "encoding": enc,
                    "class": c,
                    "class_name": class_names.get(c, str(c)),
                    "confidence": float(r.archive.confidence[c]),
                    "generation": int(r.archive.generation[c]),
                    "reached_target": bool(r.archive.confidence[c] >= r.config.target),
                    "network_label": int(r.labels[c]),
                    "network_confidence": float(r.label_confidence[c]),
                    "image": f"{enc}/class_{c:03d}.png",
                }
            )
        if enc == "cppn":
            import json

            genomes = {str(c): g.to_dict() for c, g in enumerate(r.archive.genomes) if g is not None}
            (out_dir / "cppn_genomes.json").write_text(json.dumps(genomes, indent=1), encoding="utf-8")
    path = out_dir / "summary.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path
