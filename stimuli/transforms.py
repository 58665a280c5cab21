"""Pure image manipulations on float32 images in [0, 1], HWC (RGB: C = 3; gray sources: C = 1).

Every function range-checks its parameters, never mutates its input, and takes an explicit
np.random.Generator when it needs randomness.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

LUMA_601 = np.array([0.299, 0.587, 0.114], dtype=np.float64)  # ITU-R BT.601 luma weights


def check_image(x: np.ndarray) -> np.ndarray:
    """Validate the image convention and return the image as float32 (a copy is never needed here)."""
    a = np.asarray(x)
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise ValueError(f"image must be HxWxC with C in (1, 3), got shape {a.shape}")
    if a.size and (not np.isfinite(a).all() or a.min() < 0.0 or a.max() > 1.0):
        raise ValueError("image values must be finite and in [0, 1]")
    return a.astype(np.float32, copy=False)


def quantize(x: np.ndarray) -> np.ndarray:
    """Snap to the 8-bit grid (round(255 x) / 255): later PNG writing is lossless, negatives stay exact."""
    return (np.round(check_image(x).astype(np.float64) * 255.0) / 255.0).astype(np.float32)


def negative(x: np.ndarray) -> np.ndarray:
    """Per-channel negative: 1 - x."""
    return (1.0 - check_image(x)).astype(np.float32)


def grayscale(x: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B, as 3 equal channels for RGB (1-channel input unchanged)."""
    a = check_image(x)
    if a.shape[2] == 1:
        return a.copy()
    y = np.clip(a.astype(np.float64) @ LUMA_601, 0.0, 1.0).astype(np.float32)
    return np.repeat(y[:, :, None], 3, axis=2)


def gray_negative(x: np.ndarray) -> np.ndarray:
    """Negative of the grayscale image."""
    return negative(grayscale(x))


def psnr(clean: np.ndarray, degraded: np.ndarray) -> float:
    """PSNR in dB on the 0-255 scale: 10 log10(255^2 / MSE); +inf for identical images."""
    a, b = check_image(clean).astype(np.float64) * 255.0, check_image(degraded).astype(np.float64) * 255.0
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0**2 / mse)


def gaussian_noise(x: np.ndarray, sigma: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Add N(0, sigma) noise with sigma on the 0-255 scale, clip to [0, 1]; return (noisy, PSNR vs x)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    if not (isinstance(sigma, int | float) and math.isfinite(sigma) and 0.0 <= sigma <= 255.0):
        raise ValueError(f"sigma must be a number in [0, 255] (0-255 scale), got {sigma!r}")
    a = check_image(x)
    noisy = np.clip(a + rng.normal(0.0, sigma / 255.0, size=a.shape), 0.0, 1.0).astype(np.float32)
    return noisy, psnr(a, noisy)


def resize(x: np.ndarray, height: int, width: int | None = None) -> np.ndarray:
    """Resize to height x width (width defaults to height) with antialiased bicubic interpolation."""
    width = height if width is None else width
    for v, what in ((height, "height"), (width, "width")):
        if not isinstance(v, int | np.integer) or not 1 <= v <= 8192:
            raise ValueError(f"{what} must be an int in 1..8192, got {v!r}")
    a = check_image(x)
    if a.shape[:2] == (height, width):
        return a.copy()
    chans = [
        np.asarray(
            Image.fromarray(a[:, :, c], "F").resize((int(width), int(height)), Image.Resampling.BICUBIC)
        )
        for c in range(a.shape[2])
    ]
    return np.clip(np.stack(chans, axis=2), 0.0, 1.0).astype(np.float32)


def roi_crop(x: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    """Crop to a GTSRB-style ROI: columns x1..x2 and rows y1..y2, both ends inclusive."""
    a = check_image(x)
    h, w = a.shape[:2]
    if not (0 <= x1 <= x2 < w and 0 <= y1 <= y2 < h):
        raise ValueError(f"ROI ({x1},{y1})-({x2},{y2}) is not inside a {w}x{h} image")
    return a[y1 : y2 + 1, x1 : x2 + 1].copy()


def equalize_histogram(x: np.ndarray) -> np.ndarray:
    """Per-channel histogram equalisation on the 8-bit grid (as in the earlier negative-image paper)."""
    a = check_image(x)
    q = np.round(a * 255.0).astype(np.int64)
    out = np.empty_like(a)
    n = q.shape[0] * q.shape[1]
    for c in range(a.shape[2]):
        cdf = np.cumsum(np.bincount(q[:, :, c].ravel(), minlength=256))
        cdf_min = cdf[cdf > 0][0]
        if n == cdf_min:  # constant channel: nothing to spread
            out[:, :, c] = a[:, :, c]
            continue
        lut = np.round((cdf - cdf_min) / (n - cdf_min) * 255.0) / 255.0
        out[:, :, c] = np.clip(lut[q[:, :, c]], 0.0, 1.0)
    return out.astype(np.float32)
