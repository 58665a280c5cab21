"""Procedural GTSRB-like traffic signs: the embedded default source, no files needed.

Each sample = the cached canonical sign of its class, warped by a random perspective (scale, rotation,
yaw, corner jitter, offset) onto a cluttered background, then random lighting (gain, colour cast, shading
gradient), downsampling, blur and sensor noise. Everything is drawn from a per-image RNG seeded by
(seed, split, index), so images are deterministic and can be rendered lazily in any order.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from .base import ImageSource
from .classes import gtsrb_classes
from .signs import canonical_sign

SPLIT_CODES = {"train": 1, "val": 2, "test": 3}
DEFAULT_N_PER_CLASS = {"train": 200, "val": 30, "test": 30}
_CANVAS = 128


def _perspective_coeffs(dst: np.ndarray, src: np.ndarray) -> tuple[float, ...]:
    """PIL PERSPECTIVE coefficients mapping output points `dst` to input points `src` (4x2 each)."""
    a = np.zeros((8, 8))
    b = np.zeros(8)
    for k, ((x, y), (u, v)) in enumerate(zip(dst, src, strict=True)):
        a[2 * k] = [x, y, 1, 0, 0, 0, -u * x, -u * y]
        a[2 * k + 1] = [0, 0, 0, x, y, 1, -v * x, -v * y]
        b[2 * k], b[2 * k + 1] = u, v
    return tuple(float(c) for c in np.linalg.solve(a, b))


@lru_cache(maxsize=16)
def _upsampler(w: int) -> np.ndarray:
    """(w, 4) linear-interpolation weights from a 4-point grid to w pixel centres."""
    pos = np.clip((np.arange(w) + 0.5) / w * 4 - 0.5, 0, 3)
    lo = np.minimum(np.floor(pos).astype(int), 2)
    frac = pos - lo
    m = np.zeros((w, 4))
    m[np.arange(w), lo] = 1 - frac
    m[np.arange(w), lo + 1] = frac
    return m


def _background(rng: np.random.Generator, w: int) -> Image.Image:
    """Cluttered background: smooth colour field (sky/foliage/wall tones) plus random shapes and lines."""
    base = rng.uniform(0.2, 0.8) * 0.6 + rng.uniform(0.1, 0.9, size=3) * 0.4  # muted, natural-ish tones
    field = np.clip(base + rng.normal(0, 0.12, size=(4, 4, 3)), 0, 1)
    m = _upsampler(w)  # smooth 4x4 -> w x w interpolation as two small matrix products
    smooth = np.tensordot(np.tensordot(m, field, axes=(1, 0)), m, axes=(1, 1)).transpose(0, 2, 1)
    img = Image.fromarray(np.round(np.clip(smooth, 0, 1) * 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    # all clutter parameters in one draw: [kind, x0, y0, dx, dy, grey, r, g, b, width] per shape
    p = rng.random((int(rng.integers(2, 8)), 10))
    for kind, x0, y0, dx, dy, grey, r, g, b, lw in p:
        col = (int(grey * 124 + 15 + r * 90), int(grey * 124 + 15 + g * 90), int(grey * 124 + 15 + b * 90))
        x0, y0 = (x0 * 1.2 - 0.2) * w, (y0 * 1.2 - 0.2) * w
        box = [x0, y0, x0 + (0.1 + 0.7 * dx) * w, y0 + (0.1 + 0.7 * dy) * w]
        if kind < 1 / 3:
            draw.rectangle(box, fill=col)
        elif kind < 2 / 3:
            draw.ellipse(box, fill=col)
        else:
            draw.line(box, fill=col, width=1 + int(lw * max(1, w // 10)))
    return img


@lru_cache(maxsize=16)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size - 0.5
    return yy, xx


def render_sign(class_id: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One random view of a class: float32 size x size x 3 in [0, 1]."""
    w = 2 * size  # work at twice the output size, then downsample (anti-aliasing)
    img = _background(rng, w)
    sign = canonical_sign(class_id, _CANVAS)
    scale = rng.uniform(0.55, 0.92) * w / 2  # half-size of the sign in work pixels
    theta = np.deg2rad(rng.normal(0, 6))
    yaw = rng.uniform(0.75, 1.0)
    centre = w / 2 + rng.uniform(-0.08, 0.08, size=2) * w
    unit = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float) * [yaw, 1.0]
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    dst = centre + (unit @ rot.T) * scale + rng.normal(0, 0.05, size=(4, 2)) * scale
    src = np.array([[0, 0], [_CANVAS, 0], [_CANVAS, _CANVAS], [0, _CANVAS]], dtype=float)
    warped = sign.transform(
        (w, w), Image.Transform.PERSPECTIVE, _perspective_coeffs(dst, src), Image.Resampling.BILINEAR
    )
    img.paste(warped, (0, 0), warped)
    small = img.resize((size, size), Image.Resampling.BOX)
    radius = rng.uniform(0.0, 0.9) * size / 32
    if radius > 0.15:
        small = small.filter(ImageFilter.GaussianBlur(radius))
    x = np.asarray(small, dtype=np.float32) * np.float32(1 / 255)
    # lighting: global gain, colour cast, linear shading gradient, gamma (done at output size: cheap)
    yy, xx = _grid(size)
    phi = rng.uniform(0, 2 * np.pi)
    shade = 1.0 + rng.uniform(0, 0.6) * (xx * np.cos(phi) + yy * np.sin(phi))
    light = (rng.uniform(0.35, 1.2) * (1.0 + rng.normal(0, 0.07, size=3))).astype(np.float32)
    x = np.clip(x * light * shade[..., None], 0, 1) ** np.float32(rng.uniform(0.8, 1.25))
    out = x + rng.normal(0, rng.uniform(0.0, 0.03), size=x.shape).astype(np.float32)
    return np.clip(out, 0, 1).astype(np.float32)


