"""Rendered instrument recordings: seeded melodies played by General MIDI instruments.

There is no free, redistributable instrument-recognition set that can be fetched where auricle is
tested, so this module *renders* one: every **source** is a seeded melody (tempo 60-160 bpm, a
key, a rhythm, a contour, articulation, a dynamic shape: flat, crescendo, decrescendo or swell);
each of :data:`INSTRUMENTS` plays it in a register of its own (drawn per recording inside the
instrument's range; piano, guitar, organ and marimba sometimes add chord tones), rendered with the
``fluidsynth`` program and a General MIDI soundfont through :func:`auricle.separation.demo.iter_rendered`
(the renderer of the separation demo songs).

Splits are disjoint twice over: by **source** (a melody is in one split only; the manifest's
``group`` column is the source) and by **soundfont**: the test recordings are rendered with a
soundfont that no training or validation recording uses (by default TimGM6mb; train and
validation alternate FluidR3_GM and MuseScore_General_Lite), so a test score measures how a model
transfers to other samples of the instruments -- another "recording" -- not how well it learnt
one sample set.  Written::

    out/{train,valid,test}/<instrument>/<source>.wav    mono 16-bit, peak -1..-12 dBFS
    out/manifest.csv    path,label,group,split,soundfont,program,seed  (the manifest layout)
    out/LICENSES.md     the soundfonts used and their licences

fluidsynth renders deterministically, so the same seed and sizes write the same files.

Examples
--------
>>> part = compose_phrase(7, "flute", seconds=4.0)
>>> part.program == INSTRUMENTS["flute"][0] and len(part.notes) > 3
True
>>> lo, hi = INSTRUMENTS["flute"][1:3]
>>> all(lo <= n.pitch <= hi for n in part.notes)
True
>>> compose_phrase(7, "flute", seconds=4.0) == part      # a function of its seed
True
"""
from __future__ import annotations

import csv
import math
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from auricle.errors import AuricleError, ConfigError

#: instrument name -> (GM program, lowest and highest MIDI pitch it plays here, polyphonic)
INSTRUMENTS: dict[str, tuple[int, int, int, bool]] = {
    "piano": (0, 43, 88, True),         # acoustic grand
    "guitar": (24, 40, 79, True),       # nylon acoustic guitar
    "violin": (40, 55, 93, False),
    "cello": (42, 36, 72, False),
    "flute": (73, 60, 96, False),
    "trumpet": (56, 54, 82, False),
    "organ": (19, 36, 84, True),        # church organ
    "clarinet": (71, 50, 89, False),
    "saxophone": (65, 49, 81, False),   # alto sax
    "marimba": (12, 45, 89, True),
}
SPLITS = ("train", "valid", "test")

#: other GM programs of the same instrument that training recordings may use (the first is the one above):
#: a real "saxophone" may be a tenor, a real piano a bright one.  Test recordings keep the first.
PROGRAM_VARIANTS: dict[str, tuple[int, ...]] = {
    "piano": (0, 1), "guitar": (24, 25), "violin": (40, 110), "saxophone": (65, 64, 66, 67),
}

#: every General MIDI soundfont the instrument set can use: name -> (file, Debian package, family,
#: description, licence).  A family shares samples (MuseScore_General is built on Fluid R3 Mono), so
#: holding out one member of a family does not make an unseen "recording".
SOUNDFONT_FILES: dict[str, tuple[str, str, str, str, str]] = {
    "FluidR3_GM": ("FluidR3_GM.sf2", "fluid-soundfont-gm", "fluid",
                   "Fluid (R3) GM SoundFont, Frank Wen 2000-2002, 2008", "MIT"),
    "MuseScore_General_Lite": ("MuseScore_General_Lite.sf3", "musescore-general-soundfont-small", "fluid",
                               "MuseScore_General (Lite) SoundFont, S. Christian Collins 2018-2021, based on "
                               "Fluid (R3) Mono", "MIT (some samples public domain or CC0)"),
    "MuseScore_General_Full": ("MuseScore_General_Full.sf3", "musescore-general-soundfont", "fluid",
                               "MuseScore_General (full) SoundFont, S. Christian Collins 2018-2021, based on "
                               "Fluid (R3) Mono", "MIT (some samples public domain or CC0)"),
    "TimGM6mb": ("TimGM6mb.sf2", "timgm6mb-soundfont", "timgm6mb", "TimGM6mb SoundFont, Tim Brechbill 2004", "GPL-2"),
    "sf_GMbank": ("sf_GMbank.sf2", "csound-soundfont", "csound",
                  "Csound's General MIDI bank, Massachusetts Institute of Technology 1986-1997", "LGPL-2.1+"),
    "OPL-3_FM_128M": ("OPL-3_FM_128M.sf2", "opl3-soundfont", "opl3",
                      "OPL-3 FM 128M SoundFont (FM synthesis), Bret Curtis 2015", "GPL-3+"),
}
#: the soundfonts :func:`make_instruments` leaves out of training unless asked (``train_soundfonts``):
#: OPL-3 is FM synthesis, unlike any recorded instrument (measured in docs/experiments/music.md).
EXCLUDED_BY_DEFAULT = ("OPL-3_FM_128M",)
INSTALL_ALL = ("sudo apt-get install fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont-small "
               "musescore-general-soundfont csound-soundfont opl3-soundfont")


def available_soundfonts(dirs: Iterable[str | Path] | None = None) -> dict[str, Path]:
    """The soundfonts of :data:`SOUNDFONT_FILES` installed here: name -> path.

    Looks in ``dirs``, then ``$AURICLE_SOUNDFONT_DIR``, then (when ``dirs`` is None) the system
    folders of :data:`auricle.separation.demo.SOUNDFONT_DIRS`; the first match of each file wins.

    Examples
    --------
    >>> fonts = available_soundfonts(["/nonexistent"])
    >>> set(fonts) <= set(SOUNDFONT_FILES)
    True
    """
    from auricle.separation.demo import soundfont_search_dirs

    search = soundfont_search_dirs(dirs)
    found = {}
    for name, (fname, *_rest) in SOUNDFONT_FILES.items():
        for d in search:
            if (d / fname).is_file():
                found[name] = (d / fname).resolve()
                break
    return found

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_RHYTHMS = ((1, 1, 1, 1), (0.5, 0.5, 1, 2), (1.5, 0.5, 1, 1), (2, 1, 1), (0.5, 0.5, 0.5, 0.5, 1, 1),
            (1, 0.5, 0.5, 2), (3, 1), (0.25, 0.25, 0.5, 1, 2), (0.5,) * 8, (4,))


def _clip(v, lo=1, hi=127) -> int:
    return int(min(hi, max(lo, round(v))))


