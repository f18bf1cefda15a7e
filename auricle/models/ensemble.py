"""Ensembles: several registered models on the same features, class probabilities averaged.

Two ways to get one, both ending in the same kind of Keras model (members as nested models,
a ``keras.layers.Average`` on their softmax outputs), so a run directory holding an ensemble
predicts, evaluates, streams (windowed) and exports like any other:

* ``model: {name: ensemble, options: {members: [cnn, tc_resnet14]}}``: ``auricle train`` trains
  each member as its own run under ``RUN/members/`` (its own best epoch, report and resume
  point), then averages them (:func:`auricle.training.ensemble.train_separately`).
  ``fit: together`` instead fits the averaged model as one network (one loss on the averaged
  probabilities); its members co-adapt and score lower on unseen speakers, so separately is the default (docs/experiments/ensembles.md);
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
    models = [spec.build(input_shape, n_classes, **o)
              for _, spec, o in member_specs(members, member_options, common)]
    return average_models(models, input_shape, names=list(members))


def member_specs(members, member_options, common) -> list:
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
    from auricle.training.rundir import prepare_run_dir

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
