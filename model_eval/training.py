"""Training: regular, augmented, negatives (fine-tune or from scratch), noise, FGSM, ensembles.

One checkpoint file holds everything (see :mod:`model_eval.checkpoint`); it is rewritten after every
epoch, so ``resume=True`` continues an interrupted run where it stopped. Under ``torchrun`` the
members are wrapped in DDP with a DistributedSampler, and only rank 0 writes.
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

from model_eval import distributed
from model_eval.checkpoint import CheckpointError, build_members, read_checkpoint, save_checkpoint
from model_eval.data import (
    TensorData,
    load_source,
    negative,
    noisy_copies,
    random_reflect,
    random_translate,
    split_validation,
)
from model_eval.device import autocast, pick_device, prepare_model, to_device
from model_eval.registry import Preprocessing, get_entry

# Per-architecture defaults where the general ones (5 epochs, lr 3e-3) fall short: the BatchNorm-free
# hosseini_dnn reaches 0.885 validation accuracy on synthetic signs with these, 0.667 with 4 epochs at 1e-3.
ARCH_DEFAULTS: dict[str, dict[str, float]] = {"hosseini_dnn": {"epochs": 8, "lr": 2e-3}}

NOISE_SIGMAS = [1.0, 2.0, 4.0, 8.0, 10.0, 14.0, 18.0, 20.0, 25.0, 30.0, 35.0, 40.0]


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
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.1
    translate: int = 0
    reflect: bool = False
    negatives: int = 0
    negatives_only: bool = False
    noise_copies: int = 0
    noise_sigmas: list[float] = field(default_factory=lambda: list(NOISE_SIGMAS))
    fgsm_eps: float = 0.0
    ensemble: int = 1
    init: str | None = None
    weights: str | None = None
    max_minutes: float | None = None
    name: str | None = None
    tag: str | None = None
    device: str | None = None
    progress: bool = True


def default_name(cfg: TrainConfig) -> str:
    """Stable model name for predictions: --name, else architecture (+ '-' + tag)."""
    if cfg.name:
        return cfg.name
    return f"{cfg.arch}-{cfg.tag}" if cfg.tag else cfg.arch


def _training_set(cfg: TrainConfig, data: TensorData, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = data.images[idx], data.labels[idx]
    if cfg.negatives_only:
        return negative(x), y
    parts_x, parts_y = [x], [y]
    if cfg.negatives > 0:
        pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(cfg.seed + 1))
        pick = pick.repeat(math.ceil(cfg.negatives / len(x)))[: cfg.negatives]
        parts_x.append(negative(x[pick]))
        parts_y.append(y[pick])
    if cfg.noise_copies > 0:
        nx, ny = noisy_copies(x, y, cfg.noise_copies, cfg.noise_sigmas, cfg.seed + 2)
        parts_x.append(nx)
        parts_y.append(ny)
    return torch.cat(parts_x), torch.cat(parts_y)


def _fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
          device: torch.device) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al.): x + eps * sign(grad_x loss), clipped to [0, 1]."""
    x = x.detach().clone().requires_grad_(True)
    with autocast(device):
        loss = F.cross_entropy(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return (x + eps * grad.sign()).clamp(0, 1).detach()


class _Normalised(nn.Module):
    """Training-time view of a member: same normalisation as Classifier.prepare (inputs already sized)."""

    def __init__(self, member: nn.Module, pre: Preprocessing) -> None:
        super().__init__()
        self.member = member
        self.register_buffer("mean", torch.tensor(pre.mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(pre.std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.member((x - self.mean) / self.std)


def evaluate_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device,
                      batch_size: int = 256) -> float:
    """Accuracy on (x, y), sharded over ranks under torchrun and summed."""
    idx = torch.tensor(list(distributed.shard(len(x))), dtype=torch.long)
    was = model.training
    model.eval()
    correct = 0
    with torch.inference_mode():
        for s in range(0, len(idx), batch_size):
            b = idx[s: s + batch_size]
            with autocast(device):
                pred = model(to_device(x[b], device)).argmax(1).cpu()
            correct += int((pred == y[b]).sum())
    model.train(was)
    tot_correct, tot = distributed.all_reduce_sum([float(correct), float(len(idx))])
    return tot_correct / max(tot, 1.0)


def train(cfg: TrainConfig, out: str | Path, *, resume: bool = False) -> Path:
    """Train ``cfg.ensemble`` networks and write the checkpoint to ``out``; returns its path."""
    out = Path(out)
    rank, world, dist_device = distributed.init_if_needed(cfg.device)
    device = dist_device or pick_device(cfg.device)
    entry = get_entry(cfg.arch)
    pre = Preprocessing(cfg.size if not entry.needs_weights_file else entry.preprocessing.input_size,
                        entry.preprocessing.mean, entry.preprocessing.std)
    data = load_source(cfg.source, root=cfg.root, split="train", size=pre.input_size,
                       n_per_class=cfg.n_per_class, seed=cfg.seed)
    if len(pre.mean) == 1 and data.channels == 3:
        pre = Preprocessing(pre.input_size, pre.mean * 3, pre.std * 3)
    elif len(pre.mean) == 3 and data.channels == 1:
        pre = Preprocessing(pre.input_size, pre.mean[:1], pre.std[:1])
    num_classes = len(data.classes)
    tr_idx, va_idx = split_validation(len(data.labels), cfg.val_fraction, cfg.seed)
    x_train, y_train = _training_set(cfg, data, tr_idx)
    x_val, y_val = data.images[va_idx], data.labels[va_idx]
    if cfg.negatives_only:
        x_val = negative(x_val)

    arch_kwargs = {"weights": cfg.weights} if cfg.weights else {}
    torch.manual_seed(cfg.seed)
    members = build_members(cfg.arch, cfg.ensemble, num_classes=num_classes, in_channels=data.channels,
                            input_size=pre.input_size, arch_kwargs=arch_kwargs)
    if cfg.init:
        init = read_checkpoint(cfg.init)
        if init["arch"] != cfg.arch:
            raise CheckpointError(f"--init checkpoint is a {init['arch']}, not a {cfg.arch}")
        if int(init["num_classes"]) != num_classes:
            raise CheckpointError(f"--init checkpoint has {init['num_classes']} classes, "
                                  f"the data has {num_classes}")
        for k, m in enumerate(members):
            m.load_state_dict(init["members"][k % len(init["members"])])

    history: list[dict[str, Any]] = []
    start_member, start_epoch, opt_state, sched_state = 0, 0, None, None
    if resume and out.is_file():
        prev = read_checkpoint(out)
        if prev["arch"] != cfg.arch or int(prev["num_classes"]) != num_classes:
            raise CheckpointError(f"--resume: {out} holds {prev['arch']} with {prev['num_classes']} classes")
        for m, state in zip(members, prev["members"], strict=True):
            m.load_state_dict(state)
        history = list(prev["history"])
        st = prev.get("train_state") or {}
        start_member, start_epoch = int(st.get("member", 0)), int(st.get("epoch", 0))
        opt_state, sched_state = st.get("optimizer"), st.get("scheduler")
        if st.get("done"):
            return out

    name = default_name(cfg)
    config = asdict(cfg)
    deadline = time.monotonic() + cfg.max_minutes * 60 if cfg.max_minutes else math.inf
    gen = torch.Generator().manual_seed(cfg.seed + 7 + rank)
    sampler = DistributedSampler(range(len(x_train)), num_replicas=world, rank=rank, shuffle=True,
                                 seed=cfg.seed, drop_last=False)

    def save(member: int, epoch: int, opt: Any, sched: Any, done: bool) -> None:
        if rank != 0:
            return
        state = {"member": member, "epoch": epoch, "done": done,
                 "optimizer": opt.state_dict() if opt is not None and not done else None,
                 "scheduler": sched.state_dict() if sched is not None and not done else None}
        save_checkpoint(out, arch=cfg.arch, name=name, members=members, num_classes=num_classes,
                        in_channels=data.channels, preprocessing=pre, classes=data.classes, config=config,
                        source=data.source, history=history, train_state=state)

    out_of_time = False
    for k in range(start_member, cfg.ensemble):
        member = prepare_model(members[k], device)
        net: nn.Module = _Normalised(member, pre).to(device)
        if world > 1:
            net = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda"
                                                      else None)
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, math.ceil(len(sampler) / cfg.batch_size))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, epochs=max(cfg.epochs, 1),
                                                    steps_per_epoch=steps_per_epoch, pct_start=0.2)
        first = start_epoch if k == start_member else 0
        if k == start_member and opt_state is not None:
            opt.load_state_dict(opt_state)
            sched.load_state_dict(sched_state)
        for epoch in range(first, cfg.epochs):
            sampler.set_epoch(epoch + 1000 * k)
            order = torch.tensor(list(iter(sampler)), dtype=torch.long)
            net.train()
            bar = tqdm(range(0, len(order), cfg.batch_size),
                       desc=f"{name} m{k} epoch {epoch + 1}/{cfg.epochs}",
                       disable=not cfg.progress or rank != 0, leave=False)
            loss_sum, seen = 0.0, 0
            for s in bar:
                b = order[s: s + cfg.batch_size]
                xb, yb = x_train[b], y_train[b]
                if cfg.translate:
                    xb = random_translate(xb, cfg.translate, gen)
                if cfg.reflect:
                    xb = random_reflect(xb, gen)
                xb, yb = to_device(xb, device), yb.to(device)
                if cfg.fgsm_eps > 0:
                    xb = torch.cat([xb, _fgsm(net, xb, yb, cfg.fgsm_eps, device)])
                    yb = torch.cat([yb, yb])
                with autocast(device):
                    loss = F.cross_entropy(net(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched.last_epoch + 1 < sched.total_steps:
                    sched.step()
                loss_sum += float(loss.detach()) * len(yb)
                seen += len(yb)
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}")
                over = float(time.monotonic() > deadline)
                if distributed.all_reduce_sum([over])[0] > 0:  # every rank stops at the same step
                    out_of_time = True
                    break
            val_acc = evaluate_accuracy(net, x_val, y_val, device) if len(x_val) else float("nan")
            history.append({"member": k, "epoch": epoch + 1, "loss": loss_sum / max(seen, 1),
                            "val_accuracy": val_acc, "partial_epoch": out_of_time})
            if rank == 0:
                tqdm.write(f"{name} member {k} epoch {epoch + 1}: loss {loss_sum / max(seen, 1):.4f} "
                           f"val accuracy {val_acc:.4f}")
            if epoch + 1 == cfg.epochs:  # next: the following member (or done)
                save(k + 1, 0, None, None, k + 1 == cfg.ensemble)
            else:  # a budget stop counts the partial epoch as done; --resume goes on from the next
                save(k, epoch + 1, opt, sched, False)
            if out_of_time:
                break
        members[k] = member.cpu()
        if out_of_time:
            if rank == 0:
                tqdm.write(f"time budget of {cfg.max_minutes} min reached; checkpoint saved "
                           "(--resume continues)")
            break
    if cfg.epochs == 0:
        save(cfg.ensemble, 0, None, None, True)
    distributed.barrier()
    return out
