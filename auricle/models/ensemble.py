"""Ensembles: several registered models on the same features, class probabilities averaged.

Two ways to get one, both ending in the same kind of Keras model (members as nested models,
a ``keras.layers.Average`` on their softmax outputs), so a run directory holding an ensemble
predicts, evaluates, streams (windowed) and exports like any other:

* ``model: {name: ensemble, options: {members: [cnn, tc_resnet14]}}``: ``auricle train`` trains
  each member as its own run under ``RUN/members/`` (its own best epoch, report and resume
  point), then averages them (:func:`train_separately`).  ``fit: together`` instead fits the
  averaged model as one network (one loss on the averaged probabilities); its members co-adapt
  and score lower on unseen speakers, so separately is the default (docs/experiments/ensembles.md);
* :func:`combine_runs` (``auricle ensemble RUN RUN ... --out DIR``) averages runs that were
  trained separately, after checking they share labels and features.

Why: networks of different kinds fail on different speakers, so their average beats each of
them (figures: docs/experiments/ensembles.md, docs/experiments/resnet-ensembles.md).

``validation: rotate`` lets members after the first validate on other training groups (and
train on the run's validation groups), for data with few speakers; its gain is within run-to-run
noise and it leaves the ensemble without a held-out validation figure, so it is an option, not
the default.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from auricle.errors import ModelError, RunError
from auricle.models.registry import register_model


def _member_name(i: int, name: str) -> str:
    return f"m{i}_{name}"


def average_models(models, input_shape, *, names=None, name: str = "ensemble"):
    """One Keras model whose output is the mean of ``models``' outputs on a shared input.

    Each member becomes a nested model renamed ``m<i>_<name>`` so that two members of the
    same family can sit side by side.
    """
    import keras
    from keras import layers

    if len(models) < 2:
        raise ModelError("an ensemble needs at least two members", fix="list two or more models or runs")
    inp = keras.Input(shape=tuple(input_shape), name="features")
    outs = []
    for i, m in enumerate(models):
        m.name = _member_name(i, (names[i] if names else m.name))
        outs.append(m(inp))
    out = layers.Average(name="average")(outs)
    return keras.Model(inp, out, name=name)


@register_model("ensemble", description="Members (default cnn + tc_resnet14), each trained as its own run "
                "(or together with fit: together); their class probabilities are averaged", streamable="window")
def ensemble(input_shape, n_classes, *, members=("cnn", "tc_resnet14"), member_options=None, fit="separately",
             validation="shared", dropout=None, l1=None, l2=None, batch_norm=None, width=None):
    """Average of several registered models.

    Parameters
    ----------
    members : sequence of str
        Registered Keras model names (a name may repeat).
    member_options : sequence of dict, optional
        Options for each member, in the same order (``None`` or ``{}``: that model's defaults).
    fit : {"separately", "together"}
        How ``auricle train`` fits it: each member as its own run, then averaged (default), or
        the averaged network as one model.  The network built here is the same either way.
    validation : {"shared", "rotate"}
        With ``fit: separately``: every member picks its best epoch on the run's validation
        split (``shared``), or member ``i > 0`` validates on other groups (speakers) of the
        training split and trains on the run's validation groups instead (``rotate``), so that
        together the members learn from every group outside the test split.  The run's
        validation figure is then no longer held out from all members (the report says so);
        each member's own validation figure still is.
    dropout, l1, l2, batch_norm, width
        When set, passed to every member that has the option.

    Examples
    --------
    >>> m = ensemble((101, 40), 10, members=["cnn", "tc_resnet8"])  # doctest: +SKIP
    """
    if fit not in ("separately", "together"):
        raise ModelError(f"ensemble: fit must be 'separately' or 'together', got {fit!r}")
    if validation not in ("shared", "rotate"):
        raise ModelError(f"ensemble: validation must be 'shared' or 'rotate', got {validation!r}")
    common = dict(dropout=dropout, l1=l1, l2=l2, batch_norm=batch_norm, width=width)
    models = [spec.build(input_shape, n_classes, **o) for _, spec, o in _members(members, member_options, common)]
    return average_models(models, input_shape, names=list(members))


def _members(members, member_options, common) -> list:
    """``[(name, ModelSpec, options)]`` of an ensemble's members: each member's own options over
    the ensemble's common regularization options (those that are set and the member accepts)."""
    from auricle.models.registry import get_model

    members = list(members)
    opts = list(member_options or [{}] * len(members))
    if len(members) < 2 or len(opts) != len(members):
        raise ModelError(f"ensemble: {len(members)} member(s) and {len(opts)} member_options",
                         fix="list two or more members and one options mapping per member (or none)")
    out = []
    for name, o in zip(members, opts):
        spec = get_model(name)
        if spec.kind != "keras" or name == "ensemble":
            raise ModelError(f"ensemble: member '{name}' must be a Keras model other than ensemble",
                             fix="list registered Keras models (classic models and ensembles cannot be members)")
        shared = {k: v for k, v in (common or {}).items() if v is not None and k in spec.defaults}
        out.append((name, spec, {**shared, **(o or {})}))
    return out


def combine_runs(run_dirs, out_dir, *, overwrite: bool = False, evaluate: bool = True, console=None) -> dict | None:
    """Average separately trained runs into one run directory.

    The runs must have the same labels (same order) and the same feature settings
    (``features.json``); the new run copies the first run's config, labels and features, holds
    one ``model.keras`` averaging the members' probabilities, and (``evaluate=True``) is
    evaluated on the first run's test split like a trained run.

    Returns
    -------
    dict or None
        The test metrics, as written to ``OUT/metrics.json`` (None with ``evaluate=False``).

    Examples
    --------
    >>> combine_runs(["runs/cnn", "runs/tc"], "runs/both")  # doctest: +SKIP
    """
    from auricle.config import RunConfig
    from auricle.models.registry import load_model
    from auricle.training import prepare_run_dir

    run_dirs = [Path(r) for r in run_dirs]
    if len(run_dirs) < 2:
        raise RunError("an ensemble needs at least two runs", fix="pass two or more run directories")
    first = None
    for r in run_dirs:
        for f in ("config.yaml", "labels.json", "features.json", "model.keras"):
            if not (r / f).exists():
                raise RunError(f"not a finished Keras run (missing {f})", path=r,
                               fix="pass run directories written by `auricle train` with a Keras model")
        labels, feats = json.loads((r / "labels.json").read_text()), json.loads((r / "features.json").read_text())
        if first is None:
            first = (r, labels, feats)
            continue
        if labels != first[1]:
            raise RunError(f"labels differ from {first[0]}: {labels} vs {first[1]}", path=r,
                           fix="only runs trained on the same classes can be averaged")
        diff = sorted(k for k in set(feats) | set(first[2]) if feats.get(k) != first[2].get(k))
        if diff:
            raise RunError(f"feature settings differ from {first[0]}: "
                           + ", ".join(f"{k}={feats.get(k)!r} vs {first[2].get(k)!r}" for k in diff), path=r,
                           fix="average runs trained with the same features (same recipe features: and data settings)")
    out = Path(out_dir)
    if out.resolve() in {r.resolve() for r in run_dirs}:
        raise RunError("the output folder is one of the members", path=out, fix="choose a new --out folder")
    prepare_run_dir(out, overwrite=overwrite, resume=False)
    models = [load_model(r / "model.keras") for r in run_dirs]
    member_models = [RunConfig.load(r / "config.yaml").model for r in run_dirs]
    names = [m["name"] for m in member_models]
    if "ensemble" in names:
        raise RunError("a member run is itself an ensemble", path=run_dirs[names.index("ensemble")],
                       fix="pass its member runs (RUN/members/*) instead")
    model = average_models(models, models[0].input_shape[1:], names=names)
    cfg = RunConfig.load(run_dirs[0] / "config.yaml")
    cfg.model = {"name": "ensemble", "options": {"members": names,
                                                 "member_options": [dict(m.get("options") or {}) for m in member_models]}}
    cfg.save(out / "config.yaml")
    (out / "members.json").write_text(json.dumps([str(r.resolve()) for r in run_dirs], indent=1))
    for f in ("labels.json", "features.json"):
        shutil.copyfile(run_dirs[0] / f, out / f)
    model.save(str(out / "model.keras"))
    if not evaluate:
        return None
    from auricle.evaluation import evaluate_run

    m = evaluate_run(out, out_dir=out, console=console, progress=False)
    return m


_COMMON = ("dropout", "l1", "l2", "batch_norm", "width")


def member_configs(cfg) -> list:
    """The run config of each member of an ``ensemble`` config: the same data, features,
    augmentation and training, the member's model and options (plus the ensemble's common
    regularization options it accepts), and the seed plus how many members of the same family
    came before (two cnns get seeds 0 and 1)."""
    from auricle.config import RunConfig

    opts = dict(cfg.model.get("options") or {})
    members = _members(opts.get("members") or ("cnn", "tc_resnet14"), opts.get("member_options"),
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
    return cfg.model.get("name") == "ensemble" and (cfg.model.get("options") or {}).get("fit", "separately") == "separately"


def train_separately(cfg, run_dir, *, overwrite: bool = False, resume: bool = False, console=None,
                     progress: bool = True) -> dict:
    """Train each member of an ``ensemble`` config as its own run in ``RUN/members/m<i>_<name>``,
    then write ``RUN`` as one run holding their average (evaluated, reported, exportable).

    A member that finished is kept on ``resume``; an interrupted one resumes from its checkpoint.
    """
    import time

    from rich.console import Console

    from auricle import data as data_mod
    from auricle.config import RunConfig
    from auricle.evaluation import evaluate_prepared
    from auricle.models.registry import load_model
    from auricle.runs import atomic_write as _atomic_write
    from auricle.runs import read_history as _read_history
    from auricle.training import (TrainingInterrupted, check_model_options, prepare_run_dir,
                                   resolve_auto_settings, train)

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
                train(None, d, resume=True, console=console, progress=progress)
            else:
                train(sub, d, overwrite=True, console=console, progress=progress)
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
