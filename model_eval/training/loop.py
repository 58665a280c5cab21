"""Training: regular, augmented, negatives (fine-tune or from scratch), noise, FGSM, ensembles.

Split as torchvision's reference training script is: :mod:`model_eval.training.data` loads the data,
:func:`train_one_epoch` trains one epoch, :func:`evaluate` measures held-out accuracy on regular and
negative images, :mod:`model_eval.training.state` checkpoints and resumes, and :func:`fit` is the loop
over the members of an ensemble.

A run stops at its target: ``epochs``, or ``target_accuracy`` on the validation split. A wall-time
budget (``max_minutes``) or Ctrl-C stops it early; the checkpoint then records the exact position
and ``resume=True`` continues there. Only a run that reached its target is marked done. Under
``torchrun`` the members are wrapped in DDP with a DistributedSampler, and only rank 0 writes.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from model_eval.data import TensorData, equalize_histogram_batch, negative, random_reflect, random_translate
from model_eval.metrics import chance_level
from model_eval.nets.checkpoint import build_members
from model_eval.nets.registry import Preprocessing, get_entry
from model_eval.reproduce.papers.aghdam import AGHDAM_SIGMAS
from model_eval.reproduce.papers.hosseini import HOSSEINI_VAL_FRACTION
from model_eval.reproduce.papers.hosseini_short import HOSSEINI_DNN
from model_eval.runtime import distributed
from model_eval.runtime.device import autocast, pick_device, prepare_model, to_device
from model_eval.training.data import TrainingData, load_data, to_gray
from model_eval.training.state import (
    Position,
    check_init,
    load_init,
    read_resume,
    restore,
    save_position,
    training_done,
)

__all__ = [
    "PRESETS",
    "TrainConfig",
    "TrainingStopped",
    "evaluate",
    "fit",
    "train_one_epoch",
    "training_done",
]

# Per-architecture defaults (presets): the short paper's DNN takes 28x28 gray equalised input; the
# BatchNorm-free networks train with these epochs and peak learning rates on synthetic signs.
PRESETS: dict[str, dict[str, Any]] = {
    # the BatchNorm-free MVGGs need more steps than the BN variants: batch 16 (mvgg8, 60 per class,
    # 4 epochs at 3e-3: 0.53 validation accuracy with batch 16, 0.34 with 64)
    **{f"mvgg{d}": {"batch_size": 16} for d in range(5, 10)},
    "hosseini_dnn": {
        "epochs": 8,
        "lr": 2e-3,
        "size": HOSSEINI_DNN["input_size"],
        "gray": HOSSEINI_DNN["gray"],
        "equalize": HOSSEINI_DNN["equalize"],
    },
}


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in the checkpoint to reproduce it)."""

    arch: str = "mvgg8"
    source: str = "synthetic"
    root: str | None = None
    size: int = 32
    n_per_class: int | None = 150
    seed: int = 0
    epochs: int = 5
    target_accuracy: float | None = None  # stop a member once validation accuracy reaches this
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    val_fraction: float = HOSSEINI_VAL_FRACTION  # per class (stratified)
    gray: bool = False
    equalize: bool = False
    translate: int = 0
    reflect: bool = False
    negatives: int = 0  # extra negatives added to the regular images
    negatives_only: bool = False  # train on negatives only ...
    n_negatives: int | None = None  # ... this many (None: all training images)
    noise_copies: int = 0
    noise_sigmas: list[float] = field(default_factory=lambda: list(AGHDAM_SIGMAS))
    fgsm_eps: float = 0.0
    ensemble: int = 1
    init: str | None = None
    weights: str | None = None
    max_minutes: float | None = None  # an early stop, never the target: the run stays resumable
    name: str | None = None
    tag: str | None = None
    device: str | None = None
    progress: bool = True

    @classmethod
    def with_preset(cls, arch: str, **overrides: Any) -> TrainConfig:
        """The architecture's preset (:data:`PRESETS`), then ``overrides``."""
        return cls(**{**PRESETS.get(arch, {}), "arch": arch, **overrides})


class TrainingStopped(Exception):
    """A run stopped before its target (time budget); its checkpoint is saved and resumable."""


def default_name(cfg: TrainConfig) -> str:
    """Stable model name for predictions: --name, else architecture (+ '-' + tag)."""
    if cfg.name:
        return cfg.name
    return f"{cfg.arch}-{cfg.tag}" if cfg.tag else cfg.arch


