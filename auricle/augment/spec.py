"""SpecAugment (Park et al. 2019) on time-major features ``(N, frames, bins)``."""
from __future__ import annotations

import numpy as np

from auricle.augment.base import Transform


class SpecAugment(Transform):
    """Mask ``time_masks`` runs of up to ``max_time`` frames and ``freq_masks`` runs of up to
    ``max_freq`` bins, filling with each example's mean (so per-clip normalized features get 0)."""

    name = "spec_augment"
    domain = "features"

    def __init__(self, time_masks: int = 2, max_time: int = 10, freq_masks: int = 2, max_freq: int = 5,
                 p: float = 0.5):
        super().__init__(p)
        self.time_masks, self.max_time = int(time_masks), int(max_time)
        self.freq_masks, self.max_freq = int(freq_masks), int(max_freq)

    def randomize(self, n, rng):
        return {
            "t_width": rng.integers(0, self.max_time + 1, (n, self.time_masks)),
            "t_start": rng.random((n, self.time_masks)),
            "f_width": rng.integers(0, self.max_freq + 1, (n, self.freq_masks)),
            "f_start": rng.random((n, self.freq_masks)),
        }

    def apply(self, x, *, t_width, t_start, f_width, f_start, rng=None, **_):
        n, frames, bins = x.shape
        t = np.arange(frames)[None, :, None]
        f = np.arange(bins)[None, :, None]
        t0 = np.floor(t_start * np.maximum(frames - t_width, 0)).astype(int)[:, None, :]
        f0 = np.floor(f_start * np.maximum(bins - f_width, 0)).astype(int)[:, None, :]
        tmask = ((t >= t0) & (t < t0 + t_width[:, None, :])).any(axis=2)   # (n, frames)
        fmask = ((f >= f0) & (f < f0 + f_width[:, None, :])).any(axis=2)   # (n, bins)
        mask = tmask[:, :, None] | fmask[:, None, :]
        fill = x.mean(axis=(1, 2), keepdims=True)
        return np.where(mask, fill, x).astype(x.dtype)
