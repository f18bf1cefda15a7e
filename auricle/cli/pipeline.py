"""Pipeline commands: train, demo, evaluate, predict, audit, models, recipes, presets."""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from auricle.errors import AuricleError
from auricle.cli._app import Fmt, _parse_value, app, console, err_console, friendly, quiet_keras

@app.command()
@friendly
def train(
    data: Optional[str] = typer.Argument(None, help="Dataset folder or CSV manifest ('demo' = built-in keywords)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory to write (default runs/<name>)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (a complete run description)."),
    recipe: str = typer.Option("auto", "--recipe", "-r", help="Named recipe to start from (see `auricle recipes`); "
                               "auto (default) profiles the data and picks one, printing why."),
    folds: Optional[int] = typer.Option(None, "--folds", help="Cross-validate: one run per fold under OUT "
                                        "(the esc50 layout's folds, else group k-fold), summary with mean and spread."),
    layout: Optional[str] = typer.Option(None, help="Dataset layout (auto, folder, speech_commands, fsdd, esc50, gtzan, cremad, manifest)."),
    model: Optional[str] = typer.Option(None, help="Model name (see `auricle models`)."),
    features: Optional[str] = typer.Option(None, help="Feature preset (kws, seed, mfcc40, waveform)."),
    epochs: Optional[int] = typer.Option(None, help="Number of epochs."),
    batch_size: Optional[int] = typer.Option(None, help="Batch size."),
    optimizer: Optional[str] = typer.Option(None, help="adam, adamw, sgd, rmsprop."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate."),
    lr_schedule: Optional[str] = typer.Option(None, help="none, cosine, step, plateau."),
    loss: Optional[str] = typer.Option(None, help="categorical_crossentropy or focal."),
    dropout: Optional[float] = typer.Option(None, help="Dropout rate."),
    l1: Optional[float] = typer.Option(None, help="L1 penalty on kernels."),
    l2: Optional[float] = typer.Option(None, help="L2 penalty on kernels."),
    batch_norm: Optional[bool] = typer.Option(None, "--batch-norm/--no-batch-norm", help="Batch normalization on/off."),
    early_stopping: Optional[int] = typer.Option(None, help="Early-stopping patience in epochs (0 = off)."),
    class_weight: Optional[str] = typer.Option(None, help="'balanced' or label=weight,label=weight."),
    no_augment: bool = typer.Option(False, "--no-augment", help="Disable the recipe's augmentation."),
    keywords: Optional[str] = typer.Option(None, help="Target words, e.g. yes,no,up: the rest becomes _unknown_, "
                                           "plus _silence_ clips (shares: --set data.unknown_share=0.1)."),
    oversample: bool = typer.Option(False, "--oversample", help="Repeat minority-class examples up to the largest class."),
    seed: Optional[int] = typer.Option(None, help="Random seed (training)."),
    teacher: Optional[Path] = typer.Option(None, help="Distil from this finished run (same labels and features): "
                                           "it scores every training batch (weight: --set train.teacher_weight=0.7)."),
    test_groups: Optional[str] = typer.Option(None, help="Comma-separated groups (speakers) held out for test."),
    val_groups: Optional[str] = typer.Option(None, help="Comma-separated groups used for validation."),
    set_: List[str] = typer.Option([], "--set", help="Any config key, e.g. --set model.options.width=2 (repeatable)."),
    strict: bool = typer.Option(False, help="Fail on the first unreadable file instead of skipping it."),
    overwrite: bool = typer.Option(False, help="Replace an existing run directory."),
    resume: Optional[Path] = typer.Option(None, help="Continue an interrupted run directory."),
    tensorboard: bool = typer.Option(False, "--tensorboard", help="Also log each epoch for TensorBoard into "
                                     "RUN/tensorboard (curves.png is redrawn every epoch anyway)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes that decode and featurize "
                                          "(train.workers); with data.cache: shards, a local Dask cluster of N."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Build the training split's sharded cache on this "
                                          "Dask scheduler, e.g. tcp://host:8786 (sets data.cache_cluster, and "
                                          "data.cache: shards unless set; the cache folder must be shared)."),
):
    """Train a model and write a run directory (model, metrics, plots, report).

    Data larger than memory: --set data.cache=shards (or auto, the default, above a size threshold)
    streams the training split from a sharded feature cache built on --workers local Dask processes
    or the --cluster scheduler; both are recorded in the run's config.yaml.
    """
    quiet_keras()
    from auricle.config import RunConfig, recipe as get_recipe
    from auricle.training import train as run_train

    if resume is not None:
        run_train(None, resume, resume=True, console=console, tensorboard=tensorboard)
        return
    flag_args = dict(data=data, layout=layout, strict=strict, model=model, epochs=epochs, batch_size=batch_size,
                     optimizer=optimizer, lr=lr, lr_schedule=lr_schedule, loss=loss, early_stopping=early_stopping,
                     seed=seed, teacher=teacher, dropout=dropout, l1=l1, l2=l2, batch_norm=batch_norm,
                     features=features, class_weight=class_weight, test_groups=test_groups, val_groups=val_groups,
                     keywords=keywords, oversample=oversample, no_augment=no_augment, set_=set_)
    origin = None
    if model:  # an unknown name fails before any data is read
        from auricle.models.registry import get_model

        get_model(model)
    if config is None and recipe == "auto":
        from auricle.datasets.profile import auto_recipe, origin_record

        probe = RunConfig.from_dict(_train_overrides(get_recipe("default").to_dict(), **flag_args))
        choice, prof = auto_recipe(probe.data, console=console)
        recipe, origin = choice.name, origin_record(choice, prof)
    base = RunConfig.load(config).to_dict() if config else get_recipe(recipe).to_dict()
    d = _train_overrides(base, **flag_args)
    if workers is not None:
        d["train"]["workers"] = workers
    if cluster:
        if d["data"].get("cache") == "memory":
            from auricle.errors import ConfigError

            raise ConfigError("--cluster builds the sharded cache, but data.cache is memory",
                               fix="drop --cluster, or set data.cache: shards (or auto)")
        d["data"].update(cache="shards", cache_cluster=cluster)
    if origin is not None:
        d["origin"] = origin
    cfg = RunConfig.from_dict(d)
    out = out or Path("runs") / cfg.name
    if folds:
        from auricle.crossval import cross_validate

        cross_validate(cfg, out, folds=folds, overwrite=overwrite, console=console)
        console.print(f"[bold green]done.[/bold green] summary: {out / 'cv_summary.md'}")
        return
    run_train(cfg, out, overwrite=overwrite, console=console, tensorboard=tensorboard)
    console.print(f"[bold green]done.[/bold green] report: {out / 'report.md'}")


def _train_overrides(base: dict, *, data, layout, strict, model, epochs, batch_size, optimizer, lr, lr_schedule, loss,
                     early_stopping, seed, teacher, dropout, l1, l2, batch_norm, features, class_weight, test_groups,
                     val_groups, keywords, oversample, no_augment, set_) -> dict:
    """``auricle train``'s flags applied over a recipe's (or config's) mapping."""
    from auricle.config import set_dotted

    d = base
    flags = {"data.root": data, "data.layout": layout, "data.strict": strict or None, "model.name": model,
             "train.epochs": epochs, "train.batch_size": batch_size, "train.optimizer": optimizer,
             "train.learning_rate": lr, "train.lr_schedule": lr_schedule, "train.loss": loss,
             "train.early_stopping": early_stopping, "train.seed": seed,
             "train.teacher": None if teacher is None else str(teacher.resolve()),
             "model.options.dropout": dropout, "model.options.l1": l1, "model.options.l2": l2,
             "model.options.batch_norm": batch_norm}
    if model and model != base["model"]["name"]:
        d["model"] = {"name": model, "options": {}}
    if features:
        d["features"] = {"preset": features, **{k: v for k, v in d["features"].items() if k == "normalize"}}
    for k, v in flags.items():
        if v is not None:
            set_dotted(d, k, v)
    if class_weight:
        set_dotted(d, "train.class_weight", "balanced" if class_weight == "balanced" else
                   {kv.split("=")[0]: float(kv.split("=")[1]) for kv in class_weight.split(",")})
    if test_groups:
        set_dotted(d, "data.test_groups", test_groups.split(","))
    if val_groups:
        set_dotted(d, "data.val_groups", val_groups.split(","))
    if keywords:
        set_dotted(d, "data.keywords", [k.strip() for k in keywords.split(",") if k.strip()])
    if oversample:
        set_dotted(d, "train.oversample", True)
    if no_augment:
        d["augment"] = {}
    for item in set_:
        if "=" not in item:
            raise AuricleError(f"--set expects key=value, got '{item}'")
        k, v = item.split("=", 1)
        set_dotted(d, k, _parse_value(v))
    return d


@app.command()
@friendly
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Run directory."),
    epochs: Optional[int] = typer.Option(None, help="Override the recipe's epochs."),
    overwrite: bool = typer.Option(True, help="Replace an earlier demo run."),
):
    """Train the default recipe on the built-in keyword data (unseen test voices) and print where the report is."""
    quiet_keras()
    import time

    from auricle.config import recipe
    from auricle.training import train as run_train

    t0 = time.time()
    over = {"name": "demo"}
    if epochs:
        over["train"] = {"epochs": epochs}
    m = run_train(recipe("default", over), out, overwrite=overwrite, console=console)
    console.print(f"[bold green]demo finished in {time.time() - t0:.0f}s[/bold green]: test accuracy on unseen voices "
                  f"{m['accuracy']:.1%}")
    console.print(f"report: {out / 'report.md'}  (plots: {out / 'confusion.png'}, {out / 'curves.png'})")
    console.print(f"try: auricle predict {out} data/demo/clips/yes")


