"""Model-zoo commands: list models, compare runs, tune hyperparameters."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from auricle.cli._app import app, console, friendly, quiet_keras


@app.command()
@friendly
def models(
    features: str = typer.Option("kws", "--input", "-i",
                                 help="Feature preset giving the input shape (kws, seed, ...), or FRAMESxBINS "
                                      "such as 49x10."),
    classes: int = typer.Option(10, help="Number of classes."),
):
    """List registered models with their size and cost (default options) for an input.

    Columns: parameters (all weights), multiply-accumulates per example, weight memory at
    float32 and int8, whether the model can stream, and its description.
    """
    import re

    from rich.table import Table

    from auricle.errors import ConfigError
    from auricle.models import list_models
    from auricle.models.profile import model_profile

    m = re.fullmatch(r"\s*(\d+)\s*[xX,]\s*(\d+)\s*", features)
    if m:
        shape = (int(m.group(1)), int(m.group(2)))
    else:
        from auricle.features import preset

        shape = preset(features).output_shape
    if classes < 2:
        raise ConfigError(f"--classes must be at least 2, got {classes}", fix="pass --classes N with N >= 2")

    def human(n: float) -> str:
        for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
            if n >= div:
                return f"{n / div:.2f}{unit}"
        return f"{n:.0f}"

    # descriptions squeezed into a narrow terminal wrap a word per line and bury the numbers:
    # below 110 columns they are left out (`COLUMNS=200 auricle models` shows them)
    wide = console.width >= 110

    def desc(text):  # the description cell, or none in a narrow terminal
        return [text] if wide else []

    t = Table(title=f"models for input {features} {shape}, {classes} classes"
              + ("" if wide else " (widen the terminal for descriptions)"))
    for c in ("name", "params", "MACs", "float32 kB", "int8 kB", "streaming") + (("description",) if wide else ()):
        t.add_column(c, justify="right" if c in ("params", "MACs", "float32 kB", "int8 kB") else "left",
                     no_wrap=c != "description")
    for spec in list_models():
        if spec.kind == "classic":
            t.add_row(spec.name, "-", "-", "-", "-", "no", *desc(f"(classic, summary features) {spec.description}"))
            continue
        try:
            p = model_profile(spec.build(shape, classes))
        except Exception as exc:  # a model that cannot take this input (e.g. too few frames)
            t.add_row(spec.name, "-", "-", "-", "-", spec.streamable,
                      *desc(f"[red]cannot build for {shape}: {type(exc).__name__}[/red]"))
            continue
        t.add_row(spec.name, f"{p['params']:,}", human(p["macs"]), f"{p['kb_float32']:.1f}",
                  f"{p['kb_int8']:.1f}", spec.streamable, *desc(spec.description))
    console.print(t)


@app.command()
@friendly
def compare(
    runs: List[Path] = typer.Argument(..., help="Run directories (Keras or classic) to compare."),
    out: Optional[Path] = typer.Option(Path("compare.png"), "--out", "-o",
                                       help="Bar chart PNG to write ('' for none)."),
    clips: int = typer.Option(256, help="Clips per timed batch (from each run's test split)."),
    repeats: int = typer.Option(5, help="Timed repeats; the median is shown."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the rows as JSON."),
):
    """Compare finished runs: accuracy, macro-F1, size, training time and inference cost.

    Accuracy and macro-F1 are each run's own evaluation (metrics.json, test split); train
    time is the fit time it recorded.  Size is Keras parameters, or for classic models the
    trees / support vectors / stored examples.  Inference is measured now on one batch of
    the run's test clips (median of --repeats after a warm-up), split into feature
    extraction and the model, in milliseconds per clip.
    """
    import json

    from rich.table import Table

    from auricle.classic.compare import compare_runs, plot_compare
    from auricle.errors import ConfigError

    if clips < 1 or repeats < 1:
        raise ConfigError("--clips and --repeats must be >= 1")
    if any((Path(r) / "model.keras").exists() for r in runs):
        quiet_keras()
    rows = compare_runs(runs, max_clips=clips, repeats=repeats)
    t = Table(title=f"{len(rows)} runs ({rows[0].get('evaluated_on') or 'test'} split)")
    for c in ("run", "model", "acc", "F1", "size", "train s", "feat ms", "model ms"):
        t.add_column(c, justify="left" if c in ("run", "model", "size") else "right",
                     no_wrap=c not in ("run", "model", "size"), min_width=8 if c == "run" else None)
    best = max((r["accuracy"] or 0) for r in rows)
    for r in rows:
        acc = f"{r['accuracy']:.1%}" if r["accuracy"] is not None else "-"
        if r["accuracy"] == best:
            acc = f"[bold green]{acc}[/bold green]"
        t.add_row(r["name"], r["model"], acc, f"{r['macro_f1']:.3f}" if r["macro_f1"] is not None else "-",
                  _short_size(r), f"{r['train_seconds']:.1f}" if r["train_seconds"] is not None else "-",
                  f"{r['feature_ms']:.2f}", f"{r['model_ms']:.3f}")
    console.print(t)
    notes = sorted({f"{r['batch']} {r['timed_on']}" for r in rows})
    console.print(f"[dim]size: Keras parameters, or trees / support vectors / stored examples / weights; "
                  f"feat ms and model ms: per clip, median batch of {'; '.join(notes)} on this machine now[/dim]")
    if out and str(out):
        plot_compare(rows, out)
        console.print(f"chart: {out}")
    if json_out:
        json_out.write_text(json.dumps(rows, indent=1))


@app.command()
@friendly
def tune(
    config: Path = typer.Argument(..., help="YAML config to start from (data, model, features...)."),
    trials: int = typer.Option(20, "--trials", "-n", help="Number of trials."),
    epochs: Optional[int] = typer.Option(None, help="Epochs per trial (default: the config's, at most 10)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (best.yaml, trials.csv, search.png)."),
    params: Optional[str] = typer.Option(None, help="Comma-separated subset of: learning_rate, batch_size, "
                                                    "optimizer, l2, dropout, width, n_mels, n_mfcc."),
    timeout: Optional[float] = typer.Option(None, help="Start no new trial after this many seconds."),
    overwrite: bool = typer.Option(False, help="Write into a non-empty --out."),
):
    """Search hyperparameters with Optuna (TPE + median pruning) on the validation split.

    Each trial trains briefly and scores its best validation accuracy; bad trials are
    stopped early.  Writes OUT/best.yaml (train it fully with `auricle train --config
    OUT/best.yaml`), OUT/trials.csv and OUT/search.png.
    """
    quiet_keras()
    from auricle.classic.tuning import tune as run_tune
    from auricle.config import RunConfig

    cfg = RunConfig.load(config)
    names = [p.strip() for p in params.split(",") if p.strip()] if params else None
    run_tune(cfg, out, trials=trials, epochs=epochs, params=names, timeout=timeout, console=console,
             overwrite=overwrite)


def _short_size(row: dict) -> str:
    if row["kind"] == "keras":
        n = row["params"]
        return f"{n / 1e6:.2f}M params" if n >= 1e6 else (f"{n / 1e3:.1f}K params" if n >= 1e3 else f"{n} params")
    return row["size"].split(", ")[0].replace("support vectors", "SVs").replace("stored examples", "examples")
