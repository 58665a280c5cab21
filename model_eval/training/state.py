"""Checkpoint and resume for training runs (the torchvision reference script's ``--resume`` part).

A run's checkpoint records where it stands: the member being trained, its epoch and the step inside
that epoch, the optimizer and scheduler state, and ``done``. Only a run that reached its target
(all epochs, or the target validation accuracy) is done; a run stopped by a time budget or Ctrl-C is
saved with its position and continues exactly there with ``resume``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from model_eval.nets.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from model_eval.nets.registry import Preprocessing


@dataclass
class Position:
    """Where training stands; ``step`` counts the batches of ``epoch`` already trained."""

    member: int = 0
    epoch: int = 0
    step: int = 0
    optimizer: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False


def training_done(path: str | Path) -> bool:
    """True when the checkpoint at ``path`` holds a finished run (never for a budget or Ctrl-C stop)."""
    path = Path(path)
    if not path.is_file():
        return False
    state = read_checkpoint(path).get("train_state") or {}
    return bool(state.get("done"))


def check_init(init: str, arch: str) -> dict[str, Any]:
    """Read an ``--init`` checkpoint and check its architecture (before any data is read)."""
    data = read_checkpoint(init)
    if data["arch"] != arch:
        raise CheckpointError(f"--init checkpoint is a {data['arch']}, not a {arch}")
    return data


def load_init(init: dict[str, Any], members: list[nn.Module], num_classes: int) -> None:
    """Start every member from the ``--init`` checkpoint's weights (member k from its member k mod n)."""
    if int(init["num_classes"]) != num_classes:
        raise CheckpointError(
            f"--init checkpoint has {init['num_classes']} classes, the data has {num_classes}"
        )
    for k, m in enumerate(members):
        m.load_state_dict(init["members"][k % len(init["members"])])


def read_resume(out: Path, arch: str) -> dict[str, Any] | None:
    """The checkpoint a ``resume`` continues, or None when there is none yet."""
    if not out.is_file():
        return None
    prev = read_checkpoint(out)
    if prev["arch"] != arch:
        raise CheckpointError(f"--resume: {out} holds a {prev['arch']}, not a {arch}")
    return prev


def restore(prev: dict[str, Any], members: list[nn.Module], num_classes: int) -> Position:
    """Load the members' weights and the position of a resumed run."""
    if int(prev["num_classes"]) != num_classes or len(prev["members"]) != len(members):
        raise CheckpointError(
            f"--resume: the checkpoint holds {len(prev['members'])} x {prev['arch']} for "
            f"{prev['num_classes']} classes, this run {len(members)} for {num_classes}"
        )
    for m, state in zip(members, prev["members"], strict=True):
        m.load_state_dict(state)
    st = prev.get("train_state") or {}
    return Position(
        int(st.get("member", 0)),
        int(st.get("epoch", 0)),
        int(st.get("step", 0)),
        st.get("optimizer"),
        st.get("scheduler"),
        list(prev["history"]),
        bool(st.get("done")),
    )


def save_position(
    out: Path,
    pos: Position,
    *,
    arch: str,
    name: str,
    members: list[nn.Module],
    num_classes: int,
    in_channels: int,
    preprocessing: Preprocessing,
    classes: list[dict[str, Any]],
    config: dict[str, Any],
    source: str,
    stopped: str | None = None,
) -> None:
    """Write the checkpoint with the run's position (``stopped``: why an unfinished run stopped)."""
    state = {
        "member": pos.member,
        "epoch": pos.epoch,
        "step": pos.step,
        "done": pos.done,
        "stopped": stopped,
        "optimizer": None if pos.done else pos.optimizer,
        "scheduler": None if pos.done else pos.scheduler,
    }
    save_checkpoint(
        out,
        arch=arch,
        name=name,
        members=members,
        num_classes=num_classes,
        in_channels=in_channels,
        preprocessing=preprocessing,
        classes=classes,
        config=config,
        source=source,
        history=pos.history,
        train_state=state,
    )
