"""Psychometric fit: recovering a known threshold from simulated trials."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from analysis.stats.psychometric import fit_psychometric


def test_fit_recovers_known_threshold() -> None:
    # Simulated with a fixed seed from p = 0.1 + (0.95 - 0.1) expit((psnr - 18) / 2.5).
    rng = np.random.default_rng(11)
    psnr = np.repeat(np.array([8.0, 12, 15, 18, 21, 24, 30]), 150)
    p = 0.1 + 0.85 * special.expit((psnr - 18) / 2.5)
    y = (rng.random(len(psnr)) < p).astype(float)
    fit = fit_psychometric(psnr, y, chance=0.1, top=0.95, agent="sim")
    assert fit.converged
    assert fit.threshold == pytest.approx(18, abs=0.8)
    assert fit.scale == pytest.approx(2.5, abs=1.0)
    # By construction the curve is halfway between chance and top at the threshold.
    assert fit.predict(np.array([fit.threshold]))[0] == pytest.approx((0.1 + 0.95) / 2)


def test_fit_with_one_level_is_reported_not_crashing() -> None:
    fit = fit_psychometric(np.full(10, 20.0), np.ones(10), chance=0.2, top=0.9)
    assert np.isnan(fit.threshold) and "too few" in fit.note
