"""Architectures: output shapes for 1 and 3 channels and N classes; registry errors; weights files."""

from __future__ import annotations

import pytest
import torch

from model_eval import UnknownModelError, get_model, list_models
from model_eval.registry import register_model
from model_eval.torchvision_models import WeightsFileError

SMALL = ["lenet5", "mvgg5", "mvgg6", "mvgg7", "mvgg8", "mvgg9", "hosseini_dnn"]


def test_registry_lists_the_seed_architectures():
    names = list_models()
    for n in [*SMALL, "resnet18", "resnet50", "vgg16"]:
        assert n in names


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("channels", [1, 3])
def test_small_networks_output_shape(name, channels):
    torch.manual_seed(0)
    net = get_model(name, num_classes=7, in_channels=channels).eval()
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


def test_mvgg_depth_counts_weight_layers():
    for depth in range(5, 10):
        net = get_model(f"mvgg{depth}", num_classes=10, in_channels=3)
        layers = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
        assert len(layers) == depth
        assert {m.out_channels for m in layers if isinstance(m, torch.nn.Conv2d)} <= {16, 32, 48, 64}
        assert layers[-2].out_features == 128


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
