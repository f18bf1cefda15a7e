"""Scale-out figures (issue 25): sharded cache build on 1 vs 2 Dask workers, memory while training
from shards vs from the in-memory cache, training examples/s on 1 vs 2 logical devices and on
1 vs 2 local workers.

Generates ``--n`` clips (tones and noise, 1 s at 16 kHz) under ``--work``, then

1. builds the sharded cache (:func:`auricle.datasets.shards.build_shards`) with ``workers=1`` (in this
   process) and ``workers=2`` (a local Dask cluster; its start-up is counted separately) and
   checks the shards are byte-identical;
2. in a child process each, trains a small model for one epoch from the shards (``Shards.dataset``)
   and from the whole cache loaded in memory, at ``n/2`` and ``n`` clips, and reports the peak
   RSS above the process's RSS just before ``fit`` (shards: bounded; in memory: grows with n);
3. trains ``auricle.training.train`` on ``--train-n`` of the clips with ``train.distribute``
   none / mirrored (2 logical CPUs) / multi_worker (2 local processes on loopback ports), and
   reports examples/s (median epoch, the first excluded);
4. ``--stages``: per-stage costs for bench/SCALE.md -- decode ms/clip, log-mel ms/clip, the
   sharded stream's examples/s without a model (``ShardedRows.dataset``), and the train step
   ms/batch (batch 64) of the default recipe's TC-ResNet14 and of the cnn, with their parameter
   bytes (what an all-reduce moves per step);
5. ``--train-memory 2000,8000``: ``auricle.training.train`` itself (one epoch, TC-ResNet14) with
   ``data.cache: shards`` vs ``memory`` at each size, in a child process each: peak RSS of the
   whole run (featurization, fit, evaluation) above the peak of a one-step TensorFlow warm-up.

Run by hand (2 cores, shared):  nice -n 10 .venv/bin/python bench/bench_scale.py --n 2000
Stages and train memory only:   .venv/bin/python bench/bench_scale.py --n 2000 --skip build,memory,train \
                                    --stages --train-memory 2000,8000
Full size:                      .venv/bin/python bench/bench_scale.py --n 10000
Results: docs/experiments/scale-out.md
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SR = 16000
CLASSES = ("low", "high", "noise")


def make_clips(root: Path, n: int) -> list[str]:
    """``n`` one-second clips, a third each of low tones, high tones and noise, with a manifest."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    t = np.arange(SR) / SR
    rows, paths = ["path,label,group"], []
    for i in range(n):
        c = CLASSES[i % 3]
        rel = f"{c}/g{i % 20}_{i:05d}.wav"
        p = root / rel
        paths.append(str(p))
        rows.append(f"{rel},{c},g{i % 20}")
        if p.exists():
            continue
        p.parent.mkdir(exist_ok=True)
        if c == "noise":
            y = rng.standard_normal(SR)
        else:
            y = np.sin(2 * np.pi * (rng.uniform(250, 450) if c == "low" else rng.uniform(2500, 3500)) * t)
        sf.write(p, (0.3 * y).astype("float32"), SR)
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return paths


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ------------------------------------------------------------------------------------------
# child processes


