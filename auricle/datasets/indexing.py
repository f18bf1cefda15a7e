""":func:`index`: turn a dataset folder (or manifest CSV) into a :class:`Dataset`."""
from __future__ import annotations

import inspect
import os
from pathlib import Path

from auricle.audio import AUDIO_EXTENSIONS, info
from auricle.datasets._util import preview, progress_iter
from auricle.datasets.base import Dataset, Item
from auricle.datasets.layouts import LAYOUTS, Layout, LayoutResult, detect_layout
from auricle.errors import AudioError, DatasetError


def index(root: str | Path, *, layout: str = "auto", strict: bool = False, check_audio: bool = False,
          progress: bool = False, min_classes: int = 2, **options) -> Dataset:
    """Index a dataset folder (or manifest CSV) into a :class:`Dataset`.

    Parameters
    ----------
    root : str or Path
        Dataset folder, or a manifest CSV.
    layout : str
        ``"auto"`` (detect) or a name in :data:`LAYOUTS` (folder, speech_commands, fsdd, esc50,
        gtzan, cremad, manifest).
    strict : bool
        With ``check_audio``: raise on the first unreadable file instead of skipping it.
    check_audio : bool
        Read every file's header; unreadable or 0-sample files are dropped with a warning.
    progress : bool
        Show a progress bar while checking audio headers.
    min_classes : int
        Fewest classes accepted (2 for training; 1 suits an evaluation set of one class).
    **options
        Layout options, e.g. ``group_regex`` (folder), ``test_fold``/``val_fold`` (esc50),
        ``words``/``unknown`` (speech_commands).

    Raises
    ------
    DatasetError
        Missing folder, unknown layout or option, no audio files, fewer than two classes,
        a list/manifest naming missing files, or (strict) an unreadable file.
    """
    if root is None or str(root).strip() == "":
        raise DatasetError("no dataset folder given", fix="pass the path of the dataset folder or manifest CSV")
    root_p = Path(os.path.abspath(os.path.expanduser(str(root))))
    if not root_p.exists():
        parent = root_p.parent
        hint = "" if parent.is_dir() else f" (its parent folder {parent} does not exist either)"
        raise DatasetError(f"dataset folder not found{hint}", path=root_p,
                           fix="check the path; it should be a folder with one subfolder per class, "
                               "a known dataset folder (speech_commands, fsdd, esc50, gtzan, cremad) or a manifest CSV")
    if layout in (None, "", "auto"):
        name = detect_layout(root_p)
    elif layout in LAYOUTS:
        name = layout
    else:
        raise DatasetError(f"unknown layout {layout!r}", fix=f"use one of: auto, {', '.join(LAYOUTS)}")
    spec = LAYOUTS[name]
    if root_p.is_file() and name != "manifest":
        raise DatasetError(f"expected a dataset folder for layout {name!r}, got a file", path=root_p,
                           fix="pass the dataset folder, or a manifest CSV (columns path,label[,group][,split])")
    _check_options(spec, options)

    result = spec.fn(root_p, **options)
    if not isinstance(result, LayoutResult):
        result = LayoutResult(list(result))
    items, warnings = list(result.items), list(result.warnings)
    if not items:
        raise DatasetError(f"no audio files found with layout {name!r} (searched for {', '.join(AUDIO_EXTENSIONS)})",
                           path=root_p, fix=f"expected {spec.structure}" if spec.structure else
                           "check the folder holds audio files")
    if check_audio:
        items = _check_audio(items, strict=strict, warnings=warnings, progress=progress)
        if not items:
            raise DatasetError("none of the audio files could be read", path=root_p,
                               fix="see the skipped files above; re-export them as wav/flac")
    labels = sorted({it.label for it in items})
    if len(labels) < min_classes:
        raise DatasetError(f"need at least {min_classes} classes, found only {', '.join(map(repr, labels))} in {root_p}",
                           fix=f"a classifier needs two or more classes; layout {name!r} expects {spec.structure}")
    return Dataset(str(root_p), name, items, labels, warnings, list(result.background))


def _check_options(spec: Layout, options: dict) -> None:
    params = inspect.signature(spec.fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise DatasetError(f"unknown option(s) {', '.join(map(repr, unknown))} for layout {spec.name!r}",
                           fix=f"layout {spec.name!r} accepts: {', '.join(allowed) or 'no options'}")


def _check_audio(items: list[Item], *, strict: bool, warnings: list[str], progress: bool) -> list[Item]:
    good: list[Item] = []
    bad: list[str] = []
    for it in progress_iter(items, total=len(items), description="checking audio", enabled=progress):
        try:
            i = info(it.path)
            if i.frames <= 0:
                raise AudioError("file holds no samples (0-length audio)", path=it.path, fix="remove it or re-record it")
        except AudioError as exc:
            if strict:
                raise DatasetError(f"unreadable audio file ({exc.message})", path=it.path,
                                   fix="re-export or remove it, or index with strict=False to skip unreadable files") from None
            bad.append(f"{it.path} ({exc.message})")
            continue
        good.append(it)
    if bad:
        warnings.append(f"skipped {len(bad)} unreadable audio file(s): {preview(bad, 5)}")
    return good
