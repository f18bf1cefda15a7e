"""Model-input features of a batch: :func:`extract`, its halves :func:`mel_power` / :func:`finish_power`, CMVN."""
from __future__ import annotations

import functools

import numpy as np

from auricle.errors import ConfigError
from auricle.features._checks import _as_batch, _check_finite
from auricle.features.config import CMVN_EPS, FeatureConfig
from auricle.features.kernel import _db_inplace, compute
from auricle.features.mel import mel_plan
from auricle.features.mfcc import dct_matrix
from auricle.features.stft import stft_plan


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
    >>> from auricle.features import preset
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
        st, mel, dct = plans(cfg)
        db = (1.0, 1e-10, None if cfg.top_db is None else float(cfg.top_db))
        out = compute(y2, st, power=float(cfg.power), mel=mel, db=db, dct=dct, workers=workers)
    if cfg.normalize == "per_clip":
        cmvn_(out, floor=cfg.cmvn_floor)
    return out


def plans(cfg: FeatureConfig) -> tuple:
    """``(stft plan, mel plan or None, DCT matrix or None)`` of a spectral config."""
    st = stft_plan(cfg.n_fft, cfg.hop_length, cfg.win_length, cfg.window, cfg.center, "constant")
    mel = dct = None
    if cfg.kind in ("log_mel", "mfcc"):
        mel = mel_plan(cfg.sr, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax, False, "slaney")
    if cfg.kind == "mfcc":
        dct = dct_matrix(cfg.n_mels, cfg.n_mfcc, 2, "ortho", 0)
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
    st, mel, _ = plans(cfg)
    return compute(y2, st, power=float(cfg.power), mel=mel, db=None, workers=workers)


def finish_power(cfg: FeatureConfig, S: np.ndarray) -> np.ndarray:
    """The back half of :func:`extract` on :func:`mel_power` output: dB (per-clip ``top_db``
    clamp), DCT for MFCC, per-clip normalization.  Works in place on ``S`` when no DCT runs."""
    S = np.ascontiguousarray(S, dtype=np.float32)
    if S.ndim != 3:
        raise ConfigError(f"expected (N, frames, bins) power, got shape {S.shape}")
    _db_inplace(S, 1.0, 1e-10, None if cfg.top_db is None else float(cfg.top_db))
    out = S
    if cfg.kind == "mfcc":
        dct = dct_matrix(cfg.n_mels, cfg.n_mfcc, 2, "ortho", 0)
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
