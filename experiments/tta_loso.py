"""Test-time shifts (``train.tta_shift_ms``) on finished FSDD leave-one-speaker-out runs, without retraining.

Each ``label=DIR`` names a folder holding one run per test speaker (``DIR/<speaker>/``, as
``bench/bench_zoo.py`` writes them).  For each run it wraps the saved model exactly as training
with ``train.tta_shift_ms`` does (:func:`auricle.models.tta.shift_average`: the clip and copies
shifted by each offset, edge frames repeated, probabilities averaged) and prints validation and
test accuracy per fold, without and with each shift set (give it runs trained without
``train.tta_shift_ms``; validation only where the run had a validation split).  Run by hand, e.g.:

    .venv/bin/python experiments/tta_loso.py tiny=bench/out/zoo/resnet_tiny --shifts 50 --out tta.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="label=DIR, one run per test speaker under DIR")
    ap.add_argument("--shifts", default="50", help="comma-separated shift sets in ms, each meaning +-ms (default 50)")
    ap.add_argument("--out", help="append one JSON line per fold here")
    args = ap.parse_args()

    from ensemble_loso import SPEAKERS, fold_data

    from auricle.evaluation import predict_probs
    from auricle.models.tta import shift_average, shift_frames

    sets = [float(s) for s in args.shifts.split(",") if s.strip()]
    cols = ["none"] + [f"{ms:g}" for ms in sets]

    def line(label, fold, row):  # nan where the run has no such split
        return f"{label:24s} {fold:9s} " + " ".join(
            f"{row.get('val_' + c, float('nan')):10.1%} {row.get('test_' + c, float('nan')):10.1%}" for c in cols)
    print(f"{'run':24s} {'fold':9s} " + " ".join(f"{'val ' + c:>10s} {'test ' + c:>10s}"
                                               for c in ["none"] + [f"+-{s:g}ms" for s in sets]))
    for spec in args.runs:
        label, _, d = spec.partition("=")
        rows = []
        for s in SPEAKERS:
            run_dir = Path(d) / s
            if not (run_dir / "model.keras").exists():
                continue
            r, data = fold_data(run_dir, splits=("val", "test"))  # refit runs come without "val"
            row = {"label": label, "test": s}
            for name, model in [("none", r.model)] + [
                    (f"{ms:g}", shift_average(r.model, shift_frames([-ms, ms], r.feature_config))) for ms in sets]:
                for split, (x, y) in data.items():
                    row[f"{split}_{name}"] = float((predict_probs(model, x).argmax(1) == y).mean())
            rows.append(row)
            print(line(label, s, row), flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
        if rows:
            mean = {k: np.mean([r[k] for r in rows if k in r]) for k in rows[0] if k not in ("label", "test")}
            print(line(label, "mean", mean), flush=True)


if __name__ == "__main__":
    main()
