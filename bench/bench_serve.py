"""Load, abuse and cold-start figures of ``auricle serve`` / ``auricle predict`` (loopback only, bounded time).

    python bench/bench_serve.py --make-run runs/bench-kws          # trains the default recipe 1 epoch first
    python bench/bench_serve.py --run runs/kws --clients 16 64 --seconds 60

* load: the server (``python -m auricle serve RUN``, a subprocess) and N concurrent keep-alive
  clients in one asyncio process posting the same 1-s clip (a raw HTTP/1.1 client, so that the
  client's own CPU cost stays small on a 2-core machine) for a bounded time: predictions/s, p50/p99
  latency, errors (non-200), the server's RSS at the start and the end.
* abuse: the same clients send a malformed upload (empty, truncated, random bytes, huge, wrong
  content type, NaN samples, 8 channels, 192 kHz) every ``--bad-every`` requests between good ones;
  every bad one must get a 4xx JSON error, every good one a 200 with a label.
* cold start: seconds from ``auricle predict RUN clip.wav`` to its answer with the run's ONNX export
  (the default) and with ``--runtime keras`` (what it was before), median of 3.

Weights do not matter for speed: ``--make-run`` trains the default recipe (the ResNet + cnn
ensemble on the demo keywords) for one epoch and exports it.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def wav(y, sr, subtype="PCM_16"):
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, subtype=subtype, format="WAV")
    return buf.getvalue()


def good_clip() -> bytes:
    """A 1-s 16 kHz clip of the demo keywords (wav)."""
    import soundfile as sf

    from auricle.audio import fix_length, load

    src = sorted((ROOT / "data/demo/clips/yes").glob("*"))[0]
    y = fix_length(load(src, sr=16000), length=16000)
    buf = io.BytesIO()
    sf.write(buf, y, 16000, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def bad_requests(good: bytes, huge_mb: float) -> list[tuple[str, bytes, str]]:
    """(what, body, content type) of each kind of malformed upload."""
    rng = np.random.default_rng(0)
    y = np.zeros(16000, np.float32)
    nan = y.copy()
    nan[::100] = np.nan
    return [("empty", b"", "audio/wav"),
            ("truncated", good[:30], "audio/wav"),
            ("random bytes", rng.bytes(8000), "audio/wav"),
            ("huge", b"\0" * int(huge_mb * 1024 * 1024), "audio/wav"),
            ("wrong content type", good, "text/plain"),
            ("NaN samples", wav(nan, 16000, "FLOAT"), "audio/wav"),
            ("8 channels", wav(np.zeros((16000, 8), np.float32), 16000), "audio/wav"),
            ("192 kHz", wav(np.zeros(192000, np.float32), 192000), "audio/wav")]


# ------------------------------------------------------------------------------------------------
# a minimal keep-alive HTTP/1.1 client (the server is the thing measured)


class Conn:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.r = self.w = None

    async def open(self):
        self.r, self.w = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes, ctype: str) -> tuple[int, bytes]:
        if self.w is None:
            await self.open()
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        try:
            self.w.write(head + body)
            await self.w.drain()
            status_line = await self.r.readline()
            status = int(status_line.split()[1])
            length, close = 0, False
            while True:
                line = await self.r.readline()
                if line in (b"\r\n", b""):
                    break
                k, _, v = line.decode().partition(":")
                if k.lower() == "content-length":
                    length = int(v)
                elif k.lower() == "connection" and "close" in v.lower():
                    close = True
            data = await self.r.readexactly(length) if length else b""
        except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
            self.close()
            return -1, b""
        if close:
            self.close()
        return status, data

    def close(self):
        if self.w is not None:
            self.w.close()
        self.r = self.w = None


async def load_test(host, port, path, good, clients: int, seconds: float, bad=None, bad_every: int = 0):
    lat, codes = [], {}
    bad_results = []   # (what, status, is json error)
    good_fail = []
    t_end = time.perf_counter() + seconds

    async def client(i):
        c = Conn(host, port)
        n = 0
        while time.perf_counter() < t_end:
            n += 1
            if bad and bad_every and n % bad_every == 0:
                what, body, ctype = bad[(n // bad_every + i) % len(bad)]
                st, data = await c.post(path, body, ctype)
                try:
                    is_json = "error" in json.loads(data)
                except ValueError:
                    is_json = False
                bad_results.append((what, st, is_json))
                continue
            t0 = time.perf_counter()
            st, data = await c.post(path, good, "audio/wav")
            dt = time.perf_counter() - t0
            codes[st] = codes.get(st, 0) + 1
            if st == 200 and b'"label"' in data:
                lat.append(dt)
            else:
                good_fail.append((st, data[:200]))
        c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[client(i) for i in range(clients)])
    wall = time.perf_counter() - t0
    lat_ms = np.asarray(lat) * 1e3
    out = {"clients": clients, "seconds": round(wall, 1), "ok": len(lat),
           "predictions_per_s": round(len(lat) / wall, 1),
           "p50_ms": round(float(np.percentile(lat_ms, 50)), 2) if len(lat) else None,
           "p99_ms": round(float(np.percentile(lat_ms, 99)), 2) if len(lat) else None,
           "errors": sum(v for k, v in codes.items() if k != 200) + sum(1 for s, _ in good_fail if s == 200)}
    if bad is not None:
        kinds = {}
        for what, st, is_json in bad_results:
            k = kinds.setdefault(what, {"n": 0, "statuses": set(), "all_4xx_json": True})
            k["n"] += 1
            k["statuses"].add(st)
            k["all_4xx_json"] &= (400 <= st < 500 and is_json)
        out["bad"] = {w: {"n": k["n"], "statuses": sorted(k["statuses"]), "all_4xx_json": k["all_4xx_json"]}
                      for w, k in kinds.items()}
        out["bad_total"] = len(bad_results)
        out["bad_all_4xx_json"] = all(k["all_4xx_json"] for k in kinds.values())
    if good_fail:
        out["first_good_failure"] = str(good_fail[0])
    return out


# ------------------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_run(out: Path) -> Path:
    if not (out / "model.keras").exists():
        subprocess.run([sys.executable, "-m", "auricle", "train", "demo", "--out", str(out), "--epochs", "1",
                        "--overwrite"], check=True, cwd=ROOT)
    return out


def cold_start(run: Path, clip: Path, runtime: str | None, repeats: int = 3) -> float:
    ts = []
    for _ in range(repeats):
        cmd = [str(Path(sys.executable).parent / "auricle"), "predict", str(run), str(clip), "--format", "json"]
        if runtime:
            cmd += ["--runtime", runtime]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        ts.append(time.perf_counter() - t0)
        assert p.returncode == 0 and json.loads(p.stdout)[0]["label"], p.stderr[-1000:]
    return round(statistics.median(ts), 2)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--run", type=Path, help="a trained run (exported to ONNX on first serve)")
    g.add_argument("--make-run", type=Path, help="train the default recipe 1 epoch into this folder first")
    ap.add_argument("--clients", type=int, nargs="+", default=[16])
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each load phase")
    ap.add_argument("--abuse-seconds", type=float, default=10.0)
    ap.add_argument("--bad-every", type=int, default=5, help="abuse phase: one bad request every N")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads of the server")
    ap.add_argument("--no-cold-start", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args(argv)
    run = a.run or make_run(a.make_run)
    good = good_clip()
    clip = Path("/tmp") / f"bench-serve-clip-{os.getpid()}.wav"
    clip.write_bytes(good)
    port = free_port()
    t0 = time.perf_counter()
    srv = subprocess.Popen([sys.executable, "-m", "auricle", "serve", f"kws={run}", "--port", str(port),
                            "--threads", str(a.threads), "--max-upload-mb", "20"], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    figures = {"run": str(run), "cpus": os.cpu_count()}
    try:
        t_end = time.time() + 900  # a first serve may export to ONNX
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                if srv.poll() is not None or time.time() > t_end:
                    raise SystemExit(f"server did not start: {srv.stderr.read()[-2000:] if srv.stderr else ''}")
                time.sleep(0.2)
        figures["server_start_s"] = round(time.perf_counter() - t0, 1)
        path = "/v1/models/kws:predict"
        asyncio.run(load_test("127.0.0.1", port, path, good, 2, 1.0))  # warm up
        figures["rss_start_mb"] = rss_mb(srv.pid)
        figures["load"] = []
        for n in a.clients:
            r = asyncio.run(load_test("127.0.0.1", port, path, good, n, a.seconds))
            r["rss_mb"] = rss_mb(srv.pid)
            figures["load"].append(r)
            print(f"load   {n:3d} clients {r['seconds']:5.1f} s: {r['predictions_per_s']:7.1f} predictions/s, "
                  f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']}, RSS {r['rss_mb']} MB", flush=True)
        if a.abuse_seconds > 0:
            bad = bad_requests(good, huge_mb=21)
            r = asyncio.run(load_test("127.0.0.1", port, path, good, min(a.clients), a.abuse_seconds, bad, a.bad_every))
            r["rss_mb"] = rss_mb(srv.pid)
            figures["abuse"] = r
            print(f"abuse  {r['clients']:3d} clients {r['seconds']:5.1f} s: {r['ok']} good answered "
                  f"({r['errors']} failed), {r['bad_total']} bad -> all 4xx JSON: {r['bad_all_4xx_json']}")
            for w, k in r["bad"].items():
                print(f"         {w:20s} x{k['n']:<5d} statuses {k['statuses']}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5) as resp:
            figures["batching"] = json.loads(resp.read())["models"][0]["batching"]
        figures["rss_end_mb"] = rss_mb(srv.pid)
        print(f"server RSS {figures['rss_start_mb']} MB after warm-up -> {figures['rss_end_mb']} MB at the end; "
              f"batching {figures['batching']}")
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
    if not a.no_cold_start:
        figures["cold_start_s"] = {"onnx (default)": cold_start(run, clip, None),
                                   "keras (--runtime keras)": cold_start(run, clip, "keras")}
        print(f"cold start of `auricle predict RUN clip.wav`: {figures['cold_start_s']}")
    clip.unlink(missing_ok=True)
    if a.json:
        a.json.write_text(json.dumps(figures, indent=1, default=str))
    return figures


if __name__ == "__main__":
    main()
