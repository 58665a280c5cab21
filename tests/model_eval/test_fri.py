"""FRI: batched crop extraction equals a per-crop reference loop; FRI map logic on hand-made maps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model_eval.fri.maps import classify_crops, derive_fri_maps, extract_crops, fri_for_side, side_for_ratio
from model_eval.nets.checkpoint import Classifier, build_members
from model_eval.nets.registry import Preprocessing


def interpolated_crop(image: torch.Tensor, x: int, y: int, side: int, out: int) -> torch.Tensor:
    """Slice one crop, resize it with F.interpolate (bilinear, align_corners=False, no antialiasing)."""
    crop = image[:, y : y + side, x : x + side].unsqueeze(0)
    return F.interpolate(crop, size=(out, out), mode="bilinear", align_corners=False, antialias=False)[0]


def reference_crop(image: torch.Tensor, x: int, y: int, side: int, out: int) -> torch.Tensor:
    """The module's definition, one crop at a time: bilinear samples of the whole image at
    x + (j + 0.5) * side / out - 0.5 (clamped to the image), via grid_sample's pixel-centre convention."""
    _, h, w = image.shape
    j = torch.arange(out, dtype=torch.float64)
    px = x + (j + 0.5) * side / out - 0.5
    py = y + (j + 0.5) * side / out - 0.5
    gx, gy = (2 * px + 1) / w - 1, (2 * py + 1) / h - 1  # align_corners=False: pixel i at (2i + 1)/n - 1
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None].float()
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0]


@pytest.mark.parametrize(("side", "out"), [(5, 16), (16, 16), (20, 7), (3, 32), (13, 9)])
def test_batched_crops_equal_reference_loop(side, out):
    gen = torch.Generator().manual_seed(side)
    image = torch.rand(3, 21, 24, generator=gen)
    ys = torch.randint(0, 21 - side + 1, (12,), generator=gen)
    xs = torch.randint(0, 24 - side + 1, (12,), generator=gen)
    ys[0], xs[0] = 0, 24 - side  # a crop touching the image's top and right edges
    batched = extract_crops(image, xs, ys, side, out)
    pos = list(zip(xs.tolist(), ys.tolist(), strict=True))
    loop = torch.stack([reference_crop(image, x, y, side, out) for x, y in pos])
    assert batched.shape == (12, 3, out, out)
    torch.testing.assert_close(batched, loop, atol=2e-6, rtol=0)
    # shrinking (or keeping) a region is exactly F.interpolate of the cut-out region; enlarging it differs
    # only in the output pixels that sample within half a source pixel of the region's border, where
    # (j + 0.5) * side / out - 0.5 < 0, i.e. the first and last ceil(out / (2 side) - 0.5)
    interp = torch.stack([interpolated_crop(image, x, y, side, out) for x, y in pos])
    if side >= out:
        torch.testing.assert_close(batched, interp, atol=2e-6, rtol=0)
    else:
        m = math.ceil(out / (2 * side) - 0.5)
        torch.testing.assert_close(batched[..., m:-m, m:-m], interp[..., m:-m, m:-m], atol=2e-6, rtol=0)
        assert not torch.allclose(batched, interp, atol=1e-3)


def _tiny_classifier(seed=0, classes=4):
    torch.manual_seed(seed)
    return Classifier(
        build_members("mvgg5", 1, num_classes=classes, in_channels=3, input_size=16),
        Preprocessing(16, (0.5,) * 3, (0.5,) * 3),
    ).eval()


def test_crop_predictions_equal_reference_loop():
    model = _tiny_classifier()
    image = torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(3))
    side = 11
    maps = classify_crops(model, image, label=1, side=side, batch_size=37)
    n = 20 - side + 1
    with torch.no_grad():
        ref = np.array(
            [
                [int(model(reference_crop(image, x, y, side, 16)[None]).argmax()) for x in range(n)]
                for y in range(n)
            ]
        )
    np.testing.assert_array_equal(maps.pred, ref)
    np.testing.assert_array_equal(maps.correct, ref == 1)


