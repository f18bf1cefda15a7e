"""K-fold cross-validation: one run per fold under one parent folder, and a summary.

``auricle train DATA --folds K`` (or :func:`cross_validate`) trains one complete run directory per
fold, ``OUT/fold1 .. OUT/foldK``: fold *i* is the test split and fold *i+1* (cyclically) the
validation split, the other folds train.  The folds are

* the dataset's own folds when its layout defines them (ESC-50's ``fold`` column: ``--folds 5``,
  via the esc50 layout's ``test_fold`` / ``val_fold`` options), or
* group k-fold on any other layout: the groups (speakers, actors, source recordings) are dealt
  into K folds of about equal size (seeded by ``data.split_seed``), so no group is in two folds.

Then ``OUT/cv_summary.json``, ``OUT/cv_summary.md`` and ``OUT/cv_folds.png`` hold each fold's
test accuracy per recording (per window too when recordings were cut into windows), macro-F1 and
training time, and their mean and standard deviation over the folds.

Examples
--------
>>> from auricle.config import recipe                              # doctest: +SKIP
>>> s = cross_validate(recipe("environmental", {"data": {"root": "ESC-50"}}), "runs/esc50", folds=5)  # doctest: +SKIP
>>> print(f"{s['mean']['accuracy']:.1%} +- {s['std']['accuracy']:.1%}")   # doctest: +SKIP
"""
from __future__ import annotations

import copy
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np

from auricle.errors import ConfigError, DatasetError, RunError


def fold_plan(dataset, *, folds: int | None, seed: int = 0) -> dict:
    """How ``dataset`` (an indexed, not yet split Dataset) is cut into folds.

    Returns ``{"kind": "layout", "folds": [f1, ...]}`` for a layout with a ``fold`` column (every
    item's ``extra["fold"]``), else ``{"kind": "group", "folds": [[group, ...], ...]}``.

    Examples
    --------
    >>> from auricle.datasets import Dataset, Item
    >>> items = [Item(f"/{g}{i}.wav", "ab"[i % 2], g) for g in "pqrstu" for i in range(2)]
    >>> plan = fold_plan(Dataset("/", "folder", items), folds=3)
    >>> plan["kind"], sorted(len(f) for f in plan["folds"])
    ('group', [2, 2, 2])
    """
    have = [it.extra.get("fold") for it in dataset.items]
    if dataset.layout == "esc50" and have and all(f is not None for f in have):
        own = sorted(set(have))
        if folds not in (None, len(own)):
            raise ConfigError(f"the {dataset.layout} layout defines {len(own)} folds ({', '.join(map(str, own))}), "
                              f"not {folds}", fix=f"use --folds {len(own)}")
        if len(own) < 3:
            raise DatasetError(f"cross-validation needs at least 3 folds (a test, a validation and a training fold); "
                               f"the dataset has {len(own)}", path=dataset.root)
        return {"kind": "layout", "folds": own}
    k = int(folds or 5)
    if k < 3:
        raise ConfigError(f"--folds must be at least 3 (a test, a validation and a training fold), got {k}")
    sizes = Counter(it.group for it in dataset.items)
    if len(sizes) < k:
        raise DatasetError(f"{k}-fold cross-validation needs at least {k} groups (speakers, actors, source "
                           f"recordings); the dataset has {len(sizes)}", path=dataset.root,
                           fix=f"use --folds {max(3, len(sizes))} or fewer" if len(sizes) >= 3
                           else "give the files groups (a manifest's group column, or data.options.group_regex)")
    rng = np.random.default_rng(seed)
    groups = sorted(sizes)
    rng.shuffle(groups)
    groups.sort(key=lambda g: -sizes[g])  # largest first (stable: ties keep the seeded order)
    plan: list[list[str]] = [[] for _ in range(k)]
    load = [0] * k
    for g in groups:  # each group to the fold holding the fewest items so far
        i = int(np.argmin(load))
        plan[i].append(g)
        load[i] += sizes[g]
    return {"kind": "group", "folds": [sorted(f) for f in plan]}


def fold_config(cfg, plan: dict, i: int):
    """The :class:`~auricle.config.RunConfig` of fold ``i`` (0-based): fold i tests, fold i+1 validates."""
    from auricle.config import RunConfig

    d = copy.deepcopy(cfg.to_dict())
    f = plan["folds"]
    j = (i + 1) % len(f)
    if plan["kind"] == "layout":
        d["data"]["options"] = {**(d["data"].get("options") or {}), "test_fold": f[i], "val_fold": f[j]}
        d["data"]["test_groups"] = d["data"]["val_groups"] = None
    else:
        d["data"]["test_groups"], d["data"]["val_groups"] = list(f[i]), list(f[j])
    d["name"] = f"{cfg.name}-fold{i + 1}"
    d["origin"] = {**(d.get("origin") or {}), "fold": i + 1, "folds": len(f)}
    return RunConfig.from_dict(d)


def _fold_figures(metrics: dict) -> dict:
    rec = metrics.get("per_recording")
    row = {"accuracy": float((rec or metrics)["accuracy"]), "macro_f1": float((rec or metrics)["macro_f1"]),
           "n_recordings": int((rec or metrics)["n"])}
    if rec:
        row["window_accuracy"] = float(metrics["accuracy"])
    run = metrics.get("run") or {}
    row["train_seconds"] = float(run.get("wall_seconds", run.get("train_seconds", 0.0)))
    return row


