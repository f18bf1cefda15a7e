"""Silent frames of variable-length utterances: an energy VAD on the features, and the three ways
``data.silence_frames`` handles them (spoken language identification, ``--recipe language``).

The VAD works on the features themselves (before any normalization): a frame's level is the mean
of its log-mel bands in dB (for MFCC features with the orthonormal DCT that is ``c0 / sqrt(n_mels)``),
and a frame is *voiced* when its level is at most ``threshold_db`` below the utterance's loudest
valid frame.  Padding frames (beyond the utterance's length) are never voiced.

Modes (``data.silence_frames``)
-------------------------------
``mask``
    Silent frames stay in the input (the recurrent network runs over them), but every frame's
    training target is the utterance's label with weight 1 if voiced and 0 if silent; the
    utterance's decision is the average of the frame posteriors over its voiced frames.
``remove``
    Silent frames are cut out before the model (the voiced frames moved to the front, the rest
    padding); every remaining frame is a target with weight 1 and the decision averages them.
``label``
    Silent frames keep their place and get their own ``_silence_`` class per frame (the network
    has one output more); every valid frame is a target with weight 1.  The decision averages the
    posteriors of the real classes (``_silence_`` dropped, renormalized) over the voiced frames.

The model input carries each frame's decision weight as one extra, last feature column
(:func:`apply_silence`), which the framewise recurrent models (``auricle.models.frames``) split off
before the network: the saved model then outputs one decision per utterance, so evaluation,
``auricle predict`` and the exports decide exactly the same way.

Examples
--------
>>> import numpy as np
>>> level = np.array([[-10.0, -50.0, -12.0, 0.0]])
>>> voiced_frames(level, np.array([3]), threshold_db=30.0)
array([[ True, False,  True, False]])
"""
from __future__ import annotations

import numpy as np

from auricle.errors import ConfigError

#: ``data.silence_frames`` values (None: off, utterance-level targets as before).
SILENCE_MODES = ("mask", "remove", "label")
#: The per-frame class of silent frames in ``label`` mode (never a decision).
SILENCE_LABEL = "_silence_"
#: Default VAD threshold: dB below the utterance's loudest frame.
DEFAULT_THRESHOLD_DB = 30.0

__all__ = ["SILENCE_MODES", "SILENCE_LABEL", "check_mode", "frame_level_db", "voiced_frames", "remove_silent",
           "frame_weights", "frame_targets", "apply_silence", "decide", "single_voice_labels", "utterance_bounds"]


def check_mode(mode, threshold_db=DEFAULT_THRESHOLD_DB, *, kind: str | None = None,
               variable_length: bool = True) -> None:
    """Validate ``data.silence_frames`` / ``data.vad_db`` (and that the features and padding allow it)."""
    if mode is None:
        return
    if mode not in SILENCE_MODES:
        raise ConfigError(f"unknown data.silence_frames {mode!r}",
                          fix=f"use one of {', '.join(SILENCE_MODES)} (or null for off)")
    if not isinstance(threshold_db, (int, float)) or isinstance(threshold_db, bool) or not 0 < threshold_db <= 120:
        raise ConfigError(f"data.vad_db must be a number of dB in (0, 120], got {threshold_db!r}",
                          fix="e.g. --set data.vad_db=30 (frames 30 dB below the loudest frame are silent)")
    if not variable_length:
        raise ConfigError("data.silence_frames works on variable-length utterances",
                          fix="also --set data.variable_length=true")
    if kind is not None and kind not in ("mfcc", "log_mel"):
        raise ConfigError(f"data.silence_frames needs log-mel or MFCC features, not {kind!r}",
                          fix="--set features.preset=mfcc40 (or any log_mel/mfcc preset)")


def frame_level_db(x: np.ndarray, fcfg) -> np.ndarray:
    """Per-frame level in dB (mean over the log-mel bands) of un-normalized features ``(..., T, bins)``.

    For MFCC features (orthonormal DCT-II, no lifter) the first coefficient is
    ``sum(log-mel dB) / sqrt(n_mels)``, so the mean over the bands is ``c0 / sqrt(n_mels)``.

    Examples
    --------
    >>> import numpy as np
    >>> from auricle.features import FeatureConfig
    >>> frame_level_db(np.full((1, 2, 40), -20.0), FeatureConfig(kind="log_mel")).tolist()
    [[-20.0, -20.0]]
    """
    x = np.asarray(x)
    if fcfg.kind == "mfcc":
        return x[..., 0] / np.sqrt(float(fcfg.n_mels))
    return x.mean(axis=-1)