def test_fri_maps_on_a_hand_made_correctness_map():
    # 3x3 region grid at side s, all correct except the centre; side s-2 grid (5x5) all correct.
    c = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=bool)
    small = np.ones((5, 5), dtype=bool)
    maps = derive_fri_maps(c, small)
    # Worked by hand: the centre differs from all 4 neighbours (strict shift); an edge cell has 3
    # neighbours of which only the centre differs (loose, not strict); corners see no flip.
    np.testing.assert_array_equal(maps["loose_shift"], [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    np.testing.assert_array_equal(maps["strict_shift"], [[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    # Shrink: only the incorrect centre differs from its 9 (all correct) inner crops, so strict.
    np.testing.assert_array_equal(maps["loose_shrink"], [[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(maps["strict_shrink"], [[0, 0, 0], [0, 1, 0], [0, 0, 0]])


def test_fri_flips_count_in_both_directions_and_shrink_offsets():
    c = np.array([[0, 1]], dtype=bool)  # 1x2 grid: the two regions flip each other
    small = np.zeros((3, 4), dtype=bool)
    small[2, 3] = True  # the inner crop at offset (2, 2) of region (0, 1) only
    maps = derive_fri_maps(c, small)
    np.testing.assert_array_equal(maps["loose_shift"], [[1, 1]])  # incorrect->correct and correct->incorrect
    np.testing.assert_array_equal(maps["strict_shift"], [[1, 1]])  # each has exactly one neighbour
    # region (0,0) is incorrect and all its inner crops are incorrect: no flip; region (0,1) is correct
    # and 8 of its 9 inner crops are incorrect: loose, not strict.
    np.testing.assert_array_equal(maps["loose_shrink"], [[0, 1]])
    np.testing.assert_array_equal(maps["strict_shrink"], [[0, 0]])


def test_single_region_has_no_shift_change():
    maps = derive_fri_maps(np.array([[1]], dtype=bool), np.zeros((3, 3), dtype=bool))
    assert not maps["loose_shift"].any() and not maps["strict_shift"].any()
    assert maps["strict_shrink"].all()


def test_shrink_map_shape_is_checked():
    with pytest.raises(ValueError, match="shrink map"):
        derive_fri_maps(np.ones((3, 3), bool), np.ones((4, 4), bool))


def test_stride_grid_matches_the_full_map():
    model = _tiny_classifier(seed=1)
    image = torch.rand(3, 18, 18, generator=torch.Generator().manual_seed(5))
    full = fri_for_side(model, image, 2, 9, stride=1)
    sparse = fri_for_side(model, image, 2, 9, stride=3)
    for k, v in full.maps.items():
        np.testing.assert_array_equal(sparse.maps[k], v[::3, ::3])
    assert side_for_ratio(0.5, 32) == 16
    with pytest.raises(ValueError):
        side_for_ratio(1.5, 32)


@pytest.mark.needs_cuda
def test_cuda_crops_and_maps_agree_with_cpu():
    """On CUDA the crops (fp32 roi_align) equal the CPU's; the map's p(true) (bf16 autocast, channels-last)
    agrees with the fp32 CPU run to bf16 precision."""
    image = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(2))
    ys, xs = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    cpu_crops = extract_crops(image, xs.reshape(-1), ys.reshape(-1), 17, 16)
    gpu_crops = extract_crops(image.cuda(), xs.reshape(-1).cuda(), ys.reshape(-1).cuda(), 17, 16)
    torch.testing.assert_close(gpu_crops.cpu(), cpu_crops, atol=1e-5, rtol=0)
    model = _tiny_classifier()
    cpu = classify_crops(model, image, label=1, side=17, device=torch.device("cpu"))
    gpu = classify_crops(model.cuda(), image, label=1, side=17, device=torch.device("cuda"))
    assert np.abs(gpu.prob_true - cpu.prob_true).max() < 0.05
