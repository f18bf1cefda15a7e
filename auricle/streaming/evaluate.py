"""How good is a detector: long test streams with keywords at known times, FR / FA-per-hour curves.

:func:`synthetic_stream` places test-split keywords (trimmed to the spoken part) at known times
in background noise; :func:`evaluate_detection` streams it (or a user recording with a label
file) through the run's step model once, then sweeps the detection threshold over the stored
posteriors (:func:`events_from_scores` - the vectorised twin of
:class:`~auricle.streaming.detector.Detector`) and reports, per threshold, the false-reject rate
and the false accepts per hour.

Matching: a keyword placed at ``[t0, t1]`` is *detected* by the first event with its label whose
start lies in ``[t0, t1 + tolerance]`` (default tolerance: the model's clip length, since a
window model can only be sure once the word is inside its window); every other event is a
false accept.
"""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np

from auricle.errors import AuricleError, ConfigError, DatasetError

__all__ = ["events_from_scores", "evaluate_detection", "match_events", "read_label_file", "synthetic_stream"]


# ----------------------------------------------------------------------------------------------
# streams


def pink_noise(n: int, rng) -> np.ndarray:
    """Unit-RMS pink (1/f) noise of ``n`` samples (spectral shaping of white noise)."""
    import scipy.fft

    out = np.empty(n, dtype=np.float32)
    block = 1 << 20
    for s in range(0, n, block):
        m = min(block, n - s)
        X = scipy.fft.rfft(rng.standard_normal(m))
        f = np.arange(len(X), dtype=np.float64)
        f[0] = 1.0
        X /= np.sqrt(f)
        y = scipy.fft.irfft(X, n=m)
        out[s:s + m] = (y / (y.std() + 1e-12)).astype(np.float32)
    return out


def _trim(y: np.ndarray, rel_db: float = -40.0) -> np.ndarray:
    """The part of a clip above ``rel_db`` of its peak (the spoken word of a demo clip)."""
    a = np.abs(y)
    if not a.size or a.max() <= 0:
        return y[:0]
    idx = np.nonzero(a >= a.max() * 10 ** (rel_db / 20))[0]
    return y[idx[0]: idx[-1] + 1]


def _noise_source(noise, sr: int, n: int, rng) -> np.ndarray:
    if noise is None:
        return pink_noise(n, rng)
    from auricle.audio import AUDIO_EXTENSIONS, load

    p = Path(noise)
    files = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS) if p.is_dir() else [p]
    if not files:
        raise DatasetError("no noise audio found", path=p, fix="pass a noise file or a folder of them")
    parts, total = [], 0
    while total < n:
        y = load(files[int(rng.integers(len(files)))], sr=sr)
        if y.size == 0 or not np.any(y):
            continue
        y = y / (y.std() + 1e-12)
        parts.append(y.astype(np.float32))
        total += len(y)
    return np.concatenate(parts)[:n]


def synthetic_stream(keywords, *, sr: int, hours: float, per_minute: float = 10.0, snr_db: float = 20.0,
                     noise_level_db: float = -40.0, noise=None, seed: int = 0, min_gap: float = 1.5):
    """A long stream of keyword clips at known times in noise.

    Parameters
    ----------
    keywords : list of (label, samples)
        Clips to place (e.g. the test split); each is trimmed to its non-silent part.
    hours : float
        Stream length.
    per_minute : float
        Mean keyword rate; gaps are uniform in [0.5, 1.5] x the mean gap (at least ``min_gap`` s).
    snr_db : float
        Keyword RMS over noise RMS, in dB.
    noise_level_db : float
        Noise RMS in dBFS.

    Returns
    -------
    (y, truth)
        ``y`` float32 samples and ``truth`` a list of ``(label, start_s, end_s)``.
    """
    if not keywords:
        raise DatasetError("no keyword clips to place in the stream")
    if hours <= 0 or per_minute <= 0:
        raise ConfigError("hours and per_minute must be > 0")
    rng = np.random.default_rng(seed)
    n = int(round(hours * 3600 * sr))
    noise_rms = 10 ** (noise_level_db / 20)
    y = _noise_source(noise, sr, n, rng) * np.float32(noise_rms)
    words = [(lab, _trim(np.asarray(w, dtype=np.float32))) for lab, w in keywords]
    words = [(lab, w) for lab, w in words if len(w) > 0.05 * sr]
    if not words:
        raise DatasetError("every keyword clip is silent")
    gap = 60.0 / per_minute
    truth = []
    t = max(min_gap, gap * rng.uniform(0.5, 1.5))
    order = rng.permutation(len(words))
    i = 0
    while True:
        lab, w = words[order[i % len(order)]]
        i += 1
        s = int(t * sr)
        if s + len(w) >= n - sr:
            break
        gain = noise_rms * 10 ** (snr_db / 20) / (np.sqrt(np.mean(w.astype(np.float64) ** 2)) + 1e-12)
        y[s:s + len(w)] += (w * gain).astype(np.float32)
        truth.append((lab, s / sr, (s + len(w)) / sr))
        t = (s + len(w)) / sr + max(min_gap, gap * rng.uniform(0.5, 1.5))
    np.clip(y, -1.0, 1.0, out=y)
    return y, truth


