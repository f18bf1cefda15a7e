"""Augmentation throughput on one CPU core, and what it costs next to feature extraction.

    python bench/bench_augment.py                 # core 0, batches of 32 one-second 16 kHz clips
    python bench/bench_augment.py --cpu 1 --min-time 0.3

For the ``augment:`` section of ``auricle/recipes/default.yaml`` it times each transform alone
(as configured, and at p=1 = the cost per augmented clip), the whole chain (waveform part and
SpecAugment) and ``auricle.features.extract`` with the recipe's features (kws log-mel), then
prints the chain's cost relative to extraction: the slow-down of the per-batch data pipeline
that on-the-fly augmentation adds (the model step comes on top, so training slows down less).
The transforms the recipe does not use are timed too (default options, p=1), to price them
before enabling them.  Times are the best of repeated batches (the least disturbed by other
processes); runs in ~15-30 s.
Results also go to bench/out/bench_augment.json.
"""
from __future__ import annotations

import os

for _k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # before numpy
    os.environ[_k] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from auricle.augment import TRANSFORMS, build_chain, colored_noise  # noqa: E402
from auricle.config import recipe  # noqa: E402
from auricle.features import extract  # noqa: E402

BATCH, SR = 32, 16000


def clips(n: int, rng: np.random.Generator) -> np.ndarray:
    """Speech-like test clips: pink noise under a syllable-rate envelope, ~-20 dBFS, with silence."""
    x = colored_noise(n, SR, "pink", rng)
    t = np.arange(SR) / SR
    env = np.clip(np.sin(2 * np.pi * rng.uniform(2, 5, (n, 1)) * t + rng.uniform(0, 6, (n, 1))), 0, None)
    env *= (t > 0.2) & (t < 0.8)
    return (0.1 * x * env).astype(np.float32)


def best_time(fn, min_time: float, min_reps: int = 5) -> float:
    fn()  # warm-up (imports, caches, first noise-folder load)
    times, start = [], time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(min(times))  # best of: the least disturbed by other processes on the machine


