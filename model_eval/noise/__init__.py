"""Noise robustness (Aghdam et al. 2016): accuracy against Gaussian noise, and the minimum-noise search.

- :func:`noise_report` sweeps sigma for a checkpoint and writes its tables and figure (returns a
  :class:`NoiseSweep`); :func:`noise_sweep` is the same sweep on a model and images in memory.
- :func:`min_noise` runs the genetic minimum-noise search for a checkpoint (returns a DataFrame);
  :func:`minimum_noise_batch` / :func:`minimum_noise_search` on a model and images in memory.
"""

from model_eval.noise.api import min_noise, noise_report
from model_eval.noise.search import GAConfig, MinimumNoise, minimum_noise_batch, minimum_noise_search
from model_eval.noise.sweep import SIGMAS, NoiseSweep, noise_sweep

__all__ = [
    "SIGMAS",
    "GAConfig",
    "MinimumNoise",
    "NoiseSweep",
    "min_noise",
    "minimum_noise_batch",
    "minimum_noise_search",
    "noise_report",
    "noise_sweep",
]
