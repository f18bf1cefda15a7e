"""Detection on long audio: front end + step model -> posteriors -> smoothing, threshold, refractory -> events.

:class:`StreamingClassifier` turns audio packets into posteriors (one row per model step);
:class:`Detector` turns posteriors into :class:`Event` s:

1. *smoothing*: each class's posterior is averaged over the last ``smooth`` seconds of steps;
2. *threshold*: an event of class ``c`` starts when its smoothed score reaches ``threshold``
   (classes in ``ignore`` - silence, unknown, background - never fire) and lasts while the score
   stays above ``release * threshold``;
3. *refractory period*: after an event starts, no new event (of any class) may start for
   ``refractory`` seconds.

An event's ``start`` is when the smoothed score crossed the threshold, ``end`` when it fell
back (or the stream ended), ``score`` its maximum smoothed score, ``peak`` the time of that
maximum.  Times are stream seconds of the step outputs (the centre time of the last frame a
step consumed).

Long streams and recurrent state: an RNN trained on 1-s clips starts every clip from a zero
state; run for an hour without resets its state drifts away from anything it saw in training.
``StreamingClassifier(reset_every=...)`` therefore runs two copies of an incremental step model
offset by half the period, resets each one every ``reset_every`` frames (default: the training
clip for recurrent step models), and reports the copy that has seen more audio (between a half
and a whole period): each output is then the offline model's answer on a recent
0.5-1 clip-long stretch.  Window-mode and convolutional step models need no reset.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from auricle.errors import ConfigError

__all__ = ["DEFAULT_IGNORE", "Detector", "DetectorConfig", "Event", "StreamingClassifier",
           "events_csv", "plot_scores"]

#: Labels that never fire an event (the usual background classes).
DEFAULT_IGNORE = ("_silence_", "_unknown_", "_background_noise_", "_background_", "silence", "unknown",
                  "background", "noise", "_noise_")


@dataclass
class Event:
    label: str
    start: float
    end: float
    score: float
    peak: float

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class DetectorConfig:
    threshold: float = 0.7
    smooth: float = 0.2        # seconds of steps averaged
    refractory: float = 1.0    # seconds after an event start with no new event
    release: float = 0.8       # an event ends when the score drops below release * threshold
    ignore: tuple = DEFAULT_IGNORE

    def __post_init__(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {self.threshold}", fix="use e.g. 0.7")
        if self.smooth < 0 or self.refractory < 0:
            raise ConfigError("smooth and refractory must be >= 0 seconds")
        if not 0.0 < self.release <= 1.0:
            raise ConfigError(f"release must be in (0, 1], got {self.release}")


class Detector:
    """Posterior rows in, events out (see the module docs)."""

    def __init__(self, labels, step_seconds: float, cfg: DetectorConfig | None = None):
        self.labels = list(labels)
        self.cfg = cfg or DetectorConfig()
        self.step_seconds = float(step_seconds)
        self.win = max(1, int(round(self.cfg.smooth / self.step_seconds)))
        self.active = np.array([lab not in set(self.cfg.ignore) for lab in self.labels])
        self.reset()

    def reset(self) -> None:
        C = len(self.labels)
        self._ring = np.zeros((self.win, C))
        self._n = 0
        self._sum = np.zeros(C)
        self._open: Event | None = None
        self._open_idx = -1
        self._last_start = -np.inf
        self.events: list[Event] = []

    def smooth(self, probs: np.ndarray) -> np.ndarray:
        i = self._n % self.win
        self._sum += probs - self._ring[i]
        self._ring[i] = probs
        self._n += 1
        return self._sum / min(self._n, self.win)

    def update(self, t: float, probs) -> tuple[np.ndarray, list[Event]]:
        """One step's posteriors at time ``t``; returns (smoothed scores, events that ended now)."""
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        if not np.isfinite(probs).all():
            probs = np.nan_to_num(probs, nan=0.0, posinf=1.0, neginf=0.0)
        s = self.smooth(probs)
        done = []
        cfg = self.cfg
        if self._open is not None:
            c = self._open_idx
            if s[c] >= cfg.release * cfg.threshold:
                self._open.end = t
                if s[c] > self._open.score:
                    self._open.score, self._open.peak = float(s[c]), t
            else:
                done.append(self._open)
                self._open = None
        if self._open is None and t - self._last_start >= cfg.refractory:
            masked = np.where(self.active, s, -1.0)
            c = int(masked.argmax())
            if masked[c] >= cfg.threshold:
                self._open = Event(self.labels[c], t, t, float(s[c]), t)
                self._open_idx = c
                self._last_start = t
                self.events.append(self._open)
        return s, done

    def close(self) -> list[Event]:
        """End of stream: close an open event; all events."""
        self._open = None
        return self.events


