"""Small helpers shared by the dataset modules (file walking, progress, short lists)."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from auricle.audio import AUDIO_EXTENSIONS

T = TypeVar("T")


def is_audio_name(name: str, exts: Sequence[str] = AUDIO_EXTENSIONS) -> bool:
    """An audio extension, and not a hidden file (this also skips macOS ``._x.wav`` files)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in exts


def audio_files(folder: Path, *, recursive: bool = True,
                exts: Sequence[str] = AUDIO_EXTENSIONS) -> list[Path]:
    """Audio files under ``folder`` in a deterministic order, skipping hidden files and folders."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    if not recursive:
        return [folder / n for n in sorted(os.listdir(folder))
                if is_audio_name(n, exts) and (folder / n).is_file()]
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        base = Path(dirpath)
        out.extend(base / f for f in sorted(filenames) if is_audio_name(f, exts))
    return out


def subdirs(folder: Path) -> list[Path]:
    """Non-hidden sub-folders, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))


def preview(values: Iterable[object], n: int = 5) -> str:
    """``"a, b, c"`` or ``"a, b, c, ... (12 in all)"``."""
    values = list(values)
    head = ", ".join(str(v) for v in values[:n])
    return head if len(values) <= n else f"{head}, ... ({len(values)} in all)"


def progress_iter(iterable: Iterable[T], *, total: int, description: str, enabled: bool) -> Iterator[T]:
    """Iterate with a transient rich progress bar (on stderr) when ``enabled``."""
    if not enabled or total == 0:
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for x in iterable:
            yield x
            bar.advance(task)
