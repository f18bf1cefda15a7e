"""Butterworth low-pass, high-pass and band-pass filters with random cutoffs.

Filters are designed with ``scipy.signal.butter`` as second-order sections and run causally
with ``sosfilt`` over the batch.  In the power domain (:mod:`auricle.augment.power`, the default
training path) a filter multiplies each mel band by the filter's power response averaged over the
band (:func:`band_gains`), exact for a spectrum that is flat within a band.  Random cutoffs are drawn log-uniformly and snapped to a grid of
24 steps per octave (band widths to 1/8 octave), so the designs are cached and examples that
share a design are filtered in one ``sosfilt`` call.  A cutoff at or above Nyquist leaves a
low-pass clip unchanged; band edges are clamped below Nyquist.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from auricle.augment.base import Transform, check_range, log_uniform

STEPS_PER_OCTAVE = 24


@lru_cache(maxsize=4096)
def butter_sos(order: int, btype: str, low_hz: float, high_hz: float, sr: float) -> np.ndarray | None:
    """SOS of a Butterworth ``lowpass`` (``high_hz``), ``highpass`` (``low_hz``) or ``bandpass``
    filter at ``sr``; ``None`` when the filter would pass everything."""
    from scipy.signal import butter

    nyq = sr / 2.0
    lo = max(float(low_hz), 1e-3 * nyq)
    hi = float(high_hz)
    if btype == "lowpass":
        if hi >= 0.999 * nyq:
            return None
        return butter(order, max(hi, 1e-3 * nyq) / nyq, "lowpass", output="sos")
    if btype == "highpass":
        if low_hz <= 0:
            return None
        return butter(order, min(lo, 0.99 * nyq) / nyq, "highpass", output="sos")
    hi = min(hi, 0.99 * nyq)
    lo = min(lo, 0.99 * hi)
    if hi >= 0.99 * nyq and float(high_hz) >= 0.999 * nyq:
        return butter(order, lo / nyq, "highpass", output="sos")
    return butter(order, [lo / nyq, hi / nyq], "bandpass", output="sos")


def filter_rows(x: np.ndarray, btype: str, low_hz, high_hz, sr: float, order: int) -> np.ndarray:
    """Filter each row of ``x`` with its own band edges; rows sharing a design run together."""
    from scipy.signal import sosfilt

    n = x.shape[0]
    edges = np.stack([np.broadcast_to(np.asarray(low_hz, dtype=np.float64), (n,)),
                      np.broadcast_to(np.asarray(high_hz, dtype=np.float64), (n,))], axis=1)
    out = np.empty_like(x)
    uniq, inv = np.unique(edges, axis=0, return_inverse=True)
    for k, (lo, hi) in enumerate(uniq):
        rows = np.flatnonzero(inv.reshape(-1) == k)
        sos = butter_sos(int(order), btype, float(lo), float(hi), float(sr))
        out[rows] = x[rows] if sos is None else sosfilt(sos, x[rows], axis=1).astype(x.dtype)
    return out


@lru_cache(maxsize=8)
def _bin_weights(fcfg) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray, np.ndarray]:
    """(mel matrix, its row areas, per-bin bandwidth weights, FFT frequencies) of ``fcfg``."""
    from auricle.features import mel_filterbank

    freqs = np.fft.rfftfreq(int(fcfg.n_fft), 1.0 / float(fcfg.sr))
    if fcfg.kind in ("log_mel", "mfcc"):
        M = np.asarray(mel_filterbank(sr=fcfg.sr, n_fft=fcfg.n_fft, n_mels=fcfg.n_mels, fmin=fcfg.fmin,
                                      fmax=fcfg.fmax), dtype=np.float64)
        # triangle height 1 after this: a partition of unity, so sum(weights * S) ~ total power
        return M, M.sum(axis=1), 1.0 / np.maximum(M.max(axis=1), 1e-12), freqs
    return None, None, np.ones(len(freqs)), freqs


@lru_cache(maxsize=4096)
def _design_gains(fcfg, btype: str, low_hz: float, high_hz: float, order: int) -> np.ndarray | None:
    # cached per design: cutoffs are snapped to a 1/24-octave grid, so a run meets ~100 designs
    from scipy.signal import sosfreqz

    sos = butter_sos(order, btype, low_hz, high_hz, float(fcfg.sr))
    if sos is None:
        return None
    M, area, _, freqs = _bin_weights(fcfg)
    h2 = np.abs(sosfreqz(sos, worN=freqs, fs=float(fcfg.sr))[1]) ** 2
    g = h2 if M is None else (M @ h2) / np.maximum(area, 1e-12)
    g = g.astype(np.float32)
    g.setflags(write=False)
    return g


def band_gains(fcfg, btype: str, low_hz, high_hz, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-example power gains of the filters ``(low_hz[i], high_hz[i])`` on ``fcfg``'s bins.

    Returns ``(gains, weights)``: ``gains`` ``(n, bins)`` float32 is ``|H(f)|**2`` averaged over
    each mel band's triangle (each FFT bin for spectrogram features); ``weights`` ``(bins,)`` is
    the bandwidth each bin stands for, so ``sum(weights * S)`` tracks the clip's power (used to
    keep the noise transform's SNR reference right after filtering).

    Examples
    --------
    >>> from auricle.features import preset
    >>> g, w = band_gains(preset("kws"), "highpass", [500.0], [float("inf")], 4)
    >>> g.shape, bool(g[0, 0] < 1e-3), bool(abs(g[0, -1] - 1) < 1e-3)   # lowest band cut, top passed
    ((1, 40), True, True)
    """
    lo, hi = np.broadcast_arrays(np.atleast_1d(np.asarray(low_hz, dtype=np.float64)),
                                 np.atleast_1d(np.asarray(high_hz, dtype=np.float64)))
    weights = _bin_weights(fcfg)[2]
    out = np.ones((len(lo), len(weights)), np.float32)
    for i, (a, b) in enumerate(zip(lo, hi)):
        g = _design_gains(fcfg, btype, float(a), float(b), int(order))
        if g is not None:
            out[i] = g
    return out, weights


