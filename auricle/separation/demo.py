"""Built-in demo songs for source separation: generated scores, rendered per instrument.

Nothing can be downloaded where auricle is tested, and real multitrack sets (MUSDB18) are
large and licensed for research only.  So the demo set is *composed*: every song is a seeded,
procedurally written multi-track score (tempo 80-150 bpm, a key, a chord progression, 4-bar
sections) with five parts,

* ``drums``  - GM channel 10, one of seven kits, kick/snare/hi-hat (or ride) patterns with
  variations, crashes on section starts and fills;
* ``bass``   - a GM bass (programs 32-39) playing root/fifth/octave lines;
* ``piano``  - a GM piano (programs 0-7) playing block chords, off-beats or arpeggios;
* ``other``  - pads, strings, organs, guitars, brass or reeds (never a piano, bass or voice);
* ``vocals`` - the melody, sung by GM "Choir Aahs" / "Voice Oohs" / "Synth Voice" (52-54), and
  espeak-ng singing one syllable per note at the note's pitch (when espeak-ng is installed) so
  the stem has speech-like formants and consonants,

each **rendered on its own** with the ``fluidsynth`` program and a General MIDI soundfont, so
the stems are exact.  The written stems are 16-bit and ``mixture.wav`` is their exact sum (the
song is scaled so the sum never clips), in the MUSDB18 layout that
:mod:`auricle.separation.stems` reads::

    out/train/<song>/{mixture,vocals,drums,bass,piano,other}.wav
    out/valid/<song>/...
    out/test/<song>/...
    out/manifest.csv        song, split, soundfont, tempo, key, seed
    out/LICENSES.md         the soundfonts and engines used, and their licences

The test songs are rendered with a soundfont **no training song used** (TimGM6mb; train and
valid use FluidR3_GM and MuseScore_General_Lite), so a test score measures how a separator
transfers to instruments it has not heard, not how well it memorised sample sets.

Rendering is fast: the stems of a few songs (``songs_per_call``) are written into one MIDI file,
one after another on a grid of whole fluidsynth blocks (so note timing is the same in every
segment), rendered by one fluidsynth call (the soundfont is loaded once) and cut apart again.
Every segment starts with a controller reset and ends with "all sound off"; reverb and chorus are
off.  fluidsynth renders deterministically, so the same seed and sizes write the same files
whatever ``jobs`` is.  (A segment is not quite bit-identical to rendering it alone: a reused
fluidsynth voice ramps its first 64 samples from the previous note's level, a difference below
-40 dBFS in the first 4 ms of some notes.)

Examples
--------
>>> song = compose_song(1234, seconds=8.0)
>>> sorted(song.parts) == sorted(DEMO_STEMS)
True
>>> 80 <= song.tempo <= 150 and song.key[-5:] in ("major", "minor")
True
>>> compose_song(1234, seconds=8.0) == song        # the song is a function of its seed
True
"""
from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from auricle.errors import AuricleError, ConfigError

#: The stems every demo song has, in this order.
DEMO_STEMS = ("vocals", "drums", "bass", "piano", "other")
SPLITS = ("train", "valid", "test")

#: Soundfonts by name: the file name the Debian package installs, and the package.
SOUNDFONTS = {
    "FluidR3_GM": ("FluidR3_GM.sf2", "fluid-soundfont-gm"),
    "MuseScore_General_Lite": ("MuseScore_General_Lite.sf3", "musescore-general-soundfont-small"),
    "TimGM6mb": ("TimGM6mb.sf2", "timgm6mb-soundfont"),
}
#: Training and validation songs use these; test songs use :data:`TEST_SOUNDFONTS` only.
TRAIN_SOUNDFONTS = ("FluidR3_GM", "MuseScore_General_Lite")
TEST_SOUNDFONTS = ("TimGM6mb",)
#: Folders searched for soundfonts (after ``$AURICLE_SOUNDFONT_DIR`` and ``soundfont_dirs``).
SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts",
                  "/usr/local/share/soundfonts")
INSTALL_FIX = ("sudo apt-get install fluidsynth fluid-soundfont-gm timgm6mb-soundfont "
               "musescore-general-soundfont-small")

LICENSES = {
    "FluidR3_GM": ("Fluid (R3) GM SoundFont, Frank Wen 2000-2002, 2008 (Debian package "
                   "fluid-soundfont-gm)", "MIT"),
    "MuseScore_General_Lite": ("MuseScore_General (Lite) SoundFont, S. Christian Collins 2018-2021, "
                               "based on Fluid (R3) Mono by Michael Cowgill (Debian package "
                               "musescore-general-soundfont-small)", "MIT (some samples public domain or CC0)"),
    "TimGM6mb": ("TimGM6mb SoundFont, Tim Brechbill 2004 (Debian package timgm6mb-soundfont)", "GPL-2"),
    "fluidsynth": ("FluidSynth 2 software synthesizer, Peter Hanappe and others (renders the MIDI; "
                   "not distributed with the data)", "LGPL-2.1+"),
    "espeak-ng": ("eSpeak NG speech synthesizer, Jonathan Duddington, Reece H. Dunn and others "
                  "(sings the vocal syllables)", "GPL-3+"),
}

