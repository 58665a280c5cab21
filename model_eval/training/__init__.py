"""Training networks: regular, augmented, on negatives, noise-augmented, FGSM-adversarial, ensembles.

- :func:`train_config` builds a :class:`TrainConfig` from keyword arguments (presets fill the rest);
  :func:`train` runs it and returns a :class:`TrainResult`, or raises :class:`TrainingStopped` when a
  time budget stopped it (the checkpoint is then resumable).
- :func:`training_done` says whether a checkpoint holds a finished run.
- :mod:`.loop` holds the epoch loop (:func:`fit`), :mod:`.data` the training data, :mod:`.state`
  checkpoint and resume.
"""

from model_eval.training.api import TrainResult, train, train_config
from model_eval.training.loop import PRESETS, TrainConfig, TrainingStopped, fit
from model_eval.training.state import training_done

__all__ = [
    "PRESETS",
    "TrainConfig",
    "TrainResult",
    "TrainingStopped",
    "fit",
    "train",
    "train_config",
    "training_done",
]
