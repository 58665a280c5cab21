"""Training options: augmentations against their definitions, and a tiny run with every option on."""

from __future__ import annotations

import pytest
import torch

from model_eval.data import negative, random_reflect, random_translate
from model_eval.nets.checkpoint import load_checkpoint, read_checkpoint
from model_eval.training.data import spread_over_classes, stratified_split, to_gray, training_set
from model_eval.training.loop import TrainConfig, TrainingStopped, fit
from model_eval.training.state import training_done


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
    x, y = torch.rand(12, 3, 4, 4), torch.arange(12) % 3
    neg_x, neg_y = training_set(TrainConfig(negatives_only=True), x, y)
    assert torch.equal(neg_x, 1 - x[spread_over_classes(y, 12, 1)])  # Hosseini's negative: x -> 1 - x
    assert sorted(neg_y.tolist()) == sorted(y.tolist())
    few_x, few_y = training_set(TrainConfig(negatives_only=True, n_negatives=4), x, y)
    assert len(few_x) == 4 and set(few_y.tolist()) == {0, 1, 2}  # round-robin: every class before repeats
    for img, lab in zip(few_x, few_y, strict=True):
        i = next(i for i in range(12) if torch.equal(1 - x[i], img))
        assert y[i] == lab
    more_x, more_y = training_set(TrainConfig(negatives=4), x, y)
    assert len(more_x) == 16 and torch.equal(more_x[:12], x)
    for img, lab in zip(more_x[12:], more_y[12:], strict=True):
        assert any(torch.equal(img, negative(x[i])) and y[i] == lab for i in range(12))


def test_validation_split_is_stratified_per_class():
    # 3 classes with 10, 25 and 5 images: 20% per class is 2, 5 and 1 (hand count)
    shuffle = torch.randperm(40, generator=torch.Generator().manual_seed(3))
    labels = torch.tensor([0] * 10 + [1] * 25 + [2] * 5)[shuffle]
    tr, va = stratified_split(labels, 0.2, seed=0)
    assert torch.bincount(labels[va]).tolist() == [2, 5, 1]
    assert sorted(tr.tolist() + va.tolist()) == list(range(40))
    _, va2 = stratified_split(labels, 0.2, seed=0)
    assert torch.equal(va, va2)  # seeded: a resumed run sees the same split
    with pytest.raises(ValueError, match="validation fraction"):
        stratified_split(labels, 1.0, seed=0)


def test_gray_is_bt601_luma():
    x = torch.tensor([1.0, 0.5, 0.25]).view(1, 3, 1, 1)
    assert to_gray(x).item() == pytest.approx(0.299 * 1.0 + 0.587 * 0.5 + 0.114 * 0.25)


def test_every_training_option_in_one_tiny_run(tmp_path):
    cfg = TrainConfig(
        arch="lenet5",
        n_per_class=2,
        epochs=1,
        batch_size=32,
        translate=1,
        reflect=True,
        negatives=20,
        noise_copies=1,
        noise_sigmas=[8.0, 25.0],
        fgsm_eps=0.03,
        ensemble=2,
        progress=False,
        tag="robust",
    )
    path = fit(cfg, tmp_path / "e.pt")
    ck = load_checkpoint(path)
    assert len(ck.data["members"]) == 2 and ck.name == "lenet5-robust"
    assert [h["member"] for h in ck.data["history"]] == [0, 1]
    assert ck.data["config"]["fgsm_eps"] == 0.03
    a, b = ck.classifier.members
    assert not torch.equal(a[0].weight, b[0].weight)  # independently initialised members
    # fine-tuning from that checkpoint starts from its weights
    ft_cfg = TrainConfig(arch="lenet5", n_per_class=2, epochs=0, init=str(path), ensemble=2, progress=False)
    ft = fit(ft_cfg, tmp_path / "ft.pt")
    assert torch.equal(load_checkpoint(ft).classifier.members[0][0].weight, a[0].weight)
    for h in ck.data["history"]:  # accuracy on held-out negatives recorded beside validation accuracy
        assert 0 <= h["val_negative_accuracy"] <= 1 and h["val_accuracy"] == h["val_regular_accuracy"]
        # 2 images per class and 20% per class: one held-out image per class, so chance = 43 * (1/43)^2
        assert h["val_chance"] == pytest.approx(1 / 43)


TINY = {"arch": "mvgg5", "n_per_class": 3, "epochs": 2, "batch_size": 16, "progress": False, "device": "cpu"}


