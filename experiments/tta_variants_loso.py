"""Other test-time copies on finished FSDD leave-one-speaker-out runs: more shifts, and tempo.

``experiments/tta_loso.py`` measures one +-shift set at a time on runs trained without test-time shifts.
This one takes runs trained *with* them (``--recipe tiny``), unwraps the plain network
(:func:`auricle.models.tta.without_shifts`) and scores each fold's validation and test speaker
with these averages of copies of the features (frames shifted with the edge frame repeated;
tempo as the frame axis stretched about the clip's centre by linear interpolation, edges held):

    none, +-50 ms (the recipe's), +-25/50 ms, +-50/100 ms, tempo 0.9/1.1,
    +-50 ms + tempo 0.9/1.1, +-50 ms + tempo 0.85/1.15

Run by hand (stop 18: ``DIR`` = the 160-epoch `--recipe tiny` runs with the validation protocol):

    .venv/bin/python experiments/tta_variants_loso.py DIR [DIR ...] --out tta_variants.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

VARIANTS = {
    "none": [("shift", 0)],
    "s50": [("shift", 0), ("shift", 5), ("shift", -5)],
    "s25_50": [("shift", 0), ("shift", 5), ("shift", -5), ("shift", 3), ("shift", -3)],
    "s50_100": [("shift", 0), ("shift", 5), ("shift", -5), ("shift", 10), ("shift", -10)],
    "tempo10": [("shift", 0), ("tempo", 0.9), ("tempo", 1.1)],
    "s50_tempo10": [("shift", 0), ("shift", 5), ("shift", -5), ("tempo", 0.9), ("tempo", 1.1)],
    "s50_tempo15": [("shift", 0), ("shift", 5), ("shift", -5), ("tempo", 0.85), ("tempo", 1.15)],
}  # shifts in 10 ms frames (the kws preset's hop)


def tempo(x: np.ndarray, rate: float) -> np.ndarray:
    """The clip played ``rate`` times faster, as far as its frames show: frame t reads the source at
    ``c + (t - c) * rate`` (c the centre frame), interpolated linearly, clamped to the edges."""
    F = x.shape[1]
    c = (F - 1) / 2
    src = np.clip(c + (np.arange(F) - c) * rate, 0, F - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, F - 1)
    a = (src - i0).reshape((1, F) + (1,) * (x.ndim - 2))
    return ((1 - a) * x[:, i0] + a * x[:, i1]).astype(x.dtype)


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="folders holding one run per test speaker")
    ap.add_argument("--out", help="append one JSON line per fold here")
    args = ap.parse_args()

    from ensemble_loso import SPEAKERS, fold_data

    from auricle.models.layers import FrameShift  # the layer the saved models shift with
    from auricle.models.tta import without_shifts

    rows = []
    for d in args.runs:
        for s in SPEAKERS:
            if not (Path(d) / s / "model.keras").exists():
                continue
            r, data = fold_data(Path(d) / s, splits=("val", "test"))
            net = without_shifts(r.model)
            row = {"run": d, "test": s}
            for split, (x, y) in data.items():
                probs = {}
                for name, ops in VARIANTS.items():
                    for op in ops:
                        if op not in probs:
                            xx = np.asarray(FrameShift(op[1])(x)) if op[0] == "shift" else tempo(x, op[1])
                            probs[op] = np.asarray(net.predict(xx, batch_size=256, verbose=0))
                    p = np.mean([probs[op] for op in ops], axis=0)
                    row[f"{split}_{name}"] = float((p.argmax(1) == y).mean())
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
    print(f"\n{'copies':14s} {'val mean':>9s} {'test mean':>10s}   ({len(rows)} folds)")
    for name in VARIANTS:
        v = [r[f"val_{name}"] for r in rows if f"val_{name}" in r]
        t = [r[f"test_{name}"] for r in rows]
        print(f"{name:14s} {np.mean(v) if v else float('nan'):9.1%} {np.mean(t):10.1%}")


if __name__ == "__main__":
    main()
