"""The run directory on disk: create / refuse / resume it, write files atomically, history.csv.

The layout is described in :mod:`auricle.training`.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from auricle.errors import RunError

#: The checkpoint's bookkeeping (epoch, best epoch, patience, history) next to ``checkpoint/model.keras``.
STATE_FILE = "state.json"


def prepare_run_dir(run_dir: Path, *, overwrite: bool, resume: bool) -> None:
    """Make ``run_dir`` ready: an existing run is kept for ``resume``, replaced only with
    ``overwrite`` (and only when it is an auricle run), else refused with a :class:`RunError`."""
    if resume:
        if not (run_dir / "config.yaml").exists():
            raise RunError("no run to resume here (config.yaml missing)", path=run_dir,
                           fix="pass the run directory of an earlier `auricle train`")
        return
    if run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise RunError("run directory already exists", path=run_dir,
                           fix="choose another --out, pass --overwrite to replace it, or --resume to continue it")
        if not (run_dir / "config.yaml").exists():
            # never delete a folder we did not create
            raise RunError("refusing to overwrite a folder that is not an auricle run", path=run_dir,
                           fix="choose an empty or new output directory")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_model(model, path: Path) -> None:
    """``model.save`` through a temporary name and a rename: a reader never sees half a file."""
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(str(tmp))
    os.replace(tmp, path)


def write_history(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    keys = ["epoch"] + sorted({k for r in rows for k in r} - {"epoch"})
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
    _atomic_write(path, "\n".join(lines) + "\n")
