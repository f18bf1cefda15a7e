"""Stems datasets: index songs, split them song-disjoint, cache them decoded, sample training chunks.

A separation dataset is a list of :class:`Song` s, each a set of *source stems* (one file per
instrument, all the same length) and optionally the mixture.  The pieces, in data-flow order:

* :func:`index_stems` finds the songs of a folder or manifest (layouts below) and checks them.
* :func:`split_songs` puts each song in ``train`` / ``valid`` / ``test`` (never one song in two).
* :class:`StemCache` decodes each song once, at the model's rate and channels, into a float32
  ``.npy`` per song, and reads it back memory-mapped.
* :class:`ChunkSampler` draws random training chunks, remixing stems across songs.

Layouts
-------
``folder``    ``ROOT/<song>/<stem>.<ext>``: one folder per song, one file per stem, any extension in
              :data:`auricle.audio.AUDIO_EXTENSIONS`; ``mixture.<ext>`` is the mixture.
``musdb``     MUSDB18-HQ: ``ROOT/{train,valid,test}/<song>/{mixture,vocals,drums,bass,other}.wav``;
              the split comes from the folder.
``manifest``  a CSV (``ROOT`` is the ``.csv``, or a folder holding ``manifest.csv``) with columns
              ``song,stem,path[,split]``, one row per file; ``stem`` may be ``mixture``; relative
              paths resolve against the CSV's folder.

``layout="auto"`` takes ``manifest`` for a ``.csv`` or a ``manifest.csv`` that has ``stem`` and
``path`` columns, ``musdb`` when ``ROOT`` has a ``train``/``valid``/``test`` folder of song
folders, else ``folder``.  A ``manifest.csv`` without those columns (an info file, e.g. the demo
generator's ``song,split,soundfont,...``) is not a stems manifest: the folder layouts are used,
and its ``song``/``split`` columns give the split of songs the layout leaves open.
Split names accept the aliases ``val``/``validation``/``dev`` (-> ``valid``) and ``eval`` (-> ``test``).

Stem mapping (:func:`stem_plan`)
--------------------------------
Each requested stem is a sum of the song's files, so that the requested sources still add up to
the mixture when the dataset has more (or other) stems than the model:

* a requested stem with its own file is that file;
* ``accompaniment`` without a file (Spleeter's 2stems) is the sum of every source stem of the song
  that is not ``vocals`` and not requested itself (drums + bass + piano + other ...); when the
  song has only a mixture and vocals it is ``mixture - vocals``;
* ``other``, when requested, also absorbs every source stem that is not requested (``piano`` when
  a 4-stem model is trained on 5-stem songs; any extra stem such as ``guitar``);
* an ``accompaniment`` file is never folded into another stem (it is a sum, not a source), and
  files no requested stem uses are neither checked nor decoded.

Checks
------
Every song is checked from the file headers by :func:`index_stems` (and again when decoded):
a missing stem, an empty (0-byte or 0-sample) or unreadable file, more than 2 channels, sample
rates that differ within a song, and lengths that differ by more than
:data:`LENGTH_TOLERANCE` seconds (50 ms: a few codec frames of mp3/ogg padding) are a
:class:`~auricle.errors.DatasetError` / :class:`~auricle.errors.AudioError` naming the file and
the fix.  Within the tolerance every stem is cut to the shortest.  Mono files are duplicated to
stereo for ``channels=2``; stereo is averaged for ``channels=1``.

Examples
--------
>>> import numpy as np, soundfile as sf, tempfile, os
>>> root = tempfile.mkdtemp()
>>> for song, f in (("a", 0.1), ("b", 0.2), ("c", 0.3)):
...     os.makedirs(os.path.join(root, song))
...     for stem in ("vocals", "drums", "bass"):
...         sf.write(os.path.join(root, song, stem + ".wav"), np.full(800, f, "float32"), 8000)
>>> songs = index_stems(root, stems=["vocals", "accompaniment"])
>>> [(s.name, sorted(s.stems)) for s in songs][0]
('a', ['bass', 'drums', 'vocals'])
>>> parts = split_songs(songs, seed=0)
>>> sorted(len(v) for v in parts.values())
[1, 1, 1]
>>> cache = StemCache(songs, stems=["vocals", "accompaniment"], sr=8000, channels=2,
...                   cache_dir=os.path.join(root, ".cache"))
>>> cache.sources(0).shape, round(float(cache.sources(0)[1, 0, 0]), 3)
((2, 2, 800), 0.2)
>>> mix, src = ChunkSampler(cache, chunk=400, batch_size=4).batch()
>>> mix.shape, src.shape, bool(np.array_equal(mix, src.sum(1)))
((4, 2, 400), (4, 2, 2, 400), True)
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from auricle import audio
from auricle.audio import AUDIO_EXTENSIONS
from auricle.errors import AudioError, ConfigError, DatasetError

#: Layout names :func:`index_stems` understands.
LAYOUTS = ("auto", "folder", "musdb", "manifest")

#: The split names songs get.
SONG_SPLITS = ("train", "valid", "test")

#: Stem lengths within a song may differ by this many seconds (cut to the shortest); more is an error.
LENGTH_TOLERANCE = 0.05

_SPLIT_ALIASES = {
    "train": "train", "training": "train", "tr": "train",
    "valid": "valid", "val": "valid", "validation": "valid", "dev": "valid", "development": "valid",
    "test": "test", "testing": "test", "eval": "test", "evaluation": "test",
}
_NON_VOCAL_ORDER = ("drums", "bass", "piano", "other")
_CACHE_VERSION = 1


@dataclass(frozen=True)
class Song:
    """One song of a stems dataset.

    Parameters
    ----------
    name : str
        Unique id of the song; the unit :func:`split_songs` keeps in one split.
    stems : dict of str to Path
        Every source stem file found for the song (stem name -> file), not the mixture.
    mixture : Path or None
        The mixture file, if the layout has one.
    split : str or None
        ``"train"``, ``"valid"`` or ``"test"`` when the layout or manifest says so.
    """

    name: str
    stems: dict[str, Path] = field(hash=False)
    mixture: Path | None = None
    split: str | None = None


# --------------------------------------------------------------------------- stem mapping

def stem_plan(available: Iterable[str], stems: Sequence[str], *, mixture: bool = False,
              song: str | None = None) -> dict[str, list[tuple[int, str]]]:
    """How each requested stem is made from a song's files: ``{stem: [(sign, file stem), ...]}``.

    ``"mixture"`` in a term means the mixture file.  See the module docstring for the rules.

    Parameters
    ----------
    available : iterable of str
        The song's source stem names (files), without the mixture.
    stems : sequence of str
        The requested stems, in order.
    mixture : bool
        Whether the song has a mixture file.
    song : str, optional
        Song name for error messages.

    Raises
    ------
    DatasetError
        A requested stem the song neither has nor can derive.

    Examples
    --------
    >>> stem_plan(["vocals", "drums", "bass", "other"], ["vocals", "accompaniment"])
    {'vocals': [(1, 'vocals')], 'accompaniment': [(1, 'drums'), (1, 'bass'), (1, 'other')]}
    >>> stem_plan(["vocals", "drums", "bass", "piano", "other"], ["vocals", "drums", "bass", "other"])["other"]
    [(1, 'other'), (1, 'piano')]
    >>> stem_plan(["vocals"], ["vocals", "accompaniment"], mixture=True)["accompaniment"]
    [(1, 'mixture'), (-1, 'vocals')]
    """
    stems = _check_stem_names(stems)
    have = [s for s in _ordered(available) if s != "mixture"]
    requested = set(stems)
    leftovers = [s for s in have if s not in requested and s != "accompaniment"]
    plan: dict[str, list[tuple[int, str]]] = {}
    claimed: set[str] = set()
    if "accompaniment" in requested and "accompaniment" not in have:
        parts = [s for s in leftovers if s != "vocals"]
        if parts:
            plan["accompaniment"] = [(1, s) for s in parts]
            claimed.update(parts)
        elif mixture and "vocals" in have:
            plan["accompaniment"] = [(1, "mixture"), (-1, "vocals")]
        else:
            raise _missing(song, "accompaniment", have, mixture,
                           "needs an accompaniment file, non-vocal stems (drums/bass/piano/other) "
                           "to sum, or a mixture and vocals")
    for s in stems:
        if s in plan:
            continue
        terms = [(1, s)] if s in have else []
        if s == "other":
            extra = [x for x in leftovers if x not in claimed]
            terms += [(1, x) for x in extra]
            claimed.update(extra)
        if not terms:
            raise _missing(song, s, have, mixture, None)
        plan[s] = terms
    return {s: plan[s] for s in stems}


def _ordered(names: Iterable[str]) -> list[str]:
    names = set(names)
    known = [s for s in ("vocals", *_NON_VOCAL_ORDER, "accompaniment") if s in names]
    return known + sorted(names - set(known))


def _missing(song, stem, have, mixture, why) -> DatasetError:
    found = ", ".join(have + (["mixture"] if mixture else [])) or "no audio files"
    where = f"song {song!r}" if song else "the song"
    return DatasetError(f"{where} has no {stem!r} stem (found: {found})"
                        + (f"; {stem} {why}" if why else ""),
                        fix=f"add the file {stem}.wav to the song, or drop {stem!r} from the requested stems")


def _check_stem_names(stems: Sequence[str]) -> tuple[str, ...]:
    if isinstance(stems, str):
        stems = [stems]
    stems = tuple(str(s).strip().lower() for s in stems)
    if not stems:
        raise ConfigError("no stems requested", fix="pass stems, e.g. ['vocals', 'accompaniment']")
    dup = sorted({s for s in stems if stems.count(s) > 1})
    if dup:
        raise ConfigError(f"stem(s) {', '.join(dup)} requested twice", fix="name each stem once")
    if "mixture" in stems or "" in stems:
        raise ConfigError("'mixture' (or an empty name) is not a source stem",
                          fix="request source stems such as vocals, drums, bass, other, accompaniment")
    return stems


# --------------------------------------------------------------------------- indexing

def index_stems(root: str | Path, *, stems: Sequence[str], layout: str = "auto") -> list[Song]:
    """The songs of a stems dataset, checked against the requested ``stems``.

    Parameters
    ----------
    root : str or Path
        The dataset folder, or a manifest ``.csv``.
    stems : sequence of str
        Stems the model will be trained on (e.g. ``("vocals", "accompaniment")``); every song
        must have or derive each (see :func:`stem_plan`).
    layout : {"auto", "folder", "musdb", "manifest"}
        See the module docstring.

    Returns
    -------
    list of Song
        Sorted by split folder (musdb) or name.

    Raises
    ------
    DatasetError, AudioError
        Missing root, unknown layout, no songs, duplicate song names, a bad manifest, a missing
        stem, unreadable/empty files, more than 2 channels, different sample rates or lengths.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "train", "song1"))
    >>> for stem in ("mixture", "vocals", "drums", "bass", "other"):
    ...     sf.write(os.path.join(root, "train", "song1", stem + ".wav"), np.zeros(80, "float32"), 8000)
    >>> [(s.name, s.split, s.mixture is not None) for s in index_stems(root, stems=["vocals", "other"])]
    [('song1', 'train', True)]
    """
    stems = _check_stem_names(stems)
    if layout not in LAYOUTS:
        raise DatasetError(f"unknown stems layout {layout!r}", fix=f"use one of {', '.join(LAYOUTS)}")
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError("dataset folder not found", path=root,
                           fix="check the path (relative paths are resolved from the current directory)")
    if layout == "auto":
        layout = _detect(root)
    if root.is_file() and layout != "manifest":
        raise DatasetError(f"the {layout} layout needs a folder, not a file", path=root,
                           fix="pass the dataset folder, or a manifest .csv with layout='manifest'")
    if layout == "manifest":
        songs = _manifest_songs(_manifest_path(root))
    elif layout == "musdb":
        songs = _musdb_songs(root)
    else:
        songs = _folder_songs(root)
    if layout != "manifest" and root.is_dir():
        songs = _apply_info_manifest(root, songs)
    _check_unique(songs)
    for song in songs:
        _check_headers(song, stems)
    return songs


def _detect(root: Path) -> str:
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "manifest"
        raise DatasetError("expected a dataset folder or a manifest .csv", path=root,
                           fix="pass the folder holding one sub-folder per song, or a .csv manifest")
    m = root / "manifest.csv"
    if m.is_file() and {"stem", "path"} <= set(_csv_header(m)):
        return "manifest"
    for name in os.listdir(root):
        d = root / name
        if _split_name(name) and d.is_dir() and not _audio_in(d) and _song_dirs(d):
            return "musdb"
    return "folder"


def _split_name(value: str | None) -> str | None:
    if value is None:
        return None
    return _SPLIT_ALIASES.get(str(value).strip().lower())


def _is_audio(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def _audio_in(folder: Path) -> list[Path]:
    return [folder / n for n in sorted(os.listdir(folder)) if _is_audio(n) and (folder / n).is_file()]


def _song_dirs(folder: Path) -> list[Path]:
    out = []
    for n in sorted(os.listdir(folder)):
        d = folder / n
        if not n.startswith(".") and d.is_dir() and _audio_in(d):
            out.append(d)
    return out


def _song_from_dir(d: Path, split: str | None) -> Song:
    files: dict[str, Path] = {}
    for p in _audio_in(d):
        name = p.stem.lower()
        if name in files:
            raise DatasetError(f"song {d.name!r} has two files for stem {name!r}: {files[name].name} and {p.name}",
                               path=d, fix="keep one file per stem")
        files[name] = Path(os.path.abspath(p))
    mixture = files.pop("mixture", None)
    return Song(d.name, files, mixture, split)


def _no_songs(root: Path, structure: str) -> DatasetError:
    hint = ""
    if _audio_in(root):
        hint = " (audio files lie directly in it: that looks like one song's folder; pass the folder above it)"
    elif list(root.glob("*.stem.mp4")) or list(root.glob("*/*.stem.mp4")):
        hint = " (found MUSDB18 .stem.mp4 files; auricle reads MUSDB18-HQ wav stems)"
    return DatasetError(f"no songs found{hint}", path=root,
                        fix=f"expected {structure}; or a manifest.csv with columns song,stem,path[,split]")


def _folder_songs(root: Path) -> list[Song]:
    songs = [_song_from_dir(d, None) for d in _song_dirs(root)]
    if not songs:
        raise _no_songs(root, "ROOT/<song>/<stem>.wav (one folder per song, one file per stem)")
    return songs


def _musdb_songs(root: Path) -> list[Song]:
    songs: list[Song] = []
    order = {s: k for k, s in enumerate(SONG_SPLITS)}
    for name in sorted(os.listdir(root), key=lambda n: (order.get(_split_name(n) or "", 9), n)):
        split = _split_name(name)
        if split and (root / name).is_dir():
            songs += [_song_from_dir(d, split) for d in _song_dirs(root / name)]
    if not songs:
        raise _no_songs(root, "ROOT/{train,valid,test}/<song>/{mixture,vocals,drums,bass,other}.wav")
    return songs


def _manifest_path(root: Path) -> Path:
    p = root if root.is_file() else root / "manifest.csv"
    if not p.is_file():
        raise DatasetError("manifest CSV not found", path=p,
                           fix="pass the CSV itself, or a folder holding manifest.csv")
    return p


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            row = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    return [h.strip().lower() for h in row]


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
            rows = []
            for row in reader:
                clean = {(k or "").strip().lower(): (v.strip() if isinstance(v, str) else "")
                         for k, v in row.items() if k is not None}
                if any(clean.values()):
                    rows.append((reader.line_num, clean))
    except UnicodeDecodeError:
        raise DatasetError("manifest is not a UTF-8 text CSV", path=path, fix="save it as UTF-8 CSV") from None
    except csv.Error as exc:
        raise DatasetError(f"manifest is not a valid CSV ({exc})", path=path, fix="fix the CSV syntax") from None
    return header, rows


def _manifest_songs(path: Path) -> list[Song]:
    header, rows = _read_csv(path)
    missing_cols = [c for c in ("song", "stem", "path") if c not in header]
    if missing_cols:
        raise DatasetError(f"the stems manifest lacks column(s) {', '.join(missing_cols)} "
                           f"(found: {', '.join(header) or 'none'})", path=path,
                           fix="the header row must be song,stem,path[,split]: one row per stem file")
    base = path.parent
    files: dict[str, dict[str, Path]] = {}
    splits: dict[str, tuple[str | None, int]] = {}
    absent: list[str] = []
    for line, row in rows:
        song, stem, raw = row.get("song", ""), row.get("stem", "").lower(), row.get("path", "")
        if not song or not stem or not raw:
            raise DatasetError(f"line {line}: empty song, stem or path", path=path,
                               fix="fill in all three or remove the row")
        p = Path(raw).expanduser()
        p = Path(os.path.abspath(p if p.is_absolute() else base / p))
        if not p.is_file():
            absent.append(f"line {line}: {raw}")
        got = files.setdefault(song, {})
        if stem in got:
            raise DatasetError(f"line {line}: song {song!r} lists stem {stem!r} twice", path=path,
                               fix="keep one row per song and stem")
        got[stem] = p
        raw_split = row.get("split", "")
        split = _split_name(raw_split)
        if raw_split and split is None:
            raise DatasetError(f"line {line}: unknown split {raw_split!r}", path=path,
                               fix="use train, valid or test (or leave it empty)")
        if song in splits and splits[song][0] != split:
            raise DatasetError(f"line {line}: song {song!r} is in split {split!r} here but "
                               f"{splits[song][0]!r} on line {splits[song][1]}", path=path,
                               fix="give every row of a song the same split")
        splits.setdefault(song, (split, line))
    if absent:
        more = f" (and {len(absent) - 5} more)" if len(absent) > 5 else ""
        raise DatasetError(f"{len(absent)} file(s) named in the manifest do not exist: "
                           f"{'; '.join(absent[:5])}{more}", path=path,
                           fix=f"fix those paths (relative paths resolve against {base}) or remove the rows")
    if not files:
        raise DatasetError("the stems manifest has no rows", path=path,
                           fix="add one row song,stem,path per stem file")
    songs = []
    for song in sorted(files):
        got = dict(files[song])
        mixture = got.pop("mixture", None)
        songs.append(Song(song, got, mixture, splits[song][0]))
    return songs


def _apply_info_manifest(root: Path, songs: list[Song]) -> list[Song]:
    """Splits from an info ``manifest.csv`` (``song,split,...``, no stem/path) for open songs."""
    m = root / "manifest.csv"
    if not m.is_file():
        return songs
    header = _csv_header(m)
    if "song" not in header or "split" not in header or "stem" in header:
        return songs
    _, rows = _read_csv(m)
    given: dict[str, str] = {}
    for line, row in rows:
        raw = row.get("split", "")
        split = _split_name(raw)
        if raw and split is None:
            raise DatasetError(f"line {line}: unknown split {raw!r} for song {row.get('song')!r}", path=m,
                               fix="use train, valid or test (or leave it empty)")
        if split and row.get("song"):
            given[row["song"]] = split
    return [replace(s, split=given.get(s.name)) if s.split is None else s for s in songs]


def _check_unique(songs: Sequence[Song]) -> None:
    seen: dict[str, Song] = {}
    for s in songs:
        if s.name in seen:
            where = [_where(x) for x in (seen[s.name], s)]
            raise DatasetError(f"song name {s.name!r} is used twice ({where[0]} and {where[1]})",
                               fix="give every song a unique name (rename one folder or manifest entry)")
        seen[s.name] = s


def _where(song: Song) -> str:
    files = list(song.stems.values()) + ([song.mixture] if song.mixture is not None else [])
    return str(Path(files[0]).parent) if files else f"split {song.split}"


def _song_files(song: Song, stems: Sequence[str]) -> tuple[dict[str, list[tuple[int, str]]], dict[str, Path]]:
    """The plan and the files it needs (stem name -> path, ``"mixture"`` included when present)."""
    plan = stem_plan(song.stems, stems, mixture=song.mixture is not None, song=song.name)
    need = {name for terms in plan.values() for _, name in terms}
    files = {n: song.stems[n] for n in _ordered(need - {"mixture"})}
    if song.mixture is not None:
        files["mixture"] = Path(song.mixture)
    return plan, files


def _check_headers(song: Song, stems: Sequence[str]) -> tuple[int, int]:
    """Check a song's needed files from their headers; returns ``(native_sr, shortest frames)``."""
    _, files = _song_files(song, stems)
    infos = {}
    for name, p in files.items():
        if not p.is_file():
            raise AudioError(f"stem file of song {song.name!r} not found", path=p,
                             fix="re-index the dataset, or restore the file")
        if p.stat().st_size == 0:
            raise AudioError(f"file is empty (0 bytes; {name} of song {song.name!r})", path=p,
                             fix="re-export the stem or remove the song")
        try:
            i = audio.info(p)
        except AudioError as exc:
            raise AudioError(f"{exc.message} ({name} of song {song.name!r})", path=p, fix=exc.fix) from None
        if i.frames == 0:
            raise AudioError(f"file holds no samples (0-length {name} of song {song.name!r})", path=p,
                             fix="re-export the stem or remove the song")
        if i.channels > 2:
            raise AudioError(f"{i.channels} channels ({name} of song {song.name!r}); stems must be mono or stereo",
                             path=p, fix="down-mix the file to stereo or mono")
        infos[name] = i
    rates = {i.samplerate for i in infos.values()}
    if len(rates) > 1:
        a = min(infos.values(), key=lambda i: i.samplerate)
        b = max(infos.values(), key=lambda i: i.samplerate)
        raise DatasetError(f"song {song.name!r} mixes sample rates: {a.path} is {a.samplerate} Hz but "
                           f"{b.path} is {b.samplerate} Hz",
                           fix="export all stems of a song at one sample rate")
    sr = rates.pop()
    lo = min(infos.values(), key=lambda i: i.frames)
    hi = max(infos.values(), key=lambda i: i.frames)
    if (hi.frames - lo.frames) / sr > LENGTH_TOLERANCE:
        raise DatasetError(f"song {song.name!r} has stems of different lengths: {hi.path} has {hi.frames} samples "
                           f"({hi.duration:.3f} s) but {lo.path} has {lo.frames} ({lo.duration:.3f} s); "
                           f"up to {LENGTH_TOLERANCE * 1000:g} ms is tolerated",
                           fix="export all stems of a song from the same start to the same end")
    return sr, lo.frames


