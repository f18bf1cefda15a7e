"""Config -> summary features -> scikit-learn fit -> the same run directory as a Keras run.

::

    RUN/config.yaml       resolved configuration
    RUN/labels.json       class names in model-output order
    RUN/features.json     what the model reads: a ``waveform`` feature config (sr, duration) + crop/window_hop
    RUN/model.joblib      a :class:`~auricle.classic.models.ClassicModel` (pipeline + summary settings)
    RUN/metrics.json, per_class.csv, confusion.png, report.md   (auricle.evaluation; no curves.png)

The data go through :func:`auricle.data.prepare` exactly as for a Keras run (same index,
splits, crops, windows of long files, silence handling and unreadable-file skipping), with a
``waveform`` feature config so the cached rows ARE the clips; the 75 summary numbers per clip
(:mod:`auricle.classic.summary`) are computed from them.  Waveform augmentation is not used
(a classic model sees each clip once); ``train.oversample`` and ``train.class_weight`` are.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from auricle.classic.load import (MODEL_FILE, is_classic_run, load_classic,  # noqa: F401  (re-exported)
                                  load_classic_model, predict_classic, read_features_json)
from auricle.config import RunConfig
from auricle.errors import ModelError


def waveform_config(cfg: RunConfig):
    """The ``waveform`` FeatureConfig with the run's sample rate and clip length."""
    from auricle.features import FeatureConfig

    fc = cfg.feature_config()
    return FeatureConfig(kind="waveform", sr=fc.sr, duration=fc.duration)


def _waveform_run_config(cfg: RunConfig) -> RunConfig:
    d = cfg.to_dict()
    d["features"] = waveform_config(cfg).to_dict()
    return RunConfig.from_dict(d)


def summary_config(cfg: RunConfig):
    from auricle.classic.summary import SummaryConfig

    return SummaryConfig(sr=int(cfg.feature_config().sr))


def build_classic(cfg: RunConfig, n_features: int, n_classes: int, *, labels_present=None):
    """The unfitted :class:`ClassicModel` ``cfg.model`` names (seeded with ``cfg.train.seed``)."""
    from auricle.classic.models import ClassicModel  # (importing it registers the classic models)
    from auricle.models import get_model

    spec = get_model(cfg.model["name"])
    if spec.kind != "classic":
        raise ModelError(f"model '{spec.name}' is a {spec.kind} model, not a classic one",
                         fix="use auricle.training.train for Keras models")
    pipe = spec.build((n_features,), n_classes, **(cfg.model.get("options") or {}))
    params = pipe.get_params()
    if "clf__random_state" in params:
        pipe.set_params(clf__random_state=int(cfg.train.seed))
    # joblib-parallel estimators get train.workers; XGBoost stays at 1 thread: its OpenMP threads
    # spin-wait, and on a loaded 2-core machine n_jobs=2 was 18x slower than 1 (91 s vs 5 s)
    if "clf__n_jobs" in params and type(pipe[-1]).__name__ in ("RandomForestClassifier", "KNeighborsClassifier"):
        pipe.set_params(clf__n_jobs=max(1, int(cfg.train.workers)))
    return ClassicModel(pipe, n_classes, name=spec.name, summary=summary_config(cfg).to_dict())


#: training keys that change what a Keras run learns but mean nothing to a scikit-learn fit
#: (epochs, optimizer and the like are left out: every recipe sets them, so naming them is noise)
KERAS_ONLY = ("mixup", "label_smoothing", "teacher", "tta_shift_ms", "early_stopping")


def keras_only_settings(train) -> list[str]:
    """The :data:`KERAS_ONLY` keys of ``train`` (a TrainConfig) set away from their defaults.

    Examples
    --------
    >>> from auricle.config import TrainConfig
    >>> keras_only_settings(TrainConfig(mixup=0.2, tta_shift_ms=[-50, 50], epochs=80))
    ['mixup', 'tta_shift_ms']
    """
    from auricle.config import TrainConfig

    default = TrainConfig()
    return [k for k in KERAS_ONLY if getattr(train, k) != getattr(default, k)]


