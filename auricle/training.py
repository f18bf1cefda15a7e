"""Config -> fit -> run directory.

The run directory is the unit of work::

    RUN/config.yaml       resolved configuration (re-runnable: auricle train --config RUN/config.yaml)
    RUN/labels.json       class names in model-output order
    RUN/features.json     the feature configuration (+ crop policy) inference must reproduce
    RUN/model.keras       the trained model (best validation epoch, or the last with train.keep: last)
    RUN/history.csv       per-epoch metrics
    RUN/checkpoint/       last completed epoch (model + optimizer + callback state) for --resume;
                          with train.ema the model there holds the averaged weights and
                          raw_weights.npz the raw ones
    RUN/epochs/           every epoch's weights, only with AURICLE_KEEP_EPOCH_WEIGHTS=1 (for
                          studies of epoch selection: experiments/epoch_selection.py)
    RUN/metrics.json, per_class.csv, confusion.png, curves.png, report.md   (see auricle.evaluation)
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np

from auricle.config import RunConfig
from auricle.errors import ConfigError, RunError

STATE_FILE = "state.json"


class TrainingInterrupted(RunError):
    """Training stopped by Ctrl-C / SIGTERM; the last completed epoch is checkpointed."""


# --------------------------------------------------------------------------------------
# run directory handling


def prepare_run_dir(run_dir: Path, *, overwrite: bool, resume: bool) -> None:
    if resume:
        if not (run_dir / "config.yaml").exists():
            raise RunError("no run to resume here (config.yaml missing)", path=run_dir,
                           fix="pass the run directory of an earlier `auricle train`")
        return
    if run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise RunError("run directory already exists", path=run_dir,
                           fix="choose another --out, pass --overwrite to replace it, or --resume to continue it")
        if not (run_dir / "config.yaml").exists():
            # never delete a folder we did not create
            raise RunError("refusing to overwrite a folder that is not an auricle run", path=run_dir,
                           fix="choose an empty or new output directory")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------
# pieces of the Keras setup


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
    ``lam ~ Beta(alpha, alpha)`` drawn per example and folded to ``max(lam, 1 - lam)`` so the
    first example dominates.  Returns new arrays; ``alpha <= 0`` returns the inputs."""
    if alpha <= 0 or len(y) < 2:
        return x, y, weights
    lam = rng.beta(alpha, alpha, len(y))
    lam = np.maximum(lam, 1.0 - lam)
    partner = rng.permutation(len(y))
    lx = lam.reshape((-1,) + (1,) * (x.ndim - 1)).astype(x.dtype)
    x = lx * x + (1 - lx) * x[partner]
    ly = lam[:, None].astype(y.dtype)
    y = ly * y + (1 - ly) * y[partner]
    if weights is not None:
        weights = (lam * weights + (1 - lam) * weights[partner]).astype(weights.dtype)
    return x, y, weights


def _batch(x, y, weights, alpha: float, rng) -> tuple:
    """A PyDataset item: ``(x, y)`` or ``(x, y, weights)``, mixed up first when ``alpha > 0``."""
    if alpha:
        x, y, weights = mixup(x, y, weights, alpha, rng)
    return (x, y) if weights is None else (x, y, weights)


