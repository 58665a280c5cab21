"""The typed entry point for training: a config built from keyword arguments, and one call that trains.

An option left as ``None`` takes the architecture's preset (:data:`~model_eval.training.loop.PRESETS`),
else the :class:`~model_eval.training.loop.TrainConfig` default, exactly as the ``train`` command does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_eval.nets.checkpoint import read_checkpoint
from model_eval.training.loop import PRESETS, TrainConfig, fit


@dataclass(frozen=True)
class TrainResult:
    """A finished run: its checkpoint and the last member's final validation figures (NaN if none)."""

    checkpoint: Path
    val_accuracy: float
    val_negative_accuracy: float
    val_chance: float


def train_config(
    *,
    arch: str = "mvgg8",
    source: str = "synthetic",
    root: str | None = None,
    size: int | None = None,
    n_per_class: int | None = 150,
    seed: int = 0,
    epochs: int | None = None,
    target_accuracy: float | None = None,
    max_minutes: float | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    val_fraction: float | None = None,
    gray: bool | None = None,
    equalize: bool | None = None,
    translate: int = 0,
    reflect: bool = False,
    negatives: int = 0,
    negatives_only: bool = False,
    n_negatives: int | None = None,
    noise_copies: int = 0,
    fgsm_eps: float = 0.0,
    ensemble: int = 1,
    init: str | None = None,
    weights: str | None = None,
    name: str | None = None,
    tag: str | None = None,
    device: str | None = None,
    progress: bool = True,
) -> TrainConfig:
    """The run's :class:`TrainConfig`: each ``None`` option takes the preset, else the field default."""
    preset = PRESETS.get(arch, {})

    def pick(name: str, value: Any) -> Any:
        return value if value is not None else preset.get(name, getattr(TrainConfig, name))

    return TrainConfig(
        arch=arch,
        source=source,
        root=root,
        size=pick("size", size),
        n_per_class=n_per_class,
        seed=seed,
        epochs=pick("epochs", epochs),
        target_accuracy=target_accuracy,
        batch_size=pick("batch_size", batch_size),
        lr=pick("lr", lr),
        val_fraction=pick("val_fraction", val_fraction),
        gray=pick("gray", gray),
        equalize=pick("equalize", equalize),
        translate=translate,
        reflect=reflect,
        negatives=negatives,
        negatives_only=negatives_only,
        n_negatives=n_negatives,
        noise_copies=noise_copies,
        fgsm_eps=fgsm_eps,
        ensemble=ensemble,
        init=init,
        weights=weights,
        max_minutes=max_minutes,
        name=name,
        tag=tag,
        device=device,
        progress=progress,
    )


def train(config: TrainConfig, out: str | Path, *, resume: bool = False) -> TrainResult:
    """Train ``config`` into the checkpoint ``out`` and return where it stands.

    A run stopped by its time budget raises :class:`~model_eval.training.loop.TrainingStopped` (its
    checkpoint is saved and ``resume=True`` continues it): a stopped run is never returned as a result.
    """
    path = fit(config, out, resume=resume)
    history = read_checkpoint(path).get("history") or []
    last = history[-1] if history else {}
    nan = math.nan
    return TrainResult(
        checkpoint=path,
        val_accuracy=float(last.get("val_accuracy", nan)),
        val_negative_accuracy=float(last.get("val_negative_accuracy", nan)),
        val_chance=float(last.get("val_chance", nan)),
    )
