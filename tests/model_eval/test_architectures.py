"""Architectures: output shapes for 1 and 3 channels and N classes; registry errors; weights files."""

from __future__ import annotations

import pytest
import torch

from model_eval import UnknownModelError, get_model, list_models
from model_eval.nets.pretrained import WeightsFileError
from model_eval.nets.registry import register_model

SMALL = [
    "lenet5",
    "mvgg5",
    "mvgg6",
    "mvgg7",
    "mvgg8",
    "mvgg9",
    "hosseini_dnn",
    "mvgg5_bn",
    "mvgg6_bn",
    "mvgg7_bn",
    "mvgg8_bn",
    "mvgg9_bn",
]


def test_registry_lists_the_seed_architectures():
    names = list_models()
    for n in [*SMALL, "resnet18", "resnet50", "vgg16"]:
        assert n in names


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("channels", [1, 3])
def test_small_networks_output_shape(name, channels):
    torch.manual_seed(0)
    net = get_model(name, num_classes=7, in_channels=channels, input_size=32).eval()
    with torch.no_grad():
        out = net(torch.rand(2, channels, 32, 32))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("channels", [1, 3])
def test_torchvision_network_output_shape(channels):
    net = get_model("resnet18", num_classes=5, in_channels=channels).eval()
    with torch.no_grad():
        assert net(torch.rand(1, channels, 64, 64)).shape == (1, 5)


def test_lenet5_follows_table_one():
    net = get_model("lenet5", num_classes=43, in_channels=3)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    fcs = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(6, (5, 5)), (16, (5, 5)), (120, (5, 5))]
    assert [f.out_features for f in fcs] == [84, 43]


def _conv(i: int, o: int) -> int:
    return 9 * i * o + o  # 3x3 kernel weights + biases


def _fc(i: int, o: int) -> int:
    return i * o + o


# Hosseini et al. 2017, Table I, written out layer by layer for a 32x32 RGB input and 43 classes:
# (layer list as (kind, out) pairs, parameter count computed by hand from the table).
TABLE_I = {
    # MVGG-5: conv 16, conv 16, pool, conv 48, pool, FC 128; two pools leave 8x8x48 = 3072 for FC 128.
    # 448 + 2,320 + 6,960 + 393,344 + 5,547 = 408,619 (with FC 10 instead of 43: 404,362).
    "mvgg5": (
        [("c", 16), ("c", 16), ("p", 2), ("c", 48), ("p", 2), ("f", 128), ("f", 43)],
        _conv(3, 16) + _conv(16, 16) + _conv(16, 48) + _fc(8 * 8 * 48, 128) + _fc(128, 43),
    ),
    # MVGG-6: conv 16, conv 16, pool, conv 32, conv 48, pool, FC 128 (again 8x8x48 into FC 128).
    # 448 + 2,320 + 4,640 + 13,872 + 393,344 + 5,547 = 420,171 (with FC 10: 415,914).
    "mvgg6": (
        [("c", 16), ("c", 16), ("p", 2), ("c", 32), ("c", 48), ("p", 2), ("f", 128), ("f", 43)],
        _conv(3, 16) + _conv(16, 16) + _conv(16, 32) + _conv(32, 48) + _fc(8 * 8 * 48, 128) + _fc(128, 43),
    ),
    "mvgg7": (
        [
            ("c", 16),
            ("c", 16),
            ("p", 2),
            ("c", 32),
            ("c", 32),
            ("p", 2),
            ("c", 48),
            ("p", 2),
            ("f", 128),
            ("f", 43),
        ],
        _conv(3, 16)
        + _conv(16, 16)
        + _conv(16, 32)
        + _conv(32, 32)
        + _conv(32, 48)
        + _fc(768, 128)
        + _fc(128, 43),
    ),
    "mvgg8": (
        [
            ("c", 16),
            ("c", 16),
            ("p", 2),
            ("c", 32),
            ("c", 32),
            ("p", 2),
            ("c", 48),
            ("c", 48),
            ("p", 2),
            ("f", 128),
            ("f", 43),
        ],
        _conv(3, 16)
        + _conv(16, 16)
        + _conv(16, 32)
        + _conv(32, 32)
        + _conv(32, 48)
        + _conv(48, 48)
        + _fc(768, 128)
        + _fc(128, 43),
    ),
    # MVGG-9: MVGG-8 + conv 64 + 4x4 max-pool, so FC 128 sees 1x1x64
    "mvgg9": (
        [
            ("c", 16),
            ("c", 16),
            ("p", 2),
            ("c", 32),
            ("c", 32),
            ("p", 2),
            ("c", 48),
            ("c", 48),
            ("p", 2),
            ("c", 64),
            ("p", 4),
            ("f", 128),
            ("f", 43),
        ],
        _conv(3, 16)
        + _conv(16, 16)
        + _conv(16, 32)
        + _conv(32, 32)
        + _conv(32, 48)
        + _conv(48, 48)
        + _conv(48, 64)
        + _fc(64, 128)
        + _fc(128, 43),
    ),
}


