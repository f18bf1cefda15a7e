"""Variable-length rows: how many feature frames a clip's real samples give, and the padding
frames after them (set to :data:`PAD_VALUE`, which masked sequence models skip).

Used by :mod:`auricle.data` (training and evaluation arrays), :mod:`auricle.inference` (sliding
windows) and :mod:`auricle.datasets.silence`.
"""
from __future__ import annotations

import numpy as np

from auricle.features.extraction import cmvn_

__all__ = ["PAD_VALUE", "mask_padding_", "valid_frames"]

#: Feature value of padding frames in variable-length data; sequence models mask it (keras Masking).
PAD_VALUE = 0.0


def valid_frames(fcfg, n_samples) -> np.ndarray:
    """Feature frames computed from ``n_samples`` real samples (the rest of a row is padding).

    Examples
    --------
    >>> from auricle.features import preset
    >>> valid_frames(preset("kws"), [16000, 8000, 0]).tolist()
    [101, 51, 1]
    """
    n = np.minimum(np.asarray(n_samples, dtype=np.int64), fcfg.n_samples)
    total = fcfg.output_shape[0]
    if fcfg.center:
        f = 1 + n // fcfg.hop_length
    else:
        f = 1 + (n - fcfg.n_fft) // fcfg.hop_length
    return np.clip(f, 1, total)


def mask_padding_(x: np.ndarray, lengths: np.ndarray, normalize: str, floor: float | None = None) -> np.ndarray:
    """Variable-length rows in place: per-clip CMVN over the valid frames only (when the feature
    config asks for ``per_clip``), then every padding frame set to :data:`PAD_VALUE`.

    Features of a zero-padded clip equal those of the unpadded clip on the valid frames (the
    STFT centre padding is zeros either way), so a masked model sees exactly the clip.
    """
    for i, n in enumerate(np.asarray(lengths, dtype=np.int64)):
        if normalize == "per_clip":
            cmvn_(x[i:i + 1, :n], floor=floor)
        x[i, n:] = PAD_VALUE
    return x