def _weights(path):
    return {k: v for k, v in read_checkpoint(path)["members"][0].items()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return fit(TrainConfig(**TINY), tmp_path_factory.mktemp("u") / "u.pt")


def test_budget_stop_is_resumable_never_done_and_resumes_exactly(uninterrupted, tmp_path):
    out = tmp_path / "b.pt"
    with pytest.raises(TrainingStopped, match="not done"):
        fit(TrainConfig(**TINY, max_minutes=1e-9), out)  # the budget is gone after the first step
    state = read_checkpoint(out)["train_state"]
    assert state["stopped"] == "time budget" and not state["done"] and not training_done(out)
    assert (state["member"], state["epoch"], state["step"]) == (0, 0, 1)
    fit(TrainConfig(**TINY), out, resume=True)
    assert training_done(out)
    # the resumed run continues at the exact batch: the same weights as a run never stopped
    a, b = _weights(out), _weights(uninterrupted)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert [h["epoch"] for h in read_checkpoint(out)["history"]] == [1, 2]


def test_ctrl_c_leaves_a_resumable_checkpoint(uninterrupted, tmp_path, monkeypatch):
    import model_eval.training.loop as training

    calls = {"n": 0}
    real = training.F.cross_entropy

    def interrupt_on_fifth_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training.F, "cross_entropy", interrupt_on_fifth_batch)
    out = tmp_path / "c.pt"
    with pytest.raises(KeyboardInterrupt):
        fit(TrainConfig(**TINY), out)
    monkeypatch.setattr(training.F, "cross_entropy", real)
    state = read_checkpoint(out)["train_state"]
    assert state["stopped"] == "interrupted" and not state["done"]
    # 103 training images (129 minus 20% of 3 per class = 1 per class held out) / 16 = 7 batches per epoch
    assert (state["epoch"], state["step"]) == (0, 4)
    fit(TrainConfig(**TINY), out, resume=True)
    a, b = _weights(out), _weights(uninterrupted)
    assert training_done(out) and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_target_accuracy_stops_a_member_and_marks_done(tmp_path):
    out = fit(TrainConfig(**{**TINY, "epochs": 5}, target_accuracy=1e-6, ensemble=2), tmp_path / "t.pt")
    hist = read_checkpoint(out)["history"]
    assert [(h["member"], h["epoch"]) for h in hist] == [(0, 1), (1, 1)]
    assert training_done(out)


def test_gray_equalised_run_predicts_through_the_same_preprocessing(tmp_path):
    from model_eval.data import equalize_histogram_batch

    cfg = TrainConfig(
        arch="hosseini_dnn",
        size=28,
        gray=True,
        equalize=True,
        n_per_class=2,
        epochs=1,
        progress=False,
        device="cpu",
    )
    ck = load_checkpoint(fit(cfg, tmp_path / "g.pt"))
    assert ck.in_channels == 1 and ck.data["preprocessing"]["equalize"] is True
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        manual = ck.classifier.members[0]((equalize_histogram_batch(x) - 0.5) / 0.5)
        assert torch.allclose(ck.classifier(x), manual)


def test_fine_tuning_on_n_negatives_only_starts_from_init(uninterrupted, tmp_path):
    cfg = TrainConfig(**{**TINY, "epochs": 1}, init=str(uninterrupted), negatives_only=True, n_negatives=10)
    out = fit(cfg, tmp_path / "ft.pt")
    hist = read_checkpoint(out)["history"]
    # negatives-only: the validation accuracy is the one on held-out negatives
    assert hist[0]["val_accuracy"] == hist[0]["val_negative_accuracy"]
    assert read_checkpoint(out)["config"]["n_negatives"] == 10


def test_bad_arguments_fail_before_any_data_is_read(tmp_path, monkeypatch):
    import stimuli

    def no_data(*a, **k):
        raise AssertionError("data was read before the arguments were checked")

    monkeypatch.setattr(stimuli, "get_source", no_data)
    from model_eval.nets.pretrained import WeightsFileError

    with pytest.raises(WeightsFileError, match="not found"):
        fit(TrainConfig(arch="resnet18", weights=str(tmp_path / "nosuch.pth")), tmp_path / "x.pt")
    with pytest.raises(ValueError, match="n_negatives"):
        fit(TrainConfig(n_negatives=5), tmp_path / "x.pt")
    with pytest.raises(ValueError, match="target_accuracy"):
        fit(TrainConfig(target_accuracy=1.5), tmp_path / "x.pt")
    from model_eval.nets.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="not found"):
        fit(TrainConfig(init=str(tmp_path / "none.pt")), tmp_path / "x.pt")