# --- the composer ------------------------------------------------------------------------------

_NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# progressions as scale degrees (0 = tonic), one chord a bar
_PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (1, 4, 0, 0), (0, 3, 4, 3), (0, 3, 0, 4),
              (3, 0, 4, 5), (0, 2, 3, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (5, 6, 0, 0), (0, 4, 5, 3)),
}
DRUM_KITS = (0, 8, 16, 24, 25, 32, 40)         # standard, room, power, electronic, 808, jazz, brush
BASS_PROGRAMS = tuple(range(32, 40))
PIANO_PROGRAMS = tuple(range(0, 8))
VOCAL_PROGRAMS = (52, 53, 54)                  # choir aahs, voice oohs, synth voice
OTHER_PROGRAMS = (tuple(range(16, 21))         # organs
                  + tuple(range(24, 32))       # guitars
                  + tuple(range(40, 52))       # strings, ensembles
                  + tuple(range(56, 72))       # brass, reeds
                  + (73, 80, 81, 82)           # flute, square/saw/calliope leads
                  + tuple(range(88, 96)))      # pads
_SYLLABLES = ("la", "na", "da", "oh", "yeah", "love", "you", "me", "go", "so", "high", "day", "night",
              "light", "home", "baby", "hey", "my", "heart", "ba", "doo", "wo", "run", "away", "sky",
              "time", "fire", "we", "stay", "free")
ESPEAK_VOICES = ("en+f2", "en+f3", "en+f4", "en+m3", "en+m5", "en-us+f2", "en-us+m2", "en-gb-x-rp+f4")


@dataclass(frozen=True)
class Note:
    """One note: start and length in milliseconds, MIDI pitch and velocity."""

    start: int
    length: int
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Part:
    """One instrument of a song: GM program (drum kit on channel 10) and pan (MIDI 0-127)."""

    program: int
    pan: int
    notes: tuple[Note, ...]
    drums: bool = False
    gain_db: float = 0.0
    modulation: int = 0


@dataclass(frozen=True)
class Song:
    """A composed song: its seed, tempo (bpm), key, progression and one :class:`Part` per stem."""

    seed: int
    seconds: float
    tempo: int
    key: str
    progression: tuple[int, ...]
    parts: dict = field(default_factory=dict)
    lyrics: tuple = ()          # vocal phrases: ((start_ms, end_ms, ((pitch, syllable), ...)), ...)
    voice: str = "en+f3"


def _clip(v, lo=1, hi=127) -> int:
    return int(min(hi, max(lo, round(v))))


