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
#: the checkpoint is written only once this many writing costs have passed since the last one (~5% of the time)
CHECKPOINT_BUDGET = 20
#: the best epoch's weights in ``checkpoint/`` (``np.savez`` of ``model.get_weights()``: w0, w1, ...)
BEST_WEIGHTS = "best.weights.npz"


class RunCallback(keras.callbacks.Callback):
    """Checkpoint, track the best epoch, early-stop, print progress with ETA.

    One callback instead of ModelCheckpoint + EarlyStopping + CSVLogger so their state is
    saved together and restored exactly on --resume.

    Every epoch ends with a snapshot in memory (weights, optimizer variables, state: a few
    milliseconds); the checkpoint on disk (``checkpoint/model.keras`` with the optimizer,
    ``state.json``, ``best.weights.npz``) is written from it when training ends or stops for any
    reason (:meth:`flush`, called by :func:`auricle.training.fit._fit`), and meanwhile at most
    ~5% of the training time goes to writing it (:data:`CHECKPOINT_BUDGET`): a long epoch is
    written every epoch, a one-second epoch every few (the demo wrote 0.6 s a checkpoint against
    1 s of training an epoch).  A Ctrl-C or SIGTERM therefore resumes from the last *completed*
    epoch; only a hard kill (SIGKILL, power loss) can fall back a few epochs.
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
        self._snap = None         # (weights, optimizer variables, state json) at the last epoch's end
        self._best = None         # the best epoch's weights, not yet on disk
        self._written_epoch = state["epoch"]
        self._saved_at, self._save_cost = time.time(), 0.0
        self.companions = []      # callbacks whose write() belongs to the checkpoint (WeightAverage)

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
            if better:
                self._best = self.model.get_weights()
            self._snap = (self.model.get_weights(), [np.array(v.numpy()) for v in self.model.optimizer.variables],
                          json.dumps(st, indent=1))
            write_history(self.run_dir / "history.csv", st["history"])
            if os.environ.get("AURICLE_KEEP_EPOCH_WEIGHTS") == "1":
                (self.run_dir / "epochs").mkdir(exist_ok=True)
                self.model.save_weights(str(self.run_dir / "epochs" / f"epoch{epoch + 1:03d}.weights.h5"))
            if epoch + 1 >= self.cfg.train.epochs or time.time() - self._saved_at >= CHECKPOINT_BUDGET * self._save_cost:
                self._write_checkpoint()
            self._live_curves(epoch)
            self._report(epoch, logs)
        patience = self.cfg.train.early_stopping
        if patience and st["wait"] >= patience:
            if self.writer:
                self.console.print(f"early stopping: no {monitor} improvement for {patience} epochs")
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.flush()

    def flush(self, *, restore: bool = False) -> None:
        """Write the last snapshot to disk unless it is there already.  ``restore=True`` (training
        stopped mid-epoch) first puts the snapshot's weights and optimizer state back in the model."""
        if not self.writer or self._snap is None:
            return
        if restore:
            weights, opt, _ = self._snap
            self.model.set_weights(weights)
            for v, a in zip(self.model.optimizer.variables, opt):
                v.assign(a)
        if json.loads(self._snap[2])["epoch"] != self._written_epoch:
            self._write_checkpoint()

    def _write_checkpoint(self) -> None:
        """best.weights.npz (when a better epoch came), checkpoint/model.keras + state.json, from the
        snapshot: the model holds the snapshot's weights (the end of the epoch just finished, or
        restored by :meth:`flush`)."""
        t0 = time.time()
        state_json = self._snap[2]
        epoch = json.loads(state_json)["epoch"]
        if self._best is not None:
            tmp = self.ckpt / "best.weights.tmp.npz"
            np.savez(tmp, **{f"w{i}": w for i, w in enumerate(self._best)})
            os.replace(tmp, self.ckpt / BEST_WEIGHTS)
            self._best = None
        for c in self.companions:  # WeightAverage's raw weights
            c.write()
        # model + optimizer first, then the state that points at it (atomic renames)
        save_model(self.model, self.ckpt / "model.keras")
        _atomic_write(self.ckpt / STATE_FILE, state_json)
        self._written_epoch = epoch
        self._saved_at = time.time()
        self._save_cost = self._saved_at - t0

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

    def on_epoch_end(self, epoch, logs=None):  # before RunCallback: it snapshots what is in the model
        if not self.ema_in_model:
            self._swap()
        if self.writer:  # the raw weights as of this epoch's end; written with RunCallback's checkpoint
            self._snap = (self.step, [a.copy() for a in self.avg])

    def write(self) -> None:
        """``checkpoint/raw_weights.npz`` from the last epoch's snapshot (RunCallback calls it when it
        writes the checkpoint, so the two always describe the same epoch)."""
        if not self.writer or getattr(self, "_snap", None) is None:
            return
        step, raw = self._snap
        tmp = self.path.with_name("raw_weights.tmp.npz")
        np.savez(tmp, step=step, **{f"w{i}": a for i, a in enumerate(raw)})
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
