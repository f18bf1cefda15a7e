"""Dataset layouts: how a folder on disk becomes a list of :class:`~auricle.datasets.Item`.

A layout is a function ``(root: Path, **options) -> list[Item]`` (or a :class:`LayoutResult`
when it also has warnings or background-noise files) registered with :func:`register_layout`
together with a ``detect(root) -> bool`` function.  :func:`detect_layout` tries the specific
layouts in registration order and falls back to ``folder``.

Built-in layouts
----------------
``folder``          ``ROOT/<class>/**/*.wav`` (or pre-split ``ROOT/{train,val,test}/<class>/...``)
``speech_commands`` Google Speech Commands: word folders + ``validation_list.txt``/``testing_list.txt``
``fsdd``            Free Spoken Digit Dataset: ``[recordings/]{digit}_{speaker}_{index}.wav``
``esc50``           ESC-50: ``meta/esc50.csv`` + ``audio/``; folds give the splits
``gtzan``           GTZAN: ``genres_original/<genre>/*.wav`` (or ``genres/<genre>/*.au``)
``cremad``          CREMA-D: ``AudioWAV/{actor}_{sentence}_{emotion}_{level}.wav``
``manifest``        a CSV ``path,label[,group][,split][,extra...]``

Adding a layout
---------------
::

    from auricle.datasets import Item, register_layout

    @register_layout("my_layout", detect=lambda root: (root / "MY_MARKER").is_file(),
                     structure="ROOT/MY_MARKER + ROOT/<label>__<speaker>.wav")
    def my_layout(root, *, sep="__"):
        # the docstring's first line is the layout's description
        items = []
        for p in sorted(root.glob("*.wav")):
            label, _, speaker = p.stem.partition(sep)
            items.append(Item(str(p), label, speaker or str(p)))
        return items
"""
from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from auricle.audio import AUDIO_EXTENSIONS
from auricle.datasets._util import audio_files, is_audio_name, preview, subdirs
from auricle.datasets.base import _SPLIT_ALIASES, Item, normalize_split
from auricle.errors import DatasetError


