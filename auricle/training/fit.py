"""``train``: config -> fitted model -> run directory, as a few named steps.

:func:`train` reads top to bottom:

1. :func:`_other_trainer` - ensembles and classic (sklearn/xgboost) models have their own trainers;
2. :func:`_start_run` - validate, create (or reopen) the run directory, settle ``auto`` settings;
3. :func:`_load_data` - decode + featurize (the feature cache), write ``labels.json`` /
   ``features.json``, load a teacher, oversample, class weights;
4. :func:`_model_and_state` - build and compile the model, or reload the checkpoint to resume
   (inside the distribution strategy's scope, :mod:`auricle.training.distribute`);
5. :func:`_callbacks` and :func:`auricle.training.batches.fit_inputs` - what ``fit`` calls and reads;
6. :func:`_fit` - ``model.fit`` with Ctrl-C / SIGTERM turned into a resumable stop;
7. :func:`_finish` - keep the best (or last) weights, test-time augmentation, ``model.keras``,
   evaluation and ``metrics.json``, remove the checkpoint.

Keras is imported from step 4 on; the modules that define Keras classes
(:mod:`~auricle.training.batches`, :mod:`~auricle.training.callbacks`) are imported there.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from auricle.config import RunConfig
from auricle.errors import ConfigError, RunError, TrainingInterrupted
from auricle.training import distribute
from auricle.training.components import class_weights, make_loss, make_optimizer, oversample_indices
from auricle.training.rundir import STATE_FILE, _atomic_write, prepare_run_dir, save_model
from auricle.training.settings import check_model_options as _check_model_options
from auricle.training.settings import resolve_auto_settings


@dataclass
class TrainData:
    """A prepared run's data and the settings derived from it (step 3 of :func:`train`)."""

    prep: Any                    # auricle.data.Prepared: every split's features
    train: Any                   # the training split (oversampled when train.oversample)
    val: Any                     # the validation split or None
    labels: list
    chain: Any                   # the augmentation chain (auricle.augment.build_chain)
    fcfg: Any                    # the FeatureConfig
    variable: bool               # data.variable_length
    use_waves: bool              # the batches start from waveforms (waveform augmentation)
    counts: dict                 # examples per split
    class_counts: dict           # per split: {label: count}
    class_weight: dict | None
    teacher: Any = None
    steps: int = 0               # optimizer steps per epoch
    extra: dict = field(default_factory=dict)


