"""Streaming: incremental front end == offline features, step models == offline models, detection."""
from __future__ import annotations

import json
from pathlib import Path
import os

import numpy as np
import pytest

from auricle.errors import ConfigError
from auricle.features import extract, preset
from auricle.streaming.frontend import StreamingFrontend, streaming_exactness

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SR = 16000


def speechlike(seconds=1.0, seed=0):
    """Silence, a gliding harmonic tone with noise bursts, silence: steep spectra, refined frames."""
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    t = np.arange(n) / SR
    f0 = 120 + 80 * t / seconds
    phase = 2 * np.pi * np.cumsum(f0) / SR
    y = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = np.exp(-0.5 * ((t - seconds * 0.45) / (0.12 * seconds)) ** 2)
    y = y * env * 0.3 + 0.02 * env * rng.standard_normal(n)
    y[: n // 8] = 0.0  # digital silence, as in the demo clips
    return y.astype(np.float32)


def offline(cfg, y):
    return extract(cfg.replace(duration=len(y) / cfg.sr), y)[0]


def stream(fe, y, sizes):
    """Push y in packets cycling through ``sizes``, then flush."""
    out, i, j = [], 0, 0
    while i < len(y):
        n = sizes[j % len(sizes)]
        out.append(fe.push(y[i:i + n]))
        i, j = i + n, j + 1
    out.append(fe.flush())
    return np.concatenate(out)


# ---------------------------------------------------------------------------------------------
# front end

@pytest.mark.parametrize("kind", ["log_mel", "mfcc"])
@pytest.mark.parametrize("sizes", [[160], [320], [1600], [1], [7, 333, 1000, 41]])
def test_frontend_equals_offline_for_any_packet_size(kind, sizes):
    cfg = preset("kws", kind=kind, n_mfcc=20, top_db=None)
    y = np.concatenate([speechlike(0.6, 1), 0.05 * np.random.default_rng(2).standard_normal(9000).astype(np.float32)])
    if sizes == [1]:
        y = y[:4000]  # one sample per packet is slow in Python; the arithmetic is the same
    ref = offline(cfg, y)
    fe = StreamingFrontend(cfg)
    assert fe.exact
    got = stream(fe, y, sizes)
    assert got.shape == ref.shape and got.dtype == np.float32
    # equal to float32 rounding: MFCC c0 is ~ -630 and c1 ~ -170, where one float32 step is 6e-5 / 1.5e-5,
    # so an absolute 1e-5 alone asked for bit-equality there (a fresh install failed it by one step)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-5)


def test_frontend_seed_preset_and_center_false():
    y = speechlike(1.2, 3)
    for cfg in (preset("seed", top_db=None, sr=SR), preset("kws", top_db=None, center=False)):
        np.testing.assert_allclose(stream(StreamingFrontend(cfg), y, [320]), offline(cfg, y), atol=1e-5)


def test_frontend_emits_frames_as_soon_as_they_are_complete():
    cfg = preset("kws", top_db=None)
    fe = StreamingFrontend(cfg)
    n = 0
    for i in range(50):  # 50 packets of 10 ms
        n += len(fe.push(np.zeros(160, np.float32)))
        # frame t covers samples [t*160 - 200, t*160 + 200): it is out once sample t*160+199 is in
        assert n == ((i + 1) * 160 - 200) // 160 + 1
    assert fe.latency_samples == 200


def test_frontend_reset_and_flush_start_a_new_signal():
    cfg = preset("kws", top_db=None)
    y = speechlike(0.5, 4)
    fe = StreamingFrontend(cfg)
    fe.push(np.ones(5000, np.float32) * 0.3)
    fe.reset()
    np.testing.assert_allclose(stream(fe, y, [320]), offline(cfg, y), atol=1e-5)
    np.testing.assert_allclose(stream(fe, y, [480]), offline(cfg, y), atol=1e-5)  # flush reset it


def test_frontend_says_when_it_is_approximate():
    assert streaming_exactness(preset("kws", top_db=None))[0]
    ok, why = streaming_exactness(preset("kws", normalize="per_clip"))
    assert not ok and "top_db" in why and "per_clip" in why
    with pytest.raises(ConfigError, match="cannot be streamed exactly"):
        StreamingFrontend(preset("kws"), approximate=False)
    # approximate configs still stream: running max clamp, sliding-window CMVN
    cfg = preset("kws", normalize="per_clip")
    fe = StreamingFrontend(cfg)
    assert not fe.exact and "running" in fe.approximation
    y = speechlike(1.0, 5)
    got = stream(fe, y, [320])
    ref = extract(cfg, y)[0]
    assert got.shape == ref.shape and np.isfinite(got).all()
    # the last frames were normalised with (almost) the clip's statistics
    assert np.abs(got[-20:] - ref[-20:]).mean() < 0.5


def test_frontend_top_db_running_clamp_is_exact_when_the_loudest_frame_comes_first():
    cfg = preset("kws")  # top_db = 80
    y = speechlike(1.0, 6)
    y[:4000] = 0.5 * np.sin(np.arange(4000) * 0.3)  # loud start
    np.testing.assert_allclose(stream(StreamingFrontend(cfg), y, [320]), extract(cfg, y)[0], atol=1e-5)


def test_frontend_bad_packets_do_not_break_the_stream():
    cfg = preset("kws", top_db=None)
    y = speechlike(1.0, 7)
    fe = StreamingFrontend(cfg)
    out = [fe.push(y[:3200])]
    with pytest.raises(ConfigError, match="sample rate"):
        fe.push(y[3200:3520], sr=8000)
    with pytest.raises(ConfigError, match="not audio"):
        fe.push(np.zeros(10, dtype=complex))
    with pytest.raises(ConfigError, match="not audio"):
        fe.push(np.array(["a", "b"]))
    assert fe.push(np.zeros(0, np.float32)).shape == (0, 40)
    out.append(fe.push(y[3200:8000]))
    out.append(fe.push((y[8000:] * 32768).round().astype(np.int16)))  # int16 PCM is scaled
    out.append(fe.flush())
    got = np.concatenate(out)
    yq = y.copy()
    yq[8000:] = (y[8000:] * 32768).round().astype(np.int16) / np.float32(32768)
    np.testing.assert_allclose(got, offline(cfg, yq), atol=1e-5)
    assert fe.stats["rejected"] == 0  # flush reset the counters
    # NaN: replaced by zeros and counted (default) or rejected
    fe = StreamingFrontend(cfg)
    bad = y[:1600].copy()
    bad[100:110] = np.nan
    f = fe.push(bad)
    assert np.isfinite(f).all() and fe.stats["nonfinite"] == 10
    strict = StreamingFrontend(cfg, nan_policy="raise")
    with pytest.raises(ConfigError, match="NaN"):
        strict.push(bad)
    assert strict.stats["rejected"] == 1 and len(strict.push(y[:1600])) > 0


def test_frontend_resamples_other_input_rates():
    cfg = preset("kws", top_db=None)
    y8 = speechlike(1.0, 8)[::2].copy()
    fe = StreamingFrontend(cfg, input_sr=8000)
    got = stream(fe, y8, [160])
    assert abs(len(got) - 101) <= 1 and np.isfinite(got).all()
    with pytest.raises(ConfigError):
        StreamingFrontend(preset("waveform"))


# ---------------------------------------------------------------------------------------------
# step models

def _randomize_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            g, b, m, v = layer.get_weights()
            layer.set_weights([g * rng.uniform(0.5, 1.5, g.shape), b + rng.normal(0, 0.1, b.shape),
                               rng.normal(0, 0.5, m.shape), v * rng.uniform(0.5, 2, v.shape)])
    return model


STEP_MODELS = [("gru", dict(units=(24, 16), dense=16)),
               ("lstm", dict(units=(24, 16), dense=16, batch_norm=True)),
               ("tc_resnet8", dict(padding="causal", width=0.5))]


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(1)
    return rng.standard_normal((3, 101, 40)).astype(np.float32)


@pytest.mark.parametrize("name,opts", STEP_MODELS, ids=[m[0] for m in STEP_MODELS])
def test_step_model_equals_offline_and_reset_isolates_clips(name, opts, clips):
    from auricle.models import build_model
    from auricle.streaming.convert import make_step_model

    model = _randomize_bn(build_model(name, (101, 40), 5, **opts))
    ref = model.predict(clips, verbose=0)
    step = make_step_model(model)
    assert step.mode == "incremental" and step.exact
    r = step.runner()
    a = r.run_clip(clips[0])
    b = r.run_clip(clips[1])  # run_clip resets first: clip 1 does not see clip 0
    np.testing.assert_allclose(a, ref[0], atol=1e-5)
    np.testing.assert_allclose(b, ref[1], atol=1e-5)
    # without a reset the state carries over, and the answer changes
    r.reset()
    r.push(clips[1][:8])
    fresh = np.concatenate([s.ravel() for s in r.states])
    r.reset()
    r.push(clips[2][:96])
    r.push(clips[1][:8])
    assert np.abs(np.concatenate([s.ravel() for s in r.states]) - fresh).max() > 1e-3


def test_step_model_frames_per_step_and_stride():
    from auricle.models import build_model
    from auricle.streaming.convert import make_step_model

    tc = make_step_model(build_model("tc_resnet8", (101, 40), 3, padding="causal", width=0.25))
    assert tc.frames_per_step == 8 and tc.latency_frames == 7
    gru = make_step_model(build_model("gru", (101, 40), 3, units=(8,)), frames_per_step=4)
    assert gru.frames_per_step == 4 and gru.state_shapes == [(1, 8)]


def test_models_that_look_ahead_fall_back_to_an_exact_window(clips):
    from auricle.models import build_model
    from auricle.streaming.convert import NotStreamable, make_step_model, streamability

    same = build_model("tc_resnet8", (101, 40), 3, width=0.25)
    with pytest.raises(NotStreamable, match="padding='same'"):
        make_step_model(same, mode="incremental")
    kind, why = streamability(build_model("lstm", (101, 40), 3, units=(8,), bidirectional=True))
    assert kind == "window" and "bidirectional" in why
    cnn = build_model("cnn", (101, 40), 3)
    step = make_step_model(cnn)
    assert step.mode == "window" and "Reshape" in step.reason
    r = step.runner()
    np.testing.assert_allclose(r.run_clip(clips[0]), cnn.predict(clips[:1], verbose=0)[0], atol=1e-5)


def test_packets_to_posteriors_end_to_end():
    """Audio packets -> front end -> step model == offline extract + model on the clip."""
    from auricle.models import build_model
    from auricle.streaming.convert import make_step_model

    cfg = preset("kws", top_db=None)
    model = build_model("gru", (101, 40), 4, units=(16,), dense=0)
    y = speechlike(1.0, 9)
    ref = model.predict(extract(cfg, y), verbose=0)[0]
    fe = StreamingFrontend(cfg)
    r = make_step_model(model).runner()
    for i in range(0, SR, 320):  # 20 ms packets
        r.push(fe.push(y[i:i + 320]))
    r.push(fe.flush())
    assert r.frames == 101
    np.testing.assert_allclose(r.last, ref, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# detector, evaluation

def _bumps(labels, spec, n=400, step=0.01):
    """Posteriors (n, C): background uniform, with (label, t0, t1, height) bumps."""
    p = np.full((n, len(labels)), 0.05)
    t = np.arange(n) * step
    for lab, a, b, h in spec:
        p[(t >= a) & (t < b), labels.index(lab)] = h
    return t, p


def test_detector_threshold_smoothing_refractory():
    from auricle.streaming.detector import Detector, DetectorConfig
    from auricle.streaming.evaluate import events_from_scores, smooth_scores

    labels = ["_silence_", "yes", "no"]
    t, p = _bumps(labels, [("yes", 0.5, 0.9, 0.95), ("no", 1.0, 1.3, 0.9),   # "no" inside the refractory period
                           ("_silence_", 2.0, 2.5, 0.99), ("no", 3.0, 3.02, 0.99)])  # ignored label; a 20 ms blip
    cfg = DetectorConfig(threshold=0.7, smooth=0.1, refractory=1.0)
    det = Detector(labels, 0.01, cfg)
    for ti, pi in zip(t, p):
        det.update(ti, pi)
    ev = det.close()
    assert [e.label for e in ev] == ["yes"]  # "no" suppressed (refractory), silence ignored, blip smoothed away
    e = ev[0]
    assert 0.55 < e.start < 0.65 and 0.9 < e.end < 1.0 and e.score > 0.9
    # the vectorised twin used by detect-eval gives the same events
    s = smooth_scores(p, det.win)
    ev2 = events_from_scores(t, s, labels, threshold=0.7, refractory=1.0, ignore=cfg.ignore)
    assert [(x.label, round(x.start, 3), round(x.end, 3)) for x in ev2] == \
           [(x.label, round(x.start, 3), round(x.end, 3)) for x in ev]
    with pytest.raises(ConfigError):
        DetectorConfig(threshold=1.5)


def test_detector_agrees_with_its_vectorised_twin_on_random_posteriors():
    from auricle.streaming.detector import Detector, DetectorConfig
    from auricle.streaming.evaluate import events_from_scores, smooth_scores

    rng = np.random.default_rng(0)
    labels = ["a", "b", "c", "d"]
    p = rng.dirichlet(np.full(4, 0.3), size=3000)
    t = np.arange(3000) * 0.01
    total = 0
    for thr in (0.4, 0.6, 0.8):
        det = Detector(labels, 0.01, DetectorConfig(threshold=thr, smooth=0.05, refractory=0.3))
        for ti, pi in zip(t, p):
            det.update(ti, pi)
        a = [(e.label, e.start, e.end, round(e.score, 9)) for e in det.close()]
        b = [(e.label, e.start, e.end, round(e.score, 9)) for e in
             events_from_scores(t, smooth_scores(p, det.win), labels, threshold=thr, refractory=0.3)]
        assert a == b
        total += len(a)
    assert total > 10


def test_match_events_and_synthetic_stream():
    from auricle.streaming.detector import Event
    from auricle.streaming.evaluate import match_events, synthetic_stream

    truth = [("yes", 1.0, 1.5), ("no", 5.0, 5.4), ("yes", 9.0, 9.3)]
    ev = [Event("yes", 1.8, 2.0, 0.9, 1.9),    # hit (within tolerance after the word)
          Event("yes", 5.2, 5.3, 0.8, 5.2),    # wrong label -> false accept; "no" missed
          Event("yes", 20.0, 20.1, 0.8, 20.0)]  # nothing there -> false accept
    assert match_events(ev, truth, tolerance=1.0) == (1, 2, 2)
    words = [("yes", speechlike(0.5, 1)), ("no", speechlike(0.5, 2))]
    y, tr = synthetic_stream(words, sr=SR, hours=60 / 3600, per_minute=12, snr_db=20, seed=3)
    assert len(y) == 60 * SR and 6 <= len(tr) <= 20
    for lab, a, b in tr:  # the words are where the truth says
        seg = y[int(a * SR):int(b * SR)]
        assert np.sqrt(np.mean(seg ** 2)) > 3 * 10 ** (-40 / 20)
        assert tr == sorted(tr, key=lambda r: r[1])


def test_read_label_file(tmp_path):
    from auricle.streaming.evaluate import read_label_file

    (tmp_path / "a.csv").write_text("label,start,end\nyes,1.0,1.5\nno,3,3.2\n")
    (tmp_path / "b.txt").write_text("1.0\t1.5\tyes\n3\t3.2\tno\n")  # Audacity label track
    assert read_label_file(tmp_path / "a.csv") == read_label_file(tmp_path / "b.txt") == \
        [("yes", 1.0, 1.5), ("no", 3.0, 3.2)]


# ---------------------------------------------------------------------------------------------
# commands

@pytest.fixture(scope="module")
def onnx_stream_run(tmp_path_factory):
    """An (untrained) causal TC-ResNet run on the demo data with its ONNX streaming export."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    from test_export import make_run

    from auricle.export import export_run

    run = make_run(tmp_path_factory.mktemp("srun") / "tc", "tc_resnet8", padding="causal", width=0.25)
    export_run(run, "onnx", streaming=True, parity_clips=10)
    return run


def _cli(args, check_no_tf=False):
    import subprocess
    import sys

    code = ("import sys; from auricle.cli import app\n"
            "try:\n    app(sys.argv[1:], prog_name='auricle')\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
            + ("assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n" if check_no_tf else "")
            + "sys.exit(code or 0)\n")
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"})


def test_stream_command_on_a_file_with_onnxruntime_only(onnx_stream_run, tmp_path):
    from auricle.audio import save

    y = np.concatenate([speechlike(1.0, s) for s in range(4)])
    y[5000:5100] = np.nan  # bad samples: zeroed and counted, the stream goes on
    wav = tmp_path / "long.wav"
    save(wav, np.nan_to_num(y), SR)
    png = tmp_path / "scores.png"
    r = _cli(["stream", onnx_stream_run, wav, "--runtime", "onnx", "--format", "json", "--threshold", "0.3",
              "--plot", png], check_no_tf=True)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["runtime"] == "onnx" and out["mode"] == "incremental" and out["ms_per_packet"] > 0
    assert isinstance(out["events"], list) and png.stat().st_size > 10000
    r = _cli(["stream", onnx_stream_run, wav, "--runtime", "onnx", "--format", "csv", "--threshold", "0.3"])
    assert r.returncode == 0 and r.stdout.startswith("label,start,end,score,peak")


def test_stream_command_errors_are_clear(onnx_stream_run, tmp_path):
    r = _cli(["stream", onnx_stream_run, "--mic", "--device", "999", "--runtime", "onnx"])
    assert r.returncode == 2 and ("device" in r.stderr or "PortAudio" in r.stderr)
    assert "Traceback" not in r.stderr
    r = _cli(["stream", onnx_stream_run, "--runtime", "tflite"])
    assert r.returncode == 2 and "FILE or --mic" in r.stderr
    r = _cli(["stream", tmp_path, tmp_path / "x.wav", "--runtime", "tflite"])
    assert r.returncode == 2 and "auricle export" in r.stderr


def test_detect_eval_command(onnx_stream_run, tmp_path):
    r = _cli(["detect-eval", onnx_stream_run, "--runtime", "onnx", "--hours", "0.01", "--per-minute", "20",
              "--out", tmp_path, "--format", "json"], check_no_tf=True)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout)
    assert rep["keywords"] >= 3 and len(rep["curve"]) >= 10
    op = rep["operating_point"]
    assert 0 <= op["false_reject_rate"] <= 1 and op["false_accepts_per_hour"] >= 0
    for k in ("curve", "scores", "csv", "json"):
        assert Path(rep["files"][k]).exists()
