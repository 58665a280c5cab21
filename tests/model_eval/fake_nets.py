"""Checkpoints of hand-written stand-in networks, for tests that need a network whose answers are known."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

import stimuli
from model_eval import list_models, register_model
from model_eval.nets.checkpoint import save_checkpoint
from model_eval.nets.registry import Preprocessing


def save_fake_checkpoint(
    path: Path, arch: str, make: Callable[[int], torch.nn.Module], *, name: str, num_classes: int
) -> Path:
    """Register `arch` (built by `make(num_classes)`) once per process and save it as a 16 px, RGB
    checkpoint with the synthetic source's classes."""
    if arch not in list_models():
        register_model(arch)(lambda *, num_classes, **_: make(num_classes))
    src = stimuli.get_source("synthetic", split="test", n_per_class=1)
    save_checkpoint(
        path,
        arch=arch,
        name=name,
        members=[make(num_classes)],
        num_classes=num_classes,
        in_channels=3,
        preprocessing=Preprocessing(16, (0.0,) * 3, (1.0,) * 3),
        classes=[{"id": c.id, "name": c.name} for c in src.classes],
        config={},
        source="synthetic",
    )
    return path
