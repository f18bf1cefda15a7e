#!/usr/bin/env python3
"""Generate the shipped demo keyword dataset (``data/demo``) with free offline TTS engines.

Ten keywords (yes, no, up, down, left, right, on, off, stop, go) are spoken by 44 *base
voices* from three engines in Debian main: espeak-ng (34 accent+variant combinations),
flite (kal16, awb, rms, slt) and festival (kal_diphone, ked_diphone, cmu_us_slt_arctic_hts,
and three female voices of other languages reading respelled keywords, train only: Czech
czech_dita, Finnish suo_fi_lj_diphone, Italian lp_diphone).  Each base voice says each keyword
``--per-voice`` times (the six non-espeak training voices twice that) with a random pitch and speed.
Every clip is resampled to 16 kHz mono, trimmed at -35 dB re peak, placed at a random offset
in exactly 1.0 s (16000 samples) at a random peak level (-20..-3 dBFS) and written as
Ogg/Opus (default; see ``--codec``).  Clips are clean: the training pipeline adds noise.

Splits are assigned by base voice (manifest column ``group``), never by clip, and are
deterministic from ``--seed``:

* espeak-ng: val and test each get 4 voices on 4 different accents (every accent is held out
  once) whose *variants* (timbre) are used nowhere else; the other 26 go to train.
* flite/festival: flite:kal16 is a port of festival's kal diphones and both slt voices come
  from the same CMU ARCTIC speaker, so the speaker pairs {kal16, kal} and {slt, slt} go to
  val and test (one each, seed decides); awb, rms, ked, dita, lj and lp go to train.  So val
  and test each hold one flite and one festival voice whose speaker is not in train.

Usage::

    .venv/bin/python scripts/make_demo_data.py              # writes data/demo
    .venv/bin/python scripts/make_demo_data.py --verify-only

Requires the Debian packages espeak-ng, flite, festival, festvox-kallpc16k,
festvox-kdlpc16k, festvox-us-slt-hts, festvox-czech-dita, festvox-suopuhe-lj and
festvox-italp16k (never the non-free mbrola voices).
"""
from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from auricle.datasets.synth import trim_bounds, trim_word

SR = 16000
CLIP_SAMPLES = SR  # exactly 1.0 s
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
TRIM_DB = -35.0
MIN_WORD_S, MAX_WORD_S = 0.15, 1.0
PEAK_DBFS = (-20.0, -3.0)
MAX_ATTEMPTS = 25
MANIFEST_COLUMNS = ["path", "label", "group", "split", "engine", "voice", "accent",
                    "pitch", "speed", "gain_db", "offset_s"]

# espeak-ng English accents.  NOTE: use "en", not "en-gb": "en-gb+VARIANT" silently ignores
# the variant (measured: every variant gives the default male voice).
ESPEAK_ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029",
                  "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
ESPEAK_MALE = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8")
ESPEAK_FEMALE = ("f1", "f2", "f3", "f4", "f5", "Annie", "Andrea", "linda", "belinda", "steph", "anika")
ESPEAK_KLATT = ("klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6")
ESPEAK_DEFAULT_WPM = 175
N_ESPEAK_TRAIN_EXTRA = 2  # train: 3 voices per accent (male, female, klatt) + this many extra

