"""Audio I/O: decode, mix to mono, resample, fix length.

This is the only module that touches soundfile and soxr.  Everything returns
``float32`` arrays in ``[-1, 1]``-ish range; errors are :class:`~auricle.errors.AudioError`
naming the file and the fix.

Length policy (:func:`fix_length`)
----------------------------------
* ``"center"`` - a longer clip keeps its centre; a shorter one is zero-padded equally on both sides.
* ``"start"``  - keep the beginning / pad at the end.
* ``"random"`` - a random crop offset (longer) or random placement in zeros (shorter); for training.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from auricle.errors import AudioError

#: File extensions auricle indexes as audio.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".oga", ".aif", ".aiff")

LENGTH_POLICIES = ("center", "start", "random")


@dataclass(frozen=True)
class AudioInfo:
    path: str
    samplerate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0


def info(path: str | Path) -> AudioInfo:
    """Header information of an audio file without decoding it.

    Raises
    ------
    AudioError
        If the file is missing or not a readable audio file.
    """
    import soundfile as sf

    path = Path(path)
    _check_exists(path)
    try:
        i = sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError with cryptic text
        raise AudioError(f"cannot read audio header ({_short(exc)})", path=path,
                         fix="check the file is a valid wav/flac/ogg/mp3, or remove it") from None
    return AudioInfo(str(path), int(i.samplerate), int(i.channels), int(i.frames))


def load(path: str | Path, *, sr: int | None = 16000, mono: bool = True) -> np.ndarray:
    """Load an audio file as float32, mixed to mono and resampled to ``sr``.

    Parameters
    ----------
    path : str or Path
        wav, flac, ogg or mp3 file.
    sr : int or None
        Target sample rate; ``None`` keeps the file's rate.
    mono : bool
        Average channels to one.  With ``mono=False`` the result is ``(channels, samples)``.

    Returns
    -------
    np.ndarray
        ``(samples,)`` float32 (or ``(channels, samples)`` when ``mono=False``).

    Raises
    ------
    AudioError
        Missing, empty, truncated or corrupt file; a sample rate of 0; NaN/inf samples.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> sf.write(p, np.zeros(8000, dtype="float32"), 8000)
    >>> load(p, sr=16000).shape
    (16000,)
    """
    y, native_sr = load_native(path, mono=mono)
    if sr is not None and native_sr != sr:
        y = resample(y, orig_sr=native_sr, target_sr=sr)
    return y


def load_native(path: str | Path, *, mono: bool = True) -> tuple[np.ndarray, int]:
    """Decode a file at its own sample rate; returns ``(samples, sr)``. See :func:`load`."""
    import soundfile as sf

    path = Path(path)
    _check_exists(path)
    if path.stat().st_size == 0:
        raise AudioError("file is empty (0 bytes)", path=path, fix="re-export or remove the file")
    try:
        data, native_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"cannot decode audio ({_short(exc)})", path=path,
                         fix="the file is corrupt, truncated or not audio; re-export it or remove it") from None
    if not native_sr or native_sr <= 0:
        raise AudioError("sample rate is 0 in the header", path=path, fix="re-export the file with a valid sample rate")
    if data.shape[0] == 0:
        raise AudioError("file holds no samples (0-length audio)", path=path, fix="remove it or re-record it")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise AudioError(f"{bad} samples are NaN or inf", path=path, fix="re-export the file; auricle will not guess the missing values")
    y = data.T  # (channels, samples)
    if mono:
        y = y.mean(axis=0) if y.shape[0] > 1 else y[0]
    return np.ascontiguousarray(y, dtype=np.float32), int(native_sr)


def resample(y: np.ndarray, *, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr (high quality)."""
    if orig_sr == target_sr:
        return y.astype(np.float32, copy=False)
    if orig_sr <= 0 or target_sr <= 0:
        raise AudioError(f"invalid sample rates {orig_sr} -> {target_sr}", fix="use positive sample rates")
    import soxr

    if y.ndim == 1:
        return soxr.resample(y, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)
    # soxr wants (samples, channels)
    return soxr.resample(y.T, orig_sr, target_sr, quality="HQ").T.astype(np.float32, copy=False)


