"""Networks: the architecture registry, the paper architectures, torchvision classifiers, checkpoints.

- :func:`get_model`, :func:`list_models`, :func:`register_model`, :func:`get_entry`: the registry
  (lenet5, mvgg5..mvgg9, hosseini_dnn, torchvision classifiers from a local weights file).
- :func:`load_checkpoint` / :func:`read_checkpoint` / :func:`save_checkpoint`: the one checkpoint
  format (a :class:`Classifier` of one network or an ensemble, with its preprocessing and classes).
"""

from model_eval.nets.checkpoint import (
    CheckpointError,
    Classifier,
    LoadedCheckpoint,
    build_members,
    check_fits_source,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from model_eval.nets.pretrained import WeightsFileError
from model_eval.nets.registry import (
    ModelEntry,
    Preprocessing,
    UnknownModelError,
    get_entry,
    get_model,
    list_models,
    register_model,
)

__all__ = [
    "CheckpointError",
    "Classifier",
    "LoadedCheckpoint",
    "ModelEntry",
    "Preprocessing",
    "UnknownModelError",
    "WeightsFileError",
    "build_members",
    "check_fits_source",
    "get_entry",
    "get_model",
    "list_models",
    "load_checkpoint",
    "read_checkpoint",
    "register_model",
    "save_checkpoint",
]
