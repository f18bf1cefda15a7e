"""Separation quality: SDR / ISR / SIR / SAR (BSS Eval v4, equal to museval), baselines, tables, pictures.

The metrics are those of the SiSEC 2018 / MUSDB18 campaigns, ``museval.evaluate`` in its default
``v4`` mode: the *images* variant of BSS Eval on multichannel sources, with **time-invariant**
multichannel distortion filters of 512 taps estimated once from the whole signals, then the
four energy ratios measured window by window (1 s windows, 1 s hop by default).  A song's score
for a stem is the median over its windows, ignoring the NaN of silent windows, and a dataset's
score is the median over songs (:func:`song_scores`, :func:`summarize`).

Why an implementation of our own
--------------------------------
Measured on this project's 2-core CPU machine, shared with other jobs (4 stereo sources, random
signals, 1 s windows; wall time, the spread over runs under different loads):

=================================  ==============  ============
song                               museval 0.4.1   this module
=================================  ==============  ============
30 s at 16 kHz (30 windows)        9.2 - 9.6 s     3.4 - 5 s
3 min at 44.1 kHz (180 windows)    89.5 s          9.7 - 12.5 s
=================================  ==============  ============

with the same values: the largest difference over every metric and window was 8e-14 dB (the
tests require 1e-6 dB on random mono and stereo signals, silent windows included).  On short
songs the time is mostly one Cholesky factorisation of the 4096 x 4096 Gram matrix; on long
ones museval's per-window convolutions dominate and are what this module removes.

``fast-bss-eval`` 0.1.4 cannot stand in: it implements the *sources* variant (one
single-channel filter per channel, SDR against the filtered reference, museval's
``bsseval_sources_version=True``), not the v4 *images* variant of SiSEC, so its SDR differs by
decibels (2.1 dB on 4 s of random stereo at 8 kHz: a definition, not rounding), and its
``bss_eval_sources`` fails with numpy 2 (``solve`` core-dimension error).  museval is only a
test dependency, and its package import needs ffmpeg (through musdb and stempeg).  So this
module follows museval's algorithm step for step and vectorises it:

* the lagged correlations of all references and estimates (lags 0..511) come from one blocked
  FFT pass (8192-point blocks, spectra accumulated over blocks by batched matrix products)
  instead of one FFT of the padded song per pair of channels;
* the 512-tap filters of all estimates come from one Cholesky factorisation of the reference Gram
  matrix (``G + eps I`` as museval; LU as museval if Cholesky fails) instead of one LU solve per
  estimate;
* the framewise decomposition projects the windows, a chunk of them at a time, in the frequency
  domain, and takes the energies there too (Parseval), instead of 20 ``fftconvolve`` calls per window and
  source.  SDR, which in the images variant is ``||s||^2 / ||s_hat - s||^2``, is summed in the
  time domain, exactly.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> refs = rng.standard_normal((2, 2, 8000))        # 2 sources, stereo, 1 s at 8 kHz
>>> ests = refs + 0.1 * rng.standard_normal(refs.shape)
>>> m = bss_eval(refs, ests, sr=8000, window=0.5, hop=0.5)
>>> sorted(m), m["sdr"].shape
(['isr', 'sar', 'sdr', 'sir'], (2, 2))
>>> bool(np.all(np.abs(m["sdr"] - 20) < 0.5))       # noise 20 dB below the sources
True
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from auricle.errors import AuricleError

METRICS = ("sdr", "isr", "sir", "sar")
FILTERS_LEN = 512  # museval's default distortion-filter length (taps)
_EPS = np.finfo(float).eps  # museval's diagonal loading of the Gram matrix
_CHUNK_BYTES = 64 << 20  # working-set target for the blocked FFT passes


class SeparationMetricsError(AuricleError):
    """References, estimates or a mixture whose shapes do not go together."""


# --------------------------------------------------------------------------------------------
# input checks


def _as_sources(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype != np.float32:  # float32 stays float32 (half the memory); computed in float64 chunk by chunk
        a = a.astype(np.float64, copy=False)
    if a.ndim == 2:
        a = a[:, None, :]
    if a.ndim != 3:
        raise SeparationMetricsError(
            f"{name} must be (sources, channels, samples) or (sources, samples), got shape {np.shape(x)}",
            fix="stack the stems on the first axis, e.g. np.stack([vocals, accompaniment])")
    if not np.isfinite(np.sum(a, dtype=np.float64)):  # NaN or inf anywhere makes the sum so
        raise SeparationMetricsError(f"{name} hold NaN or infinite samples",
                                     fix="check the separation output; np.nan_to_num if it is expected")
    return a


def _pair(references, estimates) -> tuple[np.ndarray, np.ndarray]:
    ref = _as_sources(references, "references")
    est = _as_sources(estimates, "estimates")
    if ref.shape != est.shape:
        if ref.shape[:2] == est.shape[:2]:
            fix = (f"cut or zero-pad the estimates to the references' {ref.shape[-1]} samples, "
                   f"e.g. estimates[..., :{ref.shape[-1]}] (or separate the whole file)")
        else:
            fix = "give one estimate per reference source, with the same number of channels, in the same order"
        raise SeparationMetricsError(
            f"estimates {tuple(np.shape(estimates))} and references {tuple(np.shape(references))} differ in shape "
            "(expected (sources, channels, samples) for both)", fix=fix)
    if ref.shape[0] == 0 or ref.shape[-1] == 0:
        raise SeparationMetricsError(f"nothing to evaluate: shape {ref.shape}",
                                     fix="give at least one source with at least one sample")
    return ref, est


def _frames(n: int, window: float, hop: float) -> tuple[np.ndarray, np.ndarray]:
    """Window starts and stops exactly as museval's ``Framing`` (windows past the end are dropped)."""
    if window < n:
        nwin = int(np.floor((n - window + hop) / hop))
    else:
        nwin = 1
    if nwin == 1 or not np.isfinite(hop):  # one window: museval's nan/inf guards give 0 .. min(window, n)
        return np.array([0]), np.array([int(np.floor(min(window, n)))])
    t = np.arange(nwin, dtype=np.float64)
    return np.floor(t * hop).astype(np.int64), np.floor(np.minimum(t * hop + window, n)).astype(np.int64)


