"""Evaluate a separator on held-out songs: SDR/SIR/SAR per stem and song, baselines, report.

Every test song is separated the way ``auricle separate`` does it (chunked, overlap-added), and
scored with BSS Eval v4 (:mod:`auricle.separation.metrics`) next to two baselines computed by
the same code: the mixture itself as every stem's estimate (the floor) and the ideal ratio mask
(the oracle ceiling of a mask on the mixture's STFT).  The run gets ``separation_metrics.json``
(per song and summary), ``separation_metrics.md``, ``sdr.png``, ``spectrograms.png`` and a
``report.md`` that shows them with the training curves.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from auricle.separation import metrics


def evaluate_caches(sep, cache, out_dir, *, history=None, cfg=None, console=None,
                    max_seconds: float | None = None, baselines: bool = True) -> dict:
    """Separate and score every song of a :class:`~auricle.separation.stems.StemCache`.

    Returns the summary (``{method: {stem: {metric: {median, mean, std}}}}``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    p = sep.preset
    per_song: dict = {"model": {}}
    if baselines:
        per_song.update({"mixture": {}, "oracle": {}})
    seconds = 0.0
    audio = 0.0
    first = None
    for i in range(len(cache)):
        name = cache.names[i]
        refs = np.asarray(cache.sources(i), dtype=np.float32)
        mix = np.asarray(cache.mixture(i), dtype=np.float32)
        if max_seconds:
            n = int(max_seconds * p.sr)
            refs, mix = refs[..., :n], mix[..., :n]
        t = time.perf_counter()
        est_d = sep.separate(mix)
        seconds += time.perf_counter() - t
        audio += mix.shape[-1] / p.sr
        est = np.stack([est_d[s] for s in p.stems])
        per_song["model"][name] = metrics.song_scores(refs, est, sr=p.sr, stems=p.stems)
        if baselines:
            per_song["mixture"][name] = metrics.song_scores(
                refs, metrics.mixture_baseline(mix, len(p.stems)), sr=p.sr, stems=p.stems)
            per_song["oracle"][name] = metrics.song_scores(
                refs, metrics.oracle_ratio_mask(mix, refs, n_fft=p.n_fft, hop=p.hop), sr=p.sr, stems=p.stems)
        if first is None:
            first = (mix, est, refs)
        if console is not None:
            sdr = ", ".join(f"{s} {per_song['model'][name][s]['sdr']:.1f}" for s in p.stems)
            console.print(f"  {name}: SDR {sdr} dB")
    methods = [m for m in ("model", "mixture", "oracle") if m in per_song]
    summary = metrics.write_report(out_dir, per_song, stems=p.stems, methods_order=tuple(methods))
    speed = {"audio_seconds": round(audio, 2), "wall_seconds": round(seconds, 2),
             "realtime_factor": round(audio / max(seconds, 1e-9), 1), "runtime": sep.runtime, "mask": sep.mask}
    (out_dir / "separation_speed.json").write_text(json.dumps(speed, indent=1))
    if first is not None:
        mix, est, refs = first
        metrics.plot_spectrograms(mix, est, refs, sr=p.sr, stems=p.stems, path=out_dir / "spectrograms.png",
                                  seconds=min(10.0, mix.shape[-1] / p.sr))
    write_report(out_dir, p, summary, methods, speed, history=history, cfg=cfg)
    if console is not None:
        console.print(metrics.format_table(summary, stems=p.stems, methods=methods), soft_wrap=True, markup=False)
        console.print(f"separated {audio:.0f} s of audio in {seconds:.1f} s "
                      f"({speed['realtime_factor']:.0f}x real time, {sep.runtime})")
    return summary


def write_report(out_dir: Path, preset, summary, methods, speed, *, history=None, cfg=None) -> None:
    """``report.md``: what was trained, the curves, the SDR table and the pictures."""
    lines = [f"# Separator report: {preset.name}", ""]
    lines.append(f"Stems: {', '.join(preset.stems)}; {preset.sr} Hz, {preset.channels} channel(s); "
                 f"STFT {preset.n_fft}/{preset.hop}, {preset.bins} bins, patches of {preset.frames} frames "
                 f"({preset.patch_seconds:.1f} s); network `{preset.model}` {preset.model_options}.")
    if cfg is not None:
        lines.append(f"Trained on `{cfg.data}`: {cfg.epochs} epochs x {cfg.steps_per_epoch} steps of "
                     f"{cfg.batch_size} patches, remix {cfg.remix}, gain {list(cfg.gain)}, "
                     f"channel swap {cfg.channel_swap}, lr {cfg.lr}, seed {cfg.seed}; masks: {cfg.mask}.")
    if history:
        best = min(history, key=lambda r: r["val_loss"])
        total = sum(r.get("seconds", 0) for r in history)
        lines += ["", f"Best validation epoch {best['epoch']} (val L1 {best['val_loss']:.4f}); "
                      f"training took {total:.0f} s.", "", "![training curves](curves.png)"]
    lines += ["", "## Test songs (median over songs of the per-song median SDR/SIR/SAR, dB)", "",
              (out_dir / "separation_metrics.md").read_text().strip(), "",
              f"`mixture`: the mixture as every stem's estimate (the floor); `oracle`: the ideal ratio mask "
              f"(the ceiling of any mask on this STFT).  Separation ran at {speed['realtime_factor']}x real time "
              f"({speed['runtime']}).", "", "![SDR per stem](sdr.png)", "",
              "## Mixture and stems of the first test song", "", "![spectrograms](spectrograms.png)", ""]
    (out_dir / "report.md").write_text("\n".join(lines))


def evaluate_run(run_dir, dataset=None, *, runtime: str = "auto", mask: str | None = None, out_dir=None,
                 console=None, max_seconds: float | None = None, layout: str = "auto") -> dict:
    """Evaluate a separation run on its own test songs, or on every song of ``dataset``.

    Writes the metrics, pictures and report into ``out_dir`` (default: the run directory for its
    own test songs, ``RUN/eval-<dataset name>`` for another dataset).
    """
    import yaml

    from auricle.separation.separate import Separator
    from auricle.separation.stems import StemCache, index_stems
    from auricle.separation.config import SeparationConfig, load_songs

    run_dir = Path(run_dir)
    sep = Separator.load(run_dir, runtime=runtime, mask=mask)
    cfg = SeparationConfig.from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()))
    if dataset is None:
        caches = load_songs(cfg, sep.preset)
        cache = caches.get("test")
        target = Path(out_dir) if out_dir else run_dir
    else:
        from auricle.data import default_cache_dir

        songs = index_stems(Path(dataset), stems=sep.preset.stems, layout=layout)
        cache = StemCache(songs, stems=sep.preset.stems, sr=sep.sr, channels=sep.preset.channels,
                          cache_dir=Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir() / "stems")
        target = Path(out_dir) if out_dir else run_dir / f"eval-{Path(dataset).name}"
    if cache is None or len(cache) == 0:
        from auricle.errors import DatasetError

        raise DatasetError("no test songs to evaluate on", path=dataset or cfg.data,
                           fix="pass a stems dataset: auricle separate-eval RUN DATASET")
    history = None
    if (run_dir / "history.csv").exists() and target == run_dir:
        from auricle.runs import read_history as _read_history

        history = _read_history(run_dir / "history.csv")
    return evaluate_caches(sep, cache, target, history=history, cfg=cfg, console=console,
                           max_seconds=max_seconds)
