"""Side-by-side comparison of finished runs, Keras or classic (``auricle compare``).

Accuracy, macro-F1 and the training time come from each run's ``metrics.json``; model size
and inference cost are measured now: the run's own test clips (up to ``max_clips``, else its
validation clips) are read, turned into the model's input (Keras features / classic summary
vectors), and one batch is timed (median of ``repeats`` after a warm-up call), for the
feature extraction and the model separately.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from auricle.errors import RunError


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (graph tracing, caches)
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _test_clips(cfg, fc, crop: str, max_clips: int) -> tuple[np.ndarray, str]:
    """Up to ``max_clips`` clips of the run's test (else validation) split, or generated noise
    clips of the right length when the data cannot be read (timings only need shapes)."""
    from auricle.data import load_dataset
    from auricle.datasets.cache import load_clips

    try:
        ds = load_dataset(cfg.data, progress=False, cache_dir=cfg.train.cache_dir, sr=fc.sr,
                          duration=fc.n_samples / fc.sr)
        items = [it for it in ds.items if it.split == "test"] or [it for it in ds.items if it.split == "val"]
        if not items:
            raise RunError("no test or validation clips")
        waves, _ = load_clips([it.path for it in items[:max_clips]], sr=fc.sr, n_samples=fc.n_samples,
                              crop=crop if crop != "random" else "center", workers=1, progress=False)
        return waves, "test clips"
    except Exception:  # data moved or unreadable: time on generated clips instead
        rng = np.random.default_rng(0)
        return (0.1 * rng.standard_normal((max_clips, fc.n_samples))).astype("float32"), "generated clips"


def run_summary(run_dir, *, max_clips: int = 256, repeats: int = 5) -> dict:
    """One row of the comparison: name, model, kind, accuracy, macro-F1, params, size text,
    train seconds, feature and model milliseconds per clip, batch size, what was timed."""
    from auricle.config import RunConfig
    from auricle.classic.load import MODEL_FILE, is_classic_run, load_classic_model, read_features_json
    from auricle.features import extract

    run_dir = Path(run_dir)
    missing = [f for f in ("config.yaml", "features.json", "metrics.json") if not (run_dir / f).exists()]
    if not run_dir.is_dir() or missing:
        raise RunError(f"not a finished run (missing {', '.join(missing) or 'the folder'})", path=run_dir,
                       fix="pass run directories written by `auricle train`")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    cfg = RunConfig.load(run_dir / "config.yaml")
    fc, extra = read_features_json(run_dir)
    crop = extra.get("crop", "center")
    info = metrics.get("run", {})
    waves, source = _test_clips(cfg, fc, crop, max_clips)
    n = len(waves)
    if is_classic_run(run_dir):
        from auricle.classic.summary import SummaryConfig, summary_features

        model = load_classic_model(run_dir / MODEL_FILE)
        scfg = SummaryConfig.from_dict(model.summary)
        kind = "classic"
        params, size = model.size()
        x = summary_features(waves, scfg)
        feat_s = _median_seconds(lambda: summary_features(waves, scfg), repeats)
        model_s = _median_seconds(lambda: model.predict_on_batch(x), repeats)
    else:
        if not (run_dir / "model.keras").exists():
            raise RunError("run has no model (model.keras / model.joblib)", path=run_dir,
                           fix="finish or resume the training first")
        from auricle.models import load_model

        model = load_model(run_dir / "model.keras")
        kind = "keras"
        params = int(model.count_params())
        size = f"{params:,} params"
        x = extract(fc, waves)
        feat_s = _median_seconds(lambda: extract(fc, waves), repeats)
        model_s = _median_seconds(lambda: model.predict_on_batch(x), repeats)
    return {"run": str(run_dir), "model": cfg.model["name"], "kind": kind,
            "accuracy": metrics.get("accuracy"), "macro_f1": metrics.get("macro_f1"),
            "evaluated_on": metrics.get("evaluated_on"), "params": int(params), "size": size,
            "train_seconds": info.get("train_seconds"), "feature_ms": 1000 * feat_s / n,
            "model_ms": 1000 * model_s / n, "batch": n, "timed_on": source}


def short_names(paths) -> list[str]:
    """The shortest path suffixes (``a/b``) that tell the runs apart."""
    parts = [Path(p).resolve().parts for p in paths]
    for k in range(1, max(len(p) for p in parts) + 1):
        names = ["/".join(p[-k:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    return [str(p) for p in paths]


def compare_runs(runs, *, max_clips: int = 256, repeats: int = 5) -> list[dict]:
    rows = [run_summary(r, max_clips=max_clips, repeats=repeats) for r in runs]
    for row, name in zip(rows, short_names(runs)):
        row["name"] = name
    return rows


def plot_compare(rows: list[dict], path) -> None:
    """Bars: accuracy and macro-F1 per run (left); feature and model milliseconds per clip (right)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{r['name']}\n({r['model']})" for r in rows]
    idx = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2, figsize=(max(8.0, 1.6 * len(rows) + 5), 4.2))
    ax = axes[0]
    w = 0.38
    acc = [r["accuracy"] or 0 for r in rows]
    f1 = [r["macro_f1"] or 0 for r in rows]
    b1 = ax.bar(idx - w / 2, acc, w, label="accuracy")
    ax.bar(idx + w / 2, f1, w, label="macro-F1")
    for rect, v in zip(b1, acc):
        ax.text(rect.get_x() + rect.get_width() / 2, v + 0.01, f"{v:.1%}", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_xticks(idx, names, fontsize=8)
    ax.set_title(f"{rows[0].get('evaluated_on', 'test')} split")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right")
    ax = axes[1]
    fe = np.array([r["feature_ms"] for r in rows])
    mo = np.array([r["model_ms"] for r in rows])
    ax.bar(idx - w / 2, fe, w, label="features", color="C2")
    ax.bar(idx + w / 2, mo, w, label="model", color="C4")
    both = np.concatenate([fe, mo])
    both = both[both > 0]
    if len(both) and both.max() / both.min() > 50:  # wide range: log scale (bars side by side, not stacked)
        ax.set_yscale("log")
    ax.set_xticks(idx, names, fontsize=8)
    ax.set_ylabel("ms per clip (batch)")
    ax.set_title("inference cost")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