def fix_length(y: np.ndarray, *, length: int, mode: str = "center",
               rng: np.random.Generator | None = None) -> np.ndarray:
    """Crop or zero-pad the last axis to exactly ``length`` samples.

    Examples
    --------
    >>> fix_length(np.ones(3, dtype="float32"), length=5)
    array([0., 1., 1., 1., 0.], dtype=float32)
    >>> fix_length(np.arange(5, dtype="float32"), length=3)
    array([1., 2., 3.], dtype=float32)
    """
    if mode not in LENGTH_POLICIES:
        raise ValueError(f"mode must be one of {LENGTH_POLICIES}, got {mode!r}")
    n = y.shape[-1]
    if n == length:
        return y
    if mode == "random":
        rng = rng if rng is not None else np.random.default_rng()
    if n > length:
        if mode == "center":
            off = (n - length) // 2
        elif mode == "start":
            off = 0
        else:
            off = int(rng.integers(0, n - length + 1))
        return y[..., off:off + length]
    pad = length - n
    if mode == "center":
        left = pad // 2
    elif mode == "start":
        left = 0
    else:
        left = int(rng.integers(0, pad + 1))
    widths = [(0, 0)] * (y.ndim - 1) + [(left, pad - left)]
    return np.pad(y, widths)


def frame_windows(y: np.ndarray, *, length: int, hop: int) -> np.ndarray:
    """Cut a long 1-D signal into ``(n_windows, length)`` windows (last one zero-padded).

    A signal shorter than ``length`` gives one padded window.
    """
    n = y.shape[-1]
    if n <= length:
        return fix_length(y, length=length, mode="start")[None]
    n_win = 1 + int(np.ceil((n - length) / hop))
    total = (n_win - 1) * hop + length
    y = np.pad(y, (0, total - n))
    idx = np.arange(length)[None, :] + hop * np.arange(n_win)[:, None]
    return y[idx]


def save(path: str | Path, y: np.ndarray, sr: int) -> None:
    """Write mono or ``(channels, samples)`` audio; format from the extension."""
    import soundfile as sf

    y = np.asarray(y, dtype=np.float32)
    sf.write(str(path), y.T if y.ndim == 2 else y, int(sr))


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise AudioError("file not found", path=path, fix="check the path (relative paths are resolved from the current directory)")
    if path.is_dir():
        raise AudioError("expected an audio file but got a folder", path=path, fix="pass a file, or a dataset folder to commands that take one")


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _frame_rms_db(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Frame RMS in dB relative to the loudest frame, frames centred with zero padding (librosa's
    ``feature.rms`` + ``amplitude_to_db(ref=np.max)`` with ``amin=1e-5``)."""
    pad = frame_length // 2
    yp = np.pad(y.astype(np.float64), (pad, pad))
    n_frames = 1 + (len(yp) - frame_length) // hop_length
    idx = np.arange(frame_length)[None, :] + hop_length * np.arange(n_frames)[:, None]
    rms = np.sqrt(np.mean(yp[idx] ** 2, axis=1))
    db = 20 * np.log10(np.maximum(rms, 1e-5))
    return db - 20 * np.log10(max(rms.max(), 1e-5))


def trim(y: np.ndarray, *, top_db: float = 40.0, frame_length: int = 1024, hop_length: int = 256,
         return_index: bool = False):
    """Cut leading and trailing parts quieter than ``top_db`` below the loudest frame.

    Same decision as ``librosa.effects.trim`` (frame RMS, centred frames): the kept span runs from
    the first to the end of the last frame above the threshold.  A clip with nothing above it
    (digital silence) comes back empty.  ``return_index=True`` also returns ``(start, end)``.

    Examples
    --------
    >>> y = np.concatenate([np.zeros(4000), 0.5 * np.ones(8000), np.zeros(4000)]).astype("float32")
    >>> len(trim(y, top_db=40, frame_length=512, hop_length=128))
    8448
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError("trim expects a 1-D signal")
    if y.size == 0 or not np.any(y):
        start = end = 0
    else:
        loud = np.flatnonzero(_frame_rms_db(y, frame_length, hop_length) > -float(top_db))
        start = int(loud[0] * hop_length)
        end = min(len(y), int((loud[-1] + 1) * hop_length))
    return (y[start:end], (start, end)) if return_index else y[start:end]


def loud_windows(windows: np.ndarray, *, top_db: float = 40.0) -> np.ndarray:
    """Boolean mask of the ``(n, length)`` windows whose RMS is within ``top_db`` of the loudest
    window (the loudest is always kept): drop the others to skip silent stretches of long files."""
    rms = np.sqrt(np.mean(np.asarray(windows, dtype=np.float64) ** 2, axis=-1))
    db = 20 * np.log10(np.maximum(rms, 1e-10) / max(rms.max(), 1e-10))
    keep = (db > -float(top_db)) & (rms > 0)
    keep[int(np.argmax(rms))] = True
    return keep