def _batches_class():
    import keras

    class AugmentedBatches(keras.utils.PyDataset):
        """Waveforms -> augment -> features -> SpecAugment, one batch at a time, seeded per (epoch, batch).
        Without waveform transforms it starts from the cached features (``feats``)."""

        def __init__(self, waves, y_onehot, fcfg, chain, batch_size, seed, weights=None, workers=2, feats=None,
                     power=None, mixup=0.0):
            # threads, not processes: FFTs and BLAS release the GIL, and batches are a pure
            # function of (seed, epoch, index), so prefetching keeps training reproducible
            super().__init__(workers=max(1, int(workers)), use_multiprocessing=False, max_queue_size=8)
            self.waves, self.y, self.fcfg, self.chain = waves, y_onehot, fcfg, chain
            self.feats = feats  # with waves=None: cached features, feature-domain transforms only
            self.power = power  # (mel power, active rms, PowerAugmenter): augment without an STFT per batch
            self.bs, self.seed, self.weights, self.mixup = batch_size, seed, weights, float(mixup)
            self.epoch = 0
            self._order = self._perm()

        def _perm(self):
            return np.random.default_rng([self.seed, self.epoch, 7]).permutation(len(self.y))

        def __len__(self):
            return int(np.ceil(len(self.y) / self.bs))

        def __getitem__(self, i):
            from auricle.features import extract

            idx = np.sort(self._order[i * self.bs:(i + 1) * self.bs])
            rng = np.random.default_rng([self.seed, self.epoch, i])
            if self.power is not None:  # whole chain on cached mel power (features transforms included)
                S, rms, aug = self.power
                x = aug.batch(S, rms, idx, rng)
            else:
                if self.feats is not None:  # feature-domain transforms only: start from the cached features
                    x = np.array(self.feats[idx])
                else:
                    w = self.chain.apply_waveform(self.waves[idx], rng, sr=self.fcfg.sr)
                    x = extract(self.fcfg, w)
                x = self.chain.apply_features(x, rng, fcfg=self.fcfg)
            return _batch(x, self.y[idx], None if self.weights is None else self.weights[idx], self.mixup, rng)

        def on_epoch_end(self):
            self.epoch += 1
            self._order = self._perm()

    return AugmentedBatches


def _bucket_class():
    import keras

    class BucketBatches(keras.utils.PyDataset):
        """Variable-length features batched by similar length: rows sorted by valid frames,
        cut into batches, batch order shuffled per epoch, each batch cropped to its longest
        row (masked sequence models then skip the rest).  Seeded per (epoch, batch)."""

        def __init__(self, x, y_onehot, lengths, chain, batch_size, seed, weights=None, fcfg=None, mixup=0.0):
            super().__init__()
            self.mixup = float(mixup)
            self.x, self.y, self.lengths, self.chain = x, y_onehot, np.asarray(lengths), chain
            self.fcfg = fcfg
            self.bs, self.seed, self.weights = batch_size, seed, weights
            order = np.argsort(self.lengths, kind="stable")
            self.batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
            self.epoch = 0
            self._perm = self._shuffle()

        def _shuffle(self):
            return np.random.default_rng([self.seed, self.epoch, 11]).permutation(len(self.batches))

        def __len__(self):
            return len(self.batches)

        def __getitem__(self, i):
            idx = np.sort(self.batches[self._perm[i]])
            t = int(self.lengths[idx].max())
            x = np.array(self.x[idx, :t])
            rng = np.random.default_rng([self.seed, self.epoch, i])
            if self.chain is not None and self.chain.features:
                x = self.chain.apply_features(x, rng, fcfg=self.fcfg)
            return _batch(x, self.y[idx], None if self.weights is None else self.weights[idx], self.mixup, rng)

        def on_epoch_end(self):
            self.epoch += 1
            self._perm = self._shuffle()

    return BucketBatches


