"""Separation speed and memory: seconds of audio per second of wall time, Keras vs ONNX runtime.

Builds the full-size Spleeter separators (``2stems``, ``4stems``: 44.1 kHz stereo, 512-frame
patches, 9.8M parameters per stem; weights do not change the cost, so they are untrained here),
exports each to ONNX, and separates a generated stereo 44.1 kHz file of 10 s, 3 min and 10 min
with ``auricle separate`` (file in, stem files out), each in a fresh process so that its peak
memory (max RSS) is its own.  All runs side by side in one go: the machine is shared and noisy.

    .venv/bin/python bench/bench_separation.py                 # 2stems + 4stems, 10 s / 3 min / 10 min
    .venv/bin/python bench/bench_separation.py --quick         # 2stems, 10 s and 3 min, ONNX only

Quality (SDR against the mixture and oracle baselines) is measured by training the demo
separator: ``auricle separate-demo`` writes it into its report (see docs/experiments/separation.md).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_run(preset_name: str, folder: Path) -> Path:
    """A separation run directory with an untrained full-size model and its ONNX export."""
    import keras
    import yaml

    from auricle.separation.export import export_separator
    from auricle.separation.presets import get_preset
    from auricle.separation.unet import build_separator

    p = get_preset(preset_name)
    run = folder / preset_name
    run.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    m = build_separator(p.model, frames=None, bins=p.bins, channels=p.channels, n_stems=len(p.stems),
                        **p.model_options)
    m.save(run / "model.keras")
    (run / "separation.json").write_text(json.dumps({"task": "separation", "preset": p.to_dict(), "mask": "ratio"}))
    (run / "config.yaml").write_text(yaml.safe_dump({"task": "separation", "preset": preset_name}))
    t = time.perf_counter()
    export_separator(run, "onnx")
    print(f"{preset_name}: {m.count_params() / 1e6:.1f}M parameters, ONNX export {time.perf_counter() - t:.0f} s",
          flush=True)
    return run


def make_song(path: Path, seconds: float, sr: int = 44100) -> None:
    """A stereo test signal (tones + noise bursts), written in blocks."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=2, subtype="PCM_16") as f:
        block = sr * 10
        for start in range(0, int(seconds * sr), block):
            n = min(block, int(seconds * sr) - start)
            t = (start + np.arange(n)) / sr
            y = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)
            f.write(np.stack([y, np.roll(y, 7)], axis=1).astype(np.float32))


CHILD = r"""
import resource, sys, time, json
from pathlib import Path
run, song, out, runtime = sys.argv[1:5]
t0 = time.perf_counter()
from auricle.separation.separate import Separator
sep = Separator.load(run, runtime=runtime)
t1 = time.perf_counter()
sep.separate_file(song, out, overwrite=True)
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "separate_s": t2 - t1,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "tensorflow": "tensorflow" in sys.modules}))
"""


def run_child(run: Path, song: Path, out: Path, runtime: str) -> dict:
    p = subprocess.run([sys.executable, "-c", CHILD, str(run), str(song), str(out), runtime],
                       capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if p.returncode:
        raise SystemExit(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--presets", nargs="*", default=None)
    args = ap.parse_args(argv)
    presets = args.presets or (["2stems"] if args.quick else ["2stems", "4stems"])
    lengths = [10.0, 180.0] if args.quick else [10.0, 180.0, 600.0]
    runtimes = ["onnx"] if args.quick else ["onnx", "keras"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        songs = {}
        for s in lengths:
            songs[s] = tmp / f"song_{int(s)}s.wav"
            make_song(songs[s], s)
        for name in presets:
            run = make_run(name, tmp)
            for rt in runtimes:
                for s in lengths:
                    if rt == "keras" and s > 180:
                        continue                       # Keras' memory and speed are clear from 3 min
                    r = run_child(run, songs[s], tmp / "out", rt)
                    row = {"preset": name, "runtime": rt, "seconds": s, **r,
                           "x_realtime": s / r["separate_s"]}
                    rows.append(row)
                    print(f"{name:7s} {rt:6s} {s:6.0f} s of audio: separated in {r['separate_s']:6.1f} s "
                          f"= {row['x_realtime']:5.1f}x real time (load {r['load_s']:.1f} s), "
                          f"peak RSS {r['max_rss_mb']:6.0f} MB, TensorFlow imported: {r['tensorflow']}",
                          flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
