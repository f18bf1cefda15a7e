"""Shared test helpers.  Keep this to small generic fixtures; put test-specific builders in the test file."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def write_wav(path, sr: int = 8000, seconds: float = 0.1, freq: float | None = 440.0, *,
              amplitude: float = 0.3, channels: int = 1, seed: int | None = None) -> Path:
    """Write a short float wav (PCM_16) and return its Path; parent folders are created.

    ``freq=None`` writes white noise (seeded by ``seed``, else by the path, so files differ);
    ``amplitude=0`` writes digital silence.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = max(1, int(round(sr * seconds)))
    if freq is None:
        rng = np.random.default_rng(zlib.crc32(str(path).encode()) if seed is None else seed)
        y = amplitude * np.clip(rng.standard_normal(n), -3, 3) / 3
    else:
        y = amplitude * np.sin(2 * np.pi * freq * np.arange(n) / sr)
    y = y.astype("float32")
    if channels > 1:
        y = np.stack([y] * channels, axis=1)
    sf.write(str(path), y, sr, subtype="PCM_16")
    return path


@pytest.fixture
def make_wav():
    """``make_wav(path, sr=8000, seconds=0.1, freq=440.0, *, amplitude=0.3, channels=1, seed=None) -> Path``."""
    return write_wav
