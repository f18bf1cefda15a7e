"""Waveform transforms, vectorized over a batch ``(N, samples)``: shift and gain.

Noise lives in :mod:`auricle.augment.noise`, speed/tempo/pitch in :mod:`auricle.augment.stretch`,
filters in :mod:`auricle.augment.filters`, compression in :mod:`auricle.augment.dynamics` and
reverb in :mod:`auricle.augment.reverb`.
"""
from __future__ import annotations

import numpy as np

from auricle.augment.base import Transform
from auricle.augment.noise import AddNoise, active_rms, colored_noise  # noqa: F401  (re-exported)

__all__ = ["TimeShift", "Gain", "AddNoise", "active_rms", "colored_noise"]


class TimeShift(Transform):
    """Shift by a random offset in ``[-max_ms, max_ms]``; ``mode`` "pad" fills with zeros, "roll" wraps."""

    name = "time_shift"

    def __init__(self, max_ms: float = 100.0, mode: str = "pad", p: float = 0.5):
        super().__init__(p)
        if mode not in ("pad", "roll"):
            from auricle.errors import ConfigError
            raise ConfigError(f"time_shift: mode must be 'pad' or 'roll', got {mode!r}")
        self.max_ms, self.mode = float(max_ms), mode

    def randomize(self, n, rng):
        return {"shift_ms": rng.uniform(-self.max_ms, self.max_ms, n)}

    def apply(self, x, *, shift_ms, sr=16000, rng=None, **_):
        shifts = np.round(np.asarray(shift_ms) * sr / 1000.0).astype(int)
        n = x.shape[1]
        if self.mode == "roll":
            s = shifts % n if n else shifts
            return np.stack([np.concatenate([row[n - k:], row[:n - k]]) for row, k in zip(x, s)]) if len(x) else x.copy()
        out = np.zeros_like(x)
        for i, k in enumerate(shifts):  # row slices: much cheaper than a gather with an index array
            if 0 <= k < n:
                out[i, k:] = x[i, :n - k]
            elif -n < k < 0:
                out[i, :n + k] = x[i, -k:]
        return out


    def power_ok(self) -> bool:
        return True

    def apply_power(self, S, rms, *, fcfg, shift_ms, rng=None, **_):
        """Shift by whole frames (``round(shift / hop)``); "pad" fills with zero power."""
        k = np.round(np.asarray(shift_ms) * fcfg.sr / 1000.0 / fcfg.resolved_hop_length).astype(int)
        F = S.shape[1]
        if self.mode == "roll":
            return np.stack([np.roll(row, int(j), axis=0) for row, j in zip(S, k)]) if len(S) else S, rms
        out = np.zeros_like(S)
        for i, j in enumerate(k):
            if 0 <= j < F:
                out[i, j:] = S[i, :F - j]
            elif -F < j < 0:
                out[i, :F + j] = S[i, -j:]
        return out, rms


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

    def power_ok(self) -> bool:
        return True

    def apply_power(self, S, rms, *, fcfg, gain_db, rng=None, **_):
        g = np.asarray(gain_db, dtype=np.float64)
        return (S * (10.0 ** (g / 10.0)).astype(np.float32)[:, None, None]), rms * 10.0 ** (g / 20.0)