def compose_phrase(seed: int, instrument: str, *, seconds: float = 5.0, register_seed: int | None = None):
    """The melody of source ``seed`` as ``instrument`` plays it: a :class:`~auricle.separation.demo.Part`.

    Parameters
    ----------
    seed : int
        The source: tempo, key, rhythm, contour, articulation and dynamics are drawn from it, so
        every instrument plays the same tune.
    instrument : str
        A key of :data:`INSTRUMENTS`.
    seconds : float
        Length; notes start before ``seconds - 0.3``.
    register_seed : int, optional
        Seeds the instrument's register and chord choice (default: from ``seed`` and the program).

    Returns
    -------
    Part
        GM program of the instrument, pan centre, notes within the instrument's range.

    Examples
    --------
    >>> p = compose_phrase(3, "cello", seconds=3.0)
    >>> p.program, min(n.pitch for n in p.notes) >= 36
    (42, True)
    """
    from auricle.separation.demo import Note, Part

    if instrument not in INSTRUMENTS:
        raise ConfigError(f"unknown instrument {instrument!r}", fix=f"use one of {', '.join(INSTRUMENTS)}")
    program, lo, hi, poly = INSTRUMENTS[instrument]
    rng = np.random.default_rng([int(seed), 11])
    tempo = float(rng.uniform(60, 160))
    beat = 60000.0 / tempo
    scale = _MAJOR if rng.random() < 0.6 else _MINOR
    legato = float(rng.choice((0.5, 0.75, 0.9, 0.98)))
    base_vel = float(rng.uniform(45, 115))
    shape = int(rng.integers(4))                  # flat, crescendo, decrescendo, swell
    end_ms = int(seconds * 1000) - 300
    # the tune as (start beat, beats, scale step from the tonic, accent), independent of the instrument
    tune, pos, step = [], 0.0, 0
    while pos * beat < end_ms:
        rhythm = _RHYTHMS[int(rng.integers(len(_RHYTHMS)))]
        for d in rhythm:
            if rng.random() < 0.08:               # a rest
                pos += d
                continue
            step = int(np.clip(step + rng.choice((-3, -2, -1, -1, 0, 1, 1, 2, 3, 4, -4)), -7, 9))
            tune.append((pos, d, step, float(rng.normal(0, 6))))
            pos += d
    rr = np.random.default_rng([int(seed), program, 12] if register_seed is None else [int(register_seed), 12])
    tonic = int(rr.integers(lo + 4, max(lo + 5, hi - 14)))
    chords = poly and rr.random() < 0.5
    notes = []
    for start_b, d, s, accent in tune:
        start = int(round(start_b * beat + rr.integers(-5, 6)))
        if start >= end_ms or start < 0:
            continue
        frac = start / max(1, end_ms)
        dyn = (0.0, -25 + 45 * frac, 20 - 45 * frac, 25 * math.sin(math.pi * frac) - 10)[shape]
        vel = _clip(base_vel + dyn + accent, 20, 127)
        octave, deg = divmod(s, 7)
        pitch = tonic + 12 * octave + scale[deg]
        while pitch > hi:
            pitch -= 12
        while pitch < lo:
            pitch += 12
        length = max(40, int(d * beat * legato))
        notes.append(Note(start, length, int(pitch), vel))
        if chords and start_b == int(start_b) and rr.random() < 0.6:
            for k in (2, 4):
                o2, d2 = divmod(s - k, 7)
                p2 = tonic + 12 * o2 + scale[d2]
                if lo <= p2 <= hi and p2 != pitch:
                    notes.append(Note(start, length, int(p2), _clip(vel - 10, 20, 127)))
    if not notes:                                 # a very short phrase: one long note
        notes.append(Note(0, max(100, end_ms), int(min(hi, max(lo, tonic))), _clip(base_vel)))
    return Part(program, 64, tuple(notes), modulation=int(rr.integers(0, 40)))


def vary_recording(part, instrument: str, seed: int, *, seconds: float = 5.0):
    """A training recording's own rendering of ``part``: program, tempo, key, dynamics, pan and effects.

    Imitates another player, room and instrument maker: one of :data:`PROGRAM_VARIANTS` half the
    time, the tempo scaled by 0.8-1.25, the tune transposed by -5..+5 semitones (folded by octaves
    into the instrument's range), velocities through a curve ``127 (v / 127) ** gamma`` with gamma
    0.6-1.6, pan 24-104, and the effects :func:`make_instruments` applies: fluidsynth's chorus
    (3 in 10), a synthetic room (reverb time 0.3-2 s, wet 0.1-0.5; half the time) and a left/right
    balance of the stereo render (0.2-0.8).

    Parameters
    ----------
    part : Part
        The plain recording (:func:`compose_phrase`).
    instrument : str
        A key of :data:`INSTRUMENTS`.
    seed : int
        The recording's seed: the same seed gives the same variation.
    seconds : float
        Length of the recording: notes that would start after ``seconds - 0.3`` are dropped.

    Returns
    -------
    (Part, dict)
        The varied part and ``{"chorus": bool, "rt60": s (0 = dry), "wet": float, "balance": float}``.

    Examples
    --------
    >>> plain = compose_phrase(4, "cello", seconds=4.0)
    >>> part, fx = vary_recording(plain, "cello", 4, seconds=4.0)
    >>> all(36 <= n.pitch <= 72 for n in part.notes), sorted(fx)
    (True, ['balance', 'chorus', 'rt60', 'wet'])
    >>> vary_recording(plain, "cello", 4, seconds=4.0) == (part, fx)
    True
    """
    from auricle.separation.demo import Part

    program, lo, hi, _ = INSTRUMENTS[instrument]
    rng = np.random.default_rng([int(seed), program, 31])
    variants = PROGRAM_VARIANTS.get(instrument, (program,))
    prog = int(variants[int(rng.integers(len(variants)))]) if rng.random() < 0.5 else program
    stretch = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
    gamma = float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
    shift = int(rng.integers(-5, 6))
    pan = int(rng.integers(24, 105))
    fx = _draw_fx(rng)
    notes = _vary_notes(part.notes, stretch=stretch, shift=shift, gamma=gamma, lo=lo, hi=hi,
                        end_ms=int(seconds * 1000) - 300) or [part.notes[0]]
    return Part(prog, pan, tuple(notes), modulation=part.modulation), fx


def _draw_fx(rng) -> dict:
    """The effects of one varied recording: chorus (3 in 10), a room half the time, a stereo balance."""
    return {"chorus": bool(rng.random() < 0.3), "rt60": float(rng.uniform(0.3, 2.0)) if rng.random() < 0.5 else 0.0,
            "wet": float(rng.uniform(0.1, 0.5)), "balance": float(rng.uniform(0.2, 0.8))}