def test_keywords(run_cfg, *, sr: int, labels, ignore=()):
    """(label, samples) of the run's test split (falls back to val if there is no test split)."""
    from auricle.audio import load
    from auricle.data import load_dataset

    ds = load_dataset(run_cfg.data, progress=False)
    items = [it for it in ds.items if it.split == "test"] or [it for it in ds.items if it.split == "val"]
    out = []
    for it in items:
        if it.label not in labels or it.label in ignore:
            continue
        try:
            out.append((it.label, load(it.path, sr=sr)))
        except AuricleError:
            continue
    if not out:
        raise DatasetError("the run's dataset has no test clips of its labels", fix="pass --recording and --labels")
    return out


def read_label_file(path) -> list[tuple[str, float, float]]:
    """``label,start,end`` rows (CSV or TSV, header optional; Audacity label tracks work too)."""
    p = Path(path)
    if not p.exists():
        raise AuricleError("label file not found", path=p)
    text = p.read_text()
    first = text.splitlines()[0] if text.strip() else ""
    delim = "\t" if "\t" in first else ","
    rows = []
    for r in csv.reader(text.splitlines(), delimiter=delim):
        if not r or not "".join(r).strip():
            continue
        try:
            a, b = float(r[1]), float(r[2])
            lab = r[0].strip()
        except (ValueError, IndexError):
            try:  # Audacity: start, end, label
                a, b, lab = float(r[0]), float(r[1]), r[2].strip()
            except (ValueError, IndexError):
                if rows:
                    raise AuricleError(f"cannot read label row {r}", path=p,
                                       fix="use label,start,end in seconds") from None
                continue  # a header
        rows.append((lab, a, b))
    if not rows:
        raise AuricleError("no labels in the label file", path=p, fix="use label,start,end rows in seconds")
    return rows


# ----------------------------------------------------------------------------------------------
# events from stored scores, matching


def smooth_scores(probs: np.ndarray, win: int) -> np.ndarray:
    """Causal moving average over ``win`` steps (the first steps average what there is)."""
    c = np.cumsum(np.asarray(probs, dtype=np.float64), axis=0)
    out = c.copy()
    out[win:] = c[win:] - c[:-win]
    denom = np.minimum(np.arange(1, len(c) + 1), win)[:, None]
    return out / denom


def events_from_scores(times, scores, labels, *, threshold: float, refractory: float, release: float = 0.8,
                       ignore=()):
    """The events :class:`Detector` fires on these smoothed scores (same rules, vectorised)."""
    from auricle.streaming.detector import Event

    scores = np.asarray(scores)
    active = np.array([lab not in set(ignore) for lab in labels])
    masked = np.where(active[None, :], scores, -1.0)
    best = masked.argmax(axis=1)
    bestv = masked[np.arange(len(masked)), best]
    cand = np.nonzero(bestv >= threshold)[0]
    events, last_start, free_from = [], -np.inf, 0
    rel = release * threshold
    n = len(scores)
    for i in cand:
        if i < free_from or times[i] - last_start < refractory:
            continue
        c = int(best[i])
        j = i + 1
        end = n
        while j < n:  # first step where the score falls below the release level
            blk = scores[j:j + 4096, c]
            below = np.nonzero(blk < rel)[0]
            if len(below):
                end = j + int(below[0])
                break
            j += 4096
        seg = scores[i:end, c]
        k = int(seg.argmax())
        events.append(Event(labels[c], float(times[i]), float(times[end - 1]), float(seg[k]), float(times[i + k])))
        last_start = times[i]
        free_from = end
    return events