def filter_power(S: np.ndarray, rms: np.ndarray, gains: np.ndarray, weights: np.ndarray):
    """``S * gains`` per example, and the active RMS scaled by the power kept."""
    before = np.einsum("ntb,b->n", S.astype(np.float64), weights)
    S = S * gains[:, None, :]
    after = np.einsum("ntb,b->n", S.astype(np.float64), weights)
    ratio = np.where(before > 0, after / np.maximum(before, 1e-300), 1.0)
    return S.astype(np.float32), rms * np.sqrt(ratio)


def _check_order(owner: str, order) -> int:
    if not (isinstance(order, (int, np.integer)) and 1 <= order <= 10):
        from auricle.errors import ConfigError
        raise ConfigError(f"{owner}: order must be an integer from 1 to 10, got {order!r}",
                          fix="order n rolls off at 6n dB per octave; 4 is a good default")
    return int(order)


class _CutoffFilter(Transform):
    """Shared body of the one-cutoff Butterworth filters: a cutoff log-uniform in
    ``[min_cutoff_hz, max_cutoff_hz]`` on the 1/24-octave grid; subclasses give the band edges."""

    btype = ""

    def __init__(self, min_cutoff_hz: float, max_cutoff_hz: float, order: int = 4, p: float = 0.5):
        super().__init__(p)
        self.min_cutoff_hz, self.max_cutoff_hz = check_range(self.name, "min_cutoff_hz", min_cutoff_hz,
                                                             "max_cutoff_hz", max_cutoff_hz, minimum=0.0, strict_min=True)
        self.order = _check_order(self.name, order)

    def randomize(self, n, rng):
        return {"cutoff_hz": log_uniform(self.min_cutoff_hz, self.max_cutoff_hz, n, rng, STEPS_PER_OCTAVE)}

    def _edges(self, cutoff_hz):
        raise NotImplementedError

    def apply(self, x, *, cutoff_hz, sr=16000, rng=None, **_):
        return filter_rows(x, self.btype, *self._edges(cutoff_hz), sr, self.order)

    def power_ok(self) -> bool:
        return True

    def apply_power(self, S, rms, *, fcfg, cutoff_hz, rng=None, **_):
        lo, hi = self._edges(np.asarray(cutoff_hz, dtype=np.float64))
        gains, weights = band_gains(fcfg, self.btype, lo, hi, self.order)
        return filter_power(S, rms, gains, weights)


