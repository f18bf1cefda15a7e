"""Built-in demo data: accuracy on unseen voices, clean and with background noise at 10 dB SNR,
for the default recipe with and without noise augmentation (issue: augmentation).

The noisy test set is the demo's test split with pink/white/brown noise mixed at exactly
10 dB SNR (relative to each clip's active RMS, auricle.augment.AddNoise), written once to
bench/out/demo_noisy10/ as a manifest dataset.  Run by hand:

    .venv/bin/python bench/demo_noise.py                  # trains both runs (~2 x 1 min)
    .venv/bin/python bench/demo_noise.py --snr 5
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def noisy_copy(snr: float, out: Path) -> Path:
    from auricle.audio import load, save
    from auricle.augment import AddNoise

    rows = [r for r in csv.DictReader(open(ROOT / "data/demo/manifest.csv")) if r["split"] == "test"]
    out.mkdir(parents=True, exist_ok=True)
    waves = np.stack([load(ROOT / "data/demo" / r["path"], sr=16000) for r in rows])
    noise = AddNoise(min_snr_db=snr, max_snr_db=snr, colors=["white", "pink", "brown"], p=1.0)
    noisy = noise(waves, np.random.default_rng(0), sr=16000)
    lines = ["path,label,group"]
    for i, (r, y) in enumerate(zip(rows, noisy)):
        rel = f"{r['label']}/{i:04d}.wav"
        (out / r["label"]).mkdir(exist_ok=True)
        save(out / rel, y, 16000)
        lines.append(f"{rel},{r['label']},{r['group']}")
    (out / "manifest.csv").write_text("\n".join(lines) + "\n")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snr", type=float, default=10.0)
    ap.add_argument("--out", default=str(HERE / "out" / "demo_noise"))
    args = ap.parse_args()
    out = Path(args.out)
    noisy = noisy_copy(args.snr, out / f"noisy{args.snr:g}")
    auricle = str(Path(sys.executable).parent / "auricle")
    variants = {"default": [], "no-noise-aug": ["--set", "augment.noise.p=0.0"]}
    print(f"{'recipe':<14} {'clean test':>10} {'noisy test':>10} {'train s':>8}")
    for name, extra in variants.items():
        run = out / name
        cmd = [auricle, "train", "demo", "--out", str(run), "--overwrite", *extra]
        print("$", " ".join(cmd), flush=True)
        t0 = time.time()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.time() - t0
        from auricle.evaluation import evaluate_run
        import json

        clean = json.loads((run / "metrics.json").read_text())["accuracy"]
        m = evaluate_run(run, noisy, layout="manifest", progress=False)
        print(f"{name:<14} {clean:10.1%} {m['accuracy']:10.1%} {wall:8.0f}", flush=True)


if __name__ == "__main__":
    main()
