"""Where the work runs: the device (CUDA, then MPS, then CPU; bf16 autocast and channels-last on CUDA)
and data-parallel runs under ``torchrun`` (:mod:`.distributed`)."""

from model_eval.runtime.device import autocast, pick_device, prepare_model, to_device

__all__ = ["autocast", "pick_device", "prepare_model", "to_device"]