@app.command()
@friendly
def evaluate(
    run: Path = typer.Argument(..., help="Run directory."),
    dataset: Optional[Path] = typer.Argument(None, help="Another dataset with the same labels (default: the run's test split)."),
    layout: str = typer.Option("auto", help="Layout of DATASET."),
    out: Optional[Path] = typer.Option(None, help="Where to write the metrics and plots."),
):
    """Metrics and plots of a trained run on its test split or another dataset."""
    quiet_keras()
    from auricle.evaluation import evaluate_run

    evaluate_run(run, dataset, layout=layout, out_dir=out, console=console)


@app.command()
@friendly
def ensemble(
    runs: List[Path] = typer.Argument(..., help="Two or more run directories trained with the same labels and features."),
    out: Path = typer.Option(..., help="New run directory for the averaged model."),
    overwrite: bool = typer.Option(False, help="Replace OUT if it exists."),
    no_eval: bool = typer.Option(False, "--no-eval", help="Do not evaluate on the first run's test split."),
):
    """Average separately trained runs into one run (predict, evaluate, export it like any run)."""
    quiet_keras()
    from auricle.models.ensemble import combine_runs

    combine_runs(runs, out, overwrite=overwrite, evaluate=not no_eval, console=console)
    console.print(f"ensemble of {len(runs)} runs -> {out}")