def legend_sign(class_id: int, size: int = 32) -> np.ndarray:
    """The canonical frontal sign on a plain light-gray background, filling most of the frame."""
    img = Image.new("RGB", (_CANVAS, _CANVAS), (200, 200, 200))
    inner = int(_CANVAS * 0.92)
    sign = canonical_sign(class_id, inner)
    off = (_CANVAS - inner) // 2
    img.paste(sign, (off, off), sign)
    img = img.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.float32) / 255.0


class SyntheticSigns(ImageSource):
    """43 procedural GTSRB classes; split in train/val/test gives disjoint deterministic images."""

    name = "synthetic"
    channels = 3

    def __init__(
        self, split: str = "train", size: int = 32, n_per_class: int | None = None, seed: int = 0
    ) -> None:
        if split not in SPLIT_CODES:
            raise ValueError(f"split must be one of {sorted(SPLIT_CODES)}, got {split!r}")
        if not isinstance(size, int) or not 8 <= size <= 512:
            raise ValueError(f"size must be an int in 8..512, got {size!r}")
        n = DEFAULT_N_PER_CLASS[split] if n_per_class is None else int(n_per_class)
        if n < 1:
            raise ValueError(f"n_per_class must be >= 1, got {n}")
        classes = gtsrb_classes()
        super().__init__(np.repeat(np.arange(len(classes)), n), classes)
        self.split, self.size, self.seed, self.n_per_class = split, size, int(seed), n
        self._cache: dict[int, np.ndarray] = {}

    def _rng(self, i: int) -> np.random.Generator:
        # the per-class position k (not the flat index) keeps an image identical when n_per_class changes
        label = int(self.labels[i])
        k = i - label * self.n_per_class
        return np.random.default_rng([self.seed, SPLIT_CODES[self.split], label, k])

    def _load(self, i: int) -> np.ndarray:
        img = self._cache.get(i)
        if img is None:
            img = render_sign(int(self.labels[i]), self._rng(i), self.size)
            self._cache[i] = img
        return img.copy()

    def images(self, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        idx = range(len(self)) if indices is None else [int(i) for i in indices]
        out = np.empty((len(idx), self.size, self.size, 3), dtype=np.float32)
        # a bar only for big batches (e.g. a training split), so small look-ups stay quiet
        for j, i in enumerate(
            tqdm(idx, desc="rendering signs", unit="img", disable=len(idx) < 2000, leave=False)
        ):
            out[j] = self[i][0]
        return out

    def legend_image(self, class_id: int) -> np.ndarray:
        return legend_sign(int(class_id), self.size)
