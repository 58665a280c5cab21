"""Checkpoints: model weights + architecture + class list + preprocessing + training config.

A checkpoint is enough to rebuild the classifier and to reproduce (or resume) its training. It is a
plain ``torch.save`` dict loadable with ``weights_only=True``. Ensembles store one state dict per
member; :class:`Classifier` averages the members' softmax.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from model_eval.data import equalize_histogram_batch
from model_eval.nets.registry import Preprocessing, get_entry, get_model

FORMAT = "model_eval.checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint file is missing, malformed, or does not fit the data it is used on."""


class Classifier(nn.Module):
    """Images in [0, 1] (NCHW, any size) -> logits; resizes, normalises, averages ensemble softmax.

    Histogram equalisation, when the preprocessing asks for it, follows the resize (the network
    sees equalised images of its input size, in training as in prediction).
    Resizing is bilinear with ``align_corners=False`` and no antialiasing: the same operation that
    the batched FRI crop extraction reproduces, so a crop of the full image and a resized crop agree.
    For an ensemble the output is log(mean softmax), so ``softmax(output)`` is the averaged softmax.
    """

    def __init__(self, members: list[nn.Module], preprocessing: Preprocessing) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.preprocessing = preprocessing
        self.input_size = preprocessing.input_size
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(preprocessing.mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(preprocessing.std).view(1, -1, 1, 1), persistent=False)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = F.interpolate(
                x,
                size=(self.input_size, self.input_size),
                mode="bilinear",
                align_corners=False,
                antialias=False,
            )
        if self.preprocessing.equalize:
            x = equalize_histogram_batch(x)
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare(x)
        if len(self.members) == 1:
            return self.members[0](x)
        probs = torch.stack([F.softmax(m(x).float(), dim=1) for m in self.members]).mean(0)
        return torch.log(probs.clamp_min(1e-12))


@dataclass
class LoadedCheckpoint:
    classifier: Classifier
    data: dict[str, Any]
    path: Path

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def num_classes(self) -> int:
        return int(self.data["num_classes"])

    @property
    def in_channels(self) -> int:
        return int(self.data["in_channels"])

    @property
    def classes(self) -> list[dict[str, Any]]:
        return list(self.data["classes"])


def build_members(
    arch: str,
    n: int,
    *,
    num_classes: int,
    in_channels: int,
    input_size: int,
    arch_kwargs: dict[str, Any] | None = None,
) -> list[nn.Module]:
    return [
        get_model(
            arch,
            num_classes=num_classes,
            in_channels=in_channels,
            input_size=input_size,
            **(arch_kwargs or {}),
        )
        for _ in range(n)
    ]


def save_checkpoint(
    path: str | Path,
    *,
    arch: str,
    name: str,
    members: list[nn.Module],
    num_classes: int,
    in_channels: int,
    preprocessing: Preprocessing,
    classes: list[dict[str, Any]],
    config: dict[str, Any],
    source: str,
    history: list[dict[str, Any]] | None = None,
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Write atomically (temp file + rename) so an interrupted run never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "format": FORMAT,
        "arch": arch,
        "name": name,
        "num_classes": num_classes,
        "in_channels": in_channels,
        "preprocessing": preprocessing.as_dict(),
        "classes": classes,
        "members": [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in members],
        "config": config,
        "source": source,
        "history": history or [],
        "train_state": train_state,
        "torch_version": str(torch.__version__),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    tmp.replace(path)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise CheckpointError(f"{path} is not a model_eval checkpoint ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a model_eval checkpoint (format {FORMAT} expected)")
    return data


def load_checkpoint(path: str | Path, *, device: torch.device | str = "cpu") -> LoadedCheckpoint:
    """Rebuild the classifier (eval mode) from a checkpoint file."""
    data = read_checkpoint(path)
    entry = get_entry(data["arch"])
    pre = Preprocessing.from_dict(data["preprocessing"])
    members = build_members(
        entry.name,
        len(data["members"]),
        num_classes=int(data["num_classes"]),
        in_channels=int(data["in_channels"]),
        input_size=pre.input_size,
    )
    for member, state in zip(members, data["members"], strict=True):
        try:
            member.load_state_dict(state)
        except RuntimeError:
            raise CheckpointError(
                f"{path} does not fit today's {entry.name} (written when that name meant another layer "
                "list? the modernised MVGG networks are now mvggN_bn): retrain it"
            ) from None
    clf = Classifier(members, pre).to(device).eval()
    return LoadedCheckpoint(clf, data, Path(path))


def check_fits_source(ckpt: LoadedCheckpoint, n_classes: int, channels: int, source: str) -> None:
    """A source's images go straight to the network (fri, noise): classes and channels must match."""
    if ckpt.num_classes != n_classes:
        raise CheckpointError(
            f"checkpoint {ckpt.path} is for {ckpt.num_classes} classes but source {source!r} has {n_classes}"
        )
    if ckpt.in_channels != channels:
        raise CheckpointError(
            f"checkpoint {ckpt.path} takes {ckpt.in_channels}-channel images but source "
            f"{source!r} gives {channels}-channel images"
        )
