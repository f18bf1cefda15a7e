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


def bin_frequencies(fcfg, bins: int) -> np.ndarray:
    """Centre frequency (Hz) of each feature bin: the mel filters' centres for log-mel, the FFT
    bins for spectrograms; ``arange(bins)`` (linear spacing) when ``fcfg`` is None."""
    from auricle.errors import ConfigError
    from auricle.features import mel_frequencies

    if fcfg is None:
        return np.arange(bins, dtype=np.float64)
    if fcfg.kind == "log_mel":
        fmax = fcfg.fmax if fcfg.fmax is not None else fcfg.sr / 2.0
        return mel_frequencies(fcfg.n_mels + 2, fmin=fcfg.fmin, fmax=fmax, htk=getattr(fcfg, "htk", False))[1:-1]
    if fcfg.kind == "spectrogram":
        return np.arange(bins, dtype=np.float64) * fcfg.sr / fcfg.n_fft
    raise ConfigError(f"freq_warp needs a frequency axis (log_mel or spectrogram features), not {fcfg.kind!r}",
                      fix="drop it with --set augment.freq_warp=false (or remove it from augment:), "
                          "or use log-mel features")


class FreqWarp(Transform):
    """Vocal-tract length perturbation (VTLP, Jaitly & Hinton 2013) on the feature frequency axis.

    Each example's spectrum is stretched by a factor ``alpha`` drawn from ``[min_alpha,
    max_alpha]``: the value at frequency ``f`` becomes the one at ``f / alpha`` (linear
    interpolation between bins, using the bins' true centre frequencies, so on a mel axis the
    warp is a frequency scaling, not a shift of bins; bins that would read beyond the lowest or
    highest bin repeat the edge).  ``alpha > 1`` moves formants up (a shorter vocal tract).
    It simulates new speakers at the cost of one gather per batch, where ``pitch_shift`` on
    the waveform costs ~20x the feature extraction.
    """

    name = "freq_warp"
    domain = "features"

    def __init__(self, min_alpha: float = 0.9, max_alpha: float = 1.1, p: float = 0.5):
        from auricle.augment.base import check_range

        super().__init__(p)
        self.min_alpha, self.max_alpha = check_range(self.name, "min_alpha", min_alpha, "max_alpha", max_alpha,
                                                     minimum=0.0, strict_min=True)

    def randomize(self, n, rng):
        return {"alpha": rng.uniform(self.min_alpha, self.max_alpha, n)}

    def check(self, fcfg) -> None:
        bin_frequencies(fcfg, 0)  # MFCC / waveform features have no frequency axis to warp

    def apply(self, x, *, alpha, fcfg=None, rng=None, **_):
        """``fcfg`` (the run's :class:`~auricle.features.FeatureConfig`) gives the bins' frequencies."""
        n, _, bins = x.shape
        centres = bin_frequencies(fcfg, bins)
        if centres.shape[0] != bins:
            from auricle.errors import ConfigError
            raise ConfigError(f"freq_warp: features have {bins} bins but the feature config describes "
                              f"{centres.shape[0]}")
        alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (n,))
        src = np.interp(centres[None, :] / alpha[:, None], centres, np.arange(bins, dtype=np.float64))  # (n, bins)
        i0 = np.floor(src).astype(np.int64)
        i1 = np.minimum(i0 + 1, bins - 1)
        a = (src - i0).astype(x.dtype)[:, None, :]
        x0 = np.take_along_axis(x, np.broadcast_to(i0[:, None, :], x.shape), axis=2)
        x1 = np.take_along_axis(x, np.broadcast_to(i1[:, None, :], x.shape), axis=2)
        return (x0 + a * (x1 - x0)).astype(x.dtype)