def validate_config(cfg: TrainConfig) -> dict[str, Any] | None:
    """Every check that needs no data, so a bad argument fails before any image is rendered.

    Returns the ``--init`` checkpoint when there is one (read once).
    """
    entry = get_entry(cfg.arch)  # unknown architecture
    positive = {
        "epochs": cfg.epochs + 1,
        "ensemble": cfg.ensemble,
        "batch_size": cfg.batch_size,
        "size": cfg.size,
        "n_per_class": cfg.n_per_class or 1,
    }
    for what, value in positive.items():
        if value < 1:
            raise ValueError(f"{what} must be positive, got {getattr(cfg, what)}")
    if not 0.0 <= cfg.val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {cfg.val_fraction}")
    if cfg.target_accuracy is not None:
        if not 0.0 < cfg.target_accuracy <= 1.0:
            raise ValueError(f"target_accuracy must be in (0, 1], got {cfg.target_accuracy}")
        if cfg.val_fraction == 0.0:
            raise ValueError("target_accuracy needs a validation split (val_fraction > 0)")
    if cfg.max_minutes is not None and not cfg.max_minutes > 0:
        raise ValueError(f"max_minutes must be positive, got {cfg.max_minutes}")
    if cfg.n_negatives is not None and (cfg.n_negatives < 1 or not cfg.negatives_only):
        raise ValueError("n_negatives must be positive and goes with negatives_only")
    if cfg.negatives_only and (cfg.negatives or cfg.noise_copies):
        raise ValueError("negatives_only trains on negatives alone: drop negatives / noise_copies")
    if min([cfg.negatives, cfg.noise_copies, cfg.translate]) < 0 or cfg.fgsm_eps < 0 or cfg.lr <= 0:
        raise ValueError("negatives, noise_copies, translate, fgsm_eps must be >= 0 and lr > 0")
    if cfg.weights is not None:
        if not entry.needs_weights_file:
            raise ValueError(f"--weights is for torchvision architectures; {cfg.arch} trains from scratch")
        if not Path(cfg.weights).is_file():
            from model_eval.nets.pretrained import WeightsFileError

            raise WeightsFileError(f"weights file not found: {cfg.weights}")
    return check_init(cfg.init, cfg.arch) if cfg.init else None


def preprocessing_for(cfg: TrainConfig, channels: int) -> Preprocessing:
    """The architecture's preprocessing entry, at the run's input size, for ``channels`` channels."""
    entry = get_entry(cfg.arch)
    size = entry.preprocessing.input_size if entry.needs_weights_file else cfg.size
    mean, std = entry.preprocessing.mean, entry.preprocessing.std
    if len(mean) == 1 and channels == 3:
        mean, std = mean * 3, std * 3
    elif len(mean) == 3 and channels == 1:
        mean, std = mean[:1], std[:1]
    return Preprocessing(size, mean, std, cfg.equalize)


def _fgsm(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, device: torch.device
) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al.): x + eps * sign(grad_x loss), clipped to [0, 1]."""
    x = x.detach().clone().requires_grad_(True)
    with autocast(device):
        loss = F.cross_entropy(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return (x + eps * grad.sign()).clamp(0, 1).detach()


class _Normalised(nn.Module):
    """Training-time view of a member: the Classifier's preparation (equalise, normalise) of sized inputs."""

    def __init__(self, member: nn.Module, pre: Preprocessing) -> None:
        super().__init__()
        self.member = member
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(pre.mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(pre.std).view(1, -1, 1, 1), persistent=False)
        self.equalize = pre.equalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.equalize:
            x = equalize_histogram_batch(x)
        return self.member((x - self.mean) / self.std)


def evaluate_accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, batch_size: int = 256
) -> float:
    """Accuracy on (x, y), sharded over ranks under torchrun and summed."""
    idx = torch.tensor(list(distributed.shard(len(x))), dtype=torch.long)
    was = model.training
    model.eval()
    correct = 0
    with torch.inference_mode():
        for s in range(0, len(idx), batch_size):
            b = idx[s : s + batch_size]
            with autocast(device):
                pred = model(to_device(x[b], device)).argmax(1).cpu()
            correct += int((pred == y[b]).sum())
    model.train(was)
    tot_correct, tot = distributed.all_reduce_sum([float(correct), float(len(idx))])
    return tot_correct / max(tot, 1.0)


