"""Metrics, pictures and the report of a run.

Everything here works from ``(y_true, probabilities, labels)``; the plots are PNGs people
look at (confusion matrix, learning curves) and ``report.md`` ties them together.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from auricle.errors import DatasetError
from auricle.inference import predict_probs  # noqa: F401  (re-exported)
from auricle.runs import read_history, write_json


def compute_metrics(y_true: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, macro-F1, top-k accuracy, per-class precision/recall/F1/support and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    y_pred = probs.argmax(axis=1)
    k = len(labels)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=range(k), zero_division=0)
    top = np.argsort(-probs, axis=1)
    out = {
        "n": int(len(y_true)),
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else float("nan"),
        "macro_f1": float(f1_score(y_true, y_pred, labels=range(k), average="macro", zero_division=0)),
        "top3_accuracy": float((top[:, :3] == y_true[:, None]).any(axis=1).mean()) if k > 3 else None,
        "per_class": {labels[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                                  "support": int(s[i])} for i in range(k)},
        "confusion": confusion_matrix(y_true, y_pred, labels=range(k)).tolist(),
        "labels": list(labels),
    }
    return out


def plot_confusion(cm, labels, path, *, title="Confusion matrix") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    cm = np.asarray(cm, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.55 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    annot = np.array([[f"{int(c)}" if c else "" for c in row] for row in cm])
    sns.heatmap(norm, annot=annot if len(labels) <= 30 else False, fmt="", cmap="Blues", vmin=0, vmax=1,
                xticklabels=labels, yticklabels=labels, square=True, cbar_kws={"label": "fraction of true class"}, ax=ax)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title} (accuracy {acc:.1%}, n={int(cm.sum())})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(history: list[dict], path, *, best_epoch: int | None = None, label: str = "best epoch") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    ep = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, name in ((axes[0], "accuracy", "accuracy"), (axes[1], "loss", "loss")):
        ax.plot(ep, [h.get(key) for h in history], label="train", marker=".")
        if any(f"val_{key}" in h for h in history):
            ax.plot(ep, [h.get(f"val_{key}") for h in history], label="validation", marker=".")
        if best_epoch:
            ax.axvline(best_epoch, color="grey", ls="--", lw=1, label=f"{label} {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def file_level(probs: np.ndarray, y: np.ndarray, file_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average window probabilities per file (for long recordings cut into windows)."""
    files, inv = np.unique(file_index, return_inverse=True)
    agg = np.zeros((len(files), probs.shape[1]))
    np.add.at(agg, inv, probs)
    agg /= np.bincount(inv)[:, None]
    yf = np.zeros(len(files), dtype=int)
    yf[inv] = y
    return agg, yf


def recording_metrics(probs: np.ndarray, y: np.ndarray, file_index: np.ndarray, labels: list[str]) -> dict | None:
    """Metrics per recording when some recording was cut into several windows, else None.

    A recording's answer is the mean of its windows' probabilities, as ``auricle predict``
    (:func:`auricle.inference.summarize`, ``aggregate="mean"``) gives it."""
    file_index = np.asarray(file_index)
    if len(np.unique(file_index)) == len(file_index):
        return None
    pf, yf = file_level(probs, y, file_index)
    return compute_metrics(yf, pf, labels)


def _brief(m: dict) -> dict:
    return {k: m[k] for k in ("n", "accuracy", "macro_f1")}


def _split_metrics(probs, arr, labels, member=None) -> dict:
    """Per-window metrics of a split, with ``per_recording`` (and the older ``file_level``) when windowed.

    With a fusion ``member`` (:class:`auricle.fusion.FusionMember`) ``per_recording`` is always there
    and scores the fused answers; ``per_recording_deep`` / ``per_recording_member`` brief each part
    alone.  ``m["recording_probs"]`` then holds the fused per-recording probabilities (popped by the
    callers that write ``metrics.json``)."""
    m = compute_metrics(arr.y, probs, labels)
    if member is not None:
        from auricle.fusion import member_probs

        pf, yf = file_level(probs, arr.y, arr.file_index)
        _, pm = member_probs(member, arr)
        fused = member.combine(pf, pm)
        rec = compute_metrics(yf, fused, labels)
        m["per_recording_deep"] = _brief(compute_metrics(yf, pf, labels))
        m["per_recording_member"] = _brief(compute_metrics(yf, pm, labels))
        m["fusion"] = {"member": member.settings.get("member"), "weight": member.weight}
        m["recording_probs"] = fused
    else:
        rec = recording_metrics(probs, arr.y, arr.file_index, labels)
    if rec is not None:
        m["per_recording"] = rec
        m["file_level"] = _brief(rec)
    return m


