"""Torchvision classifiers whose weights come from a local file (never downloaded at run time).

``get_model("resnet18", num_classes=N, in_channels=C, weights="resnet18.pth")`` builds the torchvision
network, loads the state dict from the file (ImageNet head included), then replaces the head when
N differs from the file's class count, ready for fine-tuning. Without ``weights`` the network starts
from random initialisation. One-channel inputs are repeated to three channels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

from model_eval.nets.registry import Preprocessing, register_model

IMAGENET = Preprocessing(input_size=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
TORCHVISION_NAMES = (
    "resnet18",
    "resnet34",
    "resnet50",
    "vgg11",
    "vgg16",
    "alexnet",
    "mobilenet_v3_small",
    "inception_v3",
)
# Inception v3 reads 299 px, and its ImageNet weights expect torchvision's input transform (on inputs
# normalised with the ImageNet mean and std); its auxiliary head is only for training and is dropped.
_INPUT = {"inception_v3": Preprocessing(299, IMAGENET.mean, IMAGENET.std)}
_ARCH_KWARGS: dict[str, dict[str, bool]] = {
    "inception_v3": {"aux_logits": False, "transform_input": True, "init_weights": True}
}
_DROPPED_KEYS = {"inception_v3": "AuxLogits."}


def cached_weights(arch: str) -> Path | None:
    """The ImageNet weights file torchvision keeps in its cache for ``arch`` (``torch.hub.get_dir()``
    /checkpoints, where ``weights=...`` would have put it), or None: nothing is ever downloaded."""
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    for weights in torchvision.models.get_model_weights(arch):
        path = checkpoints / Path(weights.url).name
        if path.is_file():
            return path
    return None


class WeightsFileError(ValueError):
    """A --weights file is missing or does not fit the architecture."""


class _RepeatChannels(nn.Module):
    def __init__(self, net: nn.Module, in_channels: int) -> None:
        super().__init__()
        self.net = net
        self.repeat = 3 if in_channels == 1 else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.repeat != 1:
            x = x.expand(-1, 3, -1, -1)
        return self.net(x)


def _replace_head(net: nn.Module, num_classes: int) -> None:
    if hasattr(net, "fc") and isinstance(net.fc, nn.Linear):
        net.fc = nn.Linear(net.fc.in_features, num_classes)
        return
    classifier = getattr(net, "classifier", None)
    if isinstance(classifier, nn.Sequential) and isinstance(classifier[-1], nn.Linear):
        classifier[-1] = nn.Linear(classifier[-1].in_features, num_classes)
        return
    raise WeightsFileError(f"cannot replace the classification head of {type(net).__name__}")


def _head_classes(state: dict[str, torch.Tensor]) -> int:
    last = [k for k in state if k.endswith(".weight") and state[k].ndim == 2][-1]
    return int(state[last].shape[0])


def _make_builder(arch: str) -> Callable[..., nn.Module]:
    def build(
        *, num_classes: int, in_channels: int = 3, input_size: int = 224, weights: str | Path | None = None
    ) -> nn.Module:
        if in_channels not in (1, 3):
            raise ValueError(f"{arch} takes 1 or 3 channels, got {in_channels}")
        factory = getattr(torchvision.models, arch)
        extra = _ARCH_KWARGS.get(arch, {})
        if weights is None:
            return _RepeatChannels(factory(weights=None, num_classes=num_classes, **extra), in_channels)
        path = Path(weights)
        if not path.is_file():
            raise WeightsFileError(
                f"weights file not found: {path} (pass a local .pth state dict; nothing is downloaded)"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        if arch in _DROPPED_KEYS:
            state = {k: v for k, v in state.items() if not k.startswith(_DROPPED_KEYS[arch])}
        file_classes = _head_classes(state)
        net = factory(weights=None, num_classes=file_classes, **extra)
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise WeightsFileError(f"{path} does not fit {arch}: {str(exc).splitlines()[0]}") from None
        if file_classes != num_classes:
            _replace_head(net, num_classes)
        return _RepeatChannels(net, in_channels)

    build.__name__ = arch
    build.__doc__ = f"torchvision {arch}; weights from a local file (``weights=PATH``)."
    return build


for _arch in TORCHVISION_NAMES:
    register_model(_arch, preprocessing=_INPUT.get(_arch, IMAGENET), needs_weights_file=True)(
        _make_builder(_arch)
    )
