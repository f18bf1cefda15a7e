"""auricle serve: every endpoint, every bad input (a 4xx JSON error naming it), token auth, batching,
export on first serve, and that the server keeps serving after errors.  A tiny trained run on
generated tones (tests/test_serve_helpers.py) is the model."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("onnxruntime")

from fastapi.testclient import TestClient  # noqa: E402

from tests.test_serve_helpers import SR, make_tiny_run, tone, wav_bytes  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_tiny_run(tmp_path_factory.getbasetemp() / "serve-run")


@pytest.fixture(scope="module")
def models(run):
    from auricle.serve.models import load_models

    ms = load_models([f"tones={run}"])
    yield ms
    for m in ms:
        m.batcher.close()


def client(models, **kw):
    from auricle.serve.app import Limits, create_app

    limits = kw.pop("limits", None) or Limits(max_upload_bytes=2_000_000, max_seconds=30)
    return TestClient(create_app(models, limits=limits, **kw))


@pytest.fixture(scope="module")
def c(models):
    return client(models)


HIGH = tone(3000)
LOW = tone(300)
URL = "/v1/models/tones:predict"


def post(c, body, ctype="audio/wav", url=URL, **kw):
    return c.post(url, content=body, headers={"content-type": ctype, **kw.pop("headers", {})}, **kw)


def error_of(r, status, code):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    e = r.json()["error"]
    assert e["status"] == status and e["code"] == code and e["message"], e
    return e


def test_health_and_model_listing(c, run):
    h = c.get("/health").json()
    assert h["status"] == "ok" and h["models"] == ["tones"] and h["auth"] is False
    ms = c.get("/v1/models").json()["models"]
    assert len(ms) == 1
    m = ms[0]
    assert m["name"] == "tones" and sorted(m["labels"]) == ["high", "low", "noise"]
    assert m["sample_rate"] == SR and m["clip_seconds"] == 0.5 and m["size_bytes"] > 1000
    assert m["features"]["n_mels"] == 40 and m["runtime"] == "onnx"
    assert c.get("/v1/models/tones").json()["name"] == "tones"
    error_of(c.get("/v1/models/nope"), 404, "unknown_model")


def test_predict_file_multipart_body_and_raw_pcm(c):
    r = c.post(URL, files={"file": ("a.wav", wav_bytes(HIGH), "audio/wav")})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["label"] == "high" and d["probability"] > 0.9 and len(d["top"]) == 3
    assert abs(sum(t["probability"] for t in d["top"]) - 1) < 1e-4
    assert post(c, wav_bytes(LOW)).json()["label"] == "low"
    assert post(c, wav_bytes(HIGH, fmt="FLAC", subtype="PCM_16"), "audio/flac").json()["label"] == "high"
    # raw PCM, both encodings, stereo interleaved, and another rate (resampled on the server)
    s16 = (HIGH * 32767).astype("<i2").tobytes()
    assert post(c, s16, "application/octet-stream", url=URL + "?rate=16000").json()["label"] == "high"
    assert post(c, LOW.astype("<f4").tobytes(), "audio/pcm", url=URL + "?rate=16000&encoding=f32le").json()["label"] == "low"
    st = np.stack([HIGH, HIGH], 1).astype("<f4").tobytes()
    d = post(c, st, "application/octet-stream", url=URL + "?rate=16000&encoding=f32le&channels=2").json()
    assert d["label"] == "high" and d["channels"] == 2
    import soxr

    y48 = soxr.resample(HIGH, SR, 48000).astype(np.float32)
    d = post(c, wav_bytes(y48, sr=48000)).json()
    assert d["label"] == "high" and d["sample_rate"] == 48000
    assert post(c, wav_bytes(HIGH), url=URL + "?top_k=1").json()["top"][0]["label"] == "high"


def test_predict_long_file_windows_and_page_extras(c):
    y = np.concatenate([tone(300, 1.0), tone(3000, 1.0)])
    d = post(c, wav_bytes(y), url=URL + "?per_window=true&window_hop=0.25&include=waveform,spectrogram").json()
    w = d["windows"]
    assert len(w) == 7 and w[0]["label"] == "low" and w[-1]["label"] == "high"
    assert w[1]["start"] == 0.25 and w[-1]["end"] == 2.0
    assert d["waveform"]["columns"] == 600 and len(d["waveform"]["max"]) == 600
    s = d["spectrogram"]
    import base64

    assert s["bins"] == 40 and s["frames"] == 201 and len(base64.b64decode(s["data"])) == 201 * 40
    assert "windows" not in post(c, wav_bytes(y)).json()
    assert post(c, wav_bytes(y), url=URL + "?aggregate=majority").json()["label"] in ("low", "high")


def _nan_wav():
    y = HIGH.copy()
    y[100:110] = np.nan
    return wav_bytes(y, subtype="FLOAT")


BAD = [
    ("empty", lambda: (b"", "audio/wav", ""), 400, "empty_body"),
    ("truncated header", lambda: (wav_bytes(HIGH)[:30], "audio/wav", ""), 400, "undecodable_audio"),
    ("header only", lambda: (wav_bytes(HIGH)[:44], "audio/wav", ""), 400, "no_samples"),
    ("random bytes", lambda: (np.random.default_rng(0).bytes(5000), "audio/wav", ""), 400, "undecodable_audio"),
    ("text content type", lambda: (b"hello", "text/plain", ""), 415, "unsupported_media_type"),
    ("json content type", lambda: (b"{}", "application/json", ""), 415, "unsupported_media_type"),
    ("no content type", lambda: (b"RIFF", "", ""), 415, "unsupported_media_type"),
    ("nan wav", lambda: (_nan_wav(), "audio/wav", ""), 422, "nonfinite_samples"),
    ("nan pcm", lambda: (np.full(800, np.nan, "<f4").tobytes(), "application/octet-stream", "?rate=16000&encoding=f32le"),
     422, "nonfinite_samples"),
    ("8 channels", lambda: (wav_bytes(np.zeros((1600, 8), np.float32)), "audio/wav", ""), 422, "too_many_channels"),
    ("192 kHz", lambda: (wav_bytes(np.zeros(19200, np.float32), sr=192000), "audio/wav", ""), 422, "unsupported_rate"),
    ("pcm without rate", lambda: (b"\0\0" * 100, "application/octet-stream", ""), 422, "missing_rate"),
    ("pcm absurd rate", lambda: (b"\0\0" * 100, "application/octet-stream", "?rate=1"), 422, "unsupported_rate"),
    ("pcm odd bytes", lambda: (b"\0" * 101, "application/octet-stream", "?rate=16000"), 400, "truncated_pcm"),
    ("pcm bad encoding", lambda: (b"\0\0" * 100, "audio/pcm", "?rate=16000&encoding=mulaw"), 422, "bad_encoding"),
    ("too long", lambda: (wav_bytes(np.zeros(SR * 31, np.float32)), "audio/wav", ""), 413, "too_long"),
    ("too large", lambda: (b"\0" * 2_000_001, "audio/wav", ""), 413, "too_large"),
    ("top_k 0", lambda: (wav_bytes(HIGH), "audio/wav", "?top_k=0"), 422, "bad_parameter"),
    ("top_k text", lambda: (wav_bytes(HIGH), "audio/wav", "?top_k=many"), 422, "bad_parameter"),
    ("bad aggregate", lambda: (wav_bytes(HIGH), "audio/wav", "?aggregate=max"), 422, "bad_parameter"),
    ("bad include", lambda: (wav_bytes(HIGH), "audio/wav", "?include=video"), 422, "bad_parameter"),
    ("negative hop", lambda: (wav_bytes(HIGH), "audio/wav", "?window_hop=-1"), 422, "bad_parameter"),
]


@pytest.mark.parametrize("what, make, status, code", BAD, ids=[b[0] for b in BAD])
def test_bad_request_gets_a_4xx_json_error_and_the_server_keeps_serving(c, what, make, status, code):
    body, ctype, query = make()
    e = error_of(post(c, body, ctype, url=URL + query), status, code)
    if code == "bad_parameter":
        assert query.split("=")[0].lstrip("?") in e["message"]  # names the parameter
    r = post(c, wav_bytes(HIGH))
    assert r.status_code == 200 and r.json()["label"] == "high"


def test_other_bad_requests(c):
    error_of(post(c, wav_bytes(HIGH), url="/v1/models/nope:predict"), 404, "unknown_model")
    error_of(c.post(URL, files={"other": ("a.wav", wav_bytes(HIGH), "audio/wav")}), 400, "missing_file")
    error_of(c.post(URL, content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"}),
             400, "missing_file")
    error_of(c.get("/v1/nothing"), 404, "not_found")
    error_of(c.get(URL), 405, "method_not_allowed")
    error_of(c.post(URL, files={"file": ("a.txt", b"not audio", "text/plain")}), 400, "undecodable_audio")
    # the hook for separation: 501 until a separator is served
    error_of(post(c, wav_bytes(HIGH), url="/v1/models/tones:separate"), 501, "separation_unavailable")
    assert c.get("/health").json()["errors"] > 0
    assert post(c, wav_bytes(HIGH)).status_code == 200


def test_separate_endpoint_with_a_separator(models):
    class Halves:  # stands in for auricle.separation's Separator: .separate((C, N), sr) -> {stem: (C, N)}
        def separate(self, y, sr):
            return {"a": y * 0.5, "b": y * 0.5}

    import io
    import zipfile

    c = client(models, separators={"halves": Halves()})
    r = post(c, wav_bytes(HIGH), url="/v1/models/halves:separate")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert sorted(zipfile.ZipFile(io.BytesIO(r.content)).namelist()) == ["a.wav", "b.wav"]
    error_of(post(c, wav_bytes(HIGH), url="/v1/models/tones:separate"), 404, "not_a_separator")
    error_of(post(c, b"", url="/v1/models/halves:separate"), 400, "empty_body")


def test_bearer_token(models):
    c = client(models, token="s3cret")
    assert c.get("/health").status_code == 200  # health needs no token
    assert c.get("/").status_code == 200          # nor the page
    e = error_of(c.get("/v1/models"), 401, "unauthorized")
    assert "token" in e["message"]
    assert c.get("/v1/models").headers["www-authenticate"] == "Bearer"
    error_of(c.get("/v1/models", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    error_of(post(c, wav_bytes(HIGH)), 401, "unauthorized")
    ok = {"Authorization": "Bearer s3cret"}
    assert c.get("/v1/models", headers=ok).status_code == 200
    assert post(c, wav_bytes(HIGH), headers=ok).json()["label"] == "high"
    with c.websocket_connect("/v1/models/tones:stream") as ws:
        assert ws.receive_json()["code"] == "unauthorized"
    with c.websocket_connect("/v1/models/tones:stream?token=s3cret") as ws:
        assert ws.receive_json()["type"] == "ready"


def _stream(c, y, rate=SR, packet=1600, query="", extra=()):
    with c.websocket_connect(f"/v1/models/tones:stream?rate={rate}{query}") as ws:
        ready = ws.receive_json()
        for i in range(0, len(y), packet):
            ws.send_bytes(y[i:i + packet].astype("<f4").tobytes())
        for x in extra:
            ws.send_bytes(x) if isinstance(x, bytes) else ws.send_text(x)
        ws.send_text("end")
        msgs = []
        while True:
            m = ws.receive_json()
            msgs.append(m)
            if m["type"] == "end":
                return ready, msgs


def _tone_stream(rate=SR):
    y = np.zeros(4 * rate, np.float32)
    y[2 * rate:2 * rate + rate // 2] = tone(3000, 0.5, sr=rate)
    return y


def test_websocket_stream_detects_the_tone(c):
    ready, msgs = _stream(c, _tone_stream())
    assert ready["type"] == "ready" and ready["labels"] == c.get("/v1/models/tones").json()["labels"]
    assert ready["ignore"] == ["noise"]
    events = [m for m in msgs if m["type"] == "event"]
    assert [e["label"] for e in events] == ["high"] and 2.0 <= events[0]["start"] <= 2.8
    assert msgs[-1]["events"][0]["label"] == "high" and msgs[-1]["seconds"] == 4.0
    assert any(m["type"] == "scores" for m in msgs)
    # a 44.1 kHz stream (the browser's rate) is resampled on the server
    _, msgs = _stream(c, _tone_stream(44100), rate=44100, packet=4410)
    assert [m["label"] for m in msgs if m["type"] == "event"] == ["high"]


def test_websocket_bad_packets_are_reported_and_the_stream_goes_on(c):
    nan = np.full(160, np.nan, "<f4").tobytes()
    ready, msgs = _stream(c, _tone_stream(), extra=[b"abc", nan, "hello", b"\0" * 2_000_000])
    errs = [m["code"] for m in msgs if m["type"] == "error"]
    assert errs == ["truncated_pcm", "nonfinite_samples", "bad_message", "packet_too_large"]
    assert msgs[-1]["type"] == "end" and [e["label"] for e in msgs[-1]["events"]] == ["high"]


@pytest.mark.parametrize("query, code", [("?rate=1", "unsupported_rate"), ("?encoding=mp3", "bad_encoding"),
                                         ("?threshold=2", "bad_detector_setting"), ("?step=abc", "bad_parameter"),
                                         ("?step=5", "bad_step")])
def test_websocket_bad_settings_close_with_an_error(c, query, code):
    from starlette.websockets import WebSocketDisconnect

    with c.websocket_connect(f"/v1/models/tones:stream{query}") as ws:
        m = ws.receive_json()
        assert m["type"] == "error" and m["code"] == code
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()
    with c.websocket_connect("/v1/models/nope:stream") as ws:
        assert ws.receive_json()["code"] == "unknown_model"


def test_batcher_batches_concurrent_callers_and_reports_failures():
    from auricle.serve.batching import Batcher

    calls = []

    def slow(x):
        calls.append(len(x))
        time.sleep(0.02)
        return x[:, :1, 0] * 2

    b = Batcher(slow, max_batch=64)
    out = [None] * 24

    def one(i):
        out[i] = b.submit(np.full((1, 2, 3), i, np.float32)).result(timeout=10)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(24)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert [float(o[0, 0]) for o in out] == [2.0 * i for i in range(24)]  # each caller gets its own rows
    assert len(calls) < 24 and max(calls) > 1 and b.stats()["rows"] == 24
    b.close()

    def boom(x):
        raise RuntimeError("model failed")

    b = Batcher(boom)
    with pytest.raises(RuntimeError, match="model failed"):
        b.submit(np.zeros((1, 2, 3), np.float32)).result(timeout=10)
    b.close()


def test_concurrent_requests_through_the_app(c, models):
    before = models[0].batcher.stats()["calls"]
    res = []

    def one():
        res.append(post(c, wav_bytes(HIGH)).json()["label"])

    ts = [threading.Thread(target=one) for _ in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert res == ["high"] * 16
    assert models[0].batcher.stats()["calls"] - before <= 16


def test_server_process_never_imports_tensorflow(run):
    code = f"""