def _layer_list(net: torch.nn.Module) -> list[tuple[str, int]]:
    out = []
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            assert m.kernel_size == (3, 3) and m.padding == (1, 1)
            out.append(("c", m.out_channels))
        elif isinstance(m, torch.nn.MaxPool2d):
            out.append(("p", m.kernel_size))
        elif isinstance(m, torch.nn.Linear):
            out.append(("f", m.out_features))
    return out


@pytest.mark.parametrize("name", sorted(TABLE_I))
def test_paper_mvgg_follows_table_one_layer_for_layer(name):
    net = get_model(name, num_classes=43, in_channels=3, input_size=32)
    layers, n_params = TABLE_I[name]
    assert _layer_list(net) == layers
    assert sum(p.numel() for p in net.parameters()) == n_params
    # the paper networks have no batch normalisation and no dropout; depth = weight layers
    assert not any(isinstance(m, torch.nn.BatchNorm2d | torch.nn.Dropout) for m in net.modules())
    assert sum(kind in "cf" for kind, _ in layers) == int(name[-1])


@pytest.mark.parametrize(
    ("name", "classes", "expected"),
    [("mvgg5", 43, 408_619), ("mvgg6", 43, 420_171), ("mvgg5", 10, 404_362), ("mvgg6", 10, 415_914)],
)
def test_mvgg5_and_mvgg6_parameter_counts_match_table_one(name, classes, expected):
    # counts worked out by hand above from Table I's layer lists (32x32x3 input)
    net = get_model(name, num_classes=classes, in_channels=3, input_size=32)
    assert sum(p.numel() for p in net.parameters()) == expected


def test_hosseini_dnn_follows_the_short_paper():
    # conv 32, conv 64 (3x3, no padding), 2x2 max-pool, FC 200, FC 200, FC 43, on 28x28 gray input:
    # 28 -> 26 -> 24 -> pool 12, so the first FC sees 12 * 12 * 64 = 9216 values.
    net = get_model("hosseini_dnn", num_classes=43, in_channels=1, input_size=28)
    kinds = [
        (type(m).__name__, getattr(m, "out_channels", getattr(m, "out_features", None)))
        for m in net.modules()
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear | torch.nn.MaxPool2d)
    ]
    assert kinds == [
        ("Conv2d", 32),
        ("Conv2d", 64),
        ("MaxPool2d", None),
        ("Linear", 200),
        ("Linear", 200),
        ("Linear", 43),
    ]
    expected = 9 * 1 * 32 + 32 + 9 * 32 * 64 + 64 + _fc(9216, 200) + _fc(200, 200) + _fc(200, 43)
    assert expected == 1_911_059
    assert sum(p.numel() for p in net.parameters()) == expected
    assert not any(isinstance(m, torch.nn.Dropout | torch.nn.BatchNorm2d) for m in net.modules())


def test_modernised_variants_say_what_they_are():
    net = get_model("mvgg8_bn", num_classes=10, in_channels=3)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in get_model("mvgg8", num_classes=10).modules())


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(UnknownModelError, match=r"unknown model 'nope'.*mvgg8"):
        get_model("nope", num_classes=3)


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_model("mvgg8")(lambda **_: torch.nn.Identity())


def test_torchvision_weights_come_from_a_local_file(tmp_path):
    torch.manual_seed(1)
    src = get_model("resnet18", num_classes=1000, in_channels=3)
    path = tmp_path / "resnet18.pth"
    torch.save(src.net.state_dict(), path)
    net = get_model("resnet18", num_classes=4, in_channels=3, weights=path)
    assert torch.equal(net.net.conv1.weight, src.net.conv1.weight)  # backbone loaded from the file
    assert net.net.fc.out_features == 4  # head replaced for the new class count
    with pytest.raises(WeightsFileError, match="not found"):
        get_model("resnet18", num_classes=4, weights=tmp_path / "missing.pth")
    with pytest.raises(WeightsFileError, match="does not fit"):
        get_model("resnet50", num_classes=4, weights=path)
