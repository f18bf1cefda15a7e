"""Export a run's model (offline or streaming step model) to ONNX, TFLite, TFLite-int8 or SavedModel.

``export_run(RUN, "onnx")`` writes ``RUN/export/onnx/`` (or ``out``) holding::

    model.onnx | model.tflite | saved_model/   the converted graph
    meta.json                                  what a device-side loader needs: labels, feature
                                               config, input/output names, streaming states, and
                                               the parity of the export against the Keras model
                                               on the run's test split
    labels.json, features.json                 copies from the run

Parity (``meta["parity"]``) compares the export with the Keras model on the run's test split:
``max_abs_diff`` of the probabilities, ``argmax_agreement`` and both accuracies.  For a
``--streaming`` export each test clip is fed frame by frame to the exported step model (after a
reset) and its final output is compared with the offline Keras model on the clip.

Runtime-only loading: :func:`load_exported` returns an :class:`ExportedModel` that runs with
onnxruntime or LiteRT (``ai_edge_litert``) alone; TensorFlow is never imported on that path.

Known converter limits (TF 2.21 / Keras 3.15)
---------------------------------------------
* TFLite graphs containing recurrent cells are converted with a fixed batch of 1.
* Full-int8 post-training quantization of LSTM graphs can crash (segfault) inside the TF
  converter; every TFLite conversion runs in a subprocess, a crash becomes an
  :class:`ExportError`, and ``tflite-int8`` then falls back to dynamic-range quantization
  (int8 weights, float activations), which ``meta["quantization"]`` records.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from auricle.errors import ConfigError, RunError
from auricle.exported import (RUNTIMES, ExportedModel, ExportError, load_exported,  # noqa: F401  (re-exported)
                              load_predictor, stream_clips)

__all__ = ["FORMATS", "RUNTIMES", "ExportError", "ExportedModel", "export_run", "load_exported",
           "load_predictor"]

FORMATS = ("onnx", "tflite", "tflite-int8", "savedmodel")
_FILES = {"onnx": "model.onnx", "tflite": "model.tflite", "tflite-int8": "model.tflite", "savedmodel": "saved_model"}
ONNX_OPSET = 17


# ----------------------------------------------------------------------------------------------
# building the graph to convert (TensorFlow side)


def _has_rnn(model) -> bool:
    kinds = {"LSTM", "GRU", "SimpleRNN", "Bidirectional", "LSTMCell", "GRUCell", "SimpleRNNCell", "RNN"}

    def walk(layer):
        if type(layer).__name__ in kinds:
            return True
        return any(walk(sub) for sub in getattr(layer, "layers", []) or [])

    return walk(model)


def _graph(run_dir, streaming: bool, mode: str, fixed_batch: bool):
    """(keras model to convert, input specs, StepModel or None) for a run."""
    import tensorflow as tf

    from auricle.models import load_model

    # through the registry: a converter subprocess has not imported auricle's custom layers yet
    model = load_model(Path(run_dir) / "model.keras")
    step = None
    if streaming:
        from auricle.streaming.convert import make_step_model

        step = make_step_model(model, mode=mode)
        g = step.model
        specs = [tf.TensorSpec(t.shape, tf.float32, name=t.name) for t in g.inputs]
    else:
        g = model
        shape = tuple(model.inputs[0].shape[1:])
        batch = 1 if fixed_batch else None
        specs = [tf.TensorSpec((batch, *shape), tf.float32, name="features")]
    return g, specs, step, model


def _tf_function(g, specs):
    import tensorflow as tf

    @tf.function(input_signature=specs)
    def f(*args):
        out = g(list(args) if len(args) > 1 else args[0], training=False)
        out = out if isinstance(out, (list, tuple)) else [out]
        return {f"out_{i}": o for i, o in enumerate(out)}

    return f


def _calibration(run_dir, n: int, split: str = "train"):
    from auricle.config import RunConfig
    from auricle.data import prepare

    cfg = RunConfig.load(Path(run_dir) / "config.yaml")
    prep, _ = prepare(cfg, progress=False)
    if split not in prep.splits or not len(prep.splits[split].y):
        raise RunError(f"the run's dataset has no {split} split to check the export on", path=run_dir,
                       fix="export a run whose dataset is still where it was trained")
    s = prep.splits[split]
    idx = np.random.default_rng(0).permutation(len(s.x))[:n] if n else np.arange(len(s.x))
    return np.asarray(s.x[idx], dtype=np.float32), np.asarray(s.y[idx]), prep.labels


def _step_calibration(step, x: np.ndarray, n_samples: int = 300):
    """(frames, *states) samples drawn along the streaming of calibration clips (Keras)."""
    r = step.runner()
    rng = np.random.default_rng(0)
    samples = []
    per_clip = max(1, n_samples // max(1, len(x)))
    for clip in x:
        r.reset()
        k = step.frames_per_step
        n_steps = len(clip) // k
        keep = set(rng.choice(n_steps, size=min(per_clip, n_steps), replace=False).tolist())
        for i in range(n_steps):
            chunk = clip[i * k:(i + 1) * k][None]
            if i in keep:
                samples.append([chunk.copy()] + [s.copy() for s in r.states])
            r.push(clip[i * k:(i + 1) * k])
        if len(samples) >= n_samples:
            break
    return samples


def _convert_tflite(spec: dict) -> dict:
    """Runs in a subprocess (a converter crash must not kill the caller). Returns info."""
    import tensorflow as tf

    g, specs, step, _ = _graph(spec["run"], spec["streaming"], spec["mode"], spec["fixed_batch"])
    with tempfile.TemporaryDirectory() as tmp:
        # via a SavedModel written by keras.export.ExportArchive: converting the concrete function
        # directly leaves the RNN weights as uninitialised resource variables in TF 2.21
        _export_savedmodel(g, specs, Path(tmp) / "sm")
        conv = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "sm"))
        return _finish_tflite(conv, spec, specs, step)


def _finish_tflite(conv, spec, specs, step) -> dict:
    import tensorflow as tf

    quant = spec["quant"]
    if quant in ("int8", "dynamic"):
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if quant == "int8":
        calib = np.load(spec["calib"])
        if step is not None:
            samples = _step_calibration(step, calib)
        else:
            samples = [[calib[i:i + 1]] for i in range(len(calib))]

        names = [sp.name for sp in specs]

        def rep():
            for smp in samples:
                yield {n: np.asarray(a, dtype=np.float32) for n, a in zip(names, smp)}

        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    data = conv.convert()
    Path(spec["out"]).write_bytes(data)
    return {"bytes": len(data)}


def _run_guarded(spec: dict, timeout: float = 900) -> dict:
    """``_convert_tflite(spec)`` in a fresh Python; a crash becomes an :class:`ExportError`."""
    with tempfile.TemporaryDirectory() as tmp:
        sp = Path(tmp) / "spec.json"
        res = Path(tmp) / "result.json"
        sp.write_text(json.dumps({**spec, "result": str(res)}))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
        try:
            p = subprocess.run([sys.executable, "-m", "auricle.export", "_convert", str(sp)], env=env,
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ExportError(f"the TFLite converter did not finish within {timeout:.0f} s") from None
        if p.returncode != 0 or not res.exists():
            if p.returncode < 0:
                import signal

                try:
                    sig = signal.Signals(-p.returncode).name
                except ValueError:
                    sig = str(-p.returncode)
                msg = f"the TFLite converter crashed ({sig}) converting with quantization={spec['quant']}"
            else:
                tail = (p.stderr or "").strip().splitlines()[-3:]
                msg = "the TFLite converter failed: " + " | ".join(tail)
            raise ExportError(msg, fix="try --format tflite (float) or onnx")
        return json.loads(res.read_text())


def _export_onnx(g, specs, path: Path) -> None:
    try:
        import tf2onnx
    except ImportError:
        raise ExportError("ONNX export needs tf2onnx and onnx", fix="pip install tf2onnx onnx") from None
    f = _tf_function(g, specs)
    tf2onnx.convert.from_function(f, input_signature=specs, opset=ONNX_OPSET, output_path=str(path))


def _export_savedmodel(g, specs, path: Path) -> None:
    import keras

    def serve(*args):
        out = g(list(args) if len(args) > 1 else args[0], training=False)
        out = out if isinstance(out, (list, tuple)) else [out]
        return {f"out_{i}": o for i, o in enumerate(out)}

    arch = keras.export.ExportArchive()
    arch.track(g)
    arch.add_endpoint("serve", serve, input_signature=specs)
    arch.write_out(str(path), verbose=False)


# ----------------------------------------------------------------------------------------------
# export_run


def export_run(run_dir, fmt: str, *, streaming: bool = False, out=None, mode: str = "auto",
               calibration: int = 200, parity_clips: int | None = None, console=None) -> Path:
    """Convert a run's model, check it against Keras on the test split, write ``meta.json``.

    Parameters
    ----------
    run_dir : path
        A run directory of ``auricle train``.
    fmt : {"onnx", "tflite", "tflite-int8", "savedmodel"}
        Target format.  ``tflite-int8`` is full-integer post-training quantization calibrated
        on ``calibration`` training examples (float input/output).
    streaming : bool
        Export the step model (:func:`auricle.streaming.convert.make_step_model`) instead of the
        offline model.
    out : path, optional
        Output folder (default ``RUN/export/<fmt>[-streaming]``).
    mode : {"auto", "incremental", "window"}
        Streaming conversion mode.
    parity_clips : int, optional
        Check on at most this many test clips (default: all; 40 for window-mode step models).

    Returns
    -------
    Path
        The export folder.
    """
    from auricle.inference import load_run

    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}")
    if (Path(run_dir) / "model.joblib").exists():
        raise ExportError("this is a classic (scikit-learn) run; only Keras runs export to ONNX/TFLite",
                          path=run_dir, fix="use the run directly with `auricle predict`")
    run = load_run(run_dir)
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "export" / (fmt + ("-streaming" if streaming else ""))
    out.mkdir(parents=True, exist_ok=True)
    say = console.print if console is not None else (lambda *a, **k: None)
    model = run.model
    rnn = _has_rnn(model)
    fixed_batch = rnn and fmt.startswith("tflite")
    g, specs, step, _ = _graph(run_dir, streaming, mode, fixed_batch)
    target = out / _FILES[fmt]
    meta = {"format": fmt, "file": target.name, "labels": run.labels, "features": run.feature_config.to_dict(),
            "model": run.config.model.get("name") if isinstance(run.config.model, dict) else None,
            "streaming": step.meta() if step is not None else None,
            "inputs": [s.name for s in specs], "outputs": [f"out_{i}" for i in range(len(g.outputs))],
            "fixed_batch": bool(fixed_batch or streaming), "quantization": "none",
            "crop": run.crop, "window_hop": run.window_hop, "silence": getattr(run, "silence", None),
            "variable_length": bool(getattr(run, "variable_length", False)),
            "silence_frames": getattr(run, "silence_frames", None),  # framewise models: VAD + decision weights
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    from auricle.streaming.frontend import streaming_exactness

    exact, why = streaming_exactness(run.feature_config)
    meta["features_streamable"] = {"exact": exact, "reason": why}
    t0 = time.time()
    say(f"converting {'streaming step' if streaming else 'offline'} model to {fmt}...")
    if fmt == "onnx":
        _export_onnx(g, specs, target)
    elif fmt == "savedmodel":
        _export_savedmodel(g, specs, target)
    else:
        spec = {"run": str(run_dir), "streaming": streaming, "mode": mode, "fixed_batch": fixed_batch,
                "out": str(target), "quant": "none"}
        if fmt == "tflite-int8":
            xc, _, _ = _calibration(run_dir, calibration, "train")
            calib_path = out / "calibration.npy"
            np.save(calib_path, xc[: (20 if streaming else len(xc))])
            spec.update(quant="int8", calib=str(calib_path))
            try:
                _run_guarded(spec)
                meta["quantization"] = f"full int8 (weights and activations; {len(xc)} training examples)"
            except ExportError as exc:
                say(f"[yellow]{exc.message}; falling back to dynamic-range quantization[/yellow]")
                spec["quant"] = "dynamic"
                _run_guarded(spec)
                meta["quantization"] = f"dynamic range (int8 weights, float activations): {exc.message}"
            finally:
                calib_path.unlink(missing_ok=True)
        else:
            _run_guarded(spec)
    meta["convert_seconds"] = round(time.time() - t0, 1)
    if getattr(run, "member", None) is not None:  # train.fuse: the member travels with the export (auricle.fusion)
        import shutil

        from auricle.fusion import MEMBER_DIR

        shutil.rmtree(out / MEMBER_DIR, ignore_errors=True)
        shutil.copytree(run_dir / MEMBER_DIR, out / MEMBER_DIR)
        meta["fusion"] = {k: run.member.settings.get(k) for k in ("member", "weight", "features")}
        say(f"fusion member ({run.member.settings.get('member')}, weight {run.member.weight:g}) copied into "
            f"{out / MEMBER_DIR}: predict and serve on this export fuse it; the streaming step model does not")
    (out / "labels.json").write_text(json.dumps(run.labels))
    (out / "features.json").write_text(json.dumps(run.feature_config.to_dict(), indent=1))
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    say("checking the export against the Keras model on the test split...")
    meta["parity"] = parity(out, run, step=step, limit=parity_clips)
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return out


def parity(out: Path, run, *, step=None, limit: int | None = None) -> dict:
    """Compare an export with the Keras model on the run's test split."""
    x, y, _ = _calibration(run.path, 0, "test")
    if step is not None and step.mode == "window" and limit is None:
        limit = 40
    if limit:
        x, y = x[:limit], y[:limit]
    keras_p = np.asarray(run.model.predict(x, verbose=0, batch_size=256))
    fmt = json.loads((out / "meta.json").read_text())["format"]
    t0 = time.perf_counter()
    if fmt == "savedmodel":
        exp_p = _savedmodel_predict(out, x, step)
    else:
        m = load_exported(out)
        exp_p = m.predict_streaming(x) if step is not None else m.predict(x)
    dt = time.perf_counter() - t0
    return {"split": "test", "n": int(len(x)),
            "max_abs_diff": float(np.abs(exp_p - keras_p).max()) if len(x) else 0.0,
            "argmax_agreement": float((exp_p.argmax(1) == keras_p.argmax(1)).mean()) if len(x) else 1.0,
            "accuracy_keras": float((keras_p.argmax(1) == y).mean()) if len(x) else None,
            "accuracy_export": float((exp_p.argmax(1) == y).mean()) if len(x) else None,
            "seconds": round(dt, 2),
            "compared": "streamed frame by frame after reset vs offline Keras" if step is not None
            else "offline vs offline Keras"}


