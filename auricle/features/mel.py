"""Mel scale, mel filterbank and plans, and the librosa-equal :func:`melspectrogram` and :func:`log_mel`."""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from auricle.errors import ConfigError
from auricle.features._checks import _as_batch, _check_db, _check_power, _number, _positive_int
from auricle.features.kernel import _to_librosa_layout, compute
from auricle.features.stft import stft_plan

#: Mel bands per group in the banded mel projection.
_MEL_GROUP = 8


def _hz_to_mel(f: np.ndarray, htk: bool) -> np.ndarray:
    f = np.asanyarray(f, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    log_t = f >= min_log_hz
    mels[log_t] = min_log_mel + np.log(f[log_t] / min_log_hz) / logstep
    return mels


def _mel_to_hz(m: np.ndarray, htk: bool) -> np.ndarray:
    m = np.asanyarray(m, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    log_t = m >= min_log_mel
    freqs[log_t] = min_log_hz * np.exp(logstep * (m[log_t] - min_log_mel))
    return freqs


def mel_frequencies(n_mels: int = 128, *, fmin: float = 0.0, fmax: float = 11025.0, htk: bool = False) -> np.ndarray:
    """``n_mels`` frequencies (Hz) uniformly spaced on the mel scale, as ``librosa.mel_frequencies``.

    Examples
    --------
    >>> mel_frequencies(3, fmin=0.0, fmax=1000.0).round(1)
    array([   0.,  500., 1000.])
    """
    lo, hi = _hz_to_mel(np.array([fmin, fmax]), htk)
    return _mel_to_hz(np.linspace(lo, hi, n_mels), htk)


def mel_filterbank(*, sr: float, n_fft: int, n_mels: int = 128, fmin: float = 0.0,
                   fmax: float | None = None, htk: bool = False, norm: Any = "slaney") -> np.ndarray:
    """Mel filterbank ``(n_mels, 1 + n_fft // 2)`` float32, equal to ``librosa.filters.mel``.

    Triangular filters between consecutive mel-spaced edge frequencies (Slaney's mel scale, or
    HTK's with ``htk=True``).  ``norm="slaney"`` scales each triangle to unit area
    (approximately constant energy per band); a number ``p`` divides each filter by its
    ``p``-norm; ``None`` leaves the peaks at 1.  The result is cached (``functools.lru_cache``)
    and read-only.

    Parameters
    ----------
    sr : float
        Sample rate (Hz).
    n_fft : int
        FFT size.
    n_mels : int
        Number of mel bands.
    fmin, fmax : float
        Lowest / highest frequency (Hz); ``fmax=None`` means ``sr / 2``.
    htk : bool
        Use the HTK mel formula instead of Slaney's.
    norm : {"slaney", None} or float
        Filter normalisation.

    Returns
    -------
    np.ndarray
        ``(n_mels, 1 + n_fft // 2)`` float32, read-only.

    Raises
    ------
    ConfigError
        Non-positive sizes, ``fmin >= fmax``, ``fmax > sr / 2`` or an unknown ``norm``.

    Examples
    --------
    >>> W = mel_filterbank(sr=16000, n_fft=512, n_mels=40, fmin=20.0, fmax=8000.0)
    >>> W.shape, W.dtype
    ((40, 257), dtype('float32'))
    >>> bool((W >= 0).all())
    True
    """
    sr = _number("sr", sr)
    if sr <= 0:
        raise ConfigError(f"sr must be > 0, got {sr!r}", fix="pass the sample rate in Hz")
    n_fft = _positive_int("n_fft", n_fft)
    n_mels = _positive_int("n_mels", n_mels)
    fmin = _number("fmin", fmin)
    fmax = sr / 2 if fmax is None else _number("fmax", fmax)
    if fmin < 0:
        raise ConfigError(f"fmin must be >= 0, got {fmin}", fix="use fmin=0.0 or a positive frequency")
    if fmax > sr / 2:
        raise ConfigError(f"fmax={fmax:g} Hz is above the Nyquist frequency sr/2={sr / 2:g} Hz",
                          fix="use fmax <= sr/2, or fmax=None for sr/2")
    if fmin >= fmax:
        raise ConfigError(f"fmin={fmin:g} must be below fmax={fmax:g}", fix="pick fmin < fmax")
    if isinstance(norm, str):
        if norm != "slaney":
            raise ConfigError(f"unsupported mel norm {norm!r}", fix="use 'slaney', None, or a number (p-norm)")
    elif norm is not None:
        norm = _number("norm", norm) if not (isinstance(norm, float) and math.isinf(norm)) else float(norm)
    return _mel_filterbank(float(sr), n_fft, n_mels, float(fmin), float(fmax), bool(htk), norm)


@functools.lru_cache(maxsize=64)
def _mel_filterbank(sr: float, n_fft: int, n_mels: int, fmin: float, fmax: float, htk: bool,
                    norm: Any) -> np.ndarray:
    # A line-by-line port of librosa.filters.mel (same operation order, same float32 storage),
    # so the weights are bit-identical.
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    if norm == "slaney":
        enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
        weights *= enorm[:, np.newaxis]
    elif norm is not None:
        mag = np.abs(weights).astype(float)
        if norm == np.inf:
            length = np.max(mag, axis=-1, keepdims=True)
        elif norm == -np.inf:
            length = np.min(mag, axis=-1, keepdims=True)
        elif norm == 0:
            length = np.sum(mag > 0, axis=-1, keepdims=True, dtype=mag.dtype)
        elif norm > 0:
            length = np.sum(mag ** norm, axis=-1, keepdims=True) ** (1.0 / norm)
        else:
            raise ConfigError(f"unsupported mel norm {norm!r}", fix="use 'slaney', None, or a positive number")
        length[length < np.finfo(np.float32).tiny] = 1.0
        weights = (weights / length).astype(np.float32)
    if not np.all((mel_f[:-2] == 0) | (weights.max(axis=1) > 0)):
        warnings.warn(f"Empty filters detected in mel frequency basis (sr={sr:g}, n_fft={n_fft}, "
                      f"n_mels={n_mels}): some mel bands cover no FFT bin and will always be 0. "
                      "Increase n_fft or reduce n_mels.", UserWarning, stacklevel=3)
    weights.setflags(write=False)
    return weights


mel_filterbank.cache_info = _mel_filterbank.cache_info  # type: ignore[attr-defined]
mel_filterbank.cache_clear = _mel_filterbank.cache_clear  # type: ignore[attr-defined]


@dataclass(frozen=True, eq=False)
class MelPlan:
    """The mel projection split into groups of bands, each a dense product over its bin range."""

    n_mels: int
    groups: tuple  # ((band_lo, band_hi, bin_lo, bin_hi, W[bin_lo:bin_hi, band_lo:band_hi]), ...)
    wsum: np.ndarray  # (n_mels,) float64, sum of each filter's weights (for the precision check)


@functools.lru_cache(maxsize=64)
def _mel_plan(sr: float, n_fft: int, n_mels: int, fmin: float, fmax: float | None, htk: bool,
              norm: Any) -> MelPlan:
    WT = np.ascontiguousarray(mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                                             htk=htk, norm=norm).T)  # (n_freq, n_mels)
    n_freq = WT.shape[0]
    groups = []
    cost = 0
    for a in range(0, n_mels, _MEL_GROUP):
        c = min(a + _MEL_GROUP, n_mels)
        nz = np.nonzero(WT[:, a:c].any(axis=1))[0]
        lo, hi = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 0)
        cost += (hi - lo) * (c - a)
        groups.append((a, c, lo, hi, np.ascontiguousarray(WT[lo:hi, a:c])))
    if cost > 0.5 * n_freq * n_mels:  # not banded enough to pay for the extra calls
        groups = [(0, n_mels, 0, n_freq, WT)]
    return MelPlan(n_mels, tuple(groups), WT.astype(np.float64).sum(axis=0))