# Non-espeak voices: (engine, voice, short name, accent, speaker).
FLITE_VOICES = {
    # name: (accent, speaker, f0 range Hz or None if pitch is ignored, default f0 Hz)
    "kal16": ("en-us", "kal", (85.0, 135.0), 104.0),
    "awb": ("en-gb-scotland", "awb", (90.0, 145.0), 115.0),
    "rms": ("en-us", "rms", None, 84.0),   # ignores int_f0_target_mean -> resample instead
    "slt": ("en-us", "slt", (140.0, 220.0), 170.0),
}
FESTIVAL_VOICES = {
    # short: (festival voice, accent, speaker, f0 range or None, default f0, honours Duration_Stretch)
    "kal": ("kal_diphone", "en-us", "kal", (80.0, 140.0), 105.0, True),
    "ked": ("ked_diphone", "en-us", "ked", (80.0, 140.0), 105.0, True),
    "slt": ("cmu_us_slt_arctic_hts", "en-us", "slt", None, 159.0, False),  # HTS: "-r" rate
    # Female voices of other languages, train only: the one English female speaker not made
    # by espeak (slt) is held out, so without these training has no such timbre at all.
    # They read the keywords respelled in their own orthography (RESPELL); pitch is varied
    # by resampling (their intonation modules ignore int_lr_params).
    "dita": ("czech_dita", "cs", "dita", None, 200.0, True),
    "lj": ("suo_fi_lj_diphone", "fi", "lj", None, 190.0, True),
    "lp": ("lp_diphone", "it", "lp", None, 200.0, True),
}
# The non-espeak training voices say each keyword this many times as often as the espeak ones:
# there are 6 of them against 26 espeak voices (the three other-language voices are the only
# female timbre in train not made by espeak).
NON_ESPEAK_TRAIN_REPS = 2
# English keywords respelled for the other-language voices (read by their own letter-to-sound
# rules, "yes" is two syllables and "right" ends in a cluster; "jes"/"ies" and "rait" are not).
_RESPELL_COMMON = dict(no="nou", up="ap", down="daun", right="rait", off="of", go="gou")
RESPELL = {
    "dita": {**_RESPELL_COMMON, "yes": "jes", "right": "rajt"},
    "lj": {**_RESPELL_COMMON, "yes": "jes", "off": "off"},
    "lp": {**_RESPELL_COMMON, "yes": "ies"},
}
RESAMPLE_SPEED = (0.88, 1.12)
FLITE_STRETCH = (0.9, 1.7)
FESTIVAL_STRETCH = (1.0, 1.8)
# festival's HTS voice ignores Duration_Stretch but honours hts_engine's "-r" (speech rate,
# < 1 = slower; 0.6 makes "go" 1.6x longer).  It ignores every pitch setting tried, so its
# pitch is varied by resampling.
HTS_RATE = (0.6, 1.0)
HTS_EXTRA = {"up": (0.7, 0.85)}  # slt-HTS says "up" in ~0.2 s: slow it a little more
# The diphone voices (festival kal/ked, flite kal16) say "on"/"up" (and, less so, "no" and
# "down") as reduced function words: 0.11-0.2 s.  festival: we drop all keywords from the
# function-word POS lists (on/up -> ~0.21 s) and stretch on/up a little more; flite kal16
# cannot be told that, so those words get a larger stretch.
FLITE_KAL_EXTRA = {"on": (1.8, 2.2), "up": (1.8, 2.2), "no": (1.4, 1.7), "down": (1.4, 1.7)}
FESTIVAL_EXTRA = {"on": (1.15, 1.35), "up": (1.15, 1.35)}


@dataclass
class Voice:
    group: str            # e.g. "espeak:en-gb-scotland+m3"
    engine: str           # espeak-ng | flite | festival
    voice: str            # engine's voice name
    accent: str
    speaker: str          # underlying speaker / timbre (for split constraints)
    split: str = ""

    @property
    def slug(self) -> str:
        return self.group.replace(":", "-").replace("+", "-")


@dataclass
class Clip:
    voice: Voice
    word: str
    rep: int
    seed: int

    @property
    def clip_id(self) -> str:
        return f"{self.voice.slug}-{self.rep:02d}"


@dataclass
class Result:
    row: dict
    word_s: float
    attempts: int


# --------------------------------------------------------------------------- voices & splits

def reps_scale(v: Voice) -> int:
    """How many times ``--per-voice`` renditions ``v`` says each keyword."""
    return NON_ESPEAK_TRAIN_REPS if v.engine != "espeak-ng" and v.split == "train" else 1


def build_voices(seed: int) -> list[Voice]:
    """All base voices with their split; deterministic from ``seed``."""
    rng = np.random.default_rng([seed, 0xDE40])
    voices: list[Voice] = []

    # espeak-ng: every accent is held out exactly once (4 in val, 4 in test); the held-out
    # voices use 2 male + 2 female variants per split that appear nowhere else.
    accents = list(rng.permutation(ESPEAK_ACCENTS))
    male = list(rng.permutation(ESPEAK_MALE))
    female = list(rng.permutation(ESPEAK_FEMALE))
    klatt = list(rng.permutation(ESPEAK_KLATT))
    held = {"test": male[:2] + female[:2], "val": male[2:4] + female[2:4]}
    male, female = male[4:], female[4:]
    for split, acc in (("test", accents[:4]), ("val", accents[4:])):
        variants = list(rng.permutation(held[split]))
        for a, v in zip(acc, variants):
            voices.append(Voice(f"espeak:{a}+{v}", "espeak-ng", f"{a}+{v}", a, f"espeak+{v}", split))

    def cycler(pool):
        i = 0
        while True:
            yield pool[i % len(pool)]
            i += 1
    cm, cf, ck = cycler(male), cycler(female), cycler(klatt)
    taken = set()
    extra_acc = set(rng.choice(len(ESPEAK_ACCENTS), N_ESPEAK_TRAIN_EXTRA, replace=False).tolist())
    for i, a in enumerate(ESPEAK_ACCENTS):
        picks = [next(cm), next(cf), next(ck)]
        if i in extra_acc:
            picks.append(next(cf) if rng.random() < 0.5 else next(cm))
        for v in picks:
            while (a, v) in taken:  # never twice the same accent+variant
                v = next(cf)
            taken.add((a, v))
            voices.append(Voice(f"espeak:{a}+{v}", "espeak-ng", f"{a}+{v}", a, f"espeak+{v}", "train"))

    # flite + festival: speaker pairs kal (flite kal16 + festival kal) and slt (flite slt +
    # festival slt) go to val/test; awb, rms, ked to train.
    pair_splits = dict(zip(["kal", "slt"], rng.permutation(["val", "test"]).tolist()))
    for name, (accent, speaker, _f0, _d) in FLITE_VOICES.items():
        voices.append(Voice(f"flite:{name}", "flite", name, accent, speaker,
                            pair_splits.get(speaker, "train")))
    for short, (fvoice, accent, speaker, *_rest) in FESTIVAL_VOICES.items():
        voices.append(Voice(f"festival:{short}", "festival", fvoice, accent, speaker,
                            pair_splits.get(speaker, "train")))

    assert len({v.group for v in voices}) == len(voices), "duplicate group id"
    return voices