def train(cfg: RunConfig, run_dir: str | Path, *, overwrite: bool = False, resume: bool = False,
          console=None, progress: bool = True, tensorboard: bool | None = None) -> dict:
    """Train a model as ``cfg`` describes and write a complete run directory.

    Parameters
    ----------
    cfg : RunConfig
        Full configuration (see :func:`auricle.config.recipe`).  Ignored with ``resume=True``,
        where the run's own ``config.yaml`` is used.
    run_dir : path
        Output folder.  An existing run is never replaced unless ``overwrite=True``.
    resume : bool
        Continue an interrupted run from its last completed epoch.
    tensorboard : bool, optional
        Also log each epoch for TensorBoard into ``RUN/tensorboard`` (default: the environment
        variable ``AURICLE_TENSORBOARD=1``, which ``auricle train --tensorboard`` sets, so that
        ensemble members trained as their own runs log too).  ``curves.png`` is redrawn every
        epoch either way.

    Returns
    -------
    dict
        The test (or validation) metrics, as written to ``metrics.json``.

    Examples
    --------
    >>> from auricle.config import recipe
    >>> train(recipe("default"), "runs/demo")  # doctest: +SKIP
    """
    if tensorboard and os.environ.get("AURICLE_TENSORBOARD") != "1":
        os.environ["AURICLE_TENSORBOARD"] = "1"  # seen by ensemble members, trained as runs by train()
        try:
            return train(cfg, run_dir, overwrite=overwrite, resume=resume, console=console, progress=progress,
                         tensorboard=True)
        finally:
            os.environ.pop("AURICLE_TENSORBOARD", None)
    from rich.console import Console

    console = console or Console()
    run_dir = Path(run_dir)
    other = _other_trainer(cfg, run_dir, resume=resume)
    if other is not None and not resume and cfg.train.fuse:
        raise ConfigError(f"train.fuse adds a classic member to one Keras model, and '{cfg.model['name']}' is "
                          "trained another way (an ensemble or a classic model)",
                          fix="drop train.fuse (--set train.fuse={}), or train one Keras model")
    if other is not None:
        return other(cfg, run_dir, overwrite=overwrite, console=console, progress=progress)
    writer = resume or distribute.is_chief_worker(cfg.train)  # False: a multi-worker job's non-chief worker
    cfg, dataset = _start_run(cfg, run_dir, overwrite=overwrite, resume=resume, console=console, progress=progress,
                              writer=writer)
    writer = distribute.is_chief_worker(cfg.train)

    import keras

    strategy = distribute.strategy(cfg.train, console=console)  # before any other TensorFlow work
    keras.utils.set_random_seed(cfg.train.seed)
    t_start = time.time()
    console.print(f"[bold]auricle train[/bold] -> {run_dir}")
    data = _load_data(cfg, run_dir, dataset, console=console, progress=progress, t_start=t_start, writer=writer)
    data.extra["distribute"] = distribute.describe(strategy)
    with distribute.scope(strategy):
        state, model = _model_and_state(cfg, run_dir, data, resume=resume, console=console)
    distribute.prepare_model(model, strategy)
    from auricle.training.batches import fit_inputs

    fit_kw, val_data = fit_inputs(cfg, data, console=console)
    use_tb = bool(tensorboard or (tensorboard is None and os.environ.get("AURICLE_TENSORBOARD") == "1"))
    callbacks = _callbacks(cfg, run_dir, state, console, has_val=data.val is not None and len(data.val.y) > 0,
                           tensorboard=use_tb, writer=writer)
    _fit(model, fit_kw, val_data, callbacks, cfg, state, run_dir)
    if not writer:  # a multi-worker job's other workers stop here: the chief writes the run
        return {}
    return _finish(model, cfg, data, state, run_dir, has_val=val_data is not None, t_start=t_start, console=console)


# --------------------------------------------------------------------------------------
# the steps


def _other_trainer(cfg, run_dir: Path, *, resume: bool):
    """The trainer of an ensemble or a classic model (``f(cfg, run_dir, overwrite=, console=, progress=)``),
    or None for a Keras model trained here."""
    if not resume and cfg.train.teacher:  # --overwrite would delete the teacher before it taught anything
        t = Path(cfg.train.teacher).resolve()
        if t == run_dir.resolve() or run_dir.resolve() in t.parents:
            raise ConfigError("train.teacher is this run's own output folder", path=t,
                              fix="write the student to another folder (--out)")
    from auricle.training.ensemble import train_separately, trains_separately

    if (trains_separately(cfg) if not resume else
            (run_dir / "config.yaml").exists() and trains_separately(RunConfig.load(run_dir / "config.yaml"))):
        return partial(train_separately, train_run=train, resume=resume)
    if not resume:
        from auricle.models import get_model

        if get_model(cfg.model["name"]).kind == "classic":
            from auricle.classic import train_classic

            return train_classic
    elif (run_dir / "model.joblib").exists():
        raise RunError("a classic run has nothing to resume", path=run_dir, fix="retrain it or use `auricle evaluate`")
    return None


