"""Network architectures of the seed papers, registered by name.

Every builder takes keyword-only ``num_classes`` and ``in_channels`` (and ``input_size``, since the
first fully connected layer depends on it). Models take float images in [0, 1], NCHW; normalisation
is applied by :class:`model_eval.nets.checkpoint.Classifier`, not here.

Paper networks (the defaults wherever a paper is named) carry the paper's names and are built layer
for layer from :mod:`model_eval.reproduce.papers.hosseini` (Hosseini et al. 2017, Table I; the short paper's
"DNN"): 3x3 convolutions with padding 1 and ReLU, 2x2 max-pools, no batch normalisation, no
dropout. ``mvgg5_bn`` ... ``mvgg9_bn`` are our modernised variants (BatchNorm, dropout 0.3, an
adaptive pool to 2x2, a 64-filter block in every depth); they train faster on the CPU and are kept
for that, never under a paper's name.
"""

from __future__ import annotations

import torch
from torch import nn

from model_eval.nets.registry import register_model
from model_eval.reproduce.papers.hosseini import HOSSEINI_MVGG
from model_eval.reproduce.papers.hosseini_short import HOSSEINI_DNN

# Our modernised lists (not the paper's): a number is a 3x3 conv + BatchNorm + ReLU, "M" a 2x2 max-pool.
MVGG_BN_LAYERS: dict[str, list[int | str]] = {
    "mvgg5_bn": [16, "M", 32, "M", 64, "M"],
    "mvgg6_bn": [16, "M", 32, "M", 48, "M", 64, "M"],
    "mvgg7_bn": [16, 16, "M", 32, "M", 48, "M", 64, "M"],
    "mvgg8_bn": [16, 16, "M", 32, 32, "M", 48, "M", 64, "M"],
    "mvgg9_bn": [16, 16, "M", 32, 32, "M", 48, 48, "M", 64, "M"],
}


def _pool_size(item: int | str) -> int | None:
    """``"M"`` is a 2x2 max-pool, ``"M4"`` a 4x4 one (MVGG-9's last pool); numbers are convolutions."""
    if isinstance(item, str):
        return int(item[1:] or 2)
    return None


class PaperMVGG(nn.Module):
    """Hosseini et al.'s MVGG: convs (3x3, pad 1, ReLU) and max-pools as listed, FC 128, FC N."""

    def __init__(
        self, layers: list[int | str], *, num_classes: int, in_channels: int, input_size: int, fc: int
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels, side = in_channels, input_size
        for item in layers:
            pool = _pool_size(item)
            if pool is not None:
                if side < pool:
                    raise ValueError(f"input_size {input_size} is too small for this network's max-pools")
                blocks.append(nn.MaxPool2d(pool))
                side //= pool
            else:
                assert isinstance(item, int)
                blocks += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=True)]
                channels = item
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * side * side, fc),
            nn.ReLU(inplace=True),
            nn.Linear(fc, num_classes),
        )
        # Table I gives no initialisation. He et al.'s (normal, fan-in, ReLU gain; zero biases) keeps the
        # signal from fading through up to 9 BatchNorm-free layers: on synthetic signs (60 per class,
        # 4 epochs) it reached 0.34 validation accuracy where PyTorch's default reached 0.15.
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class MVGGBN(nn.Module):
    """Modernised VGG-like network (ours): conv + BatchNorm + ReLU, adaptive 2x2 pool, FC 128 + dropout."""

    def __init__(self, layers: list[int | str], *, num_classes: int, in_channels: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for item in layers:
            if item == "M":
                blocks.append(nn.MaxPool2d(2))
            else:
                assert isinstance(item, int)
                blocks += [
                    nn.Conv2d(channels, item, 3, padding=1, bias=False),
                    nn.BatchNorm2d(item),
                    nn.ReLU(inplace=True),
                ]
                channels = item
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * 4, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.3),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


def _register_paper_mvgg(name: str) -> None:
    layers = list(HOSSEINI_MVGG["layers"][name])
    fc = int(HOSSEINI_MVGG["fc"])

    def build(*, num_classes: int, in_channels: int = 3, input_size: int = 32) -> nn.Module:
        return PaperMVGG(
            layers, num_classes=num_classes, in_channels=in_channels, input_size=input_size, fc=fc
        )

    build.__doc__ = f"{name} (Hosseini et al. 2017, Table I): 3x3 convs {layers}, FC {fc}, FC N."
    register_model(name)(build)


def _register_mvgg_bn(name: str) -> None:
    layers = MVGG_BN_LAYERS[name]

    def build(*, num_classes: int, in_channels: int = 3, input_size: int = 32) -> nn.Module:
        return MVGGBN(layers, num_classes=num_classes, in_channels=in_channels)

    build.__doc__ = f"{name} (ours, not a paper network): 3x3 conv+BN {layers}, adaptive pool, FC 128, FC N."
    register_model(name)(build)


for _name in HOSSEINI_MVGG["layers"]:
    _register_paper_mvgg(_name)
for _name in MVGG_BN_LAYERS:
    _register_mvgg_bn(_name)


@register_model()
def lenet5(*, num_classes: int, in_channels: int = 3, input_size: int = 32) -> nn.Module:
    """LeNet-5 as in Hosseini et al.'s Table I: conv5x5x6, pool, conv5x5x16, pool, conv5x5x120, FC84, FC N.

    For inputs other than 32x32 the last convolution's output is flattened, so FC 84 adapts.
    """
    after = ((input_size - 4) // 2 - 4) // 2 - 4
    if after < 1:
        raise ValueError(f"lenet5 needs input_size >= 32, got {input_size}")
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(120 * after * after, 84),
        nn.ReLU(inplace=True),
        nn.Linear(84, num_classes),
    )


@register_model()
def hosseini_dnn(*, num_classes: int, in_channels: int = 1, input_size: int = 28) -> nn.Module:
    """The short paper's DNN: conv3x3x32, conv3x3x64 (valid), 2x2 max-pool, FC 200, FC 200, FC N.

    Its input is a 28x28 gray image with histogram equalisation (the ``hosseini_dnn`` training preset).
    """
    c1, c2 = HOSSEINI_DNN["convs"]
    fc1, fc2 = HOSSEINI_DNN["fc"]
    side = (input_size - 4) // 2
    if side < 1:
        raise ValueError(f"hosseini_dnn needs input_size >= 6, got {input_size}")
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 3),
        nn.ReLU(inplace=True),
        nn.Conv2d(c1, c2, 3),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * side * side, fc1),
        nn.ReLU(inplace=True),
        nn.Linear(fc1, fc2),
        nn.ReLU(inplace=True),
        nn.Linear(fc2, num_classes),
    )