#: the effects of a plainly rendered recording (validation, test, ``vary=False``)
PLAIN_FX = {"chorus": False, "rt60": 0.0, "wet": 0.0, "balance": 0.5}


def _vary_notes(notes, *, stretch: float, shift: int, gamma: float, lo: int, hi: int, end_ms: int) -> list:
    """``notes`` played ``stretch`` times slower, ``shift`` semitones up (folded by octaves into ``lo..hi``;
    ``shift=0`` keeps drum notes as they are) with velocities through ``127 (v / 127) ** gamma``; notes
    starting at or after ``end_ms`` dropped."""
    from auricle.separation.demo import Note

    out = []
    for n in notes:
        start = int(round(n.start * stretch))
        if start >= end_ms:
            continue
        pitch = n.pitch + shift
        while shift and pitch > hi:
            pitch -= 12
        while shift and pitch < lo:
            pitch += 12
        vel = _clip(127 * (n.velocity / 127) ** gamma, 20, 127)
        out.append(Note(start, max(40, int(round(n.length * stretch))), int(pitch), vel))
    return out


def _apply_fx(stereo: np.ndarray, fx: dict, *, sr: int, rng) -> np.ndarray:
    """Mono float64 of a ``(samples, 2)`` render: the stereo balance of ``fx``, then its room (when ``rt60``)."""
    from auricle.augment.reverb import Reverb

    x = (2 * fx["balance"] * stereo[:, 0] + 2 * (1 - fx["balance"]) * stereo[:, 1]).astype(np.float64) / 2
    if fx["rt60"] > 0:
        x = Reverb(p=1.0).apply(x[None].astype(np.float32), rt60=fx["rt60"], wet=fx["wet"], sr=sr,
                                rng=rng)[0].astype(np.float64)
    return x


def _training_families(available: Iterable[str], exclude: Iterable[str]) -> list[list[str]]:
    """``available`` less ``exclude`` and their families, grouped by family (in :data:`SOUNDFONT_FILES` order)."""
    exclude = set(exclude)
    gone = {SOUNDFONT_FILES[f][2] for f in exclude if f in SOUNDFONT_FILES}
    by_family: dict[str, list[str]] = {}
    for f in available:
        fam = SOUNDFONT_FILES[f][2] if f in SOUNDFONT_FILES else f
        if f not in exclude and fam not in gone and f not in by_family.get(fam, []):
            by_family.setdefault(fam, []).append(f)
    return list(by_family.values())


def _held_out_families(*, test_soundfont: str, valid_soundfont: str | None,
                       soundfonts: Iterable[str] | None) -> list[list[str]]:
    """Check the soundfont names; the training families once the test / validation ones are held out."""
    from auricle.separation.demo import SOUNDFONTS

    for name in (test_soundfont, valid_soundfont, *(soundfonts or ())):
        if name is not None and name not in SOUNDFONT_FILES:
            raise ConfigError(f"unknown soundfont {name!r}", fix=f"use one of {', '.join(SOUNDFONT_FILES)}")
    if valid_soundfont is not None and valid_soundfont == test_soundfont:
        raise ConfigError(f"the validation and test soundfonts are both {test_soundfont}",
                          fix="choose another --valid-soundfont (or none: validation then uses the training ones)")
    held = [test_soundfont] + ([valid_soundfont] if valid_soundfont else [])
    families = _training_families(list(soundfonts) if soundfonts is not None else list(SOUNDFONTS), held)
    if not families:
        raise ConfigError(f"no soundfont is left for training once {', '.join(held)} (and their families) are "
                          "held out", fix=f"install more soundfonts ({INSTALL_ALL}) or hold out another one")
    return families