def noise_folder(tmp: Path) -> Path:
    """Three 5-s stereo 44.1 kHz noise files (decoded, mixed to mono and resampled once)."""
    import soundfile as sf

    rng = np.random.default_rng(1)
    for i, c in enumerate(("white", "pink", "brown")):
        y = colored_noise(2, 5 * 44100, c, rng).T * 0.1
        sf.write(str(tmp / f"noise{i}.wav"), y, 44100)
    return tmp


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu", type=int, default=0, help="CPU core to pin to (default 0; -1 = no pinning)")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds of repeated batches per measurement")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    cfg = recipe("default")
    fcfg = cfg.feature_config()
    chain = build_chain(cfg.augment)
    rng = np.random.default_rng(args.seed)
    x = clips(BATCH, rng)
    feats = extract(fcfg, x)

    def run(t, inp):
        return lambda: t(inp, np.random.default_rng(args.seed), sr=SR)

    def clips_per_s(sec):
        return BATCH / sec if sec > 0 else float("inf")

    rows = []
    t_extract = best_time(lambda: extract(fcfg, x), args.min_time)
    print(f"auricle augmentation benchmark: batches of {BATCH} x 1 s at {SR} Hz, one core, "
          f"numpy {np.__version__}, {platform.processor() or platform.machine()}")
    print(f"feature extraction ({fcfg.kind}, {fcfg.n_mels} bands): {t_extract * 1e3:7.2f} ms/batch "
          f"{clips_per_s(t_extract):8.0f} clips/s\n")
    head = f"{'transform':<34}{'ms/batch':>9}{'clips/s':>10}{'x extract':>11}"

    print("default recipe chain, each transform as configured (p as in the recipe) and at p=1:")
    print(head)
    for t in chain.transforms:
        inp = feats if t.domain == "features" else x
        for label, tr in ((f"{t.name} (p={t.p:g})", t), (f"{t.name} (p=1)", type(t)(**{**_opts(t), "p": 1.0}))):
            sec = best_time(run(tr, inp), args.min_time)
            rows.append({"group": "default", "transform": label, "ms_per_batch": sec * 1e3,
                         "clips_per_s": clips_per_s(sec), "relative_to_extract": sec / t_extract})
            print(f"{label:<34}{sec * 1e3:9.2f}{clips_per_s(sec):10.0f}{sec / t_extract:11.2f}")

    def whole():
        r = np.random.default_rng(args.seed)
        w = chain.apply_waveform(x, r, sr=SR)
        return chain.apply_features(extract(fcfg, w), r)

    t_wave = best_time(lambda: chain.apply_waveform(x, np.random.default_rng(args.seed), sr=SR), args.min_time)
    t_spec = best_time(lambda: chain.apply_features(feats, np.random.default_rng(args.seed)), args.min_time)
    t_all = best_time(whole, args.min_time)
    print(f"{'chain: waveform part':<34}{t_wave * 1e3:9.2f}{clips_per_s(t_wave):10.0f}{t_wave / t_extract:11.2f}")
    print(f"{'chain: feature part':<34}{t_spec * 1e3:9.2f}{clips_per_s(t_spec):10.0f}{t_spec / t_extract:11.2f}")
    print(f"{'augment + extract (a train batch)':<34}{t_all * 1e3:9.2f}{clips_per_s(t_all):10.0f}{t_all / t_extract:11.2f}")
    from auricle.augment.power import PowerAugmenter

    paug = PowerAugmenter(chain, fcfg)
    S, rms = paug.cache(x)
    idx = np.arange(BATCH)
    t_power = best_time(lambda: paug.batch(S, rms, idx, np.random.default_rng(args.seed)), args.min_time)
    print(f"{'power domain (the training default)':<34}{t_power * 1e3:9.2f}{clips_per_s(t_power):10.0f}"
          f"{t_power / t_extract:11.2f}")
    rows.append({"group": "default", "transform": "chain, power domain (train batch)", "ms_per_batch": t_power * 1e3,
                 "clips_per_s": clips_per_s(t_power), "relative_to_extract": t_power / t_extract})
    slow = (t_wave + t_spec) / t_extract
    print(f"\n=> the default chain costs {slow:.2f}x feature extraction.  Training from cached features pays "
          f"neither; on-the-fly augmentation pays {t_all * 1e3:.1f} ms of CPU per batch ({clips_per_s(t_all):.0f} "
          f"clips/s on one core), mostly the log-mel extraction of the augmented audio.  How much that slows "
          f"training depends on the model step and on free cores: see bench/aug_slowdown.py.  In the power "
          f"domain (shift/gain/noise on cached mel power, train.augment_domain: auto) a train batch costs "
          f"{t_power * 1e3:.1f} ms ({clips_per_s(t_power):.0f} clips/s), no STFT.")

    print("\nother transforms, default options, p=1:")
    print(head)
    with tempfile.TemporaryDirectory() as tmp:
        folder = noise_folder(Path(tmp))
        for name in sorted(set(TRANSFORMS) - {t.name for t in chain.transforms}):
            opts = {"folder": str(folder)} if name == "background_noise" else {}
            tr = TRANSFORMS[name](**opts, p=1.0)
            inp = feats if tr.domain == "features" else x
            if name == "background_noise":
                t0 = time.perf_counter()
                tr.bank.load(SR)
                print(f"{'  (noise folder: decode+resample once)':<34}{(time.perf_counter() - t0) * 1e3:9.2f}")
            variants = [(name, tr)]
            if name in ("tempo", "pitch_shift"):
                variants.append((f"{name} (phase_lock)", TRANSFORMS[name](phase_lock=True, p=1.0)))
            for label, t in variants:
                sec = best_time(run(t, inp), args.min_time)
                rows.append({"group": "other", "transform": label, "ms_per_batch": sec * 1e3,
                             "clips_per_s": clips_per_s(sec), "relative_to_extract": sec / t_extract})
                print(f"{label:<34}{sec * 1e3:9.2f}{clips_per_s(sec):10.0f}{sec / t_extract:11.2f}")
        # recorded noise (Speech Commands' _background_noise_ style) runs in the power domain too
        rec = build_chain({**cfg.augment, "noise": False,
                           "background_noise": {"folder": str(folder), "min_snr_db": 5, "max_snr_db": 35, "p": 0.8}})
        raug = PowerAugmenter(rec, fcfg)
        Sr, rr = raug.cache(x)
        raug.batch(Sr, rr, idx, np.random.default_rng(0))  # warm-up: the folder's mel power, once

        def rec_wave():
            r = np.random.default_rng(args.seed)
            return rec.apply_features(extract(fcfg, rec.apply_waveform(x, r, sr=SR)), r)

        for label, fn in (("chain with recorded noise, power", lambda: raug.batch(Sr, rr, idx, np.random.default_rng(args.seed))),
                          ("chain with recorded noise, waveform", rec_wave)):
            sec = best_time(fn, args.min_time)
            rows.append({"group": "recorded noise", "transform": label, "ms_per_batch": sec * 1e3,
                         "clips_per_s": clips_per_s(sec), "relative_to_extract": sec / t_extract})
            print(f"{label:<34}{sec * 1e3:9.2f}{clips_per_s(sec):10.0f}{sec / t_extract:11.2f}")
        # SpecAugment time warping is not in the recipe either
        t = TRANSFORMS["spec_augment"](time_warp=5, p=1.0)
        sec = best_time(run(t, feats), args.min_time)
        rows.append({"group": "other", "transform": "spec_augment (time_warp=5)", "ms_per_batch": sec * 1e3,
                     "clips_per_s": clips_per_s(sec), "relative_to_extract": sec / t_extract})
        print(f"{'spec_augment (time_warp=5)':<34}{sec * 1e3:9.2f}{clips_per_s(sec):10.0f}{sec / t_extract:11.2f}")

    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_augment.json").write_text(json.dumps({
        "batch": BATCH, "sr": SR, "extract_ms_per_batch": t_extract * 1e3, "chain_waveform_ms": t_wave * 1e3,
        "chain_spec_ms": t_spec * 1e3, "augment_plus_extract_ms": t_all * 1e3, "chain_over_extract": slow,
        "rows": rows, "numpy": np.__version__, "machine": platform.machine()}, indent=1))


def _opts(t) -> dict:
    """Constructor options of a built transform (its public attributes that are parameters)."""
    import inspect

    params = inspect.signature(type(t).__init__).parameters
    return {k: getattr(t, k) for k in params if k not in ("self", "p") and hasattr(t, k)}


if __name__ == "__main__":
    main()
