"""Dynamic-range compression, vectorized over the batch with one-pole (``lfilter``) smoothers.

Per sample:

1. level: ``10 log10`` of ``x**2`` smoothed with a one-pole of time constant ``rms_ms``
   (0: the instantaneous ``20 log10 |x|``);
2. static curve: above ``threshold_db`` the level rises ``1 / ratio`` dB per dB (optional soft
   ``knee_db``), i.e. gain ``(threshold - level) * (1 - 1 / ratio)`` dB;
3. gain smoothing: the gain (dB) is smoothed with an ``attack_ms`` and a ``release_ms`` one-pole
   and the lower (more attenuating) of the two is used, so attenuation sets in with the attack
   time and recovers with the release time (both 0: the static curve alone).

``threshold_db`` is in dBFS, or relative to each clip's loudest level with ``relative: true``.
``makeup: true`` scales each compressed clip back to its input RMS.
"""
from __future__ import annotations

import numpy as np

from auricle.augment.base import Transform, check_range


def one_pole(x: np.ndarray, tau_ms: float, sr: float, initial: float = 0.0) -> np.ndarray:
    """First-order low-pass along axis 1 (in ``x``'s float dtype), time constant ``tau_ms``,
    starting at ``initial``."""
    if tau_ms <= 0:
        return x
    from scipy.signal import lfilter

    dt = x.dtype
    a = float(np.exp(-1000.0 / (tau_ms * sr)))
    zi = np.full((x.shape[0], 1), a * initial, dtype=dt)
    y, _ = lfilter(np.array([1.0 - a], dt), np.array([1.0, -a], dt), x, axis=1, zi=zi)
    return y


def gain_curve_db(level_db: np.ndarray, threshold_db, ratio, knee_db: float = 0.0) -> np.ndarray:
    """Gain (dB, <= 0) of a compressor's static curve at ``level_db``."""
    over = level_db - threshold_db
    slope = 1.0 / np.asarray(ratio, dtype=over.dtype) - 1
    gain = np.where(over > 0, over * slope, 0)
    if knee_db > 0:
        k = over.dtype.type(knee_db)
        inside = np.abs(over) <= k / 2
        gain = np.where(inside, slope * (over + k / 2) ** 2 / (2 * k), gain)
    return gain


class Compressor(Transform):
    """Compress the dynamic range: threshold in ``[min_threshold_db, max_threshold_db]`` dB,
    ratio in ``[min_ratio, max_ratio]``; see the module docstring for the detector and smoothing."""

    name = "compressor"

    def __init__(self, min_threshold_db: float = -30.0, max_threshold_db: float = -10.0, min_ratio: float = 2.0,
                 max_ratio: float = 8.0, attack_ms: float = 5.0, release_ms: float = 50.0, rms_ms: float = 5.0,
                 knee_db: float = 0.0, relative: bool = False, makeup: bool = True, p: float = 0.5):
        super().__init__(p)
        n = self.name
        self.min_threshold_db, self.max_threshold_db = check_range(n, "min_threshold_db", min_threshold_db,
                                                                   "max_threshold_db", max_threshold_db, maximum=0.0)
        self.min_ratio, self.max_ratio = check_range(n, "min_ratio", min_ratio, "max_ratio", max_ratio, minimum=1.0)
        for key, v in (("attack_ms", attack_ms), ("release_ms", release_ms), ("rms_ms", rms_ms), ("knee_db", knee_db)):
            check_range(n, key, v, key, v, minimum=0.0)
        self.attack_ms, self.release_ms, self.rms_ms = float(attack_ms), float(release_ms), float(rms_ms)
        self.knee_db, self.relative, self.makeup = float(knee_db), bool(relative), bool(makeup)

    def randomize(self, n, rng):
        return {"threshold_db": rng.uniform(self.min_threshold_db, self.max_threshold_db, n),
                "ratio": rng.uniform(self.min_ratio, self.max_ratio, n)}

    def apply(self, x, *, threshold_db, ratio, sr=16000, rng=None, **_):
        n = x.shape[0]
        xf = x.astype(np.float32, copy=False)
        thr = np.broadcast_to(np.asarray(threshold_db, dtype=np.float32), (n,))[:, None]
        ratio = np.broadcast_to(np.asarray(ratio, dtype=np.float32), (n,))[:, None]
        power = one_pole(xf * xf, self.rms_ms, sr)
        level = np.float32(10.0) * np.log10(np.maximum(power, np.float32(1e-12)))
        if self.relative:
            thr = thr + level.max(axis=1, keepdims=True)
        gain = gain_curve_db(level, thr, ratio, self.knee_db).astype(np.float32, copy=False)
        if self.attack_ms > 0 or self.release_ms > 0:
            gain = np.minimum(one_pole(gain, self.attack_ms, sr), one_pole(gain, self.release_ms, sr))
        y = xf * np.exp(gain * np.float32(np.log(10.0) / 20.0))
        if self.makeup:
            rms_in = np.sqrt((xf.astype(np.float64) ** 2).mean(axis=1, keepdims=True))
            rms_out = np.sqrt((y.astype(np.float64) ** 2).mean(axis=1, keepdims=True))
            y *= np.where(rms_out > 0, rms_in / np.maximum(rms_out, 1e-30), 1.0).astype(np.float32)
        return y.astype(x.dtype, copy=False)