def mel_plan(sr, n_fft, n_mels, fmin, fmax, htk, norm) -> MelPlan:
    """Validated, cached banded mel projection for :func:`auricle.features.kernel.apply_mel`.

    Parameters
    ----------
    sr, n_fft, n_mels, fmin, fmax, htk, norm
        As in :func:`mel_filterbank`.

    Returns
    -------
    MelPlan

    Raises
    ------
    ConfigError
        As :func:`mel_filterbank`.

    Examples
    --------
    >>> mel_plan(16000, 512, 40, 20.0, 8000.0, False, "slaney").n_mels
    40
    """
    mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)  # validates
    return _mel_plan(float(sr), int(n_fft), int(n_mels), float(fmin), None if fmax is None else float(fmax),
                     bool(htk), norm)


def melspectrogram(y: np.ndarray, *, sr: float = 22050, n_fft: int = 2048, hop_length: int | None = None,
                   win_length: int | None = None, window: Any = "hann", center: bool = True,
                   pad_mode: str = "constant", power: float = 2.0, n_mels: int = 128, fmin: float = 0.0,
                   fmax: float | None = None, htk: bool = False, norm: Any = "slaney",
                   workers: int = 1) -> np.ndarray:
    """Mel-scaled power spectrogram, equal to ``librosa.feature.melspectrogram``.

    Parameters
    ----------
    y : np.ndarray
        ``(samples,)`` or ``(..., samples)`` floating-point audio.
    sr : float
        Sample rate of ``y`` (Hz).
    n_fft, hop_length, win_length, window, center, pad_mode, power, workers
        As in :func:`spectrogram`.
    n_mels, fmin, fmax, htk, norm
        As in :func:`mel_filterbank`.

    Returns
    -------
    np.ndarray
        ``(..., n_mels, frames)`` float32.

    Raises
    ------
    ConfigError
        Invalid parameters (including ``fmax > sr / 2``) or audio.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    >>> melspectrogram(y, sr=16000, n_fft=512, hop_length=160, n_mels=40).shape
    (40, 101)
    """
    y2, lead = _as_batch(y)
    st = stft_plan(n_fft, hop_length, win_length, window, center, pad_mode)
    plan = mel_plan(sr, st.n_fft, n_mels, fmin, fmax, htk, norm)
    return _to_librosa_layout(compute(y2, st, power=_check_power(power), mel=plan, workers=workers), lead)


