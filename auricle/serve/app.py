"""The FastAPI application of ``auricle serve``.

Endpoints (``{name}`` is a served model, see ``GET /v1/models``):

* ``GET /health`` - liveness, the served models, whether a token is needed (never needs one).
* ``GET /v1/models`` and ``GET /v1/models/{name}`` - labels, features, sample rate, size, batching.
* ``POST /v1/models/{name}:predict`` - an audio file (multipart ``file`` field, or the body with an
  ``audio/*`` content type) or raw PCM (``application/octet-stream`` / ``audio/pcm`` with
  ``?rate=&channels=&encoding=s16le|f32le``).  Query: ``top_k``, ``per_window`` (each window of a
  long file), ``window_hop`` (s), ``aggregate`` (mean|majority), ``include=waveform,spectrogram``
  (for the page: a min/max envelope and the log-mel as base64 uint8).
* ``WS /v1/models/{name}:stream`` - PCM packets in, scores and detection events out
  (:mod:`auricle.serve.stream`).
* ``POST /v1/models/{name}:separate`` - a zip of ``<stem>.wav`` for a mixture, for the separation runs
  served (``separators={name: obj}`` with ``obj.separate(waveform (C, N), sr) -> {stem: (C, N)}`` at
  ``obj.sr``: :class:`~auricle.serve.models.ServedSeparator` over
  ``auricle.separation.separate.Separator`` on its ONNX export); 501 when none is served.
* ``GET /`` - the web page (``static/``: plain HTML/JS/CSS, no CDN).  The page and its static files
  hold no model data and need no token; every ``/v1`` endpoint does when one is set.

Every bad request gets a JSON body ``{"error": {"status", "code", "message", "fix"}}`` with a 4xx
status naming what was wrong; decoding, features and the model run off the event loop.
"""
from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import time
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from auricle.serve.limits import Limits, ServeError

__all__ = ["create_app", "Limits", "ServeError"]

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("auricle.serve")

_INCLUDE = ("waveform", "spectrogram")


def _envelope(y: np.ndarray, columns: int = 600) -> dict:
    """Min/max per column of a mono signal (what the page draws as the waveform)."""
    n = len(y)
    cols = max(1, min(columns, n))
    edges = np.linspace(0, n, cols + 1).astype(int)
    lo = np.minimum.reduceat(y, edges[:-1])
    hi = np.maximum.reduceat(y, edges[:-1])
    return {"columns": int(cols), "min": np.round(lo, 4).tolist(), "max": np.round(hi, 4).tolist()}


def _spectrogram(y: np.ndarray, fc, frames: int = 500) -> dict:
    """The log-mel (model's framing) of the whole signal, time-major uint8 rows, base64."""
    from auricle.features import log_mel

    n_mels = fc.n_mels if fc.kind in ("log_mel", "mfcc") else 64
    S = log_mel(y, sr=fc.sr, n_fft=fc.n_fft, hop_length=fc.resolved_hop_length, win_length=fc.resolved_win_length,
                n_mels=n_mels, fmin=fc.fmin, fmax=fc.fmax, top_db=80.0)
    S = np.asarray(S).reshape(n_mels, -1).T  # (frames, bins)
    if len(S) > frames:  # max-pool blocks of frames down to at most `frames` rows
        edges = np.linspace(0, len(S), frames + 1).astype(int)
        S = np.maximum.reduceat(S, edges[:-1], axis=0)
    hi = float(S.max()) if S.size else 0.0
    lo = hi - 80.0
    q = np.clip((S - lo) / 80.0 * 255.0, 0, 255).astype(np.uint8)
    return {"frames": int(q.shape[0]), "bins": int(q.shape[1]), "db_min": round(lo, 2), "db_max": round(hi, 2),
            "seconds": round(len(y) / fc.sr, 3), "data": base64.b64encode(q.tobytes()).decode()}