import sys
from fastapi.testclient import TestClient
from auricle.serve.app import create_app
from auricle.serve.models import load_models
from tests.test_serve_helpers import tone, wav_bytes
c = TestClient(create_app(load_models([{str(run)!r}])))
r = c.post("/v1/models/run:predict", content=wav_bytes(tone(3000)), headers={{"content-type": "audio/wav"}})
assert r.json()["label"] == "high", r.text
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TF was imported"
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=os.path.dirname(os.path.dirname(__file__)))
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr[-2000:]


def test_export_on_first_serve_is_cached_and_refreshed_when_stale(run, tmp_path):
    from auricle.errors import RunError
    from auricle.serve.models import ensure_export, find_export, open_model

    fresh = tmp_path / "fresh"
    shutil.copytree(run, fresh, ignore=shutil.ignore_patterns("export"))
    assert find_export(fresh) is None
    out = ensure_export(fresh)  # converts in a subprocess
    assert out == fresh / "export" / "onnx" and (out / "model.onnx").exists()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["parity"]["argmax_agreement"] == 1.0
    mtime = (out / "model.onnx").stat().st_mtime
    m = open_model(fresh)  # cached: no second export
    assert (out / "model.onnx").stat().st_mtime == mtime and m.name == "fresh"
    m.batcher.close()
    future = time.time() + 100
    os.utime(fresh / "model.keras", (future, future))  # retrained after the export
    assert find_export(fresh) is None
    with pytest.raises(RunError, match="not a finished run"):
        ensure_export(tmp_path)
    with pytest.raises(RunError, match="run directory not found"):
        ensure_export(tmp_path / "nope")


