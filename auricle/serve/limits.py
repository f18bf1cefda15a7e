"""What the server accepts (:class:`Limits`) and the one error type of a bad request (:class:`ServeError`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Limits", "ServeError"]


@dataclass(frozen=True)
class Limits:
    """Bounds on every request; anything outside gets a 4xx JSON error naming the bound.

    Attributes
    ----------
    max_upload_bytes : int
        Largest request body (an uploaded file or raw PCM), 413 above it.
    max_seconds : float
        Longest audio a ``:predict`` request may hold, 413 above it.
    max_channels : int
        Most channels an upload may have (they are averaged to mono), 422 above it.
    min_rate, max_rate : int
        Accepted sample rates (Hz) of uploads and streams, 422 outside.
    request_timeout : float
        Seconds to receive a body and answer it: 408 for a body that does not arrive in time,
        503 when the server could not answer in time.
    stream_seconds : float
        Most audio one WebSocket session may stream before it is closed.
    max_packet_bytes : int
        Largest WebSocket packet.
    """

    max_upload_bytes: int = 20 * 1024 * 1024
    max_seconds: float = 120.0
    max_channels: int = 2
    min_rate: int = 4000
    max_rate: int = 96000
    request_timeout: float = 30.0
    stream_seconds: float = 3600.0
    max_packet_bytes: int = 1024 * 1024

    def to_dict(self) -> dict:
        return asdict(self)


class ServeError(Exception):
    """A bad request: HTTP ``status``, a short machine ``code``, a message, and how to fix it."""

    def __init__(self, status: int, code: str, message: str, fix: str | None = None):
        super().__init__(message)
        self.status = int(status)
        self.code = code
        self.message = message
        self.fix = fix

    def to_dict(self) -> dict:
        d = {"status": self.status, "code": self.code, "message": self.message}
        if self.fix:
            d["fix"] = self.fix
        return {"error": d}
