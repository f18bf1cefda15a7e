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
PRESETS: dict[str, FeatureConfig] = {
    "kws": FeatureConfig(kind="log_mel", **_KWS),
    "seed": FeatureConfig(kind="mfcc", sr=22050, n_fft=2048, win_length=None, hop_length=512, n_mels=128,
                          fmin=0.0, fmax=None, n_mfcc=13),
    "mfcc40": FeatureConfig(kind="mfcc", n_mfcc=40, **_KWS),
    "waveform": FeatureConfig(kind="waveform", sr=16000),
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
