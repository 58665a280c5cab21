"""model_eval: architectures, training, predictions, FRI maps, noise sweeps and minimum-noise search.

Public API for other packages: :func:`predict_stimulus_set` (the predictions contract), plus the
registry (:func:`get_model`, :func:`list_models`, :func:`register_model`).
"""

from model_eval.checkpoint import CheckpointError, load_checkpoint
from model_eval.predict import PREDICTION_COLUMNS, StimulusSetInvalid, predict_stimulus_set
from model_eval.registry import UnknownModelError, get_model, list_models, register_model

__all__ = [
    "PREDICTION_COLUMNS",
    "CheckpointError",
    "StimulusSetInvalid",
    "UnknownModelError",
    "get_model",
    "list_models",
    "load_checkpoint",
    "predict_stimulus_set",
    "register_model",
]
