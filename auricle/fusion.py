"""Late fusion: a Keras run's per-recording answer averaged with a classic model's on the whole recording.

A deep model reads fixed windows and averages them; some cues live only in the whole recording
(speech emotion: the pitch range, loudness dynamics and length of an utterance).  With
``train.fuse`` set, :func:`auricle.training.train` also fits a classic model (the *member*,
XGBoost by default) on whole-recording features of the training split, and every per-recording
answer of the run becomes ::

    weight * (deep model's window-averaged probabilities) + (1 - weight) * member's probabilities

in evaluation (``metrics.json`` ``per_recording``, with the deep model's and the member's own
figures beside it), ``auricle predict``, ``auricle serve`` and the ONNX/TFLite exports (which carry
the member folder along).  Per-window figures and streaming stay the deep model's alone.

The run directory gains::

    RUN/member/model.joblib   the fitted member (auricle.classic.models.ClassicModel)
    RUN/member/fusion.json    {member, weight, features, sr, labels, names}

Settings (``train.fuse``, a mapping; empty = off)::

    member:  a classic model name (xgboost, logreg, svm, random_forest, knn); default xgboost
    weight:  the deep model's share in [0, 1]; default 0.5
    options: the member's options (as model.options of a classic run); default {}
    features: "utterance" (the only kind): the 75 summary features of
              :func:`auricle.classic.summary.summary_features` plus the 19 prosody statistics of
              :func:`auricle.classic.summary.prosody_features`, of the whole recording

Examples
--------
>>> normalize_fuse({"weight": 0.4})
{'member': 'xgboost', 'weight': 0.4, 'options': {}, 'features': 'utterance'}
>>> normalize_fuse({})
{}
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from auricle.errors import ConfigError, RunError

__all__ = ["FEATURE_KINDS", "FUSION_FILE", "MEMBER_DIR", "FusionMember", "fit_member", "fuse",
           "load_member", "normalize_fuse", "utterance_features"]

#: The member's folder inside a run (and inside an export folder).
MEMBER_DIR = "member"
#: The fusion settings next to the member's model.
FUSION_FILE = "fusion.json"
#: What the member reads of a recording.
FEATURE_KINDS = ("utterance",)
_KEYS = {"member", "weight", "options", "features"}


def normalize_fuse(fuse) -> dict:
    """``train.fuse`` checked and completed with its defaults; ``{}`` when fusion is off.

    Raises :class:`~auricle.errors.ConfigError` for an unknown key, a weight outside [0, 1], a
    member that is not a classic model, or an unknown feature kind.
    """
    if not fuse:
        return {}
    if not isinstance(fuse, dict):
        raise ConfigError(f"train.fuse must be a mapping like {{member: xgboost, weight: 0.5}}, got {fuse!r}",
                          fix="set train.fuse: {member: xgboost, weight: 0.5}, or {} for no fusion")
    unknown = sorted(set(fuse) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown train.fuse key(s) {', '.join(unknown)}", fix=f"use {', '.join(sorted(_KEYS))}")
    out = {"member": str(fuse.get("member", "xgboost")), "weight": fuse.get("weight", 0.5),
           "options": dict(fuse.get("options") or {}), "features": str(fuse.get("features", "utterance"))}
    w = out["weight"]
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= float(w) <= 1.0:
        raise ConfigError(f"train.fuse.weight is the deep model's share and must lie in [0, 1], got {w!r}",
                          fix="e.g. train.fuse.weight: 0.5")
    out["weight"] = float(w)
    if out["features"] not in FEATURE_KINDS:
        raise ConfigError(f"unknown train.fuse.features {out['features']!r}", fix=f"use {', '.join(FEATURE_KINDS)}")
    from auricle.classic.models import ClassicModel  # noqa: F401  (registers the classic models)
    from auricle.models import get_model

    spec = get_model(out["member"])
    if spec.kind != "classic":
        raise ConfigError(f"train.fuse.member must be a classic model, and {out['member']!r} is a {spec.kind} model",
                          fix="use xgboost, logreg, svm, random_forest or knn")
    return out


def utterance_features(y: np.ndarray, *, sr: int) -> np.ndarray:
    """The member's numbers for one whole recording ``(samples,)`` at ``sr``: 75 summary features and
    19 prosody statistics (float32, 94).

    Examples
    --------
    >>> t = np.arange(8000) / 8000
    >>> utterance_features(0.3 * np.sin(2 * np.pi * 200 * t), sr=8000).shape
    (94,)
    """
    from auricle.classic.summary import SummaryConfig, prosody_features, summary_features

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or len(y) == 0:
        raise ConfigError(f"utterance_features takes one non-empty signal (samples,), got shape {y.shape}")
    # the summary's STFT frames are 2048 samples: pad very short recordings for it (prosody, duration
    # included, reads the recording as it is)
    padded = np.pad(y, (0, max(0, 2048 - len(y))))
    return np.concatenate([summary_features(padded[None], SummaryConfig(sr=int(sr)))[0],
                           prosody_features(y, sr=sr)]).astype(np.float32)


def feature_names() -> list[str]:
    from auricle.classic.summary import PROSODY, SummaryConfig
    from auricle.classic.summary import feature_names as summary_names

    return [*summary_names(SummaryConfig()), *PROSODY]


@dataclass
class FusionMember:
    """A fitted member and its share: :meth:`probs` of whole recordings, :meth:`combine` with the deep
    model's per-recording probabilities."""

    model: Any               # auricle.classic.models.ClassicModel over utterance features
    weight: float            # the deep model's share
    sr: int
    labels: list
    settings: dict

    def probs_of_waves(self, waves) -> np.ndarray:
        """Probabilities ``(n, n_labels)`` of whole recordings (a list of 1-D signals at :attr:`sr`)."""
        if len(waves) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.model.predict_on_batch(np.stack([utterance_features(w, sr=self.sr) for w in waves]))

    def probs_of_files(self, paths) -> np.ndarray:
        """:meth:`probs_of_waves` of audio files, decoded at :attr:`sr`."""
        from auricle.audio import load

        return self.probs_of_waves([load(p, sr=self.sr) for p in paths])

    def combine(self, deep: np.ndarray, member: np.ndarray) -> np.ndarray:
        """``weight * deep + (1 - weight) * member`` (per-recording probabilities, run label order)."""
        return fuse(deep, member, self.weight)


