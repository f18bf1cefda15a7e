"""The feature engine: chunked float32 STFT power -> [mel] -> [dB] -> [DCT], with float64 repair.

:func:`compute` is what every public function in :mod:`auricle.features` runs.  The pieces the
streaming front end (:mod:`auricle.streaming.frontend`) reuses frame by frame are public here:
:func:`apply_mel` (the banded mel projection), :func:`risky_frames` / :func:`refine_frames` (the
precision check and the float64 recomputation) and :data:`REFINE_DB`.  A plan
(:func:`auricle.features.stft.stft_plan`, :func:`auricle.features.mel.mel_plan`,
:func:`auricle.features.mfcc.dct_matrix`) is computed once per configuration and passed in.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import as_strided

from auricle.errors import ConfigError
from auricle.features._checks import _check_finite

#: Target size in bytes of one chunk's frame buffer (chunk clips x frames x n_fft float32).
#: About L2-sized: measured fastest on the development machine (see bench/bench_features.py).
CHUNK_BYTES = 1 << 21


#: float32 FFT round-off is white noise at about 1e-7 of a frame's RMS spectral level, so a
#: value far below its frame's average level loses relative precision (measured worst cases:
#: ~3e-4 dB at 40 dB below, ~5e-4 dB at 45 dB, ~3e-3 dB at 60 dB).  Frames holding a value that
#: matters (within ``top_db`` - or 80 dB when there is no clamp - of the clip's maximum, with a
#: 10 dB margin) and lying more than ``REFINE_DB`` below the frame's average level (per FFT bin,
#: after undoing the mel weights) are recomputed in float64.
REFINE_DB = 45.0

#: When more than this fraction of a chunk's frames needed float64, the next chunk is computed
#: wholly in float64 (refining costs ~1.7 frames per frame, a float64 chunk ~1.6).
_F64_SWITCH = 0.5

#: Counters of the precision fallbacks since import (frames computed, frames refined in float64,
#: frames of chunks computed wholly in float64); bench/bench_features.py reports them.
STATS = {"frames": 0, "refined": 0, "frames64": 0}


def apply_mel(P: np.ndarray, plan: MelPlan, out: np.ndarray) -> None:
    """``out[r, m] = sum_f P[r, f] W[f, m]`` for 2-D ``P`` (rows, n_freq), ``out`` (rows, n_mels)."""
    for a, c, lo, hi, W in plan.groups:
        if hi > lo:
            np.matmul(P[:, lo:hi], W, out=out[:, a:c])
        else:
            out[:, a:c] = 0.0


def compute(y2: np.ndarray, st: StftPlan, *, power: float, mel: MelPlan | None = None,
             db: tuple | None = None, dct: np.ndarray | None = None, workers: int = 1,
             refine_db: float = REFINE_DB, out: np.ndarray | None = None) -> np.ndarray:
    """Time-major features ``(clips, frames, bins)`` float32 of ``y2`` ``(clips, samples)``.

    power spectrum -> [mel] -> [dB: (ref, amin, top_db), per clip] -> [DCT matrix].

    Chunks of clips are computed in float32; frames where float32 round-off would cost more
    than ~5e-4 dB are recomputed in float64 (:func:`refine_frames`).  When most frames of a chunk
    needed that (pure tones, very steep spectra), the next chunk is computed in float64 outright.
    """
    B, n = y2.shape
    F = st.n_frames(n)
    nf = st.n_freq
    bins = dct.shape[1] if dct is not None else (mel.n_mels if mel is not None else nf)
    if out is None:
        out = np.empty((B, F, bins), dtype=np.float32)
    if B == 0:
        return out
    chunk = int(max(1, min(B, CHUNK_BYTES // (F * st.n_fft * 4))))
    pad = st.n_fft // 2 if st.center else 0
    lo = (st.n_fft - st.win) // 2  # where librosa's centred window starts inside the frame
    padbuf = np.zeros((chunk, n + 2 * pad), dtype=np.float32) if pad and st.pad_mode == "constant" else None
    frames = np.zeros((chunk, F, st.n_fft), dtype=np.float32)  # columns [win:] stay zero
    frames64 = None
    pbuf = np.empty((chunk, F, nf), dtype=np.float32) if mel is not None else None
    melbuf = np.empty((chunk, F, mel.n_mels), dtype=np.float32) if (mel is not None and dct is not None) else None
    ones = np.ones(nf, dtype=np.float32)
    wsum = mel.wsum if mel is not None else np.ones(nf)
    # a value v (in |X|**power units) is at risk if v < (E2 / (nf * tau)) ** (power / 2) * wsum
    risk_coef = (wsum * (1.0 / (nf * 10.0 ** (refine_db / 10.0))) ** (power / 2.0)).astype(np.float32)
    floor_db = (db[2] if db is not None and db[2] is not None else 80.0) + 10.0
    floor_fac = np.float32(10.0 ** (-floor_db / 10.0))
    amin = np.float32(db[1] if db is not None else 0.0)
    use64 = False
    w = st.window
    for s in range(0, B, chunk):
        b = min(chunk, B - s)
        x = y2[s:s + b]
        if padbuf is not None:
            padbuf[:b, pad:pad + n] = x
            xp = padbuf[:b]
        elif pad:
            xp = np.pad(x, ((0, 0), (pad, pad)), mode=st.pad_mode)
        else:
            xp = x
        view = as_strided(xp[:, lo:], shape=(b, F, st.win), strides=(xp.strides[0], st.hop * 4, 4),
                          writeable=False)
        P = out[s:s + b] if pbuf is None else pbuf[:b]
        if use64:
            if frames64 is None:
                frames64 = np.zeros((chunk, F, st.n_fft), dtype=np.float64)
            fr = frames64[:b]
            np.multiply(view, st.window64, out=fr[:, :, :st.win])
            X = scipy.fft.rfft(fr, axis=-1, workers=workers)  # complex128
            Xf = X.view(np.float64)
            np.square(Xf, out=Xf)
            np.add(Xf[..., 0::2], Xf[..., 1::2], out=P, casting="same_kind")
        else:
            fr = frames[:b]
            np.multiply(view, w, out=fr[:, :, :st.win])
            X = scipy.fft.rfft(fr, axis=-1, workers=workers)  # complex64 (b, F, nf)
            Xf = X.view(np.float32)
            np.square(Xf, out=Xf)
            np.add(Xf[..., 0::2], Xf[..., 1::2], out=P)
        E2 = (P.reshape(b * F, nf) @ ones).reshape(b, F)  # frame energy, sum of |X|**2
        if power == 1.0:
            np.sqrt(P, out=P)
        elif power != 2.0:
            np.power(P, power / 2.0, out=P)
        if mel is None:
            S = P
        else:
            S = out[s:s + b] if melbuf is None else melbuf[:b]
            apply_mel(P.reshape(b * F, nf), mel, S.reshape(b * F, mel.n_mels))
        clip_max = S.reshape(b, -1).max(axis=1)
        if not np.isfinite(clip_max).all():  # NaN/inf in the input spread to whole frames
            _check_finite(x, s)
            raise ConfigError("audio values are too large: the spectrum overflows float32",
                              fix="scale the audio to about [-1, 1]")
        risky = risky_frames(S, E2, power, clip_max, risk_coef, floor_fac, amin)
        n_risky = 0 if risky is None else int(np.count_nonzero(risky))
        if n_risky and not use64:
            refine_frames(S, risky, view, st, power, mel)
            clip_max = S.reshape(b, -1).max(axis=1)
        STATS["frames"] += b * F
        STATS["refined"] += n_risky if not use64 else 0
        STATS["frames64"] += b * F if use64 else 0
        use64 = n_risky > _F64_SWITCH * b * F
        if db is not None:
            _db_inplace(S, *db, clip_max=clip_max)
        if dct is not None:
            out[s:s + b].reshape(b * F, bins)[...] = S.reshape(b * F, -1).astype(np.float64) @ dct
    return out


def risky_frames(S: np.ndarray, E2: np.ndarray, power: float, clip_max: np.ndarray, risk_coef: np.ndarray,
           floor_fac: np.float32, amin: np.float32) -> np.ndarray | None:
    """``(clips, frames)`` bool: frames holding a value that float32 round-off could spoil.

    None when no value of the block is below its frame's risk threshold (the usual case).
    """
    if power != 2.0:
        E2 = E2 ** np.float32(power / 2.0)
    low = S < E2[..., None] * risk_coef
    if not low.any():
        return None
    floor = np.maximum(clip_max * floor_fac, amin)[:, None, None]
    low &= S > floor
    return low.any(axis=-1)


def refine_frames(S: np.ndarray, risky: np.ndarray, view: np.ndarray, st: StftPlan, power: float,
            mel: MelPlan | None) -> None:
    """Recompute in float64 the ``risky`` frames of ``S`` (time-major, ``|X|**power`` units)."""
    ci, ti = np.nonzero(risky)
    seg = view[ci, ti].astype(np.float64)  # (k, win); casting first is 2x faster than a mixed multiply
    seg *= st.window64
    X = scipy.fft.rfft(seg, n=st.n_fft, axis=-1)
    Xf = X.view(np.float64)
    np.square(Xf, out=Xf)
    P = np.add(Xf[..., 0::2], Xf[..., 1::2])
    if power == 1.0:
        np.sqrt(P, out=P)
    elif power != 2.0:
        np.power(P, power / 2.0, out=P)
    P = P.astype(np.float32)
    if mel is None:
        S[ci, ti] = P
    else:
        vals = np.empty((len(ci), mel.n_mels), dtype=np.float32)
        apply_mel(P, mel, vals)
        S[ci, ti] = vals


def _db_inplace(S: np.ndarray, ref: Any, amin: float, top_db: float | None, *,
                clip_max: np.ndarray | None = None) -> None:
    """power_to_db on a time-major ``(clips, frames, bins)`` block, in place, clamp per clip.

    The ``top_db`` clamp is applied in the power domain before the log,
    ``max(S, max(amin, max S) * 10**(-top_db/10))``, which is librosa's
    ``max(dB, max dB - top_db)`` with two passes fewer.
    """
    b = S.shape[0]
    if callable(ref):
        # librosa's layout for the callable, one clip at a time
        ref_value = np.array([ref(S[i].T) for i in range(b)], dtype=np.float64)[:, None, None]
    else:
        ref_value = np.abs(ref)
    if top_db is not None:
        if clip_max is None:
            clip_max = S.reshape(b, -1).max(axis=1)
        floor = np.maximum(clip_max * np.float32(10.0 ** (-top_db / 10.0)), np.float32(amin))
        np.maximum(S, floor[:, None, None], out=S)
    else:
        np.maximum(S, amin, out=S)
    np.log(S, out=S)  # float32 log is SIMD in numpy, log10 is not (5x slower)
    S *= np.float32(10.0 / np.log(10.0))
    ref_db = 10.0 * np.log10(np.maximum(amin, ref_value))
    if np.ndim(ref_db) or ref_db != 0.0:
        S -= np.asarray(ref_db, dtype=np.float32)


def _to_librosa_layout(tm: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
    """time-major (clips, frames, bins) -> (*lead, bins, frames), C-contiguous."""
    out = np.ascontiguousarray(tm.transpose(0, 2, 1))
    return out.reshape(lead + out.shape[1:])