def _run_callback_class():
    import keras

    class RunCallback(keras.callbacks.Callback):
        """Checkpoint every epoch, track the best epoch, early-stop, print progress with ETA.

        One callback instead of ModelCheckpoint + EarlyStopping + CSVLogger so their state is
        saved together and restored exactly on --resume.
        """

        def __init__(self, run_dir: Path, cfg: RunConfig, state: dict, console, has_val: bool):
            super().__init__()
            self.run_dir, self.cfg, self.state, self.console = run_dir, cfg, state, console
            self.has_val = has_val
            self.ckpt = run_dir / "checkpoint"
            self.ckpt.mkdir(exist_ok=True)
            self.t0 = None

        def on_train_begin(self, logs=None):
            self.t0 = time.time()
            self.start_epoch = self.state["epoch"]

        def on_epoch_begin(self, epoch, logs=None):
            self.t_epoch = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            lr = self.model.optimizer.learning_rate
            logs["lr"] = float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))
            logs["epoch"] = epoch + 1
            logs["seconds"] = round(time.time() - self.t_epoch, 3)
            st = self.state
            st["history"].append(logs)
            monitor = self.cfg.train.monitor if self.has_val else "accuracy"
            if monitor not in logs:
                monitor = "val_loss" if "val_loss" in logs else "loss"
            value = logs[monitor]
            if st["best"] is None:
                better = True
            else:
                better = (value < st["best"]) if "loss" in monitor else (value > st["best"])
            if better:
                st["best"], st["best_epoch"], st["wait"] = value, epoch + 1, 0
                self.model.save_weights(str(self.ckpt / "best.weights.h5"))
            else:
                st["wait"] += 1
            st["monitor"] = monitor
            st["epoch"] = epoch + 1
            if os.environ.get("AURICLE_KEEP_EPOCH_WEIGHTS") == "1":
                (self.run_dir / "epochs").mkdir(exist_ok=True)
                self.model.save_weights(str(self.run_dir / "epochs" / f"epoch{epoch + 1:03d}.weights.h5"))
            # model + optimizer first, then the state that points at it (atomic renames)
            tmp = self.ckpt / "model.tmp.keras"
            self.model.save(str(tmp))
            os.replace(tmp, self.ckpt / "model.keras")
            _atomic_write(self.ckpt / STATE_FILE, json.dumps(st, indent=1))
            write_history(self.run_dir / "history.csv", st["history"])
            self._live_curves(epoch)
            done = epoch + 1 - self.start_epoch
            per = (time.time() - self.t0) / max(done, 1)
            eta = per * (self.cfg.train.epochs - epoch - 1)
            parts = [f"epoch {epoch + 1:>3}/{self.cfg.train.epochs}"]
            for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
                if k in logs:
                    parts.append(f"{k} {logs[k]:.4f}")
            parts.append(f"{per:.1f}s/epoch  ETA {_fmt_s(eta)}")
            if st["best_epoch"] == epoch + 1:
                parts.append("*best*")
            self.console.print("  ".join(parts))
            patience = self.cfg.train.early_stopping
            if patience and st["wait"] >= patience:
                self.console.print(f"early stopping: no {monitor} improvement for {patience} epochs")
                self.model.stop_training = True

        def _live_curves(self, epoch):
            """curves.png redrawn as training goes (watchable mid-run); at most ~20% of the
            training time goes to it: skipped while the last drawing is recent."""
            now = time.time()
            last = epoch + 1 >= self.cfg.train.epochs
            if not last and now - getattr(self, "_plot_at", 0.0) < 4 * getattr(self, "_plot_cost", 0.0):
                return
            try:
                from auricle.evaluation import plot_curves

                plot_curves(self.state["history"], self.run_dir / "curves.png", best_epoch=self.state["best_epoch"])
            except Exception as exc:  # a plot must never stop training
                self.console.print(f"[yellow]curves.png not updated: {exc}[/yellow]")
            self._plot_at = time.time()
            self._plot_cost = self._plot_at - now

    return RunCallback


def _have_tensorboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def _tensorboard_callback(run_dir: Path, console):
    """Keras's TensorBoard callback writing into ``RUN/tensorboard`` (``tensorboard --logdir RUN``)."""
    import keras

    if not _have_tensorboard():
        raise ConfigError("--tensorboard needs the tensorboard package (tf.summary writes through it)",
                          fix="pip install tensorboard, or train without --tensorboard (curves.png is redrawn every epoch)")
    log_dir = run_dir / "tensorboard"
    console.print(f"TensorBoard logs: {log_dir}  (view with: tensorboard --logdir {run_dir})")
    return keras.callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=0, write_graph=False,
                                       update_freq="epoch")