def _savedmodel_predict(out: Path, x, step):
    import tensorflow as tf

    sm = tf.saved_model.load(str(out / "saved_model"))
    f = sm.signatures["serving_default"]
    meta = json.loads((out / "meta.json").read_text())
    names = meta["inputs"]
    if step is None:
        return np.concatenate([f(**{names[0]: tf.constant(x[i:i + 256])})["out_0"].numpy()
                               for i in range(0, len(x), 256)])

    def fn(frames, states):
        res = f(**{n: tf.constant(a) for n, a in zip(names, [frames, *states])})
        return res["out_0"].numpy(), [res[f"out_{i + 1}"].numpy() for i in range(len(states))]

    return stream_clips(fn, meta["streaming"], x)


# ----------------------------------------------------------------------------------------------
# subprocess entry


def _main(argv):
    if len(argv) == 2 and argv[0] == "_convert":
        spec = json.loads(Path(argv[1]).read_text())
        if spec.get("simulate_crash"):  # tests: what a converter segfault looks like
            import signal

            os.kill(os.getpid(), signal.SIGSEGV)
        info = _convert_tflite(spec)
        Path(spec["result"]).write_text(json.dumps(info))
        return 0
    print("usage: python -m auricle.export _convert SPEC.json (internal)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(_main(sys.argv[1:]))