def _fusion_brief(v: dict) -> dict:
    return {k: v[k] for k in ("per_recording_deep", "per_recording_member", "fusion") if k in v}


def per_class_csv(metrics: dict, path) -> None:
    rows = ["label,precision,recall,f1,support"]
    for lab, m in metrics["per_class"].items():
        rows.append(f"{lab},{m['precision']:.4f},{m['recall']:.4f},{m['f1']:.4f},{m['support']}")
    Path(path).write_text("\n".join(rows) + "\n")


def evaluate_prepared(model, prep, run_dir, *, cfg, info: dict, console=None, member=None) -> dict:
    """Evaluate a freshly trained model on every split and write metrics, plots and the report.

    ``member``: the run's fusion member (:mod:`auricle.fusion`), which joins the per-recording answers."""
    run_dir = Path(run_dir)
    results = {}
    for name, arr in prep.splits.items():
        results[name] = _split_metrics(predict_probs(model, arr.x), arr, prep.labels, member=member)
        results[name].pop("recording_probs", None)
    main = next(k for k in ("test", "val", "val_seen", "train") if k in results)
    history = read_history(run_dir / "history.csv")
    splits = {k: {**_brief(v), **({"per_recording": _brief(v["per_recording"])} if "per_recording" in v else {}),
                  **_fusion_brief(v)}
              for k, v in results.items()}
    out = {"evaluated_on": main, **{k: v for k, v in results[main].items()}, "splits": splits, "run": info}
    write_json(run_dir / "metrics.json", out)
    per_class_csv(results[main], run_dir / "per_class.csv")
    plot_confusion(results[main]["confusion"], prep.labels, run_dir / "confusion.png",
                   title=f"{main} split" + (", windows" if "per_recording" in results[main] else ""))
    if "per_recording" in results[main]:
        plot_confusion(results[main]["per_recording"]["confusion"], prep.labels, run_dir / "confusion_recordings.png",
                       title=f"{main} split, recordings")
    plot_curves(history, run_dir / "curves.png", best_epoch=info.get("kept_epoch", info.get("best_epoch")),
                label="kept epoch" if info.get("keep") == "last" else "best epoch")
    write_report(run_dir, cfg, out, results, info)
    if console is not None:
        _print_summary(console, out, run_dir)
    return out