def summarize_folds(rows: list[dict]) -> dict:
    """Mean and standard deviation (over folds, ddof 0) of every figure in ``rows``.

    Examples
    --------
    >>> s = summarize_folds([{"accuracy": 0.8}, {"accuracy": 0.6}])
    >>> round(s["mean"]["accuracy"], 3), round(s["std"]["accuracy"], 3)
    (0.7, 0.1)
    """
    keys = [k for k in rows[0] if k not in ("fold", "test", "run") and all(k in r for r in rows)]
    return {"mean": {k: float(np.mean([r[k] for r in rows])) for k in keys},
            "std": {k: float(np.std([r[k] for r in rows])) for k in keys}}


def cross_validate(cfg, out_dir, *, folds: int | None = None, overwrite: bool = False, console=None,
                   progress: bool = True) -> dict:
    """Train one run per fold under ``out_dir`` and write the cross-validation summary.

    Parameters
    ----------
    cfg : RunConfig
        The run to repeat on every fold (its ``data.test_groups`` / ``val_groups`` are replaced).
    out_dir : path
        Parent folder: ``fold1 .. foldK`` run directories plus ``cv_summary.{json,md}`` and
        ``cv_folds.png``.
    folds : int, optional
        K.  Default: the layout's own folds, else 5.
    overwrite : bool
        Replace an existing ``out_dir``.

    Returns
    -------
    dict
        The summary (``folds``: one row per fold, ``mean``, ``std``), as in ``cv_summary.json``.
    """
    from rich.console import Console

    from auricle import datasets
    from auricle.data import resolve_root
    from auricle.training import train

    console = console or Console()
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise RunError("the cross-validation folder already exists", path=out,
                           fix="pass --overwrite to replace it, or choose another --out")
        shutil.rmtree(out)
    d = cfg.data
    root = resolve_root(d.root)
    layout = datasets.detect_layout(root) if d.layout == "auto" else d.layout
    options = {k: v for k, v in (d.options or {}).items() if k not in ("test_fold", "val_fold")}
    if layout == "esc50":  # every fold unassigned: the plan assigns them
        options.update(test_fold=None, val_fold=None)
    ds = datasets.index(root, layout=layout, strict=d.strict, **options)
    plan = fold_plan(ds, folds=folds, seed=d.split_seed)
    k = len(plan["folds"])
    how = "the layout's folds" if plan["kind"] == "layout" else f"group {k}-fold ({len(ds.groups())} groups)"
    console.print(f"[bold]cross-validation[/bold]: {k} folds, {how}, fold i tests and fold i+1 validates -> {out}")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(k):
        fcfg = fold_config(cfg, plan, i)
        run_dir = out / f"fold{i + 1}"
        console.rule(f"fold {i + 1} of {k}")
        metrics = train(fcfg, run_dir, overwrite=True, console=console, progress=progress)
        row = {"fold": i + 1, "run": run_dir.name,
               "test": plan["folds"][i] if plan["kind"] == "layout" else len(plan["folds"][i]),
               **_fold_figures(metrics)}
        rows.append(row)
        console.print(f"fold {i + 1}: {row['accuracy']:.1%} per recording")
    summary = {"name": cfg.name, "folds": rows, "kind": plan["kind"], "plan": plan["folds"],
               "origin": cfg.origin or None, **summarize_folds(rows)}
    (out / "cv_summary.json").write_text(json.dumps(summary, indent=1))
    (out / "cv_summary.md").write_text(_markdown(summary))
    _plot(summary, out / "cv_folds.png")
    m, s = summary["mean"], summary["std"]
    console.print(f"[bold]cross-validation {cfg.name}[/bold]: {m['accuracy']:.1%} +- {s['accuracy']:.1%} per "
                  f"recording over {k} folds (macro-F1 {m['macro_f1']:.3f}); {out / 'cv_summary.md'}")
    return summary


def _markdown(s: dict) -> str:
    windows = all("window_accuracy" in r for r in s["folds"])
    head = "| fold | run | test | recordings | accuracy per recording |" + (" per window |" if windows else "") + \
        " macro-F1 | seconds |"
    lines = [f"# Cross-validation: {s['name']}", "",
             f"{len(s['folds'])} folds ({'the layout' if s['kind'] == 'layout' else 'group k-fold'}); fold i is "
             "the test split, fold i+1 the validation split.", "", head,
             "|" + "---|" * (head.count("|") - 1)]
    for r in s["folds"]:
        lines.append(f"| {r['fold']} | {r['run']} | {r['test']} | {r['n_recordings']} | {r['accuracy']:.2%} |"
                     + (f" {r['window_accuracy']:.2%} |" if windows else "")
                     + f" {r['macro_f1']:.3f} | {r['train_seconds']:.0f} |")
    m, sd = s["mean"], s["std"]
    lines.append(f"| **mean +- std** | | | | **{m['accuracy']:.2%} +- {sd['accuracy']:.2%}** |"
                 + (f" {m['window_accuracy']:.2%} +- {sd['window_accuracy']:.2%} |" if windows else "")
                 + f" {m['macro_f1']:.3f} +- {sd['macro_f1']:.3f} | {m['train_seconds']:.0f} |")
    return "\n".join(lines + ["", "![accuracy per fold](cv_folds.png)", ""])


def _plot(s: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acc = [r["accuracy"] for r in s["folds"]]
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * len(acc), 3.2))
    ax.bar([str(r["fold"]) for r in s["folds"]], acc, color="#4c72b0")
    m, sd = s["mean"]["accuracy"], s["std"]["accuracy"]
    ax.axhline(m, color="k", lw=1)
    ax.axhspan(m - sd, m + sd, color="k", alpha=0.1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("fold")
    ax.set_ylabel("test accuracy per recording")
    ax.set_title(f"{s['name']}: {m:.1%} +- {sd:.1%}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
