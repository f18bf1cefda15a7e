"""Train a separator: config -> random-chunk fit -> a run directory like any auricle run.

The run directory holds ``config.yaml`` (everything needed to reproduce it), ``separation.json``
(the preset the separator works with: what ``auricle separate`` reads), ``model.keras`` (the
best validation epoch), ``history.csv`` and ``curves.png`` (rewritten after every epoch, so a
run can be watched while it trains), ``checkpoint.keras`` + ``state.json`` for ``--resume``,
and, after the test songs are separated, ``separation_metrics.{json,md}``, ``sdr.png``,
``spectrograms.png`` and ``report.md``.

Training follows Spleeter: Adam on the L1 distance between the estimated and the true stem
magnitudes, batches of random patches; here each patch's stems are remixed from different
songs with random gains and channel swaps (:class:`auricle.separation.stems.ChunkSampler`),
the standard augmentation of Open-Unmix and Demucs.

This module imports Keras at the top: import it lazily (the CLI does).
"""
from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path

import keras
import numpy as np
import yaml

from auricle.errors import ConfigError, RunError
from auricle.evaluation import plot_curves
from auricle.separation.config import SeparationConfig, demo_root, load_songs  # noqa: F401 (public here too)
from auricle.separation.presets import SeparationPreset
from auricle.separation.separate import SEPARATION_META, Separator, _KerasNet
from auricle.separation.stft import stft
from auricle.separation.unet import build_separator
from auricle.runs import atomic_write as _atomic_write
from auricle.training import prepare_run_dir, write_history


def patch_samples(p: SeparationPreset, frames: int) -> int:
    """Samples whose STFT has exactly ``frames`` frames."""
    return (frames - 1) * p.hop