def _weight_average_class():
    import keras

    class WeightAverage(keras.callbacks.Callback):
        """Exponential moving average of the weights (``train.ema``), which validation sees and the
        run keeps.

        Written here rather than taken from Keras' ``use_ema`` optimizers: those average only the
        trainable weights (batch-norm statistics stay those of the raw weights), and their swap
        callback does not survive ``--resume``.  This one averages every float weight, batch-norm
        statistics included (as timm's ModelEma does), works on any backend, and keeps the raw
        weights in ``checkpoint/raw_weights.npz`` so a resumed run goes on exactly.

        The average holds the EMA weights in the model from the end of each epoch (validation,
        best-epoch checkpoint, the saved model) to the start of the next, when the raw weights go
        back in.  The decay ramps up as ``min(decay, (1 + step) / (10 + step))`` so the first steps'
        random weights are soon forgotten.
        """

        def __init__(self, decay: float, ckpt_dir: Path, *, resume: bool = False):
            super().__init__()
            self.decay, self.path = float(decay), Path(ckpt_dir) / "raw_weights.npz"
            self.resume, self.ema_in_model = resume, False

        def on_train_begin(self, logs=None):
            self.vars = [v for v in self.model.weights if "float" in str(v.dtype)]
            if self.resume and self.path.exists():  # resumed: the checkpoint's model holds the EMA weights, the file the raw ones
                z = np.load(self.path)
                self.avg = [z[f"w{i}"] for i in range(len(self.vars))]
                self.step = int(z["step"])
                self.ema_in_model = True
            else:
                self.avg = [np.array(v.numpy()) for v in self.vars]
                self.step = 0

        def _swap(self):
            _ = self.model  # on JAX this writes the trainer's state into the variables first
            for i, v in enumerate(self.vars):
                raw = np.array(v.numpy())
                v.assign(self.avg[i])
                self.avg[i] = raw
            self.ema_in_model = not self.ema_in_model

        def on_epoch_begin(self, epoch, logs=None):
            if self.ema_in_model:
                self._swap()

        def on_train_batch_end(self, batch, logs=None):
            _ = self.model  # on JAX: sync the trainer's state into the variables before reading them
            self.step += 1
            d = min(self.decay, (1.0 + self.step) / (10.0 + self.step))
            for a, v in zip(self.avg, self.vars):
                a *= d
                a += (1.0 - d) * np.asarray(v.numpy(), dtype=a.dtype)

        def on_test_begin(self, logs=None):  # validation inside fit
            if not self.ema_in_model:
                self._swap()

        def on_epoch_end(self, epoch, logs=None):  # before RunCallback: it saves what is in the model
            if not self.ema_in_model:
                self._swap()
            tmp = self.path.with_name("raw_weights.tmp.npz")
            np.savez(tmp, step=self.step, **{f"w{i}": a for i, a in enumerate(self.avg)})
            os.replace(tmp, self.path)

    return WeightAverage