# --------------------------------------------------------------------------- signal helpers

def to_mono(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=1) if x.ndim > 1 else x


def resample(x: np.ndarray, sr: float, speed: float = 1.0) -> np.ndarray:
    """To 16 kHz; ``speed`` > 1 plays faster (and higher) by pretending the input rate is sr*speed."""
    src = sr * speed
    if abs(src - SR) < 1e-9:
        return x.astype(np.float64)
    return soxr.resample(x.astype(np.float64), src, SR, quality="HQ")


def trim(x: np.ndarray) -> np.ndarray:
    return trim_word(x, SR, TRIM_DB)


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[((crc >> 24) & 0xFF) ^ b]
    return crc


def fix_ogg_serial(path: Path, serial: int) -> None:
    """Give every Ogg page a fixed stream serial number (and recompute the page CRCs).

    libsndfile picks a random serial for each new Ogg stream, so without this the same audio
    gives different bytes on every run.
    """
    buf = bytearray(path.read_bytes())
    pos = 0
    while pos < len(buf):
        if buf[pos:pos + 4] != b"OggS":
            raise ValueError(f"{path}: not an Ogg page at byte {pos}")
        nseg = buf[pos + 26]
        size = 27 + nseg + sum(buf[pos + 27:pos + 27 + nseg])
        buf[pos + 14:pos + 18] = serial.to_bytes(4, "little")
        buf[pos + 22:pos + 26] = b"\0\0\0\0"
        buf[pos + 22:pos + 26] = _ogg_crc(bytes(buf[pos:pos + size])).to_bytes(4, "little")
        pos += size
    path.write_bytes(bytes(buf))


def read_wav(path: str) -> tuple[np.ndarray, int]:
    x, sr = sf.read(path, dtype="float64", always_2d=False)
    return to_mono(x), sr


# --------------------------------------------------------------------------- engines

def _run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")


