"""Incremental features: packets of any size in, the offline extractor's frames out.

:class:`StreamingFrontend` keeps its own overlap buffer (the last ``win_length`` samples that
the next frame still needs) and emits every frame as soon as the samples it covers have
arrived.  The arithmetic is the offline engine's (:mod:`auricle.features`): the same float32
window multiply, ``scipy.fft.rfft``, banded mel product, float64 refinement of frames whose
low values float32 round-off would spoil, float32 ``log`` and float64 DCT, so that for a
config with ``top_db=None`` and ``normalize="none"`` the frames equal
``extract(cfg.replace(duration=len(y) / sr), y)`` of the concatenated signal (measured max
difference ~1e-6 dB; see ``tests/test_streaming.py``).

What cannot be streamed exactly
-------------------------------
* ``top_db``: the offline clamp is ``max(S, max_over_clip(S) * 10**(-top_db/10))``, which needs
  the loudest frame of the whole clip, future frames included.  Streaming uses the running
  maximum of the frames seen so far (since the last :meth:`reset`); frames before the clip's
  loudest frame may then be clamped less than offline.
* ``normalize="per_clip"`` (CMVN) divides by statistics of the whole clip.  Streaming uses the
  mean and standard deviation over a sliding window of the last ``cfg.n_frames`` frames (the
  training clip length), so the first frames of a stream are normalised with few statistics.
* The float64 refinement of a frame depends (offline) on the clip's maximum too; streaming
  decides with the running maximum, which refines a superset of the frames.  The difference is
  only in values ~90 dB below the loudest frame and ~45 dB below their own frame's level.

:attr:`StreamingFrontend.exact` is True only when none of these apply; :attr:`approximation`
says in words what is approximated.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import as_strided

from auricle.errors import ConfigError
from auricle.features import (CMVN_EPS, REFINE_DB, FeatureConfig, apply_mel, dct_matrix, mel_plan, refine_frames,
                              risky_frames, stft_plan)

__all__ = ["StreamingFrontend", "as_float_packet", "streaming_exactness"]

#: Integer PCM dtypes accepted in packets, with their full scale.
_PCM_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0, np.dtype(np.int8): 128.0}


def streaming_exactness(cfg: FeatureConfig) -> tuple[bool, str]:
    """``(exact, reason)``: can features of ``cfg`` be streamed equal to the offline extractor?"""
    why = []
    if cfg.kind == "waveform":
        return True, "waveform features are the samples themselves"
    if cfg.top_db is not None:
        why.append(f"top_db={cfg.top_db:g} clamps each clip against its loudest frame (future frames "
                   "included); streaming clamps against the running maximum")
    if getattr(cfg, "dither_db", None) is not None:
        why.append("dither_db scales a fixed noise pattern by each clip's peak; a stream has neither")
    if cfg.normalize == "per_clip":
        why.append(f"normalize=per_clip uses whole-clip statistics; streaming uses a sliding window of "
                   f"the last {cfg.n_frames} frames")
    if why:
        return False, "; ".join(why)
    return True, "top_db=None and normalize=none: frames equal the offline extractor's"


def as_float_packet(packet, *, channels_last: bool = True) -> np.ndarray:
    """A packet as 1-D float32 samples: int PCM is scaled to [-1, 1), channels are averaged.

    Raises :class:`ConfigError` for dtypes that are not audio (complex, bool, object, strings)
    and for more than two dimensions.
    """
    x = np.asarray(packet)
    if x.dtype in _PCM_SCALE:
        x = x.astype(np.float32) / np.float32(_PCM_SCALE[x.dtype])
    elif x.dtype == np.uint8:
        x = (x.astype(np.float32) - 128.0) / 128.0
    elif x.dtype.kind == "f":
        x = x.astype(np.float32, copy=False)
    else:
        raise ConfigError(f"audio packet has dtype {x.dtype}, which is not audio",
                          fix="send float32 samples in [-1, 1] or int16 PCM")
    if x.ndim == 2:
        # (frames, channels) as sounddevice delivers it (or (channels, frames) if channels_last=False)
        x = x.mean(axis=1 if channels_last else 0, dtype=np.float32)
    elif x.ndim == 0:
        x = x.reshape(1)
    elif x.ndim > 2:
        raise ConfigError(f"audio packet has shape {x.shape}", fix="send a 1-D packet of samples "
                          "(or (samples, channels))")
    return np.ascontiguousarray(x, dtype=np.float32)


class _SlidingCMVN:
    """Mean/std over the last ``n`` frames (float64 running sums), applied frame by frame."""

    def __init__(self, n: int, bins: int, eps: float = CMVN_EPS):
        self.n, self.eps = int(n), float(eps)
        self.ring = np.zeros((self.n, bins))
        self.sum = np.zeros(bins)
        self.sq = np.zeros(bins)
        self.count = 0
        self.pos = 0

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        out = np.empty_like(frames)
        for i, f in enumerate(frames.astype(np.float64)):
            if self.count >= self.n:
                old = self.ring[self.pos]
                self.sum -= old
                self.sq -= old * old
            else:
                self.count += 1
            self.ring[self.pos] = f
            self.sum += f
            self.sq += f * f
            self.pos = (self.pos + 1) % self.n
            mean = self.sum / self.count
            var = np.maximum(self.sq / self.count - mean * mean, 0.0)
            out[i] = (f - mean) / (np.sqrt(var) + self.eps)
        return out


class StreamingFrontend:
    """Log-mel / MFCC / spectrogram frames from audio packets of any size.

    Parameters
    ----------
    cfg : FeatureConfig
        The run's feature configuration (``auricle.inference.load_run(...).feature_config``).
    input_sr : int, optional
        Sample rate of the packets; when it differs from ``cfg.sr`` the packets are resampled
        with a streaming soxr resampler (then frames are close to, not equal to, the offline ones).
    nan_policy : {"zero", "raise"}
        Non-finite samples are replaced by 0 and counted in :attr:`stats` (``"zero"``), or the
        packet is rejected with a :class:`ConfigError` and the stream stays as it was.
    approximate : bool
        Allow configs that cannot be streamed exactly (``top_db``, ``per_clip``); when False
        such a config raises :class:`ConfigError`.

    Examples
    --------
    >>> import numpy as np
    >>> from auricle.features import preset
    >>> fe = StreamingFrontend(preset("kws", top_db=None))
    >>> y = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    >>> n = sum(len(fe.push(y[i:i + 320])) for i in range(0, 16000, 320)) + len(fe.flush())
    >>> n
    101
    """

    def __init__(self, cfg: FeatureConfig, *, input_sr: int | None = None, nan_policy: str = "zero",
                 approximate: bool = True):
        if not isinstance(cfg, FeatureConfig):
            raise ConfigError(f"cfg must be a FeatureConfig, got {type(cfg).__name__}")
        if cfg.kind == "waveform":
            raise ConfigError("the streaming front end computes spectral features; this run uses raw waveforms",
                              fix="feed the samples to the model directly (kind=waveform models are not streamable)")
        if nan_policy not in ("zero", "raise"):
            raise ConfigError(f"nan_policy must be 'zero' or 'raise', got {nan_policy!r}")
        self.cfg = cfg
        self.exact, self.approximation = streaming_exactness(cfg)
        if not self.exact and not approximate:
            raise ConfigError(f"features of this run cannot be streamed exactly: {self.approximation}",
                              fix="retrain with features top_db=null and normalize=none, or allow the approximation")
        self.nan_policy = nan_policy
        self.sr = int(cfg.sr)
        self.input_sr = int(input_sr) if input_sr else self.sr
        st = stft_plan(cfg.n_fft, cfg.hop_length, cfg.win_length, cfg.window, cfg.center, "constant")
        self._st = st
        self._mel = self._dct = None
        if cfg.kind in ("log_mel", "mfcc"):
            self._mel = mel_plan(cfg.sr, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax, False, "slaney")
        if cfg.kind == "mfcc":
            self._dct = dct_matrix(cfg.n_mels, cfg.n_mfcc, 2, "ortho", 0)
        self.bins = cfg.n_bins
        self.hop = st.hop
        self._pad = st.n_fft // 2 if st.center else 0
        self._lo = (st.n_fft - st.win) // 2
        nf = st.n_freq
        self._ones = np.ones(nf, dtype=np.float32)
        wsum = self._mel.wsum if self._mel is not None else np.ones(nf)
        power = float(cfg.power)
        self._power = power
        self._risk_coef = (wsum * (1.0 / (nf * 10.0 ** (REFINE_DB / 10.0))) ** (power / 2.0)).astype(np.float32)
        self._floor_fac = np.float32(10.0 ** (-((cfg.top_db if cfg.top_db is not None else 80.0) + 10.0) / 10.0))
        self._amin = np.float32(1e-10)
        self._top_fac = None if cfg.top_db is None else np.float32(10.0 ** (-cfg.top_db / 10.0))
        self._db_scale = np.float32(10.0 / np.log(10.0))
        self._resampler = None
        self.reset()

    # ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything: the next packet starts a new signal (offline frame 0)."""
        cap = max(4 * self._st.n_fft, 8192)
        self._buf = np.zeros(cap, dtype=np.float32)
        self._len = self._pad          # the left centre-padding zeros are already in the buffer
        self._off = 0                  # padded-signal index of _buf[0]
        self._t = 0                    # next frame to emit
        self.samples = 0               # real samples received (at cfg.sr)
        self._max = np.zeros(1, dtype=np.float32)
        self._cmvn = _SlidingCMVN(self.cfg.n_frames, self.bins) if self.cfg.normalize == "per_clip" else None
        self.stats = {"packets": 0, "nonfinite": 0, "rejected": 0, "empty": 0}
        if self.input_sr != self.sr:
            import soxr

            self._resampler = soxr.ResampleStream(self.input_sr, self.sr, 1, dtype="float32")

    @property
    def frames_emitted(self) -> int:
        return self._t

    @property
    def latency_samples(self) -> int:
        """Samples after a frame's centre that must arrive before the frame is emitted."""
        return max(0, self._lo + self._st.win - self._pad) if self._st.center else self._st.n_fft

    # ------------------------------------------------------------------------------------
    def _check(self, packet, sr) -> np.ndarray:
        if sr is not None and int(sr) != self.input_sr:
            raise ConfigError(f"packet sample rate {sr} Hz differs from the stream's {self.input_sr} Hz",
                              fix=f"resample to {self.input_sr} Hz, or build the front end with input_sr={sr}")
        x = as_float_packet(packet)
        if x.size and not np.isfinite(x.sum(dtype=np.float32)):
            bad = ~np.isfinite(x)
            n_bad = int(bad.sum())
            if n_bad:
                if self.nan_policy == "raise":
                    raise ConfigError(f"audio packet holds {n_bad} NaN/inf sample(s)",
                                      fix="repair the input, or use nan_policy='zero'")
                x = x.copy()
                x[bad] = 0.0
                self.stats["nonfinite"] += n_bad
            elif np.abs(x).max() > 1e6:
                raise ConfigError("audio packet values are far outside [-1, 1]", fix="scale the audio")
        return x

    def push(self, packet, sr: int | None = None) -> np.ndarray:
        """Add samples; return the ``(k, bins)`` float32 frames that became complete (k may be 0).

        A packet that cannot be used (wrong rate, non-audio dtype, NaN with ``nan_policy="raise"``)
        raises :class:`ConfigError` and leaves the stream state untouched.
        """
        try:
            x = self._check(packet, sr)
        except ConfigError:
            self.stats["rejected"] += 1
            raise
        self.stats["packets"] += 1
        if self._resampler is not None and x.size:
            x = self._resampler.resample_chunk(x)
        if x.size == 0:
            self.stats["empty"] += 1
            return np.zeros((0, self.bins), dtype=np.float32)
        self._append(x)
        self.samples += x.size
        return self._emit(final=False)

    def flush(self) -> np.ndarray:
        """End of signal: the last frames (they reach into the right centre padding); then reset."""
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if tail.size:
                self._append(tail)
                self.samples += tail.size
        if self._pad:
            self._append(np.zeros(self._pad, dtype=np.float32))
        out = self._emit(final=True)
        self.reset()
        return out

    def process(self, y, packet: int = 320) -> np.ndarray:
        """All frames of a whole signal pushed in packets of ``packet`` samples, then flushed."""
        y = as_float_packet(y)
        parts = [self.push(y[i:i + packet]) for i in range(0, len(y), packet)]
        parts.append(self.flush())
        return np.concatenate(parts, axis=0)

    # ------------------------------------------------------------------------------------
    def _append(self, x: np.ndarray) -> None:
        n = x.size
        if self._len + n > self._buf.size:
            keep = self._lo + self._t * self.hop - self._off  # first sample the next frame needs
            keep = max(0, min(keep, self._len))
            rest = self._len - keep
            if rest + n > self._buf.size:
                nb = np.zeros(max(2 * self._buf.size, rest + n), dtype=np.float32)
                nb[:rest] = self._buf[keep:self._len]
                self._buf = nb
            else:
                self._buf[:rest] = self._buf[keep:self._len]
            self._off += keep
            self._len = rest
        self._buf[self._len:self._len + n] = x
        self._len += n

    def _emit(self, *, final: bool) -> np.ndarray:
        st = self._st
        end = self._off + self._len  # padded samples available
        if final:
            n_real = self.samples
            total = n_real + 2 * self._pad
            last = (total - st.n_fft) // self.hop if total >= st.n_fft else -1  # offline: 1 + (L - n_fft) // hop frames
        elif st.center:
            last = (end - self._lo - st.win) // self.hop
        else:
            last = (end - st.n_fft) // self.hop
        k = last + 1 - self._t
        if k <= 0:
            return np.zeros((0, self.bins), dtype=np.float32)
        start = self._lo + self._t * self.hop - self._off
        seg = self._buf[start:]
        view = as_strided(seg, shape=(1, k, st.win), strides=(0, self.hop * 4, 4), writeable=False)
        out = self._features(view)
        self._t += k
        if self._cmvn is not None:
            out = self._cmvn(out)
        return out

    def _features(self, view: np.ndarray) -> np.ndarray:
        """The offline engine's float32 path (+ float64 refinement) on ``view`` (1, k, win)."""
        st = self._st
        k = view.shape[1]
        nf = st.n_freq
        fr = np.zeros((1, k, st.n_fft), dtype=np.float32)
        np.multiply(view, st.window, out=fr[:, :, :st.win])
        X = scipy.fft.rfft(fr, axis=-1, workers=1)
        Xf = X.view(np.float32)
        np.square(Xf, out=Xf)
        P = np.add(Xf[..., 0::2], Xf[..., 1::2])
        E2 = (P.reshape(k, nf) @ self._ones).reshape(1, k)
        if self._power == 1.0:
            np.sqrt(P, out=P)
        elif self._power != 2.0:
            np.power(P, self._power / 2.0, out=P)
        if self._mel is None:
            S = P
        else:
            S = np.empty((1, k, self._mel.n_mels), dtype=np.float32)
            if k == 1:
                # BLAS takes another code path (gemv) for a single row, whose round-off differs
                # from the offline batched product by 1 ulp; two rows take the gemm path.
                two = np.empty((2, self._mel.n_mels), dtype=np.float32)
                apply_mel(np.repeat(P.reshape(1, nf), 2, axis=0), self._mel, two)
                S[0, 0] = two[0]
            else:
                apply_mel(P.reshape(k, nf), self._mel, S.reshape(k, self._mel.n_mels))
        m = S.max()
        if not math.isfinite(float(m)):
            raise ConfigError("audio values are too large: the spectrum overflows float32",
                              fix="scale the audio to about [-1, 1]")
        np.maximum(self._max, m, out=self._max)
        risky = risky_frames(S, E2, self._power, self._max, self._risk_coef, self._floor_fac, self._amin)
        if risky is not None and risky.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if self._mel is not None and np.count_nonzero(risky) == 1:
                    # as above: refine two copies so the mel product takes the gemm path
                    S2 = np.concatenate([S, S])
                    refine_frames(S2, np.concatenate([risky, risky]), np.concatenate([view, view]), st,
                                  self._power, self._mel)
                    S[...] = S2[:1]
                else:
                    refine_frames(S, risky, view, st, self._power, self._mel)
            np.maximum(self._max, S.max(), out=self._max)
        if self._top_fac is not None:
            floor = np.maximum(self._max * self._top_fac, self._amin)
            np.maximum(S, floor, out=S)
        else:
            np.maximum(S, self._amin, out=S)
        np.log(S, out=S)
        S *= self._db_scale
        if self._dct is not None:
            return (S.reshape(k, -1).astype(np.float64) @ self._dct).astype(np.float32)
        return S.reshape(k, -1)
