"""FeatureConfig: everything that decides a model's input features (hashable, JSON-able, frozen)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from auricle.errors import ConfigError
from auricle.features._checks import _check_db, _check_power, _is_int, _number, _positive_int
from auricle.features.mel import mel_plan
from auricle.features.mfcc import dct_matrix
from auricle.features.stft import stft_plan

KINDS = ("waveform", "spectrogram", "log_mel", "mfcc")

#: ``FeatureConfig.normalize`` values.
NORMALIZATIONS = ("none", "per_clip")


#: Added to the per-bin standard deviation by ``normalize="per_clip"``.
CMVN_EPS = 1e-5


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
        st = stft_plan(self.n_fft, self.hop_length, self.win_length, self.window, self.center, "constant")
        st.n_frames(self.n_samples)  # center=False with clips shorter than n_fft
        _check_power(self.power)
        _check_db(1e-10, self.top_db)
        if self.kind in ("log_mel", "mfcc"):
            mel_plan(self.sr, self.n_fft, self.n_mels, self.fmin, self.fmax, False, "slaney")
        if self.kind == "mfcc":
            dct_matrix(self.n_mels, self.n_mfcc, 2, "ortho", 0)

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