@contextlib.contextmanager
def _stdout_to_stderr(active: bool):
    """While loading and predicting for ``--format json/csv``, anything written to standard output
    (library progress, C++ banners on fd 1) goes to standard error, so stdout holds only the data."""
    if not active:
        yield
        return
    sys.stdout.flush()
    saved = None
    try:
        if sys.stdout.fileno() == 1:
            saved = os.dup(1)
            os.dup2(2, 1)
    except (AttributeError, OSError, ValueError):  # a captured stdout (tests) has no file descriptor
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _reason(p) -> str:
    """A Prediction's error without the path it starts with."""
    return p.error[len(p.path) + 2:] if p.error.startswith(p.path + ": ") else p.error


@app.command()
@friendly
def predict(
    run: Path = typer.Argument(..., help="Run directory (or an `auricle export` folder with --runtime)."),
    inputs: List[Path] = typer.Argument(..., help="Audio files or folders."),
    top_k: int = typer.Option(3, help="How many labels per file."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f", help="table, json or csv (only the data on stdout)."),
    per_window: bool = typer.Option(False, help="Also show each window of long files."),
    window_hop: Optional[float] = typer.Option(None, help="Seconds between windows for long files (default half a clip)."),
    aggregate: str = typer.Option("mean", help="How windows combine: mean (of probabilities) or majority."),
    runtime: Optional[str] = typer.Option(None, help="Default: the run's ONNX export when it has a fresh one "
                                          "(no TensorFlow), else Keras. keras forces the Keras model; onnx or "
                                          "tflite run an export."),
):
    """Top-k labels with probabilities for audio files (same preprocessing as training).

    Exits 1 when some input could not be read (every result is still printed; standard error
    names each failing file in full)."""
    from auricle.inference import expand_inputs, fresh_export, load_for_predict, predict_files

    machine = fmt != Fmt.table
    with _stdout_to_stderr(machine):
        if runtime == "keras" or (runtime is None and fresh_export(run) is None):
            quiet_keras()
        r, how = load_for_predict(run, runtime)
        preds = predict_files(r, expand_inputs(inputs), top_k=top_k, window_hop=window_hop, per_window=per_window,
                              aggregate=aggregate)
    if fmt == Fmt.json:
        print(json.dumps([p.to_dict() for p in preds], indent=1))
    elif fmt == Fmt.csv:
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["path", "rank", "label", "probability", "error"])
        for p in preds:
            if p.error:
                w.writerow([p.path, "", "", "", p.error])
            for i, (lab, pr) in enumerate(p.top):
                w.writerow([p.path, i + 1, lab, f"{pr:.6f}", ""])
    else:
        from rich.table import Table

        t = Table(caption=f"model: {how}")
        t.add_column("file", overflow="fold")
        for i in range(top_k):
            t.add_column(f"#{i + 1}", overflow="fold")
        for p in preds:
            if p.error:
                t.add_row(p.path, f"[red]{_reason(p)}[/red]")
                continue
            t.add_row(p.path, *[f"{lab} {pr:.1%}" for lab, pr in p.top])
            for w in p.windows or []:
                t.add_row(f"  {w['start']:.2f}-{w['end']:.2f}s", f"{w['label']} {w['probability']:.1%}")
        console.print(t)
    noted = [p for p in preds if getattr(p, "note", None)]
    if noted:  # plain lines on standard error, each file named in full
        sys.stdout.flush()
        for p in noted:
            print(f"note: {p.path}: {p.note}", file=sys.stderr)
    failed = [p for p in preds if p.error]
    if failed:
        # plain lines (no wrapping): each failing file named in full
        sys.stdout.flush()
        print(f"error: {len(failed)} of {len(preds)} file(s) could not be read:", file=sys.stderr)
        for p in failed:
            print(f"  {p.path}: {_reason(p)}", file=sys.stderr)
        raise typer.Exit(1)