def voiced_frames(level_db: np.ndarray, lengths, *, threshold_db: float = DEFAULT_THRESHOLD_DB) -> np.ndarray:
    """``(N, T)`` bool: valid frames at most ``threshold_db`` below their row's loudest valid frame."""
    level_db = np.atleast_2d(np.asarray(level_db, dtype=np.float64))
    n, t = level_db.shape
    lengths = np.clip(np.asarray(lengths, dtype=np.int64).reshape(-1), 1, t)
    valid = np.arange(t)[None, :] < lengths[:, None]
    ref = np.where(valid, level_db, -np.inf).max(axis=1, keepdims=True)
    return valid & (level_db >= ref - float(threshold_db))


def remove_silent(x: np.ndarray, voiced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut silent frames out: each row's voiced frames moved to the front (order kept), the rest
    set to padding (0).  Returns ``(x, new_lengths)``; a row keeps at least one frame."""
    out = np.zeros_like(x)
    lengths = np.empty(len(x), dtype=np.int64)
    for i in range(len(x)):
        keep = np.flatnonzero(voiced[i])
        if not len(keep):
            keep = np.array([0])
        out[i, :len(keep)] = x[i, keep]
        lengths[i] = len(keep)
    return out, lengths


def frame_weights(voiced: np.ndarray, lengths, mode: str) -> np.ndarray:
    """Each frame's weight in the utterance decision: voiced frames (``mask``, ``label``) or every
    valid frame (``remove``, whose silent frames are already gone)."""
    if mode == "remove":
        t = voiced.shape[1]
        return (np.arange(t)[None, :] < np.asarray(lengths).reshape(-1, 1)).astype(np.float32)
    return voiced.astype(np.float32)


def frame_targets(y, x_or_weights, lengths, *, mode: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame training targets ``(N, T)`` (class indices) and loss weights ``(N, T)``.

    ``x_or_weights`` is the model input (its last column holds the decision weights, see
    :func:`apply_silence`) or the ``(N, T)`` weights themselves.  ``mask``: the label on every
    frame, weight 1 on voiced frames and 0 elsewhere; ``remove``: the label, weight 1 on every
    valid frame; ``label``: the label on voiced frames and ``n_classes`` (``_silence_``) on the
    silent valid frames, weight 1 on every valid frame.  Padding frames always weigh 0.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[1, 0, 1, 0]], dtype=np.float32)
    >>> t, sw = frame_targets([2], w, [3], mode="label", n_classes=3)
    >>> t.tolist(), sw.tolist()
    ([[2, 3, 2, 2]], [[1.0, 1.0, 1.0, 0.0]])
    """
    w = np.asarray(x_or_weights)
    if w.ndim == 3:
        w = w[..., -1]
    n, t = w.shape
    y = np.asarray(y, dtype=np.int64).reshape(-1, 1)
    valid = (np.arange(t)[None, :] < np.asarray(lengths).reshape(-1, 1)).astype(np.float32)
    targets = np.broadcast_to(y, (n, t)).copy()
    if mode == "mask":
        return targets, (w > 0).astype(np.float32)
    if mode == "label":
        targets[(w <= 0) & (valid > 0)] = n_classes
        return targets, valid
    if mode == "remove":
        return targets, valid
    raise ConfigError(f"unknown data.silence_frames {mode!r}", fix=f"use one of {', '.join(SILENCE_MODES)}")


def apply_silence(x: np.ndarray, lengths, fcfg, *, mode: str, threshold_db: float = DEFAULT_THRESHOLD_DB,
                  normalize: str = "none", floor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Un-normalized, zero-padded features ``(N, T, bins)`` -> model input ``(N, T, bins + 1)``.

    The VAD runs on the raw features; ``remove`` then cuts the silent frames out; per-clip CMVN
    (``normalize="per_clip"``) runs over the remaining valid frames and padding is set to 0
    (:func:`auricle.data.mask_padding_`); the last column holds each frame's decision weight
    (:func:`frame_weights`).  Returns ``(x, lengths)``.  Training, evaluation and ``predict``
    all go through this, so they see the same frames.

    Examples
    --------
    >>> import numpy as np
    >>> from auricle.features import FeatureConfig
    >>> x = np.zeros((1, 4, 2)); x[0, :3, :] = [[-10], [-50], [-12]]
    >>> out, n = apply_silence(x, [3], FeatureConfig(kind="log_mel", n_mels=2), mode="remove")
    >>> out[0, :, 0].tolist(), out[0, :, -1].tolist(), n.tolist()
    ([-10.0, -12.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [2])
    """
    from auricle.features.padding import mask_padding_

    x = np.asarray(x, dtype=np.float32)
    lengths = np.asarray(lengths, dtype=np.int64)
    voiced = voiced_frames(frame_level_db(x, fcfg), lengths, threshold_db=threshold_db)
    if mode == "remove":
        x, lengths = remove_silent(x, voiced)
        voiced = np.arange(x.shape[1])[None, :] < lengths[:, None]
    else:
        x = np.array(x)
    x = mask_padding_(x, lengths, normalize, floor)
    w = frame_weights(voiced, lengths, mode)
    return np.concatenate([x, w[..., None]], axis=-1).astype(np.float32), lengths


def decide(frame_probs: np.ndarray, weights: np.ndarray, *, silence_class: bool = False) -> np.ndarray:
    """Utterance posteriors from frame posteriors ``(N, T, C[+1])`` and decision weights ``(N, T)``:
    the weighted mean over frames; with ``silence_class`` the last column (``_silence_``) is
    dropped and each frame renormalized first.  The numpy twin of the framewise models' decision
    layer (used by the streaming classifier)."""
    p = np.asarray(frame_probs, dtype=np.float64)
    if silence_class:
        p = p[..., :-1] / np.maximum(p[..., :-1].sum(-1, keepdims=True), 1e-12)
    w = np.asarray(weights, dtype=np.float64)[..., None]
    return ((p * w).sum(-2) / np.maximum(w.sum(-2), 1e-12)).astype(np.float32)


def single_voice_labels(items) -> dict[str, str]:
    """Labels whose items (at least two) all come from one group (speaker / voice): ``{label: group}``.

    For such a label the model can learn the voice instead of the label (a language spoken by one
    speaker only), and no split can test it on an unseen voice.

    Examples
    --------
    >>> from types import SimpleNamespace as I
    >>> single_voice_labels([I(label="en", group="a"), I(label="en", group="a"),
    ...                      I(label="fr", group="b"), I(label="fr", group="c")])
    {'en': 'a'}
    """
    groups: dict[str, set] = {}
    counts: dict[str, int] = {}
    for it in items:
        lab = str(it.label)
        if lab.startswith("_"):
            continue
        groups.setdefault(lab, set()).add(it.group)
        counts[lab] = counts.get(lab, 0) + 1
    n_groups = len(set().union(*groups.values())) if groups else 0
    if n_groups < 2:
        return {}
    # every item its own group means the layout has no speaker information: nothing to warn about
    if n_groups >= sum(counts.values()):
        return {}
    return {lab: next(iter(g)) for lab, g in sorted(groups.items()) if len(g) == 1 and counts[lab] >= 2}


def utterance_bounds(level_db: np.ndarray, *, threshold_db: float = DEFAULT_THRESHOLD_DB,
                     end_frames: int = 30) -> list[tuple[int, int]]:
    """Split a stream of frame levels into utterances, causally: a frame is silent when it is more
    than ``threshold_db`` below the loudest frame of the current utterance so far; ``end_frames``
    silent frames in a row end the utterance (they belong to it) and the next frame starts a new one.
    Returns ``[(start, stop), ...]`` covering the stream (the last one may be unfinished).

    Examples
    --------
    >>> import numpy as np
    >>> utterance_bounds(np.array([0, 0, -60, -60, 0, -60, -60]), end_frames=2)
    [(0, 4), (4, 7)]
    """
    bounds, start, peak, run = [], 0, -np.inf, 0
    for i, v in enumerate(np.asarray(level_db, dtype=np.float64)):
        peak = max(peak, v)
        run = run + 1 if v < peak - threshold_db else 0
        if run >= end_frames:
            bounds.append((start, i + 1))
            start, peak, run = i + 1, -np.inf, 0
    if start < len(level_db):
        bounds.append((start, len(level_db)))
    return bounds


def frame_fit_data(split, n_classes: int, mode: str, class_weight: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One-hot per-frame targets ``(N, T, C[+1])`` and loss weights ``(N, T)`` of a prepared split
    (:class:`auricle.data.SplitArrays` from :func:`apply_silence` input), for ``model.fit``.

    ``class_weight`` (``{class index: weight}``, ``train.class_weight``) multiplies each frame's
    weight by its utterance's class weight, so unequal amounts per class weigh as they do for
    utterance-level targets.
    """
    targets, weights = frame_targets(split.y, split.x, split.lengths, mode=mode, n_classes=n_classes)
    n_out = n_classes + int(mode == "label")
    onehot = np.eye(n_out, dtype=np.float32)[targets]
    if class_weight:
        cw = np.array([class_weight.get(int(c), 1.0) for c in np.asarray(split.y)], dtype=np.float32)
        weights = weights * cw[:, None]
    return onehot, weights.astype(np.float32)
