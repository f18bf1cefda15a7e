"""Knowledge distillation: train a model on a finished run's probabilities as well as the labels.

A small model (a device-sized keyword spotter) learns more from a strong model's output than from
one-hot labels alone: the teacher's probabilities say which digits a recording sounds like,
not just which one it is (Hinton et al. 2015).  auricle distils *online and consistently*
(Beyer et al. 2022, "Knowledge distillation: a good teacher is patient and consistent"): the
teacher sees the very augmented batch the student trains on, so every augmented view gets its
own soft target instead of the clean clip's.

The targets are ``(1 - w) * labels + w * teacher(x)``, fed to the run's usual cross-entropy:
``CE(target, student) = (1 - w) CE(labels, student) + w CE(teacher, student)``, which is the
distillation loss at temperature 1 (the teacher's entropy, a constant, aside).  Our models end in a
softmax, so a temperature acts on the teacher's probabilities only (``p ** (1/T)``, renormalized).
Written here rather than taken from a library: Keras has no distillation API for ``fit`` on
PyDatasets, and this form needs no change to any model, loss or saved file.

Configure it with ``train.teacher`` (a run directory; an ensemble run works and is the usual
choice), ``train.teacher_weight`` and ``train.teacher_temperature``.  The teacher must have been
trained on the same labels and features and, for honest figures, never on the student's test data.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from auricle.errors import ConfigError


def soft_targets(y: np.ndarray, teacher_probs: np.ndarray, *, weight: float, temperature: float = 1.0) -> np.ndarray:
    """Blend one-hot (or mixed-up) labels with a teacher's probabilities.

    Parameters
    ----------
    y : ndarray, shape (n, n_classes)
        Training targets (one-hot, or mixed by mixup).
    teacher_probs : ndarray, shape (n, n_classes)
        The teacher's softmax outputs for the same examples.
    weight : float
        Share of the target taken from the teacher, 0..1.
    temperature : float
        > 1 flattens the teacher's distribution, < 1 sharpens it.

    Returns
    -------
    ndarray, float32, rows summing to 1

    Examples
    --------
    >>> y = np.array([[1.0, 0.0, 0.0]])
    >>> print(soft_targets(y, np.array([[0.5, 0.5, 0.0]]), weight=0.5))
    [[0.75 0.25 0.  ]]
    >>> print(soft_targets(y, np.array([[0.8, 0.2, 0.0]]), weight=1.0, temperature=2.0).round(3))
    [[0.667 0.333 0.   ]]
    """
    p = np.clip(np.asarray(teacher_probs, dtype="float64"), 0.0, None)
    if temperature != 1.0:
        p = p ** (1.0 / float(temperature))
    p /= np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    return ((1.0 - weight) * np.asarray(y, dtype="float64") + weight * p).astype("float32")


def load_teacher(teacher, labels: list[str], features: dict):
    """The Keras model of the run directory ``teacher``, after checking that it fits the student's data.

    ``features`` is what the student writes to ``features.json``; the teacher's must match it, since
    the teacher is fed the student's batches.  Test-time shifts built into the teacher (or into its
    ensemble members, ``train.tta_shift_ms``) are left out (:func:`auricle.models.tta.without_shifts`).
    Raises :class:`~auricle.errors.ConfigError`.
    """
    from auricle.errors import RunError
    from auricle.inference import load_run

    path = Path(teacher)
    try:
        run = load_run(path)
    except RunError as e:
        raise ConfigError(f"train.teacher: {e.message}", path=path,
                          fix="point train.teacher at a finished `auricle train` run directory") from None
    if (path / "model.joblib").exists() or not hasattr(run.model, "predict_on_batch"):
        raise ConfigError("train.teacher must be a Keras run (a classic model sees summary features, "
                          "not the student's batches)", path=path, fix="distil from a Keras or ensemble run")
    if list(run.labels) != list(labels):
        raise ConfigError(f"the teacher's labels {run.labels} differ from this run's {labels}", path=path,
                          fix="distil from a run trained on the same classes")
    theirs = json.loads((path / "features.json").read_text())
    features = json.loads(json.dumps(features))  # as JSON reads it back: tuples -> lists
    diff = sorted(k for k in set(theirs) | set(features) if theirs.get(k) != features.get(k))
    if diff:
        show = ", ".join(f"{k}: teacher {theirs.get(k)!r} vs {features.get(k)!r}" for k in diff[:4])
        raise ConfigError(f"the teacher was trained on other features ({show})", path=path,
                          fix="train the student with the teacher's features and data settings")
    from auricle.models.tta import without_shifts

    return without_shifts(run.model)  # its test-time shifts would triple the teacher's cost per batch


def teacher_batches_class():
    import keras

    class TeacherTargets(keras.utils.PyDataset):
        """Wraps a batch source: each ``(x, y[, w])`` becomes ``(x, soft_targets(y, teacher(x))[, w])``."""

        def __init__(self, inner, teacher, *, weight: float, temperature: float = 1.0):
            super().__init__(workers=getattr(inner, "workers", 1), use_multiprocessing=False,
                             max_queue_size=getattr(inner, "max_queue_size", 8))
            self.inner, self.teacher = inner, teacher
            self.weight, self.temperature = float(weight), float(temperature)

        def __len__(self):
            return len(self.inner)

        def __getitem__(self, i):
            x, y, *w = self.inner[i]
            p = np.asarray(self.teacher.predict_on_batch(x))
            return (x, soft_targets(y, p, weight=self.weight, temperature=self.temperature), *w)

        def on_epoch_end(self):
            self.inner.on_epoch_end()

    return TeacherTargets