def evaluate(net: nn.Module, data: TrainingData, device: torch.device) -> dict[str, float]:
    """Held-out accuracy on regular and on negative validation images; ``val_accuracy`` is the one of
    the training distribution (negatives for a negatives-only run), which a target accuracy refers to."""
    if not len(data.x_val):
        nan = float("nan")
        return {
            "val_accuracy": nan,
            "val_regular_accuracy": nan,
            "val_negative_accuracy": nan,
            "val_chance": nan,
        }
    regular = evaluate_accuracy(net, data.x_val, data.y_val, device)
    neg = evaluate_accuracy(net, data.x_val_negative, data.y_val, device)
    return {
        "val_accuracy": neg if data.negatives_only else regular,
        "val_regular_accuracy": regular,
        "val_negative_accuracy": neg,
        "val_chance": chance_level(data.y_val.tolist()),
    }


@dataclass
class _Member:
    """One member's training objects (a DDP wrapper under torchrun)."""

    net: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.OneCycleLR


def train_one_epoch(
    cfg: TrainConfig,
    m: _Member,
    data: TrainingData,
    order: torch.Tensor,
    pos: Position,
    device: torch.device,
    gen: torch.Generator,
    deadline: float,
    desc: str,
) -> tuple[float, int, bool]:
    """Train the batches of ``order`` from ``pos.step`` on; returns (loss sum, images seen, out of time).

    ``pos.step`` advances after every batch, so an interrupt leaves it pointing at the next batch.
    """
    m.net.train()
    starts = list(range(0, len(order), cfg.batch_size))
    bar = tqdm(
        starts[pos.step :],
        desc=desc,
        disable=not cfg.progress or distributed.rank_and_world()[0] != 0,
        leave=False,
    )
    loss_sum, seen = 0.0, 0
    for s in bar:
        b = order[s : s + cfg.batch_size]
        xb, yb = data.x_train[b], data.y_train[b]
        if cfg.translate:
            xb = random_translate(xb, cfg.translate, gen)
        if cfg.reflect:
            xb = random_reflect(xb, gen)
        xb, yb = to_device(xb, device), yb.to(device)
        if cfg.fgsm_eps > 0:
            xb = torch.cat([xb, _fgsm(m.net, xb, yb, cfg.fgsm_eps, device)])
            yb = torch.cat([yb, yb])
        with autocast(device):
            loss = F.cross_entropy(m.net(xb), yb)
        m.opt.zero_grad(set_to_none=True)
        loss.backward()
        m.opt.step()
        if m.sched.last_epoch + 1 < m.sched.total_steps:
            m.sched.step()
        pos.step += 1
        loss_sum += float(loss.detach()) * len(yb)
        seen += len(yb)
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}")
        over = float(time.monotonic() > deadline)
        if distributed.all_reduce_sum([over])[0] > 0 and pos.step < len(starts):  # every rank stops together
            return loss_sum, seen, True
    return loss_sum, seen, False


