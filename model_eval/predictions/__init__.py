"""Predictions: every network on every stimulus of a set, in the predictions contract.

- :func:`predict` predicts with one or more checkpoints and writes ``X.csv`` plus the
  ``X.networks.json`` provenance sidecar (:mod:`.provenance`); it returns a :class:`PredictResult`.
- :func:`predict_stimulus_set` returns the predictions only (:data:`PREDICTION_COLUMNS`), and
  :func:`accuracy_table` gives accuracy per model x condition.
"""

from model_eval.predictions.api import PredictResult, predict
from model_eval.predictions.predict import (
    GROUP_COLUMNS,
    PREDICTION_COLUMNS,
    StimulusSetInvalid,
    accuracy_table,
    load_valid_stimulus_set,
    predict_on_set,
    predict_stimulus_set,
)
from model_eval.predictions.provenance import network_entry, sidecar_path, write_sidecar

__all__ = [
    "GROUP_COLUMNS",
    "PREDICTION_COLUMNS",
    "PredictResult",
    "StimulusSetInvalid",
    "accuracy_table",
    "load_valid_stimulus_set",
    "network_entry",
    "predict",
    "predict_on_set",
    "predict_stimulus_set",
    "sidecar_path",
    "write_sidecar",
]
