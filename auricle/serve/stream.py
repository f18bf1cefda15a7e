"""A WebSocket streaming session: PCM packets in, posteriors and detection events out.

The session keeps the last clip of audio (at the model's rate; other input rates go through a
streaming soxr resampler).  Every ``step`` seconds of new audio it classifies the clip that ends
there with the served (offline) model - the same features and model as ``:predict``, batched with
the other requests - and feeds the posteriors to :class:`auricle.streaming.detector.Detector`
(smoothing, threshold, refractory period).  Messages to the client (JSON text)::

    {"type": "ready", "model", "labels", "rate", "model_rate", "step", "threshold", ...}
    {"type": "scores", "t": 1.30, "top": [["yes", 0.91], ...]}     once per packet that completed a step
    {"type": "event", "label": "yes", "start": 1.2, "end": 1.2, "score": 0.93, "peak": 1.2}
    {"type": "error", "code", "message", "fix"}                    a bad packet (dropped; the stream goes on)
    {"type": "end", "events": [...], "seconds": 12.3}              after the client sends "end"

From the client: binary messages of PCM (``encoding`` f32le or s16le, mono, ``rate`` Hz, both
query parameters), and the text message ``end`` (or ``{"type": "end"}``) to finish.
"""
from __future__ import annotations

import numpy as np

from auricle.serve.decode import PCM_ENCODINGS
from auricle.serve.limits import Limits, ServeError

__all__ = ["StreamSession"]


class StreamSession:
    """One client's stream over a :class:`~auricle.serve.models.ServedModel` (see the module docs)."""

    def __init__(self, model, *, rate: int | None = None, encoding: str = "f32le", step: float = 0.1,
                 threshold: float = 0.7, smooth: float = 0.3, refractory: float = 1.0, top_k: int = 3,
                 limits: Limits = Limits()):
        from auricle.errors import AuricleError
        from auricle.streaming.detector import Detector, DetectorConfig

        fc = model.feature_config
        self.model = model
        self.fc = fc
        self.sr = fc.sr
        self.rate = int(rate) if rate else fc.sr
        if not limits.min_rate <= self.rate <= limits.max_rate:
            raise ServeError(422, "unsupported_rate", f"sample rate {self.rate} Hz is outside "
                             f"{limits.min_rate}-{limits.max_rate} Hz")
        if encoding not in PCM_ENCODINGS:
            raise ServeError(422, "bad_encoding", f"unknown PCM encoding {encoding!r}",
                             fix=f"use one of {', '.join(PCM_ENCODINGS)}")
        if not 0.01 <= step <= fc.duration:
            raise ServeError(422, "bad_step", f"step {step:g} s must be between 0.01 s and one clip ({fc.duration:g} s)")
        self.encoding = encoding
        self.limits = limits
        self.top_k = max(1, min(int(top_k), len(model.labels)))
        self.n = fc.n_samples
        self.hop = max(1, int(round(step * fc.sr)))
        self.step = self.hop / fc.sr
        try:
            self.detector = Detector(model.labels, self.step, DetectorConfig(threshold=threshold, smooth=smooth,
                                                                            refractory=refractory))
        except AuricleError as exc:
            raise ServeError(422, "bad_detector_setting", exc.message) from None
        self._resampler = None
        if self.rate != fc.sr:
            import soxr

            self._resampler = soxr.ResampleStream(self.rate, fc.sr, 1, dtype="float32")
        self.buf = np.zeros(self.n, dtype=np.float32)
        self.since = 0        # model-rate samples after the last window's end
        self.total = 0        # model-rate samples received
        self.received = 0     # input-rate samples received

    def ready(self) -> dict:
        c = self.detector.cfg
        return {"type": "ready", "model": self.model.name, "labels": list(self.model.labels), "rate": self.rate,
                "model_rate": self.sr, "encoding": self.encoding, "step": self.step, "clip_seconds": self.fc.duration,
                "threshold": c.threshold, "smooth": c.smooth, "refractory": c.refractory,
                "ignore": [lab for lab in self.model.labels if lab in set(c.ignore)]}

    # -- packets -> windows -----------------------------------------------------------------------
    def decode(self, data: bytes) -> np.ndarray:
        if len(data) > self.limits.max_packet_bytes:
            raise ServeError(413, "packet_too_large", f"a packet of {len(data)} bytes; at most "
                             f"{self.limits.max_packet_bytes}", fix="send packets of 10-100 ms")
        dtype, scale = PCM_ENCODINGS[self.encoding]
        width = np.dtype(dtype).itemsize
        if len(data) % width:
            raise ServeError(400, "truncated_pcm", f"a packet of {len(data)} bytes is not a whole number of "
                             f"{self.encoding} samples", fix=f"send mono {self.encoding} samples")
        y = np.frombuffer(data, dtype=dtype).astype(np.float32)
        if scale != 1.0:
            y /= scale
        elif not np.isfinite(y).all():
            raise ServeError(422, "nonfinite_samples", f"{int((~np.isfinite(y)).sum())} samples of the packet are "
                             "NaN or inf (packet dropped)", fix="send finite samples")
        if (self.received + len(y)) / self.rate > self.limits.stream_seconds:
            raise ServeError(413, "stream_too_long", f"the stream passed {self.limits.stream_seconds:g} s",
                             fix="open a new stream")
        self.received += len(y)
        if self._resampler is not None:
            y = self._resampler.resample_chunk(y)
        return y

    def windows(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New model-rate samples -> (end times (m,), clips (m, n)) of the steps they complete."""
        n, hop = self.n, self.hop
        ext = np.concatenate([self.buf, y]) if len(y) else self.buf
        first = n + (hop - self.since)
        ends = np.arange(first, len(ext) + 1, hop)
        self.since = int(len(ext) - ends[-1]) if len(ends) else self.since + len(y)
        ends = ends[self.total + ends - n >= n]  # only clips of real audio (not the zeros before the stream)
        wins = np.stack([ext[e - n:e] for e in ends]) if len(ends) else np.zeros((0, n), np.float32)
        times = (self.total + ends - n) / self.sr
        self.total += len(y)
        self.buf = ext[-n:].copy()
        return times, wins

    def features(self, data: bytes):
        """Blocking part of a packet (run off the event loop): decode, window, features."""
        from auricle.features import extract

        times, wins = self.windows(self.decode(data))
        return times, (extract(self.fc, wins) if len(wins) else None)

    def update(self, times, probs) -> list[dict]:
        """Posteriors of the completed steps -> messages (scores, new events)."""
        msgs = []
        s = None
        for t, p in zip(times, probs):
            before = len(self.detector.events)
            s, _ = self.detector.update(float(t), p)
            for e in self.detector.events[before:]:
                msgs.append({"type": "event", **e.to_dict()})
        if s is not None:
            order = np.argsort(-s)[:self.top_k]
            msgs.insert(0, {"type": "scores", "t": round(float(times[-1]), 3),
                            "top": [[self.model.labels[i], round(float(s[i]), 4)] for i in order]})
        return msgs

    def end(self) -> dict:
        self.detector.close()
        return {"type": "end", "events": [e.to_dict() for e in self.detector.events],
                "seconds": round(self.total / self.sr, 3)}
