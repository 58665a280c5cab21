"""Aghdam, Heravi, Puig 2016, "Analyzing the Stability of Convolutional Neural Networks Against Image
Degradation" (VISAPP 2016) - "Aghdam 2016": every number, each with where it comes from."""

from __future__ import annotations

from typing import Any

from stimuli import AGHDAM_SIGMAS as _STIMULI_AGHDAM_SIGMAS

# Gaussian noise sigma on the 0-255 scale (experiments). The one definition lives in stimuli (which builds the
# noise stimulus sets and cannot import model_eval); this is the name model_eval uses.
AGHDAM_SIGMAS: tuple[float, ...] = tuple(float(s) for s in _STIMULI_AGHDAM_SIGMAS)

# Minimum-noise search (method section): genetic algorithm, tournament selection of size 5, three crossover
# operators (arithmetic, intermediate, uniform), mutation adding a uniform number in [-10, 10] on the
# 0-255 scale to some genes, elitism. Fitness psi: beta * L[c] while the noisy image is still classified
# as c, L[k] - L[c] once it is classified as k != c, on softmax scores L, plus lambda * ||r||_2.
AGHDAM_GA: dict[str, Any] = {
    "where": "Aghdam 2016, method (genetic search)",
    "tournament": 5,
    "mutation_range_255": 10.0,
    "crossovers": ("arithmetic", "intermediate", "uniform"),
}

# Accuracy against sigma (their Fig./Table of the stability analysis on GTSRB): not transcribed yet.
AGHDAM_ACCURACY_BY_SIGMA: dict[float, float | None] = {s: None for s in AGHDAM_SIGMAS}
AGHDAM_ACCURACY_WHERE = "Aghdam 2016, experiments (accuracy vs sigma / PSNR)"
