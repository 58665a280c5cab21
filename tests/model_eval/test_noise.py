"""Noise sweep against hand-computed metrics, and the evolutionary minimum-noise search."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from model_eval.noise.search import GAConfig, minimum_noise_search
from model_eval.noise.sweep import noise_sweep


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
    res = minimum_noise_search(
        model, image, 1, config=GAConfig(population=30, max_iterations=300, patience=50, lam=0.05), seed=0
    )
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
    sweep = noise_sweep(
        _Constant(), images, labels, num_classes=3, sigmas=(0.0, 8.0), draws=2, progress=False
    )
    s = sweep.summary
    assert list(s["sigma"]) == [0.0, 8.0]
    assert np.allclose(s["accuracy"], 0.5)  # 2 of 4 labels are class 2
    assert np.allclose(s["mean_confidence"], np.e / (2 + np.e))  # softmax([0, 0, 1])[2]
    assert list(s["n"]) == [4, 8]  # sigma 0 is the clean set, scored once; 2 draws at sigma 8
    # sigma 8 on the 0-255 scale, no clipping at 0.5: PSNR = 20 log10(255 / 8) = 30.07 dB (within noise)
    assert abs(s["psnr_mean"].iloc[1] - 20 * np.log10(255 / 8)) < 0.6
    pc = sweep.per_class[sweep.per_class["sigma"] == 8.0].set_index("class")
    assert pc.loc[2, "precision"] == 0.5 and pc.loc[2, "recall"] == 1.0
    assert pc.loc[0, "recall"] == 0.0 and np.isnan(pc.loc[0, "precision"])
    # every noisy sample is kept for the paper's scatter: image i at draw d is row 4 + 4 d + i
    smp = sweep.samples.frame()
    assert len(smp) == 12 and list(smp["image"]) == [0, 1, 2, 3] * 3
    assert np.isinf(smp["psnr"][:4]).all() and (smp["psnr"][4:] < 35).all()
    assert np.allclose(smp["score"], np.where(labels[smp["image"]] == 2, np.e / (2 + np.e), 1 / (2 + np.e)))
    assert sweep.noisy_accuracy == 0.5


def test_aghdam_fitness_against_hand_computed_values():
    from model_eval.noise.search import aghdam_fitness

    probs = torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.45, 0.5, 0.05]])
    c = torch.tensor([0, 0, 0])
    norms = torch.tensor([1.0, 2.0, 4.0])
    fit, margin = aghdam_fitness(probs, c, norms, beta=3.0, lam=0.1)
    # still class 0: beta * L[c] = 3 * 0.7 = 2.1; plus 0.1 * 1
    # now class 1: L[k] - L[c] = 0.6 - 0.3 = 0.3; plus 0.1 * 2
    # now class 1, near the boundary: 0.5 - 0.45 = 0.05; plus 0.1 * 4
    assert torch.allclose(fit, torch.tensor([2.2, 0.5, 0.45]))
    assert torch.allclose(margin, torch.tensor([0.5, -0.3, -0.05]))


class _Fixed(nn.Module):
    """Always class 0 with softmax score 0.9 (logits log 9, 0): no noise can change its answer."""

    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor([[float(np.log(9.0)), 0.0]]).expand(x.shape[0], 2) + self.p


def test_misclassified_clean_images_are_skipped_and_c_is_the_prediction():
    from model_eval.noise.search import minimum_noise_batch

    images = torch.full((2, 1, 4, 4), 0.5)
    res = minimum_noise_batch(
        _Fixed(), images, [1, 0], config=GAConfig(population=8, max_iterations=3, patience=5), seed=0
    )
    assert res[0].skipped and res[0].clean_pred == 0
    assert res[0].perturbation is None and res[0].iterations == 0
    assert not res[1].skipped and res[1].clean_score == pytest.approx(0.9)
    assert not res[1].misclassified and res[1].iterations == 3
    # never fooled: psi = beta * L[c] with beta = number of classes = 2, so fitness >= 2 * 0.9
    assert res[1].fitness >= 1.8


def test_batched_search_matches_each_image_and_keeps_per_sample_results():
    from model_eval.noise.search import minimum_noise_batch

    model = _Brightness()
    images = torch.stack([torch.full((1, 6, 6), v) for v in (0.56, 0.44, 0.58)])  # classes 1, 0, 1
    cfg = GAConfig(population=30, max_iterations=300, patience=50, lam=0.05)
    res = minimum_noise_batch(model, images, [1, 0, 1], config=cfg, seed=0)
    for r, img in zip(res, images, strict=True):
        assert not r.skipped and r.misclassified and r.predicted != r.clean_pred
        noisy = np.clip(img.numpy() + r.perturbation, 0, 1)
        assert (noisy.mean() < 0.5) == (r.clean_pred == 1)  # the reported noise really flips the class
        # the least L2 change of the mean by d spreads evenly: ||r|| >= d * sqrt(36)
        assert r.norm >= abs(img.mean().item() - 0.5) * 6 - 1e-6
    assert set(res[0].row()) >= {"label", "clean_score", "psnr", "skipped", "misclassified"}


def test_pooled_precision_recall_covers_every_noisy_image():
    images = np.full((4, 8, 8, 3), 0.5, dtype=np.float32)
    labels = np.array([0, 2, 2, 1])
    sweep = noise_sweep(_Constant(), images, labels, num_classes=3, sigmas=(0.0, 8.0, 20.0), progress=False)
    pooled = sweep.pooled.set_index("class")
    # sigma 0 is the clean set and is left out: 2 sigmas x 4 images, always answering class 2
    assert pooled.loc[2, "support"] == 4 and pooled.loc[2, "precision"] == 0.5
    assert pooled.loc[2, "recall"] == 1.0
    assert pooled.loc[0, "recall"] == 0.0
