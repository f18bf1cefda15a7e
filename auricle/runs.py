"""Run directories: the file helpers every kind of run shares, and the loaded-run record.

A run directory is the unit of work (see ``docs/ARCHITECTURE.md``): classification runs
(:mod:`auricle.training`, :mod:`auricle.classic`, ensembles), separation runs
(:mod:`auricle.separation.training`) and evaluation all write their small files through
:func:`atomic_write` / :func:`write_json` (a reader never sees half a file) and read
``history.csv`` back with :func:`read_history`.  :class:`Run` is what
:func:`auricle.inference.load_run` (and :func:`auricle.classic.load_classic`) return.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Run", "atomic_write", "read_history", "write_json"]


@dataclass
class Run:
    """A trained model with everything needed to feed it, as read from its run directory."""

    path: Path
    config: object
    labels: list[str]
    feature_config: object
    crop: str
    window_hop: float | None
    model: object
    silence: dict | None = None
    variable_length: bool = False
    silence_frames: dict | None = None  # data.silence_frames ({mode, vad_db}): framewise model, see datasets/silence.py
    member: Any = None  # train.fuse: the classic member on whole recordings (auricle.fusion.FusionMember)


def atomic_write(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    Parameters
    ----------
    path : path-like
        File to (re)write; ``path`` + ``.tmp`` is used on the way.
    text : str
        The whole new content.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "labels.json"
    >>> atomic_write(p, '["no", "yes"]')
    >>> p.read_text()
    '["no", "yes"]'
    """
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: str | os.PathLike, obj: Any, *, indent: int = 1) -> None:
    """:func:`atomic_write` of ``obj`` as JSON (``indent=1``, as every run file is written).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "metrics.json"
    >>> write_json(p, {"accuracy": 0.5})
    >>> json.loads(p.read_text())
    {'accuracy': 0.5}
    """
    atomic_write(path, json.dumps(obj, indent=indent))


def read_history(path: str | os.PathLike) -> list[dict]:
    """Rows of a ``history.csv`` as dicts of floats (empty cells -> None); ``[]`` when missing.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "history.csv"
    >>> _ = p.write_text("epoch,loss,val_loss\\n0,1.5,\\n1,0.5,0.75\\n")
    >>> read_history(p)
    [{'epoch': 0.0, 'loss': 1.5, 'val_loss': None}, {'epoch': 1.0, 'loss': 0.5, 'val_loss': 0.75}]
    """
    path = Path(path)
    if not path.exists():
        return []
    rows = path.read_text().strip().splitlines()
    keys = rows[0].split(",")
    return [{k: (float(v) if v not in ("",) else None) for k, v in zip(keys, r.split(","))} for r in rows[1:]]
