"""From the network's stem estimates to complex stem STFTs: ratio masks or multichannel Wiener.

The U-Net gives an estimated magnitude per stem for the lowest ``bins`` STFT bins.  Two ways
turn those into stems (both as in Spleeter):

* ``ratio`` — soft masks ``m_j = (v_j^p + eps/S) / (sum_k v_k^p + eps)`` with ``p = 2``, applied to
  the mixture's complex STFT (so the mixture's phase).  The masks sum to one in every bin, hence
  the stems add back up to the mixture exactly (up to float rounding).
* ``wiener`` — multichannel Wiener filtering (norbert: spatial covariance per stem, one EM
  iteration), which also uses the stereo image; the filters sum to the identity up to the
  regulariser, so stems add back up to the mixture within ~1e-4 of its level.

Bins above ``bins`` (above ~11 kHz for the 44.1 kHz presets) get each stem's mean share of the top
eighth of the modelled band in that frame, normalised over stems, so they still sum to one.

Examples
--------
>>> import numpy as np
>>> v = np.random.default_rng(0).random((2, 10, 8, 2, 3))      # (batch, frames, bins, channels, stems)
>>> m = ratio_masks(v, total_bins=12)
>>> m.shape, bool(np.allclose(m.sum(-1), 1.0))
((2, 10, 12, 2, 3), True)
"""
from __future__ import annotations

import numpy as np

from auricle.errors import ConfigError

MASK_MODES = ("ratio", "wiener")
EPS = 1e-10


def extend_bins(v: np.ndarray, total_bins: int) -> np.ndarray:
    """Extend ``(..., bins, channels, stems)`` stem estimates to ``total_bins`` frequency bins.

    The added bins hold, per frame, channel and stem, the mean of the top eighth of the modelled
    bins (so the stems keep their share of the top of the spectrum).
    """
    bins = v.shape[-3]
    if total_bins <= bins:
        return v[..., :total_bins, :, :]
    top = v[..., bins - max(1, bins // 8):, :, :].mean(axis=-3, keepdims=True)
    reps = [1] * v.ndim
    reps[-3] = total_bins - bins
    return np.concatenate([v, np.tile(top, reps)], axis=-3)


def ratio_masks(v: np.ndarray, *, total_bins: int | None = None, power: float = 2.0,
                eps: float = EPS) -> np.ndarray:
    """Soft ratio masks over stems (last axis) that sum to one.

    Parameters
    ----------
    v : ndarray, ``(..., bins, channels, stems)``
        Non-negative stem magnitude estimates.
    total_bins : int, optional
        Extend to this many bins first (see :func:`extend_bins`).
    power : float
        Spleeter's separation exponent (2: power-spectrogram ratios).
    """
    v = np.asarray(v, dtype=np.float32)
    if total_bins is not None:
        v = extend_bins(v, total_bins)
    v = np.maximum(v, 0)
    vp = v * v if power == 2 else np.power(v, power)
    n = v.shape[-1]
    return (vp + eps / n) / (vp.sum(-1, keepdims=True) + eps)


def apply_masks(X: np.ndarray, v: np.ndarray, *, mode: str = "ratio", iterations: int = 1) -> np.ndarray:
    """Complex stem STFTs from the mixture STFT and the stem estimates.

    Parameters
    ----------
    X : ndarray, complex ``(channels, frames, total_bins)``
        The mixture's STFT.
    v : ndarray, ``(frames, bins, channels, stems)``
        The network's stem magnitude estimates (``bins <= total_bins``).
    mode : {"ratio", "wiener"}
        See the module docstring.
    iterations : int
        EM iterations of the Wiener filter.

    Returns
    -------
    ndarray, complex64 ``(stems, channels, frames, total_bins)``
    """
    if mode not in MASK_MODES:
        raise ConfigError(f"unknown mask mode {mode!r}", fix=f"use one of {', '.join(MASK_MODES)}")
    C, T, F = X.shape
    if mode == "ratio":
        # the modelled bins and the extension separately: the same as ratio_masks(v, total_bins=F)
        # without materialising the repeated top bins
        v = np.asarray(v, dtype=np.float32)
        bins = min(v.shape[1], F)
        out = np.empty((v.shape[-1], C, T, F), dtype=np.complex64)
        out[..., :bins] = ratio_masks(v[:, :bins]).transpose(3, 2, 0, 1) * X[None, :, :, :bins]
        if F > bins:
            top = extend_bins(v, bins + 1)[:, bins:]            # (T, 1, C, S)
            out[..., bins:] = ratio_masks(top).transpose(3, 2, 0, 1) * X[None, :, :, bins:]
        return out
    import norbert

    ve = extend_bins(np.asarray(v, dtype=np.float32), F)        # (T, F, C, S)
    x = X.transpose(1, 2, 0).astype(np.complex128)             # norbert: (frames, bins, channels)
    # norbert regularises with sqrt(eps) * I: work at unit RMS so that it stays negligible
    scale = max(float(np.sqrt(np.mean(np.abs(x) ** 2))), 1e-8)
    y = norbert.wiener(ve.astype(np.float64) / scale, x / scale, iterations=int(iterations),
                       use_softmask=True, eps=1e-10) * scale
    # what the regulariser left out (quiet bins) is shared by the ratio masks: stems sum exactly
    y += ratio_masks(ve) * (x - y.sum(-1))[..., None]
    return y.transpose(3, 2, 0, 1).astype(np.complex64)