def _start_run(cfg, run_dir: Path, *, overwrite: bool, resume: bool, console, progress: bool, writer: bool = True):
    """Validate (fail before any work), prepare the run directory, and return ``(cfg, dataset)``:
    the run's own config on resume, else ``cfg`` with its ``auto`` settings settled and saved
    (``dataset`` is the indexed dataset when settling had to read it, else None).  A non-writer
    (a multi-worker job's non-chief worker) settles the same settings and writes nothing."""
    from auricle.augment import build_chain

    if not resume:
        cfg.validate()
        _check_model_options(cfg)
        build_chain(cfg.augment).check(cfg.feature_config())
        distribute.check(cfg.train)
    if writer:
        prepare_run_dir(run_dir, overwrite=overwrite, resume=resume)
    dataset = None
    if resume:
        cfg = RunConfig.load(run_dir / "config.yaml")
        if (run_dir / "model.keras").exists() and not (run_dir / "checkpoint" / STATE_FILE).exists():
            raise RunError("this run already finished", path=run_dir, fix="nothing to resume; use `auricle evaluate`")
    else:
        dataset = resolve_auto_settings(cfg, console=console, progress=progress)
        if writer:
            cfg.save(run_dir / "config.yaml")
    return cfg, dataset


def _load_data(cfg, run_dir: Path, dataset, *, console, progress: bool, t_start: float,
               writer: bool = True) -> TrainData:
    """Features of every split (through the feature cache), ``labels.json`` and ``features.json``,
    the teacher, oversampling and class weights."""
    from auricle import data as data_mod
    from auricle.augment import build_chain

    chain = build_chain(cfg.augment)
    fcfg = cfg.feature_config()
    variable = bool(cfg.data.variable_length)
    use_waves = bool(chain.waveform) and not cfg.data.window_hop and not variable
    prep, ds = data_mod.prepare(cfg, progress=progress, with_train_waves=use_waves, dataset=dataset)
    if prep.failures:
        console.print(f"[yellow]skipped {len(prep.failures)} unreadable file(s)[/yellow] (first: {prep.failures[0][0]}: "
                      f"{prep.failures[0][1]}); use data.strict: true to fail instead")
    labels = prep.labels
    tr, va = prep.splits["train"], prep.splits.get("val")
    counts = {s: len(a.y) for s, a in prep.splits.items()}
    console.print(f"data: {ds.layout} layout, {len(labels)} classes, examples per split {counts}, "
                  f"features {fcfg.kind} {tuple(tr.x.shape[1:])} ({time.time() - t_start:.1f}s)")
    if variable and chain.waveform:
        console.print("[yellow]variable_length: waveform augmentation is off (it would move audio into the "
                      "padding); SpecAugment still runs[/yellow]")
    features = {**fcfg.to_dict(), "crop": cfg.data.crop, "window_hop": cfg.data.window_hop,
                "silence": cfg.silence(), "variable_length": variable,
                "silence_frames": data_mod.silence_settings(cfg.data)}
    from auricle.datasets.silence import single_voice_labels

    for lab, voice in single_voice_labels(ds.items).items():
        console.print(f"[yellow]warning: every recording of '{lab}' is by one voice ({voice}): the model can learn "
                      f"the speaker instead of '{lab}', and no split tests '{lab}' on an unseen voice; add recordings "
                      "of other speakers[/yellow]")
    if writer:
        _atomic_write(run_dir / "labels.json", json.dumps(labels, indent=1))
        _atomic_write(run_dir / "features.json", json.dumps(features, indent=1))
    teacher = None
    if cfg.train.teacher:
        from auricle.distillation import load_teacher

        teacher = load_teacher(cfg.train.teacher, labels, features)
        console.print(f"distilling from {cfg.train.teacher} (weight {cfg.train.teacher_weight}, "
                      f"temperature {cfg.train.teacher_temperature})")
    n_cls = len(labels)
    class_counts = {s: dict(zip(labels, np.bincount(a.y, minlength=n_cls).tolist())) for s, a in prep.splits.items()}
    if cfg.train.oversample:
        order = oversample_indices(tr.y, seed=cfg.train.seed)
        tr = type(tr)(tr.x[order], tr.y[order], tr.paths, tr.file_index[order],
                      None if tr.waves is None else tr.waves[order],
                      None if tr.lengths is None else tr.lengths[order])
        class_counts["train (oversampled)"] = dict(zip(labels, np.bincount(tr.y, minlength=n_cls).tolist()))
        console.print(f"oversampled the training split to {len(tr.y)} examples")
    return TrainData(prep=prep, train=tr, val=va, labels=labels, chain=chain, fcfg=fcfg, variable=variable,
                     use_waves=use_waves, counts=counts, class_counts=class_counts,
                     class_weight=class_weights(cfg.train.class_weight, tr.y, labels), teacher=teacher,
                     steps=int(np.ceil(len(tr.y) / cfg.train.batch_size)))