class LowPass(_CutoffFilter):
    """Butterworth low-pass (``order`` n: 6n dB/octave) with a cutoff log-uniform in
    ``[min_cutoff_hz, max_cutoff_hz]``: muffled / band-limited recordings."""

    name = "low_pass"
    btype = "lowpass"

    def __init__(self, min_cutoff_hz: float = 1000.0, max_cutoff_hz: float = 7000.0, order: int = 4, p: float = 0.5):
        super().__init__(min_cutoff_hz, max_cutoff_hz, order, p)

    def _edges(self, cutoff_hz):
        return 0.0, cutoff_hz


class HighPass(_CutoffFilter):
    """Butterworth high-pass with a cutoff log-uniform in ``[min_cutoff_hz, max_cutoff_hz]``:
    thin / small-speaker recordings, or removal of rumble."""

    name = "high_pass"
    btype = "highpass"

    def __init__(self, min_cutoff_hz: float = 20.0, max_cutoff_hz: float = 600.0, order: int = 4, p: float = 0.5):
        super().__init__(min_cutoff_hz, max_cutoff_hz, order, p)

    def _edges(self, cutoff_hz):
        return cutoff_hz, np.inf


class BandPass(Transform):
    """Butterworth band-pass around a centre log-uniform in ``[min_center_hz, max_center_hz]``,
    ``bandwidth_octaves`` wide (uniform in ``[min_bandwidth_octaves, max_bandwidth_octaves]``):
    edges ``center * 2 ** (-bw / 2)`` and ``center * 2 ** (bw / 2)`` (telephone-like at 300-3400 Hz)."""

    name = "band_pass"

    def __init__(self, min_center_hz: float = 300.0, max_center_hz: float = 3000.0,
                 min_bandwidth_octaves: float = 1.0, max_bandwidth_octaves: float = 4.0, order: int = 4,
                 p: float = 0.5):
        super().__init__(p)
        self.min_center_hz, self.max_center_hz = check_range(self.name, "min_center_hz", min_center_hz,
                                                             "max_center_hz", max_center_hz, minimum=0.0, strict_min=True)
        self.min_bandwidth_octaves, self.max_bandwidth_octaves = check_range(
            self.name, "min_bandwidth_octaves", min_bandwidth_octaves, "max_bandwidth_octaves", max_bandwidth_octaves,
            minimum=0.0, strict_min=True, maximum=12.0)
        self.order = _check_order(self.name, order)

    def randomize(self, n, rng):
        bw = rng.uniform(self.min_bandwidth_octaves, self.max_bandwidth_octaves, n)
        bw = np.clip(np.round(bw * 8) / 8, self.min_bandwidth_octaves, self.max_bandwidth_octaves)
        return {"center_hz": log_uniform(self.min_center_hz, self.max_center_hz, n, rng, STEPS_PER_OCTAVE),
                "bandwidth_octaves": bw}

    def apply(self, x, *, center_hz, bandwidth_octaves, sr=16000, rng=None, **_):
        c = np.asarray(center_hz, dtype=np.float64)
        half = 2.0 ** (np.asarray(bandwidth_octaves, dtype=np.float64) / 2.0)
        return filter_rows(x, "bandpass", c / half, c * half, sr, self.order)

    def power_ok(self) -> bool:
        return True

    def apply_power(self, S, rms, *, fcfg, center_hz, bandwidth_octaves, rng=None, **_):
        c = np.asarray(center_hz, dtype=np.float64)
        half = 2.0 ** (np.asarray(bandwidth_octaves, dtype=np.float64) / 2.0)
        gains, weights = band_gains(fcfg, "bandpass", c / half, c * half, self.order)
        return filter_power(S, rms, gains, weights)
