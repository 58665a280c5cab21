"""Noise sweep against hand-computed metrics, and the evolutionary minimum-noise search."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from model_eval.noise import GAConfig, minimum_noise_search, noise_sweep


class _Brightness(nn.Module):
    """Two classes: logit_1 - logit_0 = 20 * (mean brightness - 0.5)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(20.0), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.w * (x.mean(dim=(1, 2, 3)) - 0.5)
        return torch.stack([-d / 2, d / 2], dim=1)


def test_minimum_noise_search_finds_a_misclassifying_perturbation():
    model = _Brightness()
    image = torch.full((1, 6, 6), 0.56)  # class 1 with margin 20 * 0.06 = 1.2
    res = minimum_noise_search(model, image, 1, config=GAConfig(population=30, max_iterations=300,
                                                                patience=50, lam=0.05), seed=0)
    assert res.misclassified and res.predicted == 0 and res.margin < 0
    # The least L2 perturbation lowering the mean by 0.06 spreads evenly: ||r|| = 0.06 * sqrt(36) = 0.36.
    assert 0.36 <= res.norm < 1.2
    noisy = np.clip(image.numpy() + res.perturbation, 0, 1)
    assert noisy.mean() < 0.5  # the reported perturbation really flips the class
    assert np.isfinite(res.psnr) and res.psnr > 20
    assert res.iterations <= 300


def test_search_rejects_a_population_smaller_than_the_tournament():
    with pytest.raises(ValueError, match="population"):
        minimum_noise_search(_Brightness(), torch.full((1, 2, 2), 0.6), 1, config=GAConfig(population=4))


class _Constant(nn.Module):
    """Always answers class 2 with probability softmax([0, 0, 1])[2]."""

    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor([[0.0, 0.0, 1.0]]).expand(x.shape[0], 3) + self.p


def test_noise_sweep_metrics_against_hand_computed_values():
    images = np.full((4, 8, 8, 3), 0.5, dtype=np.float32)
    labels = np.array([0, 2, 2, 1])
    sweep = noise_sweep(_Constant(), images, labels, num_classes=3, sigmas=(0.0, 8.0), draws=2,
                        progress=False)
    s = sweep.summary
    assert list(s["sigma"]) == [0.0, 8.0]
    assert np.allclose(s["accuracy"], 0.5)  # 2 of 4 labels are class 2
    assert np.allclose(s["mean_confidence"], np.e / (2 + np.e))  # softmax([0, 0, 1])[2]
    assert list(s["n"]) == [8, 8]
    # sigma 8 on the 0-255 scale, no clipping at 0.5: PSNR = 20 log10(255 / 8) = 30.07 dB (within noise)
    assert abs(s["psnr_mean"].iloc[1] - 20 * np.log10(255 / 8)) < 0.6
    pc = sweep.per_class[sweep.per_class["sigma"] == 8.0].set_index("class")
    assert pc.loc[2, "precision"] == 0.5 and pc.loc[2, "recall"] == 1.0
    assert pc.loc[0, "recall"] == 0.0 and np.isnan(pc.loc[0, "precision"])