# --------------------------------------------------------------------------- splitting

def split_songs(songs: Sequence[Song], *, valid: float = 0.15, test: float = 0.15,
                seed: int = 0) -> dict[str, list[Song]]:
    """Song-disjoint ``train`` / ``valid`` / ``test`` lists.

    Songs whose ``split`` is set keep it (``val``, ``dev``, ``eval`` ... read as the split they
    name).  The others are shuffled by ``seed`` and ``valid`` / ``test`` of them (rounded, at
    least one each when there are >= 3 of them) go to a split the layout does not already
    provide; the rest to train.  When no song ends up in ``valid`` (a
    layout with only train/test, like MUSDB18), ``valid`` of the train songs are carved out of
    train (likewise ``test``).  The returned songs carry their split.

    Parameters
    ----------
    songs : sequence of Song
    valid, test : float
        Shares in ``[0, 1)``; ``0`` leaves that split empty.
    seed : int
        Same seed, same split.

    Raises
    ------
    DatasetError
        Bad fractions, duplicate song names, or too few songs to fill every split asked for.

    Examples
    --------
    >>> songs = [Song(f"s{k}", {}, None, None) for k in range(10)]
    >>> parts = split_songs(songs, valid=0.2, test=0.2, seed=1)
    >>> [len(parts[s]) for s in ("train", "valid", "test")]
    [6, 2, 2]
    >>> musdb = [Song(f"s{k}", {}, None, "train" if k < 8 else "test") for k in range(10)]
    >>> [len(v) for v in split_songs(musdb, valid=0.25).values()]
    [6, 2, 2]
    """
    songs = list(songs)
    for name, f in (("valid", valid), ("test", test)):
        if not isinstance(f, (int, float)) or not 0 <= f < 1:
            raise DatasetError(f"{name}={f!r} must be a fraction in [0, 1)", fix=f"e.g. {name}=0.15")
    if valid + test >= 1:
        raise DatasetError(f"valid + test = {valid + test:g} leaves nothing for training",
                           fix="keep valid + test below 1, e.g. 0.15 each")
    if not songs:
        raise DatasetError("nothing to split: no songs", fix="index a stems dataset first")
    _check_unique(songs)
    for k, s in enumerate(songs):
        if s.split is not None and s.split not in SONG_SPLITS:
            if _split_name(s.split) is None:
                raise DatasetError(f"song {s.name!r} has unknown split {s.split!r}",
                                   fix="use train, valid or test (or None to let split_songs decide)")
            songs[k] = replace(s, split=_split_name(s.split))
    shares = {"valid": float(valid), "test": float(test)}
    wanted = [s for s in ("valid", "test") if shares[s] > 0]
    need = len(wanted) + 1
    if len(songs) < need:
        raise DatasetError(f"too few songs: {len(songs)} song(s) cannot give train"
                           + "".join(f", {s}" for s in wanted) + " one song each",
                           fix=f"add songs (at least {need}) or pass " + " / ".join(f"{s}=0" for s in wanted))

    rng = np.random.default_rng(seed)
    where = {s.name: s.split for s in songs}
    present = {v for v in where.values() if v}
    pool = sorted(n for n, v in where.items() if v is None)
    order = [pool[k] for k in rng.permutation(len(pool))]
    active = [s for s in wanted if s not in present]
    counts = {s: int(round(shares[s] * len(order))) for s in active}
    if active and len(order) >= len(active) + 1:
        for s in active:
            counts[s] = max(1, counts[s])
        while sum(counts.values()) > len(order) - 1:
            big = max(counts, key=lambda s: (counts[s], s))
            counts[big] -= 1
    else:
        counts = {s: 0 for s in active}
    k = 0
    for s in active:
        for n in order[k:k + counts[s]]:
            where[n] = s
        k += counts[s]
    for n in order[k:]:
        where[n] = "train"

    for s in ("test", "valid"):   # carve a split the layout lacks out of train
        if s in wanted and not any(v == s for v in where.values()):
            train = sorted(n for n, v in where.items() if v == "train")
            take = min(max(1, int(round(shares[s] * len(train)))), len(train) - 1)
            for j in rng.permutation(len(train))[:max(take, 0)]:
                where[train[j]] = s

    out: dict[str, list[Song]] = {s: [] for s in SONG_SPLITS}
    for song in songs:
        out[where[song.name]].append(song if song.split == where[song.name] else replace(song, split=where[song.name]))
    lacking = [s for s in ("train", *wanted) if not out[s]]
    if lacking:
        counts_txt = ", ".join(f"{len(v)} {s}" for s, v in out.items())
        raise DatasetError(f"too few songs for the split: {', '.join(lacking)} got none ({counts_txt})",
                           fix="add songs, fix the songs' given splits, or pass "
                               + " / ".join(f"{s}=0" for s in lacking if s != "train"))
    return out