def compose_song(seed: int, seconds: float = 20.0) -> Song:
    """Compose one song from ``seed``: the same seed gives the same song.

    Parameters
    ----------
    seed : int
        Everything (tempo, key, progression, instruments, patterns, pans, gains) is drawn from it.
    seconds : float
        Length of the song; the score fills it and the stems are cut there.

    Returns
    -------
    Song
        With a :class:`Part` for each of :data:`DEMO_STEMS`; every part has notes.

    Examples
    --------
    >>> s = compose_song(7, seconds=6.0)
    >>> s.parts["drums"].drums, 32 <= s.parts["bass"].program <= 39
    (True, True)
    """
    rng = np.random.default_rng(int(seed))
    end_ms = int(seconds * 1000)
    tempo = int(rng.integers(80, 151))
    beat = 60000.0 / tempo
    bar = 4 * beat
    mode = "major" if rng.random() < 0.6 else "minor"
    tonic = int(rng.integers(0, 12))
    scale = _MAJOR if mode == "major" else _MINOR
    progs = _PROGRESSIONS[mode]
    prog = progs[int(rng.integers(len(progs)))]
    n_bars = max(1, math.ceil(end_ms / bar))
    lead_in = int(rng.integers(0, 60))              # a few ms of silence before the downbeat
    n_sections = max(1, math.ceil(n_bars / 4))

    # which stems play in which 4-bar section (each plays somewhere; vocals often enter late)
    active = {}
    for stem, p_off in (("vocals", 0.25), ("drums", 0.15), ("bass", 0.1), ("piano", 0.25), ("other", 0.3)):
        on = rng.random(n_sections) >= p_off
        if stem == "vocals" and n_sections > 1 and rng.random() < 0.5:
            on[0] = False
        if not on.any():
            on[int(rng.integers(n_sections))] = True
        active[stem] = on

    def t(b: float) -> int:                        # beats from the start -> ms
        return int(round(lead_in + b * beat))

    def chord(bar_i: int, octave: int, inversion: int = 0) -> list[int]:
        deg = prog[bar_i % len(prog)]
        pcs = [scale[(deg + k) % 7] + 12 * ((deg + k) // 7) for k in (0, 2, 4)]
        notes = [12 * octave + tonic + pc for pc in pcs]
        for _ in range(inversion):
            notes = notes[1:] + [notes[0] + 12]
        return notes

    def jitter(ms: float = 6.0) -> int:
        return int(rng.integers(-ms, ms + 1))

    def on(stem: str, bar_i: int) -> bool:
        return bool(active[stem][min(bar_i // 4, n_sections - 1)])

    parts: dict[str, Part] = {}

    # drums ------------------------------------------------------------------------------------
    KICK, SNARE, HAT, OPEN, PEDAL, RIDE, CRASH = 36, 38, 42, 46, 44, 51, 49
    TOMS = (50, 48, 47, 45, 43, 41)
    kick_pats = ((0, 2), (0, 2.5), (0, 1.5, 2), (0, 0.5, 2, 2.5), (0, 2, 3.5), (0, 1, 2, 3), (0, 2.75, 3.5))
    kick = kick_pats[int(rng.integers(len(kick_pats)))]
    kick_alt = kick_pats[int(rng.integers(len(kick_pats)))]
    snare = (1, 3) if rng.random() < 0.85 else (2,)
    hat_step = (0.5, 0.5, 0.25, 1.0)[int(rng.integers(4))]
    cymbal = RIDE if rng.random() < 0.2 else HAT
    swing = 0.08 * rng.random() if rng.random() < 0.3 else 0.0
    notes = []
    for b in range(n_bars):
        if not on("drums", b):
            continue
        base = 4 * b
        fill = b % 4 == 3 and rng.random() < 0.5
        if b % 4 == 0 and rng.random() < 0.7:
            notes.append(Note(t(base), 600, CRASH, _clip(rng.integers(90, 120))))
        for k in (kick_alt if (b % 2 and rng.random() < 0.4) else kick):
            notes.append(Note(t(base + k) + jitter(4), 120, KICK, _clip(rng.integers(95, 125))))
        for s in snare:
            if not (fill and s == 3):
                notes.append(Note(t(base + s) + jitter(4), 120, SNARE, _clip(rng.integers(90, 122))))
        n_hat = int(round(4 / hat_step))
        for h in range(n_hat):
            pos = h * hat_step
            if fill and pos >= 3:
                break
            if hat_step <= 0.5 and h % 2:
                pos += swing
            acc = 20 if (pos % 1) == 0 else 0
            pitch = OPEN if (cymbal == HAT and pos == 3.5 and rng.random() < 0.3) else cymbal
            if rng.random() < 0.93:
                notes.append(Note(t(base + pos) + jitter(3), 90, pitch, _clip(rng.integers(55, 85) + acc)))
        if fill:
            step = 0.25 if rng.random() < 0.6 else 0.5       # sixteenths or eighths on beat 4
            for k in range(int(round(1 / step))):
                drum = TOMS[min(k, len(TOMS) - 1)] if rng.random() < 0.7 else SNARE
                notes.append(Note(t(base + 3 + k * step), 150, drum, _clip(rng.integers(85, 120))))
    parts["drums"] = Part(int(rng.choice(DRUM_KITS)), _clip(rng.normal(64, 8), 40, 88), tuple(notes),
                          drums=True, gain_db=float(rng.uniform(-4, 2)))

    # bass -------------------------------------------------------------------------------------
    style = int(rng.integers(5))
    notes = []
    for b in range(n_bars):
        if not on("bass", b):
            continue
        root = chord(b, 3)[0] - 12 if chord(b, 3)[0] - 12 >= 33 else chord(b, 3)[0]
        fifth = root + 7
        if style == 0:       # whole notes
            seq = ((0, 4, root),)
        elif style == 1:     # root-fifth halves
            seq = ((0, 2, root), (2, 2, fifth))
        elif style == 2:     # eighth roots
            seq = tuple((k * 0.5, 0.45, root) for k in range(8))
        elif style == 3:     # root, fifth, octave walk in quarters
            seq = ((0, 1, root), (1, 1, fifth), (2, 1, root + 12), (3, 1, fifth))
        else:                # syncopated
            seq = ((0, 1.5, root), (1.5, 1, root), (2.5, 0.5, fifth), (3, 1, root + 12 if rng.random() < 0.5 else root))
        for pos, dur, p in seq:
            notes.append(Note(t(4 * b + pos) + jitter(), int(dur * beat * 0.92), p, _clip(rng.integers(80, 115))))
    parts["bass"] = Part(int(rng.choice(BASS_PROGRAMS)), _clip(rng.normal(64, 6), 48, 80), tuple(notes),
                         gain_db=float(rng.uniform(-4, 2)))

    # piano ------------------------------------------------------------------------------------
    style = int(rng.integers(4))
    inv = int(rng.integers(3))
    notes = []
    for b in range(n_bars):
        if not on("piano", b):
            continue
        ch = chord(b, 5, inv)
        base = 4 * b
        if style == 0:       # block chords on every beat
            hits = [(k, 0.9, ch) for k in range(4)]
        elif style == 1:     # half-note chords with a bass note
            hits = [(0, 1.9, [ch[0] - 12] + ch), (2, 1.9, ch)]
        elif style == 2:     # off-beat stabs
            hits = [(k + 0.5, 0.4, ch) for k in range(4)]
        else:                # arpeggio in eighths
            arp = ch + [ch[0] + 12]
            hits = [(k * 0.5, 0.5, [arp[(k if k < 4 else 7 - k) % 4]]) for k in range(8)]
        for pos, dur, pitches in hits:
            vel = _clip(rng.integers(60, 100))
            for p in pitches:
                notes.append(Note(t(base + pos) + jitter(8), int(dur * beat), p, _clip(vel + rng.integers(-6, 7))))
    parts["piano"] = Part(int(rng.choice(PIANO_PROGRAMS)), _clip(rng.uniform(20, 108)), tuple(notes),
                          gain_db=float(rng.uniform(-6, 0)))

    # other ------------------------------------------------------------------------------------
    program = int(rng.choice(OTHER_PROGRAMS))
    guitar = 24 <= program <= 31
    style = int(rng.integers(3))
    notes = []
    for b in range(n_bars):
        if not on("other", b):
            continue
        ch = chord(b, 4, int(rng.integers(3)))
        base = 4 * b
        if guitar or style == 1:    # strummed / rhythmic chords
            for k in (0, 1.5, 2, 3):
                for j, p in enumerate(ch):
                    notes.append(Note(t(base + k) + 12 * j + jitter(), int(beat * 0.9), p, _clip(rng.integers(60, 95))))
        elif style == 0:            # sustained pad
            for p in ch:
                notes.append(Note(t(base), int(4 * beat * 0.98), p, _clip(rng.integers(55, 85))))
        else:                       # slow counter-line, half notes from the chord, an octave up
            for k in (0, 2):
                p = ch[int(rng.integers(3))] + 12
                notes.append(Note(t(base + k) + jitter(), int(2 * beat * 0.95), p, _clip(rng.integers(60, 90))))
    parts["other"] = Part(program, _clip(rng.uniform(20, 108)), tuple(notes), gain_db=float(rng.uniform(-8, 0)))

    # vocals: 2-bar phrases of chord tones and scale steps, a rest at each phrase end ---------
    scale_pitches = [12 * o + tonic + s for o in range(4, 7) for s in scale]
    scale_pitches = [p for p in scale_pitches if 55 <= p <= 79]
    rhythms = ((1, 1, 1, 1), (0.5, 0.5, 1, 2), (1.5, 0.5, 1, 1), (2, 1, 1), (0.5, 0.5, 0.5, 0.5, 1, 1),
               (1, 0.5, 0.5, 2), (3, 1))
    notes, phrases = [], []
    cur = int(rng.integers(2, len(scale_pitches) - 2))
    for b0 in range(0, n_bars, 2):
        if not on("vocals", b0):
            continue
        beats = []
        for b in (b0, b0 + 1):
            if b >= n_bars:
                break
            r = rhythms[int(rng.integers(len(rhythms)))]
            pos = 0.0
            for i, d in enumerate(r):
                if b == b0 + 1 and pos + d >= 4 and len(r) > 1:   # breathe at the phrase end
                    break
                beats.append((4 * b + pos, d, i == 0))
                pos += d
        phrase = []
        for pos, d, strong in beats:
            tones = set(p % 12 for p in chord(int(pos // 4), 5))
            step = int(rng.choice((-2, -1, -1, 0, 1, 1, 2)))
            cur = int(np.clip(cur + step, 0, len(scale_pitches) - 1))
            if strong and scale_pitches[cur] % 12 not in tones:   # land on a chord tone
                for k in (1, -1, 2, -2):
                    j = int(np.clip(cur + k, 0, len(scale_pitches) - 1))
                    if scale_pitches[j] % 12 in tones:
                        cur = j
                        break
            start = max(0, t(pos) + jitter(10))
            if start >= end_ms - 100:
                break
            length = int(d * beat * 0.9)
            notes.append(Note(start, length, scale_pitches[cur], _clip(rng.integers(75, 110))))
            phrase.append((start, length, scale_pitches[cur], str(rng.choice(_SYLLABLES))))
        if phrase:
            phrases.append(tuple(phrase))
    if not notes:                                  # a short song: sing one long note
        notes.append(Note(t(0), int(min(4 * beat, end_ms * 0.8)), scale_pitches[cur], 100))
        phrases.append(((t(0), notes[0].length, scale_pitches[cur], "la"),))
    parts["vocals"] = Part(int(rng.choice(VOCAL_PROGRAMS)), _clip(rng.normal(64, 10), 34, 94), tuple(notes),
                           gain_db=float(rng.uniform(-3, 3)), modulation=int(rng.integers(0, 50)))

    # keep only what starts before the end
    def keep(notes):
        return tuple(Note(max(0, n.start), n.length, n.pitch, n.velocity) for n in notes if n.start < end_ms - 20)

    parts = {k: Part(p.program, p.pan, keep(p.notes), p.drums, p.gain_db, p.modulation) for k, p in parts.items()}
    key = f"{_NOTE_NAMES[tonic]} {mode}"
    voice = str(rng.choice(ESPEAK_VOICES))
    return Song(int(seed), float(seconds), tempo, key, tuple(prog), parts, tuple(phrases), voice)


# --- MIDI --------------------------------------------------------------------------------------

_TICKS_PER_BEAT = 500          # with the default 120 bpm (500000 us/beat) one tick is one ms


def segment_grid_ms(sr: int) -> int:
    """The smallest whole number of ms that is also a whole number of 64-sample fluidsynth blocks.

    Segments start on this grid, so each one renders exactly as it would alone.

    >>> segment_grid_ms(16000), segment_grid_ms(44100), segment_grid_ms(8000)
    (4, 640, 8)
    """
    return 64000 // math.gcd(int(sr), 64000)


def _segment_events(part: Part, start_ms: int, end_ms: int, channel: int = 0) -> list[tuple[int, int, object]]:
    """(abs ms, order, message) for one part played from ``start_ms``, silenced at ``end_ms``."""
    import mido

    ch = 9 if part.drums else channel
    ev: list[tuple[int, int, object]] = []

    def cc(c, v):
        return mido.Message("control_change", channel=ch, control=c, value=v)

    head = [cc(121, 0), cc(0, 0), cc(32, 0), mido.Message("program_change", channel=ch, program=part.program),
            cc(7, 100), cc(11, 127), cc(10, part.pan), cc(91, 0), cc(93, 0), cc(1, part.modulation),
            mido.Message("pitchwheel", channel=ch, pitch=0)]
    ev += [(start_ms, i, m) for i, m in enumerate(head)]
    for n in part.notes:
        on = start_ms + max(0, n.start)
        if on >= end_ms:
            continue
        off = min(on + max(10, n.length), end_ms)
        ev.append((on, 1000, mido.Message("note_on", channel=ch, note=n.pitch, velocity=n.velocity)))
        ev.append((off, 500, mido.Message("note_off", channel=ch, note=n.pitch, velocity=0)))
    ev += [(end_ms, 2000, cc(123, 0)), (end_ms, 2001, cc(120, 0))]
    return ev


def write_segments_midi(path: str | Path, parts: Sequence[Part], *, seconds: float, sr: int) -> list[int]:
    """Write ``parts`` one after another into one MIDI file; return each segment's start in ms.

    Every segment is ``seconds`` long (then silenced with "all sound off") plus a gap, and starts
    on :func:`segment_grid_ms`.
    """
    import mido

    grid = segment_grid_ms(sr)
    seg = int(math.ceil((seconds * 1000 + 200) / grid) * grid)
    lead = int(math.ceil(100 / grid) * grid)             # >= 100 ms of silence before the first
    starts = [lead + k * seg for k in range(len(parts))]
    ev = []
    melodic = [c for c in range(16) if c != 9]
    for k, (part, s) in enumerate(zip(parts, starts)):
        ev += _segment_events(part, s, s + int(round(seconds * 1000)), melodic[k % len(melodic)])
    ev.sort(key=lambda e: (e[0], e[1]))
    mid = mido.MidiFile(type=0, ticks_per_beat=_TICKS_PER_BEAT)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    now = 0
    for when, _, msg in ev:
        track.append(msg.copy(time=when - now))
        now = when
    track.append(mido.MetaMessage("end_of_track", time=seg))
    mid.save(str(path))
    return starts


# --- finding the tools -------------------------------------------------------------------------

def find_fluidsynth() -> str:
    """Path of the ``fluidsynth`` program, or an :class:`AuricleError` saying how to install it."""
    exe = shutil.which("fluidsynth")
    if not exe:
        raise AuricleError("the fluidsynth program is missing (it renders the demo songs)", fix=INSTALL_FIX)
    return exe


def soundfont_search_dirs(dirs: Iterable[str | Path] | None = None) -> list[Path]:
    """Where soundfonts are looked for, in order: ``dirs``, then ``$AURICLE_SOUNDFONT_DIR``
    (``os.pathsep``-separated), then (only when ``dirs`` is None) :data:`SOUNDFONT_DIRS`."""
    search = [Path(d) for d in (dirs or ())]
    env = os.environ.get("AURICLE_SOUNDFONT_DIR")
    if env:
        search += [Path(d) for d in env.split(os.pathsep) if d]
    if dirs is None:
        search += [Path(d) for d in SOUNDFONT_DIRS]
    return search


def find_soundfont(name: str, dirs: Iterable[str | Path] | None = None) -> Path:
    """Path of soundfont ``name`` (a key of :data:`SOUNDFONTS`).

    Looks in ``dirs``, then ``$AURICLE_SOUNDFONT_DIR`` (``os.pathsep``-separated), then
    :data:`SOUNDFONT_DIRS`.

    Raises
    ------
    AuricleError
        When it is in none of them, naming the file, the folders and the packages to install.
    """
    if name not in SOUNDFONTS:
        raise ConfigError(f"unknown soundfont {name!r}", fix=f"use one of {', '.join(SOUNDFONTS)}")
    fname, package = SOUNDFONTS[name]
    search = soundfont_search_dirs(dirs)
    for d in search:
        if (d / fname).is_file():
            return (d / fname).resolve()
    where = ", ".join(str(d) for d in search) or "(no folder)"
    raise AuricleError(f"soundfont {fname} (package {package}) not found in {where}", fix=INSTALL_FIX)


# --- rendering ---------------------------------------------------------------------------------

def iter_rendered(parts: Sequence[Part], soundfont: str | Path, *, seconds: float, sr: int,
                  tmp: str | Path, fluidsynth: str | None = None, chorus: bool = False) -> Iterator[np.ndarray]:
    """Render each part on its own with one fluidsynth call; yield them one at a time.

    Reverb is always off; ``chorus=True`` switches fluidsynth's chorus unit on (depth 8, level 2).  Note
    that :func:`write_segments_midi` sets every part's chorus send (CC 93) to 0, so today the unit
    gets no signal and ``chorus=True`` renders the same samples.

    fluidsynth writes one float file to ``tmp``; the parts are read back from it one by one (so
    memory holds one part, not all) and the file is removed when the iterator ends.

    Yields
    ------
    np.ndarray
        ``(round(seconds * sr), 2)`` float32 per part, in order.
    """
    import soundfile as sf

    exe = fluidsynth or find_fluidsynth()
    fd, mid_path = tempfile.mkstemp(suffix=".mid", dir=str(tmp))
    os.close(fd)
    wav_path = mid_path[:-4] + ".wav"
    try:
        starts = write_segments_midi(mid_path, parts, seconds=seconds, sr=sr)
        fx = ["-C", "1", "-o", "synth.chorus.depth=8", "-o", "synth.chorus.level=2"] if chorus else ["-C", "0"]
        cmd = [exe, "-ni", "-q", "-R", "0", *fx, "-g", "0.5", "-r", str(int(sr)),
               "-o", "synth.dynamic-sample-loading=1", "-o", "synth.polyphony=512",
               "-O", "float", "-T", "wav", "-F", wav_path, str(soundfont), mid_path]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(wav_path):
            raise AuricleError(f"fluidsynth failed ({(r.stderr or r.stdout).strip()[:300]})", path=soundfont,
                               fix="check it runs by hand: fluidsynth -ni -F out.wav SOUNDFONT file.mid")
        n = int(round(seconds * sr))
        with sf.SoundFile(wav_path) as f:
            for s in starts:
                f.seek(min(s * sr // 1000, f.frames))     # s * sr / 1000 is whole: the segment grid
                x = f.read(n, dtype="float32", always_2d=True)
                if len(x) < n:
                    x = np.concatenate([x, np.zeros((n - len(x), x.shape[1]), np.float32)])
                if x.shape[1] == 1:
                    x = np.repeat(x, 2, axis=1)
                yield x[:, :2]
    finally:
        for path in (mid_path, wav_path):
            if os.path.exists(path):
                os.remove(path)


def render_parts(parts: Sequence[Part], soundfont: str | Path, *, seconds: float, sr: int,
                 tmp: str | Path, fluidsynth: str | None = None) -> list[np.ndarray]:
    """Render each part on its own with fluidsynth (one call for all); ``(samples, 2)`` float32 each."""
    return list(iter_rendered(parts, soundfont, seconds=seconds, sr=sr, tmp=tmp, fluidsynth=fluidsynth))


def sing_lyrics(song: Song, *, sr: int, tmp: str | Path, espeak: str | None = None) -> np.ndarray | None:
    """espeak-ng singing the vocal melody's syllables, one call per phrase; ``(samples,)`` or None.

    Each syllable gets espeak-ng's pitch (embedded ``P`` command) from its note, a narrow pitch
    range, and the phrase a speed that makes it last about as long as the notes; it is placed at
    the phrase's first note and cut at the phrase's end.  None when espeak-ng is not installed.
    """
    import soundfile as sf
    import soxr

    exe = espeak or shutil.which("espeak-ng")
    if not exe or not song.lyrics:
        return None
    n = int(round(song.seconds * sr))
    y = np.zeros(n, np.float64)
    wav = os.path.join(str(tmp), f"sing-{song.seed}.wav")
    pitches = [p for ph in song.lyrics for _, _, p, _ in ph]
    lo, hi = min(pitches), max(pitches)
    for phrase in song.lyrics:
        start = phrase[0][0]
        stop = phrase[-1][0] + phrase[-1][1]
        words = []
        for _, _, p, syl in phrase:
            ep = 20 + int(round(60 * (p - lo) / max(1, hi - lo)))
            words.append(f"\x01{ep}P {syl}")
        wpm = int(np.clip(60000.0 * len(phrase) / max(200, stop - start) * 0.8, 80, 350))
        text = "\x015R " + " ".join(words)
        r = subprocess.run([exe, "-v", song.voice, "-s", str(wpm), "-z", "-w", wav, text], capture_output=True)
        if r.returncode != 0 or not os.path.exists(wav):
            continue
        x, native = sf.read(wav, dtype="float64", always_2d=True)
        os.remove(wav)
        x = soxr.resample(x.mean(axis=1), native, sr)
        a, b = max(0, int(start * sr / 1000)), min(n, int(stop * sr / 1000))
        x = x[: max(0, b - a)]
        if len(x) < 16:
            continue
        nf = min(len(x) // 4, int(0.01 * sr))
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, nf)) if nf > 1 else np.ones(0)
        if nf > 1:
            x[-nf:] *= ramp[::-1]
        y[a:a + len(x)] += x
    return y if np.abs(y).max() > 0 else None


def _rms_active(x: np.ndarray) -> float:
    """RMS over the loud part of a stem (frames within 40 dB of the loudest)."""
    m = np.abs(x).max(axis=1) if x.ndim == 2 else np.abs(x)
    hop = 400
    k = len(m) // hop
    if k == 0:
        return float(np.sqrt(np.mean(x ** 2)) + 1e-12)
    e = (x[: k * hop] ** 2).reshape(k, hop, -1).mean(axis=(1, 2))
    keep = e >= e.max() * 1e-4
    return float(np.sqrt(e[keep].mean()) + 1e-12)


def mix_song(stems: dict[str, np.ndarray], song: Song, *, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """Level the stems (active RMS, then the song's gains), scale so the sum peaks at -1..-6 dBFS,
    and quantise to 16 bits; return the int16 stems and their exact int16 sum."""
    level = {}
    for name, x in stems.items():
        level[name] = 0.1 / _rms_active(x) * 10 ** (song.parts[name].gain_db / 20)
    mix = sum(stems[k].astype(np.float64) * level[k] for k in stems)
    peak = float(np.abs(mix).max()) or 1.0
    target = 10 ** (rng.uniform(-6, -1) / 20)
    scale = target / peak
    out = {k: np.round(stems[k].astype(np.float64) * level[k] * scale * 32767).astype(np.int32) for k in stems}
    total = sum(out.values())
    assert np.abs(total).max() <= 32767, "the mixture would clip"
    return {k: v.astype(np.int16) for k, v in out.items()}, total.astype(np.int16)


# --- the data set ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Plan:
    name: str
    split: str
    soundfont: str
    song_seed: int


def plan_songs(*, n_train: int, n_valid: int, n_test: int, seed: int) -> list[_Plan]:
    """Name, split, soundfont and seed of every song (train/valid alternate the training fonts)."""
    out = []
    for split, n in zip(SPLITS, (n_train, n_valid, n_test)):
        ss = np.random.SeedSequence([int(seed), SPLITS.index(split)])
        seeds = ss.generate_state(max(n, 1), dtype=np.uint32)[:n]
        fonts = TEST_SOUNDFONTS if split == "test" else TRAIN_SOUNDFONTS
        offset = 0 if split == "train" else 1
        for i in range(n):
            out.append(_Plan(f"{split}-{i:03d}", split, fonts[(i + offset) % len(fonts)], int(seeds[i])))
    return out


def _license_text(fonts: Iterable[str], espeak: bool) -> str:
    lines = ["# Licences of the demo stems", "",
             "The songs are composed by auricle (`auricle.separation.demo`) and rendered per instrument",
             "from General MIDI soundfonts with fluidsynth.  The rendered audio contains the soundfonts'",
             "samples; it is offered under the licence of the soundfont named for each song in",
             "`manifest.csv`:", ""]
    for f in sorted(set(fonts)):
        desc, lic = LICENSES[f]
        lines.append(f"* **{f}** - {desc}: {lic}.")
    lines += ["", "Engines (used to make the audio, not part of it):", ""]
    for e in ("fluidsynth",) + (("espeak-ng",) if espeak else ()):
        desc, lic = LICENSES[e]
        lines.append(f"* **{e}** - {desc}: {lic}.")
    lines += ["", "Licence texts: /usr/share/doc/<package>/copyright on Debian and Ubuntu.", ""]
    return "\n".join(lines)


def make_demo_stems(out_dir: str | Path, *, n_train: int = 24, n_valid: int = 4, n_test: int = 6,
                    seconds: float = 20.0, sr: int = 16000, seed: int = 0, overwrite: bool = False,
                    progress: Callable[[int, int], None] | None = None, vocals_speech: bool = True,
                    soundfont_dirs: Iterable[str | Path] | None = None, jobs: int | None = None,
                    songs_per_call: int = 6) -> Path:
    """Compose, render and write the demo stems set; return ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Folder to write ``{train,valid,test}/<song>/*.wav``, ``manifest.csv`` and ``LICENSES.md``.
    n_train, n_valid, n_test : int
        Songs per split.  Train and valid use FluidR3_GM and MuseScore_General_Lite in turn; test
        uses TimGM6mb only.
    seconds : float
        Length of every song.
    sr : int
        Sample rate; fluidsynth renders at it directly.
    seed : int
        Everything is drawn from it: the same seed (and sizes) writes the same files.
    overwrite : bool
        Replace an earlier demo set in ``out_dir`` (its split folders are removed first).
    progress : callable, optional
        ``progress(done, total)`` after each song is written.
    vocals_speech : bool
        Add espeak-ng's sung syllables to the vocal stem (if espeak-ng is installed).
    soundfont_dirs : list of path, optional
        Folders to look for the soundfonts in, instead of the system ones.
    jobs : int, optional
        fluidsynth processes at once (default: the CPU count, at most 4).
    songs_per_call : int
        Songs rendered by one fluidsynth call (the soundfont is loaded once per call).

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    AuricleError
        fluidsynth or a soundfont is missing (the message names the packages to install), or a
        set is already there and ``overwrite`` is False.

    Examples
    --------
    >>> make_demo_stems("demo-stems", n_train=2, n_valid=0, n_test=1, seconds=3)   # doctest: +SKIP
    PosixPath('demo-stems')
    """
    import soundfile as sf

    out = Path(out_dir)
    if min(n_train, n_valid, n_test) < 0 or n_train + n_valid + n_test == 0:
        raise ConfigError("the demo set needs at least one song and no negative counts",
                          fix="e.g. n_train=24, n_valid=4, n_test=6")
    if not 1.0 <= seconds <= 600:
        raise ConfigError(f"seconds={seconds} is out of range", fix="give 1 to 600 seconds per song")
    if not 8000 <= sr <= 96000:
        raise ConfigError(f"sr={sr} is out of range", fix="give a sample rate of 8000 to 96000 (e.g. 16000, 44100)")
    plans = plan_songs(n_train=n_train, n_valid=n_valid, n_test=n_test, seed=seed)
    exe = find_fluidsynth()
    fonts = {p.soundfont: find_soundfont(p.soundfont, soundfont_dirs) for p in plans}
    manifest = out / "manifest.csv"
    if not overwrite and (manifest.exists() or any((out / s).exists() for s in SPLITS)):
        raise AuricleError("a demo stems set is already there", path=out, fix="pass overwrite=True (--overwrite)")
    for s in SPLITS:
        if (out / s).exists():
            shutil.rmtree(out / s)
    out.mkdir(parents=True, exist_ok=True)
    songs = {p.name: compose_song(p.song_seed, seconds) for p in plans}
    espeak = shutil.which("espeak-ng") if vocals_speech else None

    # batches: songs of one soundfont, songs_per_call at a time
    batches = []
    for font in fonts:
        mine = [p for p in plans if p.soundfont == font]
        for i in range(0, len(mine), max(1, songs_per_call)):
            batches.append(mine[i:i + max(1, songs_per_call)])

    def write_batch(batch: list[_Plan], tmp: str) -> list[list]:
        """Render a batch of songs of one soundfont, mix and write them; their manifest rows."""
        parts = [songs[p.name].parts[s] for p in batch for s in DEMO_STEMS]
        segments = iter_rendered(parts, fonts[batch[0].soundfont], seconds=seconds, sr=sr, tmp=tmp, fluidsynth=exe)
        rows = []
        try:
            for p in batch:
                song = songs[p.name]
                stems = {s: next(segments) for s in DEMO_STEMS}
                sung = sing_lyrics(song, sr=sr, tmp=tmp, espeak=espeak) if espeak else None
                if sung is not None:
                    v = stems["vocals"].astype(np.float64)
                    pan = song.parts["vocals"].pan / 127.0
                    speech = sung * (0.6 * _rms_active(v) / _rms_active(sung))
                    v += np.stack([speech * math.cos(pan * math.pi / 2), speech * math.sin(pan * math.pi / 2)], 1)
                    stems["vocals"] = v
                ints, mixture = mix_song(stems, song, rng=np.random.default_rng([p.song_seed, 1]))
                d = out / p.split / p.name
                d.mkdir(parents=True, exist_ok=True)
                for s in DEMO_STEMS:
                    sf.write(str(d / f"{s}.wav"), ints[s], sr, subtype="PCM_16")
                sf.write(str(d / "mixture.wav"), mixture, sr, subtype="PCM_16")
                rows.append([p.name, p.split, p.soundfont, song.tempo, song.key, p.song_seed])
        finally:
            segments.close()                      # removes fluidsynth's file
        return rows

    jobs = max(1, jobs or min(4, os.cpu_count() or 1))
    rows: list[list] = []
    with tempfile.TemporaryDirectory(prefix="auricle-stems-") as tmp:
        # threads suffice: fluidsynth and espeak-ng are subprocesses, numpy and soundfile release the GIL
        with ThreadPoolExecutor(jobs) as pool:
            pending = {pool.submit(write_batch, b, tmp) for b in batches}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    for row in fut.result():
                        rows.append(row)
                        if progress is not None:
                            progress(len(rows), len(plans))

    order = {p.name: i for i, p in enumerate(plans)}
    rows.sort(key=lambda r: order[r[0]])
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["song", "split", "soundfont", "tempo", "key", "seed"])
        w.writerows(rows)
    (out / "LICENSES.md").write_text(_license_text(fonts, bool(espeak)))
    return out
