"""The typed entry points for noise: the sweep over sigma with its report files, and the minimum-noise
search, each on a checkpoint and source images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from model_eval.noise.search import GAConfig, minimum_noise_batch
from model_eval.noise.sweep import SIGMAS, NoiseSweep, noise_sweep


def _checkpoint_and_images(
    model: str | Path,
    *,
    source: str,
    root: str | None,
    split: str,
    n_images: int,
    image_size: int | None,
    seed: int,
    device: str | None,
) -> tuple:
    from model_eval.data import pick_images
    from model_eval.nets.checkpoint import check_fits_source, load_checkpoint
    from model_eval.runtime.device import pick_device

    dev = pick_device(device)
    ckpt = load_checkpoint(model, device=dev)
    size = image_size or ckpt.classifier.input_size
    src, images, labels, sids = pick_images(
        source, root=root, split=split, n_images=n_images, size=size, seed=seed
    )
    check_fits_source(ckpt, len(src.classes), src.channels, source)
    return dev, ckpt, images, labels, sids


def noise_report(
    model: str | Path,
    out: str | Path,
    *,
    source: str = "synthetic",
    root: str | None = None,
    split: str = "test",
    n_images: int = 430,
    image_size: int | None = None,
    sigmas: Sequence[float] = SIGMAS,
    draws: int = 1,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> NoiseSweep:
    """Accuracy vs Gaussian noise sigma / PSNR (Aghdam et al. 2016) of a checkpoint on ``n_images``
    source images; writes ``noise_summary.csv``, ``noise_per_class.csv`` and ``noise.png`` to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dev, ckpt, images, labels, _ = _checkpoint_and_images(
        model,
        source=source,
        root=root,
        split=split,
        n_images=n_images,
        image_size=image_size,
        seed=seed,
        device=device,
    )
    sweep = noise_sweep(
        ckpt.classifier,
        images,
        labels,
        num_classes=ckpt.num_classes,
        sigmas=tuple(sigmas),
        draws=draws,
        seed=seed,
        device=dev,
        progress=progress,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sweep.summary.assign(model=ckpt.name).to_csv(out / "noise_summary.csv", index=False)
    sweep.per_class.assign(model=ckpt.name).to_csv(out / "noise_per_class.csv", index=False)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(sweep.summary["psnr_mean"], sweep.summary["accuracy"], "o-", label="accuracy")
    ax.plot(sweep.summary["psnr_mean"], sweep.summary["mean_confidence"], "s--", label="mean confidence")
    ax.set_xlabel("PSNR (dB)")
    ax.set_ylim(0, 1.02)
    ax.invert_xaxis()
    ax.legend()
    ax.set_title(f"{ckpt.name}: Gaussian noise")
    fig.tight_layout()
    fig.savefig(out / "noise.png", dpi=110)
    plt.close(fig)
    return sweep


def min_noise(
    model: str | Path,
    out: str | Path,
    *,
    source: str = "synthetic",
    root: str | None = None,
    split: str = "test",
    n_images: int = 3,
    image_size: int | None = None,
    config: GAConfig | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """The evolutionary minimum-noise search (Aghdam et al. 2016) on ``n_images`` source images: one
    row per image (model, source_id and :meth:`MinimumNoise.row`), also written as the CSV ``out``."""
    import torch

    dev, ckpt, images, labels, sids = _checkpoint_and_images(
        model,
        source=source,
        root=root,
        split=split,
        n_images=n_images,
        image_size=image_size,
        seed=seed,
        device=device,
    )
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    results = minimum_noise_batch(
        ckpt.classifier,
        x,
        [int(v) for v in labels],
        config=config or GAConfig(),
        seed=seed,
        device=dev,
        progress=progress,
    )
    df = pd.DataFrame(
        [{"model": ckpt.name, "source_id": sid, **r.row()} for sid, r in zip(sids, results, strict=True)]
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    return df