def to_examples(p: SeparationPreset, mix: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Waveform batches -> network input ``(B, T, bins, C)`` and target ``(B, T, bins, C, S)``."""
    X = np.abs(stft(mix, n_fft=p.n_fft, hop=p.hop)[..., : p.bins])            # (B, C, T, F)
    Y = np.abs(stft(sources, n_fft=p.n_fft, hop=p.hop)[..., : p.bins])        # (B, S, C, T, F)
    return X.transpose(0, 2, 3, 1), Y.transpose(0, 3, 4, 2, 1)


class PatchBatches(keras.utils.PyDataset):
    """``steps`` random remixed batches per epoch from a :class:`ChunkSampler`."""

    def __init__(self, sampler, preset: SeparationPreset, steps: int):
        super().__init__(workers=1, use_multiprocessing=False)
        self.sampler = sampler
        self.preset = preset
        self.steps = int(steps)

    def __len__(self):
        return self.steps

    def __getitem__(self, i):
        mix, src = self.sampler.batch()
        return to_examples(self.preset, mix, src)


class EpochWriter(keras.callbacks.Callback):
    """After every epoch: history.csv, curves.png, the best model and a resumable checkpoint."""

    def __init__(self, run_dir: Path, history: list[dict], best: float, console=None, epochs: int = 0):
        super().__init__()
        self.run_dir = run_dir
        self.history = history
        self.best = best
        self.console = console
        self.epochs = epochs
        self.t0 = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"epoch": epoch + 1, "loss": float(logs.get("loss", math.nan)),
               "val_loss": float(logs.get("val_loss", math.nan)),
               "seconds": round(time.time() - self.t0, 1)}
        self.t0 = time.time()
        self.history.append(row)
        write_history(self.run_dir / "history.csv", self.history)
        best_epoch = None
        if row["val_loss"] < self.best:
            self.best = row["val_loss"]
            self.model.save(self.run_dir / "model.keras")
        if self.history:
            best_epoch = min(self.history, key=lambda r: r["val_loss"])["epoch"]
        _plot_loss(self.history, self.run_dir / "curves.png", best_epoch)
        self.model.save(self.run_dir / "checkpoint.keras")
        _atomic_write(self.run_dir / "state.json", json.dumps({"epoch": epoch + 1, "best": self.best}))
        if self.console is not None:
            self.console.print(f"epoch {epoch + 1}/{self.epochs}: loss {row['loss']:.4f} "
                               f"val_loss {row['val_loss']:.4f} ({row['seconds']:.0f} s)"
                               + ("  [green]best[/green]" if best_epoch == epoch + 1 else ""))


def _plot_loss(history, path, best_epoch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ep, [h["loss"] for h in history], marker=".", label="train (remixed patches)")
    ax.plot(ep, [h["val_loss"] for h in history], marker=".", label="validation songs")
    if best_epoch:
        ax.axvline(best_epoch, color="grey", ls="--", lw=1, label=f"best epoch {best_epoch}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("L1 on stem magnitudes")
    ax.set_title("separator training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)




def _validation_set(cache, preset, frames, n, seed):
    from auricle.separation.stems import ChunkSampler

    s = ChunkSampler(cache, chunk=patch_samples(preset, frames), batch_size=n, remix=0.0,
                     gain=(1.0, 1.0), channel_swap=0.0, seed=seed + 1)
    mix, src = s.batch()
    return to_examples(preset, mix, src)


def train_separator(cfg: SeparationConfig, run_dir, *, overwrite: bool = False, resume: bool = False,
                    console=None, evaluate: bool = True) -> Path:
    """Train a separator into ``run_dir`` and evaluate it on the test songs.

    Parameters
    ----------
    cfg : SeparationConfig
        The settings (ignored with ``resume``: the run's own config.yaml is used).
    run_dir : path
        The run directory to create (or continue with ``resume``).
    overwrite, resume : bool
        Replace an earlier run / continue one from its last finished epoch.
    evaluate : bool
        Separate the test songs and write the metrics and report when training ends.

    Returns
    -------
    Path
        The run directory.
    """
    from auricle.separation.stems import ChunkSampler

    run_dir = Path(run_dir)
    prepare_run_dir(run_dir, overwrite=overwrite, resume=resume)
    if resume:
        cfg = SeparationConfig.from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()))
        if not (run_dir / "checkpoint.keras").exists():
            raise RunError("no finished epoch to resume from", path=run_dir,
                           fix="start it again with --overwrite")
    cfg.validate()
    preset = cfg.resolved_preset()
    _atomic_write(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    _atomic_write(run_dir / SEPARATION_META, json.dumps(
        {"task": "separation", "preset": preset.to_dict(), "mask": cfg.mask}, indent=1))

    caches = load_songs(cfg, preset)
    if "train" not in caches or "valid" not in caches:
        raise ConfigError("separation training needs train and validation songs",
                          path=cfg.data, fix="give at least 3 songs (train/valid/test)")
    frames = cfg.train_frames or preset.frames
    keras.utils.set_random_seed(cfg.seed)
    history: list[dict] = []
    initial_epoch, best = 0, math.inf
    if resume:
        from auricle.runs import read_history as _read_history

        state = json.loads((run_dir / "state.json").read_text())
        initial_epoch, best = int(state["epoch"]), float(state["best"])
        history = [{**r, "epoch": int(r["epoch"])} for r in _read_history(run_dir / "history.csv")
                   if r["epoch"] <= initial_epoch]
    # a resumed run draws new patches (seeded by the epoch it resumes at), not the first epochs' again
    sampler = ChunkSampler(caches["train"], chunk=patch_samples(preset, frames), batch_size=cfg.batch_size,
                           remix=cfg.remix, gain=tuple(cfg.gain), channel_swap=cfg.channel_swap,
                           seed=cfg.seed + 1000 * initial_epoch)
    xv, yv = _validation_set(caches["valid"], preset, frames, cfg.valid_patches, cfg.seed)
    if resume:
        model = keras.saving.load_model(str(run_dir / "checkpoint.keras"))
    else:
        model = build_separator(preset.model, frames=None, bins=preset.bins, channels=preset.channels,
                                n_stems=len(preset.stems), **preset.model_options)
        model.compile(optimizer=keras.optimizers.Adam(cfg.lr), loss="mae")
    if console is not None:
        console.print(f"separator [bold]{preset.name}[/bold] ({preset.model}, {model.count_params():,} parameters), "
                      f"stems {', '.join(preset.stems)}; {len(caches['train'])} train / {len(caches['valid'])} valid / "
                      f"{len(caches.get('test', []))} test songs; patches of {frames} frames "
                      f"({patch_samples(preset, frames) / preset.sr:.1f} s)")
    writer = EpochWriter(run_dir, history, best, console=console, epochs=cfg.epochs)
    old = signal.signal(signal.SIGTERM, _sigterm) if _main_thread() else None
    try:
        if initial_epoch < cfg.epochs:
            model.fit(PatchBatches(sampler, preset, cfg.steps_per_epoch), epochs=cfg.epochs,
                      initial_epoch=initial_epoch, validation_data=(xv, yv), batch_size=cfg.batch_size,
                      callbacks=[writer], verbose=0)
    except KeyboardInterrupt:
        done = len(writer.history)
        raise RunError(f"training interrupted after epoch {done}", path=run_dir,
                       fix=f"continue with: auricle separate-train --resume {run_dir}") from None
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    if evaluate and "test" in caches:
        from auricle.separation.evaluate import evaluate_caches

        sep = Separator(preset, _KerasNet(keras.saving.load_model(str(run_dir / "model.keras"))), mask=cfg.mask)
        evaluate_caches(sep, caches["test"], run_dir, history=writer.history, cfg=cfg, console=console,
                        max_seconds=cfg.eval_seconds)
    return run_dir


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _sigterm(signum, frame):
    raise KeyboardInterrupt