def fuse(deep: np.ndarray, member: np.ndarray, weight: float) -> np.ndarray:
    """Late fusion of two ``(n, classes)`` probability arrays.

    Examples
    --------
    >>> fuse(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), 0.75).tolist()
    [[0.75, 0.25]]
    """
    deep, member = np.asarray(deep, dtype=np.float64), np.asarray(member, dtype=np.float64)
    if deep.shape != member.shape:
        raise ConfigError(f"fusion needs probabilities of the same shape, got {deep.shape} and {member.shape}")
    return (weight * deep + (1.0 - weight) * member).astype(np.float32)


def fit_member(fuse_cfg: dict, split, labels: list, *, sr: int, seed: int, class_weight: dict | None,
               oversample: bool, run_dir: Path, console=None) -> FusionMember:
    """Fit the member on the training split's whole recordings and write ``RUN/member/``.

    ``split`` is the training :class:`auricle.data.SplitArrays` before oversampling (its ``paths``
    and ``file_index`` name the recordings; the label of a recording is its windows' label).
    """
    import joblib

    from auricle.classic.models import ClassicModel
    from auricle.classic.summary import SummaryConfig
    from auricle.models import get_model
    from auricle.training.components import oversample_indices

    files = np.unique(split.file_index)
    if len(files) == 0:
        raise ConfigError("train.fuse: the training split has no recordings to fit the member on")
    y = np.zeros(len(files), dtype=int)
    pos = np.searchsorted(files, split.file_index)
    y[pos] = split.y
    t0 = time.time()
    x = _file_features([split.paths[f] for f in files], sr=sr, console=console)
    if oversample:
        order = oversample_indices(y, seed=seed)
        x, y = x[order], y[order]
    pipe = get_model(fuse_cfg["member"]).build((x.shape[1],), len(labels), **fuse_cfg["options"])
    if "clf__random_state" in pipe.get_params():
        pipe.set_params(clf__random_state=int(seed))
    model = ClassicModel(pipe, len(labels), name=fuse_cfg["member"], summary=SummaryConfig(sr=int(sr)).to_dict())
    sw = None if class_weight is None else np.array([class_weight[int(c)] for c in y], dtype=np.float64)
    try:
        model.fit(x, y, sample_weight=sw)
    except TypeError:  # an estimator without sample weights (k-NN)
        model.fit(x, y)
    folder = Path(run_dir) / MEMBER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "model.joblib.tmp"
    joblib.dump(model, tmp)
    os.replace(tmp, folder / "model.joblib")
    settings = {**fuse_cfg, "sr": int(sr), "labels": list(labels), "names": feature_names(),
                "train_recordings": int(len(files)), "seconds": round(time.time() - t0, 1)}
    (folder / FUSION_FILE).write_text(json.dumps(settings, indent=1))
    if console is not None:
        console.print(f"fusion member: {fuse_cfg['member']} on {x.shape[1]} whole-recording features of "
                      f"{len(files)} training recordings ({settings['seconds']:.1f}s); per-recording answers = "
                      f"{fuse_cfg['weight']:g} x this model + {1 - fuse_cfg['weight']:g} x the member")
    return FusionMember(model, fuse_cfg["weight"], int(sr), list(labels), settings)


def _file_features(paths, *, sr: int, console=None) -> np.ndarray:
    from auricle.audio import load

    out = []
    for i, p in enumerate(paths):
        out.append(utterance_features(load(p, sr=sr), sr=sr))
    return np.stack(out)


def member_probs(member: FusionMember, split) -> tuple[np.ndarray, np.ndarray]:
    """``(files, probabilities)``: the member's answer for each recording of a split, in
    ``np.unique(split.file_index)`` order (the order of :func:`auricle.evaluation.file_level`)."""
    files = np.unique(split.file_index)
    if len(files) == 0:
        return files, np.zeros((0, len(member.labels)), dtype=np.float32)
    return files, member.model.predict_on_batch(_file_features([split.paths[f] for f in files], sr=member.sr))


def load_member(folder, *, labels: list | None = None) -> FusionMember | None:
    """The member saved in ``folder/member`` (a run or an export folder), or None when there is none.

    A member whose labels differ from ``labels`` is a :class:`~auricle.errors.RunError`.
    """
    sub = Path(folder) / MEMBER_DIR
    if not (sub / FUSION_FILE).exists():
        return None
    from auricle.classic.models import load_classic_model

    try:
        settings = json.loads((sub / FUSION_FILE).read_text())
    except ValueError as exc:
        raise RunError(f"unreadable fusion settings ({exc})", path=sub / FUSION_FILE,
                       fix="retrain the run (train.fuse) or delete its member/ folder") from None
    if labels is not None and list(settings.get("labels", [])) != list(labels):
        raise RunError("the fusion member's labels differ from the model's", path=sub / FUSION_FILE,
                       fix="retrain the run; a member/ folder copied from another run does not fit")
    model = load_classic_model(sub / "model.joblib")
    return FusionMember(model, float(settings["weight"]), int(settings["sr"]), list(settings["labels"]), settings)