def fit(
    cfg: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    source_data: TensorData | None = None,
    monitor: TensorData | None = None,
) -> Path:
    """Train ``cfg.ensemble`` networks and write the checkpoint to ``out``; returns its path.

    With ``monitor`` (test images of the run's input size), the history also records the accuracy on
    them and on their negatives after every epoch (``test_regular_accuracy``, ``test_negative_accuracy``):
    the curves of Hosseini et al.'s Fig. 3. They are measured, never trained on.

    Raises :class:`TrainingStopped` when the time budget ran out (the checkpoint is saved and
    resumable), and re-raises KeyboardInterrupt after saving the same way.
    """
    out = Path(out)
    init = validate_config(cfg)
    prev = read_resume(out, cfg.arch) if resume else None
    if prev is not None and (prev.get("train_state") or {}).get("done"):
        return out  # nothing left to do: not even the data is read
    rank, world, dist_device = distributed.init_if_needed(cfg.device)
    device = dist_device or pick_device(cfg.device)
    size = preprocessing_for(cfg, 3).input_size
    if source_data is not None and tuple(source_data.images.shape[-2:]) != (size, size):
        raise ValueError(
            f"source_data holds {tuple(source_data.images.shape[-2:])} images, the run needs {size}"
        )
    data = load_data(cfg, size, source_data)
    if monitor is not None and tuple(monitor.images.shape[-2:]) != (size, size):
        raise ValueError(f"monitor holds {tuple(monitor.images.shape[-2:])} images, the run needs {size}")
    monitor_x = None if monitor is None else to_gray(monitor.images) if cfg.gray else monitor.images
    pre = preprocessing_for(cfg, data.channels)
    num_classes = len(data.classes)

    arch_kwargs = {"weights": cfg.weights} if cfg.weights else {}
    torch.manual_seed(cfg.seed)
    members = build_members(
        cfg.arch,
        cfg.ensemble,
        num_classes=num_classes,
        in_channels=data.channels,
        input_size=pre.input_size,
        arch_kwargs=arch_kwargs,
    )
    if init is not None:
        load_init(init, members, num_classes)
    pos = restore(prev, members, num_classes) if prev is not None else Position()

    name, config = default_name(cfg), asdict(cfg)
    deadline = time.monotonic() + cfg.max_minutes * 60 if cfg.max_minutes else math.inf
    gen = torch.Generator().manual_seed(cfg.seed + 7 + rank)
    sampler: DistributedSampler[int] = DistributedSampler(
        range(len(data.x_train)),  # type: ignore[arg-type]  # it only takes len(); a range of indices will do
        num_replicas=world,
        rank=rank,
        shuffle=True,
        seed=cfg.seed,
        drop_last=False,
    )

    def save(stopped: str | None = None) -> None:
        if rank == 0:
            save_position(
                out,
                pos,
                arch=cfg.arch,
                name=name,
                members=members,
                num_classes=num_classes,
                in_channels=data.channels,
                preprocessing=pre,
                classes=data.classes,
                config=config,
                source=data.source,
                stopped=stopped,
            )

    for k in range(pos.member, cfg.ensemble):
        member = members[k] = prepare_model(members[k], device)
        net: nn.Module = _Normalised(member, pre).to(device)
        if world > 1:
            net = nn.parallel.DistributedDataParallel(
                net, device_ids=[device.index] if device.type == "cuda" else None
            )
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, math.ceil(len(sampler) / cfg.batch_size))
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, epochs=max(cfg.epochs, 1), steps_per_epoch=steps_per_epoch, pct_start=0.2
        )
        if pos.optimizer is not None and pos.scheduler is not None:  # resuming inside this member
            opt.load_state_dict(pos.optimizer)
            sched.load_state_dict(pos.scheduler)
        m = _Member(net, opt, sched)
        reached = False
        while pos.epoch < cfg.epochs and not reached:
            sampler.set_epoch(pos.epoch + 1000 * k)
            order = torch.tensor(list(iter(sampler)), dtype=torch.long)
            resumed_at = pos.step
            try:
                loss_sum, seen, out_of_time = train_one_epoch(
                    cfg,
                    m,
                    data,
                    order,
                    pos,
                    device,
                    gen,
                    deadline,
                    f"{name} m{k} epoch {pos.epoch + 1}/{cfg.epochs}",
                )
            except KeyboardInterrupt:
                pos.optimizer, pos.scheduler = opt.state_dict(), sched.state_dict()
                save("interrupted")
                if rank == 0:
                    tqdm.write(
                        f"interrupted: {out} saved at member {k} epoch {pos.epoch + 1} "
                        f"step {pos.step} "
                        "(not done; resume continues there)"
                    )
                raise
            if out_of_time:
                pos.optimizer, pos.scheduler = opt.state_dict(), sched.state_dict()
                save("time budget")
                distributed.barrier()
                raise TrainingStopped(
                    f"time budget of {cfg.max_minutes} min reached in member {k} epoch "
                    f"{pos.epoch + 1} (step {pos.step}); checkpoint {out} saved, not done: "
                    "resume to continue"
                )
            metrics = evaluate(net, data, device)
            if monitor is not None and monitor_x is not None:
                metrics["test_regular_accuracy"] = evaluate_accuracy(net, monitor_x, monitor.labels, device)
                metrics["test_negative_accuracy"] = evaluate_accuracy(
                    net, negative(monitor_x), monitor.labels, device
                )
            pos.history.append(
                {
                    "member": k,
                    "epoch": pos.epoch + 1,
                    "loss": loss_sum / max(seen, 1),
                    "resumed_at_step": resumed_at,
                    **metrics,
                }
            )
            if rank == 0:
                tqdm.write(
                    f"{name} member {k} epoch {pos.epoch + 1}: loss {loss_sum / max(seen, 1):.4f} "
                    f"val accuracy {metrics['val_accuracy']:.4f} (regular "
                    f"{metrics['val_regular_accuracy']:.4f}, negative "
                    f"{metrics['val_negative_accuracy']:.4f})"
                )
            pos.epoch, pos.step = pos.epoch + 1, 0
            reached = cfg.target_accuracy is not None and metrics["val_accuracy"] >= cfg.target_accuracy
            pos.optimizer, pos.scheduler = opt.state_dict(), sched.state_dict()
            if pos.epoch < cfg.epochs and not reached:
                save()
        members[k] = member.cpu()
        pos.member, pos.epoch, pos.step, pos.optimizer, pos.scheduler = k + 1, 0, 0, None, None
        pos.done = k + 1 == cfg.ensemble
        save()
    distributed.barrier()
    return out
