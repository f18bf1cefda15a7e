"""Argument validation shared by the feature modules (ConfigError with a fix)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from auricle.errors import ConfigError


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