# --------------------------------------------------------------------------- cache

class StemCache:
    """Songs decoded once to float32 ``.npy`` files, read back memory-mapped.

    Each song becomes ``(S, C, N)`` float32 (the requested stems in order, made by
    :func:`stem_plan`, at ``sr`` Hz with ``channels`` channels) and, when it has a mixture file,
    a ``(C, N)`` mixture array.  A file's name carries a hash of the song's file paths, sizes
    and mtimes, the stems, ``sr`` and ``channels``: a changed file or setting decodes again (and
    removes the stale copy); otherwise the cached file is used without decoding.  Files are
    written to a temporary name and moved into place, so an interrupted run leaves no half file.
    One stem file is decoded at a time and summed into the memory-mapped output, so memory does
    not grow with the dataset.

    Parameters
    ----------
    songs : sequence of Song
    stems : sequence of str
    sr : int
        Sample rate to decode at (files are resampled with :func:`auricle.audio.resample`).
    channels : {1, 2}
    cache_dir : str or Path
        Created if missing; may be shared by datasets and settings.
    progress : callable, optional
        ``progress(i, n, name)`` after each song is ready, ``i`` counting 1 to ``n``.

    Attributes
    ----------
    names : list of str
    lengths : np.ndarray
        Samples per song at ``sr`` (int64).
    decoded : list of str
        Names of the songs this instance had to decode (the others came from the cache).

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "s"))
    >>> sf.write(os.path.join(root, "s", "vocals.wav"), np.full(400, 0.5, "float32"), 8000)
    >>> sf.write(os.path.join(root, "s", "piano.wav"), np.full(400, 0.25, "float32"), 8000)
    >>> songs = index_stems(root, stems=["vocals", "accompaniment"])
    >>> c = StemCache(songs, stems=["vocals", "accompaniment"], sr=16000, channels=1, cache_dir=root + "/c")
    >>> c.lengths.tolist(), c.decoded
    ([800], ['s'])
    >>> StemCache(songs, stems=["vocals", "accompaniment"], sr=16000, channels=1, cache_dir=root + "/c").decoded
    []
    """

    def __init__(self, songs: Sequence[Song], *, stems: Sequence[str], sr: int, channels: int,
                 cache_dir: str | Path, progress: Callable[[int, int, str], object] | None = None):
        self.stems = _check_stem_names(stems)
        if not isinstance(sr, (int, np.integer)) or sr <= 0:
            raise ConfigError(f"sr={sr!r} must be a positive integer sample rate", fix="e.g. sr=44100")
        if channels not in (1, 2):
            raise ConfigError(f"channels={channels!r} must be 1 or 2", fix="use 2 (stereo) or 1 (mono)")
        self.songs = list(songs)
        if not self.songs:
            raise DatasetError("no songs to cache", fix="index a stems dataset first (index_stems)")
        _check_unique(self.songs)
        self.sr, self.channels = int(sr), int(channels)
        self.cache_dir = Path(cache_dir).expanduser()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.names = [s.name for s in self.songs]
        self.decoded: list[str] = []
        self._src_paths: list[Path] = []
        self._mix_paths: list[Path | None] = []
        self._src: dict[int, np.ndarray] = {}
        self._mix: dict[int, np.ndarray] = {}
        lengths = []
        n = len(self.songs)
        for i, song in enumerate(self.songs):
            src_path, mix_path = self._ensure(song)
            self._src_paths.append(src_path)
            self._mix_paths.append(mix_path)
            lengths.append(self.sources(i).shape[-1])
            if progress is not None:
                progress(i + 1, n, song.name)
        self.lengths = np.asarray(lengths, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.songs)

    def sources(self, i: int) -> np.ndarray:
        """``(S, C, N)`` float32 read-only memmap of song ``i``'s stems, in the order of ``stems``."""
        if i not in self._src:
            self._src[i] = np.load(self._src_paths[i], mmap_mode="r")
        return self._src[i]

    def mixture(self, i: int) -> np.ndarray:
        """``(C, N)`` float32: song ``i``'s mixture file if it has one (memmap), else the sum of its sources."""
        p = self._mix_paths[i]
        if p is None:
            return self.sources(i).sum(axis=0, dtype=np.float32)
        if i not in self._mix:
            self._mix[i] = np.load(p, mmap_mode="r")
        return self._mix[i]

    # ------------------------------------------------------------------ internals

    def _ensure(self, song: Song) -> tuple[Path, Path | None]:
        plan, files = _song_files(song, self.stems)
        setting = {"v": _CACHE_VERSION, "stems": self.stems, "sr": self.sr, "channels": self.channels}
        content = {"plan": plan, "files": {}}
        for name, p in files.items():
            try:
                st = p.stat()
            except OSError:
                raise AudioError(f"stem file of song {song.name!r} not found", path=p,
                                 fix="re-index the dataset, or restore the file") from None
            content["files"][name] = [os.path.abspath(p), st.st_size, st.st_mtime_ns]
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", song.name)[:60] or "song"
        h_set = _digest([setting, song.name, sorted(v[0] for v in content["files"].values())])[:8]
        h_all = _digest([setting, song.name, content])[:16]
        prefix = f"{safe}-{h_set}-"
        src = self.cache_dir / f"{prefix}{h_all}.npy"
        mix = self.cache_dir / f"{prefix}{h_all}.mix.npy" if song.mixture is not None else None
        if src.is_file() and (mix is None or mix.is_file()):
            return src, mix
        self._decode(song, plan, files, src, mix)
        self.decoded.append(song.name)
        for old in self.cache_dir.glob(f"{_glob_escape(prefix)}*.npy"):
            if old not in (src, mix) and not old.name.startswith("."):
                try:
                    old.unlink()
                except OSError:
                    pass
        return src, mix

    def _decode(self, song: Song, plan, files: dict[str, Path], src: Path, mix: Path | None) -> None:
        native_sr, frames = _check_headers(song, self.stems)
        n = int(round(frames * self.sr / native_sr))
        if n <= 0:
            raise AudioError(f"song {song.name!r} is shorter than one sample at {self.sr} Hz",
                             path=next(iter(files.values())), fix="remove the song")
        use: dict[str, list[tuple[int, int]]] = {}
        for k, s in enumerate(self.stems):
            for sign, name in plan[s]:
                use.setdefault(name, []).append((k, sign))
        tmp_src = src.with_name(f".{src.name}.{os.getpid()}.tmp.npy")
        tmp_mix = mix.with_name(f".{mix.name}.{os.getpid()}.tmp.npy") if mix is not None else None
        try:
            out = np.lib.format.open_memmap(tmp_src, mode="w+", dtype=np.float32,
                                            shape=(len(self.stems), self.channels, n))
            mix_out = None
            if tmp_mix is not None:
                mix_out = np.lib.format.open_memmap(tmp_mix, mode="w+", dtype=np.float32, shape=(self.channels, n))
            for name, p in files.items():   # one file in memory at a time
                y = self._read(p, native_sr, n)
                for k, sign in use.get(name, []):
                    if sign > 0:
                        out[k] += y
                    else:
                        out[k] -= y
                if name == "mixture" and mix_out is not None:
                    mix_out[:] = y
                del y
            out.flush()
            del out
            if mix_out is not None:
                mix_out.flush()
                del mix_out
                os.replace(tmp_mix, mix)
            os.replace(tmp_src, src)
        finally:
            for t in (tmp_src, tmp_mix):
                if t is not None and t.exists():
                    t.unlink()

    def _read(self, p: Path, native_sr: int, n: int) -> np.ndarray:
        y, got_sr = audio.load_native(p, mono=False)
        if got_sr != native_sr:   # the header changed between the check and the decode
            raise AudioError(f"sample rate {got_sr} Hz differs from the song's {native_sr} Hz", path=p,
                             fix="export all stems of a song at one sample rate")
        if y.shape[0] > 2:
            raise AudioError(f"{y.shape[0]} channels; stems must be mono or stereo", path=p,
                             fix="down-mix the file to stereo or mono")
        if self.channels == 1 and y.shape[0] == 2:
            y = y.mean(axis=0, keepdims=True)
        elif self.channels == 2 and y.shape[0] == 1:
            y = np.repeat(y, 2, axis=0)
        y = audio.resample(y, orig_sr=native_sr, target_sr=self.sr)
        return audio.fix_length(y, length=n, mode="start")


