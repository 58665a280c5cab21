"""Network architectures of the seed papers, registered by name.

Every builder takes keyword-only ``num_classes`` and ``in_channels`` (and ``input_size`` for the
small networks, whose first fully connected layer depends on it). Models take float images in [0, 1],
NCHW; normalisation is applied by :class:`model_eval.checkpoint.Classifier`, not here.

MVGG layer lists (Hosseini et al. 2017 describe "VGG-like networks of 5 to 9 layers with 3x3
convolutions of 16/32/48/64 filters and FC 128"; the exact lists below are ours). A number is a
3x3 convolution (padding 1, BatchNorm, ReLU) with that many filters, ``M`` is a 2x2 max-pool; every
network ends with FC 128 (ReLU, dropout 0.3) and FC N. The depth counts weight layers (conv + FC):

=======  ====================================================  =====
name     convolutions                                          depth
=======  ====================================================  =====
mvgg5    16 M 32 M 64 M                                        3+2
mvgg6    16 M 32 M 48 M 64 M                                   4+2
mvgg7    16 16 M 32 M 48 M 64 M                                5+2
mvgg8    16 16 M 32 32 M 48 M 64 M                             6+2
mvgg9    16 16 M 32 32 M 48 48 M 64 M                          7+2
=======  ====================================================  =====

An adaptive average pool to 2x2 before FC 128 keeps the networks valid for any input >= 16 px
(for 32x32 inputs with four pools it is the identity).
"""

from __future__ import annotations

import torch
from torch import nn

from model_eval.registry import register_model

MVGG_LAYERS: dict[str, list[int | str]] = {
    "mvgg5": [16, "M", 32, "M", 64, "M"],
    "mvgg6": [16, "M", 32, "M", 48, "M", 64, "M"],
    "mvgg7": [16, 16, "M", 32, "M", 48, "M", 64, "M"],
    "mvgg8": [16, 16, "M", 32, 32, "M", 48, "M", 64, "M"],
    "mvgg9": [16, 16, "M", 32, 32, "M", 48, 48, "M", 64, "M"],
}


class MVGG(nn.Module):
    """VGG-like network from a layer list (see the module docstring table)."""

    def __init__(self, layers: list[int | str], *, num_classes: int, in_channels: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for item in layers:
            if item == "M":
                blocks.append(nn.MaxPool2d(2))
            else:
                assert isinstance(item, int)
                blocks += [nn.Conv2d(channels, item, 3, padding=1, bias=False), nn.BatchNorm2d(item),
                           nn.ReLU(inplace=True)]
                channels = item
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(channels * 4, 128), nn.ReLU(inplace=True), nn.Dropout(0.3),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


def _register_mvgg(name: str) -> None:
    layers = MVGG_LAYERS[name]

    def build(*, num_classes: int, in_channels: int = 3, input_size: int = 32) -> nn.Module:
        return MVGG(layers, num_classes=num_classes, in_channels=in_channels)

    build.__doc__ = f"{name}: 3x3 convs {layers}, FC 128, FC N."
    register_model(name)(build)


for _name in MVGG_LAYERS:
    _register_mvgg(_name)


@register_model()
def lenet5(*, num_classes: int, in_channels: int = 3, input_size: int = 32) -> nn.Module:
    """LeNet-5 as in Hosseini et al.'s Table I: conv5x5x6, pool, conv5x5x16, pool, conv5x5x120, FC84, FC N.

    For inputs other than 32x32 the last convolution's output is flattened, so FC 84 adapts.
    """
    after = ((input_size - 4) // 2 - 4) // 2 - 4
    if after < 1:
        raise ValueError(f"lenet5 needs input_size >= 32, got {input_size}")
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(inplace=True),
        nn.Flatten(), nn.Linear(120 * after * after, 84), nn.ReLU(inplace=True), nn.Linear(84, num_classes),
    )


@register_model()
def hosseini_dnn(*, num_classes: int, in_channels: int = 3, input_size: int = 32) -> nn.Module:
    """Earlier Hosseini network: conv3x3x32, conv3x3x64, max-pool, FC 200, FC 200, FC N (softmax in loss)."""
    side = (input_size - 4) // 2
    if side < 1:
        raise ValueError(f"hosseini_dnn needs input_size >= 6, got {input_size}")
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3), nn.ReLU(inplace=True),
        nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * side * side, 200), nn.ReLU(inplace=True), nn.Dropout(0.25),
        nn.Linear(200, 200), nn.ReLU(inplace=True), nn.Linear(200, num_classes),
    )
