"""torchrun support: process group set-up, and sharding + gathering of evaluation work.

Under ``torchrun --nproc_per_node=K`` the environment carries RANK / WORLD_SIZE / LOCAL_RANK. NCCL is
used on CUDA and gloo on CPU (so a two-process CPU run works on any machine).
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_if_needed(device_name: str | None = None) -> tuple[int, int, torch.device | None]:
    """Join the process group when started by torchrun. Returns (rank, world_size, device or None)."""
    if not launched_by_torchrun():
        return 0, 1, None
    if not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and (device_name is None or device_name.startswith("cuda"))
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available() and (device_name is None or device_name.startswith("cuda")):
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard(n: int) -> range:
    """This rank's share of ``range(n)``: every world-th index starting at rank."""
    rank, world = rank_and_world()
    return range(rank, n, world)


def gather_objects(obj: Any) -> list[Any]:
    """All ranks' objects in rank order (just ``[obj]`` without a process group)."""
    _rank, world = rank_and_world()
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(values: list[float]) -> list[float]:
    _, world = rank_and_world()
    if world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def barrier() -> None:
    if rank_and_world()[1] > 1:
        dist.barrier()


def shutdown() -> None:
    """Leave the process group together: without this, a rank that exits first closes its gloo sockets
    while its peer's process group is still alive, and the peer aborts (SIGABRT) at interpreter exit."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
