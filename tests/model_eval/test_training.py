"""Training options: augmentations against their definitions, and a tiny run with every option on."""

from __future__ import annotations

import torch

from model_eval.checkpoint import load_checkpoint
from model_eval.data import TensorData, negative, random_reflect, random_translate, split_validation
from model_eval.training import TrainConfig, _training_set, train


def test_translate_moves_pixels_by_whole_shifts_with_zero_fill():
    x = torch.arange(2 * 1 * 5 * 5, dtype=torch.float32).view(2, 1, 5, 5) + 1
    gen = torch.Generator().manual_seed(0)
    shifts = torch.randint(-2, 3, (2, 2), generator=torch.Generator().manual_seed(0))
    out = random_translate(x, 2, gen)
    for i, (dy, dx) in enumerate(shifts.tolist()):
        # reference: out[y, x] = in[y - dy, x - dx] where inside, else 0
        ref = torch.zeros(5, 5)
        for yy in range(5):
            for xx in range(5):
                if 0 <= yy - dy < 5 and 0 <= xx - dx < 5:
                    ref[yy, xx] = x[i, 0, yy - dy, xx - dx]
        assert torch.equal(out[i, 0], ref)


def test_reflect_mirrors_or_keeps_each_image():
    x = torch.rand(16, 3, 4, 4)
    out = random_reflect(x, torch.Generator().manual_seed(1))
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, x, strict=True)]
    kept = [torch.equal(o, i) for o, i in zip(out, x, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert any(flipped) and any(kept)


def test_training_sets_for_negatives():
    data = TensorData(torch.rand(10, 3, 4, 4), torch.arange(10), [], 3, "t")
    idx = torch.arange(10)
    x, y = _training_set(TrainConfig(negatives_only=True), data, idx)
    assert torch.equal(x, 1 - data.images)  # Hosseini's negative: every pixel x becomes 1 - x
    x, y = _training_set(TrainConfig(negatives=4), data, idx)
    assert len(x) == 14
    extra, extra_y = x[10:], y[10:]
    for img, lab in zip(extra, extra_y, strict=True):
        assert torch.equal(img, negative(data.images[lab]))
    tr, va = split_validation(100, 0.1, 0)
    assert len(va) == 10 and len(set(tr.tolist()) | set(va.tolist())) == 100


def test_every_training_option_in_one_tiny_run(tmp_path):
    cfg = TrainConfig(arch="lenet5", n_per_class=2, epochs=1, batch_size=32, translate=1, reflect=True,
                      negatives=20, noise_copies=1, noise_sigmas=[8.0, 25.0], fgsm_eps=0.03, ensemble=2,
                      progress=False, tag="robust")
    path = train(cfg, tmp_path / "e.pt")
    ck = load_checkpoint(path)
    assert len(ck.data["members"]) == 2 and ck.name == "lenet5-robust"
    assert [h["member"] for h in ck.data["history"]] == [0, 1]
    assert ck.data["config"]["fgsm_eps"] == 0.03
    a, b = ck.classifier.members
    assert not torch.equal(a[0].weight, b[0].weight)  # independently initialised members
    # fine-tuning from that checkpoint starts from its weights
    ft_cfg = TrainConfig(arch="lenet5", n_per_class=2, epochs=0, init=str(path), ensemble=2, progress=False)
    ft = train(ft_cfg, tmp_path / "ft.pt")
    assert torch.equal(load_checkpoint(ft).classifier.members[0][0].weight, a[0].weight)
