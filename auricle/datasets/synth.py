"""Synthetic voices: speak a list of words with offline text-to-speech engines.

Small speech datasets have few speakers, and a classifier trained on four voices has seen
four vocal tracts.  Synthesised voices from free offline engines (espeak-ng: 8 English accents
x dozens of timbre variants, at random pitch and speed; flite: four recorded voices) add
hundreds of *different* voices per word for a minute of CPU.  Used as **train-only** extra data
(``data.extra_train``) they teach the model what varies between speakers; the validation and
test splits stay real recordings.  (Lin et al. 2020, "Training keyword spotters with limited and
synthesized speech data", found the same for keyword spotting.)

We drive the engines' command-line programs rather than a Python TTS package: none on PyPI
ships voices without a download, and the Debian packages are 13 MB (espeak-ng) and 28 MB
(flite).  Words are written as ``<out>/<label>/<voice>-<rep>.wav`` plus a ``manifest.csv``
whose ``group`` column is the base voice, so :func:`auricle.datasets.index` reads it with the
manifest layout and a split never puts one voice on both sides.

Examples
--------
>>> from auricle.datasets.synth import spoken_text
>>> spoken_text("7"), spoken_text("_unknown_"), spoken_text("turn_left")
('seven', None, 'turn left')
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from auricle.errors import AuricleError, ConfigError

# espeak-ng: "en", not "en-gb" ("en-gb+VARIANT" silently ignores the variant).
ESPEAK_ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029",
                  "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
# Timbre variants that sound like a person (the whisper/robot/novelty ones are left out).
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
                   "Annie", "Andrea", "linda", "belinda", "steph", "anika", "klatt", "klatt2",
                   "klatt3", "klatt4", "klatt6", "adam", "Alex", "Andy", "david", "ed", "edward",
                   "john", "max", "paul", "robert", "travis", "victor", "grandma", "aunty", "shelby")
FLITE_VOICES = ("kal16", "awb", "rms", "slt")
ESPEAK_PITCH = (25, 75)          # espeak-ng -p
ESPEAK_WPM = (90, 170)           # espeak-ng -s; slower than its 175 default: human keyword length
FLITE_STRETCH = (0.9, 1.6)       # flite duration_stretch
RESAMPLE_SPEED = (0.9, 1.1)      # flite voices ignore pitch settings: vary by resampling
TRIM_DB = -35.0
PEAK_DBFS = (-20.0, -3.0)

_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def spoken_text(label: str) -> str | None:
    """The text to speak for a class label: digits become number words, ``_`` a space.

    Returns None for the special classes (``_silence_``, ``_unknown_``, ``_background_noise_``).
    """
    label = str(label)
    if label.startswith("_") and label.endswith("_"):
        return None
    if label.isdigit() and len(label) == 1:
        return _DIGITS[int(label)]
    return label.replace("_", " ").strip() or None


@dataclass(frozen=True)
class Voice:
    engine: str      # espeak-ng | flite
    name: str        # engine's voice name
    group: str       # e.g. "espeak-ng:en-us+m3"


def available_engines() -> list[str]:
    return [e for e in ("espeak-ng", "flite") if shutil.which(e)]


def voices(n: int, *, seed: int = 0, engines: list[str] | None = None) -> list[Voice]:
    """``n`` distinct base voices, drawn without replacement (flite's four first, then espeak-ng)."""
    engines = available_engines() if engines is None else engines
    if not engines:
        raise AuricleError("no text-to-speech engine found (espeak-ng or flite)",
                           fix="install one: apt-get install espeak-ng flite")
    pool: list[Voice] = []
    if "flite" in engines:
        pool += [Voice("flite", v, f"flite:{v}") for v in FLITE_VOICES]
    rng = np.random.default_rng(seed)
    if "espeak-ng" in engines:
        esp = [Voice("espeak-ng", f"{a}+{v}", f"espeak-ng:{a}+{v}") for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]
        pool += [esp[i] for i in rng.permutation(len(esp))]
    if n > len(pool):
        raise ConfigError(f"asked for {n} voices but the installed engines have {len(pool)}",
                          fix=f"ask for at most {len(pool)} voices, or install espeak-ng and flite")
    return pool[:n]


def trim_bounds(x: np.ndarray, db: float = TRIM_DB) -> tuple[int, int]:
    """First and one-past-last sample whose magnitude is within ``db`` of the peak."""
    a = np.abs(x)
    peak = a.max() if a.size else 0.0
    if peak <= 0:
        return 0, 0
    idx = np.flatnonzero(a >= peak * 10 ** (db / 20))
    return int(idx[0]), int(idx[-1]) + 1


def trim_word(x: np.ndarray, sr: int, db: float = TRIM_DB) -> np.ndarray:
    """The part of ``x`` within ``db`` of its peak, with 3 ms half-cosine fades against clicks."""
    s, e = trim_bounds(x, db)
    w = x[s:e].copy()
    nf = min(int(0.003 * sr), len(w) // 4)
    if nf > 1:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, nf))
        w[:nf] *= ramp
        w[-nf:] *= ramp[::-1]
    return w