# --------------------------------------------------------------------------------------------
# BSS Eval v4


def _lagged_xcorr(x: np.ndarray, ys: Sequence[np.ndarray], lags: int) -> np.ndarray:
    """``r[p, q, k] = sum_n x[p, n] * y[q, n + k]`` for ``0 <= k < lags`` (full linear correlation).

    ``x`` is ``(P, N)``, ``y`` the rows of the ``(Q_i, N)`` arrays ``ys`` one after the other.  One pass of ``M``-point FFTs of ``B``-sample blocks of
    ``x`` against the ``B + lags - 1`` samples of ``y`` from the same start; the cross-spectra are
    summed over blocks (a batched matrix product per frequency) and brought back with one inverse
    FFT per pair.  Only a chunk of blocks is held in float64 at a time.
    """
    from scipy import fft as sfft

    p, n = x.shape
    q = sum(len(y) for y in ys)
    m = min(8192, sfft.next_fast_len(n + lags - 1, real=True))
    m = max(m, sfft.next_fast_len(2 * lags, real=True))
    b = m - lags + 1  # samples of x per block: b + lags - 1 <= m, so no circular wrap
    nb = -(-n // b)
    f = m // 2 + 1
    acc = np.zeros((f, p, q), dtype=np.complex128)
    step = max(1, _CHUNK_BYTES // ((p + q) * f * 16 * 3))
    for b0 in range(0, nb, step):
        b1 = min(nb, b0 + step)
        lo, hi = b0 * b, b1 * b
        xs = np.zeros((p, hi - lo))
        xs[:, :min(n, hi) - lo] = x[:, lo:hi]
        ys_ = np.zeros((q, hi - lo + lags - 1))
        ys_[:, :min(n, hi + lags - 1) - lo] = np.concatenate([y[:, lo:hi + lags - 1] for y in ys])
        X = sfft.rfft(xs.reshape(p, b1 - b0, b), n=m, axis=-1)  # (p, blocks, f)
        Y = sfft.rfft(np.lib.stride_tricks.sliding_window_view(ys_, b + lags - 1, axis=-1)[:, ::b], n=m, axis=-1)
        del xs, ys_
        acc += np.matmul(np.ascontiguousarray(np.conj(X).transpose(2, 0, 1)),
                         np.ascontiguousarray(Y.transpose(2, 1, 0)))
    r = sfft.irfft(acc, n=m, axis=0)[:lags]  # (lags, p, q)
    return np.ascontiguousarray(r.transpose(1, 2, 0))


def _gram(rrr: np.ndarray) -> np.ndarray:
    """Gram matrix of delayed references from their lagged correlations.

    ``G[(u, a), (v, b)] = <x_u delayed a, x_v delayed b> = r_uv(a - b)``, rows and columns in
    museval's ``(source, channel, delay)`` order.
    """
    u, _, lags = rrr.shape
    # z[u, v, lags - 1 + k] = r_uv(k) for -lags < k < lags (r_uv(-k) = r_vu(k)), reversed so that
    # row a of the Toeplitz block is a forward window: G[(u, a), (v, b)] = z[u, v, lags - 1 + a - b]
    z = np.concatenate([rrr.transpose(1, 0, 2)[:, :, :0:-1], rrr], axis=-1)[:, :, ::-1]
    blocks = np.lib.stride_tricks.sliding_window_view(z, lags, axis=-1)[:, :, ::-1]  # (u, v, a, b) view
    g = np.empty((u, lags, u, lags))
    g[...] = blocks.transpose(0, 2, 1, 3)
    return g.reshape(u * lags, u * lags)


def _solve_psd(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``A^-1 D`` for the loaded Gram matrix ``A = G + eps I``: museval solves it by LU, here by
    Cholesky (half the work) where ``A`` allows it, else by LU as museval, else least squares."""
    from scipy import linalg

    try:
        return linalg.cho_solve(linalg.cho_factor(a, lower=False, check_finite=False), d, check_finite=False)
    except linalg.LinAlgError:
        pass
    try:
        return np.linalg.solve(a, d)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, d, rcond=None)[0]


def _distortion_filters(ref: np.ndarray, est: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """museval's time-invariant filters: every estimate projected on all delayed references
    (``c_all``, ``(S*C, lags, S*C)``: reference channel, delay, estimate channel) and on its own
    reference only (``c_own``, ``(S, C, lags, C)``)."""
    s, c, n = ref.shape
    x = ref.reshape(s * c, n)
    r = _lagged_xcorr(x, (x, est.reshape(s * c, n)), lags)
    g = _gram(r[:, :s * c])  # (s*c*lags, s*c*lags)
    g.flat[::g.shape[0] + 1] += _EPS  # museval's G + eps I (its own-source blocks get the same loading)
    d = r[:, s * c:].transpose(0, 2, 1).reshape(s * c * lags, s * c)  # <ref_u delayed a, est_v>
    c_all = _solve_psd(g, d).reshape(s * c, lags, s * c)
    c_own = np.empty((s, c, lags, c))
    k = c * lags
    for j in range(s):
        rows = slice(j * k, (j + 1) * k)
        c_own[j] = _solve_psd(g[rows, rows], d[rows, j * c:(j + 1) * c]).reshape(c, lags, c)
    return c_all, c_own


def _db(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """museval's ``_safe_db``: ``+inf`` where the denominator is exactly zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10 * np.log10(num / den)
    return np.where(den == 0, np.inf, out)


def bss_eval(references, estimates, *, sr: int, window: float = 1.0, hop: float = 1.0) -> dict[str, np.ndarray]:
    """BSS Eval v4 framewise SDR, ISR, SIR and SAR, equal to ``museval.evaluate``.

    Parameters
    ----------
    references, estimates : array_like
        ``(S, C, N)`` or ``(S, N)``: ``S`` sources (stems), ``C`` channels, ``N`` samples, the
        estimate ``j`` belonging to the reference ``j``.  The shapes must be equal.
    sr : int
        Sample rate, to turn ``window`` and ``hop`` into samples.
    window, hop : float
        Window length and hop in seconds (museval's and SiSEC's 1 s and 1 s by default);
        ``np.inf`` measures the whole signal as one window (memory: about 100 bytes per source,
        channel and sample, several GB for a 3-minute 4-stem stereo song at 44.1 kHz; 1 s windows
        are measured in chunks of about 64 MB).

    Returns
    -------
    dict of str to ndarray
        ``'sdr'``, ``'isr'``, ``'sir'``, ``'sar'``: each ``(S, n_windows)`` float64 in dB, what
        ``museval.evaluate(references.transpose(0, 2, 1), estimates.transpose(0, 2, 1),
        win=window * sr, hop=hop * sr)`` returns: the images variant with time-invariant 512-tap
        filters estimated on the whole signals.  Windows past the last full one are not
        measured.  A window in which any reference or any estimate is all zeros is NaN for every
        source (museval's rule).  Where museval refuses a source that is silent over the whole
        signal, every window is NaN here, so that one silent stem does not stop the evaluation
        of a dataset.  ``+inf`` where an error energy is exactly zero.

    Raises
    ------
    SeparationMetricsError
        If the shapes differ (the message names both and how to fix them) or samples are not finite.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> s = rng.standard_normal((2, 16000))              # two mono sources, 2 s at 8 kHz
    >>> m = bss_eval(s, s[::-1], sr=8000)                # the estimates swapped
    >>> m["sdr"].shape
    (2, 2)
    >>> bool(np.all(m["sir"] < -10))                     # mostly interference
    True
    >>> bss_eval(s, s[:, :8000], sr=8000)
    Traceback (most recent call last):
    ...
    auricle.separation.metrics.SeparationMetricsError: estimates (2, 8000) and references (2, 16000) differ in shape ...
    """
    ref, est = _pair(references, estimates)
    s, c, n = ref.shape
    if not (sr > 0 and window > 0 and hop > 0):
        raise SeparationMetricsError(f"bss_eval needs sr, window and hop > 0 (got sr={sr}, window={window}, hop={hop})",
                                     fix="use window=1.0, hop=1.0 (seconds), the SiSEC setting")
    start, stop = _frames(n, float(window) * sr, float(hop) * sr)
    nwin = len(start)
    out = {k: np.full((s, nwin), np.nan) for k in METRICS}
    # museval's silence test: a source is silent where its channel sum is zero at every sample
    # (in any window, of any reference or estimate: NaN for all sources in that window)
    sounding = np.ones(nwin, dtype=bool)
    for x in (ref, est):
        count = np.zeros((s, n + 1), dtype=np.int64)  # non-zero samples before each index
        np.cumsum(x.sum(axis=1) != 0, axis=-1, out=count[:, 1:])
        if np.any(count[:, -1] == 0):  # a source silent throughout: every window is NaN
            return out
        sounding &= np.all(count[:, stop] > count[:, start], axis=0)
        del count
    with _blas_threads():
        return _bss_eval(ref, est, start, stop, out, silent=~sounding)


def _blas_threads():
    """Cap BLAS threads for the Gram solve and the batched products: on a shared or small machine
    OpenBLAS's spinning threads made a 2048-point Cholesky take 1-4 s instead of 0.2 s; a few
    threads keep most of the speed on a large idle machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(max(1, min(4, (os.cpu_count() or 1) // 2)), user_api="blas")


def _bss_eval(ref, est, start, stop, out, *, silent):
    from scipy import fft as sfft

    s, c, n = ref.shape
    lags = FILTERS_LEN
    nwin = len(start)
    c_all, c_own = _distortion_filters(ref, est, lags)
    width = int((stop - start).max())
    m = sfft.next_fast_len(width + lags - 1, real=True)
    f = m // 2 + 1
    # filter spectra, laid out (frequency, in, out) for the batched products below
    h_all = np.ascontiguousarray(sfft.rfft(c_all, n=m, axis=1).transpose(1, 0, 2))  # (f, S*C, S*C)
    h_own = np.ascontiguousarray(sfft.rfft(c_own, n=m, axis=2).transpose(2, 0, 1, 3))  # (f, S, C, C)
    # Parseval weights of a real m-point signal from its rfft
    w = np.full(f, 2.0 / m)
    w[0] = 1.0 / m
    if m % 2 == 0:
        w[-1] = 1.0 / m

    def energy(z):  # z (f, t, S*C) complex -> (t, S): summed over time and channels
        zf = z.view(np.float64)  # (f, t, 2 S*C): real and imaginary parts side by side
        return np.tensordot(w, zf * zf, axes=(0, 0)).reshape(z.shape[1], s, 2 * c).sum(-1)

    u = s * c
    x_t = ref.reshape(u, n).T  # (N, S*C) views: windows are gathered as (width, windows, S*C)
    y_t = est.reshape(u, n).T
    ragged = bool(np.any(stop - start != width))  # only non-integer windows or one short window
    step = max(1, _CHUNK_BYTES // (10 * u * f * 16))
    offs = np.arange(width)[:, None]
    for t0 in range(0, nwin, step):
        t1 = min(nwin, t0 + step)
        nt = t1 - t0
        idx = start[None, t0:t1] + offs  # (width, t)
        if ragged:
            keep = (idx < stop[None, t0:t1])[..., None]
            idx = np.minimum(idx, n - 1)
        rw = x_t[idx].astype(np.float64, copy=False)  # (width, t, S*C)
        ew = y_t[idx].astype(np.float64, copy=False)
        if ragged:  # zero past each window's end, as museval's shorter window
            rw = rw * keep
            ew = ew * keep
        e_true = np.einsum("wtu,wtu->tu", rw, rw).reshape(nt, s, c).sum(-1)
        diff = ew - rw
        e_dist = np.einsum("wtu,wtu->tu", diff, diff).reshape(nt, s, c).sum(-1)
        del diff
        R = sfft.rfft(rw, n=m, axis=0)  # (f, t, S*C)
        E = sfft.rfft(ew, n=m, axis=0)
        del rw, ew
        p_all = np.matmul(R, h_all)  # every estimate projected on all delayed references
        p_own = np.matmul(R.reshape(f, nt, s, c).transpose(0, 2, 1, 3), h_own)  # (f, S, t, C): on its own
        p_own = np.ascontiguousarray(p_own.transpose(0, 2, 1, 3)).reshape(f, nt, u)
        vals = {
            "sdr": _db(e_true, e_dist),
            "isr": _db(e_true, energy(p_own - R)),
            "sir": _db(energy(p_own), energy(p_all - p_own)),
            "sar": _db(energy(p_all), energy(E - p_all)),
        }
        del R, E, p_all, p_own
        for k, v in vals.items():
            v[silent[t0:t1]] = np.nan
            out[k][:, t0:t1] = v.T
    return out


# --------------------------------------------------------------------------------------------
# per-song scores and baselines


def _nan_stats(values) -> dict[str, float]:
    """Median, mean and standard deviation ignoring NaN; NaN (and no warning) when nothing is left."""
    v = np.asarray(list(values), dtype=np.float64).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"median": math.nan, "mean": math.nan, "std": math.nan}
    with np.errstate(invalid="ignore"):  # inf - inf in the std of a perfect song
        return {"median": float(np.median(v)), "mean": float(np.mean(v)), "std": float(np.std(v))}


def song_scores(references, estimates, *, sr: int, stems: Sequence[str], **kw) -> dict[str, dict[str, float]]:
    """One song's scores per stem: the median over windows of each metric, ignoring NaN windows.

    Parameters
    ----------
    references, estimates : array_like
        As :func:`bss_eval`, sources in the order of ``stems``.
    sr : int
        Sample rate.
    stems : sequence of str
        One name per source.
    **kw
        ``window``, ``hop`` for :func:`bss_eval`.

    Returns
    -------
    dict
        ``{stem: {'sdr', 'sir', 'sar', 'isr'}}`` in dB, the SiSEC convention (median over the
        1 s windows where every source sounds); NaN for a stem without any such window.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> refs = rng.standard_normal((2, 1, 16000))
    >>> refs[:, :, 8000:] = 0                             # the second second is silent
    >>> sc = song_scores(refs, refs + 0.1 * rng.standard_normal(refs.shape), sr=8000,
    ...                  stems=["vocals", "accompaniment"])
    >>> sorted(sc), sorted(sc["vocals"])
    (['accompaniment', 'vocals'], ['isr', 'sar', 'sdr', 'sir'])
    >>> 15 < sc["vocals"]["sdr"] < 25                    # the silent window is left out
    True
    """
    stems = list(stems)
    n_src = np.shape(references)[0] if np.ndim(references) else 0
    if len(stems) != n_src:
        raise SeparationMetricsError(f"{len(stems)} stem names for {n_src} sources",
                                     fix="give one name per source, in the order of the first axis")
    m = bss_eval(references, estimates, sr=sr, **kw)
    return {stem: {k: _nan_stats(m[k][j])["median"] for k in ("sdr", "sir", "sar", "isr")}
            for j, stem in enumerate(stems)}


def _as_mixture(mixture) -> np.ndarray:
    a = np.asarray(mixture)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise SeparationMetricsError(f"the mixture must be (channels, samples) or (samples,), got shape {a.shape}",
                                     fix="pass one song, channels first")
    return a


def mixture_baseline(mixture, n_sources: int) -> np.ndarray:
    """The mixture itself as the estimate of every source: the floor any separator must beat.

    Parameters
    ----------
    mixture : array_like
        ``(C, N)`` or ``(N,)``.
    n_sources : int
        Number of sources ``S``.

    Returns
    -------
    ndarray
        ``(S, C, N)``, a copy of the mixture per source (``C = 1`` for a 1-D mixture).

    Examples
    --------
    >>> import numpy as np
    >>> mixture_baseline(np.zeros((2, 100)), 4).shape
    (4, 2, 100)
    """
    a = _as_mixture(mixture)
    if n_sources < 1:
        raise SeparationMetricsError(f"n_sources must be at least 1, got {n_sources}")
    return np.repeat(a[None], int(n_sources), axis=0)


def oracle_ratio_mask(mixture, references, *, n_fft: int, hop: int, power: float = 1.0) -> np.ndarray:
    """The ideal ratio mask ``|S_j|^p / sum_k |S_k|^p`` applied to the mixture: the oracle ceiling.

    The masks come from the true stems' STFTs, are applied to the mixture's STFT and inverted
    with :mod:`auricle.separation.stft` (the transforms the models use), so the result is the
    best a mask-based separator with this STFT can reach.  Where every stem is zero the mixture
    is shared equally, so the estimates always add up to the mixture.

    Parameters
    ----------
    mixture : array_like
        ``(C, N)`` or ``(N,)``.
    references : array_like
        ``(S, C, N)`` or ``(S, N)``, the true stems.
    n_fft, hop : int
        STFT size and hop (``n_fft`` divisible by ``hop``).
    power : float
        ``1`` for the magnitude ratio mask, ``2`` for the power (Wiener-like) mask.

    Returns
    -------
    ndarray
        ``(S, C, N)`` float32 estimates.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> refs = rng.standard_normal((2, 1, 4000))
    >>> est = oracle_ratio_mask(refs.sum(0), refs, n_fft=512, hop=128)
    >>> est.shape, bool(np.allclose(est.sum(0), refs.sum(0), atol=1e-4))
    ((2, 1, 4000), True)
    """
    from auricle.separation.stft import istft, stft

    mix = _as_mixture(mixture)
    ref = _as_sources(references, "references")
    if ref.shape[1:] != mix.shape:
        raise SeparationMetricsError(
            f"references {tuple(np.shape(references))} do not match the mixture {tuple(np.shape(mixture))}",
            fix="give the stems of this mixture, (sources, channels, samples) with the mixture's channels and length")
    if power <= 0:
        raise SeparationMetricsError(f"the mask power must be positive, got {power}", fix="use 1 or 2")
    mag = np.abs(stft(ref, n_fft=n_fft, hop=hop)).astype(np.float64) ** power  # (S, C, T, F)
    total = mag.sum(axis=0, keepdims=True)
    mask = np.divide(mag, total, out=np.full_like(mag, 1.0 / ref.shape[0]), where=total > 0)
    Z = stft(mix, n_fft=n_fft, hop=hop)[None] * mask
    return istft(Z, n_fft=n_fft, hop=hop, length=mix.shape[-1])


# --------------------------------------------------------------------------------------------
# summaries, tables and the report


def summarize(per_song: dict[str, dict[str, dict[str, dict[str, float]]]]) -> dict:
    """Median, mean and standard deviation over songs of every method, stem and metric.

    Parameters
    ----------
    per_song : dict
        ``per_song[method][song][stem][metric]`` -> float (what :func:`song_scores` returns per song).

    Returns
    -------
    dict
        ``{method: {stem: {metric: {'median', 'mean', 'std'}}}}``; songs whose value is NaN are
        left out (as pandas in museval's aggregation), NaN when no song has a value.  ``std`` is
        numpy's (``ddof=0``).

    Examples
    --------
    >>> s = summarize({"model": {"a": {"vocals": {"sdr": 4.0}}, "b": {"vocals": {"sdr": 6.0}}}})
    >>> s["model"]["vocals"]["sdr"]
    {'median': 5.0, 'mean': 5.0, 'std': 1.0}
    """
    out: dict = {}
    for method, songs in per_song.items():
        values: dict[str, dict[str, list[float]]] = {}
        for song in songs.values():
            for stem, metrics in song.items():
                for metric, v in metrics.items():
                    values.setdefault(stem, {}).setdefault(metric, []).append(np.nan if v is None else v)
        out[method] = {stem: {metric: _nan_stats(v) for metric, v in ms.items()} for stem, ms in values.items()}
    return out


def _columns(summary: dict, stems: Sequence[str], methods: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    methods = [m for m in methods if m in summary]

    def med(method, stem, metric):
        return summary.get(method, {}).get(stem, {}).get(metric, {}).get("median", math.nan)

    def fmt(v):
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"

    header = ["stem"] + [f"{m} {k.upper()}" for m in methods for k in ("sdr", "sir", "sar")]
    gap = "model" in methods and "oracle" in methods
    if gap:
        header.append("SDR gap to oracle")
    rows = []
    for stem in stems:
        row = [stem] + [fmt(med(m, stem, k)) for m in methods for k in ("sdr", "sir", "sar")]
        if gap:
            row.append(fmt(med("oracle", stem, "sdr") - med("model", stem, "sdr")))
        rows.append(row)
    return header, rows


def format_table(summary: dict, *, stems: Sequence[str], methods: Sequence[str]) -> str:
    """The report's table as aligned plain text: one row per stem, SDR/SIR/SAR (dB, median over songs) per method.

    Methods missing from ``summary`` are left out; the last column is the oracle's SDR minus the
    model's when both are there.

    Examples
    --------
    >>> s = summarize({"model": {"a": {"vocals": {"sdr": 4.0, "sir": 9.0, "sar": 5.0}}},
    ...                "oracle": {"a": {"vocals": {"sdr": 9.5, "sir": 20.0, "sar": 10.0}}}})
    >>> print(format_table(s, stems=["vocals"], methods=["model", "oracle"]))
    stem    model SDR  model SIR  model SAR  oracle SDR  oracle SIR  oracle SAR  SDR gap to oracle
    vocals       4.00       9.00       5.00        9.50       20.00       10.00               5.50
    """
    header, rows = _columns(summary, stems, methods)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(r, widths))).rstrip()
             for r in [header] + rows]
    return "\n".join(lines)


def _jsonable(obj):
    """Nested dicts of floats with NaN/inf as ``null`` (strict JSON for browsers and jq)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_report(out_dir, per_song: dict, *, stems: Sequence[str],
                 methods_order: Sequence[str] = ("model", "mixture", "oracle")) -> dict:
    """Write the separation report of a set of songs and return :func:`summarize`'s summary.

    Files written into ``out_dir`` (created if needed):

    ``separation_metrics.json``
        ``{"stems", "methods", "n_songs", "summary", "per_song"}``, NaN and inf written as ``null``.
    ``separation_metrics.md``
        A Markdown table: one row per stem, SDR/SIR/SAR per method (median over songs) and the
        SDR gap from the model to the oracle, then the picture.
    ``sdr.png``
        The distribution over songs of every stem's SDR for each method (boxes and songs as dots).

    Parameters
    ----------
    out_dir : str or Path
        Folder for the three files.
    per_song : dict
        ``per_song[method][song][stem][metric]``, e.g. ``{"model": {song: song_scores(...)}, ...}``.
    stems : sequence of str
        Stems in table order.
    methods_order : sequence of str
        Column order; methods of ``per_song`` not named here follow.

    Examples
    --------
    >>> import tempfile
    >>> per_song = {m: {"song": {"vocals": {"sdr": v, "sir": v, "sar": v, "isr": v}}}
    ...             for m, v in (("model", 5.0), ("mixture", 0.0), ("oracle", 9.0))}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     s = write_report(d, per_song, stems=["vocals"])
    ...     sorted(p.name for p in Path(d).iterdir())
    ['sdr.png', 'separation_metrics.json', 'separation_metrics.md']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stems = list(stems)
    methods = [m for m in methods_order if m in per_song] + [m for m in per_song if m not in methods_order]
    summary = summarize(per_song)
    songs = sorted({song for m in per_song.values() for song in m})
    doc = {"stems": stems, "methods": methods, "n_songs": len(songs), "summary": summary, "per_song": per_song}
    tmp = out / "separation_metrics.json.tmp"
    tmp.write_text(json.dumps(_jsonable(doc), indent=1, allow_nan=False))
    os.replace(tmp, out / "separation_metrics.json")

    header, rows = _columns(summary, stems, methods)
    lines = ["# Separation metrics", "",
             f"BSS Eval v4 (museval), dB: each song's median over 1 s windows, then the median over "
             f"{len(songs)} song{'s' if len(songs) != 1 else ''}. "
             "`mixture`: the mixture as every stem (the floor); `oracle`: the ideal ratio mask (the ceiling).", "",
             "| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "## SDR per song", "", "![SDR per song](sdr.png)", ""]
    (out / "separation_metrics.md").write_text("\n".join(lines))
    plot_sdr(per_song, out / "sdr.png", stems=stems, methods=methods)
    return summary


def plot_sdr(per_song: dict, path, *, stems: Sequence[str], methods: Sequence[str]) -> None:
    """Boxes of the per-song SDR of every stem, one colour per method, each song a dot."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m in methods if m in per_song]
    k = max(1, len(methods))
    width = 0.8 / k
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 + 1.6 * len(stems) * max(1, k / 3)), 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    rng = np.random.default_rng(0)
    n_songs = 0
    for mi, method in enumerate(methods):
        col = colours[mi % len(colours)]
        for si, stem in enumerate(stems):
            v = np.array([song.get(stem, {}).get("sdr", np.nan) for song in per_song[method].values()], dtype=float)
            v = v[np.isfinite(v)]
            n_songs = max(n_songs, len(v))
            if not len(v):
                continue
            x = si + (mi - (k - 1) / 2) * width
            ax.boxplot(v, positions=[x], widths=width * 0.85, patch_artist=True, showfliers=False,
                       boxprops=dict(facecolor=col, alpha=0.35, edgecolor=col),
                       medianprops=dict(color=col, lw=2), whiskerprops=dict(color=col), capprops=dict(color=col))
            ax.scatter(x + rng.uniform(-width * 0.25, width * 0.25, len(v)), v, s=12, color=col, zorder=3)
        ax.plot([], [], "s", color=col, alpha=0.6, label=method)
    ax.set_xticks(range(len(stems)))
    ax.set_xticklabels(stems, fontsize=11)
    ax.set_xlim(-0.6, len(stems) - 0.4)
    ax.set_ylabel("SDR (dB), median over windows")
    ax.set_title(f"SDR per song and stem ({n_songs} song{'s' if n_songs != 1 else ''})")
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    ax.grid(axis="y", alpha=0.3)
    if methods:
        ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_spectrograms(mixture, estimates, references=None, *, sr: int, stems: Sequence[str], path,
                      n_fft: int = 2048, hop: int = 512, seconds=None) -> None:
    """Log-magnitude spectrograms: the mixture on top, then a row per stem (estimate, reference beside it).

    Channels are averaged; every panel shares one colour scale (80 dB below the loudest bin),
    time in seconds, frequency in kHz.

    Parameters
    ----------
    mixture : array_like
        ``(C, N)`` or ``(N,)``.
    estimates : array_like
        ``(S, C, N)`` or ``(S, N)``.
    references : array_like, optional
        The true stems, same shape as ``estimates``; drawn in a second column.
    sr : int
        Sample rate.
    stems : sequence of str
        One name per source.
    path : str or Path
        PNG to write.
    n_fft, hop : int
        STFT of the picture.
    seconds : float or (float, float), optional
        Show only the first ``seconds`` seconds, or the span ``(start, end)`` in seconds.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> y = np.random.default_rng(4).standard_normal((2, 1, 8000)).astype(np.float32)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     plot_spectrograms(y.sum(0), y, y, sr=8000, stems=["a", "b"], path=Path(d) / "s.png", n_fft=256, hop=64)
    ...     (Path(d) / "s.png").stat().st_size > 0
    True
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from auricle.separation.stft import stft

    mix = _as_mixture(mixture).astype(np.float64)
    est = _as_sources(estimates, "estimates")
    ref = None if references is None else _as_sources(references, "references")
    stems = list(stems)
    if len(stems) != est.shape[0] or (ref is not None and ref.shape != est.shape) or est.shape[-1] != mix.shape[-1]:
        raise SeparationMetricsError(
            f"mixture {mix.shape}, estimates {est.shape}"
            + ("" if ref is None else f", references {ref.shape}") + f" and {len(stems)} stem names do not go together",
            fix="give (sources, channels, samples) stems of the mixture's length and one name per source")
    n = mix.shape[-1]
    if seconds is None:
        a, b = 0, n
    elif np.ndim(seconds) == 0:
        a, b = 0, min(n, int(round(float(seconds) * sr)))
    else:
        a, b = (min(n, max(0, int(round(float(t) * sr)))) for t in seconds)
    if b <= a:
        raise SeparationMetricsError(f"nothing to draw between samples {a} and {b} of {n}",
                                     fix="choose seconds inside the song")

    def spec(y):  # (C, N) -> (F, T) dB of the channel mean
        z = stft(y[:, a:b].mean(axis=0), n_fft=n_fft, hop=hop)
        return 20 * np.log10(np.abs(z).T + 1e-10)

    panels = [("mixture", spec(mix))]
    grid = [[0]]
    for j, stem in enumerate(stems):
        row = [len(panels)]
        panels.append((f"{stem}: estimate", spec(est[j])))
        if ref is not None:
            row.append(len(panels))
            panels.append((f"{stem}: reference", spec(ref[j])))
        grid.append(row)
    vmax = max(float(p.max()) for _, p in panels)
    vmin = vmax - 80.0
    ncols = 2 if ref is not None else 1
    fig = plt.figure(figsize=(5.5 * ncols + 1.2, 2.1 * len(grid) + 0.4), layout="constrained")
    gs = fig.add_gridspec(len(grid), ncols)
    extent = [a / sr, b / sr, 0, sr / 2000]
    im = None
    axes = []
    for r, row in enumerate(grid):
        for ci, pi in enumerate(row):
            ax = fig.add_subplot(gs[r, :] if r == 0 else gs[r, ci])
            title, img = panels[pi]
            im = ax.imshow(img, origin="lower", aspect="auto", extent=extent, vmin=vmin, vmax=vmax, cmap="magma",
                           interpolation="nearest")
            ax.set_title(title, fontsize=10)
            ax.set_ylabel("kHz")
            if r == len(grid) - 1:
                ax.set_xlabel("time (s)")
            elif r > 0:
                ax.tick_params(labelbottom=False)
            axes.append(ax)
    fig.colorbar(im, ax=axes, label="dB", fraction=0.03, pad=0.01)
    fig.savefig(path, dpi=100)
    plt.close(fig)
