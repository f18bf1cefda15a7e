"""Additive noise: generated (white/pink/brown) and recorded (a folder of noise files).

The SNR is always relative to the clip's *active* RMS (samples within -50 dB of its peak), so a
short word in a silent second gets noise relative to the word, not to the silence.  Recorded
noise is scaled by the RMS of the very segment that is mixed in.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from auricle.augment.base import Transform, check_range
from auricle.augment.colored import (BANK_MIN_SAMPLES, COLORS, active_rms, bank_segments,  # noqa: F401  (re-exported)
                                     colored_noise, noise_bank)

class NoiseBank:
    """The audio files of a folder (searched recursively), decoded once per sample rate.

    Files are mixed to mono and resampled to the rate asked for (soxr); all-silent files are
    dropped.  Construction only lists the folder, so a missing or empty folder fails when the
    augmentation chain is built, before any training starts.
    """

    def __init__(self, folder: str | Path):
        from auricle.audio import AUDIO_EXTENSIONS
        from auricle.errors import ConfigError

        path = Path(str(folder)).expanduser()
        if not path.exists():
            raise ConfigError("noise folder not found", path=path,
                              fix="check the augment folder: path (relative paths are resolved from the current directory)")
        if not path.is_dir():
            raise ConfigError("noise folder: expected a folder of noise recordings but got a file", path=path,
                              fix="point folder: to the directory that holds the noise files")
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
        if not files:
            raise ConfigError("noise folder holds no audio files", path=path,
                              fix=f"put noise recordings ({', '.join(AUDIO_EXTENSIONS)}) in it, or remove the folder: option")
        self.folder, self.files = path, files
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __len__(self):
        return len(self.files)

    def __repr__(self):
        return f"NoiseBank({str(self.folder)!r}, {len(self.files)} files)"

    def __getstate__(self):  # worker processes decode for themselves; don't ship the audio
        return {"folder": self.folder, "files": self.files, "_cache": {}}

    def load(self, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(buffer, starts, lengths)``: every usable file at ``sr``, concatenated."""
        if sr not in self._cache:
            from auricle.audio import load
            from auricle.errors import ConfigError

            clips = [load(f, sr=sr, mono=True) for f in self.files]
            clips = [c for c in clips if c.size and np.any(c)]
            if not clips:
                raise ConfigError("every file in the noise folder is silent", path=self.folder,
                                  fix="add noise recordings that are not digital silence")
            lengths = np.array([len(c) for c in clips], dtype=np.int64)
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
            self._cache[sr] = (np.concatenate(clips).astype(np.float32), starts, lengths)
        return self._cache[sr]

    def segments(self, length: int, sr: int, file_u: np.ndarray, offset_u: np.ndarray) -> np.ndarray:
        """``(n, length)`` noise: file ``floor(file_u * n_files)`` from offset ``floor(offset_u * its
        length)``, looped when the file is shorter than ``length`` (or runs out)."""
        buf, starts, lengths = self.load(sr)
        k = np.minimum((np.asarray(file_u) * len(lengths)).astype(np.int64), len(lengths) - 1)
        off = np.minimum((np.asarray(offset_u) * lengths[k]).astype(np.int64), lengths[k] - 1)
        idx = starts[k, None] + (off[:, None] + np.arange(length)[None, :]) % lengths[k, None]
        return buf[idx]