def log_mel(y: np.ndarray, *, sr: float, n_fft: int = 2048, hop_length: int | None = None,
            win_length: int | None = None, window: Any = "hann", center: bool = True,
            pad_mode: str = "constant", power: float = 2.0, n_mels: int = 128, fmin: float = 0.0,
            fmax: float | None = None, htk: bool = False, norm: Any = "slaney", ref: float | Callable = 1.0,
            amin: float = 1e-10, top_db: float | None = 80.0, workers: int = 1) -> np.ndarray:
    """Log-mel spectrogram in dB: ``power_to_db(melspectrogram(...))`` per clip.

    Equal to ``librosa.power_to_db(librosa.feature.melspectrogram(y=clip, ...), ref=ref,
    amin=amin, top_db=top_db)`` for every clip of ``y`` (the ``top_db`` clamp is per clip).

    Parameters
    ----------
    y : np.ndarray
        ``(samples,)`` or ``(..., samples)`` floating-point audio.
    sr : float
        Sample rate of ``y`` (Hz).
    n_fft, hop_length, win_length, window, center, pad_mode, power, n_mels, fmin, fmax, htk, norm, workers
        As in :func:`melspectrogram`.
    ref, amin, top_db
        As in :func:`power_to_db`.

    Returns
    -------
    np.ndarray
        ``(..., n_mels, frames)`` float32 dB.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal((2, 16000)).astype(np.float32)
    >>> S = log_mel(y, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=40)
    >>> S.shape, bool((S.max(axis=(1, 2)) - S.min(axis=(1, 2)) <= 80.0).all())
    ((2, 40, 101), True)
    """
    y2, lead = _as_batch(y)
    st = stft_plan(n_fft, hop_length, win_length, window, center, pad_mode)
    plan = mel_plan(sr, st.n_fft, n_mels, fmin, fmax, htk, norm)
    db = (ref,) + _check_db(amin, top_db)
    return _to_librosa_layout(compute(y2, st, power=_check_power(power), mel=plan, db=db, workers=workers),
                              lead)