def evaluate_run(run_dir, dataset=None, *, layout="auto", out_dir=None, console=None, progress=True) -> dict:
    """Evaluate a trained run on its own test split, or on another dataset with the same labels.

    Writes ``metrics.json``, ``per_class.csv`` and ``confusion.png`` into ``out_dir``
    (default ``RUN/eval-test`` or ``RUN/eval-<dataset name>``).
    """
    from auricle import datasets
    from auricle.data import featurize, load_dataset
    from auricle.inference import load_run

    run = load_run(run_dir)
    cfg = run.config
    if dataset is None:
        fc = run.feature_config
        ds = load_dataset(cfg.data, progress=progress, cache_dir=cfg.train.cache_dir, sr=fc.sr,
                          duration=fc.n_samples / fc.sr)
        items = [it for it in ds.items if it.split == "test"] or [it for it in ds.items if it.split == "val"]
        name = "test"
    else:
        ds = datasets.index(dataset, layout=layout)
        items = list(ds.items)
        name = Path(dataset).name or "dataset"
    unknown = sorted({it.label for it in items} - set(run.labels))
    if unknown:
        raise DatasetError(f"label(s) {unknown[:5]} are not among the run's labels", path=dataset,
                           fix=f"the model knows: {', '.join(run.labels)}; rename folders or drop those files")
    if not items:
        raise DatasetError("no examples to evaluate", path=dataset or cfg.data.root)
    arr, fails = featurize(items, run.labels, run.feature_config, crop=run.crop, window_hop=run.window_hop,
                           cache_dir=cfg.train.cache_dir, workers=cfg.train.workers, progress=progress,
                           silence=run.silence, variable_length=run.variable_length,
                           silence_frames=getattr(run, "silence_frames", None))
    probs = predict_probs(run.model, arr.x)
    m = _split_metrics(probs, arr, run.labels, member=getattr(run, "member", None))
    if "per_recording" in m:  # which recording each answer is, for comparing with `auricle predict`
        pf = m.pop("recording_probs", None)
        if pf is None:
            pf, _ = file_level(probs, arr.y, arr.file_index)
        m["recordings"] = [{"path": arr.paths[f], "label": run.labels[int(p.argmax())], "probability": float(p.max())}
                           for f, p in zip(np.unique(arr.file_index), pf)]
    m["skipped_files"] = [list(f) for f in fails]
    out = Path(out_dir) if out_dir else Path(run_dir) / f"eval-{name}"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", m)
    per_class_csv(m, out / "per_class.csv")
    plot_confusion(m["confusion"], run.labels, out / "confusion.png", title=name + (", windows" if "per_recording" in m else ""))
    if "per_recording" in m:
        plot_confusion(m["per_recording"]["confusion"], run.labels, out / "confusion_recordings.png",
                       title=f"{name}, recordings")
    if console is not None:
        _print_summary(console, m, out)
    return m


def kept_text(info: dict) -> str:
    """Which epoch's weights the run kept, in words."""
    if info.get("members"):  # an ensemble: every member kept its own epoch
        eps = ", ".join(str(m.get("kept_epoch")) for m in info["members"])
        return f"each member keeps its own epoch ({eps} of {info['epochs_run']}, monitor {info['monitor']})"
    if info.get("keep") == "last":
        if str(info.get("monitor", "")).startswith("val_"):
            return (f"last epoch {info['epochs_run']} kept (train.keep: last; best by {info['monitor']}: "
                    f"epoch {info['best_epoch']})")
        return f"last epoch {info['epochs_run']} kept (no validation split)"
    return f"best epoch {info['best_epoch']} of {info['epochs_run']} (monitor {info['monitor']})"