def write_history(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    keys = ["epoch"] + sorted({k for r in rows for k in r} - {"epoch"})
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
    _atomic_write(path, "\n".join(lines) + "\n")


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


# --------------------------------------------------------------------------------------
# the entry point


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
    if not resume and cfg.train.teacher:  # --overwrite would delete the teacher before it taught anything
        t = Path(cfg.train.teacher).resolve()
        if t == run_dir.resolve() or run_dir.resolve() in t.parents:
            raise ConfigError("train.teacher is this run's own output folder", path=t,
                              fix="write the student to another folder (--out)")
    from auricle.models.ensemble import train_separately, trains_separately

    if (trains_separately(cfg) if not resume else
            (run_dir / "config.yaml").exists() and trains_separately(RunConfig.load(run_dir / "config.yaml"))):
        return train_separately(cfg, run_dir, overwrite=overwrite, resume=resume, console=console, progress=progress)
    if not resume:
        from auricle.models import get_model

        if get_model(cfg.model["name"]).kind == "classic":
            from auricle.classic import train_classic

            return train_classic(cfg, run_dir, overwrite=overwrite, console=console, progress=progress)
    elif (run_dir / "model.joblib").exists():
        raise RunError("a classic run has nothing to resume", path=run_dir, fix="retrain it or use `auricle evaluate`")
    from auricle import data as data_mod
    from auricle.augment import build_chain

    if not resume:
        cfg.validate()
        _check_model_options(cfg)
        build_chain(cfg.augment).check(cfg.feature_config())  # fail before any work
    prepare_run_dir(run_dir, overwrite=overwrite, resume=resume)
    dataset = None
    if resume:
        cfg = RunConfig.load(run_dir / "config.yaml")
        if (run_dir / "model.keras").exists() and not (run_dir / "checkpoint" / STATE_FILE).exists():
            raise RunError("this run already finished", path=run_dir, fix="nothing to resume; use `auricle evaluate`")
    else:
        dataset = resolve_auto_settings(cfg, console=console, progress=progress)
        cfg.save(run_dir / "config.yaml")

    import keras

    from auricle.evaluation import evaluate_prepared
    from auricle.models import get_model

    keras.utils.set_random_seed(cfg.train.seed)
    chain = build_chain(cfg.augment)
    fcfg = cfg.feature_config()
    variable = bool(cfg.data.variable_length)
    use_waves = bool(chain.waveform) and not cfg.data.window_hop and not variable

    t_start = time.time()
    console.print(f"[bold]auricle train[/bold] -> {run_dir}")
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
    _atomic_write(run_dir / "labels.json", json.dumps(labels, indent=1))
    features = {**fcfg.to_dict(), "crop": cfg.data.crop, "window_hop": cfg.data.window_hop,
                "silence": cfg.silence(), "variable_length": variable}
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
                      None if tr.waves is None else tr.waves[order])
        class_counts["train (oversampled)"] = dict(zip(labels, np.bincount(tr.y, minlength=n_cls).tolist()))
        console.print(f"oversampled the training split to {len(tr.y)} examples")
    y_tr = keras.utils.to_categorical(tr.y, n_cls).astype("float32")
    cw = class_weights(cfg.train.class_weight, tr.y, labels)
    steps = int(np.ceil(len(tr.y) / cfg.train.batch_size))

    state_path = run_dir / "checkpoint" / STATE_FILE
    if resume and state_path.exists():
        state = json.loads(state_path.read_text())
        from auricle.models import load_model

        model = load_model(run_dir / "checkpoint" / "model.keras")
        console.print(f"resuming after epoch {state['epoch']} of {cfg.train.epochs}")
    else:
        state = {"epoch": 0, "best": None, "best_epoch": 0, "wait": 0, "history": [], "monitor": None}
        spec = get_model(cfg.model["name"])
        options = dict(cfg.model.get("options") or {})
        in_shape = tr.x.shape[1:]
        if variable:
            options["masking"] = True
            in_shape = (None, tr.x.shape[2])
        model = spec.build(in_shape, n_cls, **options)
        model.compile(optimizer=make_optimizer(cfg.train, steps), loss=make_loss(cfg.train), metrics=["accuracy"])
    console.print(f"model: {cfg.model['name']} ({model.count_params():,} parameters)")

    cb = [_run_callback_class()(run_dir, cfg, state, console, has_val=va is not None and len(va.y) > 0)]
    if cfg.train.ema:  # first: the model holds the averaged weights when RunCallback saves them
        cb.insert(0, _weight_average_class()(cfg.train.ema, run_dir / "checkpoint", resume=state["epoch"] > 0))
    if tensorboard or (tensorboard is None and os.environ.get("AURICLE_TENSORBOARD") == "1"):
        cb.append(_tensorboard_callback(run_dir, console))
    if cfg.train.lr_schedule == "plateau":
        cb.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss" if va is not None else "loss",
                                                    factor=0.5, patience=3, min_lr=1e-5, verbose=0))
    val_data = (va.x, keras.utils.to_categorical(va.y, n_cls)) if va is not None and len(va.y) else None

    weights = None if cw is None else np.array([cw[int(c)] for c in tr.y], dtype="float32")
    if variable:
        fit_kw = dict(x=_bucket_class()(tr.x, y_tr, tr.lengths, chain, cfg.train.batch_size, cfg.train.seed, weights,
                                        fcfg=fcfg, mixup=cfg.train.mixup))
    elif use_waves:
        power = _power_cache(cfg, chain, fcfg, tr.waves, console)
        if power:  # the mel-power cache replaces the audio: free it (Speech Commands: ~5 GB of waveforms)
            prep.splits["train"].waves = None
            tr.waves = None
        # a power-domain batch costs ~3 ms: one prefetch thread keeps up, and a second one only
        # contends with the training step for the cores (demo, 2 cores: 1.26x vs 1.41x slow-down)
        train_data = _batches_class()(None if power else tr.waves, y_tr, fcfg, chain, cfg.train.batch_size,
                                      cfg.train.seed, weights, workers=1 if power else cfg.train.workers,
                                      power=power, mixup=cfg.train.mixup)
        fit_kw = dict(x=train_data)
    elif chain.features or cfg.train.mixup:  # SpecAugment / mixup without waveform transforms (or windowed long files)
        train_data = _batches_class()(None, y_tr, fcfg, chain, cfg.train.batch_size, cfg.train.seed, weights,
                                      workers=cfg.train.workers, feats=tr.x, mixup=cfg.train.mixup)
        fit_kw = dict(x=train_data)
    else:
        if teacher is not None:  # fixed inputs: the teacher's targets are fixed too, computed once
            from auricle.distillation import soft_targets
            from auricle.evaluation import predict_probs

            y_tr = soft_targets(y_tr, predict_probs(teacher, tr.x), weight=cfg.train.teacher_weight,
                                temperature=cfg.train.teacher_temperature)
        fit_kw = dict(x=tr.x, y=y_tr, batch_size=cfg.train.batch_size, shuffle=True, class_weight=cw)
    if teacher is not None and "y" not in fit_kw:
        from auricle.distillation import teacher_batches_class

        fit_kw["x"] = teacher_batches_class()(fit_kw["x"], teacher, weight=cfg.train.teacher_weight,
                                              temperature=cfg.train.teacher_temperature)

    remaining = cfg.train.epochs - state["epoch"]
    if remaining > 0 and not (cfg.train.early_stopping and state["wait"] >= cfg.train.early_stopping):
        from threadpoolctl import threadpool_limits

        # BLAS threads in the batch workers fight TensorFlow's for the cores (measured: log-mel
        # of a batch 2x slower with 2 OpenBLAS threads than with 1 while training runs)
        limits = threadpool_limits(limits=1, user_api="blas")
        old = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        try:
            model.fit(**fit_kw, validation_data=val_data, epochs=cfg.train.epochs, initial_epoch=state["epoch"],
                      callbacks=cb, verbose=0)
        except KeyboardInterrupt:
            raise TrainingInterrupted(
                f"training interrupted after epoch {state['epoch']}; the checkpoint is kept", path=run_dir,
                fix=f"resume with: auricle train --resume {run_dir}") from None
        finally:
            limits.restore_original_limits()
            signal.signal(signal.SIGTERM, old)

    best = run_dir / "checkpoint" / "best.weights.h5"
    kept = state["epoch"]
    # with no validation split "best" would mean the best training accuracy on augmented
    # batches, which says nothing about generalization: keep the last epoch then
    keep = cfg.train.keep if val_data is not None else "last"
    if keep == "best" and best.exists():
        model.load_weights(str(best))
        kept = state["best_epoch"]
    tta_frames = []
    if cfg.train.tta_shift_ms:  # saved and evaluated with its test-time augmentation built in
        from auricle.models.tta import shift_average, shift_frames

        tta_frames = shift_frames(cfg.train.tta_shift_ms, fcfg)
        model = shift_average(model, tta_frames)
    tmp = run_dir / "model.tmp.keras"
    model.save(str(tmp))
    os.replace(tmp, run_dir / "model.keras")
    train_seconds = round(sum(h["seconds"] for h in state["history"]), 1)
    info = {"best_epoch": state["best_epoch"], "kept_epoch": kept, "keep": keep,
            "monitor": state["monitor"], "epochs_run": state["epoch"],
            "params": int(model.count_params()), "train_seconds": train_seconds,
            "wall_seconds": round(time.time() - t_start, 1), "counts": counts,
            "class_weight": None if cw is None else {labels[i]: w for i, w in cw.items()},
            "class_counts": class_counts,
            "skipped_files": [list(f) for f in prep.failures]}
    if tta_frames:
        info["tta_shift_frames"] = tta_frames
    if cfg.train.teacher:
        info["teacher"] = {"run": str(cfg.train.teacher), "weight": cfg.train.teacher_weight,
                           "temperature": cfg.train.teacher_temperature}
    metrics = evaluate_prepared(model, prep, run_dir, cfg=cfg, info=info, console=console)
    shutil.rmtree(run_dir / "checkpoint", ignore_errors=True)
    return metrics