class AddNoise(Transform):
    """Mix noise at a random SNR in ``[min_snr_db, max_snr_db]`` (relative to the clip's active RMS).

    Sources: generated ``colors`` (white/pink/brown, unit RMS; a random window of a
    pre-generated bank, see :func:`noise_bank`) and, with ``folder``, recordings
    from that folder (loaded once, mono, resampled, looped when shorter than the clip, random
    file and offset).  Each example picks one source uniformly.  ``colors`` defaults to all three
    without a folder and to none with one; list them to mix both kinds.  All-zero clips receive
    noise at ``floor_db`` dBFS.
    """

    name = "noise"

    def __init__(self, min_snr_db: float = 5.0, max_snr_db: float = 30.0, colors=None, floor_db: float = -50.0,
                 folder: str | None = None, p: float = 0.5):
        from auricle.errors import ConfigError

        super().__init__(p)
        self.min_snr_db, self.max_snr_db = check_range(self.name, "min_snr_db", min_snr_db, "max_snr_db", max_snr_db)
        self.folder = None if folder in (None, "") else str(folder)
        self.bank = NoiseBank(self.folder) if self.folder else None
        if colors is None:
            colors = () if self.bank is not None else COLORS
        if isinstance(colors, str):
            colors = (colors,)
        bad = [c for c in colors if c not in COLORS]
        if bad:
            raise ConfigError(f"{self.name}: unknown noise color(s) {bad}", fix=f"use any of {', '.join(COLORS)}")
        if not colors and self.bank is None:
            raise ConfigError(f"{self.name}: no noise source", fix="list colors (white, pink, brown) or give a folder:")
        self.colors, self.floor_db = tuple(colors), float(floor_db)

    @property
    def n_sources(self) -> int:
        return len(self.colors) + (self.bank is not None)

    def randomize(self, n, rng):
        params = {"snr_db": rng.uniform(self.min_snr_db, self.max_snr_db, n),
                  "color": rng.integers(0, self.n_sources, n),
                  "offset": rng.random(n)}
        if self.bank is not None:
            params["file"] = rng.random(n)
        return params

    def apply(self, x, *, snr_db, color, file=None, offset=None, sr=16000, rng=None, **_):
        """``color`` indexes ``colors``; ``len(colors)`` means the folder (``file`` in [0, 1)).
        ``offset`` in [0, 1) places the window in the generated bank or the chosen file."""
        rng = rng if rng is not None else np.random.default_rng(0)
        n = x.shape[0]
        out = x.copy()
        color = np.broadcast_to(np.asarray(color), (n,))
        sig_rms = active_rms(x)
        target = np.where(sig_rms > 0, sig_rms / 10.0 ** (np.broadcast_to(np.asarray(snr_db, dtype=np.float64), (n,)) / 20.0),
                          10.0 ** (self.floor_db / 20.0)).astype(np.float32)
        offset = rng.random(n) if offset is None else np.broadcast_to(np.asarray(offset), (n,))
        for ci, c in enumerate(self.colors):
            sel = color == ci
            if sel.any():
                out[sel] += bank_segments(c, x.shape[1], offset[sel]) * target[sel, None]
        sel = color == len(self.colors)
        if self.bank is not None and sel.any():
            file = rng.random(n) if file is None else np.broadcast_to(np.asarray(file), (n,))
            seg = self.bank.segments(x.shape[1], sr, file[sel], offset[sel])
            seg_rms = np.sqrt((seg.astype(np.float64) ** 2).mean(axis=1))
            gain = np.where(seg_rms > 0, target[sel] / np.maximum(seg_rms, 1e-12), 0.0).astype(np.float32)
            out[sel] += seg * gain[:, None]
        return out


    def power_ok(self) -> bool:
        return True

    def apply_power(self, S, rms, *, fcfg, snr_db, color, offset=None, file=None, rng=None, **_):
        """Add the mel power of a window of the same noise (generated bank or recording, looped),
        scaled to the SNR, with a random cross term of the right size
        (:func:`auricle.augment.mixing.mix_power`).  Windows start on whole frames."""
        from auricle.augment.mixing import band_dof, mix_power, noise_power, recording_power

        n, F = S.shape[0], S.shape[1]
        color = np.broadcast_to(np.asarray(color), (n,))
        offset = np.broadcast_to(np.asarray(offset if offset is not None else rng.random(n)), (n,))
        target = np.where(rms > 0, rms / 10.0 ** (np.broadcast_to(np.asarray(snr_db, dtype=np.float64), (n,)) / 20.0),
                          10.0 ** (self.floor_db / 20.0))
        out = S.copy()
        dof, rng = band_dof(fcfg), rng if rng is not None else np.random.default_rng(0)

        def mix(sel, P, rows, m):  # add the clip-long windows P[rows:rows + F], each scaled to unit RMS
            scale = np.where(m > 0, target[sel] ** 2 / np.maximum(m, 1e-24), 0.0).astype(np.float32)
            out[sel] = mix_power(S[sel], scale[:, None, None] * P[rows[:, None] + np.arange(F)[None, :]], dof, rng)

        for ci, c in enumerate(self.colors):
            sel = np.flatnonzero(color == ci)
            if len(sel):
                P, ms = noise_power(c, fcfg)
                start = np.minimum((offset[sel] * len(ms)).astype(np.int64), len(ms) - 1)
                mix(sel, P, start, ms[start])
        sel = np.flatnonzero(color == len(self.colors))
        if self.bank is not None and len(sel):
            P, ms, first, first_ms, periods = recording_power(self.bank, fcfg)
            file = np.broadcast_to(np.asarray(file if file is not None else rng.random(n)), (n,))
            k = np.minimum((file[sel] * len(periods)).astype(np.int64), len(periods) - 1)
            j = np.minimum((offset[sel] * periods[k]).astype(np.int64), periods[k] - 1)
            mix(sel, P, first[k] + j, ms[first_ms[k] + j])
        # the rms a later transform sees: signal plus noise
        return out, np.sqrt(rms ** 2 + target ** 2)


class BackgroundNoise(AddNoise):
    """Recorded background noise from ``folder`` at a random SNR in ``[min_snr_db, max_snr_db]``;
    the same as ``noise`` with a ``folder`` (add ``colors`` to also draw generated noise)."""

    name = "background_noise"

    def __init__(self, folder: str, min_snr_db: float = 3.0, max_snr_db: float = 30.0, colors=(),
                 floor_db: float = -50.0, p: float = 0.5):
        if folder in (None, ""):
            from auricle.errors import ConfigError
            raise ConfigError("background_noise needs a folder of noise recordings",
                              fix="e.g. background_noise: {folder: data/noise, p: 0.5}")
        super().__init__(min_snr_db, max_snr_db, colors=colors, floor_db=floor_db, folder=folder, p=p)
