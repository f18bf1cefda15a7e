"""Speed, tempo and pitch: resampling (soxr) and a compact batched phase vocoder.

* :class:`Speed` ("speed") resamples: pitch and duration change together (like a tape).
* :class:`Tempo` ("tempo") time-stretches with a phase vocoder: duration changes, pitch stays.
* :class:`PitchShift` ("pitch_shift") stretches by the pitch ratio and resamples back:
  pitch changes, duration stays.

Clips that come out longer or shorter are cropped / zero-padded back to the input length
(``fit``: ``"center"`` keeps the middle, ``"start"`` keeps the beginning), so a batch keeps
its shape.

The phase vocoder works on the whole batch at once: one STFT ``(N, frames, bins)``, per-example
analysis positions ``k * rate`` (rows with fewer output frames read a silent frame), phase
advance by cumulative sum and an overlap-add inverse.  Frames are ~32 ms (512 samples at
16 kHz) with 75 % overlap.  ``phase_lock: true`` adds identity phase locking (Laroche & Dolson
1999: every bin keeps its analysis phase offset to the nearest spectral peak), which removes
most of the "phasiness" of the plain vocoder on speech at about twice the cost; it is off by
default, like the plain vocoder of librosa's ``time_stretch``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from auricle.augment.base import Transform, check_range

FIT_MODES = ("center", "start")


# --------------------------------------------------------------------------------------------
# helpers


def fit_rows(y: np.ndarray, lengths, length: int, mode: str = "center") -> np.ndarray:
    """Crop / zero-pad each row of ``y`` (``(N, M)``, row ``i`` holding ``lengths[i]`` valid
    samples) to ``length`` samples, like :func:`auricle.audio.fix_length` row by row.

    Examples
    --------
    >>> y = np.array([[1., 2, 3, 0, 0], [1, 2, 3, 4, 5]])
    >>> fit_rows(y, [3, 5], 3).tolist()
    [[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]
    >>> fit_rows(y, [3, 5], 5).tolist()
    [[0.0, 1.0, 2.0, 3.0, 0.0], [1.0, 2.0, 3.0, 4.0, 5.0]]
    """
    n, m = y.shape
    lengths = np.asarray(lengths, dtype=np.int64)
    if mode == "start":
        off = np.zeros(n, dtype=np.int64)
    else:  # center: crop keeps the middle, padding splits (left = pad // 2)
        off = np.where(lengths >= length, (lengths - length) // 2, -((length - lengths) // 2))
    idx = np.arange(length)[None, :] + off[:, None]
    valid = (idx >= 0) & (idx < lengths[:, None])
    return np.where(valid, np.take_along_axis(y, np.clip(idx, 0, max(m - 1, 0)), axis=1), 0).astype(y.dtype)


def resample_rows(x: np.ndarray, rates, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Play each row ``rates[i]`` times faster by resampling (soxr, one call per row).

    Returns the rows zero-padded to the longest, and each row's length (``~ len / rate``).
    """
    import soxr

    rows = [x[i] if r == 1.0 else soxr.resample(x[i], float(sr) * float(r), float(sr), quality="HQ")
            for i, r in enumerate(np.asarray(rates, dtype=np.float64))]
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    out = np.zeros((len(rows), int(lengths.max(initial=0))), dtype=x.dtype)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out, lengths


def vocoder_frame(sr: int) -> tuple[int, int]:
    """``(n_fft, hop)`` of the phase vocoder: a power of two nearest 32 ms, 75 % overlap."""
    n_fft = max(64, int(2 ** round(np.log2(0.032 * sr))))
    return n_fft, n_fft // 4


@lru_cache(maxsize=16)
def _hann(n_fft: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)  # periodic


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centered STFT ``(N, frames, n_fft // 2 + 1)`` with a periodic Hann window."""
    import scipy.fft

    pad = n_fft // 2
    xp = np.pad(x.astype(np.float32, copy=False), ((0, 0), (pad, pad)))
    frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft, axis=1)[:, ::hop]
    return scipy.fft.rfft(frames * _hann(n_fft), axis=2)


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Weighted overlap-add inverse of :func:`_stft`, ``(N, length)`` float32."""
    import scipy.fft

    w = _hann(n_fft)
    frames = scipy.fft.irfft(spec, n=n_fft, axis=2).astype(np.float32) * w
    n, k, _ = frames.shape
    r = n_fft // hop
    total = (k + r - 1) * hop
    out = np.zeros((n, total), dtype=np.float32)
    wss = np.zeros(total, dtype=np.float32)
    for j in range(r):  # frame chunk j of every frame lands at (frame index + j) * hop
        out[:, j * hop:j * hop + k * hop] += frames[:, :, j * hop:(j + 1) * hop].reshape(n, k * hop)
        wss[j * hop:j * hop + k * hop] += np.tile(w[j * hop:(j + 1) * hop] ** 2, k)
    out /= np.where(wss > 1e-3 * wss.max(), wss, 1.0)
    start = n_fft // 2
    out = out[:, start:start + length]
    if out.shape[1] < length:
        out = np.pad(out, ((0, 0), (0, length - out.shape[1])))
    return out


def time_stretch(x: np.ndarray, rates, sr: int, *, phase_lock: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Phase-vocoder time stretch of each row by ``rates[i]`` (> 1 faster/shorter, < 1 slower/longer).

    Returns the rows zero-padded to the longest and each row's length ``round(len / rate)``.
    """
    rates = np.asarray(rates, dtype=np.float64)
    n, length = x.shape
    n_fft, hop = vocoder_frame(sr)
    spec = _stft(x, n_fft, hop)                                       # (n, F, B)
    n_frames, bins = spec.shape[1], spec.shape[2]
    out_frames = np.ceil(n_frames / rates).astype(np.int64)
    pos = np.arange(int(out_frames.max()))[None, :] * rates[:, None]  # analysis position per out frame
    i0 = np.minimum(np.floor(pos).astype(np.int64), n_frames)         # frame F = silence
    i1 = np.minimum(i0 + 1, n_frames)
    alpha = np.where(i0 < n_frames, pos - np.floor(pos), 0.0).astype(np.float32)[:, :, None]

    # analysis magnitude, phase and phase advance (omega + principal deviation), mod 2 pi
    two_pi = np.float32(2 * np.pi)
    omega = two_pi * hop * np.arange(bins, dtype=np.float32) / n_fft
    mag = np.zeros((n, n_frames + 1, bins), np.float32)
    ang = np.zeros((n, n_frames + 1, bins), np.float32)
    np.abs(spec, out=mag[:, :n_frames])
    np.arctan2(spec.imag, spec.real, out=ang[:, :n_frames])
    dphi = np.empty_like(ang)
    np.subtract(ang[:, 1:], ang[:, :-1], out=dphi[:, :-1])
    dphi[:, :-1] -= omega
    dphi[:, :-1] -= two_pi * np.round(dphi[:, :-1] / two_pi)
    dphi[:, -2:] = 0.0  # into / inside the silent frame
    dphi += omega
    dphi -= two_pi * np.floor(dphi / two_pi)

    rows = np.arange(n)[:, None]
    out_mag = mag[rows, i0]                                            # (n, K, B)
    out_mag += alpha * (mag[rows, i1] - out_mag)
    a0 = ang[rows, i0]
    adv = dphi[rows, i0]
    phase = np.empty_like(adv)
    phase[:, 0] = a0[:, 0]
    for k in range(1, phase.shape[1]):  # cumulative sum over frames (a loop beats cumsum on axis 1)
        np.add(phase[:, k - 1], adv[:, k - 1], out=phase[:, k])

    if phase_lock:
        # identity phase locking: each bin keeps its analysis phase offset to the nearest peak
        # (the later peak at or left of the bin, or the earlier one at or right of it)
        b = np.arange(bins, dtype=np.int16)
        peak = np.zeros(out_mag.shape, dtype=bool)
        peak[:, :, 1:-1] = (out_mag[:, :, 1:-1] > out_mag[:, :, :-2]) & (out_mag[:, :, 1:-1] >= out_mag[:, :, 2:])
        prev_pk = np.maximum.accumulate(np.where(peak, b, np.int16(-bins)), axis=2)
        rev = np.ascontiguousarray(peak[:, :, ::-1])
        next_pk = np.minimum.accumulate(np.where(rev, b[::-1].copy(), np.int16(2 * bins)), axis=2)[:, :, ::-1]
        pk = np.where(prev_pk + next_pk < 2 * b, next_pk, prev_pk)   # sentinels pick the existing side
        pk = np.where((pk >= 0) & (pk < bins), pk, b).reshape(n, -1).astype(np.intp)  # no peak: itself
        pk += (np.arange(pk.shape[1]) // bins * bins)[None, :]
        rel = (phase - a0).reshape(n, -1)
        phase = a0 + np.take_along_axis(rel, pk, axis=1).reshape(a0.shape)

    y_spec = np.empty(out_mag.shape, dtype=np.complex64)
    y_spec.real = out_mag * np.cos(phase)
    y_spec.imag = out_mag * np.sin(phase)
    lengths = np.round(length / rates).astype(np.int64)
    y = _istft(y_spec, n_fft, hop, int(lengths.max()))
    y *= np.arange(y.shape[1])[None, :] < lengths[:, None]
    return y, lengths


def stretch_frames(S: np.ndarray, rate, fcfg, fit: str = "center") -> np.ndarray:
    """Mel power ``S`` ``(N, frames, bins)`` of clips played ``rate`` times faster at the same
    pitch, cropped or zero-padded back to the clip like :func:`fit_rows` (``center`` or
    ``start``): frame ``t`` (centred on sample ``t * hop``) reads the source at
    ``(t * hop + offset) * rate``, interpolated linearly between the two nearest frames.

    Examples
    --------
    >>> import numpy as np
    >>> from auricle.features import preset
    >>> fcfg = preset("kws")                     # 101 frames of 10 ms
    >>> S = np.zeros((1, 101, 40), np.float32)
    >>> S[0, 40:60] = 1.0                        # a 200 ms "word" in the middle
    >>> slow = stretch_frames(S, 0.5, fcfg)      # half speed: twice as long, still centred
    >>> int((slow[0, :, 0] > 0.5).sum()), int(np.argmax(slow[0, :, 0] > 0.5))
    (39, 30)
    """
    n, F, _ = S.shape
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), (n,))
    hop, L = fcfg.resolved_hop_length, fcfg.n_samples
    Ls = np.floor(L / rate)  # the stretched clip's length in samples
    if fit == "start":
        off = np.zeros(n)
    else:
        off = np.where(Ls >= L, (Ls - L) // 2, -((L - Ls) // 2))
    pos = np.arange(F)[None, :] * hop + off[:, None]  # sample position in the stretched clip
    valid = (pos >= 0) & (pos < Ls[:, None])
    src = np.clip(pos * rate[:, None] / hop, 0, F - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, F - 1)
    a = (src - i0).astype(np.float32)[:, :, None]
    rows = np.arange(n)[:, None]
    out = (1 - a) * S[rows, i0] + a * S[rows, i1]
    out[~valid] = 0.0
    return out.astype(np.float32)


def _check_fit(owner: str, fit: str) -> str:
    if fit not in FIT_MODES:
        from auricle.errors import ConfigError
        raise ConfigError(f"{owner}: fit must be one of {', '.join(FIT_MODES)}, got {fit!r}")
    return fit


# --------------------------------------------------------------------------------------------
# transforms


class Speed(Transform):
    """Resample so the clip plays ``rate`` times faster (``rate`` in ``[min_rate, max_rate]``):
    pitch and tempo both scale by ``rate`` (1.1 moves 440 Hz to 484 Hz), then the clip is
    cropped/padded back to its length (``fit``)."""

    name = "speed"

    def __init__(self, min_rate: float = 0.9, max_rate: float = 1.1, fit: str = "center", p: float = 0.5):
        super().__init__(p)
        self.min_rate, self.max_rate = check_range("speed", "min_rate", min_rate, "max_rate", max_rate,
                                                   minimum=0.1, maximum=10.0)
        self.fit = _check_fit("speed", fit)

    def randomize(self, n, rng):
        return {"rate": rng.uniform(self.min_rate, self.max_rate, n)}

    def apply(self, x, *, rate, sr=16000, rng=None, **_):
        y, lengths = resample_rows(x, np.broadcast_to(np.asarray(rate, dtype=np.float64), (x.shape[0],)), sr)
        return fit_rows(y, lengths, x.shape[1], self.fit).astype(x.dtype)


class Tempo(Transform):
    """Phase-vocoder time stretch by ``rate`` in ``[min_rate, max_rate]`` (2 = twice as fast)
    keeping the pitch, then crop/pad back to the clip length (``fit``)."""

    name = "tempo"

    def __init__(self, min_rate: float = 0.8, max_rate: float = 1.25, fit: str = "center",
                 phase_lock: bool = False, p: float = 0.5):
        super().__init__(p)
        self.min_rate, self.max_rate = check_range("tempo", "min_rate", min_rate, "max_rate", max_rate,
                                                   minimum=0.1, maximum=10.0)
        self.fit = _check_fit("tempo", fit)
        self.phase_lock = bool(phase_lock)

    def randomize(self, n, rng):
        return {"rate": rng.uniform(self.min_rate, self.max_rate, n)}

    def apply(self, x, *, rate, sr=16000, rng=None, **_):
        rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), (x.shape[0],))
        y, lengths = time_stretch(x, rate, sr, phase_lock=self.phase_lock)
        return fit_rows(y, lengths, x.shape[1], self.fit).astype(x.dtype)

    def power_ok(self) -> bool:
        return True

    def apply_power(self, S, rms, *, fcfg, rate, rng=None, **_):
        """Stretch the frame axis of the mel power (linear interpolation between frames), then fit
        it to the clip as :meth:`apply` does.  A phase vocoder keeps each frame's magnitude
        spectrum and moves it in time, so this is its power-domain form; the level is kept."""
        return stretch_frames(S, rate, fcfg, self.fit), rms