@app.command()
@friendly
def audit(
    dataset: Path = typer.Argument(..., help="Dataset folder or CSV manifest."),
    layout: str = typer.Option("auto", help="Layout."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    val: float = typer.Option(0.15, help="Validation share when the layout defines no split."),
    test: float = typer.Option(0.15, help="Test share when the layout defines no split."),
    seed: int = typer.Option(0, help="Split seed."),
):
    """Class counts, durations, unreadable/silent/duplicate files and group leaks across splits."""
    from auricle import datasets

    ds = datasets.index(dataset, layout=layout)
    ds = datasets.split(ds, val=val, test=test, seed=seed)
    report = datasets.audit(ds, progress=not as_json)
    if as_json:
        print(json.dumps(report.to_dict(), indent=1, default=str))
    else:
        report.render(console)


@app.command()
@friendly
def recipes():
    """List named recipes (complete configs) and print their settings."""
    import yaml

    from auricle.config import list_recipes, recipe

    for name in list_recipes():
        console.rule(name)
        console.print(yaml.safe_dump(recipe(name).to_dict(), sort_keys=False))


@app.command()
@friendly
def presets():
    """List feature presets and their output shapes."""
    from rich.table import Table

    from auricle.features import PRESETS

    t = Table()
    for c in ("name", "kind", "sr", "shape (frames, bins)", "settings"):
        t.add_column(c)
    for name, fc in PRESETS.items():
        d = fc.to_dict()
        t.add_row(name, fc.kind, str(fc.sr), str(fc.output_shape),
                  ", ".join(f"{k}={v}" for k, v in d.items() if k not in ("kind", "sr")))
    console.print(t)

