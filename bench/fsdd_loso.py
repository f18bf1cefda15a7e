"""FSDD leave-one-speaker-out: speaker-independent accuracy of auricle recipes.

Speakers in alphabetical order; fold i tests on speaker i, validates on speaker i+1 (wrapping)
and trains on the other four.  Each fold is one `auricle train` command (printed), timed
end to end (wall, including feature extraction).  Run by hand:

    .venv/bin/python bench/fsdd_loso.py                      # default and classic recipes
    .venv/bin/python bench/fsdd_loso.py --recipes default --set train.epochs=20
    .venv/bin/python bench/fsdd_loso.py --recipes default --no-val --set train.keep=last

``--no-val`` trains on all five other speakers (the validation speaker joins training; the run
has no validation split, so it keeps its last epoch; `--set train.keep=last` only says so): the usual "tune on validation, then refit on
train + validation" protocol, once every choice of the recipe has been made on validation speakers.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
HERE = Path(__file__).resolve().parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "fsdd"))
    ap.add_argument("--recipes", default="default,classic")
    ap.add_argument("--folds", default=",".join(SPEAKERS), help="test speakers to run")
    ap.add_argument("--out", default=str(HERE / "out" / "fsdd"))
    ap.add_argument("--set", action="append", default=[], help="extra --set key=value for auricle train")
    ap.add_argument("--tag", default="")
    ap.add_argument("--no-val", action="store_true", help="train on the validation speaker too (no validation split)")
    args = ap.parse_args()
    auricle = str(Path(sys.executable).parent / "auricle")
    results = {}
    for recipe in args.recipes.split(","):
        name = recipe + (f"-{args.tag}" if args.tag else "")
        for test in args.folds.split(","):
            val = SPEAKERS[(SPEAKERS.index(test) + 1) % len(SPEAKERS)]
            out = Path(args.out) / name / test
            cmd = [auricle, "train", args.data, "--layout", "fsdd", "--recipe", recipe, "--test-groups", test,
                   "--out", str(out), "--overwrite"]
            if args.no_val:
                val = "-"
                cmd += ["--set", "data.val_groups=[]"]
            else:
                cmd += ["--val-groups", val]
            for s in args.set:
                cmd += ["--set", s]
            print("$", " ".join(cmd), flush=True)
            t0 = time.time()
            r = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.time() - t0
            if r.returncode != 0:
                print(r.stdout[-2000:], r.stderr[-2000:])
                continue
            m = json.loads((out / "metrics.json").read_text())
            results.setdefault(name, {})[test] = (m["accuracy"], wall, m["run"]["params"], m["splits"].get("val", {}).get("accuracy"))
            va = results[name][test][3]  # None when the members validated on rotated groups (val_seen)
            print(f"  {name:>10} test={test:<9} val={val:<9} acc={m['accuracy']:.3f}  "
                  f"val_acc={'-' if va is None else f'{va:.3f}'}  wall={wall:.0f}s", flush=True)
    print("\nrecipe      " + "  ".join(f"{s[:8]:>8}" for s in SPEAKERS) + "      mean     worst   max wall")
    for name, res in results.items():
        accs = [res[s][0] for s in SPEAKERS if s in res]
        cells = "  ".join(f"{res[s][0]:8.1%}" if s in res else f"{'-':>8}" for s in SPEAKERS)
        print(f"{name:<10}  {cells}  {sum(accs) / len(accs):8.1%}  {min(accs):8.1%}  "
              f"{max(v[1] for v in res.values()):7.0f}s")


if __name__ == "__main__":
    main()
