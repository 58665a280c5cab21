"""Device choice and the GPU fast paths (bf16 autocast, channels_last)."""

from __future__ import annotations

import contextlib
from typing import TypeVar

import torch


def pick_device(name: str | None = None) -> torch.device:
    """``name`` if given ("cpu", "cuda", "cuda:1", "mps"), else CUDA, then MPS, then CPU."""
    if name:
        dev = torch.device(name)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for but CUDA is not available")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("--device mps was asked for but MPS is not available")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; a no-op elsewhere (CPU bf16 is slower than fp32 on most CPUs)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move an NCHW batch; channels_last on CUDA, where convolutions run faster in that layout."""
    batch = batch.to(device, non_blocking=True)
    if device.type == "cuda" and batch.ndim == 4:
        batch = batch.contiguous(memory_format=torch.channels_last)
    return batch


ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def prepare_model(model: ModuleT, device: torch.device) -> ModuleT:
    """The model on `device` (channels_last on CUDA), its own type kept for the caller."""
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model
