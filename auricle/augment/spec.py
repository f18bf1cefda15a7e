"""SpecAugment (Park et al. 2019) on time-major features ``(N, frames, bins)``."""
from __future__ import annotations

import numpy as np

from auricle.augment.base import Transform


def time_warp(x: np.ndarray, center: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Warp the time axis of ``(N, frames, bins)`` so that frame ``center[i]`` moves to
    ``center[i] + shift[i]`` (piecewise linear, first and last frames fixed, linear
    interpolation between frames)."""
    n, frames, _ = x.shape
    if frames < 3:
        return x.copy()
    c = np.clip(np.asarray(center, dtype=np.float64), 1, frames - 2)
    d = np.clip(np.asarray(shift, dtype=np.float64), 1 - c, frames - 2 - c)
    w = c + d                                                  # where the centre lands
    t = np.arange(frames, dtype=np.float64)[None, :]
    src = np.where(t <= w[:, None], t * (c / w)[:, None],
                   c[:, None] + (t - w[:, None]) * ((frames - 1 - c) / (frames - 1 - w))[:, None])
    src = np.clip(src, 0, frames - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, frames - 1)
    a = (src - i0).astype(x.dtype)[:, :, None]
    x0 = np.take_along_axis(x, i0[:, :, None], axis=1)
    x1 = np.take_along_axis(x, i1[:, :, None], axis=1)
    return (x0 + a * (x1 - x0)).astype(x.dtype)


class SpecAugment(Transform):
    """Mask ``time_masks`` runs of up to ``max_time`` frames and ``freq_masks`` runs of up to
    ``max_freq`` bins, filling with each example's mean (so per-clip normalized features get 0).

    ``time_warp`` > 0 first warps the time axis: a random frame at least ``time_warp`` frames from
    either end moves by up to ``time_warp`` frames either way (the paper's W; 0 = off).
    """

    name = "spec_augment"
    domain = "features"

    def __init__(self, time_masks: int = 2, max_time: int = 10, freq_masks: int = 2, max_freq: int = 5,
                 time_warp: int = 0, p: float = 0.5):
        super().__init__(p)
        self.time_masks, self.max_time = int(time_masks), int(max_time)
        self.freq_masks, self.max_freq = int(freq_masks), int(max_freq)
        self.time_warp = int(time_warp)
        if min(self.time_masks, self.max_time, self.freq_masks, self.max_freq, self.time_warp) < 0:
            from auricle.errors import ConfigError
            raise ConfigError("spec_augment: mask counts, widths and time_warp must be >= 0")

    def randomize(self, n, rng):
        params = {
            "t_width": rng.integers(0, self.max_time + 1, (n, self.time_masks)),
            "t_start": rng.random((n, self.time_masks)),
            "f_width": rng.integers(0, self.max_freq + 1, (n, self.freq_masks)),
            "f_start": rng.random((n, self.freq_masks)),
        }
        if self.time_warp > 0:  # drawn last: chains without warping keep their random stream
            params["warp_center"] = rng.random(n)
            params["warp_shift"] = rng.uniform(-self.time_warp, self.time_warp, n)
        return params

    def apply(self, x, *, t_width, t_start, f_width, f_start, warp_center=None, warp_shift=None, rng=None, **_):
        """``warp_center`` in [0, 1) places the warped frame in ``[W, frames - W)``; ``warp_shift`` in frames."""
        n, frames, bins = x.shape
        if warp_center is not None and warp_shift is not None:
            w = min(self.time_warp, max((frames - 1) // 2 - 1, 0)) if self.time_warp > 0 else 0
            centre = w + np.floor(np.asarray(warp_center) * max(frames - 2 * w, 1))
            x = time_warp(x, centre, warp_shift)
        t = np.arange(frames)[None, :, None]
        f = np.arange(bins)[None, :, None]
        t0 = np.floor(t_start * np.maximum(frames - t_width, 0)).astype(int)[:, None, :]
        f0 = np.floor(f_start * np.maximum(bins - f_width, 0)).astype(int)[:, None, :]
        tmask = ((t >= t0) & (t < t0 + t_width[:, None, :])).any(axis=2)   # (n, frames)
        fmask = ((f >= f0) & (f < f0 + f_width[:, None, :])).any(axis=2)   # (n, bins)
        mask = tmask[:, :, None] | fmask[:, None, :]
        fill = x.mean(axis=(1, 2), keepdims=True)
        return np.where(mask, fill, x).astype(x.dtype)