class Festival:
    """One persistent ``festival -i`` process; commands are synchronised by printed markers."""

    def __init__(self, voice: str, short: str):
        self.p = subprocess.Popen(["festival", "-i"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1,
                                  encoding="latin-1")  # festival prints Latin-1
        self.n = 0
        self.voice = voice
        self.cmd(f"(voice_{voice})")
        # Treat the keywords as content words: festival's POS guesser calls "on", "up", "down"
        # and "no" function words and says them reduced (0.1-0.2 s).
        words = " ".join(f'"{w}"' for w in KEYWORDS)
        self.cmd("(define (auricle-strip lst words) (mapcar (lambda (e) (cons (car e) "
                 "(let ((r nil)) (mapcar (lambda (w) (if (not (member_string w words)) "
                 "(set! r (cons w r)))) (cdr e)) (reverse r)))) lst))\n"
                 f"(set! guess_pos (auricle-strip guess_pos '({words})))")

    def cmd(self, s: str) -> str:
        self.n += 1
        tag = f"@@auricle{self.n}@@"
        self.p.stdin.write(f'{s}\n(print "{tag}")\n')
        self.p.stdin.flush()
        out = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("festival exited unexpectedly:\n" + "".join(out[-20:]))
            if f'"{tag}"' in line:
                return "".join(out)
            out.append(line)

    def synth(self, word: str, out: str, *, f0: float | None, stretch: float | None,
              hts_rate: float | None = None) -> None:
        parts = []
        if hts_rate is not None:
            parts.append(f"(set! hts_engine_params (append {self.voice}::hts_engine_params "
                         f"'((\"-r\" {hts_rate:.4f}))))")
        if f0 is not None:
            parts.append(f"(set! int_lr_params '((target_f0_mean {f0:.2f}) (target_f0_std 14) "
                         f"(model_f0_mean 170) (model_f0_std 34)))")
        if stretch is not None:
            parts.append(f"(Parameter.set 'Duration_Stretch {stretch:.4f})")
        parts.append(f'(utt.save.wave (SynthText "{word}") "{out}" \'riff)')
        self.cmd("\n".join(parts))

    def close(self) -> None:
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except Exception:
            self.p.kill()


def synth_once(clip: Clip, rng: np.random.Generator, tmp: str, fest: Festival | None):
    """Render one attempt; returns (16 kHz audio, pitch, speed) with parameters drawn from rng."""
    v, word = clip.voice, clip.word
    wav = os.path.join(tmp, "x.wav")
    if os.path.exists(wav):
        os.remove(wav)
    r = 1.0
    if v.engine == "espeak-ng":
        p = int(rng.integers(25, 76))
        s = int(rng.integers(90, 171))
        _run(["espeak-ng", "-v", v.voice, "-p", str(p), "-s", str(s), "-w", wav, word])
        pitch, speed = float(p), s / ESPEAK_DEFAULT_WPM
    elif v.engine == "flite":
        _acc, _spk, f0r, f0d = FLITE_VOICES[v.voice]
        stretch = rng.uniform(*FLITE_STRETCH)
        if v.voice == "kal16" and word in FLITE_KAL_EXTRA:
            stretch *= rng.uniform(*FLITE_KAL_EXTRA[word])
        cmd = ["flite", "-voice", v.voice, "--setf", f"duration_stretch={stretch:.4f}"]
        if f0r is not None:
            f0 = rng.uniform(*f0r)
            cmd += ["--setf", f"int_f0_target_mean={f0:.2f}"]
        else:
            r = rng.uniform(*RESAMPLE_SPEED)
            f0 = f0d * r
        _run(cmd + ["-t", word, "-o", wav])
        pitch, speed = f0, r / stretch
    elif v.engine == "festival":
        short = v.group.split(":", 1)[1]
        _fv, _acc, _spk, f0r, f0d, has_dur = FESTIVAL_VOICES[short]
        f0 = rng.uniform(*f0r) if f0r is not None else None
        stretch = hts_rate = None
        if has_dur:
            stretch = rng.uniform(*FESTIVAL_STRETCH)
            if word in FESTIVAL_EXTRA:
                stretch *= rng.uniform(*FESTIVAL_EXTRA[word])
        else:
            hts_rate = rng.uniform(*HTS_RATE)
            if word in HTS_EXTRA:
                hts_rate *= rng.uniform(*HTS_EXTRA[word])
        if f0r is None:
            r = rng.uniform(*RESAMPLE_SPEED)
        fest.synth(RESPELL.get(short, {}).get(word, word), wav, f0=f0, stretch=stretch,
                   hts_rate=hts_rate)
        pitch = f0 if f0 is not None else f0d * r
        speed = r * (hts_rate or 1.0) / (stretch or 1.0)
    else:
        raise ValueError(v.engine)
    x, sr = read_wav(wav)
    return resample(x, sr, r), pitch, speed


def render(clip: Clip, tmp: str, fest: Festival | None, out_root: Path, codec: str) -> Result:
    rng = np.random.default_rng(clip.seed)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        x, pitch, speed = synth_once(clip, rng, tmp, fest)
        w = trim(x)
        dur = len(w) / SR
        if MIN_WORD_S <= dur <= MAX_WORD_S:
            break
    else:
        raise RuntimeError(f"{clip.voice.group} '{clip.word}': word length {dur:.3f}s outside "
                           f"[{MIN_WORD_S}, {MAX_WORD_S}] after {MAX_ATTEMPTS} attempts")
    gain_db = rng.uniform(*PEAK_DBFS)
    w = w / np.abs(w).max() * 10 ** (gain_db / 20)
    offset = int(rng.integers(0, CLIP_SAMPLES - len(w) + 1))
    y = np.zeros(CLIP_SAMPLES, dtype=np.float32)
    y[offset:offset + len(w)] = w
    ext, fmt, sub = CODECS[codec]
    rel = Path("clips") / clip.word / f"{clip.clip_id}{ext}"
    dst = out_root / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(dst), y, SR, format=fmt, subtype=sub)
    if fmt == "OGG":
        fix_ogg_serial(dst, zlib.crc32(rel.as_posix().encode()))
    v = clip.voice
    row = {"path": rel.as_posix(), "label": clip.word, "group": v.group, "split": v.split,
           "engine": v.engine, "voice": v.voice, "accent": v.accent,
           "pitch": f"{pitch:.1f}", "speed": f"{speed:.3f}", "gain_db": f"{gain_db:.2f}",
           "offset_s": f"{offset / SR:.4f}"}
    return Result(row, dur, attempt)


