"""Ensembles: several registered models on the same features, class probabilities averaged.

Two ways to get one, both ending in the same kind of Keras model (members as nested models,
a ``keras.layers.Average`` on their softmax outputs), so a run directory holding an ensemble
predicts, evaluates, streams (windowed) and exports like any other:

* ``model: {name: ensemble, options: {members: [cnn, tc_resnet14]}}`` builds the members
  untrained and ``auricle train`` fits them together (one loss on the averaged probabilities,
  the same batches and augmentation for every member);
* :func:`combine_runs` (``auricle ensemble RUN RUN ... --out DIR``) averages runs that were
  trained separately, after checking they share labels and features.

Why: on FSDD leave-one-speaker-out the 2-D ``cnn`` and the temporal ``tc_resnet14`` fail on
different speakers (george: 84% vs 69%; lucas: 88% vs 95%), and the average of the two
separately trained runs scored 88.5% against 85.7% and 85.3% alone (bench/RESULTS.md).
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


@register_model("ensemble", description="Members (default cnn + tc_resnet14) trained together on the same "
                "batches; their class probabilities are averaged", streamable="window")
def ensemble(input_shape, n_classes, *, members=("cnn", "tc_resnet14"), member_options=None,
             dropout=None, l1=None, l2=None, batch_norm=None, width=None):
    """Average of several registered models.

    Parameters
    ----------
    members : sequence of str
        Registered Keras model names (a name may repeat).
    member_options : sequence of dict, optional
        Options for each member, in the same order (``None`` or ``{}``: that model's defaults).
    dropout, l1, l2, batch_norm, width
        When set, passed to every member that has the option.

    Examples
    --------
    >>> m = ensemble((101, 40), 10, members=["cnn", "tc_resnet8"])  # doctest: +SKIP
    """
    from auricle.models.registry import get_model

    members = list(members)
    opts = list(member_options or [{}] * len(members))
    if len(opts) != len(members):
        raise ModelError(f"ensemble: {len(members)} members but {len(opts)} member_options",
                         fix="give one options mapping per member (or none)")
    if "ensemble" in members:
        raise ModelError("ensemble: a member cannot itself be an ensemble", fix="list the models directly")
    common = {k: v for k, v in dict(dropout=dropout, l1=l1, l2=l2, batch_norm=batch_norm, width=width).items()
              if v is not None}
    models = []
    for name, o in zip(members, opts):
        spec = get_model(name)
        if spec.kind != "keras":
            raise ModelError(f"ensemble: '{name}' is a classic model", fix="ensemble members must be Keras models")
        shared = {k: v for k, v in common.items() if k in spec.defaults}
        models.append(spec.build(input_shape, n_classes, **{**shared, **(o or {})}))
    return average_models(models, input_shape, names=members)


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
    names = [RunConfig.load(r / "config.yaml").model["name"] for r in run_dirs]
    model = average_models(models, models[0].input_shape[1:], names=names)
    cfg = RunConfig.load(run_dirs[0] / "config.yaml")
    cfg.model = {"name": "ensemble", "options": {"members": names}}
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
