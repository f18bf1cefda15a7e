"""Keras callbacks of a training run: :class:`RunCallback` (checkpoint, best epoch, early stop,
progress, live curves), :class:`WeightAverage` (``train.ema``) and the optional TensorBoard logger.

This module imports Keras at the top; :mod:`auricle.training.fit` imports it only when a model
is about to be trained.
"""
from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import keras
import numpy as np

from auricle.config import RunConfig
from auricle.errors import ConfigError
from auricle.training.rundir import STATE_FILE, _atomic_write, save_model, write_history

#: curves.png is redrawn only once this many drawing costs have passed since the last drawing (~5% of the time)
PLOT_BUDGET = 20


class RunCallback(keras.callbacks.Callback):
    """Checkpoint every epoch, track the best epoch, early-stop, print progress with ETA.

    One callback instead of ModelCheckpoint + EarlyStopping + CSVLogger so their state is
    saved together and restored exactly on --resume.
    """

    def __init__(self, run_dir: Path, cfg: RunConfig, state: dict, console, has_val: bool, writer: bool = True):
        super().__init__()
        self.run_dir, self.cfg, self.state, self.console = run_dir, cfg, state, console
        self.has_val = has_val
        # writer=False: a multi-worker job's non-chief worker keeps the same state (its logs are
        # the all-reduced ones, so early stopping agrees) but writes and prints nothing
        self.writer = writer
        self.ckpt = run_dir / "checkpoint"
        if writer:
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
        else:
            st["wait"] += 1
        st["monitor"] = monitor
        st["epoch"] = epoch + 1
        if self.writer:
            self._write_checkpoint(epoch, better)
            self._report(epoch, logs)
        patience = self.cfg.train.early_stopping
        if patience and st["wait"] >= patience:
            if self.writer:
                self.console.print(f"early stopping: no {monitor} improvement for {patience} epochs")
            self.model.stop_training = True

    def _write_checkpoint(self, epoch: int, better: bool) -> None:
        """best.weights.h5 (when better), checkpoint/model.keras + state.json, history.csv, curves.png."""
        st = self.state
        if better:
            self.model.save_weights(str(self.ckpt / "best.weights.h5"))
        if os.environ.get("AURICLE_KEEP_EPOCH_WEIGHTS") == "1":
            (self.run_dir / "epochs").mkdir(exist_ok=True)
            self.model.save_weights(str(self.run_dir / "epochs" / f"epoch{epoch + 1:03d}.weights.h5"))
        # model + optimizer first, then the state that points at it (atomic renames)
        save_model(self.model, self.ckpt / "model.keras")
        _atomic_write(self.ckpt / STATE_FILE, json.dumps(st, indent=1))
        write_history(self.run_dir / "history.csv", st["history"])
        self._live_curves(epoch)

    def _report(self, epoch: int, logs: dict) -> None:
        """One line per epoch: metrics, seconds per epoch, ETA, *best*."""
        st = self.state
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

    def _live_curves(self, epoch):
        """curves.png redrawn as training goes (watchable mid-run); at most ~5% of the
        training time goes to it: skipped while the last drawing is recent (on the demo a drawing
        costs ~0.3 s against 2.6 s an epoch, so it is redrawn every few epochs, not every one)."""
        now = time.time()
        last = epoch + 1 >= self.cfg.train.epochs
        if not last and now - getattr(self, "_plot_at", 0.0) < PLOT_BUDGET * getattr(self, "_plot_cost", 0.0):
            return
        try:
            from auricle.evaluation import plot_curves

            plot_curves(self.state["history"], self.run_dir / "curves.png", best_epoch=self.state["best_epoch"])
        except Exception as exc:  # a plot must never stop training
            self.console.print(f"[yellow]curves.png not updated: {exc}[/yellow]")
        self._plot_at = time.time()
        self._plot_cost = self._plot_at - now


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

    def __init__(self, decay: float, ckpt_dir: Path, *, resume: bool = False, writer: bool = True):
        super().__init__()
        self.decay, self.path = float(decay), Path(ckpt_dir) / "raw_weights.npz"
        self.resume, self.ema_in_model, self.writer = resume, False, writer

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
        if not self.writer:
            return
        tmp = self.path.with_name("raw_weights.tmp.npz")
        np.savez(tmp, step=self.step, **{f"w{i}": a for i, a in enumerate(self.avg)})
        os.replace(tmp, self.path)


def _have_tensorboard() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def _tensorboard_callback(run_dir: Path, console):
    """Keras's TensorBoard callback writing into ``RUN/tensorboard`` (``tensorboard --logdir RUN``)."""
    if not _have_tensorboard():
        raise ConfigError("--tensorboard needs the tensorboard package (tf.summary writes through it)",
                          fix="pip install tensorboard, or train without --tensorboard (curves.png is redrawn every epoch)")
    log_dir = run_dir / "tensorboard"
    console.print(f"TensorBoard logs: {log_dir}  (view with: tensorboard --logdir {run_dir})")
    return keras.callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=0, write_graph=False,
                                       update_freq="epoch")


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