def _glob_escape(text: str) -> str:
    """``text`` with glob wildcards escaped (for :meth:`Path.glob`)."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------- sampler

class ChunkSampler:
    """Random training batches of ``chunk`` samples with the Open-Unmix/Demucs augmentations.

    For each example, with probability ``remix`` every source comes from a different random song
    (distinct songs when there are at least as many songs as stems) at its own random offset,
    else all sources come from one random song at one offset.  Each source is then scaled by a
    gain drawn uniformly from ``gain`` (linear) and, with probability ``channel_swap``, gets its
    left and right channels swapped.  The mixture is the sum of the augmented sources, exactly.
    Songs shorter than ``chunk`` are zero-padded at the end.  Silent chunks are not avoided:
    silence is a valid target (a model must learn to output it).

    Parameters
    ----------
    cache : StemCache
    chunk : int
        Samples per example.
    batch_size : int
    remix : float
        Probability that an example mixes sources from different songs.
    gain : (float, float)
        Range of the per-source linear gain; ``(1, 1)`` disables it.
    channel_swap : float
        Probability of swapping a source's channels (ignored for mono).
    seed : int
        Same seed, same sequence of batches.

    Examples
    --------
    See the module docstring.
    """

    def __init__(self, cache: StemCache, *, chunk: int, batch_size: int, remix: float = 0.5,
                 gain: tuple[float, float] = (0.25, 1.25), channel_swap: float = 0.5, seed: int = 0):
        if len(cache) == 0:
            raise DatasetError("the cache holds no songs", fix="cache at least one song")
        for name, v in (("chunk", chunk), ("batch_size", batch_size)):
            if not isinstance(v, (int, np.integer)) or v <= 0:
                raise ConfigError(f"{name}={v!r} must be a positive integer", fix=f"e.g. {name}=4")
        for name, v in (("remix", remix), ("channel_swap", channel_swap)):
            if not 0 <= v <= 1:
                raise ConfigError(f"{name}={v!r} must be a probability in [0, 1]", fix=f"e.g. {name}=0.5")
        lo, hi = (float(g) for g in gain)
        if not 0 <= lo <= hi:
            raise ConfigError(f"gain={gain!r} must be (low, high) with 0 <= low <= high", fix="e.g. gain=(0.25, 1.25)")
        self.cache = cache
        self.chunk, self.batch_size = int(chunk), int(batch_size)
        self.remix, self.channel_swap, self.gain = float(remix), float(channel_swap), (lo, hi)
        self.rng = np.random.default_rng(seed)

    def _take(self, i: int, k: int, off: int) -> np.ndarray:
        x = self.cache.sources(i)[k, :, off:off + self.chunk]
        if x.shape[-1] < self.chunk:
            x = np.pad(x, ((0, 0), (0, self.chunk - x.shape[-1])))
        return x

    def _offset(self, i: int) -> int:
        return int(self.rng.integers(0, max(0, int(self.cache.lengths[i]) - self.chunk) + 1))

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        """One batch: ``(mix (B, C, chunk), sources (B, S, C, chunk))`` float32, ``mix == sources.sum(1)``."""
        n, s_count = len(self.cache), len(self.cache.stems)
        c = self.cache.channels
        src = np.empty((self.batch_size, s_count, c, self.chunk), dtype=np.float32)
        for b in range(self.batch_size):
            if self.rng.random() < self.remix:
                songs = self.rng.choice(n, s_count, replace=n < s_count)
                offs = [self._offset(int(i)) for i in songs]
            else:
                i = int(self.rng.integers(n))
                songs, offs = [i] * s_count, [self._offset(i)] * s_count
            gains = self.rng.uniform(self.gain[0], self.gain[1], size=s_count).astype(np.float32)
            swaps = self.rng.random(s_count) < self.channel_swap
            for k in range(s_count):
                x = self._take(int(songs[k]), k, offs[k])
                if swaps[k] and c == 2:
                    x = x[::-1]
                src[b, k] = x * gains[k]
        return src.sum(axis=1), src
