"""``auricle synth``: speak a list of words with offline TTS voices (train-only extra data)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from auricle.cli._app import app, console, friendly


@app.command()
@friendly
def synth(
    words: Optional[str] = typer.Argument(None, help="Comma-separated words (digits are spoken as number words)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write <word>/<voice>-<rep>.wav and manifest.csv."),
    like: Optional[Path] = typer.Option(None, "--like", help="Take the words from this dataset's labels instead."),
    voices: int = typer.Option(100, "--voices", help="Base voices (espeak-ng accents x variants, flite)."),
    per_voice: int = typer.Option(2, "--per-voice", help="Repetitions per word and voice (new pitch and speed each)."),
    sr: int = typer.Option(16000, "--sr", help="Sample rate of the files; match your recordings (FSDD: 8000)."),
    seed: int = typer.Option(0, help="Random seed: the same seed writes the same files."),
    overwrite: bool = typer.Option(False, help="Replace an earlier synthetic set in --out."),
):
    """Synthesise the words with many offline TTS voices, as extra TRAINING data.

    Use the result with `auricle train DATA --set data.extra_train=OUT`: the voices join the training split only; validation and test stay real recordings.  Needs espeak-ng and/or flite (apt-get install espeak-ng flite).
    """
    from auricle.datasets.synth import synthesize
    from auricle.errors import ConfigError

    if (words is None) == (like is None):
        raise ConfigError("give either WORDS or --like DATASET", fix="e.g. auricle synth yes,no,stop --out synth")
    if like is not None:
        from auricle import datasets

        labels = datasets.index(like).labels
    else:
        labels = [w.strip() for w in words.split(",") if w.strip()]
    manifest = synthesize(labels, out, n_voices=voices, per_voice=per_voice, sr=sr, seed=seed, overwrite=overwrite)
    console.print(f"[bold green]wrote[/bold green] {manifest}; train with: --set data.extra_train={out}")
