"""Dataset feature cache: decode + featurize a list of files once, memory-map it afterwards.

>>> from auricle.features import preset                                     # doctest: +SKIP
>>> fs = cached_features(paths, preset("kws"), cache_dir=".cache/features")  # doctest: +SKIP
>>> fs.features.shape, fs.file_index.shape, fs.cache_hit                     # doctest: +SKIP
((2000, 101, 40), (2000,), False)

* :func:`load_clips` - decode, resample and crop/pad files to ``(N, n_samples)`` float32.
* :func:`cached_features` - features of every file (or of every window of long files), stored
  under ``<cache_dir>/<key>/`` as ``features.npy`` + ``file_index.npy`` + ``meta.json`` and
  opened with ``mmap_mode="r"`` on later calls.

The cache key hashes the paths, each file's size and mtime, the feature config, the crop policy,
the window hop and :data:`CACHE_VERSION`, so editing a file or a setting gives a new entry.
Entries are written to a temporary folder and renamed into place, so an interrupted run never
leaves a half-written entry behind.

Work is spread over ``workers`` processes (a process pool; each worker decodes and featurizes
a chunk of files, BLAS single-threaded; see :data:`START_METHOD`); ``workers=1`` runs in this
process.  The worker functions are module-level, so the pool works under ``spawn`` and
``forkserver`` too (scripts then need the usual ``if __name__ == "__main__":`` guard; without
it the workers cannot start and the work falls back to this process with a warning).

Files that fail to decode are skipped and reported as ``(path, reason)``; ``strict=True``
raises the first failure as :class:`~auricle.errors.AudioError` instead.
"""
from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import shutil
import struct
import sys
import time
import uuid
import warnings
import zlib
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from auricle.audio import LENGTH_POLICIES, fix_length, frame_windows, load, loud_windows, trim
from auricle.errors import AudioError, ConfigError
from auricle.features import FeatureConfig, extract

__all__ = ["CACHE_VERSION", "FeatureSet", "cache_key", "cached_features", "default_cache_dir", "load_clips"]

