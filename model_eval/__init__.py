"""model_eval: networks, training, predictions, FRI maps, noise, fooling images, paper reproductions.

One subpackage per concern, each naming its public API in its ``__init__``:

- :mod:`model_eval.nets`: the architecture registry and checkpoints;
- :mod:`model_eval.training`: training runs (regular, negatives, noise, FGSM, ensembles);
- :mod:`model_eval.predictions`: predictions on a stimulus set, with their provenance sidecar;
- :mod:`model_eval.fri`, :mod:`model_eval.noise`, :mod:`model_eval.fooling`: the experiments;
- :mod:`model_eval.reproduce`: the seed papers rerun beside their numbers (constants in
  :mod:`model_eval.reproduce.papers`);
- :mod:`model_eval.runtime`: device and ``torchrun``.

Every command of ``python -m model_eval`` calls one of these typed functions, which return results::

    import model_eval

    run = model_eval.train(model_eval.train_config(arch="mvgg8", epochs=3), "m.pt")
    result = model_eval.predict(["m.pt"], "sets/neg", out="preds.csv")  # + preds.networks.json
    print(result.accuracy)

- :func:`train` (from :func:`train_config`) -> :class:`TrainResult`, or :class:`TrainingStopped` when
  its time budget ran out;
- :func:`predict` -> :class:`PredictResult`; :func:`predict_stimulus_set` -> the predictions only;
- :func:`fri_maps` -> :class:`FriRun`; :func:`noise_report` -> :class:`NoiseSweep`;
  :func:`min_noise` -> a DataFrame; :func:`fool` -> :class:`FoolingRun`;
- :func:`reproduce_paper` -> :class:`Reproduction`;
- :func:`get_model`, :func:`list_models`, :func:`register_model`, :func:`load_checkpoint`.
"""

from model_eval.fooling import FoolConfig, FoolingRun, fool
from model_eval.fri import FriRun, fri_maps, pair_selection
from model_eval.nets import (
    CheckpointError,
    UnknownModelError,
    WeightsFileError,
    get_model,
    list_models,
    load_checkpoint,
    register_model,
)
from model_eval.noise import GAConfig, NoiseSweep, min_noise, noise_report
from model_eval.predictions import (
    PREDICTION_COLUMNS,
    PredictResult,
    StimulusSetInvalid,
    accuracy_table,
    predict,
    predict_stimulus_set,
)
from model_eval.reproduce import Reproduction, reproduce_paper
from model_eval.training import TrainConfig, TrainingStopped, TrainResult, train, train_config, training_done

__all__ = [
    "PREDICTION_COLUMNS",
    "CheckpointError",
    "FoolConfig",
    "FoolingRun",
    "FriRun",
    "GAConfig",
    "NoiseSweep",
    "PredictResult",
    "Reproduction",
    "StimulusSetInvalid",
    "TrainConfig",
    "TrainResult",
    "TrainingStopped",
    "UnknownModelError",
    "WeightsFileError",
    "accuracy_table",
    "fool",
    "fri_maps",
    "get_model",
    "list_models",
    "load_checkpoint",
    "min_noise",
    "noise_report",
    "pair_selection",
    "predict",
    "predict_stimulus_set",
    "register_model",
    "reproduce_paper",
    "train",
    "train_config",
    "training_done",
]