def _model_and_state(cfg, run_dir: Path, data: TrainData, *, resume: bool, console) -> tuple[dict, Any]:
    """``(state, model)``: the checkpoint's on resume, else a new compiled model and an empty state."""
    state_path = run_dir / "checkpoint" / STATE_FILE
    if resume and state_path.exists():
        state = json.loads(state_path.read_text())
        from auricle.models import load_model

        model = load_model(run_dir / "checkpoint" / "model.keras")
        console.print(f"resuming after epoch {state['epoch']} of {cfg.train.epochs}")
    else:
        from auricle.models import get_model

        state = {"epoch": 0, "best": None, "best_epoch": 0, "wait": 0, "history": [], "monitor": None}
        spec = get_model(cfg.model["name"])
        options = dict(cfg.model.get("options") or {})
        in_shape = data.train.x.shape[1:]
        if data.variable:
            options["masking"] = True
            in_shape = (None, data.train.x.shape[2])
        if cfg.data.silence_frames:  # fit per frame; _finish saves it with the utterance decision on top
            options["frames"] = cfg.data.silence_frames
        model = spec.build(in_shape, len(data.labels), **options)
        if cfg.data.silence_frames:
            from auricle.models.frames import frame_model

            model = frame_model(model)
        model.compile(optimizer=make_optimizer(cfg.train, data.steps), loss=make_loss(cfg.train), metrics=["accuracy"])
    console.print(f"model: {cfg.model['name']} ({model.count_params():,} parameters)")
    return state, model


def _callbacks(cfg, run_dir: Path, state: dict, console, *, has_val: bool, tensorboard: bool = False,
               writer: bool = True) -> list:
    """RunCallback (checkpoint, best epoch, early stop, progress), EMA first, TensorBoard, plateau LR."""
    import keras

    from auricle.training import callbacks as cbm

    cb = [cbm.RunCallback(run_dir, cfg, state, console, has_val=has_val, writer=writer)]
    if cfg.train.ema:  # first: the model holds the averaged weights when RunCallback snapshots them
        ema = cbm.WeightAverage(cfg.train.ema, run_dir / "checkpoint", resume=state["epoch"] > 0, writer=writer)
        cb[0].companions.append(ema)
        cb.insert(0, ema)
    if writer and tensorboard:
        cb.append(cbm._tensorboard_callback(run_dir, console))
    if cfg.train.lr_schedule == "plateau":
        cb.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss" if has_val else "loss",
                                                    factor=0.5, patience=3, min_lr=1e-5, verbose=0))
    return cb


def _fit(model, fit_kw: dict, val_data, callbacks: list, cfg, state: dict, run_dir: Path) -> None:
    """``model.fit`` from the state's epoch on (nothing when done or early-stopped); Ctrl-C and
    SIGTERM become :class:`TrainingInterrupted` with the last completed epoch checkpointed."""
    remaining = cfg.train.epochs - state["epoch"]
    if remaining <= 0 or (cfg.train.early_stopping and state["wait"] >= cfg.train.early_stopping):
        return
    from threadpoolctl import threadpool_limits

    # BLAS threads in the batch workers fight TensorFlow's for the cores (measured: log-mel
    # of a batch 2x slower with 2 OpenBLAS threads than with 1 while training runs)
    limits = threadpool_limits(limits=1, user_api="blas")
    old = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    try:
        try:
            model.fit(**fit_kw, validation_data=val_data, epochs=cfg.train.epochs, initial_epoch=state["epoch"],
                      callbacks=callbacks, verbose=0)
        except BaseException:  # stopped mid-epoch: checkpoint the last completed epoch, then say why
            with contextlib.suppress(Exception):
                for cb in callbacks:
                    if hasattr(cb, "flush"):
                        cb.flush(restore=True)
            raise
    except KeyboardInterrupt:
        raise TrainingInterrupted(
            f"training interrupted after epoch {state['epoch']}; the checkpoint is kept", path=run_dir,
            fix=f"resume with: auricle train --resume {run_dir}") from None
    finally:
        limits.restore_original_limits()
        signal.signal(signal.SIGTERM, old)