def match_events(events, truth, *, tolerance: float):
    """(hits, misses, false_accepts) of events against ``(label, start, end)`` truth."""
    truth = sorted(truth, key=lambda r: r[1])
    starts = np.array([t[1] for t in truth])
    used = np.zeros(len(truth), dtype=bool)
    fa = 0
    for e in events:
        # keywords whose acceptance window [t0, t1 + tol] contains the event start
        lo = np.searchsorted(starts, e.start, side="right")  # keywords that began before the event
        hit = False
        for q in range(lo - 1, -1, -1):
            lab, t0, t1 = truth[q]
            if t1 + tolerance < e.start:  # sorted and disjoint: earlier keywords ended earlier still
                break
            if not used[q] and lab == e.label and t0 <= e.start <= t1 + tolerance:
                used[q] = True
                hit = True
                break
        if not hit:
            fa += 1
    hits = int(used.sum())
    return hits, len(truth) - hits, fa


# ----------------------------------------------------------------------------------------------
# the whole evaluation


def evaluate_detection(run, *, recording=None, labels_file=None, hours: float = 0.1, per_minute: float = 10.0,
                       snr_db: float = 20.0, noise=None, runtime: str = "keras", mode: str = "auto",
                       threshold: float = 0.7, smooth: float = 0.2, refractory: float = 1.0, seed: int = 0,
                       thresholds=None, tolerance: float | None = None, out=None, console=None,
                       frames_per_step: int | None = None) -> dict:
    """Stream a long test signal through a run and report FR / FA-per-hour across thresholds.

    Writes ``detect_eval.json``, ``detect_eval_curve.csv``, ``detect_eval_curve.png`` and
    ``detect_eval_scores.png`` (the first minute of score traces) to ``out`` (default
    ``RUN/detect_eval``).  Returns the report dict.
    """
    from auricle.audio import load
    from auricle.streaming.detector import DEFAULT_IGNORE, open_stream, plot_scores

    say = console.print if console is not None else (lambda *a, **k: None)
    run = Path(run)
    clf, labels, info = open_stream(run, runtime=runtime, mode=mode, frames_per_step=frames_per_step)
    sr = clf.fe.sr
    ignore = tuple(DEFAULT_IGNORE)
    if recording is not None:
        if labels_file is None:
            raise ConfigError("--recording needs --labels (label,start,end of every keyword in it)")
        y = load(recording, sr=sr)
        truth = read_label_file(labels_file)
        unknown = sorted({t[0] for t in truth} - set(labels))
        if unknown:
            raise ConfigError(f"the label file names labels the model does not know: {unknown}",
                              fix=f"the model's labels are: {', '.join(labels)}")
        source = str(recording)
    else:
        from auricle.config import RunConfig

        cfg_path = (run / "config.yaml") if (run / "config.yaml").exists() else None
        if cfg_path is None:
            raise ConfigError("a synthetic stream needs the run directory (its test split)",
                              fix="pass the run directory, or --recording and --labels")
        kw = test_keywords(RunConfig.load(cfg_path), sr=sr, labels=labels, ignore=ignore)
        y, truth = synthetic_stream(kw, sr=sr, hours=hours, per_minute=per_minute, snr_db=snr_db, noise=noise,
                                    seed=seed)
        source = f"synthetic: {len(kw)} test clips, {per_minute:g}/min, SNR {snr_db:g} dB"
    hours_real = len(y) / sr / 3600
    say(f"streaming {hours_real * 60:.1f} min with {len(truth)} keywords ({info['runtime']}, {info['mode']})...")
    t0 = time.perf_counter()
    packet = int(0.02 * sr)
    times, probs = [], []
    for i in range(0, len(y), packet):
        t, p = clf.push(y[i:i + packet])
        if len(t):
            times.append(t)
            probs.append(p)
    t, p = clf.flush()
    if len(t):
        times.append(t)
        probs.append(p)
    wall = time.perf_counter() - t0
    times = np.concatenate(times)
    probs = np.concatenate(probs)
    win = max(1, int(round(smooth / clf.step_seconds)))
    scores = smooth_scores(probs, win)
    if tolerance is None:
        tolerance = clf.fe.cfg.duration
    if thresholds is None:
        thresholds = sorted(set(np.round(np.concatenate([np.linspace(0.3, 0.95, 14), [threshold]]), 4).tolist()))
    curve = []
    for thr in thresholds:
        ev = events_from_scores(times, scores, labels, threshold=thr, refractory=refractory, ignore=ignore)
        hits, misses, fa = match_events(ev, truth, tolerance=tolerance)
        curve.append({"threshold": float(thr), "hits": hits, "misses": misses, "false_accepts": fa,
                      "false_reject_rate": misses / max(1, len(truth)),
                      "false_accepts_per_hour": fa / max(hours_real, 1e-9)})
    op = min(curve, key=lambda r: abs(r["threshold"] - threshold))
    out = Path(out) if out else run / "detect_eval"
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": str(out / "detect_eval.json"), "csv": str(out / "detect_eval_curve.csv"),
             "curve": str(out / "detect_eval_curve.png"), "scores": str(out / "detect_eval_scores.png")}
    rep = {"source": source, "hours": hours_real, "keywords": len(truth), "threshold": threshold, "smooth": smooth,
           "refractory": refractory, "tolerance": tolerance, **info,
           "realtime_factor": wall / max(len(y) / sr, 1e-9), "ms_per_20ms_packet": wall / max(1, len(y) // packet) * 1e3,
           "operating_point": op, "curve": curve, "files": files}
    Path(files["json"]).write_text(json.dumps(rep, indent=1))
    with open(files["csv"], "w") as f:
        f.write("threshold,false_reject_rate,false_accepts_per_hour,hits,misses,false_accepts\n")
        for r in curve:
            f.write(f"{r['threshold']},{r['false_reject_rate']:.5f},{r['false_accepts_per_hour']:.3f},"
                    f"{r['hits']},{r['misses']},{r['false_accepts']}\n")
    plot_curve(files["curve"], curve, threshold, title=f"{run.name}: {len(truth)} keywords, {hours_real:.2f} h")
    n1 = min(len(y), 60 * sr)
    m1 = times < n1 / sr
    ev1 = events_from_scores(times[m1], scores[m1], labels, threshold=threshold, refractory=refractory, ignore=ignore)
    plot_scores(files["scores"], y[:n1], sr, times[m1], scores[m1], labels, threshold=threshold, events=ev1,
                ignore=ignore, truth=[t for t in truth if t[1] < n1 / sr], title="first minute (bars: true keywords)")
    return rep


def plot_curve(path, curve, threshold: float, title: str = "") -> None:
    """False-reject rate against false accepts per hour (a DET-style curve), thresholds annotated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fa = np.array([r["false_accepts_per_hour"] for r in curve])
    fr = np.array([r["false_reject_rate"] for r in curve]) * 100
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.plot(fa, fr, "o-", ms=3)
    for r, x, yv in zip(curve, fa, fr):
        ax.annotate(f"{r['threshold']:.2f}", (x, yv), fontsize=6, xytext=(3, 3), textcoords="offset points")
    op = min(curve, key=lambda r: abs(r["threshold"] - threshold))
    ax.plot([op["false_accepts_per_hour"]], [op["false_reject_rate"] * 100], "r*", ms=12,
            label=f"threshold {op['threshold']:.2f}")
    ax.set_xlabel("false accepts per hour")
    ax.set_ylabel("false rejects (%)")
    if (fa > 0).any() and fa.max() / max(fa[fa > 0].min(), 1e-9) > 50:
        ax.set_xscale("symlog", linthresh=1.0)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