def _split_soundfont(split: str, k: int, families: list[list[str]], *, test_soundfont: str,
                     valid_soundfont: str | None) -> str:
    """The soundfont of the ``k``-th recording of ``split``: the held-out one, or families in turn, then
    the members of each in turn."""
    if split == "test":
        return test_soundfont
    if split == "valid" and valid_soundfont:
        return valid_soundfont
    fam = families[k % len(families)]
    return fam[(k // len(families)) % len(fam)]


def plan_recordings(*, n_train: int, n_valid: int, n_test: int, seed: int, instruments: Iterable[str],
                    test_soundfont: str = "TimGM6mb", valid_soundfont: str | None = None,
                    soundfonts: Iterable[str] | None = None) -> list[dict]:
    """One row per recording: name, split, label, source (group), soundfont and seeds.

    Every source is played by every instrument.  Train (and valid, unless ``valid_soundfont`` is
    given) rotate over the training soundfonts: ``soundfonts`` less the test and validation ones
    **and their families** (a MuseScore test font is no unseen recording for a model trained on
    Fluid R3, whose samples it shares), one family after another so that each family is heard as
    often; test uses ``test_soundfont`` only, valid ``valid_soundfont`` only when it is given.

    Parameters
    ----------
    soundfonts : list of str, optional
        Soundfonts to train on, names of :data:`SOUNDFONT_FILES` (default: the three of
        :data:`auricle.separation.demo.SOUNDFONTS`).

    Examples
    --------
    >>> rows = plan_recordings(n_train=2, n_valid=1, n_test=1, seed=0, instruments=["flute", "cello"])
    >>> len(rows), sorted({r["soundfont"] for r in rows if r["split"] == "test"})
    (8, ['TimGM6mb'])
    >>> {r["group"] for r in rows if r["split"] == "train"} & {r["group"] for r in rows if r["split"] == "test"}
    set()
    """
    families = _held_out_families(test_soundfont=test_soundfont, valid_soundfont=valid_soundfont,
                                  soundfonts=soundfonts)
    rows = []
    for split, n in zip(SPLITS, (n_train, n_valid, n_test)):
        seeds = np.random.SeedSequence([int(seed), SPLITS.index(split), 7]).generate_state(max(n, 1), dtype=np.uint32)
        for i in range(n):
            src = f"{split}-{i:03d}"
            for j, inst in enumerate(instruments):
                font = _split_soundfont(split, i + j, families, test_soundfont=test_soundfont,
                                        valid_soundfont=valid_soundfont)
                rows.append({"name": f"{inst}/{src}", "split": split, "label": inst, "group": src,
                             "soundfont": font, "program": INSTRUMENTS[inst][0], "seed": int(seeds[i])})
    return rows


def _render_batch(parts: list, soundfont: Path, *, seconds: float, sr: int, tmp: str, exe: str, chorus: bool):
    """``(samples, 2)`` float32 per part: one fluidsynth call (reverb off; chorus on when asked)."""
    from auricle.separation.demo import iter_rendered

    return list(iter_rendered(parts, soundfont, seconds=seconds, sr=sr, tmp=tmp, fluidsynth=exe, chorus=chorus))


def make_instruments(out_dir: str | Path, *, n_train: int = 20, n_valid: int = 5, n_test: int = 8,
                     seconds: float = 5.0, sr: int = 22050, seed: int = 0, instruments: Iterable[str] | None = None,
                     test_soundfont: str = "TimGM6mb", valid_soundfont: str | None = None,
                     train_soundfonts: Iterable[str] | None = None, vary: bool = True, overwrite: bool = False,
                     soundfont_dirs: Iterable[str | Path] | None = None, jobs: int | None = None,
                     parts_per_call: int = 40, progress: Callable[[int, int], None] | None = None) -> Path:
    """Render the instrument set into ``out_dir``; return the path of its ``manifest.csv``.

    Parameters
    ----------
    out_dir : path
        Folder for ``{train,valid,test}/<instrument>/<source>.wav``, ``manifest.csv``, ``LICENSES.md``.
    n_train, n_valid, n_test : int
        Sources (melodies) per split; each is played by every instrument, so a split holds
        ``n * len(instruments)`` recordings.
    seconds : float
        Length of every recording.
    sr : int
        Sample rate; fluidsynth renders at it directly.
    seed : int
        Everything is drawn from it: the same seed, sizes and installed soundfonts write the same files.
    instruments : list of str, optional
        Keys of :data:`INSTRUMENTS` (default: all ten).
    test_soundfont : str
        The soundfont only test recordings use.
    valid_soundfont : str, optional
        A soundfont only validation recordings use (held out of training with its family), to choose
        settings on an unseen soundfont without touching the test one; default: validation uses the
        training soundfonts.
    train_soundfonts : list of str, optional
        Soundfonts to train on (default: every one of :data:`SOUNDFONT_FILES` installed here but
        :data:`EXCLUDED_BY_DEFAULT`); the test and validation ones and their families are always left out.
    vary : bool
        Render each training recording its own way (:func:`vary_recording`); validation and test
        recordings are played plainly.
    overwrite : bool
        Replace an earlier set in ``out_dir``.
    soundfont_dirs : list of path, optional
        Folders to look for the soundfonts in, instead of the system ones.
    jobs : int, optional
        fluidsynth processes at once (default: the CPU count, at most 4).
    parts_per_call : int
        Recordings rendered by one fluidsynth call (the soundfont is loaded once per call).
    progress : callable, optional
        ``progress(done, total)`` after each batch.

    Returns
    -------
    Path
        ``out_dir / "manifest.csv"``: train with ``auricle train OUT/manifest.csv``.

    Raises
    ------
    AuricleError
        fluidsynth or a soundfont is missing (the message names the packages), bad sizes, or a
        set is already there and ``overwrite`` is False.

    Examples
    --------
    >>> make_instruments("instruments", n_train=2, n_valid=1, n_test=1, seconds=3)   # doctest: +SKIP
    PosixPath('instruments/manifest.csv')
    """
    import soundfile as sf

    from auricle.separation.demo import find_fluidsynth

    out = Path(out_dir)
    instruments = list(instruments or INSTRUMENTS)
    bad = [i for i in instruments if i not in INSTRUMENTS]
    if bad or len(set(instruments)) < 2:
        raise ConfigError(f"instruments must be at least two of the known ones, got {instruments}",
                          fix=f"choose from {', '.join(INSTRUMENTS)}")
    if min(n_train, n_valid, n_test) < 0 or n_train == 0:
        raise ConfigError("the instrument set needs at least one training source and no negative counts",
                          fix="e.g. n_train=20, n_valid=5, n_test=8")
    if not 1.0 <= seconds <= 600:
        raise ConfigError(f"seconds={seconds} is out of range", fix="give 1 to 600 seconds per recording")
    if not 8000 <= sr <= 96000:
        raise ConfigError(f"sr={sr} is out of range", fix="give a sample rate of 8000 to 96000 (e.g. 22050, 44100)")
    installed = available_soundfonts(soundfont_dirs)
    rows = plan_recordings(n_train=n_train, n_valid=n_valid, n_test=n_test, seed=seed, instruments=instruments,
                           test_soundfont=test_soundfont, valid_soundfont=valid_soundfont,
                           soundfonts=_default_training_fonts(installed, train_soundfonts))
    exe = find_fluidsynth()
    fonts = _font_paths(rows, installed, soundfont_dirs)
    manifest = out / "manifest.csv"
    if not overwrite and (manifest.exists() or any((out / s).exists() for s in SPLITS)):
        raise AuricleError("an instrument set is already there", path=out, fix="pass overwrite=True (--overwrite)")
    for s in SPLITS:
        if (out / s).exists():
            shutil.rmtree(out / s)
    out.mkdir(parents=True, exist_ok=True)
    for r in rows:
        part = compose_phrase(r["seed"], r["label"], seconds=seconds)
        fx = dict(PLAIN_FX)
        if vary and r["split"] == "train":
            part, fx = vary_recording(part, r["label"], r["seed"], seconds=seconds)
        r["part"], r["fx"], r["program"] = part, fx, part.program
    batches = []
    step = max(1, parts_per_call)
    for font in fonts:
        for chorus in (False, True):
            mine = [r for r in rows if r["soundfont"] == font and r["fx"]["chorus"] == chorus]
            batches += [(mine[i:i + step], chorus) for i in range(0, len(mine), step)]
    done = [0]
    lock = threading.Lock()

    def write_batch(batch: list[dict], chorus: bool, tmp: str) -> None:
        font = fonts[batch[0]["soundfont"]]
        stereo = _render_batch([r["part"] for r in batch], font, seconds=seconds, sr=sr, tmp=tmp, exe=exe,
                               chorus=chorus)
        for r, s in zip(batch, stereo):
            x = _apply_fx(s, r["fx"], sr=sr, rng=np.random.default_rng([r["seed"], r["program"], 32]))
            peak = float(np.abs(x).max())
            if peak <= 0:
                raise AuricleError(f"fluidsynth rendered silence for {r['name']} ({r['soundfont']})",
                                   path=font, fix=f"check the soundfont has GM program {r['program']}")
            level = 10 ** (np.random.default_rng([r["seed"], INSTRUMENTS[r["label"]][0], 13]).uniform(-12, -1) / 20)
            path = out / r["split"] / f"{r['name']}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), np.round(x * (level / peak) * 32767).astype(np.int16), sr, subtype="PCM_16")
        with lock:
            done[0] += len(batch)
            if progress is not None:
                progress(done[0], len(rows))

    jobs = max(1, jobs or min(4, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(prefix="auricle-instruments-") as tmp:
        with ThreadPoolExecutor(jobs) as pool:   # fluidsynth is a subprocess: threads suffice
            for fut in [pool.submit(write_batch, b, c, tmp) for b, c in batches]:
                fut.result()
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "group", "split", "soundfont", "program", "seed", "chorus", "reverb_rt60"])
        for r in rows:
            w.writerow([f"{r['split']}/{r['name']}.wav", r["label"], r["group"], r["split"], r["soundfont"],
                        r["program"], r["seed"], int(r["fx"]["chorus"]), f"{r['fx']['rt60']:.2f}"])
    _write_licenses(out, fonts, what="instrument set", composed="Melodies")
    return manifest


def _default_training_fonts(installed: Iterable[str], train_soundfonts: Iterable[str] | None) -> list[str]:
    """``train_soundfonts``, or every installed soundfont but :data:`EXCLUDED_BY_DEFAULT`."""
    if train_soundfonts is None:
        return [f for f in installed if f not in EXCLUDED_BY_DEFAULT]
    return list(train_soundfonts)


def _font_paths(rows: list[dict], installed: dict[str, Path], soundfont_dirs) -> dict[str, Path]:
    """name -> path of every soundfont ``rows`` use; an :class:`AuricleError` naming the packages of missing ones."""
    missing = sorted({r["soundfont"] for r in rows} - set(installed))
    if missing:
        where = ", ".join(str(d) for d in soundfont_dirs) if soundfont_dirs else "the system soundfont folders"
        raise AuricleError(f"soundfont {', '.join(SOUNDFONT_FILES[m][0] for m in missing)} (package "
                           f"{', '.join(SOUNDFONT_FILES[m][1] for m in missing)}) not found in {where}",
                           fix=INSTALL_ALL)
    return {r["soundfont"]: installed[r["soundfont"]] for r in rows}


def _write_licenses(out: Path, fonts: Iterable[str], *, what: str, composed: str) -> None:
    """``out/LICENSES.md``: the soundfonts used and fluidsynth, with their licences."""
    from auricle.separation.demo import LICENSES

    lines = [f"# Licences of the rendered {what}", "",
             f"{composed} composed by auricle (`auricle.datasets.music_synth`), rendered with fluidsynth from",
             "General MIDI soundfonts; each recording is offered under the licence of its soundfont",
             "(`manifest.csv` names it):", ""]
    lines += [f"* **{f}** - {SOUNDFONT_FILES[f][3]} (Debian package {SOUNDFONT_FILES[f][1]}): {SOUNDFONT_FILES[f][4]}."
              for f in sorted(fonts)]
    lines += ["", f"* **fluidsynth** - {LICENSES['fluidsynth'][0]}: {LICENSES['fluidsynth'][1]}.", ""]
    (out / "LICENSES.md").write_text("\n".join(lines))


# --- genres: 30-s clips of styles that differ in rhythm, instrumentation and tempo ----------------

#: genre -> tempo range, drum kits (empty: no drums), kick / snare beats, hi-hat step (beats; 0 = none) and note
#: (42 closed, 46 open, 51 ride), swing, bass programs and rhythm ((beat, beats, semitones above the root: 0 root,
#: 7 fifth, 12 octave)), harmony programs and rhythm ((beat, beats)), lead programs and note lengths (beats).
#: Optional: ``chord`` (triad, default; power: root, fifth, octave; seventh), ``strum`` (ms between a chord's
#: notes), ``snare_note`` (GM drum note, default 38), ``progs`` (4-bar progressions of scale degrees to draw from).
#: The first five are the original set; the other seven complete GTZAN's ten and share instruments and tempi
#: with them on purpose (disco vs electronic, metal vs rock, country vs folk, blues vs jazz), which is what
#: makes the twelve a set that ranks recipes.
_PROGS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (1, 4, 0, 0), (0, 3, 0, 4))
GENRES: dict[str, dict] = {
    "rock": dict(tempo=(100, 145), kits=(0, 16), kick=(0, 2.5), snare=(1, 3), hat=(0.5, 42), swing=0.0,
                 bass=(33, 34), bass_rhythm=tuple((k * 0.5, 0.45, 0) for k in range(8)),
                 harmony=(29, 30), harmony_rhythm=((0, 1.5), (1.5, 1.0), (2.5, 1.5)), lead=(29, 30, 81),
                 lead_lengths=(0.5, 1, 1, 2), chord="power"),
    "jazz": dict(tempo=(90, 170), kits=(32, 40), kick=(0,), snare=(), hat=(1.0, 51), swing=0.16,
                 bass=(32,), bass_rhythm=((0, 1, 0), (1, 1, 7), (2, 1, 12), (3, 1, 7)),
                 harmony=(0, 4, 26), harmony_rhythm=((0.66, 0.5), (2.66, 0.8)), lead=(65, 66, 56, 57),
                 lead_lengths=(0.33, 0.66, 0.66, 1, 1.5)),
    "classical": dict(tempo=(56, 100), kits=(), kick=(), snare=(), hat=(0, 42), swing=0.0,
                      bass=(42, 43), bass_rhythm=((0, 2, 0), (2, 2, 7)), harmony=(48, 49, 44),
                      harmony_rhythm=((0, 4),), lead=(40, 73, 68, 71), lead_lengths=(1, 1, 2, 0.5)),
    "electronic": dict(tempo=(118, 132), kits=(24, 25), kick=(0, 1, 2, 3), snare=(1, 3), hat=(0.5, 46), swing=0.0,
                       bass=(38, 39), bass_rhythm=tuple((k + 0.5, 0.4, 0) for k in range(4)),
                       harmony=(89, 90, 91), harmony_rhythm=((0, 4),), lead=(80, 81, 87),
                       lead_lengths=(0.25, 0.25, 0.5), snare_note=39),
    "folk": dict(tempo=(80, 125), kits=(), kick=(), snare=(), hat=(0, 42), swing=0.0,
                 bass=(32,), bass_rhythm=((0, 1, 0), (2, 1, 7)), harmony=(25, 24),
                 harmony_rhythm=((0, 0.9), (1, 0.4), (1.5, 0.4), (2, 0.9), (3, 0.4), (3.5, 0.4)),
                 lead=(22, 110, 40, 105), lead_lengths=(0.5, 1, 1, 2), strum=8),
    "blues": dict(tempo=(66, 110), kits=(0, 8), kick=(0, 2), snare=(1, 3), hat=(0.5, 42), swing=0.16,
                  bass=(32, 33), bass_rhythm=((0, 1, 0), (1, 1, 4), (2, 1, 7), (3, 1, 9)),
                  harmony=(16, 17, 4), harmony_rhythm=((0.5, 0.4), (1.5, 0.4), (2.5, 0.4), (3.5, 0.4)),
                  lead=(27, 26, 65, 22), lead_lengths=(0.33, 0.66, 1, 1.5), chord="seventh",
                  progs=((0, 3, 0, 0), (3, 3, 0, 0), (4, 3, 0, 4))),
    "country": dict(tempo=(90, 140), kits=(0, 40), kick=(0, 2), snare=(1, 3), hat=(0.5, 42), swing=0.0,
                    bass=(32, 33), bass_rhythm=((0, 1, 0), (2, 1, 7)), harmony=(25, 24),
                    harmony_rhythm=((0, 0.9), (1, 0.4), (1.5, 0.4), (2, 0.9), (3, 0.4), (3.5, 0.4)),
                    lead=(25, 110, 105, 22), lead_lengths=(0.5, 0.5, 1, 1), strum=8),
    "disco": dict(tempo=(110, 130), kits=(0,), kick=(0, 1, 2, 3), snare=(1, 3), hat=(0.5, 46), swing=0.0,
                  bass=(33, 36, 37), bass_rhythm=tuple((k * 0.5, 0.4, 12 * (k % 2)) for k in range(8)),
                  harmony=(48, 49, 61), harmony_rhythm=((0.5, 0.4), (1.5, 0.4), (2.5, 0.4), (3.5, 0.4)),
                  lead=(61, 56, 73, 81), lead_lengths=(0.5, 0.5, 1)),
    "hiphop": dict(tempo=(80, 100), kits=(0, 25), kick=(0, 1.75, 2.5), snare=(1, 3), hat=(0.5, 42), swing=0.08,
                   bass=(38, 39), bass_rhythm=((0, 1.5, 0), (1.75, 0.5, 0), (2.5, 1.0, 0)),
                   harmony=(4, 5, 0), harmony_rhythm=((0, 2), (2, 2)), lead=(88, 80, 11),
                   lead_lengths=(0.5, 1, 1, 2)),
    "metal": dict(tempo=(130, 190), kits=(16, 0), kick=tuple(k * 0.5 for k in range(8)), snare=(1, 3),
                  hat=(1.0, 49), swing=0.0, bass=(34, 33), bass_rhythm=tuple((k * 0.5, 0.45, 0) for k in range(8)),
                  harmony=(30,), harmony_rhythm=tuple((k * 0.5, 0.45) for k in range(8)), lead=(30, 29),
                  lead_lengths=(0.25, 0.5, 0.5, 1), chord="power"),
    "pop": dict(tempo=(90, 125), kits=(0, 16, 24), kick=(0, 2), snare=(1, 3), hat=(0.5, 42), swing=0.0,
                bass=(33, 38), bass_rhythm=((0, 1, 0), (1.5, 0.5, 0), (2, 1, 7), (3.5, 0.5, 0)),
                harmony=(0, 1, 4, 88), harmony_rhythm=((0, 1), (1, 1), (2, 1), (3, 1)), lead=(80, 73, 54, 52),
                lead_lengths=(0.5, 1, 1, 2)),
    "reggae": dict(tempo=(66, 90), kits=(0, 8), kick=(2,), snare=(2,), hat=(0.5, 42), swing=0.05,
                   bass=(33, 34), bass_rhythm=((0, 0.9, 0), (1.5, 0.4, 7), (2.5, 0.9, 12)),
                   harmony=(16, 27), harmony_rhythm=((0.5, 0.25), (1.5, 0.25), (2.5, 0.25), (3.5, 0.25)),
                   lead=(4, 56, 65), lead_lengths=(0.5, 1, 1, 2)),
}

#: the original five styles (every figure before stop 34 is on these; ``auricle make-genres --genres five``)
FIVE_GENRES = ("rock", "jazz", "classical", "electronic", "folk")


def compose_genre_clip(seed: int, genre: str, *, seconds: float = 30.0) -> list:
    """The parts (drums, bass, harmony, lead; no drums in classical and folk) of one clip of ``genre``.

    Parameters
    ----------
    seed : int
        Key, mode, progression, tempo (in the genre's range), programs and the melody come from it.
    genre : str
        A key of :data:`GENRES`.
    seconds : float
        Length of the clip.

    Returns
    -------
    list of Part
        Rendered one by one and summed by :func:`make_genres`.

    Examples
    --------
    >>> parts = compose_genre_clip(1, "electronic", seconds=8.0)
    >>> len(parts), parts[0].drums
    (4, True)
    >>> len(compose_genre_clip(1, "classical", seconds=8.0))
    3
    """
    from auricle.separation.demo import Note, Part

    if genre not in GENRES:
        raise ConfigError(f"unknown genre {genre!r}", fix=f"use one of {', '.join(GENRES)}")
    g = GENRES[genre]
    rng = np.random.default_rng([int(seed), 21])
    tempo = float(rng.uniform(*g["tempo"]))
    beat = 60000.0 / tempo
    end_ms = int(seconds * 1000) - 200
    n_bars = max(1, math.ceil(end_ms / (4 * beat)))
    minor = rng.random() < 0.4
    scale = _MINOR if minor else _MAJOR
    tonic = 36 + int(rng.integers(12))
    progs = g.get("progs", _PROGS)
    prog = progs[int(rng.integers(len(progs)))]

    def t(b: float) -> int:
        bar, pos = divmod(b, 4)
        if g["swing"] and (pos % 1) >= 0.5:
            pos += g["swing"]
        return int(round((4 * bar + pos) * beat + rng.integers(-4, 5)))

    def keep(notes):
        return tuple(n for n in notes if 0 <= n.start < end_ms)

    parts = []
    if g["kits"]:
        notes = []
        step, hat = g["hat"]
        for b in range(n_bars):
            for k in g["kick"]:
                notes.append(Note(t(4 * b + k), 120, 36, _clip(rng.integers(95, 125))))
            for k in g["snare"]:
                notes.append(Note(t(4 * b + k), 120, g.get("snare_note", 38), _clip(rng.integers(90, 120))))
            if step:
                for h in range(int(round(4 / step))):
                    notes.append(Note(t(4 * b + h * step), 90, hat, _clip(rng.integers(55, 90))))
        parts.append(Part(int(rng.choice(g["kits"])), 64, keep(notes), drums=True))
    notes = []
    for b in range(n_bars):
        root = tonic + scale[prog[b % 4] % 7]
        for pos, d, iv in g["bass_rhythm"]:
            notes.append(Note(t(4 * b + pos), int(d * beat * 0.95), root + iv, _clip(rng.integers(80, 115))))
    parts.append(Part(int(rng.choice(g["bass"])), 64, keep(notes)))
    notes = []
    for b in range(n_bars):
        deg = prog[b % 4]
        kind = g.get("chord", "triad")
        if kind == "power":                     # power chords: root, fifth, octave
            chord = [tonic + 12 + scale[deg % 7] + i for i in (0, 7, 12)]
        else:                                   # stacked thirds of the scale (a seventh adds the fourth)
            chord = [tonic + 24 + scale[(deg + k) % 7] + 12 * ((deg + k) // 7)
                     for k in ((0, 2, 4, 6) if kind == "seventh" else (0, 2, 4))]
        for pos, d in g["harmony_rhythm"]:
            vel = _clip(rng.integers(55, 95))
            for j, p in enumerate(chord):
                notes.append(Note(t(4 * b + pos) + g.get("strum", 0) * j, int(d * beat * 0.95), p, vel))
    parts.append(Part(int(rng.choice(g["harmony"])), 64, keep(notes)))
    notes, pos, step = [], 0.0, 0
    while pos < 4 * n_bars:
        d = float(rng.choice(g["lead_lengths"]))
        if rng.random() > 0.12:
            step = int(np.clip(step + rng.choice((-2, -1, -1, 0, 1, 1, 2)), -3, 10))
            o, k = divmod(step, 7)
            notes.append(Note(t(pos), int(d * beat * 0.9), tonic + 36 + 12 * o + scale[k], _clip(rng.integers(70, 110))))
        pos += d
    parts.append(Part(int(rng.choice(g["lead"])), 64, keep(notes), modulation=int(rng.integers(0, 30))))
    return parts


def vary_genre_clip(parts: list, seed: int, *, seconds: float = 30.0) -> tuple[list, dict]:
    """A training clip's own rendering of ``parts`` (:func:`compose_genre_clip`): tempo, key, dynamics, pan, room.

    The band plays ``stretch`` = 0.9-1.12 times slower (the same for every part, so the genre's
    tempo range widens by that much and no more), the melodic parts transposed by -5..+5 semitones
    (folded by octaves into MIDI 24-108; drum notes keep their pitch: it is the drum), each part
    through its own velocity curve ``127 (v / 127) ** gamma`` (gamma 0.6-1.6) and at its own pan
    (melodic 24-104, drums 48-80), and the clip gets the effects of :func:`vary_recording`
    (a synthetic room half the time, a stereo balance 0.2-0.8; the chorus flag as there).

    Parameters
    ----------
    parts : list of Part
        The plain clip.
    seed : int
        The clip's seed: the same seed gives the same variation.
    seconds : float
        Length of the clip: notes that would start after ``seconds - 0.2`` are dropped.

    Returns
    -------
    (list of Part, dict)
        The varied parts (same order and programs) and the effects, keys as :func:`vary_recording`'s
        and ``stretch`` (tempo factor), ``shift`` (semitones).

    Examples
    --------
    >>> plain = compose_genre_clip(2, "rock", seconds=6.0)
    >>> varied, fx = vary_genre_clip(plain, 2, seconds=6.0)
    >>> [p.program for p in varied] == [p.program for p in plain], sorted(fx)
    (True, ['balance', 'chorus', 'rt60', 'shift', 'stretch', 'wet'])
    >>> {n.pitch for n in varied[0].notes} <= {n.pitch for n in plain[0].notes}     # drums keep their notes
    True
    """
    from auricle.separation.demo import Part

    rng = np.random.default_rng([int(seed), 33])
    stretch = float(np.exp(rng.uniform(np.log(0.9), np.log(1.12))))
    shift = int(rng.integers(-5, 6))
    fx = {**_draw_fx(rng), "stretch": stretch, "shift": shift}
    end_ms = int(seconds * 1000) - 200
    out = []
    for p in parts:
        gamma = float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
        pan = int(rng.integers(48, 81) if p.drums else rng.integers(24, 105))
        notes = _vary_notes(p.notes, stretch=stretch, shift=0 if p.drums else shift, gamma=gamma, lo=24, hi=108,
                            end_ms=end_ms) or list(p.notes[:1])
        out.append(Part(p.program, pan, tuple(notes), drums=p.drums, modulation=p.modulation))
    return out, fx


def plan_genres(*, n_train: int, n_valid: int, n_test: int, seed: int, genres: Iterable[str],
                test_soundfont: str = "TimGM6mb", valid_soundfont: str | None = None,
                soundfonts: Iterable[str] | None = None) -> list[dict]:
    """One row per clip: name, split, label, group (the clip: each is its own composition), soundfont, seed.

    Soundfonts as :func:`plan_recordings`: test on ``test_soundfont`` only, validation on
    ``valid_soundfont`` when given, training (and otherwise validation) rotating over the families
    of ``soundfonts`` that are left once the held-out ones and their families are taken out.

    Examples
    --------
    >>> rows = plan_genres(n_train=2, n_valid=1, n_test=1, seed=0, genres=["rock", "jazz"],
    ...                    valid_soundfont="sf_GMbank", soundfonts=["FluidR3_GM", "TimGM6mb", "sf_GMbank"])
    >>> [(r["split"], r["soundfont"]) for r in rows if r["label"] == "rock"]
    [('train', 'FluidR3_GM'), ('train', 'FluidR3_GM'), ('valid', 'sf_GMbank'), ('test', 'TimGM6mb')]
    """
    families = _held_out_families(test_soundfont=test_soundfont, valid_soundfont=valid_soundfont,
                                  soundfonts=soundfonts)
    rows = []
    for split, n in zip(SPLITS, (n_train, n_valid, n_test)):
        seeds = np.random.SeedSequence([int(seed), SPLITS.index(split), 23]).generate_state(max(n, 1), dtype=np.uint32)
        for i in range(n):
            for j, gname in enumerate(genres):
                font = _split_soundfont(split, i + j, families, test_soundfont=test_soundfont,
                                        valid_soundfont=valid_soundfont)
                rows.append({"name": f"{gname}/{split}-{i:03d}", "split": split, "label": gname,
                             "group": f"{gname}-{split}-{i:03d}", "soundfont": font, "seed": int(seeds[i]) + j})
    return rows


def make_genres(out_dir: str | Path, *, n_train: int = 12, n_valid: int = 3, n_test: int = 5, seconds: float = 30.0,
                sr: int = 22050, seed: int = 0, genres: Iterable[str] | None = None, test_soundfont: str = "TimGM6mb",
                valid_soundfont: str | None = None, train_soundfonts: Iterable[str] | None = None, vary: bool = True,
                overwrite: bool = False, soundfont_dirs: Iterable[str | Path] | None = None,
                jobs: int | None = None, clips_per_call: int = 4,
                progress: Callable[[int, int], None] | None = None) -> Path:
    """Render a GTZAN-style genre set (``n`` clips a genre and split) into ``out_dir``; return its manifest.

    Same layout, splits and soundfonts as :func:`make_instruments` (``group`` is the clip: every
    clip is its own composition): training on every installed soundfont but the held-out ones,
    their families and :data:`EXCLUDED_BY_DEFAULT`, each training clip rendered its own way
    (:func:`vary_genre_clip`) unless ``vary=False``.  A clip's parts are rendered one by one, each
    scaled to its peak and a level of -6..0 dB drawn per part, summed, and the clip scaled to a
    peak of -12..-1 dBFS (so loudness says nothing about the genre).

    Parameters
    ----------
    out_dir : path
        Folder for ``{train,valid,test}/<genre>/<split>-NNN.wav``, ``manifest.csv``, ``LICENSES.md``.
    n_train, n_valid, n_test : int
        Clips per genre in each split.
    seconds : float
        Length of every clip (GTZAN: 30 s).
    sr : int
        Sample rate; fluidsynth renders at it directly.
    seed : int
        Everything is drawn from it: the same seed, sizes and installed soundfonts write the same files.
    genres : list of str, optional
        Keys of :data:`GENRES`, or ``"all"`` (the twelve) (default: :data:`FIVE_GENRES`).
    test_soundfont, valid_soundfont, train_soundfonts
        As in :func:`make_instruments`.
    vary : bool
        Render each training clip its own way; validation and test clips are played plainly.
    overwrite : bool
        Replace an earlier set in ``out_dir``.
    soundfont_dirs : list of path, optional
        Folders to look for the soundfonts in, instead of the system ones.
    jobs : int, optional
        fluidsynth processes at once (default: the CPU count, at most 4).
    clips_per_call : int
        Clips rendered by one fluidsynth call (the soundfont is loaded once per call).
    progress : callable, optional
        ``progress(done, total)`` after each call.

    Returns
    -------
    Path
        ``out_dir / "manifest.csv"`` (path, label, group, split, soundfont, seed, chorus, reverb_rt60).

    Raises
    ------
    AuricleError
        fluidsynth or a soundfont is missing (the message names the packages), bad sizes, or a
        set is already there and ``overwrite`` is False.

    Examples
    --------
    >>> make_genres("genres", n_train=2, n_valid=1, n_test=1, seconds=10)   # doctest: +SKIP
    PosixPath('genres/manifest.csv')
    """
    import soundfile as sf

    from auricle.separation.demo import find_fluidsynth, iter_rendered

    out = Path(out_dir)
    genres = list(GENRES) if genres == "all" or genres == ["all"] else list(genres or FIVE_GENRES)
    if any(x not in GENRES for x in genres) or len(set(genres)) < 2:
        raise ConfigError(f"genres must be at least two of the known ones, got {genres}", fix=f"choose from {', '.join(GENRES)}")
    if min(n_train, n_valid, n_test) < 0 or n_train == 0 or not 2.0 <= seconds <= 600:
        raise ConfigError("the genre set needs at least one training clip, no negative counts and 2-600 s clips",
                          fix="e.g. n_train=12, n_valid=3, n_test=5, seconds=30")
    if not 8000 <= sr <= 96000:
        raise ConfigError(f"sr={sr} is out of range", fix="give a sample rate of 8000 to 96000 (e.g. 22050, 44100)")
    installed = available_soundfonts(soundfont_dirs)
    rows = plan_genres(n_train=n_train, n_valid=n_valid, n_test=n_test, seed=seed, genres=genres,
                       test_soundfont=test_soundfont, valid_soundfont=valid_soundfont,
                       soundfonts=_default_training_fonts(installed, train_soundfonts))
    exe = find_fluidsynth()
    fonts = _font_paths(rows, installed, soundfont_dirs)
    manifest = out / "manifest.csv"
    if not overwrite and (manifest.exists() or any((out / s).exists() for s in SPLITS)):
        raise AuricleError("a genre set is already there", path=out, fix="pass overwrite=True (--overwrite)")
    for s in SPLITS:
        if (out / s).exists():
            shutil.rmtree(out / s)
    out.mkdir(parents=True, exist_ok=True)
    for r in rows:
        parts, fx = compose_genre_clip(r["seed"], r["label"], seconds=seconds), dict(PLAIN_FX)
        if vary and r["split"] == "train":
            parts, fx = vary_genre_clip(parts, r["seed"], seconds=seconds)
        r["parts"], r["fx"] = parts, fx
    batches = []
    step = max(1, clips_per_call)
    for font in fonts:
        for chorus in (False, True):
            mine = [r for r in rows if r["soundfont"] == font and r["fx"]["chorus"] == chorus]
            batches += [(mine[i:i + step], chorus) for i in range(0, len(mine), step)]
    done = [0]
    lock = threading.Lock()

    def write_batch(batch: list[dict], chorus: bool, tmp: str) -> None:
        stems = iter_rendered([p for r in batch for p in r["parts"]], fonts[batch[0]["soundfont"]], seconds=seconds,
                              sr=sr, tmp=tmp, fluidsynth=exe, chorus=chorus)
        for r in batch:
            lv = np.random.default_rng([r["seed"], 24])
            mix = 0.0
            for _ in r["parts"]:
                s = next(stems)
                mix = mix + s.astype(np.float64) * (10 ** (lv.uniform(-6, 0) / 20) / (np.abs(s).max() + 1e-9))
            x = _apply_fx(mix, r["fx"], sr=sr, rng=np.random.default_rng([r["seed"], 34]))
            x *= 10 ** (lv.uniform(-12, -1) / 20) / (np.abs(x).max() + 1e-12)
            path = out / r["split"] / f"{r['name']}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), np.round(x * 32767).astype(np.int16), sr, subtype="PCM_16")
        for _ in stems:                          # let the iterator remove its files
            pass
        with lock:
            done[0] += len(batch)
            if progress is not None:
                progress(done[0], len(rows))

    with tempfile.TemporaryDirectory(prefix="auricle-genres-") as tmp:
        with ThreadPoolExecutor(max(1, jobs or min(4, os.cpu_count() or 1))) as pool:
            for fut in [pool.submit(write_batch, b, c, tmp) for b, c in batches]:
                fut.result()
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "group", "split", "soundfont", "seed", "chorus", "reverb_rt60"])
        for r in rows:
            w.writerow([f"{r['split']}/{r['name']}.wav", r["label"], r["group"], r["split"], r["soundfont"], r["seed"],
                        int(r["fx"]["chorus"]), f"{r['fx']['rt60']:.2f}"])
    _write_licenses(out, fonts, what="genre set", composed="Clips")
    return manifest
