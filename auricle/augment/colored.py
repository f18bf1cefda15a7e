"""Generated noise: white/pink/brown noise, the circular noise banks it is drawn from, active RMS.

The bottom of :mod:`auricle.augment`'s noise code (numpy only): :mod:`auricle.augment.noise`
(the waveform transforms) and :mod:`auricle.augment.mixing` (the same noise in the mel-power
domain) both build on it.
"""
from __future__ import annotations

import threading

import numpy as np

COLORS = ("white", "pink", "brown")


def colored_noise(n: int, length: int, color: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS white/pink/brown noise ``(n, length)`` shaped in the frequency domain."""
    white = rng.standard_normal((n, length)).astype(np.float32)
    if color == "white":
        noise = white
    else:
        spec = np.fft.rfft(white, axis=1)
        f = np.arange(spec.shape[1], dtype=np.float32)
        f[0] = 1.0
        spec *= (f ** (-0.5 if color == "pink" else -1.0))[None, :]
        noise = np.fft.irfft(spec, n=length, axis=1).astype(np.float32)
    noise /= np.sqrt((noise ** 2).mean(axis=1, keepdims=True)) + 1e-12
    return noise


#: generated-noise banks, ``(color, clip length) -> circular unit-RMS buffer``; see :func:`noise_bank`
_BANKS: dict[tuple[str, int], np.ndarray] = {}
_BANKS_LOCK = threading.Lock()
#: a bank holds at least this many samples (2**20 = 65 s at 16 kHz, 4 MB) and 32 clips
BANK_MIN_SAMPLES = 2 ** 20


def noise_bank(color: str, length: int) -> np.ndarray:
    """A long circular buffer of unit-RMS ``color`` noise for clips of ``length`` samples.

    Generating noise per batch (``standard_normal`` + an FFT round trip per clip) cost 12 ms per
    batch of 32 one-second clips, more than the feature extraction it feeds; slicing a random
    window out of a pre-generated buffer costs ~0.5 ms.  That is why :class:`AddNoise` draws
    from here.  The buffer is generated once per ``(color, length)`` from a fixed seed, shaped
    in the frequency domain like :func:`colored_noise` (amplitude ``c**-0.5`` for pink,
    ``c**-1`` for brown, in cycles per clip ``c``, nothing below one cycle per clip) and is
    periodic, so a window may wrap around its end.  Its length is at least ``2**20`` samples
    and 32 clips, so two windows rarely overlap much.
    """
    key = (color, int(length))
    bank = _BANKS.get(key)
    if bank is None:
        with _BANKS_LOCK:
            bank = _BANKS.get(key)
            if bank is None:
                n = max(BANK_MIN_SAMPLES, 32 * int(length))
                rng = np.random.default_rng([COLORS.index(color), int(length), 2027])
                white = rng.standard_normal(n)
                if color == "white":
                    buf = white
                else:
                    spec = np.fft.rfft(white)
                    cycles = np.arange(spec.shape[0]) * (length / n)  # cycles per clip
                    w = np.zeros_like(cycles)
                    keep = cycles >= 1.0
                    w[keep] = cycles[keep] ** (-0.5 if color == "pink" else -1.0)
                    buf = np.fft.irfft(spec * w, n=n)
                buf = (buf / np.sqrt(np.mean(buf ** 2))).astype(np.float32)
                bank = np.concatenate([buf, buf[:length]])  # windows that wrap become plain slices
                bank.setflags(write=False)
                _BANKS[key] = bank
    return bank


def bank_segments(color: str, length: int, offset_u: np.ndarray) -> np.ndarray:
    """``(n, length)`` unit-RMS windows of :func:`noise_bank` starting at ``floor(offset_u * period)``."""
    bank = noise_bank(color, length)
    period = bank.shape[0] - length
    start = np.minimum((np.asarray(offset_u, dtype=np.float64) * period).astype(np.int64), period - 1)
    seg = np.lib.stride_tricks.sliding_window_view(bank, length)[start]  # fancy index: a copy
    seg /= np.sqrt(np.einsum("ij,ij->i", seg, seg, dtype=np.float64) / length).astype(np.float32)[:, None] + 1e-12
    return seg


def active_rms(x: np.ndarray, rel_db: float = -50.0) -> np.ndarray:
    """RMS of each row over samples whose magnitude is within ``rel_db`` of the row's peak."""
    a = np.abs(x)
    peak = a.max(axis=1, keepdims=True)
    active = a >= peak * 10.0 ** (rel_db / 20.0)
    active &= peak > 0
    cnt = np.count_nonzero(active, axis=1)
    sq = np.square(x, dtype=np.float64)
    sq *= active
    return np.sqrt(sq.sum(axis=1) / np.maximum(cnt, 1)).astype(np.float32)
