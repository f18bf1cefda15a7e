"""Windows, STFT framing plans, and the librosa-equal :func:`spectrogram` and :func:`power_to_db`."""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from auricle.errors import ConfigError
from auricle.features._checks import _as_batch, _check_db, _check_power, _framing
from auricle.features.kernel import _to_librosa_layout, compute

#: ``pad_mode`` values accepted with ``center=True`` (the :func:`numpy.pad` modes librosa allows).
PAD_MODES = ("constant", "edge", "reflect", "symmetric", "linear_ramp")


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


@dataclass(frozen=True, eq=False)
class StftPlan:
    """An STFT framing plan: sizes, the float64 and float32 windows, centring (see :func:`stft_plan`)."""

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


def stft_plan(n_fft, hop_length, win_length, window, center, pad_mode) -> StftPlan:
    """Validated STFT framing plan with librosa's defaults (``win_length=None`` -> ``n_fft``,
    ``hop_length=None`` -> ``win_length // 4``).

    Parameters
    ----------
    n_fft, hop_length, win_length, window, center, pad_mode
        As in :func:`spectrogram`.

    Returns
    -------
    StftPlan

    Raises
    ------
    ConfigError
        Invalid sizes, window or ``pad_mode``.

    Examples
    --------
    >>> st = stft_plan(512, 160, 400, "hann", True, "constant")
    >>> st.n_freq, st.n_frames(16000)
    (257, 101)
    """
    n_fft, hop, win = _framing(n_fft, hop_length, win_length)
    if center and pad_mode not in PAD_MODES:
        raise ConfigError(f"pad_mode={pad_mode!r} is not supported", fix=f"use one of {PAD_MODES}")
    w64 = _window(window, win)
    return StftPlan(n_fft, hop, win, w64, w64.astype(np.float32), bool(center), pad_mode)


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
    st = stft_plan(n_fft, hop_length, win_length, window, center, pad_mode)
    return _to_librosa_layout(compute(y2, st, power=_check_power(power), workers=workers), lead)


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
