"""One error type for everything a user can get wrong.

Every error auricle raises on purpose is an :class:`AuricleError` (or a subclass),
carrying *what* went wrong, *which* file or setting, and *how to fix it*.  The CLI
prints these as one clear message instead of a traceback.
"""
from __future__ import annotations

from pathlib import Path


class AuricleError(Exception):
    """Base class: a message, optionally the offending path and a suggested fix.

    Examples
    --------
    >>> err = AuricleError("file is empty", path="a.wav", fix="re-record it")
    >>> str(err)
    'a.wav: file is empty. Fix: re-record it'
    """

    def __init__(self, message: str, *, path: str | Path | None = None, fix: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.fix = fix
        super().__init__(self._render())

    def _render(self) -> str:
        text = self.message.rstrip(".")
        if self.path:
            text = f"{self.path}: {text}"
        if self.fix:
            text = f"{text}. Fix: {self.fix}"
        return text


class AudioError(AuricleError):
    """A file that cannot be decoded, is empty, truncated, or holds NaN/inf samples."""


class DatasetError(AuricleError):
    """A dataset folder or manifest that cannot be indexed or split as asked."""


class ConfigError(AuricleError):
    """A configuration value that is unknown, out of range, or inconsistent."""


class RunError(AuricleError):
    """A run directory that is missing, incomplete, or would be overwritten."""


class TrainingInterrupted(RunError):
    """Training stopped by Ctrl-C / SIGTERM; the last completed epoch is checkpointed."""


class ModelError(AuricleError):
    """An unknown model name or option."""
