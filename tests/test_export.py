"""Export: ONNX / TFLite / TFLite-int8 / SavedModel with parity metadata, runtime-only loading."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from auricle.errors import AuricleError, ConfigError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")
pytest.importorskip("ai_edge_litert")


def make_run(run_dir: Path, model_name: str, **opts) -> Path:
    """A run directory around an untrained model on the demo data (parity needs no training)."""
    from auricle.config import RunConfig
    from auricle.models import build_model

    cfg = RunConfig.from_dict({"name": run_dir.name, "data": {"root": "demo"},
                               "features": {"preset": "kws", "top_db": None},
                               "model": {"name": model_name, "options": opts}})
    fc = cfg.feature_config()
    run_dir.mkdir(parents=True)
    cfg.save(run_dir / "config.yaml")
    labels = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"]
    (run_dir / "labels.json").write_text(json.dumps(labels))
    (run_dir / "features.json").write_text(json.dumps({**fc.to_dict(), "crop": "center", "window_hop": None}))
    model = build_model(model_name, fc.output_shape, len(labels), **opts)
    model.save(run_dir / "model.keras")
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {"gru": make_run(root / "gru", "gru", units=(16, 16), dense=16),
            "tc": make_run(root / "tc", "tc_resnet8", padding="causal", width=0.5)}


@pytest.fixture(scope="module")
def gru_onnx(runs, tmp_path_factory):
    """The offline ONNX export of the gru run, converted once for the tests that only read it."""
    from auricle.export import export_run

    return export_run(runs["gru"], "onnx", out=tmp_path_factory.mktemp("gru_onnx") / "onnx")


def _meta(out):
    return json.loads((Path(out) / "meta.json").read_text())


@pytest.mark.parametrize("streaming", [False, True], ids=["offline", "streaming"])
def test_onnx_export_matches_keras_and_runs_without_tensorflow(runs, gru_onnx, streaming, tmp_path):
    from auricle.export import export_run

    out = export_run(runs["gru"], "onnx", streaming=True, out=tmp_path / "onnx") if streaming else gru_onnx
    meta = _meta(out)
    p = meta["parity"]
    assert p["n"] > 100 and p["max_abs_diff"] < 1e-5 and p["argmax_agreement"] >= 0.995
    assert meta["labels"][0] == "down" and meta["features"]["n_mels"] == 40
    assert (meta["streaming"] is not None) == streaming
    # a device-like process: onnxruntime only, TensorFlow never imported
    code = f"""
import sys, numpy as np
from auricle.export import load_exported
m = load_exported({str(out)!r}, "onnx")
x = np.random.default_rng(0).standard_normal((3, 101, 40)).astype(np.float32)
p = m.predict(x)
assert p.shape == (3, 10) and np.allclose(p.sum(1), 1, atol=1e-5)
if m.streaming:
    r = m.step_runner()
    assert np.abs(r.run_clip(x[0]) - p[0]).max() < 1e-5
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TF was imported"
print("ok")
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-2000:]


def test_tflite_float_and_int8_conv_model(runs, tmp_path):
    from auricle.export import export_run, load_exported

    out = export_run(runs["tc"], "tflite", out=tmp_path / "f")
    p = _meta(out)["parity"]
    assert p["max_abs_diff"] < 1e-4 and p["argmax_agreement"] >= 0.995
    out8 = export_run(runs["tc"], "tflite-int8", out=tmp_path / "q", calibration=50)
    meta = _meta(out8)
    assert meta["quantization"].startswith("full int8")
    assert meta["parity"]["argmax_agreement"] >= 0.5  # an untrained net: only a sanity bound
    m = load_exported(out8)
    assert m.runtime == "tflite" and m.predict(np.zeros((2, 101, 40), np.float32)).shape == (2, 10)


def test_tflite_streaming_step_model_of_a_causal_tc_resnet(runs, tmp_path):
    from auricle.export import export_run, load_exported

    out = export_run(runs["tc"], "tflite", streaming=True, out=tmp_path / "s", parity_clips=30)
    meta = _meta(out)
    assert meta["streaming"]["mode"] == "incremental" and meta["streaming"]["frames_per_step"] == 8
    assert meta["parity"]["max_abs_diff"] < 1e-4 and meta["parity"]["argmax_agreement"] >= 0.995
    assert load_exported(out).step_runner().k == 8


