"""Pieces of the Keras setup that are plain functions: optimizer, loss, class weights,
oversampling, mixup.  Keras is imported inside the two functions that build Keras objects."""
from __future__ import annotations

import numpy as np

from auricle.errors import ConfigError


def make_optimizer(t, steps_per_epoch: int):
    import keras

    lr = float(t.learning_rate)
    total = max(1, t.epochs * steps_per_epoch)
    warm = t.warmup_epochs * steps_per_epoch
    if t.lr_schedule == "cosine":
        sched = keras.optimizers.schedules.CosineDecay(
            0.0 if warm else lr, decay_steps=max(1, total - warm), alpha=0.01,
            warmup_target=lr if warm else None, warmup_steps=warm)
    elif t.lr_schedule == "step":
        sched = keras.optimizers.schedules.ExponentialDecay(
            lr, decay_steps=max(1, total // 3), decay_rate=0.3, staircase=True)
    else:
        sched = lr
    if t.optimizer == "adam":
        return keras.optimizers.Adam(sched)
    if t.optimizer == "adamw":
        return keras.optimizers.AdamW(sched, weight_decay=t.weight_decay or 1e-4)
    if t.optimizer == "sgd":
        return keras.optimizers.SGD(sched, momentum=t.momentum, nesterov=True)
    if t.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(sched, momentum=t.momentum if t.momentum < 1 else 0.0)
    raise ConfigError(f"unknown optimizer '{t.optimizer}'")


def make_loss(t):
    import keras

    if t.loss == "focal":
        return keras.losses.CategoricalFocalCrossentropy(label_smoothing=t.label_smoothing)
    return keras.losses.CategoricalCrossentropy(label_smoothing=t.label_smoothing)


def class_weights(spec, y: np.ndarray, labels: list[str]) -> dict[int, float] | None:
    """``None``, ``"balanced"`` (n / (k * count)) or an explicit ``{label: weight}`` mapping."""
    if spec is None:
        return None
    if spec == "balanced":
        counts = np.bincount(y, minlength=len(labels)).astype(float)
        present = counts > 0
        w = np.zeros_like(counts)
        w[present] = counts.sum() / (present.sum() * counts[present])
        return {i: float(w[i]) for i in range(len(labels))}
    unknown = set(spec) - set(labels)
    if unknown:
        raise ConfigError(f"class_weight names unknown label(s) {sorted(unknown)}",
                          fix=f"labels are: {', '.join(labels)}")
    return {i: float(spec.get(lab, 1.0)) for i, lab in enumerate(labels)}


def oversample_indices(y: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Row indices that repeat every class's examples (sampled without replacement, cycling)
    up to the largest class's count; a balanced training set without synthetic data."""
    rng = np.random.default_rng([seed, 99])
    counts = np.bincount(y)
    target = counts.max()
    out = []
    for c in np.flatnonzero(counts):
        idx = np.flatnonzero(y == c)
        reps = [rng.permutation(idx) for _ in range(int(np.ceil(target / len(idx))))]
        out.append(np.concatenate(reps)[:target])
    return np.sort(np.concatenate(out))


def mixup(x, y, weights, alpha: float, rng):
    """Mixup (Zhang et al. 2018) within a batch: each example is blended with a shuffled partner,
    ``lam * a + (1 - lam) * b`` for features, one-hot labels and sample weights alike, with
    ``lam ~ Beta(alpha, alpha)`` drawn per example (per-frame targets and weights of a framewise model
    are blended frame by frame with the same ``lam``) and folded to ``max(lam, 1 - lam)`` so the
    first example dominates.  Returns new arrays; ``alpha <= 0`` returns the inputs."""
    if alpha <= 0 or len(y) < 2:
        return x, y, weights
    lam = rng.beta(alpha, alpha, len(y))
    lam = np.maximum(lam, 1.0 - lam)
    partner = rng.permutation(len(y))
    lx = lam.reshape((-1,) + (1,) * (x.ndim - 1)).astype(x.dtype)
    x = lx * x + (1 - lx) * x[partner]
    ly = lam.reshape((-1,) + (1,) * (y.ndim - 1)).astype(y.dtype)  # (B, C) or per frame (B, T, C)
    y = ly * y + (1 - ly) * y[partner]
    if weights is not None:
        lw = lam.reshape((-1,) + (1,) * (weights.ndim - 1))
        weights = (lw * weights + (1 - lw) * weights[partner]).astype(weights.dtype)
    return x, y, weights
