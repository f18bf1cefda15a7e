"""Reverb from a synthetic room impulse response.

The impulse response is Gaussian noise under an exponential envelope that falls 60 dB in
``rt60`` seconds (``10 ** (-3 t / rt60)``), after ``predelay_ms`` of silence, normalized to unit
energy; the clip is convolved with it (``scipy.signal.fftconvolve``, all examples at once), the
tail beyond the clip is cut, and the result is mixed ``wet`` parts reverberant to ``1 - wet``
parts dry.
"""
from __future__ import annotations

import numpy as np

from auricle.augment.base import Transform, check_range


def synthetic_rir(rt60, sr: float, rng: np.random.Generator, predelay_ms: float = 0.0) -> np.ndarray:
    """``(n, samples)`` unit-energy exponentially decaying noise, one row per ``rt60`` (seconds),
    each as long as the longest decay (to -60 dB)."""
    rt60 = np.atleast_1d(np.asarray(rt60, dtype=np.float64))
    pre = int(round(predelay_ms * sr / 1000.0))
    length = max(1, int(np.ceil(rt60.max() * sr)))
    t = np.arange(length) / sr
    env = 10.0 ** (-3.0 * t[None, :] / np.maximum(rt60[:, None], 1e-4))
    h = rng.standard_normal((len(rt60), length)) * env
    h /= np.sqrt((h ** 2).sum(axis=1, keepdims=True))
    if pre:
        h = np.pad(h, ((0, 0), (pre, 0)))
    return h.astype(np.float32)


class Reverb(Transform):
    """Convolve with a synthetic room response, RT60 in ``[min_rt60, max_rt60]`` seconds, mixed
    with a wet fraction in ``[min_wet, max_wet]``."""

    name = "reverb"

    def __init__(self, min_rt60: float = 0.2, max_rt60: float = 0.8, min_wet: float = 0.2, max_wet: float = 0.6,
                 predelay_ms: float = 5.0, p: float = 0.5):
        super().__init__(p)
        self.min_rt60, self.max_rt60 = check_range(self.name, "min_rt60", min_rt60, "max_rt60", max_rt60,
                                                   minimum=0.0, strict_min=True, maximum=10.0)
        self.min_wet, self.max_wet = check_range(self.name, "min_wet", min_wet, "max_wet", max_wet,
                                                 minimum=0.0, maximum=1.0)
        check_range(self.name, "predelay_ms", predelay_ms, "predelay_ms", predelay_ms, minimum=0.0, maximum=500.0)
        self.predelay_ms = float(predelay_ms)

    def randomize(self, n, rng):
        return {"rt60": rng.uniform(self.min_rt60, self.max_rt60, n), "wet": rng.uniform(self.min_wet, self.max_wet, n)}

    def apply(self, x, *, rt60, wet, sr=16000, rng=None, **_):
        from scipy.signal import fftconvolve

        rng = rng if rng is not None else np.random.default_rng(0)
        n, length = x.shape
        rt60 = np.broadcast_to(np.asarray(rt60, dtype=np.float64), (n,))
        wet = np.broadcast_to(np.asarray(wet, dtype=np.float64), (n,)).astype(np.float32)[:, None]
        h = synthetic_rir(rt60, sr, rng, self.predelay_ms)[:, :length]  # later echoes fall outside the clip
        rev = fftconvolve(x, h, axes=1)[:, :length]
        return ((1 - wet) * x + wet * rev).astype(x.dtype)
