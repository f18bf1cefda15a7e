"""Noise in the mel-power domain: the mel power of looped noise (generated banks and recordings)
and the signal + noise mix with its random cross term.

Used by :class:`auricle.augment.noise.AddNoise` (its ``apply_power``) and by
:mod:`auricle.augment.power`, which explains the method.
"""
from __future__ import annotations

import threading

import numpy as np

from auricle.augment.colored import noise_bank

_NOISE_POWER: dict = {}
_LOCK = threading.Lock()


def circular_power(buf: np.ndarray, fcfg) -> tuple[np.ndarray, np.ndarray]:
    """Mel power and window mean squares of ``buf`` played in a loop.

    Returns ``P`` (``(period + frames, bins)``: frame ``k`` centred on sample ``k * hop``,
    wrapping, where ``period = max(1, len(buf) // hop)`` and ``frames`` is the clip's frame
    count, so that every clip-long window starting at a frame below ``period`` is a plain slice)
    and ``ms`` (``(period,)``: the mean square of the clip-long window starting at each of those
    frames, which the waveform path scales to unit RMS).
    """
    from auricle.audio import fix_length
    from auricle.features import FeatureConfig, mel_power

    buf = np.asarray(buf, dtype=np.float32)
    length, hop, half = fcfg.n_samples, fcfg.resolved_hop_length, fcfg.n_fft // 2
    period = max(1, len(buf) // hop)
    n_win = period + fcfg.n_frames
    # one long non-centred "clip" of the looped signal; centre padding taken from the loop itself
    ext = buf[np.arange(-half, (n_win - 1) * hop + fcfg.n_fft - half) % len(buf)]
    cfg = FeatureConfig.from_dict({**fcfg.to_dict(), "center": False, "normalize": "none",
                                   "duration": len(ext) / fcfg.sr})
    P = mel_power(cfg, fix_length(ext, length=cfg.n_samples, mode="start"))[0][:n_win]
    sq = np.square(buf[np.arange(period * hop + length) % len(buf)].astype(np.float64))
    csum = np.concatenate([[0.0], np.cumsum(sq)])
    starts = np.arange(period) * hop
    ms = (csum[starts + length] - csum[starts]) / length
    return P, ms


def noise_power(color: str, fcfg) -> tuple[np.ndarray, np.ndarray]:
    """:func:`circular_power` of the circular unit-RMS ``color`` noise bank (for brown noise a
    1-s window's RMS strays from the bank's, hence ``ms``).  Cached per config."""
    key = (color, fcfg.key())
    P = _NOISE_POWER.get(key)
    if P is None:
        with _LOCK:
            P = _NOISE_POWER.get(key)
            if P is None:
                bank = noise_bank(color, fcfg.n_samples)
                P, ms = circular_power(bank[:bank.shape[0] - fcfg.n_samples], fcfg)
                P.setflags(write=False)
                ms.setflags(write=False)
                P = _NOISE_POWER[key] = (P, ms)
    return P


def recording_power(bank, fcfg) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`circular_power` of every file of a :class:`~auricle.augment.noise.NoiseBank` (each
    looped on itself, as the waveform path loops a file shorter than the clip), stacked:
    ``(P, ms, first, first_ms, periods)``.  The clip-long window of file ``k`` starting at its
    frame ``j < periods[k]`` is ``P[first[k] + j:][:frames]`` and its mean square
    ``ms[first_ms[k] + j]``.  Cached per folder, file list and config."""
    key = ("folder", str(bank.folder), tuple(str(f) for f in bank.files), fcfg.key())
    out = _NOISE_POWER.get(key)
    if out is None:
        with _LOCK:
            out = _NOISE_POWER.get(key)
            if out is None:
                buf, starts, lengths = bank.load(fcfg.sr)
                parts = [circular_power(buf[s:s + n], fcfg) for s, n in zip(starts, lengths)]
                periods = np.array([len(m) for _, m in parts], dtype=np.int64)
                rows = np.array([len(p) for p, _ in parts], dtype=np.int64)
                first = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
                first_ms = np.concatenate([[0], np.cumsum(periods)[:-1]]).astype(np.int64)
                P = np.concatenate([p for p, _ in parts])
                ms = np.concatenate([m for _, m in parts])
                for a in (P, ms, first, first_ms, periods):
                    a.setflags(write=False)
                out = _NOISE_POWER[key] = (P, ms, first, first_ms, periods)
    return out


def band_dof(fcfg) -> np.ndarray:
    """``(bins,)`` effective number of independent FFT bins in each band, ``(sum w)**2 / sum w**2``
    of its filter weights (1 for a linear spectrogram)."""
    from auricle.features import mel_filterbank

    key = ("dof", fcfg.key())
    d = _NOISE_POWER.get(key)
    if d is None:
        if fcfg.kind in ("log_mel", "mfcc"):
            W = mel_filterbank(sr=fcfg.sr, n_fft=fcfg.n_fft, n_mels=fcfg.n_mels, fmin=fcfg.fmin,
                               fmax=fcfg.fmax).astype(np.float64)
            d = np.maximum(W.sum(axis=1) ** 2 / np.maximum((W ** 2).sum(axis=1), 1e-30), 1.0)
        else:
            d = np.ones(1 + fcfg.n_fft // 2)
        d = _NOISE_POWER[key] = d.astype(np.float32)
    return d


def mix_power(S: np.ndarray, N: np.ndarray, dof: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Power of signal + noise from their powers ``S`` and ``N`` (same shape, bands last).

    ``|X + N|**2 = |X|**2 + |N|**2 + 2 |X| |N| cos(phi)``: the cross term has mean zero but, summed
    over a band of ``dof`` independent bins with random phases, a standard deviation of about
    ``sqrt(2 S N / dof)``; it is drawn as such (and the sum kept above 5% of ``S + N``), so a
    noisy mix is as rough as on the waveform path, not just as loud.
    """
    total = S + N
    cross = np.sqrt(np.float32(2.0) * S * N / dof)
    cross *= _normals(S.size, rng).reshape(S.shape)
    cross += total
    return np.maximum(cross, np.float32(0.05) * total, out=cross)


_NORMALS_SIZE = 2 ** 22  # 16 MB of float32


def _normals(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` standard normal float32 values: a random window of a circular buffer generated once
    (drawing 130K fresh normals per batch cost 1.1 ms, a third of the whole power-domain batch)."""
    buf = _NOISE_POWER.get("normals")
    if buf is None:
        with _LOCK:
            buf = _NOISE_POWER.get("normals")
            if buf is None:
                buf = np.random.default_rng(2029).standard_normal(_NORMALS_SIZE, dtype=np.float32)
                buf.setflags(write=False)
                _NOISE_POWER["normals"] = buf
    if n > len(buf):
        return rng.standard_normal(n, dtype=np.float32)
    start = int(rng.integers(0, len(buf) - n + 1))
    return buf[start:start + n]
