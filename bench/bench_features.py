"""Feature speed and accuracy: auricle vs librosa (per clip), one CPU core, same process.

    python bench/bench_features.py            # 2000 random 1-s clips, core 0, + cache timing
    python bench/bench_features.py --n 500 --cpu 1 --no-cache

Prints clips/s for the ``kws`` log-mel and ``seed`` MFCC presets: auricle (batched),
librosa called clip by clip (the usual loop), and the "floor" (only framing + rfft + |X|^2 +
mel matmul, no window/padding/log/checks), the speedups and the max |auricle - librosa|.
The clips are split into blocks and the contenders alternate block by block, so background
load hits all of them alike.  Then a tonal set (worst case for float32 precision: many frames
are recomputed in float64) and ``cached_features`` with workers=1 vs 2 on generated files.
Results also go to bench/out/bench_features.json.
"""
from __future__ import annotations

import os

for _k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # before numpy
    os.environ[_k] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.fft  # noqa: E402
from numpy.lib.stride_tricks import as_strided  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from auricle import features as F  # noqa: E402


def librosa_per_clip(cfg: F.FeatureConfig):
    import librosa

    kw = dict(sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
              window=cfg.window, center=cfg.center, power=cfg.power, n_mels=cfg.n_mels, fmin=cfg.fmin,
              fmax=cfg.fmax)
    if cfg.kind == "log_mel":
        def one(y):
            return librosa.power_to_db(librosa.feature.melspectrogram(y=y, **kw), top_db=cfg.top_db)
    else:
        def one(y):
            return librosa.feature.mfcc(y=y, n_mfcc=cfg.n_mfcc, **kw)  # its power_to_db: top_db=80
    return lambda batch: np.stack([one(y) for y in batch]).transpose(0, 2, 1)  # time-major