def write_report(run_dir: Path, cfg, metrics: dict, results: dict, info: dict) -> None:
    import yaml

    lines = [f"# auricle run: {cfg.name}", ""]
    main = metrics["evaluated_on"]
    rec = metrics.get("per_recording")
    if rec:
        head = (f"**{main} accuracy {rec['accuracy']:.2%} per recording**, macro-F1 {rec['macro_f1']:.3f} on "
                f"{rec['n']} recordings ({metrics['accuracy']:.2%} per window on {metrics['n']} windows of "
                f"{cfg.feature_config().duration:g} s" + (f" every {cfg.data.window_hop} s" if cfg.data.window_hop else "") +
                ", a recording's window probabilities averaged as `auricle predict` does)")
    else:
        head = f"**{main} accuracy {metrics['accuracy']:.2%}**, macro-F1 {metrics['macro_f1']:.3f} on {metrics['n']} examples"
    if metrics.get("fusion"):
        fu, deep, mem = metrics["fusion"], metrics["per_recording_deep"], metrics["per_recording_member"]
        head += (f"; per recording fused {fu['weight']:g} x this model ({deep['accuracy']:.2%} alone) + "
                 f"{1 - fu['weight']:g} x a {fu['member']} member on whole recordings ({mem['accuracy']:.2%} alone)")
    lines += [f"{head}; model `{cfg.model['name']}` with {info['params']:,} parameters; "
              f"{kept_text(info)}; "
              f"training {info['train_seconds']:.0f}s, wall {info['wall_seconds']:.0f}s.", ""]
    if any("per_recording" in v for v in results.values()):
        lines += ["| split | windows | accuracy per window | recordings | accuracy per recording | macro-F1 per recording |",
                  "|---|---:|---:|---:|---:|---:|"]
        for k, v in results.items():
            r = v.get("per_recording") or v  # a split without long recordings: one window per recording
            lines.append(f"| {k} | {v['n']} | {v['accuracy']:.2%} | {r['n']} | {r['accuracy']:.2%} | {r['macro_f1']:.3f} |")
    else:
        lines += ["| split | examples | accuracy | macro-F1 |", "|---|---:|---:|---:|"]
        for k, v in results.items():
            lines.append(f"| {k} | {v['n']} | {v['accuracy']:.2%} | {v['macro_f1']:.3f} |")
    lines += ["", "## Learning curves", "", "![curves](curves.png)", "",
              f"## Confusion matrix ({main})", "", "![confusion](confusion.png)", ""]
    if rec:
        lines += [f"Per recording: ![confusion per recording](confusion_recordings.png)", ""]
    lines += [
              f"## Per-class metrics ({main}{', per window' if rec else ''})", "", "| label | precision | recall | F1 | support |",
              "|---|---:|---:|---:|---:|"]
    for lab, m in results[main]["per_class"].items():
        lines.append(f"| {lab} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    if info.get("tta_shift_frames"):
        lines += ["", "## Test-time augmentation", "", "The saved model averages its probabilities over the clip and the "
                  "clip shifted by " + ", ".join(f"{k:+d}" for k in info["tta_shift_frames"]) + " frames "
                  "(`train.tta_shift_ms`); every figure here includes it."]
    if info.get("teacher"):
        t = info["teacher"]
        lines += ["", "## Distillation", "", f"Targets were {1 - t['weight']:g} x labels + {t['weight']:g} x the "
                  f"probabilities of the teacher run `{t['run']}` on each augmented batch (temperature "
                  f"{t['temperature']:g})."]
    if info.get("class_weight"):
        lines += ["", "## Class weights", "", ", ".join(f"{k}: {v:.3f}" for k, v in info["class_weight"].items())]
    lines += ["", "## Examples per split", "", ", ".join(f"{k}: {v}" for k, v in info["counts"].items())]
    if info.get("class_counts"):
        cc = info["class_counts"]
        cols = list(cc)
        lines += ["", "## Examples per class", "", "| label | " + " | ".join(cols) + " |",
                  "|---|" + "---:|" * len(cols)]
        for lab in next(iter(cc.values())):
            lines.append(f"| {lab} | " + " | ".join(str(cc[c].get(lab, 0)) for c in cols) + " |")
    if info.get("skipped_files"):
        lines += ["", f"## Skipped files ({len(info['skipped_files'])})", ""]
        lines += [f"- `{p}`: {why}" for p, why in info["skipped_files"][:50]]
    lines += ["", "## Configuration", "", "```yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False).rstrip(), "```", ""]
    (run_dir / "report.md").write_text("\n".join(lines))


def _print_summary(console, m: dict, where) -> None:
    from rich.table import Table

    rec = m.get("per_recording")
    title = f"accuracy {m['accuracy']:.2%}  macro-F1 {m['macro_f1']:.3f}  (n={m['n']})"
    if rec:
        title = (f"per recording: accuracy {rec['accuracy']:.2%}  macro-F1 {rec['macro_f1']:.3f}  (n={rec['n']})\n"
                 f"per window: {title}")
    t = Table(title=title)
    for c in ("label", "precision", "recall", "F1", "support"):
        t.add_column(c, justify="right" if c != "label" else "left")
    for lab, v in m["per_class"].items():
        t.add_row(lab, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
    console.print(t)
    if m.get("fusion"):
        fu = m["fusion"]
        console.print(f"per recording fused: {fu['weight']:g} x the deep model "
                      f"({m['per_recording_deep']['accuracy']:.2%} alone) + {1 - fu['weight']:g} x the {fu['member']} "
                      f"member ({m['per_recording_member']['accuracy']:.2%} alone)")
    console.print(f"results in {where}")