def default_cache_dir(cfg_dir: str | os.PathLike | None = None) -> Path:
    """The cache root: ``cfg_dir`` if given, else ``$AURICLE_CACHE``, else ``~/.cache/auricle``.

    Feature caches, generated ``_silence_`` clips, demo stems and separators live below it.

    Examples
    --------
    >>> default_cache_dir("/tmp/c").as_posix()
    '/tmp/c'
    """
    if cfg_dir:
        return Path(cfg_dir).expanduser()
    env = os.environ.get("AURICLE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "auricle"


#: Bump when the on-disk layout or the feature numerics change: old entries are then ignored.
CACHE_VERSION = 1

#: Rows featurized per :func:`auricle.features.extract` call inside a worker.
_ROWS_PER_BATCH = 512

#: Fixed size of the ``.npy`` header we write (so the shape can be filled in at the end).
_NPY_HEADER_BYTES = 128


@dataclass
class FeatureSet:
    """Features of a list of files.

    Attributes
    ----------
    features : np.ndarray
        ``(M, frames, bins)`` float32, time-major (a read-only ``np.memmap`` of the cache file).
    file_index : np.ndarray
        ``(M,)`` int64: row ``i`` comes from ``paths[file_index[i]]``.  Failed files have no rows.
    failures : list of (str, str)
        ``(path, reason)`` of every file that could not be decoded.
    cache_hit : bool
        True when the entry already existed and nothing was recomputed.
    path : Path or None
        The cache entry folder.
    """

    features: np.ndarray
    file_index: np.ndarray
    failures: list[tuple[str, str]] = field(default_factory=list)
    cache_hit: bool = False
    path: Path | None = None

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def take_labels(self, file_labels: Sequence[Any]) -> np.ndarray:
        """Per-row labels from per-file labels: ``np.asarray(file_labels)[file_index]``."""
        return np.asarray(file_labels)[self.file_index]


# --------------------------------------------------------------------------------------------
# reading files (runs in the workers)
# --------------------------------------------------------------------------------------------

def _file_rows(path: str, sr: int, n_samples: int, crop: str, hop: int | None,
               silence: dict | None = None) -> np.ndarray:
    """``(rows, n_samples)`` float32 clips of one file; raises AudioError.

    ``silence``: ``{"trim_db": x}`` trims leading/trailing silence before cropping/padding,
    ``{"drop_db": x}`` drops windows of long files more than x dB below the loudest window.
    """
    y = load(path, sr=sr)
    silence = silence or {}
    if silence.get("trim_db") is not None:
        y = trim(y, top_db=silence["trim_db"])
    if hop is not None and y.shape[-1] > n_samples:
        w = frame_windows(y, length=n_samples, hop=hop)
        if silence.get("drop_db") is not None:
            w = w[loud_windows(w, top_db=silence["drop_db"])]
        return w.astype(np.float32, copy=False)
    rng = np.random.default_rng(zlib.crc32(str(path).encode())) if crop == "random" else None
    return fix_length(y, length=n_samples, mode=crop, rng=rng)[None].astype(np.float32, copy=False)


def _failure(path: str, exc: AudioError) -> tuple[str, str, str | None]:
    return (str(path), exc.message, exc.fix)


def _reason(msg: str, fix: str | None) -> str:
    return f"{msg}. Fix: {fix}" if fix else msg


def _load_task(task: tuple) -> tuple[int, np.ndarray, list[tuple[str, str, str | None]]]:
    """Worker: decode a chunk of files to one fixed-length row each (zeros for failures)."""
    start, paths, sr, n_samples, crop, strict, silence = task
    out = np.zeros((len(paths), n_samples), dtype=np.float32)
    failures = []
    for i, p in enumerate(paths):
        try:
            out[i] = _file_rows(p, sr, n_samples, crop, None, silence)[0]
        except AudioError as exc:
            failures.append(_failure(p, exc))
            if strict:
                break
    return start, out, failures


def _feature_task(task: tuple) -> tuple[int, np.ndarray, np.ndarray, list[tuple[str, str, str | None]]]:
    """Worker: decode + featurize a chunk of files; returns (start, features, file_index, failures)."""
    start, paths, cfg_dict, crop, hop, strict, silence = task
    cfg = FeatureConfig.from_dict(cfg_dict)
    feats, index, failures = [], [], []
    pending, pending_idx = [], []

    def flush() -> None:
        if pending:
            feats.append(extract(cfg, np.concatenate(pending)))
            index.extend(pending_idx)
            pending.clear()
            pending_idx.clear()

    n_pending = 0
    for i, p in enumerate(paths):
        try:
            rows = _file_rows(p, cfg.sr, cfg.n_samples, crop, hop, silence)
        except AudioError as exc:
            failures.append(_failure(p, exc))
            if strict:
                break
            continue
        pending.append(rows)
        pending_idx.extend([start + i] * rows.shape[0])
        n_pending += rows.shape[0]
        if n_pending >= _ROWS_PER_BATCH:
            flush()
            n_pending = 0
    flush()
    bins = cfg.output_shape
    out = np.concatenate(feats) if feats else np.empty((0,) + bins, dtype=np.float32)
    return start, out, np.asarray(index, dtype=np.int64), failures


# --------------------------------------------------------------------------------------------
# running tasks in-process or in a pool, with progress
# --------------------------------------------------------------------------------------------

_BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def _single_threaded_env() -> Iterator[None]:
    """Children started inside inherit single-threaded BLAS settings (restored afterwards)."""
    old = {k: os.environ.get(k) for k in _BLAS_ENV}
    for k in _BLAS_ENV:
        os.environ[k] = "1"
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: Process start method: None picks ``fork`` on Linux when no thread-heavy framework
#: (TensorFlow, PyTorch, JAX) is loaded - instant, nothing re-imported - else ``forkserver``
#: (Linux) or ``spawn``.  The environment variable ``AURICLE_START_METHOD`` overrides it.
START_METHOD: str | None = None

_FORK_UNSAFE_MODULES = ("tensorflow", "torch", "jax")


def _init_worker() -> None:
    """Worker start-up: one BLAS thread per worker process (they already share the cores)."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # optional dependency (comes with scikit-learn); the env vars cover spawn
        pass


def _mp_context() -> multiprocessing.context.BaseContext:
    method = os.environ.get("AURICLE_START_METHOD") or START_METHOD
    methods = multiprocessing.get_all_start_methods()
    if method is None:
        if "fork" in methods and sys.platform.startswith("linux") \
                and not any(m in sys.modules for m in _FORK_UNSAFE_MODULES):
            method = "fork"
        elif "forkserver" in methods:
            method = "forkserver"
        else:
            method = "spawn"
    if method not in methods:
        raise ConfigError(f"process start method {method!r} is not available here",
                          fix=f"use one of {', '.join(methods)} (AURICLE_START_METHOD)")
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["auricle.datasets.cache"])
    return ctx


def _chunk_size(n: int) -> int:
    """Files per task: small enough for a smooth progress bar and load balance, big enough to
    batch features.  It depends on ``n`` only, so every ``workers`` value computes the same
    batches (results then differ only by BLAS threading round-off, ~1e-6 dB)."""
    return int(max(8, min(64, math.ceil(n / 16))))


def _run_tasks(fn, tasks: list[tuple], sizes: list[int], *, workers: int, progress: bool,
               description: str) -> Iterator[Any]:
    """Yield ``fn(task)`` results in order, in worker processes when ``workers > 1``.

    If the worker processes cannot start (typically a script without an
    ``if __name__ == "__main__":`` guard under spawn/forkserver), a warning is issued and the
    remaining tasks run in this process.
    """
    total = sum(sizes)
    bar = _Progress(total, description) if progress and total else None
    done = 0
    try:
        if workers > 1 and len(tasks) > 1:
            from concurrent.futures import ProcessPoolExecutor
            from concurrent.futures.process import BrokenProcessPool

            ex = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=_mp_context(),
                                     initializer=_init_worker)
            try:
                with _single_threaded_env():  # the workers start while map() submits the tasks
                    results = ex.map(fn, tasks)
                for result in results:
                    yield result
                    if bar:
                        bar.advance(sizes[done])
                    done += 1
            except BrokenProcessPool:
                warnings.warn("auricle: worker processes died or could not start; continuing in this "
                              "process. If you run a script, put its code under "
                              "`if __name__ == \"__main__\":` (needed by the spawn/forkserver start "
                              "methods), or pass workers=1.", RuntimeWarning, stacklevel=3)
            finally:
                ex.shutdown(wait=True, cancel_futures=True)
        for task, size in zip(tasks[done:], sizes[done:]):
            yield fn(task)
            if bar:
                bar.advance(size)
    finally:
        if bar:
            bar.close()


class _Progress:
    """A transient rich progress bar on stderr: files read, files/s, ETA."""

    def __init__(self, total: int, description: str):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        from rich.text import Text

        class _Rate(ProgressColumn):
            def render(self, task):  # noqa: D401 - rich API
                return Text(f"{task.speed:,.0f} files/s" if task.speed else "", style="progress.data.speed")

        self._p = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                           MofNCompleteColumn(), TextColumn("files"), _Rate(), TimeElapsedColumn(),
                           TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True),
                           transient=True)
        self._p.start()
        self._task = self._p.add_task(description, total=total)

    def advance(self, n: int) -> None:
        self._p.advance(self._task, n)

    def close(self) -> None:
        self._p.stop()


def _check_common(paths: Sequence[Any], crop: str, workers: Any) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        raise ConfigError("paths must be a list of files, got a single path",
                          fix="wrap it in a list, or index a folder with auricle.datasets.index")
    if crop not in LENGTH_POLICIES:
        raise ConfigError(f"unknown crop policy {crop!r}", fix=f"use one of {', '.join(LENGTH_POLICIES)}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers must be an int >= 1, got {workers!r}", fix="use workers=1 (in-process) or 2+")
    return [os.fspath(p) for p in paths]


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------

def load_clips(paths: Sequence[str | os.PathLike], *, sr: int, n_samples: int, crop: str = "center",
               strict: bool = False, workers: int = 2,
               progress: bool = True, silence: dict | None = None) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Decode files to fixed-length mono clips.

    Parameters
    ----------
    paths : sequence of path
        Audio files.
    sr : int
        Sample rate to resample to.
    n_samples : int
        Length of every clip (longer files are cropped, shorter ones zero-padded).
    crop : {"center", "start", "random"}
        Crop/pad policy (:func:`auricle.audio.fix_length`); ``random`` is seeded by the path,
        so it is reproducible.
    strict : bool
        Raise the first decoding failure instead of skipping the file.
    workers : int
        Processes; 1 = in this process.
    progress : bool
        Show a rich progress bar on stderr.

    Returns
    -------
    clips : np.ndarray
        ``(len(paths), n_samples)`` float32; the row of a failed file is all zeros.
    failures : list of (str, str)
        ``(path, reason)`` of each failed file.

    Raises
    ------
    AudioError
        With ``strict=True``, the first file that cannot be decoded.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> sf.write(os.path.join(d, "a.wav"), np.zeros(800, "float32"), 8000)
    >>> open(os.path.join(d, "bad.wav"), "wb").write(b"not audio")
    9
    >>> clips, failures = load_clips([os.path.join(d, "a.wav"), os.path.join(d, "bad.wav")],
    ...                              sr=16000, n_samples=16000, workers=1, progress=False)
    >>> clips.shape, [os.path.basename(p) for p, _ in failures]
    ((2, 16000), ['bad.wav'])
    """
    paths = _check_common(paths, crop, workers)
    sr = int(sr)
    n_samples = int(n_samples)
    if sr < 1 or n_samples < 1:
        raise ConfigError(f"sr and n_samples must be >= 1, got sr={sr}, n_samples={n_samples}",
                          fix="pass the target sample rate and clip length in samples")
    out = np.zeros((len(paths), n_samples), dtype=np.float32)
    cs = _chunk_size(len(paths))
    tasks = [(s, paths[s:s + cs], sr, n_samples, crop, strict, silence) for s in range(0, len(paths), cs)]
    failures: list[tuple[str, str]] = []
    with closing(_run_tasks(_load_task, tasks, [len(t[1]) for t in tasks], workers=workers,
                            progress=progress, description="reading audio")) as results:
        for start, clips, fails in results:
            out[start:start + len(clips)] = clips
            for p, msg, fix in fails:
                if strict:
                    raise AudioError(msg, path=p, fix=fix)
                failures.append((p, _reason(msg, fix)))
    return out, failures


def cache_key(paths: Sequence[str | os.PathLike], cfg: FeatureConfig, *, crop: str = "center",
              window_hop: float | None = None, silence: dict | None = None) -> str:
    """The cache entry name: sha1 of the paths, their size + mtime, the config, crop and hop.

    Examples
    --------
    >>> from auricle.features import preset
    >>> k = cache_key(["missing.wav"], preset("kws"))
    >>> len(k), k == cache_key(["missing.wav"], preset("kws")), k == cache_key(["missing.wav"], preset("seed"))
    (20, True, False)
    """
    files = []
    for p in paths:
        p = os.path.abspath(os.fspath(p))
        try:
            st = os.stat(p)
            files.append([p, st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([p, None, None])
    d = {"version": CACHE_VERSION, "files": files, "cfg": cfg.to_dict(), "crop": crop, "window_hop": window_hop}
    if silence:
        d["silence"] = silence
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def cached_features(paths: Sequence[str | os.PathLike], cfg: FeatureConfig, *, cache_dir: str | os.PathLike,
                    crop: str = "center", window_hop: float | None = None, strict: bool = False,
                    workers: int = 2, progress: bool = True, silence: dict | None = None) -> FeatureSet:
    """Features of every file (or every window of every file), computed once and cached.

    Parameters
    ----------
    paths : sequence of path
        Audio files, in the order ``file_index`` refers to.
    cfg : FeatureConfig
        Features to compute (:func:`auricle.features.preset`).
    cache_dir : path
        Folder holding cache entries (created if missing).
    crop : {"center", "start", "random"}
        How a file is fitted to ``cfg.duration`` when not windowed (``random`` is seeded by the
        path, so the cached crop is reproducible).
    silence : dict, optional
        ``{"trim_db": 40}`` trims leading/trailing silence (see :func:`auricle.audio.trim`) before
        the crop/pad; ``{"drop_db": 40}`` drops windows of long files that much below the loudest.
    window_hop : float or None
        ``None``: one row per file.  Seconds: a file longer than ``cfg.duration`` is cut into
        windows of ``cfg.duration`` every ``window_hop`` seconds (the last one zero-padded), one
        row each; shorter files give one row (cropped/padded with ``crop``).
    strict : bool
        Raise the first decoding failure instead of skipping the file.
    workers : int
        Processes; 1 = in this process.
    progress : bool
        Show a rich progress bar (files read, files/s, ETA) on stderr.

    Returns
    -------
    FeatureSet
        ``features`` ``(M, frames, bins)`` float32 read-only memmap, ``file_index`` ``(M,)``,
        ``failures``, ``cache_hit``.

    Raises
    ------
    AudioError
        With ``strict=True``, the first file that cannot be decoded.
    ConfigError
        Bad ``crop``, ``window_hop`` or ``workers``.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> from auricle.features import preset
    >>> d = tempfile.mkdtemp()
    >>> sf.write(os.path.join(d, "a.wav"), np.zeros(16000, "float32"), 16000)
    >>> fs = cached_features([os.path.join(d, "a.wav")], preset("kws"), cache_dir=os.path.join(d, "cache"),
    ...                      workers=1, progress=False)
    >>> fs.features.shape, fs.file_index.tolist(), fs.cache_hit
    ((1, 101, 40), [0], False)
    >>> cached_features([os.path.join(d, "a.wav")], preset("kws"), cache_dir=os.path.join(d, "cache"),
    ...                 workers=1, progress=False).cache_hit
    True
    """
    if not isinstance(cfg, FeatureConfig):
        raise ConfigError(f"cfg must be a FeatureConfig, got {type(cfg).__name__}",
                          fix="use auricle.features.preset(...) or FeatureConfig(...)")
    paths = _check_common(paths, crop, workers)
    hop = None
    if window_hop is not None:
        if isinstance(window_hop, bool) or not isinstance(window_hop, (int, float)) or not window_hop > 0:
            raise ConfigError(f"window_hop must be a positive number of seconds or None, got {window_hop!r}",
                              fix="use e.g. window_hop=0.5, or None for one row per file")
        window_hop = float(window_hop)
        hop = max(1, int(round(window_hop * cfg.sr)))

    root = Path(cache_dir)
    silence = {k: float(v) for k, v in (silence or {}).items() if v is not None} or None
    key = cache_key(paths, cfg, crop=crop, window_hop=window_hop, silence=silence)
    entry = root / key
    hit = _open_entry(entry)
    if hit is not None:
        return hit

    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(root)
    tmp = root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    t0 = time.perf_counter()
    try:
        frames, bins = cfg.output_shape
        file_index: list[np.ndarray] = []
        failures: list[tuple[str, str]] = []
        n_rows = 0
        cs = _chunk_size(len(paths))
        tasks = [(s, paths[s:s + cs], cfg.to_dict(), crop, hop, strict, silence) for s in range(0, len(paths), cs)]
        results = _run_tasks(_feature_task, tasks, [len(t[1]) for t in tasks], workers=workers,
                             progress=progress, description="features")
        with open(tmp / "features.npy", "wb") as fh, closing(results):
            fh.write(b"\0" * _NPY_HEADER_BYTES)
            for _, feats, idx, fails in results:
                for p, msg, fix in fails:
                    if strict:
                        raise AudioError(msg, path=p, fix=fix)
                    failures.append((p, _reason(msg, fix)))
                fh.write(np.ascontiguousarray(feats, dtype="<f4").tobytes())
                file_index.append(idx)
                n_rows += len(idx)
            fh.seek(0)
            fh.write(_npy_header((n_rows, frames, bins)))
        index = np.concatenate(file_index) if file_index else np.empty(0, dtype=np.int64)
        np.save(tmp / "file_index.npy", index.astype(np.int64))
        meta = {
            "version": CACHE_VERSION, "key": key, "cfg": cfg.to_dict(), "cfg_key": cfg.key(), "crop": crop,
            "window_hop": window_hop, "n_files": len(paths), "n_rows": n_rows, "shape": [n_rows, frames, bins],
            "failures": [list(f) for f in failures], "seconds": round(time.perf_counter() - t0, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        try:
            os.rename(tmp, entry)
        except OSError:
            if not (entry / "meta.json").exists():  # not a concurrent writer that won the race
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fs = _open_entry(entry)
    if fs is None:
        raise ConfigError(f"cache entry {entry} could not be read back right after writing it",
                          fix="check the disk (space, permissions) and delete the folder")
    fs.cache_hit = False
    return fs


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """A .npy v1.0 header for C-order little-endian float32 of ``shape``, exactly 128 bytes."""
    body = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (repr(tuple(int(s) for s in shape)),)
    n = _NPY_HEADER_BYTES - 10
    if len(body) + 1 > n:  # cannot happen for 3-D shapes below 10**25 rows
        raise ConfigError(f"feature shape {shape} too large for the cache header", fix="split the dataset")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", n) + (body.ljust(n - 1) + "\n").encode("latin1")


def _open_entry(entry: Path) -> FeatureSet | None:
    """Open a complete cache entry (memmap), or None when missing/unreadable (then it is removed)."""
    meta_path = entry / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        # a memmap of 0 rows is not possible; those entries are tiny anyway
        feats = np.load(entry / "features.npy", mmap_mode="r" if meta["shape"][0] else None)
        index = np.load(entry / "file_index.npy")
        if meta.get("version") != CACHE_VERSION or feats.shape[0] != index.shape[0] \
                or list(feats.shape) != list(meta["shape"]):
            raise ValueError("inconsistent cache entry")
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        shutil.rmtree(entry, ignore_errors=True)
        return None
    failures = [(str(p), str(r)) for p, r in meta.get("failures", [])]
    return FeatureSet(features=feats, file_index=index, failures=failures, cache_hit=True, path=entry)


def _remove_stale_temps(root: Path) -> None:
    """Delete temp folders left by interrupted runs of processes that no longer exist."""
    for d in root.glob(".tmp-*"):
        try:
            pid = int(d.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass
