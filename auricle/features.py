"""Audio features: spectrogram, mel spectrogram, log-mel (dB), MFCC - batched and fast.

Every function here computes the same numbers as its librosa 0.11 counterpart
(``np.abs(librosa.stft(...))**power``, ``librosa.feature.melspectrogram``,
``librosa.power_to_db``, ``librosa.feature.mfcc``) to within 1e-3 dB / 1e-3 MFCC units, but
with numpy + scipy only and vectorised over a whole batch of clips:

* frames are strided views of the (padded) signal, never copied one by one;
* the window is applied in float32 straight into an ``n_fft``-wide buffer whose tail is
  zero (the nonzero part of librosa's centred window sits at the start instead - a circular
  shift, which leaves the magnitude spectrum unchanged);
* ``scipy.fft.rfft`` runs in float32 on the whole chunk (``workers=1`` by default);
* the mel projection is a float32 matmul, split into mel-band groups that only touch the FFT
  bins they cover (the filterbank is banded, so most of the dense product is zeros);
* the ``top_db`` clamp is applied per clip in the power domain, then one in-place ``log``
  (numpy's float32 ``log`` is SIMD, ``log10`` is not); the MFCC is one matmul with a
  precomputed DCT matrix (float64, so large c0 values keep their precision).

Batches are processed in chunks of a few clips (:data:`CHUNK_BYTES` of frames) so the frame
buffer stays in cache; on the 2-core EPYC this was written on, that beat chunks of 32-256 clips
by 1.5-2x.

Precision
---------
float32 FFT round-off is white noise about 140 dB below a frame's energy, so a mel band far
below its frame's average level (a pure tone's distant bands, the top octave of speech) can be
off by more than 1e-3 dB.  Each chunk is checked: frames holding a value that matters (above
the ``top_db`` floor) and lies more than :data:`REFINE_DB` below the frame's average spectral
level are recomputed in float64; when most frames of a chunk needed that, the next chunk is
computed in float64 outright.  Noise-like audio never needs it, speech needs it for ~10-20 % of
frames, pure tones for nearly all (then throughput is about 60 % of the float32 path).
:data:`STATS` counts both fallbacks.

Layouts
-------
The librosa-compatible functions (:func:`spectrogram`, :func:`melspectrogram`,
:func:`power_to_db`, :func:`log_mel`, :func:`mfcc`) take ``y`` as ``(samples,)`` or
``(..., samples)`` and return librosa's ``(..., bins, frames)`` layout.  :func:`extract`, which
feeds models, returns TIME-MAJOR ``(N, frames, bins)`` float32.

Batches and ``top_db``
----------------------
librosa clamps ``top_db`` against the maximum of the *whole* array it is given, so a quiet clip
batched with a loud one would be flattened to the loud clip's floor.  Here the clamp is per clip
(the maximum over the last two axes), so a batched call equals calling librosa per clip.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import as_strided

from auricle.errors import ConfigError

__all__ = [
    "FeatureConfig",
    "CHUNK_BYTES",
    "KINDS",
    "NORMALIZATIONS",
    "PRESETS",
    "cmvn_",
    "extract",
    "log_mel",
    "mel_filterbank",
    "mel_frequencies",
    "melspectrogram",
    "mfcc",
    "power_to_db",
    "preset",
    "spectrogram",
]

#: Feature kinds :class:`FeatureConfig` knows.
KINDS = ("waveform", "spectrogram", "log_mel", "mfcc")

#: ``FeatureConfig.normalize`` values.
NORMALIZATIONS = ("none", "per_clip")

#: ``pad_mode`` values accepted with ``center=True`` (the :func:`numpy.pad` modes librosa allows).
PAD_MODES = ("constant", "edge", "reflect", "symmetric", "linear_ramp")

#: Target size in bytes of one chunk's frame buffer (chunk clips x frames x n_fft float32).
#: About L2-sized: measured fastest on the development machine (see bench/bench_features.py).
CHUNK_BYTES = 1 << 21

#: Mel bands per group in the banded mel projection.
_MEL_GROUP = 8

#: Added to the per-bin standard deviation by ``normalize="per_clip"``.
CMVN_EPS = 1e-5

_MEL_KWARGS = ("n_fft", "hop_length", "win_length", "window", "center", "pad_mode", "power",
               "n_mels", "fmin", "fmax", "htk")


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _positive_int(name: str, v: Any) -> int:
    if not _is_int(v) or v < 1:
        raise ConfigError(f"{name} must be a positive integer, got {v!r}", fix=f"pass an int >= 1 for {name}")
    return int(v)


def _number(name: str, v: Any) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(v)):
        raise ConfigError(f"{name} must be a finite number, got {v!r}", fix=f"pass a number for {name}")
    return float(v)


def _framing(n_fft: Any, hop_length: Any, win_length: Any) -> tuple[int, int, int]:
    """Resolve (n_fft, hop, win) with librosa's defaults; ConfigError on bad values."""
    n_fft = _positive_int("n_fft", n_fft)
    win = n_fft if win_length is None else _positive_int("win_length", win_length)
    if win > n_fft:
        raise ConfigError(f"n_fft={n_fft} is smaller than win_length={win}",
                          fix="use n_fft >= win_length (the window is zero-padded up to n_fft)")
    if hop_length is None:
        hop = win // 4
        if hop < 1:
            raise ConfigError(f"default hop_length = win_length // 4 is 0 for win_length={win}",
                              fix="pass hop_length explicitly")
    else:
        if not _is_int(hop_length) or hop_length <= 0:
            raise ConfigError(f"hop_length must be a positive integer, got {hop_length!r}",
                              fix="pass hop_length >= 1 (samples between frames)")
        hop = int(hop_length)
    return n_fft, hop, win


def _check_power(power: Any) -> float:
    p = _number("power", power)
    if p <= 0:
        raise ConfigError(f"power must be > 0, got {power!r}", fix="use 1.0 (magnitude) or 2.0 (power)")
    return p


def _check_db(amin: Any, top_db: Any) -> tuple[float, float | None]:
    amin = _number("amin", amin)
    if amin <= 0:
        raise ConfigError(f"amin must be > 0, got {amin!r}", fix="use a small positive floor such as 1e-10")
    if top_db is not None:
        top_db = _number("top_db", top_db)
        if top_db < 0:
            raise ConfigError(f"top_db must be >= 0 or None, got {top_db!r}", fix="use e.g. 80.0, or None for no clamp")
    return amin, top_db


def _as_batch(y: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """``(..., samples)`` -> C-contiguous float32 ``(clips, samples)`` plus the leading shape."""
    y = np.asarray(y)
    if y.dtype.kind != "f":
        fix = ("divide integer PCM by its full scale (e.g. int16 / 32768) first" if y.dtype.kind in "iu"
               else "pass real floating-point audio")
        raise ConfigError(f"audio must be a floating-point array, got dtype {y.dtype}", fix=fix)
    if y.ndim == 0:
        raise ConfigError("audio must have at least one dimension (samples), got a scalar",
                          fix="pass a (samples,) or (clips, samples) array")
    if y.shape[-1] == 0:
        raise ConfigError("audio has 0 samples", fix="pass at least one sample per clip")
    lead = y.shape[:-1]
    return np.ascontiguousarray(y.reshape(-1, y.shape[-1]), dtype=np.float32), lead


def _check_finite(x: np.ndarray, start: int) -> None:
    # The float32 sum is one fast pass; only if it is not finite do we look closer
    # (a finite sum can't hide NaN/inf; an inf sum may be overflow, so confirm).
    if not np.isfinite(x.sum(dtype=np.float32)):
        bad = ~np.isfinite(x)
        if bad.any():
            clip = start + int(np.nonzero(bad.any(axis=-1))[0][0])
            raise ConfigError(f"audio is not finite everywhere (clip {clip} holds NaN or inf samples)",
                              fix="remove or repair the clip; features of NaN audio are meaningless")


# --------------------------------------------------------------------------------------------
# windows, mel filterbank, DCT
# --------------------------------------------------------------------------------------------

#: Windows computed here with scipy's own formula (``general_cosine``), so ``import
#: scipy.signal`` (0.6 s) is only paid for other windows.
_COSINE_WINDOWS = {"hann": (0.5, 1.0 - 0.5), "hamming": (0.54, 1.0 - 0.54)}


@functools.lru_cache(maxsize=64)
def _cached_window(window: Any, win_length: int) -> np.ndarray:
    if isinstance(window, str) and window in _COSINE_WINDOWS:
        # scipy.signal.get_window(window, M, fftbins=True): a symmetric window of M + 1, truncated
        if win_length <= 1:
            w = np.ones(win_length)
        else:
            fac = np.linspace(-np.pi, np.pi, win_length + 1)
            w = np.zeros(win_length + 1)
            for k, a in enumerate(_COSINE_WINDOWS[window]):
                w += a * np.cos(k * fac)
            w = w[:-1].copy()
        w.setflags(write=False)
        return w
    import scipy.signal

    try:
        w = scipy.signal.get_window(window, win_length, fftbins=True)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"unknown window {window!r} ({exc})",
                          fix="use a scipy.signal.get_window name such as 'hann' or 'hamming'") from None
    w = np.asarray(w, dtype=np.float64)
    w.setflags(write=False)
    return w


def _window(window: Any, win_length: int) -> np.ndarray:
    """float64 window of ``win_length`` samples, like ``librosa.filters.get_window(..., fftbins=True)``."""
    if callable(window):
        w = np.asarray(window(win_length), dtype=np.float64)
    elif isinstance(window, (str, tuple, int, float)) and not isinstance(window, bool):
        return _cached_window(window, win_length)
    else:
        w = np.asarray(window, dtype=np.float64)
    if w.shape != (win_length,):
        raise ConfigError(f"window has shape {w.shape}, expected ({win_length},) = (win_length,)",
                          fix="pass a window name or an array of win_length samples")
    if not np.isfinite(w).all():
        raise ConfigError("window holds NaN or inf values", fix="pass a finite window")
    return w


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
class _MelPlan:
    """The mel projection split into groups of bands, each a dense product over its bin range."""

    n_mels: int
    groups: tuple  # ((band_lo, band_hi, bin_lo, bin_hi, W[bin_lo:bin_hi, band_lo:band_hi]), ...)
    wsum: np.ndarray  # (n_mels,) float64, sum of each filter's weights (for the precision check)


@functools.lru_cache(maxsize=64)
def _mel_plan(sr: float, n_fft: int, n_mels: int, fmin: float, fmax: float | None, htk: bool,
              norm: Any) -> _MelPlan:
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
    return _MelPlan(n_mels, tuple(groups), WT.astype(np.float64).sum(axis=0))


def _apply_mel(P: np.ndarray, plan: _MelPlan, out: np.ndarray) -> None:
    """``out[r, m] = sum_f P[r, f] W[f, m]`` for 2-D ``P`` (rows, n_freq), ``out`` (rows, n_mels)."""
    for a, c, lo, hi, W in plan.groups:
        if hi > lo:
            np.matmul(P[:, lo:hi], W, out=out[:, a:c])
        else:
            out[:, a:c] = 0.0


@functools.lru_cache(maxsize=64)
def _dct_matrix(n_mels: int, n_mfcc: int, dct_type: int, norm: str | None, lifter: float) -> np.ndarray:
    """``(n_mels, n_mfcc)`` float64 ``C`` such that ``dB_time_major @ C`` is librosa's MFCC."""
    C = scipy.fft.dct(np.eye(n_mels), type=dct_type, norm=norm, axis=0)[:n_mfcc]  # (n_mfcc, n_mels)
    if lifter > 0:
        C = C * (1 + (lifter / 2) * np.sin(np.pi * np.arange(1, 1 + n_mfcc) / lifter))[:, None]
    C = np.ascontiguousarray(C.T, dtype=np.float64)
    C.setflags(write=False)
    return C


# --------------------------------------------------------------------------------------------
# the engine
# --------------------------------------------------------------------------------------------

#: float32 FFT round-off is white noise at about 1e-7 of a frame's RMS spectral level, so a
#: value far below its frame's average level loses relative precision (measured worst cases:
#: ~3e-4 dB at 40 dB below, ~5e-4 dB at 45 dB, ~3e-3 dB at 60 dB).  Frames holding a value that
#: matters (within ``top_db`` - or 80 dB when there is no clamp - of the clip's maximum, with a
#: 10 dB margin) and lying more than ``REFINE_DB`` below the frame's average level (per FFT bin,
#: after undoing the mel weights) are recomputed in float64.
REFINE_DB = 45.0

#: When more than this fraction of a chunk's frames needed float64, the next chunk is computed
#: wholly in float64 (refining costs ~1.7 frames per frame, a float64 chunk ~1.6).
_F64_SWITCH = 0.5

#: Counters of the precision fallbacks since import (frames computed, frames refined in float64,
#: frames of chunks computed wholly in float64); bench/bench_features.py reports them.
STATS = {"frames": 0, "refined": 0, "frames64": 0}


@dataclass(frozen=True, eq=False)
class _Stft:
    n_fft: int
    hop: int
    win: int
    window64: np.ndarray
    window: np.ndarray  # float32
    center: bool
    pad_mode: str

    @property
    def n_freq(self) -> int:
        return 1 + self.n_fft // 2

    def n_frames(self, n: int) -> int:
        length = n + 2 * (self.n_fft // 2) if self.center else n
        if length < self.n_fft:
            raise ConfigError(f"signal of {n} samples is shorter than n_fft={self.n_fft} with center=False",
                              fix="use center=True, a smaller n_fft, or longer clips")
        return 1 + (length - self.n_fft) // self.hop


def _stft_plan(n_fft, hop_length, win_length, window, center, pad_mode) -> _Stft:
    n_fft, hop, win = _framing(n_fft, hop_length, win_length)
    if center and pad_mode not in PAD_MODES:
        raise ConfigError(f"pad_mode={pad_mode!r} is not supported", fix=f"use one of {PAD_MODES}")
    w64 = _window(window, win)
    return _Stft(n_fft, hop, win, w64, w64.astype(np.float32), bool(center), pad_mode)


def _compute(y2: np.ndarray, st: _Stft, *, power: float, mel: _MelPlan | None = None,
             db: tuple | None = None, dct: np.ndarray | None = None, workers: int = 1,
             refine_db: float = REFINE_DB, out: np.ndarray | None = None) -> np.ndarray:
    """Time-major features ``(clips, frames, bins)`` float32 of ``y2`` ``(clips, samples)``.

    power spectrum -> [mel] -> [dB: (ref, amin, top_db), per clip] -> [DCT matrix].

    Chunks of clips are computed in float32; frames where float32 round-off would cost more
    than ~5e-4 dB are recomputed in float64 (:func:`_refine`).  When most frames of a chunk
    needed that (pure tones, very steep spectra), the next chunk is computed in float64 outright.
    """
    B, n = y2.shape
    F = st.n_frames(n)
    nf = st.n_freq
    bins = dct.shape[1] if dct is not None else (mel.n_mels if mel is not None else nf)
    if out is None:
        out = np.empty((B, F, bins), dtype=np.float32)
    if B == 0:
        return out
    chunk = int(max(1, min(B, CHUNK_BYTES // (F * st.n_fft * 4))))
    pad = st.n_fft // 2 if st.center else 0
    lo = (st.n_fft - st.win) // 2  # where librosa's centred window starts inside the frame
    padbuf = np.zeros((chunk, n + 2 * pad), dtype=np.float32) if pad and st.pad_mode == "constant" else None
    frames = np.zeros((chunk, F, st.n_fft), dtype=np.float32)  # columns [win:] stay zero
    frames64 = None
    pbuf = np.empty((chunk, F, nf), dtype=np.float32) if mel is not None else None
    melbuf = np.empty((chunk, F, mel.n_mels), dtype=np.float32) if (mel is not None and dct is not None) else None
    ones = np.ones(nf, dtype=np.float32)
    wsum = mel.wsum if mel is not None else np.ones(nf)
    # a value v (in |X|**power units) is at risk if v < (E2 / (nf * tau)) ** (power / 2) * wsum
    risk_coef = (wsum * (1.0 / (nf * 10.0 ** (refine_db / 10.0))) ** (power / 2.0)).astype(np.float32)
    floor_db = (db[2] if db is not None and db[2] is not None else 80.0) + 10.0
    floor_fac = np.float32(10.0 ** (-floor_db / 10.0))
    amin = np.float32(db[1] if db is not None else 0.0)
    use64 = False
    w = st.window
    for s in range(0, B, chunk):
        b = min(chunk, B - s)
        x = y2[s:s + b]
        if padbuf is not None:
            padbuf[:b, pad:pad + n] = x
            xp = padbuf[:b]
        elif pad:
            xp = np.pad(x, ((0, 0), (pad, pad)), mode=st.pad_mode)
        else:
            xp = x
        view = as_strided(xp[:, lo:], shape=(b, F, st.win), strides=(xp.strides[0], st.hop * 4, 4),
                          writeable=False)
        P = out[s:s + b] if pbuf is None else pbuf[:b]
        if use64:
            if frames64 is None:
                frames64 = np.zeros((chunk, F, st.n_fft), dtype=np.float64)
            fr = frames64[:b]
            np.multiply(view, st.window64, out=fr[:, :, :st.win])
            X = scipy.fft.rfft(fr, axis=-1, workers=workers)  # complex128
            Xf = X.view(np.float64)
            np.square(Xf, out=Xf)
            np.add(Xf[..., 0::2], Xf[..., 1::2], out=P, casting="same_kind")
        else:
            fr = frames[:b]
            np.multiply(view, w, out=fr[:, :, :st.win])
            X = scipy.fft.rfft(fr, axis=-1, workers=workers)  # complex64 (b, F, nf)
            Xf = X.view(np.float32)
            np.square(Xf, out=Xf)
            np.add(Xf[..., 0::2], Xf[..., 1::2], out=P)
        E2 = (P.reshape(b * F, nf) @ ones).reshape(b, F)  # frame energy, sum of |X|**2
        if power == 1.0:
            np.sqrt(P, out=P)
        elif power != 2.0:
            np.power(P, power / 2.0, out=P)
        if mel is None:
            S = P
        else:
            S = out[s:s + b] if melbuf is None else melbuf[:b]
            _apply_mel(P.reshape(b * F, nf), mel, S.reshape(b * F, mel.n_mels))
        clip_max = S.reshape(b, -1).max(axis=1)
        if not np.isfinite(clip_max).all():  # NaN/inf in the input spread to whole frames
            _check_finite(x, s)
            raise ConfigError("audio values are too large: the spectrum overflows float32",
                              fix="scale the audio to about [-1, 1]")
        risky = _risky(S, E2, power, clip_max, risk_coef, floor_fac, amin)
        n_risky = 0 if risky is None else int(np.count_nonzero(risky))
        if n_risky and not use64:
            _refine(S, risky, view, st, power, mel)
            clip_max = S.reshape(b, -1).max(axis=1)
        STATS["frames"] += b * F
        STATS["refined"] += n_risky if not use64 else 0
        STATS["frames64"] += b * F if use64 else 0
        use64 = n_risky > _F64_SWITCH * b * F
        if db is not None:
            _db_inplace(S, *db, clip_max=clip_max)
        if dct is not None:
            out[s:s + b].reshape(b * F, bins)[...] = S.reshape(b * F, -1).astype(np.float64) @ dct
    return out


def _risky(S: np.ndarray, E2: np.ndarray, power: float, clip_max: np.ndarray, risk_coef: np.ndarray,
           floor_fac: np.float32, amin: np.float32) -> np.ndarray | None:
    """``(clips, frames)`` bool: frames holding a value that float32 round-off could spoil.

    None when no value of the block is below its frame's risk threshold (the usual case).
    """
    if power != 2.0:
        E2 = E2 ** np.float32(power / 2.0)
    low = S < E2[..., None] * risk_coef
    if not low.any():
        return None
    floor = np.maximum(clip_max * floor_fac, amin)[:, None, None]
    low &= S > floor
    return low.any(axis=-1)


def _refine(S: np.ndarray, risky: np.ndarray, view: np.ndarray, st: _Stft, power: float,
            mel: _MelPlan | None) -> None:
    """Recompute in float64 the ``risky`` frames of ``S`` (time-major, ``|X|**power`` units)."""
    ci, ti = np.nonzero(risky)
    seg = view[ci, ti].astype(np.float64)  # (k, win); casting first is 2x faster than a mixed multiply
    seg *= st.window64
    X = scipy.fft.rfft(seg, n=st.n_fft, axis=-1)
    Xf = X.view(np.float64)
    np.square(Xf, out=Xf)
    P = np.add(Xf[..., 0::2], Xf[..., 1::2])
    if power == 1.0:
        np.sqrt(P, out=P)
    elif power != 2.0:
        np.power(P, power / 2.0, out=P)
    P = P.astype(np.float32)
    if mel is None:
        S[ci, ti] = P
    else:
        vals = np.empty((len(ci), mel.n_mels), dtype=np.float32)
        _apply_mel(P, mel, vals)
        S[ci, ti] = vals


def _db_inplace(S: np.ndarray, ref: Any, amin: float, top_db: float | None, *,
                clip_max: np.ndarray | None = None) -> None:
    """power_to_db on a time-major ``(clips, frames, bins)`` block, in place, clamp per clip.

    The ``top_db`` clamp is applied in the power domain before the log,
    ``max(S, max(amin, max S) * 10**(-top_db/10))``, which is librosa's
    ``max(dB, max dB - top_db)`` with two passes fewer.
    """
    b = S.shape[0]
    if callable(ref):
        # librosa's layout for the callable, one clip at a time
        ref_value = np.array([ref(S[i].T) for i in range(b)], dtype=np.float64)[:, None, None]
    else:
        ref_value = np.abs(ref)
    if top_db is not None:
        if clip_max is None:
            clip_max = S.reshape(b, -1).max(axis=1)
        floor = np.maximum(clip_max * np.float32(10.0 ** (-top_db / 10.0)), np.float32(amin))
        np.maximum(S, floor[:, None, None], out=S)
    else:
        np.maximum(S, amin, out=S)
    np.log(S, out=S)  # float32 log is SIMD in numpy, log10 is not (5x slower)
    S *= np.float32(10.0 / np.log(10.0))
    ref_db = 10.0 * np.log10(np.maximum(amin, ref_value))
    if np.ndim(ref_db) or ref_db != 0.0:
        S -= np.asarray(ref_db, dtype=np.float32)


def _to_librosa_layout(tm: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
    """time-major (clips, frames, bins) -> (*lead, bins, frames), C-contiguous."""
    out = np.ascontiguousarray(tm.transpose(0, 2, 1))
    return out.reshape(lead + out.shape[1:])


# --------------------------------------------------------------------------------------------
# librosa-compatible public functions
# --------------------------------------------------------------------------------------------

def spectrogram(y: np.ndarray, *, n_fft: int = 2048, hop_length: int | None = None,
                win_length: int | None = None, window: Any = "hann", center: bool = True,
                pad_mode: str = "constant", power: float = 2.0, workers: int = 1) -> np.ndarray:
    """Magnitude (``power=1``) or power (``power=2``) spectrogram, ``np.abs(librosa.stft(...))**power``.

    Parameters
    ----------
    y : np.ndarray
        ``(samples,)`` or ``(..., samples)`` floating-point audio.
    n_fft : int
        FFT size; ``1 + n_fft // 2`` frequency bins.
    hop_length : int or None
        Samples between frames; ``None`` means ``win_length // 4``.
    win_length : int or None
        Window length (``<= n_fft``; zero-padded to ``n_fft``); ``None`` means ``n_fft``.
    window : str, tuple, callable or array
        Window spec for ``scipy.signal.get_window`` (periodic), a function of the length, or
        ``win_length`` samples.
    center : bool
        Pad ``n_fft // 2`` samples on both sides so frame ``t`` is centred at ``t * hop_length``.
    pad_mode : str
        :func:`numpy.pad` mode for ``center=True``: one of :data:`PAD_MODES`.
    power : float
        Exponent of the magnitude.
    workers : int
        Threads for ``scipy.fft`` (1 = this thread only).

    Returns
    -------
    np.ndarray
        ``(..., 1 + n_fft // 2, frames)`` float32.

    Raises
    ------
    ConfigError
        Invalid sizes (``win_length > n_fft``, ``hop_length <= 0``...), non-float or non-finite audio.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal((3, 16000)).astype(np.float32)
    >>> spectrogram(y, n_fft=512, hop_length=160, win_length=400).shape
    (3, 257, 101)
    """
    y2, lead = _as_batch(y)
    st = _stft_plan(n_fft, hop_length, win_length, window, center, pad_mode)
    return _to_librosa_layout(_compute(y2, st, power=_check_power(power), workers=workers), lead)


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
    st = _stft_plan(n_fft, hop_length, win_length, window, center, pad_mode)
    plan = _mel_plan_checked(sr, st.n_fft, n_mels, fmin, fmax, htk, norm)
    return _to_librosa_layout(_compute(y2, st, power=_check_power(power), mel=plan, workers=workers), lead)


def _mel_plan_checked(sr, n_fft, n_mels, fmin, fmax, htk, norm) -> _MelPlan:
    mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)  # validates
    return _mel_plan(float(sr), int(n_fft), int(n_mels), float(fmin), None if fmax is None else float(fmax),
                     bool(htk), norm)


def power_to_db(S: np.ndarray, *, ref: float | Callable = 1.0, amin: float = 1e-10,
                top_db: float | None = 80.0) -> np.ndarray:
    """Power spectrogram to decibels, ``10 * log10(max(S, amin) / ref)``, clamped at ``max - top_db``.

    Equal to ``librosa.power_to_db`` for one clip.  For a batch (``S.ndim >= 3``) the ``top_db``
    clamp and a callable ``ref`` are applied PER CLIP, over the last two axes of each clip
    (librosa uses the maximum of the whole batch, so a quiet clip next to a loud one would be
    flattened).

    Parameters
    ----------
    S : np.ndarray
        ``(..., bins, frames)`` non-negative power values.  Complex input is replaced by its
        magnitude (with a warning, as librosa does).
    ref : float or callable
        Reference power (0 dB); a callable (e.g. ``np.max``) is applied to each clip.
    amin : float
        Floor on ``S`` and ``ref`` before the log; > 0.
    top_db : float or None
        Clamp at ``max - top_db`` (per clip); ``None`` disables it.

    Returns
    -------
    np.ndarray
        Same shape as ``S`` (float32 for float32 input).

    Examples
    --------
    >>> import numpy as np
    >>> power_to_db(np.array([[1.0, 0.1, 1e-12]]))
    array([[  0., -10., -80.]])
    >>> S = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 1e-6)])
    >>> power_to_db(S)[:, 0, 0]   # each clip keeps its own level
    array([  0., -60.])
    """
    amin, top_db = _check_db(amin, top_db)
    S = np.asarray(S)
    if np.iscomplexobj(S):
        warnings.warn("power_to_db was called on complex input so phase information will be "
                      "discarded. To suppress this warning, call power_to_db(np.abs(D)**2) instead.",
                      stacklevel=2)
        S = np.abs(S)
    if callable(ref):
        if S.ndim <= 2:
            ref_value = ref(S)
        else:
            clips = S.reshape((-1,) + S.shape[-2:])
            ref_value = np.array([ref(c) for c in clips]).reshape(S.shape[:-2] + (1, 1))
    else:
        ref_value = np.abs(ref)
    log_spec = 10.0 * np.log10(np.maximum(amin, S))
    log_spec -= 10.0 * np.log10(np.maximum(amin, ref_value))
    if top_db is not None and log_spec.size:
        if log_spec.ndim <= 2:
            floor = log_spec.max() - top_db
        else:
            floor = log_spec.max(axis=(-2, -1), keepdims=True) - top_db
        log_spec = np.maximum(log_spec, floor)
    return log_spec


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
    st = _stft_plan(n_fft, hop_length, win_length, window, center, pad_mode)
    plan = _mel_plan_checked(sr, st.n_fft, n_mels, fmin, fmax, htk, norm)
    db = (ref,) + _check_db(amin, top_db)
    return _to_librosa_layout(_compute(y2, st, power=_check_power(power), mel=plan, db=db, workers=workers),
                              lead)


def _dct_checked(n_mels: int, n_mfcc: Any, dct_type: Any, norm: Any, lifter: Any) -> np.ndarray:
    n_mfcc = _positive_int("n_mfcc", n_mfcc)
    if n_mfcc > n_mels:
        raise ConfigError(f"n_mfcc={n_mfcc} is larger than n_mels={n_mels}",
                          fix="use n_mfcc <= n_mels (the DCT of n_mels bands has n_mels coefficients)")
    if dct_type not in (1, 2, 3) or isinstance(dct_type, bool):
        raise ConfigError(f"dct_type must be 1, 2 or 3, got {dct_type!r}", fix="use dct_type=2 (the usual MFCC)")
    if norm not in (None, "ortho", "backward", "forward"):
        raise ConfigError(f"DCT norm must be None or 'ortho', got {norm!r}", fix="use norm='ortho'")
    if dct_type == 1 and n_mels < 2:
        raise ConfigError("dct_type=1 needs n_mels >= 2", fix="use dct_type=2")
    lifter = _number("lifter", lifter)
    if lifter < 0:
        raise ConfigError(f"lifter must be >= 0, got {lifter}", fix="use 0 (no liftering) or e.g. 22")
    return _dct_matrix(int(n_mels), n_mfcc, int(dct_type), norm, lifter)


def mfcc(y: np.ndarray, *, sr: float, n_mfcc: int = 20, dct_type: int = 2, norm: str | None = "ortho",
         lifter: float = 0, top_db: float | None = 80.0, mel_norm: Any = "slaney", workers: int = 1,
         **mel_kwargs: Any) -> np.ndarray:
    """Mel-frequency cepstral coefficients, equal to ``librosa.feature.mfcc`` for each clip.

    ``DCT(power_to_db(melspectrogram(y, ...), top_db=top_db))[:n_mfcc]`` with the ``top_db``
    clamp per clip, then optional liftering ``1 + lifter/2 * sin(pi * k / lifter)``.

    Parameters
    ----------
    y : np.ndarray
        ``(samples,)`` or ``(..., samples)`` floating-point audio.
    sr : float
        Sample rate (Hz).
    n_mfcc : int
        Number of coefficients (``<= n_mels``).
    dct_type : {1, 2, 3}
        DCT type (``scipy.fft.dct``).
    norm : {None, "ortho"}
        DCT normalisation.
    lifter : float
        Cepstral liftering coefficient; 0 disables it.
    top_db : float or None
        dB clamp of the log-mel spectrogram (per clip).
    mel_norm : {"slaney", None} or float
        Mel filter normalisation (librosa's ``mel_norm``).
    workers : int
        Threads for ``scipy.fft``.
    **mel_kwargs
        Any of ``n_fft, hop_length, win_length, window, center, pad_mode, power, n_mels, fmin,
        fmax, htk`` (see :func:`melspectrogram`; defaults n_fft=2048, n_mels=128).

    Returns
    -------
    np.ndarray
        ``(..., n_mfcc, frames)`` float32.

    Raises
    ------
    ConfigError
        Unknown keyword, ``n_mfcc > n_mels``, invalid parameters or audio.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> mfcc(y, sr=22050, n_mfcc=13, hop_length=512).shape
    (13, 44)
    """
    unknown = sorted(set(mel_kwargs) - set(_MEL_KWARGS))
    if unknown:
        raise ConfigError(f"unknown mfcc keyword(s) {unknown}",
                          fix=f"valid keywords: sr, n_mfcc, dct_type, norm, lifter, top_db, mel_norm, workers, "
                              f"{', '.join(_MEL_KWARGS)}")
    kw = dict(n_fft=2048, hop_length=None, win_length=None, window="hann", center=True, pad_mode="constant",
              power=2.0, n_mels=128, fmin=0.0, fmax=None, htk=False)
    kw.update(mel_kwargs)
    y2, lead = _as_batch(y)
    st = _stft_plan(kw["n_fft"], kw["hop_length"], kw["win_length"], kw["window"], kw["center"], kw["pad_mode"])
    plan = _mel_plan_checked(sr, st.n_fft, kw["n_mels"], kw["fmin"], kw["fmax"], kw["htk"], mel_norm)
    C = _dct_checked(plan.n_mels, n_mfcc, dct_type, norm, lifter)
    db = (1.0,) + _check_db(1e-10, top_db)
    # liftering multiplies coefficients by up to 1 + lifter/2, and their dB errors with them
    gain = float(np.abs(1 + (lifter / 2) * np.sin(np.pi * np.arange(1, 1 + n_mfcc) / lifter)).max()) \
        if lifter > 0 else 1.0
    tm = _compute(y2, st, power=_check_power(kw["power"]), mel=plan, db=db, dct=C, workers=workers,
                  refine_db=REFINE_DB - 20.0 * math.log10(max(gain, 1.0)))
    return _to_librosa_layout(tm, lead)


# --------------------------------------------------------------------------------------------
# FeatureConfig, presets, extract
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeatureConfig:
    """Everything that decides a model's input features; hashable, JSON-able, frozen.

    The defaults are the ``kws`` preset (16 kHz log-mel, 25 ms windows, 10 ms hop, 40 bands).

    Attributes
    ----------
    kind : {"waveform", "spectrogram", "log_mel", "mfcc"}
        ``spectrogram`` is the power spectrogram in dB (``power_to_db``, per-clip ``top_db``);
        ``log_mel`` the mel power spectrogram in dB; ``mfcc`` the DCT-II (ortho) of the log-mel;
        ``waveform`` the raw samples.
    sr : int
        Sample rate the audio is loaded at.
    duration : float
        Clip length in seconds; every clip is cropped/padded to :attr:`n_samples`.
    n_fft, win_length, hop_length, window, center
        STFT framing (``win_length=None`` -> ``n_fft``; ``hop_length=None`` -> ``win_length // 4``).
    n_mels, fmin, fmax
        Mel bands (``fmax=None`` -> ``sr / 2``).
    n_mfcc : int
        MFCC coefficients (kind ``mfcc``).
    power : float
        Spectrogram exponent (2 = power, 1 = magnitude).
    top_db : float or None
        dB clamp below each clip's maximum.
    normalize : {"none", "per_clip"}
        ``per_clip`` = CMVN: subtract each clip's per-bin mean over time and divide by its
        per-bin std (+1e-5), after the log / MFCC.
    dither_db : float or None
        Add a fixed pseudo-random noise pattern this many dB below each clip's peak before the
        STFT (Kaldi's ``dither``, made level-relative).  Digital silence (zero padding of short
        clips) otherwise sits at the ``top_db`` floor and per-clip statistics then depend on how
        much padding a clip has; measured on FSDD (leave-one-speaker-out, the speaker with the
        shortest clips) it raised that speaker's accuracy at test time, but training with it
        lowered validation accuracy in leave-one-speaker-out, so it is off in the recipes.
        ``None`` (default) computes the exact librosa features; dithered features cannot be
        streamed exactly.
    cmvn_floor : float
        With ``per_clip``: the per-bin standard deviation is floored at this value (in feature
        units, dB for log-mel) before dividing, so near-constant bands (e.g. above 4 kHz in
        8 kHz recordings resampled to 16 kHz) are not blown up to unit variance.

    Examples
    --------
    >>> cfg = FeatureConfig(kind="mfcc", n_mfcc=20)
    >>> cfg.output_shape
    (101, 20)
    >>> FeatureConfig.from_dict(cfg.to_dict()) == cfg
    True
    >>> cfg.replace(n_mfcc=13).output_shape
    (101, 13)
    """

    kind: str = "log_mel"
    sr: int = 16000
    duration: float = 1.0
    n_fft: int = 512
    win_length: int | None = 400
    hop_length: int | None = 160
    window: str = "hann"
    center: bool = True
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float | None = 8000.0
    n_mfcc: int = 13
    power: float = 2.0
    top_db: float | None = 80.0
    normalize: str = "none"
    dither_db: float | None = None
    cmvn_floor: float = CMVN_EPS

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown feature kind {self.kind!r}", fix=f"use one of {', '.join(KINDS)}")
        if self.normalize not in NORMALIZATIONS:
            raise ConfigError(f"unknown normalize {self.normalize!r}", fix=f"use one of {', '.join(NORMALIZATIONS)}")
        self._normalize_types()
        if self.dither_db is not None and not (isinstance(self.dither_db, float) and 0 < self.dither_db < 200):
            raise ConfigError(f"dither_db must be null or a level in dB below the peak (0-200), got {self.dither_db!r}",
                              fix="use e.g. dither_db: 60")
        _positive_int("sr", self.sr)
        if _number("duration", self.duration) <= 0:
            raise ConfigError(f"duration must be > 0 seconds, got {self.duration!r}", fix="use e.g. duration=1.0")
        if self.n_samples < 1:
            raise ConfigError(f"duration={self.duration} s at sr={self.sr} is less than one sample",
                              fix="use a longer duration")
        if self.kind == "waveform":
            return
        if not isinstance(self.window, str):
            raise ConfigError(f"window must be a window name (str) in a FeatureConfig, got {self.window!r}",
                              fix="use e.g. 'hann' or 'hamming'")
        st = _stft_plan(self.n_fft, self.hop_length, self.win_length, self.window, self.center, "constant")
        st.n_frames(self.n_samples)  # center=False with clips shorter than n_fft
        _check_power(self.power)
        _check_db(1e-10, self.top_db)
        if self.kind in ("log_mel", "mfcc"):
            _mel_plan_checked(self.sr, self.n_fft, self.n_mels, self.fmin, self.fmax, False, "slaney")
        if self.kind == "mfcc":
            _dct_checked(self.n_mels, self.n_mfcc, 2, "ortho", 0)

    def _normalize_types(self) -> None:
        # 20 and 20.0 must give the same key(): store ints as int and floats as float
        for name in ("sr", "n_fft", "win_length", "hop_length", "n_mels", "n_mfcc"):
            v = getattr(self, name)
            if _is_int(v):
                object.__setattr__(self, name, int(v))
        for name in ("duration", "fmin", "fmax", "power", "top_db", "dither_db", "cmvn_floor"):
            v = getattr(self, name)
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
                object.__setattr__(self, name, float(v))
        if isinstance(self.center, (bool, np.bool_)):
            object.__setattr__(self, "center", bool(self.center))

    # -- derived ---------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        """Samples per clip: ``round(sr * duration)``."""
        return int(round(self.sr * self.duration))

    @property
    def resolved_win_length(self) -> int:
        return self.n_fft if self.win_length is None else int(self.win_length)

    @property
    def resolved_hop_length(self) -> int:
        return self.resolved_win_length // 4 if self.hop_length is None else int(self.hop_length)

    @property
    def n_frames(self) -> int:
        """Frames per clip (samples for ``waveform``)."""
        if self.kind == "waveform":
            return self.n_samples
        length = self.n_samples + 2 * (self.n_fft // 2) if self.center else self.n_samples
        return 1 + (length - self.n_fft) // self.resolved_hop_length

    @property
    def n_bins(self) -> int:
        """Features per frame."""
        return {"waveform": 1, "spectrogram": 1 + self.n_fft // 2, "log_mel": self.n_mels,
                "mfcc": self.n_mfcc}[self.kind]

    @property
    def output_shape(self) -> tuple[int, int]:
        """``(frames, bins)`` of one clip as :func:`extract` returns it (time-major)."""
        return (self.n_frames, self.n_bins)

    # -- (de)serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FeatureConfig":
        """Build from a dict (missing keys take defaults); unknown keys are a :class:`ConfigError`."""
        if not isinstance(d, dict):
            raise ConfigError(f"feature config must be a mapping, got {type(d).__name__}",
                              fix="pass a dict such as FeatureConfig().to_dict()")
        unknown = sorted(set(d) - set(cls.field_names()))
        if unknown:
            raise ConfigError(f"unknown feature config key(s) {unknown}",
                              fix=f"valid keys: {', '.join(cls.field_names())}")
        return cls(**d)

    def replace(self, **changes: Any) -> "FeatureConfig":
        """A copy with some fields changed (validated); unknown names are a :class:`ConfigError`."""
        unknown = sorted(set(changes) - set(self.field_names()))
        if unknown:
            raise ConfigError(f"unknown feature config key(s) {unknown}",
                              fix=f"valid keys: {', '.join(self.field_names())}")
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """Stable short id (12 hex chars of the sha1 of the sorted JSON of :meth:`to_dict`)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


_KWS = dict(sr=16000, n_fft=512, win_length=400, hop_length=160, window="hann", n_mels=40, fmin=20.0,
            fmax=8000.0)

#: Named feature setups.  ``kws``: 16 kHz log-mel 40 bands, 25 ms / 10 ms -> (101, 40) per second.
#: ``seed``: the classic course setup, 22.05 kHz MFCC 13 of 128 mels, n_fft 2048, hop 512 -> (44, 13).
#: ``mfcc40``: kws framing, 40 MFCC of 40 mels.  ``waveform``: raw 16 kHz samples -> (16000, 1).
PRESETS: dict[str, FeatureConfig] = {
    "kws": FeatureConfig(kind="log_mel", **_KWS),
    "seed": FeatureConfig(kind="mfcc", sr=22050, n_fft=2048, win_length=None, hop_length=512, n_mels=128,
                          fmin=0.0, fmax=None, n_mfcc=13),
    "mfcc40": FeatureConfig(kind="mfcc", n_mfcc=40, **_KWS),
    "waveform": FeatureConfig(kind="waveform", sr=16000),
}


def preset(name: str, **overrides: Any) -> FeatureConfig:
    """A preset :class:`FeatureConfig`, optionally with fields overridden.

    Examples
    --------
    >>> preset("kws").output_shape
    (101, 40)
    >>> preset("seed").output_shape
    (44, 13)
    >>> preset("kws", normalize="per_clip").normalize
    'per_clip'
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown feature preset {name!r}", fix=f"use one of {', '.join(PRESETS)}")
    cfg = PRESETS[name]
    return cfg.replace(**overrides) if overrides else cfg


def extract(cfg: FeatureConfig, batch: np.ndarray, *, workers: int = 1) -> np.ndarray:
    """Model-input features of a batch of clips, TIME-MAJOR float32 ``(N, frames, bins)``.

    Parameters
    ----------
    cfg : FeatureConfig
        What to compute; ``batch`` must hold clips of ``cfg.n_samples`` samples at ``cfg.sr``
        (use :func:`auricle.audio.fix_length`).
    batch : np.ndarray
        ``(N, n_samples)`` (or one ``(n_samples,)`` clip -> N = 1) floating-point audio.
    workers : int
        Threads for ``scipy.fft``.

    Returns
    -------
    np.ndarray
        ``(N, *cfg.output_shape)`` float32; for ``waveform`` ``(N, n_samples, 1)``.

    Raises
    ------
    ConfigError
        Wrong clip length, non-float or non-finite audio.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((4, 16000)).astype(np.float32)
    >>> extract(preset("kws"), x).shape
    (4, 101, 40)
    >>> extract(preset("waveform"), x).shape
    (4, 16000, 1)
    """
    if not isinstance(cfg, FeatureConfig):
        raise ConfigError(f"cfg must be a FeatureConfig, got {type(cfg).__name__}",
                          fix="use preset(...) or FeatureConfig(...)")
    x = np.asarray(batch)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ConfigError(f"batch must be (N, samples), got shape {x.shape}", fix="stack clips into a 2-D array")
    if x.shape[1] != cfg.n_samples:
        raise ConfigError(f"clips have {x.shape[1]} samples but the config expects {cfg.n_samples} "
                          f"({cfg.duration:g} s at {cfg.sr} Hz)",
                          fix="crop/pad with auricle.audio.fix_length, or change cfg.duration")
    y2, _ = _as_batch(x)
    if cfg.dither_db is not None and cfg.kind != "waveform":
        for s in range(0, y2.shape[0], 256):
            _check_finite(y2[s:s + 256], s)
        peak = np.abs(y2).max(axis=1, keepdims=True).astype(np.float32)
        y2 = y2 + peak * np.float32(10.0 ** (-cfg.dither_db / 20.0)) * _dither_pattern(y2.shape[1])
    if cfg.kind == "waveform":
        for s in range(0, y2.shape[0], 256):
            _check_finite(y2[s:s + 256], s)
        out = np.array(y2[:, :, None], dtype=np.float32, copy=True)  # never alias the caller's array
    else:
        st, mel, dct = _plans(cfg)
        db = (1.0, 1e-10, None if cfg.top_db is None else float(cfg.top_db))
        out = _compute(y2, st, power=float(cfg.power), mel=mel, db=db, dct=dct, workers=workers)
    if cfg.normalize == "per_clip":
        cmvn_(out, floor=cfg.cmvn_floor)
    return out


def _plans(cfg: FeatureConfig) -> tuple:
    """``(stft plan, mel plan or None, DCT matrix or None)`` of a spectral config."""
    st = _stft_plan(cfg.n_fft, cfg.hop_length, cfg.win_length, cfg.window, cfg.center, "constant")
    mel = dct = None
    if cfg.kind in ("log_mel", "mfcc"):
        mel = _mel_plan_checked(cfg.sr, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax, False, "slaney")
    if cfg.kind == "mfcc":
        dct = _dct_checked(cfg.n_mels, cfg.n_mfcc, 2, "ortho", 0)
    return st, mel, dct


def mel_power(cfg: FeatureConfig, batch: np.ndarray, *, workers: int = 1) -> np.ndarray:
    """The linear front half of :func:`extract`: ``(N, frames, bins)`` float32 mel (or linear)
    power before the dB step, for ``log_mel``/``mfcc``/``spectrogram`` configs without dither.

    ``finish_power(cfg, mel_power(cfg, x))`` equals ``extract(cfg, x)``.  Augmentation that is
    linear in power (gain, additive noise, whole-frame shifts) can run on this cached form
    instead of on the waveform, with no STFT per batch (see :mod:`auricle.augment.power`).
    """
    if not isinstance(cfg, FeatureConfig) or cfg.kind == "waveform" or cfg.dither_db is not None:
        raise ConfigError("mel_power needs a log_mel, mfcc or spectrogram config without dither",
                          fix="use extract() for waveform features or dithered configs")
    x = np.asarray(batch)
    x = x[None] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[1] != cfg.n_samples:
        raise ConfigError(f"batch must be (N, {cfg.n_samples}), got shape {x.shape}",
                          fix="crop/pad with auricle.audio.fix_length")
    y2, _ = _as_batch(x)
    st, mel, _ = _plans(cfg)
    return _compute(y2, st, power=float(cfg.power), mel=mel, db=None, workers=workers)


def finish_power(cfg: FeatureConfig, S: np.ndarray) -> np.ndarray:
    """The back half of :func:`extract` on :func:`mel_power` output: dB (per-clip ``top_db``
    clamp), DCT for MFCC, per-clip normalization.  Works in place on ``S`` when no DCT runs."""
    S = np.ascontiguousarray(S, dtype=np.float32)
    if S.ndim != 3:
        raise ConfigError(f"expected (N, frames, bins) power, got shape {S.shape}")
    _db_inplace(S, 1.0, 1e-10, None if cfg.top_db is None else float(cfg.top_db))
    out = S
    if cfg.kind == "mfcc":
        dct = _dct_checked(cfg.n_mels, cfg.n_mfcc, 2, "ortho", 0)
        b, f, m = S.shape
        out = (S.reshape(b * f, m).astype(np.float64) @ dct).astype(np.float32).reshape(b, f, -1)
    if cfg.normalize == "per_clip":
        cmvn_(out, floor=cfg.cmvn_floor)
    return out


@functools.lru_cache(maxsize=8)
def _dither_pattern(n: int) -> np.ndarray:
    """A fixed unit-variance noise pattern of ``n`` samples (the same for every clip and run, so
    cached features, training batches and prediction agree exactly)."""
    d = np.random.default_rng(20240611).standard_normal(n).astype(np.float32)
    d.setflags(write=False)
    return d


def cmvn_(x: np.ndarray, eps: float = CMVN_EPS, *, floor: float | None = None) -> np.ndarray:
    """Per-clip CMVN in place on time-major ``(N, frames, bins)``: ``(x - mean_t) / (std_t + eps)``,
    or ``(x - mean_t) / max(std_t, floor)`` when ``floor`` is above ``eps``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(3.0, 2.0, (2, 50, 4)).astype(np.float32)
    >>> y = cmvn_(x)
    >>> bool(np.allclose(y.mean(axis=1), 0, atol=1e-5)), bool(np.allclose(y.std(axis=1), 1, atol=1e-3))
    (True, True)
    """
    mean = x.mean(axis=1, keepdims=True, dtype=np.float64)
    std = x.std(axis=1, keepdims=True, dtype=np.float64)
    x -= mean.astype(x.dtype)
    if floor is not None and floor > eps:
        x /= np.maximum(std, floor).astype(x.dtype)
    else:
        x /= (std + eps).astype(x.dtype)
    return x
