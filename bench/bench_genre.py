"""Genre classification of GTZAN-style 30-s clips, tested on a soundfont no training clip used.

Builds (once, cached) the set of :func:`auricle.datasets.music_synth.make_genres`: five styles
(rock, jazz, classical, electronic, folk) that differ in tempo, rhythm, drums and instrumentation,
every clip its own composition (split by clip); train and validation rendered with every installed
soundfont but the test one, its family and OPL-3 (FluidR3_GM, MuseScore_General_Lite/_Full,
Csound's sf_GMbank; each training clip rendered its own way: tempo, key, velocity curves, pans,
room), test with TimGM6mb only.  Missing soundfont packages are installed with apt-get when run as
root.  ``--valid-soundfont sf_GMbank`` holds a second soundfont out for validation only (choose
settings there, not on the test one).  Then, in the same run and for each seed, trains with
``auricle train`` (one command per run, printed, timed end to end) the arms of
``bench_instruments.py``:

* ``auto``     - ``--recipe auto`` (the default; picks ``music`` for these clips),
* ``classic``  - ``--recipe classic`` (the course pipeline: MFCC 13 of 1-s windows, the 3-block CNN),
* ``xgboost``  - ``--recipe music --model xgboost`` (XGBoost on the 75 summary features of each window),

and prints test accuracy per recording (windows averaged as ``auricle predict`` does) and per
window, validation accuracy per recording, and seconds (mean +- sd over seeds, min..max).
Run by hand:

    nice -n 10 .venv/bin/python bench/bench_genre.py                 # 3 seeds (~35 min on 2 busy cores)
    nice -n 10 .venv/bin/python bench/bench_genre.py --quick         # 1 seed, 10-s clips
    nice -n 10 .venv/bin/python bench/bench_genre.py --valid-soundfont sf_GMbank \\
        --train-soundfonts FluidR3_GM,MuseScore_General_Lite,MuseScore_General_Full --seeds 0   # choices
    .venv/bin/python bench/bench_genre.py --cues     # can loudness alone tell the genres? (no training)

Figures: docs/experiments/music.md (genre section).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_instruments import _fmt, install_soundfonts, run_one  # noqa: E402  (the same arms and table)


def build(data: Path, *, sizes: dict, test_soundfont: str, valid_soundfont: str | None = None,
          train_soundfonts: list[str] | None = None, vary: bool = True) -> Path:
    """The cached genre set in ``data`` (rebuilt when its sizes, soundfonts or rendering differ)."""
    from auricle.datasets.music_synth import available_soundfonts, make_genres

    want = {**sizes, "test_soundfont": test_soundfont, "valid_soundfont": valid_soundfont,
            "train_soundfonts": train_soundfonts, "vary": vary, "installed": sorted(available_soundfonts())}
    stamp = data / "bench.json"
    if stamp.exists() and json.loads(stamp.read_text()) == want and (data / "manifest.csv").exists():
        return data / "manifest.csv"
    t0 = time.time()
    manifest = make_genres(data, overwrite=True, test_soundfont=test_soundfont, valid_soundfont=valid_soundfont,
                           train_soundfonts=train_soundfonts, vary=vary, **sizes)
    stamp.write_text(json.dumps(want))
    print(f"rendered {data} in {time.time() - t0:.0f} s", flush=True)
    return manifest


def cue_check(manifest: Path) -> None:
    """Can a trivial cue tell the genres apart?  A random forest on one level feature at a time, and on four.

    Per clip (1024-sample frames): mean frame RMS (dB), its spread, the peak (dBFS) and the crest factor
    (peak / mean RMS), trained on the training clips, scored on the test clips (chance 20%).
    """
    import csv

    import numpy as np
    import soundfile as sf
    from sklearn.ensemble import RandomForestClassifier

    rows = list(csv.DictReader(open(manifest, newline="")))
    feats, labels, splits = [], [], []
    for r in rows:
        x, _ = sf.read(str(manifest.parent / r["path"]))
        n = len(x) // 1024
        db = 20 * np.log10(np.sqrt((x[:n * 1024].reshape(n, 1024) ** 2).mean(1)) + 1e-9)
        peak = 20 * np.log10(np.abs(x).max())
        feats.append([db.mean(), db.std(), peak, peak - db.mean()])
        labels.append(r["label"])
        splits.append(r["split"])
    a, y, sp = np.array(feats), np.array(labels), np.array(splits)
    tr, te = sp == "train", sp == "test"
    for cols, name in (([0], "mean RMS dB"), ([1], "RMS spread dB"), ([2], "peak dBFS"), ([3], "crest dB"),
                       ([0, 1, 2, 3], "all four")):
        clf = RandomForestClassifier(300, random_state=0, min_samples_leaf=3).fit(a[tr][:, cols], y[tr])
        print(f"  level cue {name}: {100 * (clf.predict(a[te][:, cols]) == y[te]).mean():.0f}% of test clips "
              f"(chance {100 / len(set(labels)):.0f}%)")
    for g in sorted(set(labels)):
        m = y == g
        print(f"  {g:11s} mean RMS {a[m, 0].mean():6.1f} dB, spread {a[m, 1].mean():4.1f}, crest {a[m, 3].mean():4.1f} dB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(HERE / "out" / "genre-data"))
    ap.add_argument("--out", default=str(HERE / "out" / "genre"))
    ap.add_argument("--recipes", default="auto,classic,xgboost")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--train", type=int, default=8, help="training clips per genre")
    ap.add_argument("--valid", type=int, default=2, help="validation clips per genre")
    ap.add_argument("--test", type=int, default=10, help="test clips per genre")
    ap.add_argument("--seconds", type=float, default=30.0, help="clip length (GTZAN: 30 s)")
    ap.add_argument("--test-soundfont", default="TimGM6mb")
    ap.add_argument("--valid-soundfont", default=None, help="validation only on this soundfont (held out of training)")
    ap.add_argument("--train-soundfonts", default=None, help="comma-separated (default: all installed but OPL-3)")
    ap.add_argument("--plain", action="store_true", help="no per-clip rendering variation")
    ap.add_argument("--quick", action="store_true", help="one seed, 10-s clips, 6/2/4 clips a genre")
    ap.add_argument("--set", action="append", default=[], help="extra --set key=value for every auricle train")
    ap.add_argument("--genres", default="all", help="all (twelve: GTZAN's ten, electronic, folk), five (the "
                    "first set: rock, jazz, classical, electronic, folk) or a comma-separated list")
    ap.add_argument("--cues", action="store_true", help="only check level cues (loudness, crest) on the set")
    args = ap.parse_args()
    from auricle.datasets.music_synth import FIVE_GENRES, GENRES

    genres = {"all": list(GENRES), "five": list(FIVE_GENRES)}.get(args.genres) or args.genres.split(",")
    sizes = dict(n_train=args.train, n_valid=args.valid, n_test=args.test, seconds=args.seconds, sr=22050, seed=0,
                 genres=genres)
    seeds = [int(s) for s in args.seeds.split(",")]
    data = Path(args.data)
    if args.genres != "five":
        data = data.with_name(f"{data.name}-{args.genres.replace(',', '+')}")
    if args.quick:
        sizes.update(n_train=6, n_valid=2, n_test=4, seconds=10.0)
        seeds = seeds[:1]
        data = data.with_name(data.name + "-quick")
    if (args.train, args.valid, args.test, args.seconds) != (8, 2, 10, 30.0) and not args.quick:
        data = data.with_name(f"{data.name}-{args.train}-{args.valid}-{args.test}-{args.seconds:g}s")
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
    if args.cues:
        cue_check(manifest)
        return
    results = []
    out = Path(args.out) / data.name / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    for seed in seeds:                      # seed by seed: a run stopped early still compares the recipes
        for name in args.recipes.split(","):
            r = run_one(manifest, name, seed, Path(args.out) / data.name / name / f"s{seed}", args.set)
            if r:
                results.append(r)
                out.write_text(json.dumps(results, indent=1))
    print(f"\ngenres, test soundfont {args.test_soundfont}, {sizes['n_train']}/{sizes['n_valid']}/{sizes['n_test']} "
          f"clips x {len(genres)} genres of {sizes['seconds']:g} s, seeds {seeds}  (accuracy %, mean +- sd (min-max))")
    print("| recipe | test per recording | test per window | val per recording | train s | wall s |")
    print("|---|---|---|---|---|---|")
    for name in args.recipes.split(","):
        rs = [r for r in results if r["recipe"] == name]
        if rs:
            print(f"| {name} | {_fmt([r['test_recording'] for r in rs])} | {_fmt([r['test_window'] for r in rs])} "
                  f"| {_fmt([r['val_recording'] for r in rs])} | {_fmt([r['train_s'] for r in rs], pct=False)} "
                  f"| {_fmt([r['wall_s'] for r in rs], pct=False)} |")
        for r in rs:
            print(f"    {name} seed {r['seed']}: test {100 * r['test_recording']:.1f}% per recording, "
                  f"{100 * r['test_window']:.1f}% per window, val {100 * (r['val_recording'] or 0):.1f}%, "
                  f"train {r['train_s'] or 0:.0f} s, wall {r['wall_s']:.0f} s")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
