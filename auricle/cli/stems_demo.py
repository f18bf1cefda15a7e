"""``auricle make-stems``: generate the built-in demo songs for source separation (exact stems)."""
from __future__ import annotations

from pathlib import Path

import typer

from auricle.cli._app import app, console, friendly


@app.command("make-stems")
@friendly
def make_stems(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write {train,valid,test}/<song>/*.wav, manifest.csv, LICENSES.md."),
    train: int = typer.Option(24, "--train", help="Training songs (FluidR3_GM and MuseScore_General_Lite soundfonts)."),
    valid: int = typer.Option(4, "--valid", help="Validation songs (the training soundfonts)."),
    test: int = typer.Option(6, "--test", help="Test songs (TimGM6mb: a soundfont no training song uses)."),
    seconds: float = typer.Option(20.0, "--seconds", help="Length of every song in seconds."),
    sr: int = typer.Option(16000, "--sr", help="Sample rate; fluidsynth renders at it directly."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed writes the same files."),
    speech: bool = typer.Option(True, "--speech/--no-speech", help="Add espeak-ng's sung syllables to the vocals."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier demo set in --out."),
):
    """Compose songs and render every instrument on its own with fluidsynth: exact stems to train a separator on.

    Each song has vocals, drums, bass, piano and other stems (stereo, 16-bit) and mixture.wav, their exact sum.  Needs fluidsynth and the GM soundfonts: sudo apt-get install fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont-small
    """
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from auricle.separation.demo import make_demo_stems

    t0 = time.perf_counter()
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("rendering songs", total=train + valid + test)
        make_demo_stems(out, n_train=train, n_valid=valid, n_test=test, seconds=seconds, sr=sr, seed=seed,
                        overwrite=overwrite, vocals_speech=speech,
                        progress=lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"[bold green]wrote[/bold green] {train + valid + test} songs to {out} "
                  f"in {time.perf_counter() - t0:.1f} s (manifest: {out / 'manifest.csv'})")
