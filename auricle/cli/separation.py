"""``auricle separate``, ``separate-train``, ``separate-eval``, ``separate-demo``: source separation.

``separate`` follows Spleeter's interface: ``auricle separate FILE... -p MODEL -o OUT`` writes
``OUT/<file name>/<stem>.<codec>``.  MODEL is a run directory, or a preset name whose trained
separator lives in the models folder (``~/.cache/auricle/separators/<preset>``, where
``separate-train`` puts it when no ``--out`` is given).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from auricle.cli._app import _parse_value, app, console, err_console, friendly


def _models_dir() -> Path:
    from auricle.data import default_cache_dir

    return default_cache_dir() / "separators"


def _resolve_model(model: str) -> Path:
    from auricle.errors import RunError
    from auricle.separation.presets import PRESETS

    p = Path(model).expanduser()
    if p.is_dir():
        return p
    key = model.split(":", 1)[1] if model.startswith("spleeter:") else model
    if key in PRESETS:
        cand = _models_dir() / key
        if (cand / "separation.json").exists():
            return cand
        raise RunError(f"no trained separator for preset {key!r} yet", path=cand,
                       fix=f"train one: auricle separate-train DATA -p {key} (or `auricle separate-demo`), "
                           f"or pass a run directory with -p RUN")
    raise RunError("not a run directory or a preset name", path=model,
                   fix=f"pass a separation run directory, or one of {', '.join(sorted(PRESETS))}")


@app.command("separate")
@friendly
def separate(
    inputs: List[Path] = typer.Argument(..., help="Audio files or folders of audio files."),
    model: str = typer.Option("4stems-small", "--preset", "-p", "--model",
                              help="A separation run directory, or a preset whose trained separator is installed."),
    out: Path = typer.Option(Path("separated"), "--output", "-o", help="Writes OUT/<file name>/<stem>.<codec>."),
    codec: str = typer.Option("wav", "--codec", "-c", help="wav, flac, ogg or mp3."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace stems written earlier."),
    runtime: str = typer.Option("auto", "--runtime", help="auto (the ONNX export when present), keras, onnx or tflite."),
    wiener: bool = typer.Option(False, "--wiener", help="Multichannel Wiener filtering instead of ratio masks."),
    overlap: float = typer.Option(1.0, "--overlap", help="Seconds of cross-fade between chunks."),
):
    """Separate songs into stems (vocals / accompaniment, or vocals / drums / bass / [piano] / other)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from auricle.errors import AuricleError
    from auricle.inference import expand_inputs
    from auricle.separation.separate import Separator

    run = _resolve_model(model)
    files = expand_inputs(inputs)
    sep = Separator.load(run, runtime=runtime, mask="wiener" if wiener else None, overlap=overlap)
    failed = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=err_console, transient=False) as bar:
        for f in files:
            task = bar.add_task(f.name, total=1.0)
            try:
                written = sep.separate_file(f, out, codec=codec, overwrite=overwrite,
                                            progress=lambda frac, t=task: bar.update(t, completed=frac))
            except AuricleError as exc:
                bar.update(task, description=f"[red]{f.name}: failed[/red]")
                failed.append((f, exc))
                continue
            bar.update(task, completed=1.0)
            console.print(f"{f} -> {next(iter(written.values())).parent}/{{{','.join(written)}}}.{codec}")
    for f, exc in failed:
        err_console.print(f"[bold red]error:[/bold red] {exc}")
    if failed:
        raise typer.Exit(2)


