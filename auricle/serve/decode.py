"""Request audio -> checked mono float32 at the model's rate, or a :class:`ServeError` naming the problem.

Two ways in:

* an audio **file** (wav, flac, ogg/vorbis, mp3, aiff: whatever :mod:`auricle.audio` decodes), as
  the request body or the ``file`` field of a multipart form;
* **raw PCM** (``application/octet-stream`` or ``audio/pcm``) with ``rate`` (Hz), ``channels``
  (interleaved, default 1) and ``encoding`` (``s16le`` default, or ``f32le``).

Checks, in the order they run: empty body (400), sample rate outside the limits (422), too many
channels (422), longer than ``max_seconds`` (413, from the header before decoding), undecodable /
truncated / not audio (400), NaN or inf samples (422).
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from auricle.serve.limits import Limits, ServeError

__all__ = ["FILE_TYPES", "PCM_TYPES", "PCM_ENCODINGS", "decode_file", "decode_pcm", "to_model_rate"]

#: Content types of audio files (the body is the file).
FILE_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/flac", "audio/x-flac",
              "audio/ogg", "audio/vorbis", "audio/mpeg", "audio/mp3", "audio/aiff", "audio/x-aiff")
#: Content types of raw PCM (needs ``rate``).
PCM_TYPES = ("application/octet-stream", "audio/pcm")
PCM_ENCODINGS = {"s16le": ("<i2", 32768.0), "f32le": ("<f4", 1.0)}

_TMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _check_rate(rate, limits: Limits) -> int:
    if rate is None:
        raise ServeError(422, "missing_rate", "raw PCM needs its sample rate",
                         fix="add ?rate=16000 (Hz) to the URL, or send a wav file")
    try:
        r = int(rate)
    except (TypeError, ValueError):
        raise ServeError(422, "bad_rate", f"sample rate {rate!r} is not a whole number of Hz") from None
    if not limits.min_rate <= r <= limits.max_rate:
        raise ServeError(422, "unsupported_rate", f"sample rate {r} Hz is outside {limits.min_rate}-{limits.max_rate} Hz",
                         fix=f"resample to {limits.min_rate}-{limits.max_rate} Hz (the model runs at its own rate)")
    return r


def _check_shape(channels: int, frames: int, rate: int, limits: Limits) -> None:
    if channels < 1:
        raise ServeError(422, "bad_channels", f"{channels} channels", fix="send 1 or 2 channels")
    if channels > limits.max_channels:
        raise ServeError(422, "too_many_channels", f"{channels} channels; at most {limits.max_channels} are accepted",
                         fix="mix down to mono or stereo")
    seconds = frames / rate
    if seconds > limits.max_seconds:
        raise ServeError(413, "too_long", f"{seconds:.1f} s of audio; at most {limits.max_seconds:g} s per request",
                         fix="cut the recording, or stream it over the :stream WebSocket")
    if frames == 0:
        raise ServeError(400, "no_samples", "the audio holds no samples", fix="send a recording at least a few ms long")


def decode_file(data: bytes, *, limits: Limits, suffix: str = "") -> tuple[np.ndarray, int]:
    """An audio file's bytes -> ``(y (channels, samples) float32, rate)``."""
    from auricle.audio import info, load_native
    from auricle.errors import AudioError

    if not data:
        raise ServeError(400, "empty_body", "the upload is empty (0 bytes)", fix="send an audio file")
    suffix = suffix if suffix and suffix.lower() in (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff") else ""
    fd, path = tempfile.mkstemp(suffix=suffix or ".audio", dir=_TMP)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            head = info(path)
        except AudioError:
            raise ServeError(400, "undecodable_audio", "the upload is not a readable audio file "
                             "(unknown format, truncated or corrupt header)",
                             fix="send wav, flac, ogg or mp3; or raw PCM as application/octet-stream with ?rate=") from None
        if not head.samplerate:
            raise ServeError(422, "unsupported_rate", "the file's header says 0 Hz", fix="re-export the file")
        _check_rate(head.samplerate, limits)
        _check_shape(head.channels, max(head.frames, 1), head.samplerate, limits)
        try:
            y, sr = load_native(path, mono=False)
        except AudioError as exc:
            msg = exc.message
            if "NaN" in msg:
                raise ServeError(422, "nonfinite_samples", msg,
                                 fix="re-export the file; the server will not guess missing values") from None
            if "no samples" in msg:
                raise ServeError(400, "no_samples", "the audio holds no samples (header only, or truncated)",
                                 fix="send a recording at least a few ms long") from None
            raise ServeError(400, "undecodable_audio", f"the audio could not be decoded: {msg}",
                             fix="the file is corrupt or truncated; re-export it") from None
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    return y, sr


def decode_pcm(data: bytes, *, rate, channels=1, encoding: str = "s16le", limits: Limits) -> tuple[np.ndarray, int]:
    """Raw interleaved PCM -> ``(y (channels, samples) float32, rate)``."""
    if not data:
        raise ServeError(400, "empty_body", "the upload is empty (0 bytes)", fix="send PCM samples")
    r = _check_rate(rate, limits)
    if encoding not in PCM_ENCODINGS:
        raise ServeError(422, "bad_encoding", f"unknown PCM encoding {encoding!r}",
                         fix=f"use one of {', '.join(PCM_ENCODINGS)}")
    try:
        c = int(channels)
    except (TypeError, ValueError):
        raise ServeError(422, "bad_channels", f"channels={channels!r} is not a whole number") from None
    if c < 1:
        raise ServeError(422, "bad_channels", f"{c} channels", fix="send 1 or 2 channels")
    dtype, scale = PCM_ENCODINGS[encoding]
    width = np.dtype(dtype).itemsize * c
    if len(data) % width:
        raise ServeError(400, "truncated_pcm", f"{len(data)} bytes is not a whole number of {encoding} frames "
                         f"of {c} channel(s) ({width} bytes each)", fix="send whole frames")
    _check_shape(c, len(data) // width, r, limits)
    y = np.frombuffer(data, dtype=dtype).astype(np.float32)
    if scale != 1.0:
        y /= scale
    elif not np.isfinite(y).all():
        bad = int((~np.isfinite(y)).sum())
        raise ServeError(422, "nonfinite_samples", f"{bad} samples are NaN or inf",
                         fix="send finite samples; the server will not guess missing values")
    return np.ascontiguousarray(y.reshape(-1, c).T), r


def to_model_rate(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    """``(channels, samples)`` at ``sr`` -> mono float32 at ``target``."""
    from auricle.audio import resample

    mono = y.mean(axis=0) if y.ndim == 2 and y.shape[0] > 1 else y.reshape(-1)
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    return resample(mono, orig_sr=sr, target_sr=target) if sr != target else mono