def floor_fn(cfg: F.FeatureConfig):
    """Only framing (strided view, no padding, no window) + rfft + |X|^2 + dense mel matmul."""
    W = np.ascontiguousarray(F.mel_filterbank(sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin,
                                              fmax=cfg.fmax).T)
    hop = cfg.resolved_hop_length

    def run(batch):
        n = batch.shape[1]
        frames = 1 + (n - cfg.n_fft) // hop
        chunk = max(1, F.CHUNK_BYTES // (frames * cfg.n_fft * 4))
        out = np.empty((len(batch), frames, cfg.n_mels), np.float32)
        for s in range(0, len(batch), chunk):
            x = batch[s:s + chunk]
            v = as_strided(x, shape=(len(x), frames, cfg.n_fft), strides=(x.strides[0], hop * 4, 4))
            X = scipy.fft.rfft(v, axis=-1, workers=1)
            P = X.real ** 2 + X.imag ** 2
            np.matmul(P, W, out=out[s:s + len(x)])
        return out
    return run


def timed(fn, x, repeat=1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(x)
        best = min(best, time.perf_counter() - t)
    return best, out


def bench_preset(name: str, n: int, blocks: int, rng) -> dict:
    cfg = F.preset(name)
    clips = (0.1 * rng.standard_normal((n, cfg.n_samples))).astype(np.float32)
    contenders = {
        "auricle": lambda b: F.extract(cfg, b),
        "librosa": librosa_per_clip(cfg),
        "floor": floor_fn(cfg),
    }
    for fn in contenders.values():  # warm up (plans, caches, imports)
        fn(clips[:4])
    total = {k: 0.0 for k in contenders}
    outs = {"auricle": [], "librosa": []}
    for blk in np.array_split(np.arange(n), blocks):
        b = clips[blk]
        for k, fn in contenders.items():
            dt, out = timed(fn, b, repeat=1 if k == "librosa" else 3)
            total[k] += dt
            if k in outs:
                outs[k].append(out)
    got, ref = np.concatenate(outs["auricle"]), np.concatenate(outs["librosa"])
    rate = {k: n / v for k, v in total.items()}
    return {"preset": name, "kind": cfg.kind, "shape": list(cfg.output_shape), "clips": n,
            "clips_per_s": {k: round(v, 1) for k, v in rate.items()},
            "speedup_vs_librosa": round(rate["auricle"] / rate["librosa"], 2),
            "fraction_of_floor": round(rate["auricle"] / rate["floor"], 2),
            "max_abs_diff": float(np.abs(got - ref).max())}


def bench_tonal(name: str, n: int, rng) -> dict:
    """Sums of 1-3 pure tones: steep spectra, the float64 fallback's worst case."""
    cfg = F.preset(name)
    t = np.arange(cfg.n_samples) / cfg.sr
    clips = np.stack([sum(rng.uniform(0.05, 0.5) * np.sin(2 * np.pi * rng.uniform(60, 0.4 * cfg.sr) * t)
                          for _ in range(rng.integers(1, 4))) for _ in range(n)]).astype(np.float32)
    F.extract(cfg, clips[:4])
    for k in F.STATS:
        F.STATS[k] = 0
    dt, got = timed(lambda b: F.extract(cfg, b), clips, repeat=3)
    stats = {k: v / 3 for k, v in F.STATS.items()}
    ref = librosa_per_clip(cfg)(clips[:100])
    return {"preset": name, "clips": n, "clips_per_s": round(n / dt, 1),
            "refined_frames": round(stats["refined"] / stats["frames"], 3),
            "float64_frames": round(stats["frames64"] / stats["frames"], 3),
            "max_abs_diff_first_100": float(np.abs(got[:100] - ref).max())}


def bench_cache(n_files: int, rng) -> dict:
    import soundfile as sf

    from auricle.datasets import cache

    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))  # both cores for the pool
    tmp = Path(tempfile.mkdtemp(prefix="auricle-bench-"))
    try:
        paths = []
        for i in range(n_files):
            p = tmp / "audio" / f"{i:05d}.wav"
            p.parent.mkdir(exist_ok=True)
            sf.write(p, (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000, subtype="PCM_16")
            paths.append(str(p))
        cfg = F.preset("kws")
        res = {"files": n_files, "preset": "kws", "start_method": cache._mp_context().get_start_method()}
        for workers in (1, 2):
            t = time.perf_counter()
            fs = cache.cached_features(paths, cfg, cache_dir=tmp / f"cache{workers}", workers=workers,
                                       progress=False)
            dt = time.perf_counter() - t
            assert not fs.cache_hit and fs.features.shape == (n_files,) + cfg.output_shape
            res[f"workers{workers}_s"] = round(dt, 3)
            res[f"workers{workers}_files_per_s"] = round(n_files / dt, 1)
        t = time.perf_counter()
        fs = cache.cached_features(paths, cfg, cache_dir=tmp / "cache2", workers=2, progress=False)
        assert fs.cache_hit
        res["hit_s"] = round(time.perf_counter() - t, 3)
        res["speedup_2_workers"] = round(res["workers1_s"] / res["workers2_s"], 2)
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="clips (and files for the cache test)")
    ap.add_argument("--blocks", type=int, default=10, help="blocks the contenders alternate on")
    ap.add_argument("--cpu", type=int, default=0, help="core to pin to")
    ap.add_argument("--no-cache", action="store_true", help="skip the cached_features timing")
    ap.add_argument("--json", default=str(Path(__file__).parent / "out" / "bench_features.json"))
    args = ap.parse_args()

    os.sched_setaffinity(0, {args.cpu})
    import librosa

    rng = np.random.default_rng(0)
    report = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "pinned_core": args.cpu, "python": platform.python_version(),
                          "numpy": np.__version__, "scipy": scipy.__version__, "librosa": librosa.__version__},
              "presets": [], "tonal": []}
    print(f"auricle features vs librosa {librosa.__version__}: {args.n} random 1-s clips, pinned to core "
          f"{args.cpu}, BLAS/OMP threads 1\n")
    print(f"{'preset':8s} {'shape':>9s} {'auricle':>9s} {'librosa':>9s} {'floor':>9s} {'speedup':>8s} "
          f"{'of floor':>8s} {'max|diff|':>10s}")
    for name in ("kws", "seed"):
        r = bench_preset(name, args.n, args.blocks, rng)
        report["presets"].append(r)
        c = r["clips_per_s"]
        print(f"{name:8s} {'x'.join(map(str, r['shape'])):>9s} {c['auricle']:9.0f} {c['librosa']:9.0f} "
              f"{c['floor']:9.0f} {r['speedup_vs_librosa']:7.1f}x {r['fraction_of_floor']:8.2f} "
              f"{r['max_abs_diff']:10.2e}")
    print("  (clips/s; speedup = auricle / librosa per clip; of floor = auricle / floor; diff in dB "
          "for kws, MFCC units for seed)\n")
    print("tonal clips (1-3 pure tones; float32 round-off would exceed 5e-4 dB, so frames are redone in "
          "float64):")
    for name in ("kws", "seed"):
        r = bench_tonal(name, max(100, args.n // 4), rng)
        report["tonal"].append(r)
        print(f"  {name:6s} {r['clips_per_s']:7.0f} clips/s  refined {r['refined_frames']:.1%}  whole-chunk "
              f"float64 {r['float64_frames']:.1%}  max|diff| {r['max_abs_diff_first_100']:.2e}")
    if not args.no_cache:
        r = bench_cache(args.n, rng)
        report["cache"] = r
        print(f"\ncached_features, {r['files']} generated 1-s wav files, kws preset "
              f"(start method {r['start_method']}):")
        print(f"  workers=1 {r['workers1_s']:.2f} s ({r['workers1_files_per_s']:.0f} files/s)   workers=2 "
              f"{r['workers2_s']:.2f} s ({r['workers2_files_per_s']:.0f} files/s)   speedup "
              f"{r['speedup_2_workers']:.2f}x   cache hit {r['hit_s'] * 1000:.0f} ms")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
