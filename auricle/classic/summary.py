"""Clip-level summary features (the GTZAN feature-CSV set) for classic classifiers.

Per clip, the mean and variance over frames of

* 20 MFCCs (``mfcc1..mfcc20``),
* 12 chroma bins (``chroma1..chroma12``, C first, STFT chroma with max-normalised frames),
* RMS energy, spectral centroid, spectral bandwidth, spectral roll-off (85 %) and
  zero-crossing rate,

plus one tempo estimate (BPM): 20*2 + 12*2 + 5*2 + 1 = 75 numbers.  The GTZAN CSV also has
``harmony``/``perceptr`` (HPSS) columns; they are left out (costly median filtering, little
gain).  Everything is computed for a batch ``(n, samples)`` at once with numpy/scipy; the
STFT, mel filterbank and dB conversion are :mod:`auricle.features` (librosa-equal); one
power spectrogram per chunk of clips feeds every spectral feature.

Frame settings follow librosa's defaults (``n_fft=2048``, ``hop_length=512``, 128 mel bands
up to ``sr/2``), which is how the GTZAN CSV was made; each per-frame function here equals the
librosa function named in its docstring (checked in ``tests/test_classic.py``), except
:func:`chroma`, which does not estimate the tuning (librosa's ``tuning=0.0``), and
:func:`tempo`, a simpler global-autocorrelation estimate (see its docstring).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.fft

from auricle.errors import ConfigError

#: Frame-level features summarised by mean and variance, after the MFCCs and chroma.
SPECTRAL = ("rms", "spectral_centroid", "spectral_bandwidth", "rolloff", "zero_crossing_rate")


@dataclass(frozen=True)
class SummaryConfig:
    """Settings of :func:`summary_features` (librosa defaults; ``sr`` is the clips' rate)."""

    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    n_mfcc: int = 20
    n_chroma: int = 12
    roll_percent: float = 0.85
    tempo: bool = True

    def __post_init__(self):
        for name in ("sr", "n_fft", "hop_length", "n_mels", "n_mfcc", "n_chroma"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"summary {name} must be a positive integer, got {v!r}")
        if self.n_mfcc > self.n_mels:
            raise ConfigError(f"summary n_mfcc={self.n_mfcc} exceeds n_mels={self.n_mels}")
        if not 0 < self.roll_percent < 1:
            raise ConfigError(f"summary roll_percent must be in (0, 1), got {self.roll_percent}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SummaryConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown summary setting(s) {unknown}", fix=f"valid: {', '.join(sorted(names))}")
        return cls(**d)


def feature_names(cfg: SummaryConfig = SummaryConfig()) -> list[str]:
    """Column names of :func:`summary_features`, in order (GTZAN CSV style)."""
    names = []
    for i in range(1, cfg.n_mfcc + 1):
        names += [f"mfcc{i}_mean", f"mfcc{i}_var"]
    for i in range(1, cfg.n_chroma + 1):
        names += [f"chroma{i}_mean", f"chroma{i}_var"]
    for s in SPECTRAL:
        names += [f"{s}_mean", f"{s}_var"]
    if cfg.tempo:
        names.append("tempo")
    return names


# --------------------------------------------------------------------------------------------
# time-domain frame features
# --------------------------------------------------------------------------------------------

def _frame_sums(v: np.ndarray, frame_length: int, hop: int) -> np.ndarray:
    """Sums of ``v[..., t*hop : t*hop + frame_length]`` for every full frame, via a cumulative sum."""
    c = np.zeros(v.shape[:-1] + (v.shape[-1] + 1,), dtype=np.float64)
    np.cumsum(v, axis=-1, out=c[..., 1:])
    n_frames = 1 + (v.shape[-1] - frame_length) // hop
    starts = np.arange(n_frames) * hop
    return c[..., starts + frame_length] - c[..., starts]


def rms(y: np.ndarray, *, frame_length: int = 2048, hop_length: int = 512) -> np.ndarray:
    """Root-mean-square energy per frame, ``(n, frames)``; equals ``librosa.feature.rms(y=...)``
    (centred frames, zero padding)."""
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    pad = frame_length // 2
    yp = np.pad(y, ((0, 0), (pad, pad)))
    return np.sqrt(np.maximum(_frame_sums(yp * yp, frame_length, hop_length), 0.0) / frame_length)


def zero_crossing_rate(y: np.ndarray, *, frame_length: int = 2048, hop_length: int = 512,
                       threshold: float = 1e-10) -> np.ndarray:
    """Fraction of sign changes per frame, ``(n, frames)``; equals
    ``librosa.feature.zero_crossing_rate(y)`` (centred frames with edge padding; values with
    ``|y| <= threshold`` count as positive zeros; a frame's first sample never counts)."""
    y = np.atleast_2d(np.asarray(y))
    pad = frame_length // 2
    yp = np.pad(y, ((0, 0), (pad, pad)), mode="edge")
    neg = (yp < 0) & (np.abs(yp) > threshold)
    change = np.zeros(yp.shape, dtype=np.float64)
    change[:, 1:] = neg[:, 1:] != neg[:, :-1]
    # a frame starting at s counts changes at s+1 .. s+L-1
    sums = _frame_sums(change, frame_length, hop_length) - change[:, np.arange(
        1 + (yp.shape[1] - frame_length) // hop_length) * hop_length]
    return sums / frame_length


# --------------------------------------------------------------------------------------------
# spectral frame features
#
# The public functions take librosa's layout (n, bins, frames); the work is done on
# time-major 2-D arrays (n * frames, bins), so every reduction over bins is one BLAS
# matrix product over contiguous rows.
# --------------------------------------------------------------------------------------------

def fft_frequencies(sr: float, n_fft: int) -> np.ndarray:
    return np.linspace(0.0, float(sr) / 2, 1 + n_fft // 2)


def _time_major(S: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """``(n, bins, frames)`` (or ``(bins, frames)``) -> float64 ``(n * frames, bins)`` and ``(n, frames)``."""
    S = np.asarray(S, dtype=np.float64)
    if S.ndim == 2:
        S = S[None]
    n, F, T = S.shape
    return np.ascontiguousarray(S.transpose(0, 2, 1)).reshape(n * T, F), (n, T)


def _spectral_tm(S2: np.ndarray, f: np.ndarray, roll_percent: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroid, bandwidth (p=2) and roll-off of time-major magnitudes ``(frames, bins)``."""
    total = S2.sum(axis=1)
    silent = total < np.finfo(np.float64).tiny  # librosa leaves such frames unnormalised (all ~0)
    inv = 1.0 / np.where(silent, 1.0, total)
    m1 = (S2 @ f) * inv
    m2 = (S2 @ (f * f)) * inv
    mass = np.where(silent, total, 1.0)  # sum of the normalised frame: 1, or ~0 when silent
    # sum_f Sn (f - c)^2 = E[f^2] - 2 c E[f] + c^2 sum_f Sn, with c = E[f]
    var = m2 - 2 * m1 * m1 + m1 * m1 * mass
    cum = np.cumsum(S2, axis=1)
    reached = cum >= roll_percent * cum[:, -1:]
    return m1, np.sqrt(np.maximum(var, 0.0)), f[np.argmax(reached, axis=1)]


def spectral_centroid(S: np.ndarray, *, sr: float, n_fft: int) -> np.ndarray:
    """Magnitude-weighted mean frequency per frame (Hz), ``(n, frames)`` from ``S`` ``(n, bins, frames)``;
    equals ``librosa.feature.spectral_centroid(S=S)`` (silent frames give 0)."""
    S2, shape = _time_major(S)
    return _spectral_tm(S2, fft_frequencies(sr, n_fft), 0.85)[0].reshape(shape)


def spectral_bandwidth(S: np.ndarray, *, sr: float, n_fft: int) -> np.ndarray:
    """Second-order spread around the centroid (Hz); equals ``librosa.feature.spectral_bandwidth(S=S)``."""
    S2, shape = _time_major(S)
    return _spectral_tm(S2, fft_frequencies(sr, n_fft), 0.85)[1].reshape(shape)


def spectral_rolloff(S: np.ndarray, *, sr: float, n_fft: int, roll_percent: float = 0.85) -> np.ndarray:
    """Lowest frequency (Hz) below which ``roll_percent`` of the frame's magnitude lies; equals
    ``librosa.feature.spectral_rolloff(S=S)``."""
    S2, shape = _time_major(S)
    return _spectral_tm(S2, fft_frequencies(sr, n_fft), roll_percent)[2].reshape(shape)


def chroma_filterbank(*, sr: float, n_fft: int, n_chroma: int = 12, tuning: float = 0.0,
                      ctroct: float = 5.0, octwidth: float | None = 2.0, base_c: bool = True) -> np.ndarray:
    """STFT-bin -> pitch-class weights ``(n_chroma, 1 + n_fft // 2)`` (Ellis' chroma filterbank,
    as ``librosa.filters.chroma``).

    Each FFT bin k > 0 has a position on a continuous pitch-class axis, ``n_chroma *
    log2(f_k / (A440 / 16))``; it contributes to chroma c with a Gaussian (in pitch-class units,
    circular) whose width is the bin's spacing on that axis (at least one pitch class).  Each
    bin's weights have unit L2 norm, then a Gaussian over octaves centred on octave ``ctroct``
    (width ``octwidth`` octaves) de-emphasises very low and very high bins.  The DC bin is
    placed 1.5 octaves below bin 1.
    """
    k = np.arange(1, n_fft)
    f = k * float(sr) / n_fft
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    pos = n_chroma * np.log2(f / (a440 / 16.0))
    pos = np.concatenate([[pos[0] - 1.5 * n_chroma], pos])          # (n_fft,)
    width = np.concatenate([np.maximum(np.diff(pos), 1.0), [1.0]])
    half = round(n_chroma / 2.0)
    D = pos[None, :] - np.arange(n_chroma)[:, None]                 # (n_chroma, n_fft)
    D = np.remainder(D + half + 10 * n_chroma, n_chroma) - half
    W = np.exp(-0.5 * (2.0 * D / width[None, :]) ** 2)
    W /= np.maximum(np.sqrt((W ** 2).sum(axis=0, keepdims=True)), np.finfo(float).tiny)
    if octwidth is not None:
        W *= np.exp(-0.5 * ((pos / n_chroma - ctroct) / octwidth) ** 2)[None, :]
    if base_c:
        W = np.roll(W, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(W[:, :1 + n_fft // 2])


def _chroma_tm(P2: np.ndarray, W: np.ndarray) -> np.ndarray:
    C = P2 @ W.T
    peak = np.abs(C).max(axis=1, keepdims=True)
    return C / np.where(peak < np.finfo(C.dtype).tiny, 1.0, peak)


def chroma(P: np.ndarray, *, sr: float, n_fft: int, n_chroma: int = 12) -> np.ndarray:
    """Chromagram ``(n, n_chroma, frames)`` of a POWER spectrogram ``(n, bins, frames)``, each frame
    divided by its maximum; equals ``librosa.feature.chroma_stft(S=P, tuning=0.0)`` (no tuning estimate)."""
    P2, (n, T) = _time_major(P)
    C = _chroma_tm(P2, chroma_filterbank(sr=sr, n_fft=n_fft, n_chroma=n_chroma))
    return C.reshape(n, T, n_chroma).transpose(0, 2, 1)


# --------------------------------------------------------------------------------------------
# tempo
# --------------------------------------------------------------------------------------------

def onset_strength(log_mel_db: np.ndarray) -> np.ndarray:
    """Spectral flux ``(n, frames)``: mean over mel bands of the positive dB increase from the
    previous frame (first frame 0), librosa's ``onset_strength`` recipe without its lag padding."""
    d = np.maximum(0.0, np.diff(log_mel_db, axis=-1)).mean(axis=-2)
    return np.concatenate([np.zeros(d.shape[:-1] + (1,)), d], axis=-1)


def tempo(onset: np.ndarray, *, sr: float, hop_length: int, start_bpm: float = 120.0, std_bpm: float = 1.0,
          min_bpm: float = 30.0, max_bpm: float = 320.0) -> np.ndarray:
    """One tempo (BPM) per clip from its onset envelope ``(n, frames)``.

    The envelope's autocorrelation over the whole clip (normalised to 1 at lag 0, negative
    values clipped) is scored at every lag whose tempo ``60 * sr / (hop * lag)`` lies in
    ``[min_bpm, max_bpm]`` as ``log1p(1e6 * ac) + prior``, with librosa's log-normal prior
    centred on ``start_bpm`` (``std_bpm`` octaves); the best lag's tempo is returned.
    librosa's ``feature.tempo`` averages local (8.9 s) autocorrelations instead; on clear
    rhythms both agree within the lag quantisation (tests/test_classic.py).  A clip with a
    flat envelope, or too short for any lag, gives ``start_bpm``.
    """
    o = np.atleast_2d(np.asarray(onset, dtype=np.float64))
    n, T = o.shape
    out = np.full(n, float(start_bpm))
    if T < 3:
        return out
    x = o - o.mean(axis=1, keepdims=True)
    nfft = scipy.fft.next_fast_len(2 * T)
    X = scipy.fft.rfft(x, n=nfft, axis=1)
    ac = scipy.fft.irfft(X.real ** 2 + X.imag ** 2, n=nfft, axis=1)[:, :T]
    lags = np.arange(1, T)
    bpm = 60.0 * sr / (hop_length * lags)
    ok = (bpm >= min_bpm) & (bpm <= max_bpm)
    if not ok.any():
        return out
    lags, bpm = lags[ok], bpm[ok]
    zero = ac[:, :1]
    flat = zero[:, 0] <= 1e-12
    acn = np.maximum(ac[:, lags] / np.where(zero > 0, zero, 1.0), 0.0)
    prior = -0.5 * ((np.log2(bpm) - np.log2(start_bpm)) / std_bpm) ** 2
    best = np.argmax(np.log1p(1e6 * acn) + prior[None, :], axis=1)
    out = bpm[best]
    out[flat] = float(start_bpm)
    return out


# --------------------------------------------------------------------------------------------
# everything at once
# --------------------------------------------------------------------------------------------

def frame_features(waves: np.ndarray, cfg: SummaryConfig = SummaryConfig()) -> dict[str, np.ndarray]:
    """Every frame-level feature of a batch of clips: ``{"mfcc": (n, n_mfcc, T), "chroma": (n, 12, T),
    "rms": (n, T), ..., "onset": (n, T)}`` (float64; librosa's layout)."""
    from auricle.features import mel_filterbank, power_to_db, spectrogram

    y = np.atleast_2d(np.asarray(waves, dtype=np.float32))
    if y.ndim != 2:
        raise ConfigError(f"waves must be (n, samples), got shape {y.shape}")
    P2, (n, T) = _time_major(spectrogram(y, n_fft=cfg.n_fft, hop_length=cfg.hop_length, power=2.0))
    M = mel_filterbank(sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels).astype(np.float64)
    mel = (P2 @ M.T).reshape(n, T, cfg.n_mels).transpose(0, 2, 1)
    mel_db = power_to_db(mel, top_db=80.0)  # top_db clamp per clip, as librosa on one clip
    # DCT-II, orthonormal, over the mel axis (librosa.feature.mfcc)
    mf = scipy.fft.dct(mel_db, type=2, norm="ortho", axis=1)[:, :cfg.n_mfcc]
    W = chroma_filterbank(sr=cfg.sr, n_fft=cfg.n_fft, n_chroma=cfg.n_chroma)
    ch = _chroma_tm(P2, W).reshape(n, T, cfg.n_chroma).transpose(0, 2, 1)
    np.sqrt(P2, out=P2)  # magnitudes from here on
    cen, bw, ro = (v.reshape(n, T) for v in _spectral_tm(P2, fft_frequencies(cfg.sr, cfg.n_fft), cfg.roll_percent))
    return {
        "mfcc": mf,
        "chroma": ch,
        "rms": rms(y, frame_length=cfg.n_fft, hop_length=cfg.hop_length),
        "spectral_centroid": cen,
        "spectral_bandwidth": bw,
        "rolloff": ro,
        "zero_crossing_rate": zero_crossing_rate(y, frame_length=cfg.n_fft, hop_length=cfg.hop_length),
        "onset": onset_strength(mel_db),
    }


def summary_features(waves: np.ndarray, cfg: SummaryConfig = SummaryConfig(), *,
                     chunk_bytes: int = 1 << 27) -> np.ndarray:
    """Summary vectors ``(n, len(feature_names(cfg)))`` float32 of clips ``(n, samples)`` at ``cfg.sr``.

    Clips are processed in chunks of about ``chunk_bytes`` of float64 spectrogram.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal((3, 16000)).astype("float32") * 0.1
    >>> summary_features(y, SummaryConfig(sr=16000)).shape
    (3, 75)
    """
    y = np.asarray(waves)
    if y.ndim == 1:
        y = y[None]
    if y.ndim != 2:
        raise ConfigError(f"waves must be (n, samples), got shape {y.shape}", fix="stack clips into a 2-D array")
    n_feat = len(feature_names(cfg))
    out = np.zeros((len(y), n_feat), dtype=np.float32)
    if len(y) == 0:
        return out
    frames = 1 + y.shape[1] // cfg.hop_length
    per_clip = 8 * frames * (1 + cfg.n_fft // 2) * 3
    step = int(max(1, min(len(y), chunk_bytes // max(per_clip, 1))))
    for s in range(0, len(y), step):
        ff = frame_features(y[s:s + step], cfg)
        cols = []
        for key in ("mfcc", "chroma"):
            m, v = ff[key].mean(axis=-1), ff[key].var(axis=-1)
            cols.append(np.stack([m, v], axis=-1).reshape(len(m), -1))  # mfcc1_mean, mfcc1_var, ...
        for key in SPECTRAL:
            cols.append(np.stack([ff[key].mean(axis=-1), ff[key].var(axis=-1)], axis=-1))
        if cfg.tempo:
            cols.append(tempo(ff["onset"], sr=cfg.sr, hop_length=cfg.hop_length)[:, None])
        out[s:s + step] = np.concatenate(cols, axis=1)
    return out


# --------------------------------------------------------------------------------------------
# prosody: pitch (YIN) and energy statistics of one utterance
# --------------------------------------------------------------------------------------------

#: Names of :func:`prosody_features`, in order.  ``f0_*`` are statistics of log2 F0 over the
#: voiced frames (``f0_jitter`` / ``f0_delta_std``: mean absolute / std of its frame-to-frame
#: change), ``energy_*`` of the frame level in dB relative to the utterance's loudest frame over
#: the active frames (within 35 dB of it), ``duration`` in seconds.
PROSODY = ("f0_mean", "f0_std", "f0_p5", "f0_p25", "f0_p50", "f0_p75", "f0_p95", "f0_range",
           "f0_jitter", "f0_delta_std", "voiced_fraction", "energy_mean", "energy_std", "energy_p10",
           "energy_p50", "energy_p90", "energy_flux", "duration", "active_fraction")


def yin_f0(y: np.ndarray, *, sr: float, fmin: float = 60.0, fmax: float = 500.0, frame_length: int = 1024,
           hop_length: int = 256, threshold: float = 0.1) -> np.ndarray:
    """Fundamental frequency (Hz) per frame of one signal by YIN (de Cheveigné & Kawahara 2002);
    equals ``librosa.yin(y, fmin=, fmax=, sr=, frame_length=, hop_length=, trough_threshold=)``
    (librosa 0.11: centred frames with zero padding, full-frame difference function).

    Each frame's cumulative-mean-normalised difference is searched over the periods
    ``[floor(sr/fmax), min(ceil(sr/fmin), frame_length - 1)]``: the first local minimum below
    ``threshold`` (else the global minimum), refined by a parabola through its neighbours.  Every
    frame gets an estimate: unvoiced and silent frames give arbitrary values, so callers gate them
    (as :func:`prosody_features` does).

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> f0 = yin_f0(np.sin(2 * np.pi * 200 * t), sr=16000)
    >>> bool(abs(np.median(f0) - 200) < 1)
    True
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ConfigError(f"yin_f0 takes one signal (samples,), got shape {y.shape}")
    lo = int(np.floor(sr / fmax)) if fmax > 0 else 0
    hi = min(int(np.ceil(sr / fmin)), frame_length - 1) if fmin > 0 else 0
    if not (0 < fmin < fmax <= sr / 2) or lo < 1 or hi - lo < 2:
        raise ConfigError(f"yin_f0 needs 0 < fmin < fmax <= sr/2 and a period range of 3+ samples: fmin={fmin}, "
                          f"fmax={fmax}, sr={sr}, frame_length={frame_length}",
                          fix="widen fmin..fmax or raise frame_length")
    pad = frame_length // 2
    yp = np.pad(y, (pad, pad))
    n_frames = 1 + (len(yp) - frame_length) // hop_length
    x = np.lib.stride_tricks.sliding_window_view(yp, frame_length)[::hop_length][:n_frames]
    nfft = scipy.fft.next_fast_len(2 * frame_length - 1)
    X = scipy.fft.rfft(x, n=nfft, axis=1)
    acf = scipy.fft.irfft(X.real ** 2 + X.imag ** 2, n=nfft, axis=1)[:, :hi + 1]
    c = np.cumsum(x * x, axis=1)
    k = np.arange(1, hi + 1)
    d = 2 * (acf[:, :1] - acf[:, k]) - c[:, k - 1]                      # d[:, p - 1] for period p
    mean = np.cumsum(d, axis=1) / k
    cm = d[:, lo - 1:hi] / (mean[:, lo - 1:hi] + np.finfo(np.float64).tiny)  # periods lo..hi
    left = np.concatenate([cm[:, :1], cm[:, :-1]], axis=1)
    right = np.concatenate([cm[:, 1:], cm[:, -1:]], axis=1)
    trough = (cm < left) & (cm <= right)
    trough[:, 0] = cm[:, 0] < cm[:, 1]
    below = trough & (cm < threshold)
    j = np.where(below.any(axis=1), np.argmax(below, axis=1), np.argmin(cm, axis=1))
    a = left + right - 2 * cm
    b = (right - left) / 2
    shift = np.where(np.abs(b) >= np.abs(a), 0.0, -b / np.where(a == 0, 1.0, a))
    shift[:, 0] = shift[:, -1] = 0.0
    rows = np.arange(n_frames)
    return float(sr) / (lo + j + shift[rows, j])


def prosody_features(y: np.ndarray, *, sr: float, fmin: float = 60.0, fmax: float = 500.0,
                     frame_length: int = 1024, hop_length: int = 256, active_db: float = 35.0) -> np.ndarray:
    """The :data:`PROSODY` statistics (float32, ``len(PROSODY)``) of one utterance ``(samples,)``.

    A frame is active when its RMS level is within ``active_db`` of the loudest frame, voiced when
    also its YIN F0 (:func:`yin_f0`) lies inside ``(1.08 fmin, 0.96 fmax)`` (estimates pinned at
    the search limits are unvoiced noise).  Pitch statistics are of log2 F0 (so a speaker's
    register shifts them all alike); with fewer than 3 voiced frames they are 0.  Meant for whole
    utterances of any length (speech emotion: pitch level, range and movement, loudness
    dynamics, length), not for fixed windows.

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> v = prosody_features(0.5 * np.sin(2 * np.pi * 220 * t), sr=16000)
    >>> round(float(2 ** v[PROSODY.index("f0_p50")])), round(float(v[PROSODY.index("duration")]), 2)
    (220, 1.0)
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or len(y) == 0:
        raise ConfigError(f"prosody_features takes one non-empty signal (samples,), got shape {y.shape}")
    f0 = yin_f0(y, sr=sr, fmin=fmin, fmax=fmax, frame_length=frame_length, hop_length=hop_length)
    level = 20 * np.log10(rms(y, frame_length=frame_length, hop_length=hop_length)[0] + 1e-5)
    n = min(len(f0), len(level))
    f0, level = f0[:n], level[:n] - level[:n].max()
    active = level > -active_db
    voiced = active & (f0 > 1.08 * fmin) & (f0 < 0.96 * fmax)
    if voiced.sum() >= 3:
        lf = np.log2(f0[voiced])
        dl = np.diff(lf)
        p5, p25, p50, p75, p95 = np.percentile(lf, [5, 25, 50, 75, 95])
        pitch = [lf.mean(), lf.std(), p5, p25, p50, p75, p95, p95 - p5, np.abs(dl).mean(), dl.std()]
    else:
        pitch = [0.0] * 10
    la = level[active]
    dyn = np.abs(np.diff(la)).mean() if len(la) > 1 else 0.0
    out = [*pitch, voiced.mean(), la.mean(), la.std(), *np.percentile(la, [10, 50, 90]), dyn, len(y) / float(sr),
           active.mean()]
    return np.asarray(out, dtype=np.float32)