CODECS = {"opus": (".ogg", "OGG", "OPUS"), "vorbis": (".ogg", "OGG", "VORBIS"),
          "flac": (".flac", "FLAC", "PCM_16")}


def render_voice(args: tuple[list[Clip], str, str]) -> tuple[str, list[Result], float]:
    clips, out_root, codec = args
    t0 = time.time()
    v = clips[0].voice
    fest = None
    with tempfile.TemporaryDirectory(prefix="auricle-demo-") as tmp:
        try:
            if v.engine == "festival":
                fest = Festival(v.voice, v.group.split(":", 1)[1])
            results = [render(c, tmp, fest, Path(out_root), codec) for c in clips]
        finally:
            if fest is not None:
                fest.close()
    return v.group, results, time.time() - t0


# --------------------------------------------------------------------------- verification

def verify(out: Path) -> dict:
    """Re-read everything from disk and check the dataset's invariants; prints a summary."""
    man = out / "manifest.csv"
    with man.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == MANIFEST_COLUMNS, f"bad header {reader.fieldnames}"
        rows = list(reader)
    problems = []
    group_splits = defaultdict(set)
    for r in rows:
        group_splits[r["group"]].add(r["split"])
    leaks = {g: s for g, s in group_splits.items() if len(s) > 1}
    if leaks:
        problems.append(f"groups in more than one split: {leaks}")
    speaker_of = {}
    for r in rows:  # the shared-speaker pairs must not straddle splits either
        if r["engine"] != "espeak-ng":
            spk = {**{k: s for k, (_a, s, *_x) in FLITE_VOICES.items()},
                   **{FESTIVAL_VOICES[k][0]: FESTIVAL_VOICES[k][2] for k in FESTIVAL_VOICES}}[r["voice"]]
            speaker_of.setdefault(spk, set()).add(r["split"])
        else:
            speaker_of.setdefault("espeak+" + r["voice"].split("+")[1], set()).add(r["split"])
    spk_leaks = {k: s for k, s in speaker_of.items() if len(s) > 1}
    if spk_leaks:
        problems.append(f"speakers/variants in more than one split: {spk_leaks}")

    durs, by_engine = [], defaultdict(list)
    bad = []
    for r in rows:
        p = out / r["path"]
        try:
            info = sf.info(str(p))
            x, sr = sf.read(str(p), dtype="float64")
        except Exception as exc:  # noqa: BLE001
            bad.append(f"{r['path']}: {exc}")
            continue
        if sr != SR or x.ndim != 1 or len(x) != CLIP_SAMPLES or info.frames != CLIP_SAMPLES:
            bad.append(f"{r['path']}: sr={sr} shape={x.shape}")
            continue
        s, e = trim_bounds(x)
        d = (e - s) / SR
        durs.append(d)
        by_engine[r["engine"]].append(d)
    if bad:
        problems.append(f"{len(bad)} unreadable/wrong-shape files, e.g. {bad[:3]}")
    on_disk = {p.relative_to(out).as_posix() for p in (out / "clips").rglob("*") if p.is_file()}
    listed = {r["path"] for r in rows}
    if on_disk != listed:
        problems.append(f"files not in manifest: {sorted(on_disk - listed)[:5]}, "
                        f"missing files: {sorted(listed - on_disk)[:5]}")

    # ---- report
    splits = ["train", "val", "test"]
    print(f"\n{len(rows)} clips, {len(group_splits)} groups")
    lab = Counter((r["label"], r["split"]) for r in rows)
    print(f"{'label':8s}" + "".join(f"{s:>7s}" for s in splits) + f"{'total':>7s}")
    for k in KEYWORDS:
        print(f"{k:8s}" + "".join(f"{lab[(k, s)]:7d}" for s in splits) + f"{sum(lab[(k, s)] for s in splits):7d}")
    eng_groups = Counter((r["engine"], r["split"]) for r in {(r["group"], r["engine"], r["split"]): r for r in rows}.values())
    print("groups per engine/split:")
    for e in ("espeak-ng", "flite", "festival"):
        print(f"  {e:10s}" + "".join(f"{s}={eng_groups[(e, s)]:<3d} " for s in splits)
              + f"total={sum(eng_groups[(e, s)] for s in splits)}")
    d = np.array(durs)
    if d.size:
        print(f"trimmed word duration (decoded, {TRIM_DB:.0f} dB): min {d.min():.3f}  median "
              f"{np.median(d):.3f}  max {d.max():.3f} s")
        for e, v in by_engine.items():
            v = np.array(v)
            print(f"  {e:10s} min {v.min():.3f}  median {np.median(v):.3f}  max {v.max():.3f}")
    du = subprocess.run(["du", "-sh", str(out)], capture_output=True, text=True).stdout.split()[0]
    apparent = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    data_bytes = sum(p.stat().st_size for p in (out / "clips").rglob("*") if p.is_file())
    print(f"size on disk (du -sh): {du}; apparent size: {apparent / 1e6:.2f} MB")
    if problems:
        print("PROBLEMS:\n  " + "\n  ".join(problems))
    else:
        print("verify: OK (every file decodes as 16 kHz mono, 16000 samples; no group, variant or "
              "speaker in two splits; manifest matches files)")
    return {"rows": rows, "problems": problems, "durations": d, "du": du, "apparent": apparent,
            "eng_groups": eng_groups, "labels": lab, "data_bytes": data_bytes}