def child_memory(source: str, shards_dir: str, n_files: int) -> dict:
    """One epoch of a small model from the shards or from all of them in memory; peak RSS above baseline."""
    import keras

    from auricle.datasets.shards import open_shards

    sh = open_shards(shards_dir)
    keep = [i for i, s in enumerate(sh.shards) if s["files"][1] <= n_files]
    sh.shards = [sh.shards[i] for i in keep]
    labels = np.arange(n_files) % 3
    model = keras.Sequential([keras.Input(sh.shape), keras.layers.Conv1D(16, 5, strides=4, activation="relu"),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    if source == "shards":
        data = dict(x=sh.dataset(labels, n_classes=3, batch_size=64, seed=0, cycle_length=2, shuffle_buffer=1024))
    base = rss_mb()
    if source == "memory":
        x = sh.to_array()  # what the single-array cache path holds for training (its rows read into RAM)
        y = keras.utils.to_categorical(labels[sh.file_index()], 3)
        data = dict(x=x, y=y, batch_size=64, shuffle=True)
    t0 = time.time()
    model.fit(**data, epochs=1, verbose=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"source": source, "rows": len(sh), "feature_mb": len(sh) * int(np.prod(sh.shape)) * 4 / 2**20,
            "rss_before_fit_mb": round(base, 1), "peak_above_mb": round(peak - base, 1),
            "seconds": round(time.time() - t0, 2)}


def child_train(config: str, out: str, logical: int) -> dict:
    import tensorflow as tf

    if logical:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical)
    from auricle.config import RunConfig
    from auricle.training import train

    metrics = train(RunConfig.load(config), out, progress=False, overwrite=True)
    if not metrics:  # a non-chief worker
        return {}
    rows = (Path(out) / "history.csv").read_text().splitlines()
    keys = rows[0].split(",")
    hist = [dict(zip(keys, map(float, r.split(",")))) for r in rows[1:]]
    n = metrics["run"]["counts"]["train"]
    secs = [h["seconds"] for h in hist][1:] or [hist[0]["seconds"]]
    return {"train_examples": n, "epoch_seconds": [h["seconds"] for h in hist],
            "examples_per_s": round(n / statistics.median(secs), 1)}


def child_train_memory(config: str, out: str) -> dict:
    """``auricle.training.train`` (data.cache from the config); peak RSS above the RSS after a warm-up.

    The warm-up (one step of a tiny model) loads and starts TensorFlow, so its ~600 MB (imports,
    thread pools, kernels) is in the baseline, not in the figure; ``ru_maxrss`` is the lifetime peak."""
    import keras

    from auricle.config import RunConfig
    from auricle.training import train

    warm = keras.Sequential([keras.Input((101, 40)), keras.layers.Conv1D(8, 3), keras.layers.GlobalAveragePooling1D(),
                             keras.layers.Dense(3, activation="softmax")])
    warm.compile("adam", "categorical_crossentropy")
    warm.fit(np.zeros((64, 101, 40), "float32"), np.eye(3)[np.arange(64) % 3], epochs=1, verbose=0)
    warm.predict(np.zeros((8, 101, 40), "float32"), verbose=0)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.time()
    metrics = train(RunConfig.load(config), out, progress=False, overwrite=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rss_after_warmup_mb": round(base, 1), "peak_above_mb": round(peak - base, 1),
            "seconds": round(time.time() - t0, 1), "train_rows": metrics["run"]["counts"]["train"],
            "accuracy": round(metrics["accuracy"], 4)}


# ------------------------------------------------------------------------------------------
# the figures


def _child(args: list[str], env=None, timeout=900) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO), **(env or {})}
    p = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, timeout=timeout)
    if p.returncode:
        raise SystemExit(f"child {args} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def bench_build(paths, work: Path, shard_size: int) -> tuple[dict, Path]:
    from auricle.datasets.shards import _client, build_shards
    from auricle.features import preset

    cfg = preset("kws")
    out = {}
    for workers in (1, 2):
        t0 = time.time()
        if workers > 1:  # the cluster's start-up, measured on its own (a real cluster is already running)
            client, lc = _client(None, workers)
            start = time.time() - t0
            client.close()
            lc.close()
        else:
            start = 0.0
        t0 = time.time()
        sh = build_shards(paths, cfg, cache_dir=work / f"shards{workers}", shard_size=shard_size, workers=workers)
        sec = time.time() - t0
        if sh.cache_hit:
            sec = sh.seconds
        out[workers] = {"seconds": round(sec, 2), "files_per_s": round(len(paths) / sec, 1),
                        "cluster_start_s": round(start, 2), "shards": len(sh.shards), "path": str(sh.path)}
        print(f"cache build, {workers} worker(s): {len(paths)} files in {sec:.1f}s = {len(paths) / sec:.0f} files/s"
              + (f" (+ {start:.1f}s LocalCluster start-up)" if workers > 1 else ""), flush=True)
    a, b = Path(out[1]["path"]), Path(out[2]["path"])
    same = all((a / f.name).read_bytes() == f.read_bytes() for f in sorted(b.glob("shard-*.npy")))
    print(f"shards byte-identical between 1 and 2 workers: {same}", flush=True)
    out["identical"] = same
    return out, a


def bench_memory(shards_dir: Path, n: int) -> list[dict]:
    res = []
    for size in (n // 2, n):
        for source in ("shards", "memory"):
            r = _child(["--child-memory", source, str(shards_dir), str(size)])
            res.append(r)
            print(f"train from {source:<6} {r['rows']:>6} rows ({r['feature_mb']:.0f} MB of features): peak RSS "
                  f"{r['peak_above_mb']:+.0f} MB above the {r['rss_before_fit_mb']:.0f} MB before fit", flush=True)
    return res


def _free_ports(k):
    socks = [socket.socket() for _ in range(k)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def bench_train(root: Path, work: Path, epochs: int) -> dict:
    from auricle.config import RunConfig

    res = {}
    for mode, logical in (("none", 1), ("mirrored", 2), ("multi_worker", 0)):
        cfg = RunConfig.from_dict({
            "name": "scale", "data": {"root": str(root), "layout": "manifest", "val": 0.1, "test": 0.1},
            "features": {"preset": "kws"}, "augment": {}, "model": {"name": "cnn", "options": {"dense": 32}},
            "train": {"epochs": epochs, "batch_size": 64, "workers": 1, "cache_dir": str(work / "cache"),
                      "distribute": mode, "keep": "last"}})
        path = work / f"train_{mode}.yaml"
        cfg.save(path)
        if mode != "multi_worker":
            r = _child(["--child-train", str(path), str(work / f"run_{mode}"), str(logical if mode == "mirrored" else 0)])
            label = "1 device" if mode == "none" else "2 logical CPU devices (mirrored)"
        else:
            ports = _free_ports(2)
            procs = []
            for i in range(2):
                tfc = {"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker", "index": i}}
                env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO), "TF_CONFIG": json.dumps(tfc)}
                procs.append(subprocess.Popen([sys.executable, __file__, "--child-train", str(path),
                                               str(work / "run_multi_worker"), "0"], env=env,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            outs = [p.communicate(timeout=1800) for p in procs]
            if any(p.returncode for p in procs):
                raise SystemExit(f"multi-worker failed:\n{outs[0][1][-3000:]}")
            r = json.loads(outs[0][0].strip().splitlines()[-1])
            label = "2 local workers (multi_worker)"
        res[mode] = r
        print(f"train {label}: {r['examples_per_s']:.0f} examples/s (epochs {r['epoch_seconds']} s, "
              f"{r['train_examples']} training examples)", flush=True)
    return res


def bench_stages(paths, work: Path, shard_size: int) -> dict:
    """Per-stage costs on this machine (one process, one core's worth of work each)."""
    import keras
    from threadpoolctl import threadpool_limits

    from auricle.audio import load
    from auricle.datasets.shards import ShardedRows, build_shards
    from auricle.features import extract, preset
    from auricle.models import get_model

    cfg = preset("kws")
    out = {}
    sample = paths[:min(len(paths), 400)]
    with threadpool_limits(limits=1):
        t0 = time.perf_counter()
        waves = np.stack([load(p, sr=SR) for p in sample])
        out["decode_ms_per_clip"] = round(1000 * (time.perf_counter() - t0) / len(sample), 3)
        extract(cfg, waves[:8])  # warm-up (filter banks)
        t0 = time.perf_counter()
        for i in range(0, len(waves), 64):
            extract(cfg, waves[i:i + 64])
        out["features_ms_per_clip"] = round(1000 * (time.perf_counter() - t0) / len(waves), 3)
    print(f"decode (1 s wav, 16 kHz): {out['decode_ms_per_clip']:.2f} ms/clip; kws log-mel: "
          f"{out['features_ms_per_clip']:.2f} ms/clip (one thread)", flush=True)
    # an AudioSet-like clip: 10 s of 44.1 kHz FLAC, decoded and resampled to 16 kHz, and its log-mel
    import soundfile as sf

    flac = work / "flac10s"
    flac.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    long = []
    for i in range(20):
        f = flac / f"{i}.flac"
        if not f.exists():
            t = np.arange(441000) / 44100
            sf.write(f, (0.2 * np.sin(2 * np.pi * rng.uniform(200, 4000) * t) + 0.05 * rng.standard_normal(441000))
                     .astype("float32"), 44100)
        long.append(str(f))
    with threadpool_limits(limits=1):
        t0 = time.perf_counter()
        w10 = np.stack([load(p, sr=SR)[:10 * SR] for p in long])
        out["decode_flac10s_ms_per_clip"] = round(1000 * (time.perf_counter() - t0) / len(long), 2)
        c10 = preset("kws", duration=10.0)
        extract(c10, w10[:2])
        t0 = time.perf_counter()
        extract(c10, w10)
        out["features10s_ms_per_clip"] = round(1000 * (time.perf_counter() - t0) / len(long), 2)
    print(f"decode 10 s 44.1 kHz FLAC -> 16 kHz: {out['decode_flac10s_ms_per_clip']:.1f} ms/clip; its log-mel "
          f"(1001 x 40): {out['features10s_ms_per_clip']:.1f} ms/clip (one thread)", flush=True)
    sh = build_shards(paths, cfg, cache_dir=work / "shards1", shard_size=shard_size, workers=1)
    view = ShardedRows(sh)
    y = np.arange(len(view)) % 3
    for cycle in (2, 4):
        ds = view.dataset(y, n_classes=3, batch_size=64, seed=0, cycle_length=cycle)
        for _ in ds.take(2):  # warm-up: the pipeline's threads and the page cache of the first shards
            pass
        t0 = time.perf_counter()
        n = sum(int(b[0].shape[0]) for b in ds)
        out[f"shard_read_examples_per_s_cycle{cycle}"] = round(n / (time.perf_counter() - t0), 1)
        print(f"shard stream (no model), cycle_length {cycle}: {out[f'shard_read_examples_per_s_cycle{cycle}']:,.0f} "
              f"examples/s over {n} rows ({len(sh.shards)} shards, {sh.shape} float32 rows)", flush=True)
    x = np.random.default_rng(0).standard_normal((64,) + tuple(sh.shape)).astype("float32")
    yb = keras.utils.to_categorical(np.arange(64) % 12, 12)
    for name, opts in (("tc_resnet14", {}), ("cnn", {})):
        model = get_model(name).build(tuple(sh.shape), 12, **opts)
        model.compile("adam", "categorical_crossentropy")
        for _ in range(3):
            model.train_on_batch(x, yb)
        steps, t0 = 10, time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, yb)
        ms = 1000 * (time.perf_counter() - t0) / steps
        out[f"train_step_ms_{name}"] = round(ms, 1)
        out[f"params_{name}"] = int(model.count_params())
        print(f"train step {name} ({model.count_params():,} parameters = {4 * model.count_params() / 2**20:.2f} MB "
              f"of gradients), batch 64: {ms:.0f} ms = {64000 / ms:,.0f} examples/s", flush=True)
    return out


def bench_train_memory(work: Path, sizes: list[int]) -> list[dict]:
    from auricle.config import RunConfig

    res = []
    for n in sizes:
        root = work / f"clips_{n}"
        make_clips(root, n)
        for cache in ("shards", "memory"):
            cfg = RunConfig.from_dict({
                "name": "mem", "data": {"root": str(root), "layout": "manifest", "val": 0.1, "test": 0.1,
                                        "cache": cache, "split_by": "item"},
                "features": {"preset": "kws"}, "augment": {}, "model": {"name": "tc_resnet14", "options": {}},
                "train": {"epochs": 1, "batch_size": 64, "workers": 1, "cache_dir": str(work / f"tcache_{cache}"),
                          "keep": "last"}})
            path = work / f"mem_{cache}_{n}.yaml"
            cfg.save(path)
            r = _child(["--child-train-memory", str(path), str(work / f"run_mem_{cache}_{n}")], timeout=3600)
            r.update(cache=cache, clips=n, feature_mb=round(r["train_rows"] * 101 * 40 * 4 / 2**20, 1))
            res.append(r)
            print(f"auricle train, data.cache {cache:<6}, {n} clips ({r['train_rows']} training rows, "
                  f"{r['feature_mb']:.0f} MB of training features): peak RSS +{r['peak_above_mb']:.0f} MB above the "
                  f"{r['rss_after_warmup_mb']:.0f} MB peak of a TensorFlow warm-up ({r['seconds']:.0f} s, accuracy {r['accuracy']:.3f})",
                  flush=True)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000, help="generated clips for the cache build and memory figures")
    ap.add_argument("--train-n", type=int, default=1200, help="clips for the training-throughput figures")
    ap.add_argument("--shard-size", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--work", default=str(HERE / "out" / "scale"))
    ap.add_argument("--skip", default="", help="comma list of build,memory,train to skip")
    ap.add_argument("--stages", action="store_true", help="per-stage costs (decode, features, shard stream, train step)")
    ap.add_argument("--train-memory", default="", help="comma list of clip counts: auricle train memory, shards vs memory")
    ap.add_argument("--child-train-memory", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--child-memory", nargs=3, metavar=("SOURCE", "SHARDS", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--child-train", nargs=3, metavar=("CONFIG", "OUT", "LOGICAL"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child_memory:
        print(json.dumps(child_memory(a.child_memory[0], a.child_memory[1], int(a.child_memory[2]))))
        return 0
    if a.child_train:
        print(json.dumps(child_train(a.child_train[0], a.child_train[1], int(a.child_train[2]))))
        return 0
    if a.child_train_memory:
        print(json.dumps(child_train_memory(*a.child_train_memory)))
        return 0
    work = Path(a.work)
    skip = set(filter(None, a.skip.split(",")))
    t0 = time.time()
    paths = make_clips(work / "clips", a.n)
    print(f"{a.n} clips ready in {time.time() - t0:.1f}s under {work / 'clips'}", flush=True)
    results = {"n": a.n, "shard_size": a.shard_size, "cpus": os.cpu_count()}
    shards_dir = None
    if "build" not in skip:
        results["build"], shards_dir = bench_build(paths, work, a.shard_size)
    if "memory" not in skip and shards_dir is not None:
        results["memory"] = bench_memory(shards_dir, a.n)
    if "train" not in skip:
        sub = work / "train_clips"
        make_clips(sub, a.train_n)
        results["train"] = bench_train(sub, work, a.epochs)
    if a.stages:
        results["stages"] = bench_stages(paths, work, a.shard_size)
    if a.train_memory:
        results["train_memory"] = bench_train_memory(work, [int(v) for v in a.train_memory.split(",")])
    (work / "results.json").write_text(json.dumps(results, indent=1))
    print(f"results: {work / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