def speak(voice: Voice, text: str, *, sr: int, rng: np.random.Generator, tmp: str) -> np.ndarray:
    """One utterance of ``text`` by ``voice`` at a random pitch and speed, trimmed, at ``sr``."""
    import soundfile as sf
    import soxr

    wav = os.path.join(tmp, "x.wav")
    speed = 1.0
    if voice.engine == "espeak-ng":
        cmd = ["espeak-ng", "-v", voice.name, "-p", str(int(rng.integers(ESPEAK_PITCH[0], ESPEAK_PITCH[1] + 1))),
               "-s", str(int(rng.integers(ESPEAK_WPM[0], ESPEAK_WPM[1] + 1))), "-w", wav, text]
    else:
        speed = float(rng.uniform(*RESAMPLE_SPEED))
        cmd = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={rng.uniform(*FLITE_STRETCH):.3f}",
               "-t", text, "-o", wav]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(wav):
        raise AuricleError(f"{voice.engine} failed for voice {voice.name!r}: {(r.stderr or '').strip()[:200]}",
                           fix="check the engine runs by hand, e.g. espeak-ng -v en 'hello'")
    x, native = sf.read(wav, dtype="float64", always_2d=True)
    os.remove(wav)
    x = soxr.resample(x.mean(axis=1), native * speed, sr, quality="HQ")
    return trim_word(x, sr)


def synthesize(labels, out, *, n_voices: int = 100, per_voice: int = 2, sr: int = 16000, seed: int = 0,
               jobs: int | None = None, progress: bool = True, overwrite: bool = False) -> Path:
    """Speak every label ``per_voice`` times with each of ``n_voices`` synthetic voices.

    Parameters
    ----------
    labels : list of str
        Class labels; each is spoken as :func:`spoken_text` says (``"3"`` -> "three").  Special
        classes (``_silence_``...) are skipped.
    out : path
        Folder to write ``<label>/<voice>-<rep>.wav`` and ``manifest.csv`` into.
    n_voices, per_voice : int
        Base voices and repetitions per word and voice (each repetition draws a new pitch and speed).
    sr : int
        Sample rate of the written files; use the rate of the real recordings you mix them with
        (8000 for FSDD) so band limiting and the channel look alike.
    seed : int
        Everything (voices, pitch, speed, level) is drawn from it; the same seed writes the same files.

    Returns
    -------
    Path to ``manifest.csv`` (columns ``path,label,group,split``; ``split`` empty).

    Examples
    --------
    >>> synthesize(["yes", "no"], "synth", n_voices=20)   # doctest: +SKIP
    PosixPath('synth/manifest.csv')
    """
    import soundfile as sf

    out = Path(out)
    todo = [(str(lab), spoken_text(lab)) for lab in labels]
    todo = [(lab, t) for lab, t in todo if t]
    if not todo:
        raise ConfigError("no label to speak", fix="give word labels (digits are spoken as number words)")
    manifest = out / "manifest.csv"
    if manifest.exists() and not overwrite:
        raise AuricleError("a synthetic data set is already there", path=out, fix="pass overwrite=True (--overwrite)")
    vs = voices(n_voices, seed=seed)
    out.mkdir(parents=True, exist_ok=True)

    def one_voice(v: Voice):
        rng = np.random.default_rng([seed, zlib.crc32(v.group.encode())])
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for lab, text in todo:
                (out / lab).mkdir(exist_ok=True)
                for rep in range(per_voice):
                    x = speak(v, text, sr=sr, rng=rng, tmp=tmp)
                    if len(x) < 0.08 * sr:
                        continue
                    x *= 10 ** (rng.uniform(*PEAK_DBFS) / 20) / max(np.abs(x).max(), 1e-9)
                    rel = f"{lab}/{v.group.replace(':', '-').replace('+', '-')}-{rep}.wav"
                    sf.write(out / rel, x.astype(np.float32), sr, subtype="PCM_16")
                    rows.append([rel, lab, v.group, ""])
        return rows

    rows = []
    jobs = jobs or os.cpu_count() or 1
    with ThreadPoolExecutor(jobs) as pool:  # the engines are subprocesses: threads suffice
        for i, r in enumerate(pool.map(one_voice, vs), 1):
            rows += r
            if progress and (i % 10 == 0 or i == len(vs)):
                print(f"  synth: {i}/{len(vs)} voices, {len(rows)} clips", flush=True)
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "group", "split"])
        w.writerows(rows)
    return manifest
