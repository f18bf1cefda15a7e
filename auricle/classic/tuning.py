"""Hyperparameter search for Keras runs (``auricle tune``).

Why Optuna (and not KerasTuner, scikit-optimize or a hand-written grid):

* **pruning** - a trial reports its validation accuracy after every epoch
  (``trial.report`` / ``trial.should_prune`` from a small Keras callback here) and a median
  pruner stops trials that trail the others at the same epoch, so a search of N trials costs
  much less than N full trainings;
* **TPE** - the default Tree-structured Parzen Estimator handles the mixed space here (log-scale
  floats, integers, categoricals, conditional n_mfcc) and beats random search after a few trials;
* a **maintained**, widely used library with parameter-importance estimates built in;
* **no TensorFlow dependency** - it is pure Python (SQLAlchemy/alembic for optional storage),
  so it never pins or fights the TF/Keras versions auricle needs (KerasTuner depends on them).

Each trial is a short training with its own loop (:func:`auricle.data.prepare` with the
trial's feature settings, the registered model, :func:`auricle.training.make_optimizer` /
``make_loss``), on the training split, scored on the validation split only (best epoch);
the test split is never looked at.  Trials train on the cached features, without the recipe's
augmentation, so they stay short.  The output folder holds::

    DIR/best.yaml          the complete config with the best settings (train it with auricle train --config)
    DIR/trials.csv         every trial: state, objective, seconds, parameters
    DIR/trials/NNN/        params.json and history.csv of trial NNN
    DIR/search.png         objective per trial + best so far (+ parameter importances)
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from auricle.config import RunConfig
from auricle.errors import ConfigError, DatasetError

#: The searchable settings: name -> (config key, distribution).  ``feature`` ones apply to
#: log_mel/mfcc features, ``model`` ones to models that have that option.
SPACE = {
    "learning_rate": ("train.learning_rate", ("float", 1e-4, 1e-2, True)),
    "batch_size": ("train.batch_size", ("cat", [16, 32, 64, 128])),
    "optimizer": ("train.optimizer", ("cat", ["adam", "adamw", "sgd", "rmsprop"])),
    "l2": ("model.options.l2", ("float", 1e-6, 1e-2, True)),
    "dropout": ("model.options.dropout", ("float", 0.0, 0.5, False)),
    "width": ("model.options.width", ("cat", [0.5, 1.0, 1.5, 2.0])),
    "n_mels": ("features.n_mels", ("cat", [32, 40, 64, 80])),
    "n_mfcc": ("features.n_mfcc", ("cat", [13, 20, 30, 40])),
}


def search_space(cfg: RunConfig, names=None) -> dict:
    """The subset of :data:`SPACE` that applies to ``cfg`` (its model's options and feature kind)."""
    from auricle.models import get_model

    spec = get_model(cfg.model["name"])
    if spec.kind != "keras":
        raise ConfigError(f"auricle tune searches Keras models; '{spec.name}' is a {spec.kind} model",
                          fix="pick a Keras model in the config (see `auricle models`)")
    kind = cfg.feature_config().kind
    names = list(SPACE) if names is None else list(names)
    unknown = sorted(set(names) - set(SPACE))
    if unknown:
        raise ConfigError(f"unknown tune parameter(s) {unknown}", fix=f"choose from {', '.join(SPACE)}")
    out = {}
    for n in names:
        key, dist = SPACE[n]
        if key.startswith("model.options.") and key.split(".")[-1] not in spec.defaults:
            continue
        if n == "n_mels" and kind not in ("log_mel", "mfcc"):
            continue
        if n == "n_mfcc" and kind != "mfcc":
            continue
        out[n] = (key, dist)
    if not out:
        raise ConfigError("nothing to tune for this model and feature kind", fix=f"parameters: {', '.join(SPACE)}")
    return out


def _set(d: dict, dotted: str, value) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = value


def _features_dict(cfg: RunConfig) -> dict:
    """``cfg.features`` as explicit FeatureConfig fields (so n_mels/n_mfcc override cleanly)."""
    return cfg.feature_config().to_dict()


def sample(trial, space: dict, base_features: dict) -> dict:
    """Draw one set of settings; returns ``{dotted key: value}``."""
    out = {}
    for name, (key, dist) in space.items():
        if dist[0] == "float":
            v = trial.suggest_float(name, dist[1], dist[2], log=dist[3])
        else:
            v = trial.suggest_categorical(name, dist[1])
        out[key] = v
    if base_features.get("kind") == "mfcc" and ("features.n_mfcc" in out or "features.n_mels" in out):
        n_mels = out.get("features.n_mels", base_features.get("n_mels"))  # keep n_mfcc <= n_mels
        out["features.n_mfcc"] = min(out.get("features.n_mfcc", base_features.get("n_mfcc")), n_mels)
    return out


def apply(cfg: RunConfig, values: dict, *, epochs: int | None = None) -> RunConfig:
    d = cfg.to_dict()
    d["features"] = _features_dict(cfg)
    for key, v in values.items():
        _set(d, key, v)
    if epochs is not None:
        d["train"]["epochs"] = int(epochs)
    return RunConfig.from_dict(d)


def _pruning_callback(trial, epochs: int):
    import keras

    class Pruning(keras.callbacks.Callback):
        """Report val_accuracy to the trial each epoch; stop training when the pruner says so
        (not after the last epoch: nothing is saved then, and the trial's result is complete)."""

        def __init__(self):
            super().__init__()
            self.best, self.pruned, self.history = float("-inf"), False, []

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            logs["epoch"] = epoch + 1
            self.history.append(logs)
            v = logs.get("val_accuracy", float("nan"))
            if np.isfinite(v):
                self.best = max(self.best, v)
                trial.report(v, epoch)
                if epoch + 1 < epochs and trial.should_prune():
                    self.pruned = True
                    self.model.stop_training = True

    return Pruning()


def run_trial(trial, cfg: RunConfig, space: dict, *, epochs: int, dataset, trial_dir: Path) -> float:
    """One short training; returns the best validation accuracy (raises TrialPruned when pruned)."""
    import keras
    import optuna

    from auricle.data import prepare
    from auricle.models import get_model
    from auricle.training import class_weights, make_loss, make_optimizer, oversample_indices, write_history

    values = sample(trial, space, _features_dict(cfg))
    tcfg = apply(cfg, values, epochs=epochs)
    trial_dir.mkdir(parents=True, exist_ok=True)
    (trial_dir / "params.json").write_text(json.dumps({"trial": trial.number, "values": values}, indent=1))
    keras.backend.clear_session()
    keras.utils.set_random_seed(tcfg.train.seed)
    prep, _ = prepare(tcfg, progress=False, dataset=dataset)
    va = prep.splits.get("val")
    if va is None or len(va.y) == 0:
        raise DatasetError("tuning needs a validation split", fix="set data.val > 0 or data.val_groups")
    tr = prep.splits["train"]
    x, y = tr.x, tr.y
    if tcfg.train.oversample:
        order = oversample_indices(y, seed=tcfg.train.seed)
        x, y = x[order], y[order]
    n_cls = len(prep.labels)
    steps = int(np.ceil(len(y) / tcfg.train.batch_size))
    model = get_model(tcfg.model["name"]).build(x.shape[1:], n_cls, **(tcfg.model.get("options") or {}))
    model.compile(optimizer=make_optimizer(tcfg.train, steps), loss=make_loss(tcfg.train), metrics=["accuracy"])
    cb = _pruning_callback(trial, epochs)
    model.fit(x, keras.utils.to_categorical(y, n_cls).astype("float32"), batch_size=tcfg.train.batch_size,
              epochs=epochs, shuffle=True, class_weight=class_weights(tcfg.train.class_weight, y, prep.labels),
              validation_data=(va.x, keras.utils.to_categorical(va.y, n_cls).astype("float32")),
              callbacks=[cb], verbose=0)
    write_history(trial_dir / "history.csv", cb.history)
    trial.set_user_attr("epochs_run", len(cb.history))
    trial.set_user_attr("params", int(model.count_params()))
    if cb.pruned:
        raise optuna.TrialPruned(f"pruned after epoch {len(cb.history)}")
    if not np.isfinite(cb.best):
        return 0.0  # diverged (NaN loss): the worst score, not an error
    return float(cb.best)


def tune(cfg: RunConfig, out_dir, *, trials: int = 20, epochs: int | None = None, params=None,
         timeout: float | None = None, console=None, overwrite: bool = False) -> dict:
    """Search ``cfg``'s hyperparameters with Optuna; write ``best.yaml``, ``trials.csv``, ``search.png``.

    Parameters
    ----------
    cfg : RunConfig
        The starting configuration (its data, model and everything not searched stay fixed).
    out_dir : path
        Output folder (must be new or empty unless ``overwrite``).
    trials : int
        Number of trials.
    epochs : int, optional
        Epochs per trial (default: ``min(cfg.train.epochs, 10)``); best.yaml keeps ``cfg``'s epochs.
    params : list of str, optional
        Which of :data:`SPACE` to search (default all that apply).
    timeout : float, optional
        Stop starting new trials after this many seconds.

    Returns
    -------
    dict
        ``best_value``, ``best_params``, ``best_config`` (path), trial counts.
    """
    import optuna
    from rich.console import Console

    from auricle.data import load_dataset

    console = console or Console()
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    epochs = int(epochs or min(cfg.train.epochs, 10))
    if epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, got {epochs}")
    space = search_space(cfg, params)
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        from auricle.errors import RunError

        raise RunError("output folder is not empty", path=out_dir, fix="choose a new --out or pass --overwrite")
    (out_dir / "trials").mkdir(parents=True, exist_ok=True)

    fc = cfg.feature_config()
    dataset = load_dataset(cfg.data, progress=False, cache_dir=cfg.train.cache_dir, sr=fc.sr,
                           duration=fc.n_samples / fc.sr)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # tf.function retracing notes: a new model per trial
    study = optuna.create_study(
        direction="maximize", study_name=cfg.name,
        sampler=optuna.samplers.TPESampler(seed=cfg.train.seed, n_startup_trials=min(10, max(2, trials // 3))),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    console.print(f"[bold]auricle tune[/bold] {cfg.model['name']}: {trials} trials x {epochs} epochs over "
                  f"{', '.join(space)} -> {out_dir}")

    def objective(trial):
        t0 = time.time()
        try:
            return run_trial(trial, cfg, space, epochs=epochs, dataset=dataset,
                             trial_dir=out_dir / "trials" / f"{trial.number:03d}")
        finally:
            trial.set_user_attr("seconds", round(time.time() - t0, 2))

    def report(study, trial):
        state = trial.state.name.lower()
        val = f"{trial.value:.4f}" if trial.value is not None else "-"
        try:
            best = f"{study.best_value:.4f}"
        except ValueError:
            best = "-"
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items())
        console.print(f"trial {trial.number:>3}  {state:<8} val_acc {val}  best {best}  "
                      f"({trial.user_attrs.get('seconds', 0):.1f}s)  {shown}")

    study.optimize(objective, n_trials=trials, timeout=timeout, callbacks=[report], catch=())
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    _write_trials_csv(study, out_dir / "trials.csv")
    importances = {}
    if len(complete) >= 3:
        try:
            importances = {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
        except Exception:  # too few distinct values etc.: importances are a bonus
            importances = {}
    plot_search(study, out_dir / "search.png", importances)
    if not complete:
        raise ConfigError("no trial completed (all pruned or failed)", fix="run more trials or more epochs")
    best = study.best_trial
    best_values = sample(optuna.trial.FixedTrial(best.params), space, _features_dict(cfg))
    best_cfg = apply(cfg, best_values)  # the config's own epochs: a full training
    best_cfg.name = f"{cfg.name}-tuned"
    best_cfg.save(out_dir / "best.yaml")
    result = {"best_value": float(best.value), "best_trial": best.number, "best_params": best.params,
              "best_config": str(out_dir / "best.yaml"), "trials": len(study.trials), "complete": len(complete),
              "pruned": len(pruned), "epochs_per_trial": epochs, "importances": importances}
    (out_dir / "study.json").write_text(json.dumps(result, indent=1))
    console.print(f"best val_accuracy {best.value:.4f} (trial {best.number}); {len(pruned)} pruned; "
                  f"config: {out_dir / 'best.yaml'}  plot: {out_dir / 'search.png'}")
    return result


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _write_trials_csv(study, path: Path) -> None:
    names = sorted({k for t in study.trials for k in t.params})
    rows = [",".join(["trial", "state", "value", "epochs_run", "seconds"] + names)]
    for t in study.trials:
        rows.append(",".join([str(t.number), t.state.name.lower(), "" if t.value is None else f"{t.value:.6f}",
                              str(t.user_attrs.get("epochs_run", "")), str(t.user_attrs.get("seconds", ""))]
                             + [str(t.params.get(k, "")) for k in names]))
    path.write_text("\n".join(rows) + "\n")


def plot_search(study, path: Path, importances: dict | None = None) -> None:
    """Objective per trial (pruned trials at their last reported value) with the best so far;
    parameter importances beside it when there are any."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna

    S = optuna.trial.TrialState
    fig, axes = plt.subplots(1, 2 if importances else 1, figsize=(11 if importances else 6.5, 4), squeeze=False)
    ax = axes[0, 0]
    best, xs, ys = float("-inf"), [], []
    for t in study.trials:
        if t.state == S.COMPLETE:
            ax.scatter(t.number, t.value, color="C0", zorder=3)
            best = max(best, t.value)
        elif t.state == S.PRUNED and t.intermediate_values:
            last = t.intermediate_values[max(t.intermediate_values)]
            ax.scatter(t.number, last, color="C3", marker="x", zorder=3)
        if np.isfinite(best):
            xs.append(t.number)
            ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color="C1", label="best so far")
    ax.scatter([], [], color="C0", label="complete")
    ax.scatter([], [], color="C3", marker="x", label="pruned (last value)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel("best validation accuracy")
    ax.set_title("search")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if importances:
        ax = axes[0, 1]
        names = list(importances)[::-1]
        ax.barh(names, [importances[n] for n in names], color="C2")
        ax.set_title("parameter importance (fANOVA)")
        ax.set_xlabel("share of objective variance")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
