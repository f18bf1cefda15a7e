"""Waveform transforms, vectorized over a batch ``(N, samples)``."""
from __future__ import annotations

import numpy as np

from auricle.augment.base import Transform


class TimeShift(Transform):
    """Shift by a random offset in ``[-max_ms, max_ms]``; ``mode`` "pad" fills with zeros, "roll" wraps."""

    name = "time_shift"

    def __init__(self, max_ms: float = 100.0, mode: str = "pad", p: float = 0.5):
        super().__init__(p)
        self.max_ms, self.mode = float(max_ms), mode

    def randomize(self, n, rng):
        return {"shift_ms": rng.uniform(-self.max_ms, self.max_ms, n)}

    def apply(self, x, *, shift_ms, sr=16000, rng=None):
        shifts = np.round(np.asarray(shift_ms) * sr / 1000.0).astype(int)
        n = x.shape[1]
        idx = np.arange(n)[None, :] - shifts[:, None]
        if self.mode == "roll":
            return np.take_along_axis(x, idx % n, axis=1)
        valid = (idx >= 0) & (idx < n)
        return np.where(valid, np.take_along_axis(x, np.clip(idx, 0, n - 1), axis=1), 0).astype(x.dtype)


class Gain(Transform):
    """Multiply by a random gain in ``[min_db, max_db]`` dB."""

    name = "gain"

    def __init__(self, min_db: float = -6.0, max_db: float = 6.0, p: float = 0.5):
        super().__init__(p)
        self.min_db, self.max_db = float(min_db), float(max_db)

    def randomize(self, n, rng):
        return {"gain_db": rng.uniform(self.min_db, self.max_db, n)}

    def apply(self, x, *, gain_db, rng=None, **_):
        return (x * (10.0 ** (np.asarray(gain_db) / 20.0))[:, None]).astype(x.dtype)


def colored_noise(n: int, length: int, color: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS white/pink/brown noise ``(n, length)`` shaped in the frequency domain."""
    white = rng.standard_normal((n, length)).astype(np.float32)
    if color == "white":
        noise = white
    else:
        spec = np.fft.rfft(white, axis=1)
        f = np.arange(spec.shape[1], dtype=np.float32)
        f[0] = 1.0
        spec *= (f ** (-0.5 if color == "pink" else -1.0))[None, :]
        noise = np.fft.irfft(spec, n=length, axis=1).astype(np.float32)
    noise /= np.sqrt((noise ** 2).mean(axis=1, keepdims=True)) + 1e-12
    return noise


class AddNoise(Transform):
    """Mix generated (white/pink/brown) noise at a random SNR in ``[min_snr_db, max_snr_db]``.

    The SNR is relative to the clip's RMS over its active part (samples above -50 dB of its
    peak), so a short word in a silent second gets noise relative to the word, not the
    silence.  All-zero clips receive noise at ``floor_db`` dBFS.
    """

    name = "noise"

    def __init__(self, min_snr_db: float = 5.0, max_snr_db: float = 30.0, colors=("white", "pink", "brown"),
                 floor_db: float = -50.0, p: float = 0.5):
        super().__init__(p)
        self.min_snr_db, self.max_snr_db = float(min_snr_db), float(max_snr_db)
        self.colors, self.floor_db = tuple(colors), float(floor_db)

    def randomize(self, n, rng):
        return {"snr_db": rng.uniform(self.min_snr_db, self.max_snr_db, n),
                "color": rng.integers(0, len(self.colors), n)}

    def apply(self, x, *, snr_db, color, rng=None, **_):
        rng = rng if rng is not None else np.random.default_rng(0)
        out = x.copy()
        sig_rms = active_rms(x)
        noise_rms = np.where(sig_rms > 0, sig_rms / 10.0 ** (np.asarray(snr_db) / 20.0), 10.0 ** (self.floor_db / 20.0))
        for ci, c in enumerate(self.colors):
            sel = np.asarray(color) == ci
            if sel.any():
                out[sel] += colored_noise(int(sel.sum()), x.shape[1], c, rng) * noise_rms[sel, None].astype(np.float32)
        return out


def active_rms(x: np.ndarray, rel_db: float = -50.0) -> np.ndarray:
    """RMS of each row over samples whose magnitude is within ``rel_db`` of the row's peak."""
    a = np.abs(x)
    peak = a.max(axis=1, keepdims=True)
    active = a >= peak * 10.0 ** (rel_db / 20.0)
    active &= peak > 0
    cnt = active.sum(axis=1)
    ss = np.where(active, x.astype(np.float64) ** 2, 0.0).sum(axis=1)
    return np.sqrt(ss / np.maximum(cnt, 1)).astype(np.float32)