# --------------------------------------------------------------------------- README

def write_readme(out: Path, args, rows: list[dict], stats: dict) -> None:
    splits = ["train", "val", "test"]
    engines = ["espeak-ng", "flite", "festival"]
    clips = Counter((r["engine"], r["split"]) for r in rows)
    eg = stats["eng_groups"]
    lines_counts = ["| engine | " + " | ".join(f"{s} groups / clips" for s in splits) + " | total |",
                    "|---|" + "---|" * (len(splits) + 1)]
    for e in engines:
        lines_counts.append(f"| {e} | " + " | ".join(f"{eg[(e, s)]} / {clips[(e, s)]}" for s in splits)
                            + f" | {sum(eg[(e, s)] for s in splits)} / {sum(clips[(e, s)] for s in splits)} |")
    lines_counts.append("| **all** | " + " | ".join(
        f"{sum(eg[(e, s)] for e in engines)} / {sum(clips[(e, s)] for e in engines)}" for s in splits)
        + f" | {len({r['group'] for r in rows})} / {len(rows)} |")
    held = defaultdict(list)
    for g, s in sorted({(r["group"], r["split"]) for r in rows}):
        if s != "train":
            held[s].append(f"`{g}`")
    d = stats["durations"]
    ext = CODECS[args.codec]
    boosted = sorted({r["group"] for r in rows if r["engine"] != "espeak-ng" and r["split"] == "train"})
    text = f"""# auricle demo keyword dataset

{len(rows)} one-second clips of ten spoken keywords (`{'`, `'.join(KEYWORDS)}`), synthesised
offline with free text-to-speech engines from Debian main.  It is small enough to ship with
the repository ({stats['data_bytes'] / 1e6:.1f} MB of clips, ~{stats['data_bytes'] / len(rows) / 1e3:.1f} kB each) and is meant for examples, tests and smoke runs of the
auricle pipeline, not as a benchmark of real speech: every voice is a synthesiser.

* `clips/<keyword>/<id>{ext[0]}` - 16 kHz mono, exactly 16000 samples, {ext[1]}/{ext[2].title()}
  (read with `soundfile`/libsndfile >= 1.0.29; Opus was chosen over Vorbis because at
  libsndfile's settings it is both smaller, ~2.6 kB vs ~5.5 kB per clip, and closer to the
  original in log-mel terms, ~1.1 dB vs ~1.4 dB mean error).  The word (trimmed at {TRIM_DB:.0f} dB re
  peak, {d.min():.2f}-{d.max():.2f} s long, median {np.median(d):.2f} s) sits at a random
  offset at a random peak level of {PEAK_DBFS[0]:.0f} to {PEAK_DBFS[1]:.0f} dBFS.  The rest is
  digital silence: **add noise during training** or a model learns the silence.
* `manifest.csv` - `{','.join(MANIFEST_COLUMNS)}`; readable by auricle's `manifest` layout.

## Columns

| column | meaning |
|---|---|
| `path` | relative to this folder |
| `label` | the keyword |
| `group` | base voice (engine:voice), e.g. `espeak:en-gb-scotland+m3`, `flite:awb`, `festival:kal` |
| `split` | `train` / `val` / `test`, assigned **by group** (no group in two splits) |
| `engine`, `voice`, `accent` | synthesiser, its voice name, English accent |
| `pitch` | espeak-ng: `-p` (0-99, default 50); flite/festival: target mean F0 in Hz (for `flite:rms`, `festival:slt` and the other-language voices, which ignore pitch settings, the voice's nominal F0 times the resampling factor) |
| `speed` | tempo relative to the voice's default (>1 = faster): espeak-ng `-s`/175; flite/festival 1/duration-stretch (`festival:slt`: the HTS `-r` rate), times the resampling factor for `flite:rms`, `festival:slt` and the other-language voices (resampling by *r* also raises the pitch by *r*) |
| `gain_db` | peak level of the clip in dBFS |
| `offset_s` | where the trimmed word starts in the clip |

## Voices and splits

{len({r['group'] for r in rows})} base voices (espeak-ng: the 8 English accents x variants
`m1`-`m8`, `f1`-`f5`, `klatt`-`klatt6` and the female variants Annie, Andrea, linda,
belinda, steph, anika), each saying every keyword {args.per_voice} times with random pitch
and speed (espeak-ng `-p 25..75 -s 90..170`; flite duration_stretch
{FLITE_STRETCH[0]}..{FLITE_STRETCH[1]} and target F0; festival Duration_Stretch
{FESTIVAL_STRETCH[0]}..{FESTIVAL_STRETCH[1]} and target F0; festival's HTS slt voice: HTS rate
`-r {HTS_RATE[0]}..{HTS_RATE[1]}`; `flite:rms`, `festival:slt` and the three other-language
voices ignore pitch settings and are resampled x{RESAMPLE_SPEED[0]}..{RESAMPLE_SPEED[1]}).
The other-language female voices (`festival:dita` Czech, `festival:lj` Finnish, `festival:lp`
Italian; train only) read the keywords respelled
in their own orthography ({', '.join(f'{k} "{v}"' for k, v in RESPELL['dita'].items())} for
Czech): training otherwise holds no female voice that espeak did not make.  The
{len(boosted)} non-espeak training voices ({', '.join(f'`{g}`' for g in boosted)}) say each keyword
{NON_ESPEAK_TRAIN_REPS * args.per_voice} times, against {eg[("espeak-ng", "train")]} espeak voices.  The diphone voices reduce "on", "up",
"no" and "down" to 0.1-0.2 s function words: festival is told they are content words and
flite kal16 stretches them more.  Words shorter than {MIN_WORD_S} s or longer than
{MAX_WORD_S} s after trimming are redrawn.

{chr(10).join(lines_counts)}

* **val**: {', '.join(held['val'])}
* **test**: {', '.join(held['test'])}

Split rules (deterministic from `--seed`): the 8 espeak-ng accents are each held out once (4 in
val, 4 in test), by voices whose variant (timbre, e.g. `+m3`) is used in no other split; flite's
`kal16` is a port of festival's `kal` diphones and both `slt` voices come from the same CMU
ARCTIC speaker, so those speaker pairs go together to val or test, and val and test each hold
one flite and one festival voice whose speaker is absent from train.  Expect lower scores
on val/test than on a random clip split: same-voice clips are highly correlated, and the
engine is a strong domain shift.  If you regroup (e.g. GroupKFold), group by speaker, not by
`group` alone, to keep `flite:kal16`/`festival:kal` and `flite:slt`/`festival:slt` together.

Only the keywords are included (no "unknown"/"silence" classes).

## How it was generated

```
.venv/bin/python scripts/make_demo_data.py --seed {args.seed} --per-voice {args.per_voice} --codec {args.codec} --out {args.out}
```

on Debian 12 (bookworm) with espeak-ng 1.51, flite 2.2 and festival 2.5.0 (festvox-kallpc16k,
festvox-kdlpc16k, festvox-us-slt-hts, festvox-czech-dita, festvox-suopuhe-lj, festvox-italp16k).
Same seed and engine versions give the same words, pitches and timings (the Opus encoder may
differ in the last bits).
Not used: the mbrola voices (Debian non-free; their licence forbids use in products that are
sold).

## Licences

* **espeak-ng** (engine and voice data) is GPL-3.0-or-later (`/usr/share/doc/espeak-ng/copyright`).
  Only its output is shipped here, not the program or its data.
* **flite** 2.2 and its voices kal16, awb, rms, slt: Carnegie Mellon University licence
  (`/usr/share/doc/flite/copyright`: "Permission is hereby granted, free of charge, to use and
  distribute this software ... without restriction", keep the copyright notice, mark
  modifications, keep the authors' names, no endorsement); the voices are part of flite
  (awb, rms and slt are built from CMU ARCTIC recordings).
* **festival** 2.5 (CSTR, University of Edinburgh) and its lexicons festlex-cmu, festlex-poslex:
  the same free MIT/X11-style licence (`/usr/share/doc/festival/copyright`).
* **festvox-kallpc16k** (kal_diphone, Alan W Black and Kevin Lenzo, 1998) and
  **festvox-kdlpc16k** (ked_diphone, CSTR, 1997): the same free licence (their
  `/usr/share/doc/<pkg>/copyright`).
* **festvox-us-slt-hts** (cmu_us_slt_arctic_hts): EST-2000/EST-2003 (the same free CMU/Edinburgh
  licence) and BSD-3-clause for the HTS parts (`/usr/share/doc/festvox-us-slt-hts/copyright`).
* **festvox-czech-dita** (Brailcom, GPL-3.0-or-later), **festvox-suopuhe-lj** (University of
  Helsinki, LGPL) and **festvox-italp16k** (IFM Development Team, GPL-2.0-or-later): their
  `/usr/share/doc/<pkg>/copyright`.  As with espeak-ng, only their output is shipped here.

None of these licences contains a clause about the synthesised audio.  The clips themselves
are distributed with this repository under its licence (MIT); credit: "synthesised with
espeak-ng, CMU Flite and the Festival Speech Synthesis System".

## Counts per keyword

| label | train | val | test |
|---|---|---|---|
""" + "\n".join(f"| {k} | " + " | ".join(str(stats['labels'][(k, s)]) for s in splits) + " |" for k in KEYWORDS) + "\n"
    (out / "README.md").write_text(text)


