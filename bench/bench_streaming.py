"""Streaming cost per 20 ms packet (front end + model step) and export parity, one CPU core.

    python bench/bench_streaming.py                          # untrained lstm, gru, crnn, tc_resnet8
    python bench/bench_streaming.py --runs runs/gru runs/tc  # trained runs (parity then means something)
    python bench/bench_streaming.py --seconds 20 --int8

For each model: a run directory (given, or an untrained model on the demo data in a temp
folder), its streaming step model exported to ONNX and TFLite (``auricle.export``), then the
same audio (pink noise + demo test words) streamed in 20 ms packets through

* the front end alone,
* front end + Keras step model (``tf.function``),
* front end + onnxruntime step model, and front end + LiteRT step model (1 thread each),

reporting mean and p99 milliseconds per 20 ms packet, with the process pinned to one core.
Each export's parity against Keras on the run's test split comes from its meta.json.
Results also go to bench/out/bench_streaming.json.
"""
from __future__ import annotations

import os

for _k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
           "TF_NUM_INTEROP_THREADS"):
    os.environ[_k] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = {"lstm": {}, "gru": {}, "crnn": {}, "tc_resnet8": {"padding": "causal"}}


def make_run(root: Path, name: str, opts: dict) -> Path:
    from auricle.config import RunConfig
    from auricle.models import build_model

    cfg = RunConfig.from_dict({"name": name, "data": {"root": "demo"}, "features": {"preset": "kws", "top_db": None},
                               "model": {"name": name, "options": opts}})
    fc = cfg.feature_config()
    d = root / name
    d.mkdir(parents=True)
    cfg.save(d / "config.yaml")
    labels = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"]
    (d / "labels.json").write_text(json.dumps(labels))
    (d / "features.json").write_text(json.dumps({**fc.to_dict(), "crop": "center", "window_hop": None}))
    build_model(name, fc.output_shape, len(labels), **opts).save(d / "model.keras")
    return d


def test_audio(seconds: float, sr: int = 16000) -> np.ndarray:
    from auricle.streaming.evaluate import pink_noise

    rng = np.random.default_rng(0)
    y = pink_noise(int(seconds * sr), rng) * 0.01
    t = np.arange(int(0.4 * sr)) / sr
    for s in np.arange(1.0, seconds - 1, 2.0):
        i = int(s * sr)
        y[i:i + len(t)] += (0.2 * np.sin(2 * np.pi * (200 + 300 * t) * t) * np.hanning(len(t))).astype(np.float32)
    return y


def time_packets(push, y, packet: int, warm: int = 50):
    for i in range(0, warm * packet, packet):
        push(y[i:i + packet])
    cost = []
    for i in range(0, len(y) - packet + 1, packet):
        t0 = time.perf_counter()
        push(y[i:i + packet])
        cost.append(time.perf_counter() - t0)
    c = np.asarray(cost) * 1e3
    return {"mean_ms": round(float(c.mean()), 4), "p99_ms": round(float(np.percentile(c, 99)), 4),
            "packets": len(c)}


def bench_model(run: Path, y: np.ndarray, *, int8: bool, keras_seconds: float) -> dict:
    from auricle.export import export_run, load_exported
    from auricle.inference import load_run
    from auricle.streaming.convert import make_step_model
    from auricle.streaming.detector import StreamingClassifier
    from auricle.streaming.frontend import StreamingFrontend

    r = load_run(run)
    fc = r.feature_config.replace(top_db=None, normalize="none")
    packet = int(0.02 * fc.sr)
    res = {"run": str(run), "model": r.config.model["name"], "exports": {}}
    step = make_step_model(r.model)
    res["step"] = {"mode": step.mode, "frames_per_step": step.frames_per_step, "reason": step.reason}
    fe = StreamingFrontend(fc)
    res["frontend"] = time_packets(fe.push, y, packet)

    def pipeline(make_runner):
        clf = StreamingClassifier(StreamingFrontend(fc), make_runner)
        return clf.push

    n_keras = int(keras_seconds * fc.sr)
    res["keras"] = time_packets(pipeline(step.runner), y[:n_keras], packet, warm=20)
    fmts = ["onnx", "tflite"] + (["tflite-int8"] if int8 else [])
    for fmt in fmts:
        t0 = time.time()
        out = export_run(run, fmt, streaming=True, parity_clips=60 if step.mode == "window" else None,
                         out=Path(run) / "export" / f"{fmt}-streaming")
        meta = json.loads((out / "meta.json").read_text())
        m = load_exported(out, "onnx" if fmt == "onnx" else "tflite")
        entry = {"export_seconds": round(time.time() - t0, 1), "parity": meta["parity"],
                 "quantization": meta["quantization"],
                 "end_to_end": time_packets(pipeline(m.step_runner), y, packet)}
        # the model step alone, per call
        runner = m.step_runner()
        frames = np.zeros((step.frames_per_step, fc.n_bins), np.float32)
        for _ in range(50):
            runner.push(frames)
        t0 = time.perf_counter()
        n = 500
        for _ in range(n):
            runner.push(frames)
        entry["step_ms"] = round((time.perf_counter() - t0) / n * 1e3, 4)
        res["exports"][fmt] = entry
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", nargs="*", help="trained run directories (default: untrained models)")
    ap.add_argument("--models", default=",".join(MODELS), help="models to build when --runs is not given")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of audio streamed per measurement")
    ap.add_argument("--keras-seconds", type=float, default=5.0, help="seconds streamed through Keras (slow)")
    ap.add_argument("--int8", action="store_true", help="also export and time tflite-int8")
    ap.add_argument("--cpu", type=int, default=0, help="pin to this core (-1: no pinning)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "bench_streaming.json"))
    a = ap.parse_args()
    if a.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {a.cpu})
    y = test_audio(a.seconds)
    tmp = None
    if a.runs:
        runs = [Path(r) for r in a.runs]
    else:
        tmp = tempfile.mkdtemp(prefix="auricle_bench_")
        runs = [make_run(Path(tmp), name, MODELS.get(name, {})) for name in a.models.split(",")]
    results = []
    for run in runs:
        print(f"== {run}", flush=True)
        r = bench_model(run, y, int8=a.int8, keras_seconds=a.keras_seconds)
        results.append(r)
        print(f"  step model: {r['step']['mode']}, {r['step']['frames_per_step']} frame(s)/step")
        print(f"  front end alone      {r['frontend']['mean_ms']:.3f} ms / 20 ms packet (p99 {r['frontend']['p99_ms']:.3f})")
        print(f"  front end + keras    {r['keras']['mean_ms']:.3f} ms (p99 {r['keras']['p99_ms']:.3f})")
        for fmt, e in r["exports"].items():
            p = e["parity"]
            print(f"  front end + {fmt:<11s} {e['end_to_end']['mean_ms']:.3f} ms (p99 {e['end_to_end']['p99_ms']:.3f}); "
                  f"step alone {e['step_ms']:.3f} ms; parity max|d| {p['max_abs_diff']:.1e}, "
                  f"agreement {p['argmax_agreement']:.2%}, acc {p['accuracy_keras']:.2%} -> {p['accuracy_export']:.2%}")
    info = {"python": platform.python_version(), "machine": platform.machine(), "processor": platform.processor(),
            "cpu_pinned": a.cpu, "seconds": a.seconds, "results": results}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(info, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
