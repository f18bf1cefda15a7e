"""Environmental-sound bench: 5-fold cross-validation of ``--recipe auto`` vs ``--recipe classic`` vs XGBoost.

There is no real ESC-50 here (nor a redistributable set of recorded sound effects in Debian main
that could be found), so this script *generates* an ESC-50-style set: eight sound-event classes
(rain, wind, engine, siren, dog-like barks, bird chirps, clock ticks, door knocks), each clip a
**source** whose parameters are drawn from a seed (rates, pitches, spacing, resonances, decay),
placed in a background of coloured noise and mains hum at 0-25 dB SNR, 5 s at 22.05 kHz.  Two
takes per source (other noise, other offsets) stay in the source's fold, as in ESC-50.  Written as
``WORK/esc/meta/esc50.csv`` + ``WORK/esc/audio/*.wav`` (the esc50 layout), so ``auricle train
WORK/esc --folds 5`` runs on it as on the real set.

Each arm runs :func:`auricle.crossval.cross_validate` (fold i tests, fold i+1 validates) and the
script prints per-fold and mean +- std accuracy per recording, and seconds a fold.

    nice -n 10 .venv/bin/python bench/bench_environmental.py            # all arms, 5 folds
    nice -n 10 .venv/bin/python bench/bench_environmental.py --sources 2 --epochs 20   # ~25 min on 2 busy cores

Figures and conclusions: docs/experiments/domains.md.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SR = 22050
SECONDS = 5.0
CLASSES = ("rain", "wind", "engine", "siren", "bark", "chirp", "clock_tick", "door_knock")


def _decay(n, tau, sr=SR):
    return np.exp(-np.arange(n) / (tau * sr))


def _resonate(x, f, bw, sr=SR):
    from scipy.signal import lfilter

    r, th = np.exp(-np.pi * bw / sr), 2 * np.pi * f / sr
    return lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], x)


def _colored(n, rng, slope):
    """Noise with a 1/f^slope power spectrum."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0)
    y = np.fft.irfft(spec / f ** (slope / 2), n)
    return y / (np.abs(y).max() + 1e-12)


