"""``auricle augment-preview``: listen to and look at what a config's augmentation chain does."""
from __future__ import annotations

from pathlib import Path

import typer

from auricle.cli._app import app, console, friendly


def _load_config(source: str):
    """A run directory (its config.yaml), a YAML config file, or a recipe name."""
    from auricle.config import RunConfig, list_recipes, recipe
    from auricle.errors import ConfigError

    path = Path(source)
    if path.is_dir():
        if not (path / "config.yaml").exists():
            raise ConfigError("not a run directory (config.yaml missing)", path=path,
                              fix="pass a run directory of `auricle train`, a YAML config, or a recipe name")
        return RunConfig.load(path / "config.yaml")
    if path.exists():
        return RunConfig.load(path)
    if source in list_recipes():
        return recipe(source)
    raise ConfigError("no such run directory, config file or recipe", path=path,
                      fix=f"pass a run directory, a YAML config, or one of the recipes: {', '.join(list_recipes())}")


def preview(source: str, file: Path, out: Path, *, n: int = 6, seed: int = 0) -> dict:
    """Write ``n`` augmented versions of ``file`` and a PNG of their log-mels; returns the paths.

    The clip is loaded at the config's feature sample rate and cropped/padded (centre) to the
    feature duration, as in training.  Waveform transforms run as one batch, like a training
    batch; feature transforms (SpecAugment, freq_warp) are applied to the plotted log-mels.
    """
    import numpy as np

    from auricle import audio
    from auricle.augment import build_chain
    from auricle.errors import ConfigError

    if n < 1:
        raise ConfigError(f"--n must be >= 1, got {n}")
    cfg = _load_config(source)
    chain = build_chain(cfg.augment)
    fcfg = cfg.feature_config()
    sr = fcfg.sr
    y = audio.load(file, sr=sr)
    original_len = len(y)
    y = audio.fix_length(y, length=fcfg.n_samples, mode="center")
    batch = np.repeat(y[None], n, axis=0)
    rng = np.random.default_rng(seed)
    applied = [[] for _ in range(n)]
    for t in chain.waveform:  # the same calls, in the same order, as Compose.apply_waveform
        before = batch
        batch = t(batch, rng, sr=sr)
        for i in np.flatnonzero((batch != before).any(axis=1)):
            applied[i].append(t.name)

    out.mkdir(parents=True, exist_ok=True)
    stem = Path(file).stem
    import soundfile as sf

    wavs = []
    orig_path = out / f"{stem}_original.wav"
    sf.write(str(orig_path), y, sr, subtype="FLOAT")
    for i in range(n):
        p = out / f"{stem}_aug{i:02d}.wav"
        sf.write(str(p), batch[i], sr, subtype="FLOAT")  # float: gains above 0 dBFS are kept, not clipped
        wavs.append(p)

    # log-mels of the original + the augmented clips, with feature-domain transforms on top
    from auricle.features import extract

    mcfg = fcfg.replace(kind="log_mel", normalize="none")
    mels = extract(mcfg, np.concatenate([y[None], batch]).astype(np.float32))
    on_features = [[] for _ in range(n)]
    if chain.features:
        aug = mels[1:]
        for t in chain.features:
            before = aug
            aug = t(aug, rng, fcfg=mcfg)
            for i in np.flatnonzero((aug != before).reshape(n, -1).any(axis=1)):
                on_features[i].append(t.name)
        mels = np.concatenate([mels[:1], aug])
    png = out / f"{stem}_augment.png"
    titles = ["original"] + [f"aug{i:02d}: " + (", ".join(a + b) if a + b else "(unchanged)")
                             for i, (a, b) in enumerate(zip(applied, on_features))]
    _plot(mels, titles, png, sr=sr, hop=mcfg.resolved_hop_length)
    return {"original": orig_path, "wavs": wavs, "png": png, "applied": applied, "on_features": on_features, "sr": sr,
            "cropped": original_len != fcfg.n_samples, "original_samples": original_len,
            "n_samples": fcfg.n_samples}


def _plot(mels, titles, path: Path, *, sr: int, hop: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(mels)
    fig, axes = plt.subplots(rows, 1, figsize=(7, 1.35 * rows + 0.4), sharex=True, squeeze=False)
    vmax = float(mels.max())
    vmin = vmax - 80.0
    extent = [0, mels.shape[1] * hop / sr, 0, mels.shape[2]]
    for ax, m, title in zip(axes[:, 0], mels, titles):
        ax.imshow(m.T, origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax, extent=extent,
                  interpolation="nearest")
        ax.set_title(title, fontsize=8, loc="left")
        ax.set_ylabel("mel", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time (s)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@app.command("augment-preview")
@friendly
def augment_preview(
    source: str = typer.Argument(..., metavar="RUN_OR_CONFIG",
                                 help="Run directory, YAML config or recipe name whose augment: chain to preview."),
    file: Path = typer.Argument(..., help="Audio file to augment."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the WAVs and the PNG."),
    n: int = typer.Option(6, "--n", help="Number of augmented versions."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
):
    """Write N augmented versions of FILE (WAV) and a PNG of their log-mel spectrograms."""
    res = preview(source, file, out, n=n, seed=seed)
    if res["cropped"]:
        console.print(f"[dim]note: {file} has {res['original_samples']} samples at {res['sr']} Hz; cropped/padded "
                      f"to the training length {res['n_samples']} (centre)[/dim]")
    if not any(res["applied"]) and not any(res["on_features"]):
        console.print("[yellow]the chain changed nothing (empty augment: section, or p too small for this seed)[/yellow]")
    console.print(f"original  {res['original']}")
    for p, a, b in zip(res["wavs"], res["applied"], res["on_features"]):
        extra = f"; on the spectrogram: {', '.join(b)}" if b else ""
        console.print(f"augmented {p}  [dim]{', '.join(a) if a else '(waveform unchanged)'}{extra}[/dim]")
    console.print(f"spectrograms {res['png']}  [dim](original on top)[/dim]")