@dataclass
class LayoutResult:
    """What a layout may return instead of a bare item list."""
    items: list[Item]
    warnings: list[str] = field(default_factory=list)
    background: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Layout:
    name: str
    fn: Callable[..., "list[Item] | LayoutResult"]
    detect: Callable[[Path], bool]
    structure: str = ""
    fallback: bool = False

    @property
    def description(self) -> str:
        doc = (self.fn.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


#: Registered layouts by name, in registration (= detection) order.
LAYOUTS: dict[str, Layout] = {}


def register_layout(name: str, *, detect: Callable[[Path], bool], structure: str = "",
                    fallback: bool = False):
    """Decorator registering ``fn(root: Path, **options)`` as layout ``name``.

    ``detect(root)`` must be cheap (look at a few names, never decode audio) and must
    return False for roots it does not understand, including a file root.
    ``structure`` is a one-line description of the expected files, used in error messages.
    ``fallback=True`` marks the layout used when nothing else is detected.
    """
    if not name or name == "auto":
        raise ValueError(f"invalid layout name {name!r}")

    def deco(fn):
        LAYOUTS[name] = Layout(name, fn, detect, structure, fallback)
        return fn
    return deco


def detect_layout(root: str | Path) -> str:
    """Name of the layout of ``root``: the first specific layout whose ``detect`` says yes,
    otherwise the fallback (``folder``)."""
    root = Path(root)
    for lay in LAYOUTS.values():
        if lay.fallback:
            continue
        try:
            if lay.detect(root):
                return lay.name
        except OSError:
            continue
    for lay in LAYOUTS.values():
        if lay.fallback:
            return lay.name
    raise DatasetError("no layout matches and no fallback layout is registered", path=root)


# --------------------------------------------------------------------------- helpers

def _matching_fraction(files: list[Path], rx: re.Pattern, check=None) -> float:
    if not files:
        return 0.0
    ok = 0
    for p in files:
        m = rx.match(p.stem)
        if m and (check is None or check(m)):
            ok += 1
    return ok / len(files)


def _read_csv(path: Path, required: list[str], *, what: str) -> tuple[list[str], list[tuple[int, dict]]]:
    """Rows of a CSV as ``(line_number, row)``, header keys stripped; checks required columns."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            rows = []
            for row in reader:
                clean = {(k or "").strip(): (v.strip() if isinstance(v, str) else "")
                         for k, v in row.items() if k is not None}
                if not any(clean.values()):
                    continue
                rows.append((reader.line_num, clean))
    except UnicodeDecodeError:
        raise DatasetError(f"{what} is not a UTF-8 text CSV", path=path,
                           fix="save it as UTF-8 CSV") from None
    except csv.Error as exc:
        raise DatasetError(f"{what} is not a valid CSV ({exc})", path=path, fix="fix the CSV syntax") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise DatasetError(f"{what} lacks column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'})",
                           path=path, fix=f"the header row must name at least: {', '.join(required)}")
    return header, rows


def _missing_files_error(missing: list[tuple[int, str]], *, path: Path, what: str, base: Path) -> DatasetError:
    shown = "; ".join(f"line {n}: {p}" for n, p in missing[:5])
    more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
    return DatasetError(f"{len(missing)} file(s) named in {what} do not exist: {shown}{more}", path=path,
                        fix=f"fix those paths (relative paths are resolved against {base}) or remove the rows")


# --------------------------------------------------------------------------- manifest

def _manifest_path(root: Path) -> Path:
    return root if root.is_file() else root / "manifest.csv"


def _detect_manifest(root: Path) -> bool:
    if root.is_file():
        return root.suffix.lower() == ".csv"
    return (root / "manifest.csv").is_file()


@register_layout("manifest", detect=_detect_manifest,
                 structure="a CSV (or ROOT/manifest.csv) with columns path,label[,group][,split]")
def manifest_layout(root: Path, *, path_column: str = "path", label_column: str = "label",
                    group_column: str = "group", split_column: str = "split") -> LayoutResult:
    """CSV manifest: ``path,label[,group][,split]``; other columns go to ``Item.extra``.

    Relative paths resolve against the CSV's folder.  ``split`` accepts train/val/valid/
    validation/dev/test (empty = let :func:`split` decide).  A missing ``group`` uses the path.
    """
    csv_path = _manifest_path(root)
    if not csv_path.is_file():
        raise DatasetError("manifest CSV not found", path=csv_path,
                           fix="pass the CSV file itself, or a folder holding manifest.csv")
    header, rows = _read_csv(csv_path, [path_column, label_column], what="the manifest")
    base = csv_path.parent
    special = {path_column, label_column, group_column, split_column}
    items: list[Item] = []
    missing: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    dupes: list[str] = []
    for line, row in rows:
        raw = row.get(path_column, "")
        label = row.get(label_column, "")
        if not raw:
            raise DatasetError(f"line {line}: empty '{path_column}'", path=csv_path, fix="fill in the path or remove the row")
        if not label:
            raise DatasetError(f"line {line}: empty '{label_column}' for {raw}", path=csv_path,
                               fix="fill in the label or remove the row")
        p = Path(raw).expanduser()
        if not p.is_absolute():
            p = Path(os.path.normpath(base / p))
        if not p.is_file():
            missing.append((line, raw))
            continue
        try:
            sp = normalize_split(row.get(split_column))
        except ValueError as exc:
            raise DatasetError(f"line {line}: {exc}", path=csv_path, fix="use train, val or test") from None
        key = str(p)
        if key in seen:
            dupes.append(f"line {line} repeats line {seen[key]} ({raw})")
        seen.setdefault(key, line)
        extra = {k: v for k, v in row.items() if k not in special}
        items.append(Item(key, label, row.get(group_column) or key, sp, extra))
    if missing:
        raise _missing_files_error(missing, path=csv_path, what="the manifest", base=base)
    warnings = [f"manifest lists {len(dupes)} file(s) more than once: {preview(dupes, 3)}"] if dupes else []
    return LayoutResult(items, warnings)


# --------------------------------------------------------------------------- esc50

def _detect_esc50(root: Path) -> bool:
    return root.is_dir() and (root / "meta" / "esc50.csv").is_file()


@register_layout("esc50", detect=_detect_esc50,
                 structure="ROOT/meta/esc50.csv + ROOT/audio/*.wav (the ESC-50 repository)")
def esc50_layout(root: Path, *, test_fold: int | None = 5, val_fold: int | None = 4,
                 esc10: bool = False) -> list[Item]:
    """ESC-50: label = category, group = src_file (source recording), splits from folds.

    ``test_fold``/``val_fold`` (default 5 and 4) pick the test and validation folds; the other
    folds are train.  With ``val_fold=None`` (or ``test_fold=None``) the remaining folds are left
    unassigned so :func:`split` can carve that split group-disjointly.  ``esc10=True`` keeps the
    ESC-10 subset.
    """
    csv_path = root / "meta" / "esc50.csv"
    _, rows = _read_csv(csv_path, ["filename", "fold", "category", "src_file"], what="esc50.csv")
    folds = set()
    for line, row in rows:
        try:
            row["fold"] = int(row["fold"])
        except ValueError:
            raise DatasetError(f"line {line}: fold {row['fold']!r} is not an integer", path=csv_path,
                               fix="restore the original esc50.csv") from None
        folds.add(row["fold"])
    for name, f in (("test_fold", test_fold), ("val_fold", val_fold)):
        if f is not None and f not in folds:
            raise DatasetError(f"{name}={f} is not a fold in esc50.csv (folds: {', '.join(map(str, sorted(folds)))})",
                               fix=f"pick {name} among those folds, or None")
    if test_fold is not None and test_fold == val_fold:
        raise DatasetError(f"test_fold and val_fold are both {test_fold}", fix="use two different folds")
    rest = "train" if (test_fold is not None and val_fold is not None) else None
    items: list[Item] = []
    missing: list[tuple[int, str]] = []
    for line, row in rows:
        is10 = row.get("esc10", "").lower() in ("true", "1", "yes")
        if esc10 and not is10:
            continue
        p = root / "audio" / row["filename"]
        if not p.is_file():
            missing.append((line, f"audio/{row['filename']}"))
            continue
        fold = row["fold"]
        sp = "test" if fold == test_fold else "val" if fold == val_fold else rest
        extra = {"fold": fold, "esc10": is10}
        for k in ("target", "take"):
            if k in row:
                extra[k] = int(row[k]) if k == "target" and row[k].isdigit() else row[k]
        items.append(Item(str(p), row["category"], row["src_file"] or str(p), sp, extra))
    if missing:
        raise _missing_files_error(missing, path=csv_path, what="esc50.csv", base=root)
    return items


# --------------------------------------------------------------------------- speech commands

_SC_LISTS = (("validation_list.txt", "val"), ("testing_list.txt", "test"))
_SC_NOISE = "_background_noise_"


def _detect_speech_commands(root: Path) -> bool:
    return root.is_dir() and (any((root / n).is_file() for n, _ in _SC_LISTS) or (root / _SC_NOISE).is_dir())


@register_layout("speech_commands", detect=_detect_speech_commands,
                 structure="ROOT/<word>/<speaker>_nohash_<n>.wav + validation_list.txt, testing_list.txt")
def speech_commands_layout(root: Path, *, words: list[str] | None = None,
                           unknown: str | None = None) -> LayoutResult:
    """Google Speech Commands: label = word folder, group = speaker (name before ``_nohash_``).

    ``validation_list.txt``/``testing_list.txt`` give val/test, the rest is train (with
    neither list present splits are left to :func:`split`).  ``_background_noise_`` files go to
    ``Dataset.background``.  ``words=[...]`` keeps those words; with ``unknown="_unknown_"`` the
    other words are relabelled to it instead of dropped.
    """
    items: list[Item] = []
    by_rel: dict[str, Item] = {}
    for d in subdirs(root):
        if d.name.startswith("_"):
            continue
        for p in audio_files(d):
            stem = p.stem
            speaker, _, rest = stem.partition("_nohash_")
            extra = {"utterance": int(rest)} if rest.isdigit() else {}
            it = Item(str(p), d.name, speaker, None, extra)  # no _nohash_: speaker = whole stem
            items.append(it)
            by_rel[p.relative_to(root).as_posix()] = it
    background = [str(p) for p in audio_files(root / _SC_NOISE)]
    lists = [(root / n, s) for n, s in _SC_LISTS if (root / n).is_file()]
    if lists:
        for it in items:
            it.split = "train"
    for list_path, sp in lists:
        text = list_path.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            rel = line.strip().replace("\\", "/")
            if rel.startswith("./"):
                rel = rel[2:]
            if not rel:
                continue
            it = by_rel.get(rel)
            if it is None:
                if (root / rel).exists():
                    continue  # a non-word folder (e.g. _background_noise_) or non-audio file
                raise DatasetError(f"line {n} names {rel!r}, which does not exist in {root}", path=list_path,
                                   fix="restore the missing file, or delete that line from the list")
            if it.split in ("val", "test") and it.split != sp:
                raise DatasetError(f"line {n}: {rel!r} is in both validation_list.txt and testing_list.txt",
                                   path=list_path, fix="keep it in only one list")
            it.split = sp
    warnings: list[str] = []
    if words is not None:
        words = [words] if isinstance(words, str) else list(words)
        have = {it.label for it in items}
        absent = [w for w in words if w not in have]
        if absent:
            raise DatasetError(f"word(s) {', '.join(map(repr, absent))} not found", path=root,
                               fix=f"choose among: {preview(sorted(have), 40)}")
        keep = set(words)
        if unknown is not None:
            for it in items:
                if it.label not in keep:
                    it.extra["word"] = it.label
                    it.label = unknown
        else:
            items = [it for it in items if it.label in keep]
    return LayoutResult(items, warnings, background)


# --------------------------------------------------------------------------- gtzan

GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
_GTZAN_DIRS = ("genres_original", "genres")
_GTZAN_EXTS = (*AUDIO_EXTENSIONS, ".au")


def _gtzan_dir(root: Path) -> Path:
    for sub in _GTZAN_DIRS:
        if (root / sub).is_dir():
            return root / sub
    return root


def _detect_gtzan(root: Path) -> bool:
    if not root.is_dir():
        return False
    d = _gtzan_dir(root)
    present = {p.name for p in subdirs(d)} & set(GTZAN_GENRES)
    if d != root or root.name in _GTZAN_DIRS:
        return len(present) >= 2
    return len(present) == len(GTZAN_GENRES)


@register_layout("gtzan", detect=_detect_gtzan,
                 structure="ROOT/genres_original/<genre>/*.wav (or ROOT/<genre>/*.wav with all 10 genres)")
def gtzan_layout(root: Path) -> LayoutResult:
    """GTZAN genres: label = genre folder, group = the file (one source per file).

    Accepts ``genres_original/`` (Kaggle), ``genres/`` with ``.au`` files (original), or the genre
    folders directly in ROOT.  GTZAN has no artist ids, so artist-level leakage is not prevented.
    """
    d = _gtzan_dir(root)
    items: list[Item] = []
    warnings: list[str] = []
    for g in subdirs(d):
        files = audio_files(g, exts=_GTZAN_EXTS)
        if not files:
            warnings.append(f"folder {g.name!r} holds no audio files; not used as a genre")
        items.extend(Item(str(p), g.name, str(p)) for p in files)
    return LayoutResult(items, warnings)


# --------------------------------------------------------------------------- cremad

CREMAD_EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
_CREMAD_RX = re.compile(r"^(\d+)_([A-Za-z0-9]+)_([A-Za-z]{3})_([A-Za-z0-9]+)$")


def _cremad_dir(root: Path) -> Path:
    return root / "AudioWAV" if (root / "AudioWAV").is_dir() else root


def _detect_cremad(root: Path) -> bool:
    if not root.is_dir():
        return False
    files = audio_files(_cremad_dir(root), recursive=False)
    return _matching_fraction(files, _CREMAD_RX, lambda m: m.group(3).upper() in CREMAD_EMOTIONS) >= 0.9


@register_layout("cremad", detect=_detect_cremad,
                 structure="ROOT/AudioWAV/{actor}_{sentence}_{emotion}_{level}.wav, e.g. 1001_DFA_ANG_XX.wav")
def cremad_layout(root: Path) -> LayoutResult:
    """CREMA-D: label = emotion (anger, disgust, fear, happy, neutral, sad), group = actor."""
    items: list[Item] = []
    bad: list[str] = []
    for p in audio_files(_cremad_dir(root), recursive=False):
        m = _CREMAD_RX.match(p.stem)
        emo = m.group(3).upper() if m else None
        if emo not in CREMAD_EMOTIONS:
            bad.append(p.name)
            continue
        items.append(Item(str(p), CREMAD_EMOTIONS[emo], m.group(1), None,
                          {"sentence": m.group(2), "level": m.group(4)}))
    warnings = [f"skipped {len(bad)} file(s) not named actor_sentence_emotion_level "
                f"with emotion in {'/'.join(CREMAD_EMOTIONS)}: {preview(bad)}"] if bad else []
    return LayoutResult(items, warnings)


# --------------------------------------------------------------------------- fsdd

_FSDD_RX = re.compile(r"^(\d)_([A-Za-z0-9\-]+)_(\d+)$")


def _fsdd_dir(root: Path) -> Path:
    return root / "recordings" if (root / "recordings").is_dir() else root


def _detect_fsdd(root: Path) -> bool:
    if not root.is_dir():
        return False
    return _matching_fraction(audio_files(_fsdd_dir(root), recursive=False), _FSDD_RX) >= 0.9


@register_layout("fsdd", detect=_detect_fsdd,
                 structure="ROOT/[recordings/]{digit}_{speaker}_{index}.wav, e.g. 7_jackson_32.wav")
def fsdd_layout(root: Path, *, official_split: bool = False) -> LayoutResult:
    """Free Spoken Digit Dataset: label = digit, group = speaker.

    ``official_split=True`` applies the README's split (index 0-4 test, the rest train); it is
    *not* speaker-disjoint.  By default splits are left to :func:`split`.
    """
    items: list[Item] = []
    bad: list[str] = []
    for p in audio_files(_fsdd_dir(root), recursive=False):
        m = _FSDD_RX.match(p.stem)
        if not m:
            bad.append(p.name)
            continue
        idx = int(m.group(3))
        sp = ("test" if idx < 5 else "train") if official_split else None
        items.append(Item(str(p), m.group(1), m.group(2), sp, {"index": idx}))
    warnings = [f"skipped {len(bad)} file(s) not named digit_speaker_index: {preview(bad)}"] if bad else []
    return LayoutResult(items, warnings)


# --------------------------------------------------------------------------- folder (fallback)

def _has_audio(folder: Path) -> bool:
    for _, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if any(is_audio_name(f) for f in filenames):
            return True
    return False


def _detect_folder(root: Path) -> bool:
    return root.is_dir() and any(_has_audio(d) for d in subdirs(root))


def _group_fn(group_regex: str | None):
    if group_regex is None:
        return None
    try:
        rx = re.compile(group_regex)
    except re.error as exc:
        raise DatasetError(f"group_regex {group_regex!r} is not a valid regular expression ({exc})",
                           fix="e.g. group_regex=r'^([^_]+)_' takes the file name up to the first underscore") from None

    def fn(name: str) -> str | None:
        m = rx.search(name)
        if not m:
            return None
        if "group" in rx.groupindex:
            return m.group("group")
        return m.group(1) if rx.groups else m.group(0)
    return fn


@register_layout("folder", detect=_detect_folder, fallback=True,
                 structure="ROOT/<class>/*.wav (one subfolder per class), or ROOT/{train,val,test}/<class>/*.wav")
def folder_layout(root: Path, *, group_regex: str | None = None) -> LayoutResult:
    """One subfolder per class (files found recursively).  A top level made only of
    ``train``/``val``/``test`` folders is read as pre-split.

    Each file is its own group unless ``group_regex`` is given: it is searched in the file
    name and the named group ``group`` (else the first group, else the whole match) is the
    group id, e.g. ``r"^([^_]+)_"`` for ``speaker_001.wav``.
    """
    gfn = _group_fn(group_regex)
    warnings: list[str] = []
    unmatched: list[str] = []
    items: list[Item] = []

    def read_classes(base: Path, split: str | None) -> None:
        for d in subdirs(base):
            files = audio_files(d)
            if not files:
                warnings.append(f"folder {d.relative_to(root).as_posix()!r} holds no audio files; not used as a class")
                continue
            for p in files:
                group = str(p)
                if gfn is not None:
                    g = gfn(p.name)
                    if g:
                        group = g
                    else:
                        unmatched.append(p.name)
                items.append(Item(str(p), d.name, group, split))
        loose = audio_files(base, recursive=False)
        if loose:
            warnings.append(f"ignored {len(loose)} audio file(s) directly in {base} (not in a class folder): "
                            f"{preview(p.name for p in loose)}")

    tops = subdirs(root)
    presplit = bool(tops) and all(d.name.lower() in _SPLIT_ALIASES for d in tops) and any(subdirs(d) for d in tops)
    if presplit:
        for d in tops:
            read_classes(d, normalize_split(d.name))
    else:
        read_classes(root, None)
    if not items:
        loose = audio_files(root, recursive=False)
        if loose:
            raise DatasetError(f"found {len(loose)} audio file(s) directly in the folder but no class subfolders",
                               path=root, fix="move them into one subfolder per class (ROOT/<class>/file.wav), "
                                              "or describe them in a manifest CSV (path,label)")
    if unmatched:
        warnings.append(f"group_regex {group_regex!r} did not match {len(unmatched)} file name(s) "
                        f"(each is its own group): {preview(unmatched)}")
    return LayoutResult(items, warnings)
