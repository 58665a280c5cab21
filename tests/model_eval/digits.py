"""MNIST-format digits the project renders itself (Pillow's bundled font, random pose), for tests and
CPU demos where the real MNIST files are not on disk. Written in torchvision's raw IDX layout, so the
``mnist`` source reads them exactly as it reads the real files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont


def render_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 uint8 white-on-black digit with random size, stroke, rotation, shift and blur."""
    big = Image.new("L", (56, 56), 0)
    font = ImageFont.load_default(size=int(rng.integers(30, 42)))
    draw = ImageDraw.Draw(big)
    stroke = int(rng.integers(0, 3))
    draw.text((28, 28), str(digit), fill=255, font=font, anchor="mm", stroke_width=stroke, stroke_fill=255)
    big = big.rotate(
        float(rng.uniform(-15, 15)),
        resample=Image.Resampling.BILINEAR,
        translate=(float(rng.uniform(-4, 4)), float(rng.uniform(-4, 4))),
    )
    big = big.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.0))))
    return np.asarray(big.resize((28, 28), Image.Resampling.BILINEAR), dtype=np.uint8)


def _idx(path: Path, arr: np.ndarray) -> None:
    dims = arr.shape
    header = bytes([0, 0, 8, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    with gzip.open(str(path) + ".gz", "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def write_mnist_like(root: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """ROOT/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz with balanced classes."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = np.stack([render_digit(int(d), rng) for d in labels])
        _idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _idx(raw / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8))
    return root


if __name__ == "__main__":
    import sys

    print(write_mnist_like(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
