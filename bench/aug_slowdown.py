"""Training slow-down caused by on-the-fly augmentation (issue: augmentation).

Trains the default recipe (with --model, default TC-ResNet14) on the built-in demo data for a few epochs three times — with its
augmentation chain in the power domain (the default, ``train.augment_domain: auto``: shift, gain
and noise on cached mel power), with the chain on the waveform (STFT of every augmented clip per
batch), and with --no-augment (cached features) — and prints seconds per epoch (median, first
epoch excluded) and each slow-down against --no-augment.  Run by hand:  .venv/bin/python bench/aug_slowdown.py [--epochs 8]
"""
from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    # one network, so history.csv holds one epoch per row (the default ensemble trains its members
    # one after the other, each with this same data pipeline)
    ap.add_argument("--model", default="tc_resnet14")
    args = ap.parse_args()
    auricle = str(Path(sys.executable).parent / "auricle")
    res = {}
    runs = {"power": [], "waveform": ["--set", "train.augment_domain=waveform"], "no-augment": ["--no-augment"]}
    for name, extra in runs.items():
        out = HERE / "out" / "aug_slowdown" / name
        cmd = [auricle, "train", "demo", "--out", str(out), "--overwrite", "--epochs", str(args.epochs),
               "--model", args.model, *extra]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, capture_output=True)
        secs = [float(r["seconds"]) for r in csv.DictReader(open(out / "history.csv"))][1:]
        res[name] = statistics.median(secs)
        print(f"  {name:<10} {res[name]:.2f} s/epoch (median of epochs 2-{args.epochs})", flush=True)
    for name in ("power", "waveform"):
        print(f"slow-down from augmentation in the {name} domain: {res[name] / res['no-augment']:.2f}x")


if __name__ == "__main__":
    main()