def train_classic(cfg: RunConfig, run_dir, *, overwrite: bool = False, console=None, progress: bool = True) -> dict:
    """Fit the classic model ``cfg.model`` names and write a complete run directory.

    Returns the metrics dict written to ``metrics.json`` (as :func:`auricle.training.train`).
    Hyperparameters come from ``cfg.model["options"]``; ``cfg.train`` supplies the seed,
    workers (``n_jobs``), ``oversample`` and ``class_weight`` (as sample weights; k-NN ignores them).

    Examples
    --------
    >>> from auricle.config import recipe
    >>> cfg = recipe("default", {"model": {"name": "svm", "options": {"C": 3.0}}})  # doctest: +SKIP
    >>> train_classic(cfg, "runs/svm")  # doctest: +SKIP
    """
    import joblib
    from rich.console import Console

    from auricle import data as data_mod
    from auricle.classic.summary import feature_names, summary_features
    from auricle.evaluation import evaluate_prepared
    from auricle.runs import atomic_write
    from auricle.training.components import class_weights, oversample_indices
    from auricle.training.rundir import prepare_run_dir

    console = console or Console()
    run_dir = Path(run_dir)
    cfg.validate()
    build_classic(cfg, 1, 2)  # unknown model / options fail before anything is written
    prepare_run_dir(run_dir, overwrite=overwrite, resume=False)
    t_start = time.time()
    console.print(f"[bold]auricle train[/bold] (classic) -> {run_dir}")
    wcfg = _waveform_run_config(cfg)
    wfc = wcfg.feature_config()
    dataset = None
    if cfg.data.window_hop == "auto":  # long recordings -> windows, settled before config.yaml is written
        dataset = data_mod.load_dataset(wcfg.data, progress=progress, cache_dir=cfg.train.cache_dir, sr=wfc.sr,
                                        duration=wfc.duration)
        wcfg.data.window_hop = cfg.data.window_hop = data_mod.window_hop(
            wcfg, [it for it in dataset.items if it.split == "train"], console=console)
    cfg.save(run_dir / "config.yaml")
    prep, ds = data_mod.prepare(wcfg, progress=progress, dataset=dataset)
    if prep.failures:
        console.print(f"[yellow]skipped {len(prep.failures)} unreadable file(s)[/yellow] (first: "
                      f"{prep.failures[0][0]}: {prep.failures[0][1]}); use data.strict: true to fail instead")
    if cfg.augment:
        console.print("[dim]note: augmentation is not used by classic models[/dim]")
    if unused := keras_only_settings(cfg.train):
        console.print(f"[dim]note: classic models do not use train.{', train.'.join(unused)} (Keras training only)[/dim]")
    labels = prep.labels
    n_cls = len(labels)
    counts = {s: len(a.y) for s, a in prep.splits.items()}

    scfg = summary_config(cfg)
    t_feat = time.time()
    feats = {}
    for name, arr in prep.splits.items():
        feats[name] = type(arr)(summary_features(np.asarray(arr.x)[..., 0], scfg), arr.y, arr.paths, arr.file_index)
    feat_seconds = round(time.time() - t_feat, 2)
    console.print(f"data: {ds.layout} layout, {n_cls} classes, examples per split {counts}, "
                  f"{len(feature_names(scfg))} summary features per clip ({feat_seconds:.1f}s)")
    atomic_write(run_dir / "labels.json", json.dumps(labels, indent=1))
    extra = {"crop": cfg.data.crop, "window_hop": cfg.data.window_hop}
    if hasattr(cfg, "silence"):
        extra["silence"] = cfg.silence()
    atomic_write(run_dir / "features.json", json.dumps({**wfc.to_dict(), **extra}, indent=1))

    tr = feats["train"]
    class_counts = {s: dict(zip(labels, np.bincount(a.y, minlength=n_cls).tolist())) for s, a in feats.items()}
    x_tr, y_tr = tr.x, tr.y
    if cfg.train.oversample:
        order = oversample_indices(y_tr, seed=cfg.train.seed)
        x_tr, y_tr = x_tr[order], y_tr[order]
        class_counts["train (oversampled)"] = dict(zip(labels, np.bincount(y_tr, minlength=n_cls).tolist()))
        console.print(f"oversampled the training split to {len(y_tr)} examples")
    cw = class_weights(cfg.train.class_weight, y_tr, labels)
    model = build_classic(cfg, x_tr.shape[1], n_cls)
    sw = None
    if cw is not None:
        if "clf__sample_weight" in _fit_params(model.pipeline):
            sw = np.array([cw[int(c)] for c in y_tr], dtype=np.float64)
        else:
            console.print(f"[yellow]{model.name} takes no sample weights; train.class_weight is ignored[/yellow]")

    t_fit = time.time()
    model.fit(x_tr, y_tr, sample_weight=sw)
    train_seconds = round(time.time() - t_fit, 2)
    n_params, size = model.size()
    console.print(f"model: {model.name} ({size}), fit in {train_seconds:.1f}s")
    tmp = run_dir / (MODEL_FILE + ".tmp")
    joblib.dump(model, tmp)
    os.replace(tmp, run_dir / MODEL_FILE)

    info = {"kind": "classic", "best_epoch": None, "monitor": None, "epochs_run": None,
            "params": int(n_params), "size": size, "n_features": int(x_tr.shape[1]),
            "summary": scfg.to_dict(), "feature_seconds": feat_seconds,
            "train_seconds": train_seconds, "wall_seconds": round(time.time() - t_start, 1), "counts": counts,
            "class_weight": None if cw is None else {labels[i]: w for i, w in cw.items()},
            "class_counts": class_counts, "skipped_files": [list(f) for f in prep.failures]}
    fprep = type(prep)(labels, feats, prep.failures, prep.background)
    metrics = evaluate_prepared(model, fprep, run_dir, cfg=cfg, info=info, console=console)
    _fix_report(run_dir, info)
    return metrics


def _fit_params(pipe) -> set:
    """``clf__sample_weight`` when the pipeline's estimator accepts sample weights."""
    import inspect

    try:
        sig = inspect.signature(pipe[-1].fit)
    except (TypeError, ValueError):
        return set()
    return {"clf__sample_weight"} if "sample_weight" in sig.parameters else set()


def _fix_report(run_dir: Path, info: dict) -> None:
    """The shared report speaks of epochs and learning curves; say what a classic fit is instead."""
    path = run_dir / "report.md"
    if not path.exists():
        return
    text = path.read_text()
    text = text.replace(f"with {info['params']:,} parameters; best epoch None of None (monitor None); ",
                        f"({info['size']}; {info['params']:,} stored numbers) on {info['n_features']} summary "
                        f"features per clip; ")
    text = text.replace("; training ", "; fit ", 1)
    text = text.replace("## Learning curves\n\n![curves](curves.png)\n\n", "")
    path.write_text(text)