def resolve_auto_settings(cfg, *, console, progress: bool = True):
    """Settle ``data.band_limit: auto`` and ``data.noise_floor: auto`` into ``cfg.features`` and
    ``data.window_hop: auto`` into ``cfg.data`` (:func:`auricle.data.window_hop`).
    Returns the indexed dataset when it had to be read (``prepare`` reuses it), else None."""
    from auricle import data as data_mod

    if cfg.data.band_limit != "auto" and cfg.data.noise_floor != "auto" and cfg.data.window_hop != "auto":
        return None
    fcfg0 = cfg.feature_config()
    dataset = data_mod.load_dataset(cfg.data, progress=progress, cache_dir=cfg.train.cache_dir,
                                    sr=fcfg0.sr, duration=fcfg0.n_samples / fcfg0.sr)
    data_mod.band_limit(cfg, dataset.items, console=console)
    data_mod.noise_floor(cfg, [it for it in dataset.items if it.split == "train"], console=console)
    data_mod.window_hop(cfg, [it for it in dataset.items if it.split == "train"], console=console)
    return dataset


def _power_cache(cfg, chain, fcfg, waves, console):
    """``(mel power, rms, PowerAugmenter)`` of the training clips when the chain runs in the
    power domain (``train.augment_domain``: auto/power), else None (augment the waveforms)."""
    from auricle.augment.power import PowerAugmenter, power_reason

    domain = cfg.train.augment_domain
    if domain == "waveform":
        return None
    why = power_reason(chain, fcfg)
    if why:
        if domain == "power":
            raise ConfigError(f"augmentation cannot run in the power domain: {why}",
                              fix="set train.augment_domain: auto or waveform")
        console.print(f"augmentation on the waveform ({why})")
        return None
    t0 = time.time()
    aug = PowerAugmenter(chain, fcfg)
    S, rms = aug.cache(waves)
    console.print(f"augmentation in the power domain: mel power of {S.shape[1]} clips x {S.shape[0]} framing phase(s) "
                  f"cached in {time.time() - t0:.1f}s (train.augment_domain: waveform to augment the audio itself)")
    return S, rms, aug


def _check_model_options(cfg) -> None:
    from auricle.errors import ModelError
    from auricle.models import get_model

    spec = get_model(cfg.model["name"])
    unknown = set(cfg.model.get("options") or {}) - set(spec.defaults)
    if unknown:
        raise ModelError(f"unknown option(s) {sorted(unknown)} for model '{spec.name}'",
                         fix=f"valid options: {', '.join(sorted(spec.defaults))}")
    if cfg.data.variable_length and "masking" not in spec.defaults:
        from auricle.models import list_models

        maskers = [m.name for m in list_models() if "masking" in m.defaults]
        raise ModelError(f"data.variable_length needs a model that masks padding; '{spec.name}' does not",
                         fix=f"use one of: {', '.join(maskers)}")


def _sigterm_to_interrupt(signum, frame):
    raise KeyboardInterrupt
