"""Named feature setups (:data:`PRESETS`) and :func:`preset`."""
from __future__ import annotations

from typing import Any

from auricle.errors import ConfigError
from auricle.features.config import FeatureConfig

_KWS = dict(sr=16000, n_fft=512, win_length=400, hop_length=160, window="hann", n_mels=40, fmin=20.0,
            fmax=8000.0)

#: Named feature setups.  ``kws``: 16 kHz log-mel 40 bands, 25 ms / 10 ms -> (101, 40) per second.
#: ``seed``: the classic course setup, 22.05 kHz MFCC 13 of 128 mels, n_fft 2048, hop 512 -> (44, 13).
#: ``mfcc40``: kws framing, 40 MFCC of 40 mels.  ``waveform``: raw 16 kHz samples -> (16000, 1).
#: ``environmental``: 22.05 kHz log-mel 64, 5 s -> (216, 64).  ``emotion``: 16 kHz log-mel 64, 20 ms hop, 2 s -> (101, 64).
#: ``music``: 22.05 kHz log-mel 64 to 11 kHz, 3 s -> (130, 64).  ``music44``: 44.1 kHz log-mel 128 to 16 kHz, 3 s -> (130, 128).
PRESETS: dict[str, FeatureConfig] = {
    "kws": FeatureConfig(kind="log_mel", **_KWS),
    "seed": FeatureConfig(kind="mfcc", sr=22050, n_fft=2048, win_length=None, hop_length=512, n_mels=128,
                          fmin=0.0, fmax=None, n_mfcc=13),
    "mfcc40": FeatureConfig(kind="mfcc", n_mfcc=40, **_KWS),
    "waveform": FeatureConfig(kind="waveform", sr=16000),
    # environmental sound (ESC-50 style): 22.05 kHz log-mel 64 bands, 46 ms / 23 ms, 5 s -> (216, 64)
    "environmental": FeatureConfig(kind="log_mel", sr=22050, duration=5.0, n_fft=1024, win_length=1024,
                                   hop_length=512, n_mels=64, fmin=20.0, fmax=11025.0),
    # speech emotion: 16 kHz log-mel 64 bands, 25 ms / 20 ms, 2 s windows of the utterance -> (101, 64)
    "emotion": FeatureConfig(kind="log_mel", sr=16000, duration=2.0, n_fft=512, win_length=400, hop_length=320,
                             n_mels=64, fmin=20.0, fmax=8000.0),
    # music (instruments, genre): 22.05 kHz log-mel 64 bands up to 11.025 kHz, 93 ms / 23 ms, 3 s windows -> (130, 64)
    "music": FeatureConfig(kind="log_mel", sr=22050, duration=3.0, n_fft=2048, win_length=None, hop_length=512,
                           n_mels=64, fmin=0.0, fmax=11025.0),
    # music at 44.1 kHz: log-mel 128 bands up to 16 kHz, 93 ms / 23 ms, 3 s windows -> (130, 128)
    "music44": FeatureConfig(kind="log_mel", sr=44100, duration=3.0, n_fft=4096, win_length=None, hop_length=1024,
                             n_mels=128, fmin=0.0, fmax=16000.0),
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
