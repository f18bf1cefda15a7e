"""Export a separator's network to ONNX or TFLite, with a parity check against Keras.

What is exported is the mask network on one patch — ``(batch, frames, bins, channels)``
magnitudes in, ``(batch, frames, bins, channels, stems)`` estimates out — the part that costs
compute.  The STFT, masks and overlap-add stay in numpy (:mod:`auricle.separation.separate`),
so ``auricle separate --runtime onnx`` runs without TensorFlow and gives the same stems.

Files: ``RUN/export/onnx/separator.onnx`` (or ``tflite/separator.tflite``) and ``meta.json``
with the preset, the parity figures and the file size.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from auricle.errors import AuricleError, ConfigError
from auricle.separation.separate import read_meta

FORMATS = ("onnx", "tflite")
ONNX_OPSET = 17


class SeparatorExportError(AuricleError):
    """The converter failed on this separator."""


def _parity_input(preset, n: int = 2, seed: int = 0) -> np.ndarray:
    """Magnitude patches with a music-like spread (log-uniform levels)."""
    rng = np.random.default_rng(seed)
    return np.exp(rng.uniform(-6, 3, (n, preset.frames, preset.bins, preset.channels))).astype(np.float32)


def export_separator(run_dir, fmt: str = "onnx", *, out=None, console=None) -> Path:
    """Export the run's separator; returns the export folder.

    Raises
    ------
    SeparatorExportError
        When the converter fails or the export disagrees with Keras beyond 1e-3 (relative).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"separators export to {', '.join(FORMATS)}, not {fmt!r}",
                          fix="use --format onnx or --format tflite")
    from auricle.backend import quiet_keras

    quiet_keras()
    import keras
    import tensorflow as tf

    from auricle.separation.presets import SeparationPreset

    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    preset = SeparationPreset.from_dict(meta["preset"])
    model = keras.saving.load_model(str(run_dir / "model.keras"))
    folder = Path(out) if out else run_dir / "export" / fmt
    folder.mkdir(parents=True, exist_ok=True)
    spec = tf.TensorSpec((None, preset.frames, preset.bins, preset.channels), tf.float32, name="magnitude")
    t0 = time.perf_counter()
    if fmt == "onnx":
        import tf2onnx

        @tf.function(input_signature=[spec])
        def f(x):
            return {"stems": model(x, training=False)}

        path = folder / "separator.onnx"
        try:
            tf2onnx.convert.from_function(f, input_signature=[spec], opset=ONNX_OPSET, output_path=str(path))
        except Exception as exc:  # the converter's own errors are long and internal
            raise SeparatorExportError(f"ONNX conversion failed ({str(exc).splitlines()[0][:160]})",
                                       path=run_dir, fix="try --format tflite") from None
    else:
        path = folder / "separator.tflite"
        try:
            fixed = tf.TensorSpec((1,) + tuple(spec.shape[1:]), tf.float32, name="magnitude")
            fn = tf.function(lambda x: model(x, training=False), input_signature=[fixed])
            conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model)
            path.write_bytes(conv.convert())
        except Exception as exc:
            raise SeparatorExportError(f"TFLite conversion failed ({str(exc).splitlines()[0][:160]})",
                                       path=run_dir, fix="use --format onnx") from None
    seconds = time.perf_counter() - t0
    parity = check_parity(run_dir, model, path, preset, fmt)
    info = {"format": fmt, "file": path.name, "bytes": path.stat().st_size, "seconds": round(seconds, 1),
            "preset": preset.to_dict(), "mask": meta.get("mask", "ratio"), "parity": parity}
    (folder / "meta.json").write_text(json.dumps(info, indent=1))
    if parity["max_rel_diff"] > 1e-3:
        raise SeparatorExportError(f"the export disagrees with Keras (max relative diff {parity['max_rel_diff']:.2e})",
                                   path=path, fix="report it; use --runtime keras meanwhile")
    if console is not None:
        console.print(f"[bold green]exported[/bold green] {path} ({info['bytes'] / 1e6:.1f} MB); parity: max |diff| "
                      f"{parity['max_abs_diff']:.2e} ({parity['max_rel_diff']:.1e} of the output's peak)")
    return folder


def check_parity(run_dir, model, path: Path, preset, fmt: str) -> dict:
    """Keras vs export on the same patches: max absolute and relative difference."""
    from auricle.separation.separate import _OnnxNet, _TfliteNet

    x = _parity_input(preset)
    ref = np.asarray(model.predict_on_batch(x))
    net = _OnnxNet(path, 2) if fmt == "onnx" else _TfliteNet(path, 2)
    got = net(x)
    diff = float(np.abs(got - ref).max())
    return {"n_patches": len(x), "max_abs_diff": diff,
            "max_rel_diff": diff / max(float(np.abs(ref).max()), 1e-12)}
