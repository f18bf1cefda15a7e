"""Ensembles trained member by member: each member of an ``ensemble`` config as its own run, then averaged.

``model: {name: ensemble, options: {members: [...]}}`` with ``fit: separately`` (the default) is
trained here (:func:`train_separately`, called by :func:`auricle.training.train`); the averaged
network itself and :func:`~auricle.models.ensemble.combine_runs` live in
:mod:`auricle.models.ensemble`.  ``train`` is passed in by its caller (``train_run``) rather than
imported, so this module and :mod:`auricle.training.fit` do not import each other.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from auricle.errors import RunError, TrainingInterrupted
from auricle.models.ensemble import average_models, member_specs

_COMMON = ("dropout", "l1", "l2", "batch_norm", "width")


def member_configs(cfg) -> list:
    """The run config of each member of an ``ensemble`` config: the same data, features,
    augmentation and training, the member's model and options (plus the ensemble's common
    regularization options it accepts), and the seed plus how many members of the same family
    came before (two cnns get seeds 0 and 1)."""
    from auricle.config import RunConfig

    opts = dict(cfg.model.get("options") or {})
    members = member_specs(opts.get("members") or ("cnn", "tc_resnet14"), opts.get("member_options"),
                       {k: opts.get(k) for k in _COMMON})
    seen: dict[str, int] = {}
    out = []
    for i, (name, _, o) in enumerate(members):
        d = cfg.to_dict()
        d["name"] = f"{cfg.name}-m{i}-{name}"
        d["model"] = {"name": name, "options": o}
        d["train"]["seed"] = cfg.train.seed + seen.get(name, 0)
        seen[name] = seen.get(name, 0) + 1
        out.append(RunConfig.from_dict(d))
    return out


def rotate_validation(items, k: int, *, seed: int = 0):
    """Validation groups for ``k`` members that take turns holding out part of the training data.

    Member 0 keeps the split's validation groups; member ``i > 0`` validates on training groups
    (about as many items as the validation split, drawn without reuse while groups last) and
    trains on the rest plus the original validation groups.  Test groups never move.

    Returns ``(blocks, why)``: ``blocks[0] = (val_groups, test_groups)`` and ``blocks[i]`` the
    val groups of member ``i``; ``(None, reason)`` when the split is not by group (a group in
    two splits, an empty validation split, fewer than two training groups).
    """
    import random
    from collections import Counter, defaultdict

    where: dict[str, set] = defaultdict(set)
    for it in items:
        if not str(it.group).startswith("extra:"):
            where[it.group].add(it.split)
    if any(len(v) > 1 for v in where.values()):
        return None, "a group is in more than one split (item-level split)"
    size = Counter(it.group for it in items)
    val = sorted(g for g, v in where.items() if "val" in v)
    test = sorted(g for g, v in where.items() if "test" in v)
    train = sorted(g for g, v in where.items() if "train" in v)
    if not val:
        return None, "the validation split is empty"
    if len(train) < 2:
        return None, "fewer than two training groups"
    target = sum(size[g] for g in val)
    rng = random.Random(seed)
    pool: list = []
    blocks: list = [(val, test)]
    for _ in range(1, k):
        block, n = [], 0
        while n < target and len(block) < len(train) - 1:
            if not pool:
                pool = [g for g in train if g not in block]
                rng.shuffle(pool)
            g = pool.pop()
            if g in block:
                continue
            block.append(g)
            n += size[g]
        blocks.append(sorted(block))
    return blocks, ""


def trains_separately(cfg) -> bool:
    """Whether ``cfg`` is an ensemble trained member by member (``fit: separately``, the default)."""
    return cfg.model.get("name") == "ensemble" and (cfg.model.get("options") or {}).get("fit", "separately") == "separately"


def train_separately(cfg, run_dir, *, train_run, overwrite: bool = False, resume: bool = False, console=None,
                     progress: bool = True) -> dict:
    """Train each member of an ``ensemble`` config as its own run in ``RUN/members/m<i>_<name>``,
    then write ``RUN`` as one run holding their average (evaluated, reported, exportable).

    A member that finished is kept on ``resume``; an interrupted one resumes from its checkpoint.

    Parameters
    ----------
    cfg : RunConfig or None
        The ensemble's config (None with ``resume=True``: the run's own is read).
    run_dir : str or Path
        The ensemble's run directory.
    train_run : callable
        Trains one member: :func:`auricle.training.train` (``train_run(cfg, dir, overwrite=,
        resume=, console=, progress=)``), passed in by it.
    overwrite, resume, console, progress
        As for :func:`auricle.training.train`.

    Returns
    -------
    dict
        The ensemble's test metrics, as written to ``RUN/metrics.json``.
    """
    import time

    from rich.console import Console

    from auricle import data as data_mod
    from auricle.config import RunConfig
    from auricle.evaluation import evaluate_prepared
    from auricle.models.registry import load_model
    from auricle.runs import atomic_write as _atomic_write
    from auricle.runs import read_history as _read_history
    from auricle.training.rundir import prepare_run_dir
    from auricle.training.settings import check_model_options, resolve_auto_settings

    console = console or Console()
    run_dir = Path(run_dir)
    t0 = time.time()
    dataset = None
    if resume:
        prepare_run_dir(run_dir, overwrite=False, resume=True)
        cfg = RunConfig.load(run_dir / "config.yaml")
        if (run_dir / "model.keras").exists():
            raise RunError("this run already finished", path=run_dir, fix="nothing to resume; use `auricle evaluate`")
    else:
        cfg.validate()
        check_model_options(cfg)
        member_configs(cfg)  # fail on a bad member before any work
        prepare_run_dir(run_dir, overwrite=overwrite, resume=False)
        dataset = resolve_auto_settings(cfg, console=console, progress=progress)
        cfg.save(run_dir / "config.yaml")
    subs = member_configs(cfg)
    rotate = (cfg.model.get("options") or {}).get("validation", "shared") == "rotate"
    if rotate:
        if dataset is None:
            fc = cfg.feature_config()
            dataset = data_mod.load_dataset(cfg.data, progress=progress, cache_dir=cfg.train.cache_dir,
                                            sr=fc.sr, duration=fc.n_samples / fc.sr)
        blocks, why = rotate_validation(dataset.items, len(subs), seed=cfg.data.split_seed)
        if blocks is None:
            console.print(f"ensemble validation: shared ({why}; validation: rotate needs a split by group)")
            rotate = False
        else:
            console.print("ensemble validation: rotate, members validate on "
                          + "; ".join(f"m{i} {', '.join(b if i else b[0])}" for i, b in enumerate(blocks)))
            for sub, b in zip(subs[1:], blocks[1:]):
                sub.data.val_groups, sub.data.test_groups = list(b), list(blocks[0][1])
    for sub in subs:  # cfg.features already holds the settled fmax / top_db: members need not read the data for them
        sub.data.band_limit = sub.data.noise_floor = "off"
    dirs = [run_dir / "members" / f"m{i}_{c.model['name']}" for i, c in enumerate(subs)]
    for i, (sub, d) in enumerate(zip(subs, dirs)):
        head = f"[bold]ensemble member {i + 1}/{len(subs)}: {sub.model['name']}[/bold] (seed {sub.train.seed})"
        if (d / "model.keras").exists() and (d / "metrics.json").exists() and not (d / "checkpoint").exists():
            console.print(f"{head}: finished earlier, kept")
            continue
        console.print(head)
        try:
            if (d / "checkpoint").exists():
                train_run(None, d, resume=True, console=console, progress=progress)
            else:
                train_run(sub, d, overwrite=True, console=console, progress=progress)
        except TrainingInterrupted:
            raise TrainingInterrupted(f"training interrupted in ensemble member {i + 1}/{len(subs)} "
                                      f"({sub.model['name']}); finished members and its checkpoint are kept",
                                      path=run_dir, fix=f"resume with: auricle train --resume {run_dir}") from None
    models = [load_model(d / "model.keras") for d in dirs]
    names = [c.model["name"] for c in subs]
    for f in ("labels.json", "features.json"):
        shutil.copyfile(dirs[0] / f, run_dir / f)
    prep, _ = data_mod.prepare(cfg, progress=progress, dataset=dataset)
    if rotate and "val" in prep.splits:  # later members trained on it: not a held-out figure, say so in its name
        prep.splits = {("val_seen" if k == "val" else k): v for k, v in prep.splits.items()}
    model = average_models(models, prep.splits["train"].x.shape[1:], names=names)
    tmp = run_dir / "model.tmp.keras"
    model.save(str(tmp))
    tmp.replace(run_dir / "model.keras")
    infos = [json.loads((d / "metrics.json").read_text()) for d in dirs]
    rows, keys = [], None
    for i, d in enumerate(dirs):
        lines = (d / "history.csv").read_text().strip().splitlines()
        keys = keys or ["member"] + lines[0].split(",")
        rows += [f"{i}," + r for r in lines[1:]]
    _atomic_write(run_dir / "history.csv", "\n".join([",".join(keys)] + rows) + "\n")
    r0 = infos[0]["run"]
    info = {"best_epoch": None, "monitor": r0.get("monitor"), "epochs_run": cfg.train.epochs,
            "params": int(model.count_params()),
            "train_seconds": round(sum(m["run"]["train_seconds"] for m in infos), 1),
            "wall_seconds": round(time.time() - t0, 1), "counts": r0["counts"], "class_weight": r0.get("class_weight"),
            "class_counts": r0.get("class_counts"), "skipped_files": r0.get("skipped_files", []),
            "validation": "rotate" if rotate else "shared",
            "members": [{"model": n, "run": str(d.relative_to(run_dir)), "params": m["run"]["params"],
                         "best_epoch": m["run"]["best_epoch"],
                         "kept_epoch": m["run"].get("kept_epoch", m["run"]["best_epoch"]), "seed": c.train.seed,
                         "val_groups": c.data.val_groups,
                         "splits": {k: v["accuracy"] for k, v in m["splits"].items()}}
                        for n, d, m, c in zip(names, dirs, infos, subs)]}
    metrics = evaluate_prepared(model, prep, run_dir, cfg=cfg, info=info, console=console)
    plot_member_curves([_read_history(d / "history.csv") for d in dirs], names, run_dir / "curves.png")
    with open(run_dir / "report.md", "a") as fh:
        cols = [k for k in ("train", "val", "test") if any(k in m["splits"] for m in info["members"])]
        ens = {k: metrics["splits"].get("val_seen" if k == "val" and rotate else k) for k in cols}
        fh.write("\n## Members (each trained as its own run; the ensemble averages their probabilities)\n\n"
                 "| member | params | seed | kept epoch | " + " | ".join(cols) + " |\n|---|---:|---:|---:|"
                 + "---:|" * len(cols) + "\n")
        for mem in info["members"]:
            fh.write(f"| `{mem['run']}` | {mem['params']:,} | {mem['seed']} | {mem['kept_epoch']} | "
                     + " | ".join(f"{mem['splits'].get(k, float('nan')):.2%}" for k in cols) + " |\n")
        fh.write("| **ensemble** | " + f"{info['params']:,} | | | "
                 + " | ".join((f"**{ens[k]['accuracy']:.2%}**" if ens[k] else "—")
                              + (" (seen)" if rotate and k == "val" and ens[k] else "") for k in cols) + " |\n")
        if rotate:
            fh.write("\nValidation rotated (`validation: rotate`): member 0 validated on the run's validation groups, "
                     "the others on " + "; ".join(f"m{i}: {', '.join(c.data.val_groups)}" for i, c in
                                                  enumerate(subs) if i) + ", and trained on the run's validation "
                     "groups.  Only the test split is held out from every member (the ensemble's figure on the run's "
                     "validation groups is `val_seen` in metrics.json); each member's validation figure above is "
                     "on its own validation groups.\n")
    console.print("members: " + ", ".join(f"{m['model']} {m['splits'].get(metrics['evaluated_on'], 0):.1%}"
                                          for m in info["members"])
                  + f"; ensemble {metrics['accuracy']:.1%} ({metrics['evaluated_on']})")
    return metrics


def plot_member_curves(histories, names, path) -> None:
    """Accuracy and loss per epoch of every member (train dashed, validation solid)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for i, (h, name) in enumerate(zip(histories, names)):
        if not h:
            continue
        ep = [r["epoch"] for r in h]
        for ax, key in ((axes[0], "accuracy"), (axes[1], "loss")):
            line, = ax.plot(ep, [r.get(key) for r in h], ls="--", lw=1, label=f"m{i} {name} train")
            if any(r.get(f"val_{key}") is not None for r in h):
                ax.plot(ep, [r.get(f"val_{key}") for r in h], color=line.get_color(), label=f"m{i} {name} validation")
    for ax, title in ((axes[0], "accuracy"), (axes[1], "loss")):
        ax.set_xlabel("epoch")
        ax.set_title(f"{title} (ensemble members)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