# --------------------------------------------------------------------------- main

def check_tools() -> None:
    missing = [t for t in ("espeak-ng", "flite", "festival") if shutil.which(t) is None]
    # festival falls back to its default voice, silently, when a voice is not installed
    missing += [f"festival voice {v}" for v, *_r in FESTIVAL_VOICES.values()
                if not list(Path("/usr/share/festival/voices").glob(f"*/{v}"))]
    if missing:
        sys.exit(f"missing TTS programs: {', '.join(missing)} (apt-get install espeak-ng flite festival "
                 "festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts festvox-czech-dita "
                 "festvox-suopuhe-lj festvox-italp16k)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--out", default="data/demo", help="output folder (default data/demo)")
    ap.add_argument("--per-voice", type=int, default=3,
                    help="renditions of each keyword per base voice (default 3)")
    ap.add_argument("--codec", choices=sorted(CODECS), default="opus",
                    help="clip encoding (default opus: ~2.6 KB/clip; vorbis ~5.5 KB, flac ~8 KB)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    ap.add_argument("--verify-only", action="store_true", help="only check an existing dataset")
    args = ap.parse_args(argv)
    out = Path(args.out)

    if args.verify_only:
        return 1 if verify(out)["problems"] else 0
    check_tools()

    voices = build_voices(args.seed)
    jobs = []
    for v in voices:
        reps = args.per_voice * reps_scale(v)
        clips = [Clip(v, w, rep, seed=zlib.crc32(f"{args.seed}|{v.group}|{w}|{rep}".encode()))
                 for w in KEYWORDS for rep in range(reps)]
        jobs.append((clips, str(out), args.codec))
    n_total = sum(len(j[0]) for j in jobs)
    by = Counter((v.engine, v.split) for v in voices)
    per_engine = ", ".join(f"{e} {sum(n for (en, _s), n in by.items() if en == e)}"
                           for e in ("espeak-ng", "flite", "festival"))
    print(f"{len(voices)} base voices ({per_engine}); "
          f"{n_total} clips -> {out} with {args.jobs} workers")

    if (out / "clips").exists():
        shutil.rmtree(out / "clips")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    rows, attempts, done = [], Counter(), 0
    # Slow festival/flite voices first so the pool stays busy at the end.
    order = sorted(range(len(jobs)), key=lambda i: jobs[i][0][0].voice.engine == "espeak-ng")
    with mp.Pool(args.jobs) as pool:
        for group, results, dt in pool.imap_unordered(render_voice, [jobs[i] for i in order]):
            done += len(results)
            rows += [r.row for r in results]
            attempts.update(r.attempts for r in results)
            el = time.time() - t0
            print(f"  [{done:5d}/{n_total}] {group:32s} {len(results)} clips in {dt:5.1f}s "
                  f"({done / el:5.1f} clips/s overall)", flush=True)
    gen_s = time.time() - t0
    rows.sort(key=lambda r: r["path"])
    with (out / "manifest.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    redrawn = sum(c for a, c in attempts.items() if a > 1)
    print(f"generated {len(rows)} clips in {gen_s:.1f}s ({len(rows) / gen_s:.1f} clips/s); "
          f"{redrawn} needed a redraw (attempts histogram {dict(sorted(attempts.items()))})")

    stats = verify(out)
    write_readme(out, args, stats["rows"], stats)
    du = subprocess.run(["du", "-sh", str(out)], capture_output=True, text=True).stdout.split()[0]
    print(f"wrote {out / 'manifest.csv'} and {out / 'README.md'}; final du -sh {out}: {du}")
    return 1 if stats["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