def _finish(model, cfg, data: TrainData, state: dict, run_dir: Path, *, has_val: bool, t_start: float,
            console) -> dict:
    """Keep the best (or last) epoch's weights, add test-time augmentation, save ``model.keras``,
    evaluate into ``metrics.json`` / ``report.md``, and remove the checkpoint."""
    from auricle.evaluation import evaluate_prepared

    from auricle.training.callbacks import BEST_WEIGHTS

    best = run_dir / "checkpoint" / BEST_WEIGHTS
    kept = state["epoch"]
    # with no validation split "best" would mean the best training accuracy on augmented
    # batches, which says nothing about generalization: keep the last epoch then
    keep = cfg.train.keep if has_val else "last"
    if keep == "best" and best.exists():
        with np.load(best) as z:
            model.set_weights([z[f"w{i}"] for i in range(len(z.files))])
        kept = state["best_epoch"]
    tta_frames = []
    if cfg.train.tta_shift_ms:  # saved and evaluated with its test-time augmentation built in
        from auricle.models.tta import shift_average, shift_frames

        tta_frames = shift_frames(cfg.train.tta_shift_ms, data.fcfg)
        model = shift_average(model, tta_frames)
    if cfg.data.silence_frames:  # trained per frame; the run's model decides per utterance
        from auricle.models.frames import decision_model

        model = decision_model(model, silence_class=cfg.data.silence_frames == "label")
    save_model(model, run_dir / "model.keras")
    if cfg.train.distribute != "none":  # evaluate off the strategy (Keras' predict under MirroredStrategy
        from auricle.models import load_model  # returns one copy of the outputs per replica)

        model = load_model(run_dir / "model.keras")
    cw, labels = data.class_weight, data.labels
    info = {"best_epoch": state["best_epoch"], "kept_epoch": kept, "keep": keep,
            "monitor": state["monitor"], "epochs_run": state["epoch"],
            "params": int(model.count_params()),
            "train_seconds": round(sum(h["seconds"] for h in state["history"]), 1),
            "wall_seconds": round(time.time() - t_start, 1), "counts": data.counts,
            "class_weight": None if cw is None else {labels[i]: w for i, w in cw.items()},
            "class_counts": data.class_counts,
            "skipped_files": [list(f) for f in data.prep.failures]}
    if tta_frames:
        info["tta_shift_frames"] = tta_frames
    if cfg.train.teacher:
        info["teacher"] = {"run": str(cfg.train.teacher), "weight": cfg.train.teacher_weight,
                           "temperature": cfg.train.teacher_temperature}
    if cfg.train.distribute != "none":
        info["distribute"] = {"strategy": cfg.train.distribute, **data.extra.get("distribute", {})}
    member = None
    if cfg.train.fuse:  # late fusion: a classic model on whole recordings joins every per-recording answer
        from auricle.fusion import fit_member

        member = fit_member(cfg.train.fuse, data.prep.splits["train"], labels, sr=int(data.fcfg.sr),
                            seed=cfg.train.seed, class_weight=cw, oversample=bool(cfg.train.oversample),
                            run_dir=run_dir, console=console)
        info["fusion"] = {k: member.settings[k] for k in ("member", "weight", "features", "seconds")}
    metrics = evaluate_prepared(model, data.prep, run_dir, cfg=cfg, info=info, console=console, member=member)
    shutil.rmtree(run_dir / "checkpoint", ignore_errors=True)
    return metrics


# --------------------------------------------------------------------------------------
# helpers


def _sigterm_to_interrupt(signum, frame):
    raise KeyboardInterrupt