def event(cls: str, p: dict, rng, n: int) -> np.ndarray:
    """One clip of class ``cls`` with source parameters ``p`` (take randomness from ``rng``)."""
    t = np.arange(n) / SR
    y = np.zeros(n)
    if cls == "rain":
        y = _colored(n, rng, p["slope"]) * 0.3
        for s in rng.integers(0, n - 2000, int(p["rate"] * SECONDS)):
            L = int(rng.integers(100, 600))
            y[s:s + L] += _resonate(rng.standard_normal(L), rng.uniform(2000, 6000), 800) * _decay(L, 0.003)
    elif cls == "wind":
        env = 0.5 + 0.5 * np.sin(2 * np.pi * p["gust"] * t + rng.uniform(0, 6)) ** 2
        y = _resonate(_colored(n, rng, 1.0), p["f"], p["f"]) * env
    elif cls == "engine":
        f0 = p["f0"] * (1 + 0.03 * np.sin(2 * np.pi * 0.3 * t))
        ph = 2 * np.pi * np.cumsum(f0) / SR
        y = sum(np.sin(k * ph) / k ** p["tilt"] for k in range(1, 12)) * (1 + 0.3 * np.sin(2 * np.pi * p["am"] * t))
        y += 0.2 * _colored(n, rng, 2.0)
    elif cls == "siren":
        f = p["f0"] + p["depth"] * np.sin(2 * np.pi * p["rate"] * t + rng.uniform(0, 6))
        ph = 2 * np.pi * np.cumsum(f) / SR
        y = np.sin(ph) + 0.3 * np.sin(2 * ph)
    elif cls == "bark":
        s = int(rng.uniform(0, 0.5) * SR)
        while s < n - SR // 4:
            L = int(rng.uniform(0.1, 0.25) * SR)
            f0 = p["f0"] * np.linspace(1.2, 0.8, L)
            pulses = (np.diff(np.floor(np.cumsum(f0 / SR)), prepend=0) > 0).astype(float)
            b = _resonate(_resonate(pulses, p["f1"], 200), p["f2"], 300) + 0.3 * rng.standard_normal(L) * 0.05
            y[s:s + L] += b * np.hanning(L)
            s += L + int(rng.uniform(0.2, 1.0) * SR * p["space"])
    elif cls == "chirp":
        s = int(rng.uniform(0, 0.3) * SR)
        while s < n - SR // 10:
            L = int(rng.uniform(0.04, 0.12) * SR)
            f = np.linspace(p["lo"], p["hi"], L) if rng.random() < 0.7 else np.linspace(p["hi"], p["lo"], L)
            y[s:s + L] += np.sin(2 * np.pi * np.cumsum(f) / SR) * np.hanning(L)
            s += L + int(rng.uniform(0.05, 0.5) * SR * p["space"])
    elif cls == "clock_tick":
        period = int(SR / p["rate"])
        for s in range(int(rng.integers(0, period)), n - 400, period):
            L = 400
            y[s:s + L] += _resonate(rng.standard_normal(L), p["f"], 400) * _decay(L, 0.002)
    elif cls == "door_knock":
        s = int(rng.uniform(0, 1.0) * SR)
        while s < n - SR // 2:
            for _ in range(int(rng.integers(2, 5))):
                L = 2000
                if s + L < n:
                    y[s:s + L] += _resonate(rng.standard_normal(L), p["f"], 60) * _decay(L, 0.01)
                s += int(p["gap"] * SR * rng.uniform(0.8, 1.2))
            s += int(rng.uniform(0.8, 1.8) * SR)
    return y / (np.abs(y).max() + 1e-12)


def source_params(cls: str, rng) -> dict:
    u = rng.uniform
    return {"rain": lambda: {"slope": u(0, 1.5), "rate": u(20, 120)},
            "wind": lambda: {"gust": u(0.1, 0.5), "f": u(200, 1200)},
            "engine": lambda: {"f0": u(25, 90), "tilt": u(0.5, 1.5), "am": u(2, 12)},
            "siren": lambda: {"f0": u(600, 1100), "depth": u(150, 400), "rate": u(0.2, 2.0)},
            "bark": lambda: {"f0": u(250, 600), "f1": u(500, 1000), "f2": u(1200, 2500), "space": u(0.5, 1.5)},
            "chirp": lambda: {"lo": u(2000, 4000), "hi": u(4500, 8000), "space": u(0.5, 1.5)},
            "clock_tick": lambda: {"rate": u(1.0, 4.0), "f": u(1500, 5000)},
            "door_knock": lambda: {"f": u(80, 300), "gap": u(0.12, 0.25)}}[cls]()


def background(n, rng) -> np.ndarray:
    t = np.arange(n) / SR
    y = _colored(n, rng, rng.uniform(0.5, 2.0))
    if rng.random() < 0.5:
        y += 0.5 * np.sin(2 * np.pi * rng.choice([50.0, 60.0]) * t)
    return y / (np.abs(y).max() + 1e-12)