class StreamingClassifier:
    """Audio packets -> ``(times, posteriors)`` with a front end and one or two step runners.

    Parameters
    ----------
    frontend : StreamingFrontend
    make_runner : callable
        Returns a fresh :class:`~auricle.streaming.convert.StepRunner` (called once or twice).
    reset_every : int, optional
        Frames between state resets of each of two staggered runners (see the module docs);
        ``None`` runs one runner that is never reset.
    """

    def __init__(self, frontend, make_runner, *, reset_every: int | None = None):
        self.fe = frontend
        self.runners = [make_runner()] + ([make_runner()] if reset_every else [])
        self.k = self.runners[0].k
        self.period = None
        if reset_every:
            self.period = max(self.k, int(reset_every) // self.k * self.k)
        self.reset()

    def reset(self) -> None:
        self.fe.reset()
        for r in self.runners:
            r.reset()
        half = (self.period // 2) // self.k * self.k if self.period else 0
        self.ages = [0, self.period - half] if self.period else [0]
        self._pending = np.zeros((0, self.fe.bins), dtype=np.float32)
        self.frames = 0

    @property
    def step_seconds(self) -> float:
        return self.k * self.fe.hop / self.fe.sr

    def _frames(self, frames) -> tuple[np.ndarray, np.ndarray]:
        if len(frames) == 0:
            return np.zeros(0), np.zeros((0, 0))
        if self._pending.size:
            frames = np.concatenate([self._pending, frames])
        n = len(frames) // self.k
        self._pending = frames[n * self.k:]
        times, rows = [], []
        for i in range(n):
            chunk = frames[i * self.k:(i + 1) * self.k]
            best, best_age = None, -1
            for j, r in enumerate(self.runners):
                if self.period and self.ages[j] >= self.period:
                    r.reset()
                    self.ages[j] = 0
                p = r.push(chunk)
                self.ages[j] += self.k
                if self.ages[j] > best_age:
                    best, best_age = p[-1], self.ages[j]
            self.frames += self.k
            times.append((self.frames - 1) * self.fe.hop / self.fe.sr)
            rows.append(best)
        if not rows:
            return np.zeros(0), np.zeros((0, 0))
        return np.asarray(times), np.stack(rows)

    def push(self, packet, sr: int | None = None):
        """Feed a packet; returns ``(times (m,), probs (m, C))`` of the steps it completed."""
        return self._frames(self.fe.push(packet, sr=sr))

    def flush(self):
        """End of the stream: the last frames (zero-padded to a whole step)."""
        frames = self.fe.flush()
        t, p = self._frames(frames)
        if len(self._pending):
            pad = np.zeros((self.k - len(self._pending), self.fe.bins), dtype=np.float32)
            t2, p2 = self._frames(pad)
            if len(t2):
                t = np.concatenate([t, t2]) if len(t) else t2
                p = np.concatenate([p, p2]) if len(p) else p2
        return t, p


def run_stream(classifier: StreamingClassifier, detector: Detector, y: np.ndarray, *, packet: int,
               timer=None) -> dict:
    """Feed a whole signal packet by packet; times, posteriors, smoothed scores, events, cost."""
    import time

    times, probs, smooth = [], [], []
    cost = []
    for i in range(0, len(y), packet):
        t0 = time.perf_counter()
        t, p = classifier.push(y[i:i + packet])
        for tj, pj in zip(t, p):
            s, _ = detector.update(float(tj), pj)
            smooth.append(s)
        cost.append(time.perf_counter() - t0)
        if len(t):
            times.append(t)
            probs.append(p)
    t, p = classifier.flush()
    for tj, pj in zip(t, p):
        s, _ = detector.update(float(tj), pj)
        smooth.append(s)
    if len(t):
        times.append(t)
        probs.append(p)
    detector.close()
    C = len(detector.labels)
    cost = np.asarray(cost)
    return {"times": np.concatenate(times) if times else np.zeros(0),
            "probs": np.concatenate(probs) if probs else np.zeros((0, C)),
            "scores": np.stack(smooth) if smooth else np.zeros((0, C)),
            "events": list(detector.events),
            "ms_per_packet": float(cost.mean() * 1e3) if len(cost) else 0.0,
            "ms_per_packet_p99": float(np.percentile(cost, 99) * 1e3) if len(cost) else 0.0,
            "packets": int(len(cost))}


def events_csv(events) -> str:
    lines = ["label,start,end,score,peak"]
    lines += [f"{e.label},{e.start:.3f},{e.end:.3f},{e.score:.4f},{e.peak:.3f}" for e in events]
    return "\n".join(lines) + "\n"


def events_json(events, **extra) -> str:
    return json.dumps({**extra, "events": [e.to_dict() for e in events]}, indent=1)


def plot_scores(path, y: np.ndarray, sr: int, times, scores, labels, *, threshold: float, events=(),
                ignore=DEFAULT_IGNORE, title: str | None = None, truth=()) -> None:
    """PNG: the waveform with events shaded, and the smoothed score trace of each class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(12, 5.5), sharex=True, gridspec_kw={"height_ratios": [1, 1.6]})
    n = len(y)
    step = max(1, n // 20000)
    tw = np.arange(0, n, step) / sr
    ax0.plot(tw, y[::step], lw=0.4, color="0.3")
    ax0.set_ylabel("waveform")
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    colors = {lab: cmap(i % cmap.N) for i, lab in enumerate(labels)}
    for e in events:
        for ax in (ax0, ax1):
            ax.axvspan(e.start, max(e.end, e.start + 0.05), color=colors[e.label], alpha=0.25)
        ax0.text(e.start, ax0.get_ylim()[1] * 0.85, e.label, fontsize=8, color=colors[e.label])
    for (lab, t0, t1) in truth:
        ax0.plot([t0, t1], [ax0.get_ylim()[0] * 0.9] * 2, color=colors.get(lab, "k"), lw=3)
    scores = np.asarray(scores)
    for i, lab in enumerate(labels):
        if lab in ignore or not len(scores):
            continue
        ax1.plot(times, scores[:, i], lw=1, color=colors[lab], label=lab)
    ax1.axhline(threshold, color="k", ls="--", lw=0.8)
    ax1.set_ylim(0, 1.02)
    ax1.set_ylabel("smoothed posterior")
    ax1.set_xlabel("time (s)")
    ax1.legend(loc="upper right", fontsize=7, ncol=min(5, max(1, len(labels))))
    if title:
        ax0.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# opening a run or an export for streaming


def _recurrent(state_names) -> bool:
    return any(n.endswith(("_h", "_c")) for n in state_names)


def open_stream(source, *, runtime: str = "keras", mode: str = "auto", reset_every="auto",
                reset_seconds: float | None = None, input_sr: int | None = None, approximate: bool = True,
                threads: int = 1, frames_per_step: int | None = None):
    """A :class:`StreamingClassifier` for a run directory or a ``--streaming`` export.

    ``runtime="keras"`` converts the run's ``model.keras`` (imports TensorFlow);
    ``"onnx"`` / ``"tflite"`` load an export written by ``auricle export RUN --format ...
    --streaming`` (the export folder, or a run whose ``export/<format>-streaming`` holds one)
    with onnxruntime / LiteRT only.  ``reset_every``: frames between the staggered state resets,
    ``"auto"`` (a training clip for recurrent step models, else never) or None (never);
    ``reset_seconds`` overrides it in seconds (0 = never).  Returns ``(classifier, labels, info)``.
    """
    from pathlib import Path

    from auricle.errors import RunError
    from auricle.streaming.frontend import StreamingFrontend

    source = Path(source)
    if runtime == "keras":
        from auricle.inference import load_run
        from auricle.streaming.convert import make_step_model

        if (source / "meta.json").exists() and not (source / "model.keras").exists():
            raise ConfigError("this is an exported model; it runs with --runtime onnx or tflite", path=source)
        run = load_run(source)
        step = make_step_model(run.model, mode=mode, frames_per_step=frames_per_step)
        make_runner, fc, labels = step.runner, run.feature_config, run.labels
        smeta = step.meta()
    elif runtime in ("onnx", "tflite"):
        from auricle.export import load_exported

        path = source
        if not (source / "meta.json").exists():
            cands = [source / "export" / f"{f}-streaming" for f in
                     (("onnx",) if runtime == "onnx" else ("tflite", "tflite-int8"))]
            found = [c for c in cands if (c / "meta.json").exists()]
            if not found:
                raise RunError(f"no {runtime} streaming export found", path=source,
                               fix=f"run `auricle export {source} --format {runtime} --streaming` first")
            path = found[0]
        m = load_exported(path, runtime, threads=threads)
        if m.streaming is None:
            raise RunError("this export holds the offline model; streaming needs the step model", path=path,
                           fix=f"run `auricle export RUN --format {runtime} --streaming`")
        make_runner, fc, labels, smeta = m.step_runner, m.feature_config, m.labels, m.streaming
    else:
        raise ConfigError(f"unknown runtime {runtime!r}", fix="use keras, onnx or tflite")
    if reset_seconds is not None:
        reset_every = int(round(reset_seconds * fc.sr / fc.resolved_hop_length)) if reset_seconds > 0 else None
    elif reset_every == "auto":
        reset_every = smeta["n_frames"] if (smeta["mode"] == "incremental" and _recurrent(smeta["state_names"])) else None
    fe = StreamingFrontend(fc, input_sr=input_sr, approximate=approximate)
    clf = StreamingClassifier(fe, make_runner, reset_every=reset_every)
    info = {"runtime": runtime, "mode": smeta["mode"], "frames_per_step": smeta["frames_per_step"],
            "reset_every_frames": clf.period, "features_exact": fe.exact,
            "features_note": fe.approximation, "model_note": smeta.get("reason", "")}
    return clf, labels, info
