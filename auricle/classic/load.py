"""Using a trained classic run: load its ``model.joblib`` and feed it clips.

:func:`load_classic` gives the same :class:`auricle.runs.Run` as :func:`auricle.inference.load_run`
does for a Keras run (``load_run`` calls it for a classic run directory), so prediction,
evaluation and serving need no special case.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from auricle.classic.models import load_classic_model  # noqa: F401  (re-exported: the classic run API)
from auricle.config import RunConfig
from auricle.errors import RunError

__all__ = ["MODEL_FILE", "is_classic_run", "load_classic", "load_classic_model", "predict_classic",
           "read_features_json"]

#: The classic model's file in a run directory (a Keras run has ``model.keras`` instead).
MODEL_FILE = "model.joblib"


def is_classic_run(run_dir) -> bool:
    run_dir = Path(run_dir)
    return (run_dir / MODEL_FILE).exists() and not (run_dir / "model.keras").exists()


def load_classic(run_dir):
    """An :class:`auricle.runs.Run` for a classic run.

    Its ``feature_config`` is the ``waveform`` config of ``features.json`` and its ``model`` a
    :class:`~auricle.classic.models.WaveformModel` (``predict_on_batch(waves)``), so
    :func:`auricle.inference.predict_files` and :func:`auricle.evaluation.evaluate_run` work on
    it unchanged.
    """
    import dataclasses

    from auricle.classic.models import WaveformModel
    from auricle.runs import Run

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError("run directory not found", path=run_dir, fix="pass the --out folder of `auricle train`")
    missing = [f for f in ("config.yaml", "labels.json", "features.json", MODEL_FILE) if not (run_dir / f).exists()]
    if missing:
        raise RunError(f"incomplete classic run (missing {', '.join(missing)})", path=run_dir,
                       fix="train a model into this folder first")
    fc, extra = read_features_json(run_dir)
    model = WaveformModel(load_classic_model(run_dir / MODEL_FILE))
    kw = {"silence": extra.get("silence")} if "silence" in {f.name for f in dataclasses.fields(Run)} else {}
    return Run(run_dir, RunConfig.load(run_dir / "config.yaml"), json.loads((run_dir / "labels.json").read_text()),
               fc, extra.get("crop", "center"), extra.get("window_hop"), model, **kw)


def read_features_json(run_dir):
    """``(FeatureConfig, other keys)`` of ``RUN/features.json`` (crop, window_hop, silence, ...)."""
    from auricle.features import FeatureConfig

    feats = json.loads((Path(run_dir) / "features.json").read_text())
    names = set(FeatureConfig.field_names())
    return (FeatureConfig.from_dict({k: v for k, v in feats.items() if k in names}),
            {k: v for k, v in feats.items() if k not in names})


def predict_classic(run, waves: np.ndarray) -> np.ndarray:
    """Probabilities ``(n, n_labels)`` of clips ``(n, samples)`` at the run's sample rate and
    clip length (crop/pad them with :func:`auricle.audio.fix_length` first)."""
    w = np.asarray(waves, dtype=np.float32)
    if w.ndim == 1:
        w = w[None]
    return run.model.predict_on_batch(w)
