"""``auricle make-instruments`` / ``make-genres``: render instrument and genre sets from General MIDI soundfonts."""
from __future__ import annotations

from pathlib import Path

import typer

from auricle.cli._app import app, console, friendly


@app.command("make-instruments")
@friendly
def make_instruments_cmd(
    out: Path = typer.Argument(..., help="Folder to write {train,valid,test}/<instrument>/<source>.wav, manifest.csv, LICENSES.md."),
    train: int = typer.Option(20, "--train", help="Training melodies (each played by every instrument)."),
    valid: int = typer.Option(5, "--valid", help="Validation melodies (training soundfonts)."),
    test: int = typer.Option(8, "--test", help="Test melodies, rendered with the held-out soundfont only."),
    seconds: float = typer.Option(5.0, "--seconds", help="Length of every recording in seconds."),
    sr: int = typer.Option(22050, "--sr", help="Sample rate; fluidsynth renders at it directly."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed writes the same files."),
    instruments: str = typer.Option("", "--instruments", help="Comma-separated subset (default: all ten: "
                                    "piano,guitar,violin,cello,flute,trumpet,organ,clarinet,saxophone,marimba)."),
    test_soundfont: str = typer.Option("TimGM6mb", "--test-soundfont",
                                       help="Soundfont of the test split only (held out of training with its family): "
                                            "TimGM6mb, FluidR3_GM, MuseScore_General_Lite, MuseScore_General_Full, "
                                            "sf_GMbank or OPL-3_FM_128M."),
    valid_soundfont: str = typer.Option("", "--valid-soundfont",
                                        help="Soundfont of the validation split only, held out of training with its "
                                             "family (choose settings on it, not on the test one); default: validation "
                                             "uses the training soundfonts."),
    train_soundfonts: str = typer.Option("", "--train-soundfonts",
                                         help="Comma-separated soundfonts to train on (default: every one installed "
                                              "but OPL-3_FM_128M)."),
    vary: bool = typer.Option(True, "--vary/--plain", help="Render each training recording its own way (program "
                              "variant, tempo, key, velocity curve, pan, chorus, room) or all plainly."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier set in OUT."),
):
    """Render seeded melodies on ten GM instruments with fluidsynth: an instrument set split by melody and soundfont.

    Train with `auricle train OUT/manifest.csv --recipe music`.  Needs fluidsynth and GM soundfonts; every one
    installed is used: sudo apt-get install fluidsynth fluid-soundfont-gm timgm6mb-soundfont
    musescore-general-soundfont-small musescore-general-soundfont csound-soundfont opl3-soundfont
    """
    _render_set("instrument", out, instruments=instruments, train_soundfonts=train_soundfonts, n_train=train,
                n_valid=valid, n_test=test, seconds=seconds, sr=sr, seed=seed, test_soundfont=test_soundfont,
                valid_soundfont=valid_soundfont or None, vary=vary, overwrite=overwrite)


def _render_set(kind: str, out: Path, *, train_soundfonts: str, instruments: str = "", genres: str = "",
                **options) -> None:
    """Render the instrument or genre set with a progress bar; print what went where."""
    import csv
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from auricle.datasets.music_synth import make_genres, make_instruments

    fonts = [s.strip() for s in train_soundfonts.split(",") if s.strip()] or None
    if kind == "genre":
        make, what = make_genres, {"genres": [s.strip() for s in genres.split(",") if s.strip()] or None}
    else:
        make, what = make_instruments, {"instruments": [s.strip() for s in instruments.split(",") if s.strip()] or None}
    t0 = time.perf_counter()
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("rendering recordings", total=None)
        manifest = make(out, **what, train_soundfonts=fonts, **options,
                        progress=lambda done, total: bar.update(task, completed=done, total=total))
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    used = {s: sorted({r["soundfont"] for r in rows if r["split"] == s}) for s in ("train", "valid", "test")}
    console.print(f"[bold green]wrote[/bold green] {len(rows)} recordings to {out} in {time.perf_counter() - t0:.1f} s "
                  f"(train: auricle train {manifest} --recipe music)\n"
                  + "\n".join(f"  {s}: {', '.join(v) or '-'}" for s, v in used.items()))


@app.command("make-genres")
@friendly
def make_genres_cmd(
    out: Path = typer.Argument(..., help="Folder to write {train,valid,test}/<genre>/<clip>.wav, manifest.csv, LICENSES.md."),
    train: int = typer.Option(12, "--train", help="Training clips per genre."),
    valid: int = typer.Option(3, "--valid", help="Validation clips per genre (training soundfonts unless "
                              "--valid-soundfont)."),
    test: int = typer.Option(5, "--test", help="Test clips per genre, rendered with the held-out soundfont only."),
    seconds: float = typer.Option(30.0, "--seconds", help="Length of every clip (GTZAN: 30 s)."),
    sr: int = typer.Option(22050, "--sr", help="Sample rate; fluidsynth renders at it directly."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed writes the same files."),
    genres: str = typer.Option("", "--genres", help="Comma-separated genres, or all (twelve: GTZAN's ten, electronic, folk) "
                                "(default: rock,jazz,classical,electronic,folk)."),
    test_soundfont: str = typer.Option("TimGM6mb", "--test-soundfont",
                                       help="Soundfont of the test split only (held out of training with its family): "
                                            "TimGM6mb, FluidR3_GM, MuseScore_General_Lite, MuseScore_General_Full, "
                                            "sf_GMbank or OPL-3_FM_128M."),
    valid_soundfont: str = typer.Option("", "--valid-soundfont",
                                        help="Soundfont of the validation split only, held out of training with its "
                                             "family (choose settings on it, not on the test one); default: validation "
                                             "uses the training soundfonts."),
    train_soundfonts: str = typer.Option("", "--train-soundfonts",
                                         help="Comma-separated soundfonts to train on (default: every one installed "
                                              "but OPL-3_FM_128M)."),
    vary: bool = typer.Option(True, "--vary/--plain", help="Render each training clip its own way (tempo, key, "
                              "velocity curves, pans, room) or all plainly."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier set in OUT."),
):
    """Compose and render GTZAN-style genre clips (styles differing in rhythm, instruments and tempo) with fluidsynth.

    Split by clip and soundfont like make-instruments.  Train with `auricle train OUT/manifest.csv`
    (--recipe auto picks music: 1-s windows every 0.5 s, one answer per clip).  Needs fluidsynth and
    GM soundfonts; every one installed is used: sudo apt-get install fluidsynth fluid-soundfont-gm
    timgm6mb-soundfont musescore-general-soundfont-small musescore-general-soundfont csound-soundfont
    """
    _render_set("genre", out, genres=genres, train_soundfonts=train_soundfonts, n_train=train, n_valid=valid,
                n_test=test, seconds=seconds, sr=sr, seed=seed, test_soundfont=test_soundfont,
                valid_soundfont=valid_soundfont or None, vary=vary, overwrite=overwrite)