@app.command("separate-train")
@friendly
def separate_train(
    data: str = typer.Argument("demo", help="Stems dataset: <song>/<stem>.wav folders, MUSDB18-style, or a CSV manifest; 'demo' for the generated songs."),
    preset: str = typer.Option("4stems-small", "--preset", "-p", help="2stems, 4stems, 5stems, their -16kHz/-22kHz/-small variants."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default: the models folder, so `separate -p PRESET` finds it)."),
    epochs: Optional[int] = typer.Option(None, help="Epochs."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Batches per epoch."),
    batch_size: Optional[int] = typer.Option(None, help="Patches per batch."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate."),
    seed: Optional[int] = typer.Option(None, help="Random seed."),
    sets: List[str] = typer.Option([], "--set", help="Any setting, e.g. --set remix=0.8 --set preset_overrides.model_options.width=4"),
    config: Optional[Path] = typer.Option(None, "--config", help="A YAML file of settings (a run's config.yaml)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last finished epoch."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier run in --out."),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip separating and scoring the test songs."),
):
    """Train a U-Net separator on a stems dataset; writes a run directory with curves, SDR and a report."""
    import yaml

    from auricle.cli._app import quiet_keras

    settings: dict = {}
    if config is not None:
        settings.update({k: v for k, v in (yaml.safe_load(config.read_text()) or {}).items()})
    settings.update({"data": data, "preset": preset} if config is None else {})
    for k, v in (("epochs", epochs), ("steps_per_epoch", steps), ("batch_size", batch_size), ("lr", lr), ("seed", seed)):
        if v is not None:
            settings[k] = v
    for s in sets:
        if "=" not in s:
            from auricle.errors import ConfigError

            raise ConfigError(f"--set {s!r} is not key=value", fix="e.g. --set remix=0.8")
        key, val = s.split("=", 1)
        node = settings
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _parse_value(val)
    quiet_keras()
    from auricle.separation.training import SeparationConfig, train_separator

    cfg = SeparationConfig.from_dict(settings)
    run = out or _models_dir() / cfg.resolved_preset().name
    train_separator(cfg, run, overwrite=overwrite, resume=resume, console=err_console, evaluate=not no_eval)
    console.print(f"[bold green]done[/bold green]: {run} (report: {run / 'report.md'}); "
                  f"separate with: auricle separate SONG.wav -p {run}")


@app.command("separate-eval")
@friendly
def separate_eval(
    run: Path = typer.Argument(..., help="Separation run directory."),
    dataset: Optional[Path] = typer.Argument(None, help="Stems dataset to score on (default: the run's test songs)."),
    runtime: str = typer.Option("auto", "--runtime", help="auto, keras, onnx or tflite."),
    wiener: bool = typer.Option(False, "--wiener", help="Multichannel Wiener filtering instead of ratio masks."),
    seconds: Optional[float] = typer.Option(None, "--seconds", help="Score at most this many seconds of each song."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the metrics and pictures."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
):
    """SDR / SIR / SAR (BSS Eval v4) per stem and song, with the mixture and oracle-mask baselines."""
    from auricle.cli._app import quiet_keras

    if runtime in ("auto", "keras"):
        quiet_keras()
    from auricle.separation.evaluate import evaluate_run

    summary = evaluate_run(run, dataset, runtime=runtime, mask="wiener" if wiener else None, out_dir=out,
                           console=None if as_json else err_console, max_seconds=seconds)
    if as_json:
        print(json.dumps(summary, indent=1))


@app.command("separate-demo")
@friendly
def separate_demo(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default: the models folder)."),
    preset: str = typer.Option("4stems-small", "--preset", "-p", help="Preset to train."),
    epochs: Optional[int] = typer.Option(None, help="Epochs (default: the config's)."),
    overwrite: bool = typer.Option(True, "--overwrite/--keep", help="Replace an earlier demo run."),
):
    """Render the demo songs (if needed), train a separator on them and score it on held-out songs."""
    from auricle.cli._app import quiet_keras

    quiet_keras()
    from auricle.separation.training import SeparationConfig, train_separator

    cfg = SeparationConfig(data="demo", preset=preset)
    if epochs:
        cfg.epochs = epochs
    run = out or _models_dir() / cfg.resolved_preset().name
    train_separator(cfg, run, overwrite=overwrite, console=err_console)
    console.print(f"[bold green]done[/bold green]: {run} (report: {run / 'report.md'})")