def create_app(models, *, token: str | None = None, limits: Limits | None = None, separators: dict | None = None):
    """A FastAPI app serving ``models`` (:class:`~auricle.serve.models.ServedModel` s)."""
    limits = limits or Limits()
    registry = {m.name: m for m in models}
    separators = dict(separators or {})
    started = time.time()
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        for m in registry.values():
            if m.batcher is not None:
                m.batcher.close()

    app = FastAPI(title="auricle", version="1", docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.models = registry
    app.state.limits = limits
    app.state.counts = {"requests": 0, "errors": 0}

    # -- errors: always JSON, always naming what was wrong ----------------------------------------
    @app.exception_handler(ServeError)
    async def _serve_error(request, exc: ServeError):
        app.state.counts["errors"] += 1
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc: RequestValidationError):
        app.state.counts["errors"] += 1
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body"))
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        err = ServeError(422, "bad_parameter", "; ".join(parts) or "invalid request",
                         fix="see GET /docs for the parameters")
        return JSONResponse(err.to_dict(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        app.state.counts["errors"] += 1
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        msg = f"no such endpoint: {request.method} {request.url.path}" if exc.status_code == 404 else str(exc.detail)
        err = ServeError(exc.status_code, code, msg, fix="see GET /docs" if exc.status_code in (404, 405) else None)
        return JSONResponse(err.to_dict(), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _internal(request, exc: Exception):  # a bug: say so, keep serving
        app.state.counts["errors"] += 1
        log.exception("internal error on %s", request.url.path)
        err = ServeError(500, "internal_error", f"{type(exc).__name__}: {exc}")
        return JSONResponse(err.to_dict(), status_code=500)

    # -- helpers ----------------------------------------------------------------------------------
    def check_token(header: str | None, query: str | None = None) -> None:
        if token is None:
            return
        given = None
        if header and header.lower().startswith("bearer "):
            given = header[7:].strip()
        elif query:
            given = query
        if given is None:
            raise ServeError(401, "unauthorized", "this server needs a bearer token",
                             fix="send the header 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ServeError(401, "unauthorized", "wrong bearer token", fix="use the token the server was started with")

    def get_model(name: str):
        m = registry.get(name)
        if m is None:
            raise ServeError(404, "unknown_model", f"no model named {name!r}",
                             fix=f"served models: {', '.join(registry) or '(none)'}")
        return m

    async def read_body(request: Request) -> bytes:
        cl = request.headers.get("content-length")
        if cl is not None:
            try:
                if int(cl) > limits.max_upload_bytes:
                    raise ServeError(413, "too_large", f"the upload is {int(cl)} bytes; at most "
                                     f"{limits.max_upload_bytes} are accepted", fix="send a shorter or compressed clip")
            except ValueError:
                raise ServeError(400, "bad_content_length", f"Content-Length {cl!r} is not a number") from None

        async def collect():
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.max_upload_bytes:
                    raise ServeError(413, "too_large", f"the upload passed {limits.max_upload_bytes} bytes",
                                     fix="send a shorter or compressed clip")
                chunks.append(chunk)
            return b"".join(chunks)

        try:
            return await asyncio.wait_for(collect(), limits.request_timeout)
        except asyncio.TimeoutError:
            raise ServeError(408, "body_timeout", f"the request body did not arrive within {limits.request_timeout:g} s") from None

    async def read_audio(request: Request, rate, channels, encoding):
        """The request's audio as a zero-argument decoder (``-> (y (C, N), sr)``), to run off the loop."""
        import functools

        from auricle.serve.decode import FILE_TYPES, PCM_TYPES, decode_file, decode_pcm

        ctype = request.headers.get("content-type", "")
        main = ctype.split(";")[0].strip().lower()
        params = {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in ctype.split(";")[1:])}
        accepted = "multipart/form-data (field 'file'), " + ", ".join(FILE_TYPES[:4]) + "..., or raw PCM as " + \
                   " / ".join(PCM_TYPES) + " with ?rate="
        if main == "multipart/form-data":
            body = await read_body(request)
            request._body = body  # starlette parses the form from the body read (and bounded) above
            try:
                form = await request.form(max_files=2, max_fields=20)
            except Exception as exc:
                raise ServeError(400, "bad_multipart", f"the multipart form could not be parsed: {exc}") from None
            f = form.get("file")
            if f is None or isinstance(f, str):
                raise ServeError(400, "missing_file", "the form has no 'file' field holding an upload",
                                 fix="send the audio as the form field 'file'")
            data = await f.read()
            fname = f.filename or ""
            suffix = "." + fname.rsplit(".", 1)[-1] if "." in fname else ""
            return functools.partial(decode_file, data, limits=limits, suffix=suffix)
        if main in FILE_TYPES or main.startswith("audio/") and main not in PCM_TYPES:
            body = await read_body(request)
            return functools.partial(decode_file, body, limits=limits)
        if main in PCM_TYPES:
            body = await read_body(request)
            return functools.partial(decode_pcm, body, rate=rate or params.get("rate"),
                                           channels=channels or params.get("channels") or 1,
                                           encoding=encoding or params.get("encoding") or "s16le", limits=limits)
        raise ServeError(415, "unsupported_media_type",
                         f"content type {main or '(none)'!r} is not audio" if main else "the request has no content type",
                         fix=f"send {accepted}")

    # -- endpoints --------------------------------------------------------------------------------
    @app.get("/health")
    async def health():
        return {"status": "ok", "models": list(registry), "auth": token is not None,
                "uptime_s": round(time.time() - started, 1), **app.state.counts}

    @app.get("/v1/models")
    async def list_models(request: Request):
        check_token(request.headers.get("authorization"))
        return {"models": [m.describe() for m in registry.values()], "limits": limits.to_dict(),
                "separators": [s.describe() if hasattr(s, "describe") else {"name": n} for n, s in separators.items()]}

    @app.get("/v1/models/{name}")
    async def show_model(name: str, request: Request):
        check_token(request.headers.get("authorization"))
        if ":" in name and name.split(":", 1)[0] in registry:
            raise ServeError(405, "method_not_allowed", f"{request.url.path} takes POST (a WebSocket for :stream)",
                             fix="see GET /docs")
        return get_model(name).describe()

    @app.post("/v1/models/{name}:predict")
    async def predict(request: Request, name: str,
                      top_k: int = Query(3, ge=1, le=1000, description="labels per answer"),
                      per_window: bool = Query(False, description="each window of a long file"),
                      window_hop: float | None = Query(None, gt=0, le=600, description="seconds between windows"),
                      aggregate: str = Query("mean", pattern="^(mean|majority)$"),
                      include: str = Query("", description="comma list: waveform, spectrogram"),
                      rate: int | None = Query(None, description="raw PCM: sample rate (Hz)"),
                      channels: int | None = Query(None, ge=1, le=64, description="raw PCM: interleaved channels"),
                      encoding: str | None = Query(None, description="raw PCM: s16le or f32le")):
        t0 = time.perf_counter()
        app.state.counts["requests"] += 1
        check_token(request.headers.get("authorization"))
        m = get_model(name)
        extras = [s.strip() for s in include.split(",") if s.strip()]
        bad = [s for s in extras if s not in _INCLUDE]
        if bad:
            raise ServeError(422, "bad_parameter", f"include: unknown {', '.join(map(repr, bad))}",
                             fix=f"use a comma list of {', '.join(_INCLUDE)}")
        decode = await read_audio(request, rate, channels, encoding)
        t1 = time.perf_counter()
        got = {}

        def prepare():  # one trip to the thread pool: decode, resample, features
            from auricle.inference import prepare_windows, recording_member_probs
            from auricle.serve.decode import to_model_rate

            y, sr = got["y"], got["sr"] = decode()
            mono = to_model_rate(y, sr, m.feature_config.sr)
            feats, starts = prepare_windows(m.run, mono, window_hop=window_hop)
            got["member"] = recording_member_probs(m.run, mono)  # train.fuse: the whole recording's member answer
            out = {}
            if "waveform" in extras:
                out["waveform"] = _envelope(mono)
            if "spectrogram" in extras:
                out["spectrogram"] = _spectrogram(mono, m.feature_config)
            return feats, starts, out

        async def work():
            feats, starts, out = await run_in_threadpool(prepare)
            t2 = time.perf_counter()
            probs = await m.batcher.run(feats)
            return feats, starts, out, probs, t2

        try:
            feats, starts, out, probs, t2 = await asyncio.wait_for(work(), limits.request_timeout)
        except asyncio.TimeoutError:
            raise ServeError(503, "timeout", f"no answer within {limits.request_timeout:g} s (the server is overloaded)",
                             fix="retry later or send shorter audio") from None
        from auricle.inference import summarize

        pred = summarize(m.run, "", probs, starts, top_k=min(top_k, len(m.labels)), per_window=per_window,
                         aggregate=aggregate, member_probs=got.get("member"))
        d = pred.to_dict()
        d.pop("path", None)
        t3 = time.perf_counter()
        y, sr = got["y"], got["sr"]
        return JSONResponse({  # a Response: FastAPI's generic encoder is skipped (plain floats, lists, dicts)
            "model": m.name, **d, "seconds": round(y.shape[-1] / sr, 3), "sample_rate": sr,
            "channels": int(y.shape[0]), "n_windows": int(len(feats)), **out,
            "timing_ms": {"read": round((t1 - t0) * 1e3, 2), "decode_features": round((t2 - t1) * 1e3, 2),
                          "model": round((t3 - t2) * 1e3, 2), "total": round((t3 - t0) * 1e3, 2)}})

    @app.post("/v1/models/{name}:separate")
    async def separate(request: Request, name: str):
        check_token(request.headers.get("authorization"))
        sep = separators.get(name)
        if sep is None:
            if name in registry:
                raise ServeError(404 if separators else 501, "not_a_separator" if separators else "separation_unavailable",
                                 f"{name!r} is a classifier; separation is not served by this server",
                                 fix="start `auricle serve` with a separation run once auricle.separation provides one")
            raise ServeError(404, "unknown_model", f"no separation model named {name!r}",
                             fix=f"separation models: {', '.join(separators) or '(none)'}")
        decode = await read_audio(request, None, None, None)

        def run_separation():
            y, sr = decode()
            if y.shape[0] > 2:
                raise ServeError(422, "too_many_channels", f"{y.shape[0]} channels; separation takes mono or stereo")
            return getattr(sep, "sr", sr), sep.separate(y, sr)  # stems come out at the separator's rate

        try:
            sr, stems = await asyncio.wait_for(run_in_threadpool(run_separation), limits.request_timeout)
        except asyncio.TimeoutError:
            raise ServeError(503, "timeout", f"no answer within {limits.request_timeout:g} s",
                             fix="send shorter audio, or start the server with a longer --timeout") from None
        import io
        import zipfile

        from auricle.audio import save

        def pack():
            import tempfile

            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z, tempfile.TemporaryDirectory() as tmp:
                for stem, wav in stems.items():
                    p = Path(tmp) / f"{stem}.wav"
                    save(p, np.asarray(wav), sr)  # (C, N)
                    z.write(p, p.name)
            return buf.getvalue()

        return Response(await run_in_threadpool(pack), media_type="application/zip")

    @app.websocket("/v1/models/{name}:stream")
    async def stream(ws: WebSocket, name: str):
        from auricle.serve.stream import StreamSession

        await ws.accept()

        async def fail(exc: ServeError, close: bool):
            await ws.send_text(json.dumps({"type": "error", **exc.to_dict()["error"]}))
            if close:
                await ws.close(code=1008 if exc.status in (401, 404) else 1003 if exc.status == 422 else 1008)

        q = ws.query_params
        try:
            check_token(ws.headers.get("authorization"), q.get("token"))
            m = get_model(name)

            def num(key, default, kind=float):
                v = q.get(key)
                if v is None:
                    return default
                try:
                    return kind(v)
                except ValueError:
                    raise ServeError(422, "bad_parameter", f"{key}={v!r} is not a number") from None

            sess = StreamSession(m, rate=num("rate", None, int), encoding=q.get("encoding", "f32le"),
                                 step=num("step", 0.1), threshold=num("threshold", 0.7), smooth=num("smooth", 0.3),
                                 refractory=num("refractory", 1.0), top_k=num("top_k", 3, int), limits=limits)
        except ServeError as exc:
            await fail(exc, close=True)
            return
        await ws.send_text(json.dumps(sess.ready()))
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    return
                if msg.get("bytes") is not None:
                    try:
                        times, feats = await run_in_threadpool(sess.features, msg["bytes"])
                    except ServeError as exc:
                        await fail(exc, close=exc.code == "stream_too_long")
                        if exc.code == "stream_too_long":
                            return
                        continue
                    if feats is None:
                        continue
                    probs = await m.batcher.run(feats)
                    for out in sess.update(times, probs):
                        await ws.send_text(json.dumps(out))
                else:
                    text = (msg.get("text") or "").strip()
                    try:
                        kind = json.loads(text).get("type") if text.startswith("{") else text
                    except ValueError:
                        kind = None
                    if kind == "end":
                        await ws.send_text(json.dumps(sess.end()))
                        await ws.close(code=1000)
                        return
                    await fail(ServeError(400, "bad_message", f"unknown text message {text[:40]!r}",
                                          fix="send binary PCM packets, or the text 'end'"), close=False)
        except WebSocketDisconnect:
            return

    # -- the page ---------------------------------------------------------------------------------
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

        @app.get("/", include_in_schema=False)
        async def index():
            return FileResponse(STATIC / "index.html", media_type="text/html")

    return app
