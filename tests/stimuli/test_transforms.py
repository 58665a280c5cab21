"""Pure transforms checked against their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stimuli import transforms as T


@pytest.fixture
def img() -> np.ndarray:
    return np.random.default_rng(1).random((9, 7, 3)).astype(np.float32)


def test_negative_is_one_minus_x_exactly(img):
    neg = T.negative(img)
    assert neg.dtype == np.float32
    np.testing.assert_array_equal(neg, np.float32(1.0) - img)
    np.testing.assert_array_equal(T.negative(neg), np.float32(1.0) - (np.float32(1.0) - img))


def test_grayscale_uses_bt601_luma_on_three_equal_channels():
    # hand-computed: red -> 0.299, green -> 0.587, blue -> 0.114,
    # (0.2, 0.4, 0.6) -> 0.0598 + 0.2348 + 0.0684 = 0.363
    x = np.array([[[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.2, 0.4, 0.6]]], dtype=np.float32)
    g = T.grayscale(x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g[0, :, 0], [0.299, 0.587, 0.114, 0.363], atol=1e-6)
    np.testing.assert_array_equal(g[..., 0], g[..., 1])
    np.testing.assert_array_equal(g[..., 0], g[..., 2])
    one = np.full((2, 2, 1), 0.25, dtype=np.float32)
    np.testing.assert_array_equal(T.grayscale(one), one)  # 1-channel sources are already gray


def test_gray_negative_is_negative_of_gray(img):
    np.testing.assert_array_equal(T.gray_negative(img), np.float32(1.0) - T.grayscale(img))


def test_quantize_snaps_to_8bit_grid(img):
    q = T.quantize(img)
    np.testing.assert_allclose(q * 255, np.round(img.astype(np.float64) * 255), atol=1e-4)


def test_psnr_of_known_difference_matches_formula():
    # every pixel differs by 10 grey levels -> MSE = 100 -> PSNR = 10 log10(65025 / 100) = 28.1308...
    a = np.full((4, 4, 3), 100 / 255, dtype=np.float32)
    b = np.full((4, 4, 3), 110 / 255, dtype=np.float32)
    assert T.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-4)
    assert T.psnr(a, a) == math.inf


def test_gaussian_noise_psnr_and_statistics():
    rng = np.random.default_rng(5)
    x = np.full((64, 64, 3), 0.5, dtype=np.float32)  # mid-gray: sigma 8 never clips
    noisy, p = T.gaussian_noise(x, 8.0, rng)
    diff = (noisy.astype(np.float64) - x) * 255
    mse = float(np.mean(diff**2))
    assert p == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-9)
    assert diff.std() == pytest.approx(8.0, rel=0.05)  # sigma is on the 0-255 scale
    # expected PSNR for unclipped noise of sigma 8: 10 log10(255^2 / 64) = 30.07 dB
    assert p == pytest.approx(10 * math.log10(255**2 / 64), abs=0.3)
    again, p2 = T.gaussian_noise(x, 8.0, np.random.default_rng(5))
    np.testing.assert_array_equal(noisy, again)
    assert p2 == p


def test_gaussian_noise_clips_to_unit_range():
    x = np.zeros((16, 16, 3), dtype=np.float32)
    noisy, _ = T.gaussian_noise(x, 40.0, np.random.default_rng(0))
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0


@pytest.mark.parametrize("sigma", [-1.0, 256.0, float("nan"), "8"])
def test_gaussian_noise_rejects_bad_sigma(img, sigma):
    with pytest.raises(ValueError, match="sigma"):
        T.gaussian_noise(img, sigma, np.random.default_rng(0))


def test_gaussian_noise_requires_generator(img):
    with pytest.raises(TypeError, match="Generator"):
        T.gaussian_noise(img, 2.0, np.random.RandomState(0))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad", [np.full((2, 2, 3), 1.5), np.full((2, 2, 3), -0.1), np.zeros((2, 2, 2)), np.zeros((4, 4))]
)
def test_transforms_reject_bad_images(bad):
    with pytest.raises(ValueError):
        T.negative(bad)


def test_roi_crop_is_inclusive_and_checked(img):
    crop = T.roi_crop(img, 1, 2, 4, 5)
    np.testing.assert_array_equal(crop, img[2:6, 1:5])
    with pytest.raises(ValueError, match="ROI"):
        T.roi_crop(img, 0, 0, 7, 3)  # x2 = 7 is outside a 7-wide image


def test_resize_shape_range_and_identity(img):
    r = T.resize(img, 16, 12)
    assert r.shape == (16, 12, 3) and r.dtype == np.float32
    assert r.min() >= 0.0 and r.max() <= 1.0
    np.testing.assert_array_equal(T.resize(img, 9, 7), img)
    const = np.full((5, 5, 3), 0.4, dtype=np.float32)
    np.testing.assert_allclose(T.resize(const, 20), 0.4, atol=1e-6)
    with pytest.raises(ValueError, match="height"):
        T.resize(img, 0)


def test_histogram_equalisation_matches_hand_computed_lut():
    # 4 pixels with levels 10, 10, 20, 40: cdf = 2, 3, 4; cdf_min = 2, n = 4
    # mapped: 10 -> 0, 20 -> round(1/2 * 255) = 128, 40 -> 255
    x = (np.array([10, 10, 20, 40], dtype=np.float32) / 255).reshape(2, 2, 1)
    eq = T.equalize_histogram(x)
    np.testing.assert_allclose(eq.ravel() * 255, [0, 0, 128, 255], atol=1e-4)
    const = np.full((3, 3, 1), 0.3, dtype=np.float32)
    np.testing.assert_array_equal(T.equalize_histogram(const), const)