class PitchShift(Transform):
    """Shift the pitch by ``semitones`` in ``[min_semitones, max_semitones]`` keeping the tempo:
    time-stretch by ``1 / ratio`` (phase vocoder), then resample ``ratio`` times faster,
    where ``ratio = 2 ** (semitones / 12)`` (+12 moves 440 Hz to 880 Hz)."""

    name = "pitch_shift"

    def __init__(self, min_semitones: float = -3.0, max_semitones: float = 3.0, phase_lock: bool = False,
                 p: float = 0.5):
        super().__init__(p)
        self.min_semitones, self.max_semitones = check_range(
            "pitch_shift", "min_semitones", min_semitones, "max_semitones", max_semitones,
            minimum=-36.0, maximum=36.0)
        self.phase_lock = bool(phase_lock)

    def randomize(self, n, rng):
        return {"semitones": rng.uniform(self.min_semitones, self.max_semitones, n)}

    def apply(self, x, *, semitones, sr=16000, rng=None, **_):
        ratio = 2.0 ** (np.broadcast_to(np.asarray(semitones, dtype=np.float64), (x.shape[0],)) / 12.0)
        y, lengths = time_stretch(x, 1.0 / ratio, sr, phase_lock=self.phase_lock)
        import soxr

        out = np.zeros_like(x)
        for i, r in enumerate(ratio):
            row = y[i, :lengths[i]]
            if r != 1.0:
                row = soxr.resample(row, float(sr) * float(r), float(sr), quality="HQ")
            out[i] = fit_rows(row[None], [len(row)], x.shape[1], "center")[0]
        return out