def test_serve_command_is_registered_and_checks_its_arguments(tmp_path):
    from typer.testing import CliRunner

    from auricle.cli import app

    r = CliRunner().invoke(app, ["serve", "--help"])
    assert r.exit_code == 0 and "--token" in r.output and "--port" in r.output
    r = CliRunner().invoke(app, ["serve", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "run directory not found" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["serve", str(tmp_path), "--port", "0"])
    assert r.exit_code == 2 and "port 0" in r.output


def test_slow_body_times_out_and_long_streams_are_cut(models):
    from auricle.serve.app import Limits

    import socket

    import uvicorn

    from auricle.serve.app import create_app

    app = create_app(models, limits=Limits(request_timeout=0.5, stream_seconds=2.0))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    try:
        t_end = time.time() + 20
        while not server.started and time.time() < t_end:
            time.sleep(0.05)
        body = wav_bytes(HIGH)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # a client that stalls mid-body
            s.sendall(f"POST {URL} HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:100])
            t0 = time.time()
            reply = s.recv(65536).decode()
        assert reply.startswith("HTTP/1.1 408") and '"body_timeout"' in reply and time.time() - t0 < 5, reply
        import httpx

        r = httpx.post(f"http://127.0.0.1:{port}{URL}", content=body, headers={"content-type": "audio/wav"})
        assert r.status_code == 200 and r.json()["label"] == "high"  # still serving
    finally:
        server.should_exit = True
        th.join(timeout=10)
    c = TestClient(app)
    from starlette.websockets import WebSocketDisconnect

    with c.websocket_connect("/v1/models/tones:stream") as ws:
        ws.receive_json()
        for _ in range(30):  # 3 s of audio, 2 s allowed
            ws.send_bytes(np.zeros(1600, "<f4").tobytes())
        msgs = []
        with pytest.raises(WebSocketDisconnect):
            while True:
                msgs.append(ws.receive_json())
    assert msgs[-1]["type"] == "error" and msgs[-1]["code"] == "stream_too_long"


def test_several_models_get_unique_names(run):
    from auricle.serve.models import load_models

    ms = load_models([run, run, f"other={run / 'export' / 'onnx'}"])
    try:
        assert [m.name for m in ms] == ["run", "run-2", "other"]
        c = client(ms)
        assert [m["name"] for m in c.get("/v1/models").json()["models"]] == ["run", "run-2", "other"]
        assert post(c, wav_bytes(LOW), url="/v1/models/other:predict").json()["label"] == "low"
    finally:
        for m in ms:
            m.batcher.close()


def test_separation_run_is_served_at_separate(run, tmp_path):
    """A tiny trained separator (tests/test_separation.py's generated songs) beside the classifier."""
    import io
    import zipfile

    import soundfile as sf

    from auricle.separation.export import export_separator
    from auricle.separation.training import SeparationConfig, train_separator
    from auricle.serve.models import load_all
    from tests.test_separation import SR as SEP_SR, TINY, _write_dataset

    data = _write_dataset(tmp_path / "songs", n_songs=3, seconds=2.0)
    cfg = SeparationConfig(data=str(data), preset="2stems-small", preset_overrides=dict(TINY), epochs=1,
                           steps_per_epoch=3, batch_size=4, valid_patches=4, cache_dir=str(tmp_path / "cache"), seed=0)
    sep_run = train_separator(cfg, tmp_path / "sep", evaluate=False)  # serving needs no test-song report
    export_separator(sep_run, "onnx")
    models, seps = load_all([f"tones={run}", f"stems={sep_run}"], export=False)
    try:
        assert [m.name for m in models] == ["tones"] and list(seps) == ["stems"]
        c = client(models, separators=seps)
        listed = c.get("/v1/models").json()["separators"]
        assert listed[0]["name"] == "stems" and listed[0]["stems"] == ["vocals", "accompaniment"]
        y = np.random.default_rng(0).standard_normal((2 * SEP_SR, 2)).astype(np.float32) * 0.1
        r = post(c, wav_bytes(y, sr=SEP_SR, subtype="FLOAT"), url="/v1/models/stems:separate")
        assert r.status_code == 200, r.text
        z = zipfile.ZipFile(io.BytesIO(r.content))
        assert sorted(z.namelist()) == ["accompaniment.wav", "vocals.wav"]
        stem, sr = sf.read(io.BytesIO(z.read("vocals.wav")))
        assert sr == SEP_SR and stem.shape == (2 * SEP_SR, 2)
        error_of(post(c, b"", url="/v1/models/stems:separate"), 400, "empty_body")
        error_of(post(c, wav_bytes(HIGH), url="/v1/models/tones:separate"), 404, "not_a_separator")
        assert post(c, wav_bytes(HIGH)).json()["label"] == "high"
    finally:
        for m in models:
            m.batcher.close()
