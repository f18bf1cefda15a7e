"""DCT matrices and the librosa-equal :func:`mfcc`."""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import scipy.fft

from auricle.errors import ConfigError
from auricle.features._checks import _as_batch, _check_db, _check_power, _number, _positive_int
from auricle.features.kernel import REFINE_DB, _to_librosa_layout, compute
from auricle.features.mel import mel_plan
from auricle.features.stft import stft_plan

_MEL_KWARGS = ("n_fft", "hop_length", "win_length", "window", "center", "pad_mode", "power",
               "n_mels", "fmin", "fmax", "htk")


@functools.lru_cache(maxsize=64)
def _dct_matrix(n_mels: int, n_mfcc: int, dct_type: int, norm: str | None, lifter: float) -> np.ndarray:
    """``(n_mels, n_mfcc)`` float64 ``C`` such that ``dB_time_major @ C`` is librosa's MFCC."""
    C = scipy.fft.dct(np.eye(n_mels), type=dct_type, norm=norm, axis=0)[:n_mfcc]  # (n_mfcc, n_mels)
    if lifter > 0:
        C = C * (1 + (lifter / 2) * np.sin(np.pi * np.arange(1, 1 + n_mfcc) / lifter))[:, None]
    C = np.ascontiguousarray(C.T, dtype=np.float64)
    C.setflags(write=False)
    return C


def dct_matrix(n_mels: int, n_mfcc: Any, dct_type: Any, norm: Any, lifter: Any) -> np.ndarray:
    """Validated, cached ``(n_mels, n_mfcc)`` float64 matrix ``C``: ``dB_time_major @ C`` is the MFCC.

    Parameters
    ----------
    n_mels : int
        Mel bands of the log-mel input.
    n_mfcc, dct_type, norm, lifter
        As in :func:`mfcc`.

    Returns
    -------
    np.ndarray
        ``(n_mels, n_mfcc)`` float64, read-only.

    Raises
    ------
    ConfigError
        ``n_mfcc > n_mels``, unknown ``dct_type`` / ``norm``, negative ``lifter``.

    Examples
    --------
    >>> dct_matrix(40, 13, 2, "ortho", 0).shape
    (40, 13)
    """
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
    st = stft_plan(kw["n_fft"], kw["hop_length"], kw["win_length"], kw["window"], kw["center"], kw["pad_mode"])
    plan = mel_plan(sr, st.n_fft, kw["n_mels"], kw["fmin"], kw["fmax"], kw["htk"], mel_norm)
    C = dct_matrix(plan.n_mels, n_mfcc, dct_type, norm, lifter)
    db = (1.0,) + _check_db(1e-10, top_db)
    # liftering multiplies coefficients by up to 1 + lifter/2, and their dB errors with them
    gain = float(np.abs(1 + (lifter / 2) * np.sin(np.pi * np.arange(1, 1 + n_mfcc) / lifter)).max()) \
        if lifter > 0 else 1.0
    tm = compute(y2, st, power=_check_power(kw["power"]), mel=plan, db=db, dct=C, workers=workers,
                  refine_db=REFINE_DB - 20.0 * math.log10(max(gain, 1.0)))
    return _to_librosa_layout(tm, lead)