def build(out: Path, *, sources: int = 3, takes: int = 2, folds: int = 5, seed: int = 0) -> Path:
    """Write the ESC-50-style set (``sources`` sources per class and fold, ``takes`` clips each)."""
    import soundfile as sf

    if (out / "meta" / "esc50.csv").exists():
        return out
    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "meta").mkdir(exist_ok=True)
    rows = []
    n = int(SECONDS * SR)
    for fold in range(1, folds + 1):
        for ci, cls in enumerate(CLASSES):
            for s in range(sources):
                src = f"{fold}{ci:02d}{s:02d}"
                p = source_params(cls, np.random.default_rng([seed, fold, ci, s]))
                for k, take in enumerate("ABCDEFGH"[:takes]):
                    rng = np.random.default_rng([seed, fold, ci, s, k, 1])
                    snr = rng.uniform(0, 25)
                    y = event(cls, p, rng, n) + 10 ** (-snr / 20) * background(n, rng)
                    y = 0.7 * y / np.abs(y).max() * 10 ** (-rng.uniform(0, 12) / 20)
                    fn = f"{fold}-{src}-{take}-{ci}.wav"
                    sf.write(out / "audio" / fn, y.astype("float32"), SR, subtype="PCM_16")
                    rows.append([fn, fold, ci, cls, "False", src, take])
    with open(out / "meta" / "esc50.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        w.writerows(rows)
    return out


def run_arm(arm: str, esc: Path, work: Path, folds: int, epochs: int | None = None) -> dict:
    from rich.console import Console

    from auricle.config import RunConfig, recipe
    from auricle.crossval import cross_validate
    from auricle.datasets.profile import auto_recipe, origin_record

    data = {"root": str(esc), "layout": "esc50"}
    over = {"data": data, "train": {"cache_dir": str(work / "cache")}}
    if arm == "auto":
        choice, prof = auto_recipe(RunConfig.from_dict({"data": data}).data)
        print(f"  recipe auto -> {choice.name} ({choice.reason})", flush=True)
        cfg = recipe(choice.name, {**over, "origin": origin_record(choice, prof)})
    else:
        cfg = recipe("classic", over)
        if arm == "xgboost":
            cfg = RunConfig.from_dict({**cfg.to_dict(), "model": {"name": "xgboost", "options": {}}})
    cfg.name = f"env-{arm}"
    if epochs and arm != "xgboost":
        cfg.train.epochs = epochs
    t0 = time.time()
    s = cross_validate(cfg, work / arm, folds=folds, overwrite=True, console=Console(quiet=True), progress=False)
    s["arm"], s["seconds"] = arm, round(time.time() - t0, 1)
    acc = [r["accuracy"] for r in s["folds"]]
    print(f"  {arm:8s} {s['mean']['accuracy']:.1%} +- {s['std']['accuracy']:.1%} per recording "
          f"(folds {', '.join(f'{a:.0%}' for a in acc)}), {s['seconds'] / len(acc):.0f} s a fold", flush=True)
    return s


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/auricle_bench_environmental"))
    ap.add_argument("--arms", default="auto,classic,xgboost")
    ap.add_argument("--sources", type=int, default=3, help="sources per class and fold")
    ap.add_argument("--takes", type=int, default=2, help="clips per source")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=None, help="override the Keras arms' epochs (shorter runs)")
    a = ap.parse_args(argv)
    from auricle.cli._app import quiet_keras

    quiet_keras()
    t0 = time.time()
    esc = build(a.work / "esc", sources=a.sources, takes=a.takes, folds=a.folds)
    n = len((esc / "meta" / "esc50.csv").read_text().splitlines()) - 1
    print(f"generated ESC-50-style set: {esc} ({n} clips, {len(CLASSES)} classes, {a.folds} folds; "
          f"{time.time() - t0:.0f} s)", flush=True)
    res = [run_arm(arm.strip(), esc, a.work, a.folds, a.epochs) for arm in a.arms.split(",") if arm.strip()]
    lines = ["| arm | recipe | accuracy per recording, mean +- std over folds | folds | seconds a fold |",
             "|---|---|---|---|---|"]
    for s in res:
        acc = [r["accuracy"] for r in s["folds"]]
        lines.append(f"| {s['arm']} | {s['name']} | {s['mean']['accuracy']:.1%} +- {s['std']['accuracy']:.1%} | "
                     f"{', '.join(f'{x:.1%}' for x in acc)} | {s['seconds'] / len(acc):.0f} |")
    md = "\n".join(lines)
    print(md)
    (a.work / "results.md").write_text(md + "\n")
    (a.work / "results.json").write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
