"""Instrument recognition on a rendered set, tested on a soundfont no training recording used.

Builds (once, cached) the set of :mod:`auricle.datasets.music_synth`: seeded melodies played by
ten General MIDI instruments, split by melody; train and validation rendered with every installed
soundfont but the test one, its family and OPL-3 (FluidR3_GM, MuseScore_General_Lite/_Full, Csound's
sf_GMbank; each training recording rendered its own way), test with TimGM6mb only.  Missing
soundfont packages are installed with apt-get when run as root.  ``--valid-soundfont sf_GMbank``
holds a second soundfont out for validation only (choose settings there, not on the test one);
``--train-soundfonts`` and ``--plain`` change what trains.  Then, in the same run and for each seed,
trains with ``auricle train`` (one command per run, printed, timed end to end):

* ``auto``     - ``--recipe auto`` (falls back to ``music`` while there is no auto recipe),
* ``music``    - ``--recipe music``,
* ``classic``  - ``--recipe classic`` (the course pipeline: MFCC 13 of 1 s windows, the 3-block CNN),
* ``xgboost``  - ``--recipe music --model xgboost`` (XGBoost on the 75 summary features of each window),

and prints test accuracy per recording (windows averaged as ``auricle predict`` does) and per
window, validation accuracy per recording, and wall time (mean +- sd over seeds, min..max).
Run by hand:

    nice -n 10 .venv/bin/python bench/bench_instruments.py                # 3 seeds (~45 min on 2 busy cores)
    nice -n 10 .venv/bin/python bench/bench_instruments.py --quick        # 1 seed, smaller set
    .venv/bin/python bench/bench_instruments.py --recipes music --set train.epochs=10

Figures: docs/experiments/music.md.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


SOUNDFONT_PACKAGES = ("fluidsynth", "fluid-soundfont-gm", "timgm6mb-soundfont", "musescore-general-soundfont-small",
                      "musescore-general-soundfont", "csound-soundfont", "opl3-soundfont")


def install_soundfonts() -> None:
    """apt-get the soundfonts make-instruments can use when one is missing (as root; else say how)."""
    import os

    from auricle.datasets.music_synth import SOUNDFONT_FILES, available_soundfonts

    missing = [SOUNDFONT_FILES[f][1] for f in SOUNDFONT_FILES if f not in available_soundfonts()]
    if not missing:
        return
    if os.geteuid() != 0:
        print(f"soundfonts missing (install them: sudo apt-get install {' '.join(missing)}); using the others")
        return
    print(f"installing {' '.join(missing)}", flush=True)
    subprocess.run(["apt-get", "install", "-y", *missing], check=False, capture_output=True)


def build(data: Path, *, sizes: dict, test_soundfont: str, valid_soundfont: str | None = None,
          train_soundfonts: list[str] | None = None, vary: bool = True) -> Path:
    """The cached set in ``data`` (rebuilt when its sizes, soundfonts or rendering differ)."""
    from auricle.datasets.music_synth import available_soundfonts, make_instruments

    want = {**sizes, "test_soundfont": test_soundfont, "valid_soundfont": valid_soundfont,
            "train_soundfonts": train_soundfonts, "vary": vary, "installed": sorted(available_soundfonts())}
    stamp = data / "bench.json"
    if stamp.exists() and json.loads(stamp.read_text()) == want and (data / "manifest.csv").exists():
        return data / "manifest.csv"
    t0 = time.time()
    manifest = make_instruments(data, overwrite=True, test_soundfont=test_soundfont, valid_soundfont=valid_soundfont,
                                train_soundfonts=train_soundfonts, vary=vary, **sizes)
    stamp.write_text(json.dumps(want))
    print(f"rendered {data} in {time.time() - t0:.0f} s", flush=True)
    return manifest


def train_args(name: str) -> list[str]:
    import importlib.util

    if name == "auto":
        if importlib.util.find_spec("auricle.datasets.profile") is not None:   # auricle train --recipe auto
            return ["--recipe", "auto"]
        print("(no auto recipe yet: auto = music)", flush=True)
        return ["--recipe", "music"]
    if name == "xgboost":
        return ["--recipe", "music", "--model", "xgboost"]
    return ["--recipe", name]


def run_one(manifest: Path, name: str, seed: int, out: Path, extra: list[str]) -> dict | None:
    auricle = str(Path(sys.executable).parent / "auricle")
    cmd = [auricle, "train", str(manifest), *train_args(name), "--seed", str(seed), "--out", str(out), "--overwrite"]
    for s in extra:
        cmd += ["--set", s]
    print("$", " ".join(cmd), flush=True)
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if r.returncode != 0:
        print(r.stdout[-2000:], r.stderr[-2000:], flush=True)
        return None
    m = json.loads((out / "metrics.json").read_text())
    rec = m.get("per_recording") or {"accuracy": m["accuracy"]}
    val = (m.get("splits", {}).get("val") or {}).get("per_recording") or {}
    res = {"recipe": name, "seed": seed, "test_recording": rec["accuracy"], "test_window": m["accuracy"],
           "val_recording": val.get("accuracy"), "wall_s": wall, "train_s": m["run"].get("train_seconds"),
           "window_hop": json.loads((out / "features.json").read_text()).get("window_hop")}
    print(f"   {name} seed {seed}: test {100 * res['test_recording']:.1f}% per recording, "
          f"{100 * res['test_window']:.1f}% per window, {wall:.0f} s", flush=True)
    return res


def _fmt(v: list[float], pct: bool = True) -> str:
    v = [x for x in v if x is not None]
    if not v:
        return "-"
    k = 100.0 if pct else 1.0
    a = np.array(v) * k
    spread = f" ({a.min():.1f}-{a.max():.1f})" if len(a) > 1 else ""
    return f"{a.mean():.1f} +- {a.std(ddof=1) if len(a) > 1 else 0:.1f}{spread}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(HERE / "out" / "instruments-data"))
    ap.add_argument("--out", default=str(HERE / "out" / "instruments"))
    ap.add_argument("--recipes", default="auto,classic,xgboost")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--test-soundfont", default="TimGM6mb")
    ap.add_argument("--valid-soundfont", default=None, help="validation only on this soundfont (held out of training)")
    ap.add_argument("--train-soundfonts", default=None, help="comma-separated (default: all installed but OPL-3)")
    ap.add_argument("--plain", action="store_true", help="no per-recording rendering variation")
    ap.add_argument("--quick", action="store_true", help="one seed, 10/3/5 melodies (100/30/50 recordings)")
    ap.add_argument("--set", action="append", default=[], help="extra --set key=value for every auricle train")
    args = ap.parse_args()
    sizes = dict(n_train=20, n_valid=5, n_test=8, seconds=5.0, sr=22050, seed=0)
    seeds = [int(s) for s in args.seeds.split(",")]
    data = Path(args.data)
    if args.quick:
        sizes.update(n_train=10, n_valid=3, n_test=5)
        seeds = seeds[:1]
        data = data.with_name(data.name + "-quick")
    if args.test_soundfont != "TimGM6mb":
        data = data.with_name(f"{data.name}-test-{args.test_soundfont}")
    if args.valid_soundfont:
        data = data.with_name(f"{data.name}-valid-{args.valid_soundfont}")
    fonts = args.train_soundfonts.split(",") if args.train_soundfonts else None
    if fonts:
        data = data.with_name(f"{data.name}-train-{'+'.join(fonts)}")
    if args.plain:
        data = data.with_name(f"{data.name}-plain")
    install_soundfonts()
    manifest = build(data, sizes=sizes, test_soundfont=args.test_soundfont, valid_soundfont=args.valid_soundfont,
                     train_soundfonts=fonts, vary=not args.plain)
    results = []
    out = Path(args.out) / data.name / "results.json"
    for seed in seeds:                      # seed by seed: a run stopped early still compares the recipes
        for name in args.recipes.split(","):
            r = run_one(manifest, name, seed, Path(args.out) / data.name / name / f"s{seed}", args.set)
            if r:
                results.append(r)
                out.write_text(json.dumps(results, indent=1))
    print(f"\ninstruments, test soundfont {args.test_soundfont}, {sizes['n_train']}/{sizes['n_valid']}/"
          f"{sizes['n_test']} melodies x 10 instruments, seeds {seeds}  (accuracy %, mean +- sd (min-max))")
    print(f"| recipe | test per recording | test per window | val per recording | train s | wall s |")
    print("|---|---|---|---|---|---|")
    for name in args.recipes.split(","):
        rs = [r for r in results if r["recipe"] == name]
        if rs:
            print(f"| {name} | {_fmt([r['test_recording'] for r in rs])} | {_fmt([r['test_window'] for r in rs])} "
                  f"| {_fmt([r['val_recording'] for r in rs])} | {_fmt([r['train_s'] for r in rs], pct=False)} "
                  f"| {_fmt([r['wall_s'] for r in rs], pct=False)} |")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
