"""Config -> fit -> run directory.

The run directory is the unit of work::

    RUN/config.yaml       resolved configuration (re-runnable: auricle train --config RUN/config.yaml)
    RUN/labels.json       class names in model-output order
    RUN/features.json     the feature configuration (+ crop policy) inference must reproduce
    RUN/model.keras       the trained model (best validation epoch, or the last with train.keep: last)
    RUN/history.csv       per-epoch metrics
    RUN/checkpoint/       last completed epoch (model + optimizer + callback state, best.weights.npz)
                          for --resume; written when training stops and at most ~5% of the time
                          meanwhile (callbacks.RunCallback); with train.ema the model there holds
                          the averaged weights and raw_weights.npz the raw ones
    RUN/epochs/           every epoch's weights, only with AURICLE_KEEP_EPOCH_WEIGHTS=1 (for
                          studies of epoch selection: experiments/epoch_selection.py)
    RUN/metrics.json, per_class.csv, confusion.png, curves.png, report.md   (see auricle.evaluation)

Modules: :mod:`~auricle.training.fit` (:func:`train` as named steps), :mod:`~auricle.training.batches`
(what ``model.fit`` reads), :mod:`~auricle.training.callbacks` (checkpoint / EMA / TensorBoard),
:mod:`~auricle.training.rundir` (the run directory on disk), :mod:`~auricle.training.components`
(optimizer, loss, class weights, oversampling, mixup), :mod:`~auricle.training.distribute`
(``train.distribute``), :mod:`~auricle.training.settings` (``auto`` settings and model options
settled before any work), :mod:`~auricle.training.ensemble` (ensembles trained member by member).
Importing this package does not import Keras; ``batches`` and ``callbacks`` do, and ``fit``
imports them when a model is trained.
"""
from auricle.training.components import class_weights, make_loss, make_optimizer, mixup, oversample_indices
from auricle.training.fit import (TrainData, TrainingInterrupted, _check_model_options, resolve_auto_settings,
                                  train)
from auricle.training.settings import check_model_options  # noqa: F401
from auricle.training.rundir import STATE_FILE, _atomic_write, prepare_run_dir, save_model, write_history

__all__ = ["STATE_FILE", "TrainData", "TrainingInterrupted", "class_weights", "make_loss", "make_optimizer",
           "mixup", "oversample_indices", "prepare_run_dir", "resolve_auto_settings", "save_model", "train",
           "write_history"]