def test_rnn_int8_converter_crash_is_contained(runs, tmp_path):
    """Full-int8 of an offline RNN crashes the TF converter: it must fall back, not kill us."""
    from auricle.export import export_run

    out = export_run(runs["gru"], "tflite-int8", out=tmp_path / "q", calibration=20)
    meta = _meta(out)
    assert "int8" in meta["quantization"]  # full int8, or dynamic range after a contained crash
    assert meta["parity"]["n"] > 100 and np.isfinite(meta["parity"]["max_abs_diff"])


def test_guarded_converter_turns_a_crash_into_an_error():
    from auricle import export

    with pytest.raises(export.ExportError, match=r"crashed \(SIGSEGV\)"):
        export._run_guarded({"simulate_crash": True, "quant": "int8"})


def test_bad_format_runtime_and_paths(runs, gru_onnx, tmp_path):
    from auricle.export import export_run, load_exported

    with pytest.raises(ConfigError, match="unknown export format"):
        export_run(runs["gru"], "coreml")
    with pytest.raises(AuricleError, match="not an auricle export"):
        load_exported(tmp_path)
    out = gru_onnx
    with pytest.raises(ConfigError, match="not a tflite model"):
        load_exported(out, "tflite")
    with pytest.raises(AuricleError, match="not a step model"):
        load_exported(out).step_runner()


def test_savedmodel_export(runs, tmp_path):
    from auricle.export import export_run

    out = export_run(runs["tc"], "savedmodel", out=tmp_path / "sm")
    assert (out / "saved_model" / "saved_model.pb").exists()
    assert _meta(out)["parity"]["max_abs_diff"] < 1e-5


def test_load_predictor_feeds_predict_files(gru_onnx, tmp_path, make_wav):
    from auricle.export import load_predictor
    from auricle.inference import predict_files

    out = gru_onnx
    wav = make_wav(tmp_path / "a.wav", sr=16000, seconds=1.0)
    preds = predict_files(load_predictor(out, "onnx"), [wav], top_k=2)
    assert len(preds) == 1 and len(preds[0].top) == 2 and preds[0].error is None


def test_predict_cli_with_onnx_runtime_matches_keras(runs, gru_onnx, tmp_path, make_wav):
    import json

    from typer.testing import CliRunner

    from auricle.cli import app

    out = gru_onnx
    wav = make_wav(tmp_path / "a.wav", sr=16000, seconds=1.0)
    r = CliRunner()
    a = r.invoke(app, ["predict", str(out), str(wav), "--runtime", "onnx", "--format", "json"])
    b = r.invoke(app, ["predict", str(runs["gru"]), str(wav), "--format", "json"])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    pa, pb = json.loads(a.output)[0], json.loads(b.output)[0]
    assert pa["label"] == pb["label"]
    assert abs(pa["probability"] - pb["probability"]) < 1e-4


def test_export_of_a_model_with_test_time_shifts(tmp_path):
    """A run saved with train.tta_shift_ms (FrameShift copies averaged) exports to ONNX and TFLite
    with parity, and streams in sliding windows.  Regression: the TFLite converter subprocess loaded
    the model without auricle's custom layers registered (bc_resnet and att_rnn runs failed too)."""
    import keras

    from auricle.export import export_run
    from auricle.models.tta import shift_average

    run = make_run(tmp_path / "tta", "tc_resnet8", width=0.5)
    base = keras.saving.load_model(run / "model.keras")
    shift_average(base, [-5, 5]).save(run / "model.keras")
    for fmt in ("onnx", "tflite"):
        meta = _meta(export_run(run, fmt, out=tmp_path / fmt))
        assert meta["parity"]["max_abs_diff"] < 1e-4 and meta["parity"]["argmax_agreement"] >= 0.99, (fmt, meta["parity"])
    meta = _meta(export_run(run, "onnx", streaming=True, out=tmp_path / "stream"))
    assert meta["streaming"]["mode"] == "window"
