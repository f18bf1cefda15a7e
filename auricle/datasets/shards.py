"""Sharded feature cache: features of a large file list as shards + an index, built on a Dask
cluster and streamed back through ``tf.data``.

The single-array cache (:func:`auricle.datasets.cache.cached_features`) stays the fast path for
data that fits in memory.  This one is for data that does not (the 105k-clip Speech Commands set,
AudioSet-sized collections)::

    CACHE/<key>/index.json            key, feature config, shard list (rows, sha256), failures
    CACHE/<key>/shard-00000.npy       (rows, frames, bins) float32 features of files [0, shard_size)
    CACHE/<key>/shard-00000.idx.npy   (rows,) int64: the file each row comes from
    ...

* :func:`build_shards` - each task decodes and featurizes one slice of ``shard_size`` files with
  the same worker code as the single-array cache and writes its shard.  ``workers=1`` runs the
  tasks in this process; ``workers=N`` starts a local Dask cluster (``distributed.LocalCluster``,
  N single-threaded worker processes); ``cluster="tcp://host:8786"`` joins a running Dask
  scheduler (the cache folder must then be on a filesystem every worker sees).  A shard is a pure
  function of its files and the config, computed single-threaded, so every way of building gives
  the same bytes (tested; the sha256 of every shard is in ``index.json``).
* :func:`open_shards` / :class:`Shards` - the index, row counts, per-row file indices, and
  :meth:`Shards.dataset`: a ``tf.data`` pipeline that shuffles the shard order each epoch,
  interleaves a few shards at a time (memory-mapped), shuffles rows in a bounded buffer, batches
  and prefetches.  Memory is ``cycle_length`` shards' pages + the shuffle buffer, independent of
  the dataset's size.

Why Dask and not Ray: the work is a bag of independent, pure, NumPy-in/NumPy-out tasks.  Dask's
``distributed`` is a pure-Python install (no daemon, no object store to size), its LocalCluster
starts in seconds, its scheduler is the one HPC/Kubernetes setups already run (``dask-jobqueue``,
``dask-kubernetes``), and its futures are all this needs.  Ray (also on PyPI) brings a C++
runtime and a shared-memory object store that pay off for actors and large in-memory objects,
neither of which a featurization pass has.

>>> from auricle.features import preset                                   # doctest: +SKIP
>>> sh = build_shards(paths, preset("kws"), cache_dir=".cache/shards", workers=4)  # doctest: +SKIP
>>> ds = sh.dataset(labels, batch_size=64, seed=0)                         # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from auricle.datasets.cache import _check_common, _feature_task, _reason, cache_key
from auricle.errors import AudioError, ConfigError, DatasetError
from auricle.features import FeatureConfig

__all__ = ["SHARDS_VERSION", "ShardedRows", "Shards", "build_shards", "open_shards"]

#: Bump when the shard layout changes: old entries are then ignored.
SHARDS_VERSION = 1

#: Default files per shard: ~4 MB of kws features per 1,000 files, so a shard is tens of MB.
SHARD_SIZE = 2000

#: Seconds to wait for a ``cluster=`` scheduler to answer.
CONNECT_TIMEOUT = 30


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _shard_task(task: tuple) -> dict:
    """Worker: decode + featurize files ``[start, start + len(paths))`` and write shard ``i`` into ``folder``.

    Runs with single-threaded BLAS, so its bytes do not depend on where it runs."""
    i, start, paths, cfg_dict, crop, hop, strict, silence, folder = task
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        _, feats, index, failures = _feature_task((start, paths, cfg_dict, crop, hop, strict, silence))
    folder = Path(folder)
    name = f"shard-{i:05d}"
    np.save(folder / f"{name}.npy", np.ascontiguousarray(feats, dtype=np.float32))
    np.save(folder / f"{name}.idx.npy", index.astype(np.int64))
    return {"shard": i, "name": name, "rows": int(feats.shape[0]), "files": [start, start + len(paths)],
            "sha256": _sha256(folder / f"{name}.npy"), "failures": [list(f) for f in failures]}


@dataclass
class Shards:
    """An opened sharded cache (see :func:`open_shards`).

    Attributes
    ----------
    path : Path
        The entry folder.
    shards : list of dict
        ``name``, ``rows``, ``files`` (``[first, end)`` file numbers), ``sha256`` per shard.
    shape : tuple
        ``(frames, bins)`` of a row.
    failures : list of (str, str)
        ``(path, reason)`` of files that could not be decoded (they have no rows).
    cache_hit : bool
        True when the entry existed and nothing was computed.
    """

    path: Path
    shards: list
    shape: tuple
    failures: list = field(default_factory=list)
    cache_hit: bool = False
    seconds: float = 0.0

    def __len__(self) -> int:
        return sum(s["rows"] for s in self.shards)

    def features(self, i: int) -> np.ndarray:
        """Shard ``i``'s features, memory-mapped read-only."""
        return np.load(self.path / f"{self.shards[i]['name']}.npy", mmap_mode="r")

    def file_index(self) -> np.ndarray:
        """``(rows,)`` int64: the file of every row, in shard order."""
        parts = [np.load(self.path / f"{s['name']}.idx.npy") for s in self.shards]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)

    def to_array(self) -> np.ndarray:
        """Every row in one in-memory array (small data and tests only)."""
        parts = [np.asarray(self.features(i)) for i in range(len(self.shards))]
        return np.concatenate(parts) if parts else np.empty((0,) + tuple(self.shape), np.float32)

    def dataset(self, file_labels: Sequence[int], *, n_classes: int, batch_size: int, seed: int = 0,
                cycle_length: int = 2, shuffle_buffer: int = 2048, repeat: bool = False):
        """A ``tf.data.Dataset`` of ``(features, one_hot)`` batches for ``model.fit``.

        Parameters
        ----------
        file_labels : sequence of int
            The class number of every *file* (rows take their file's label).
        n_classes : int
            Width of the one-hot targets.
        batch_size : int
            Rows per batch (the global batch under a distribution strategy).
        seed : int
            Seeds the per-epoch shard order and the row shuffle.
        cycle_length : int
            Shards read at once (interleaved); with ``shuffle_buffer`` this bounds the memory.
        shuffle_buffer : int
            Rows in the shuffle buffer.

        See :meth:`ShardedRows.dataset` for row selections, sample weights and per-batch transforms.

        Examples
        --------
        >>> ds = sh.dataset(labels, n_classes=10, batch_size=64)   # doctest: +SKIP
        >>> model.fit(ds, epochs=5)                                 # doctest: +SKIP
        """
        labels = np.asarray(file_labels, dtype=np.int64)
        return ShardedRows(self).dataset(labels[self.file_index()], n_classes=n_classes, batch_size=batch_size,
                                         seed=seed, cycle_length=cycle_length, shuffle_buffer=shuffle_buffer,
                                         repeat=repeat)


class ShardedRows:
    """The rows of a sharded cache as a read-only, array-like ``(rows, frames, bins)`` float32 view.

    What :func:`auricle.data.prepare` puts in the training split's ``x`` with ``data.cache:
    shards``: code that only needs ``shape`` / ``len`` / a few rows works unchanged, and
    :meth:`dataset` streams it to ``model.fit`` with bounded memory.

    * ``view[i]`` (an int) and ``view[a:b]`` (a slice) read those rows into an ndarray (so
      :func:`auricle.inference.predict_probs` predicts it 256 rows at a time);
    * ``view[idx]`` with an integer array is a **lazy** view of those rows (repeats allowed): the
      oversampled training split costs an index array, not a copy of the features;
    * ``np.asarray(view)`` reads every row (small data and tests only).

    Parameters
    ----------
    shards : Shards
        An opened sharded cache.
    rows : array of int, optional
        Row numbers (in shard order, repeats allowed); default every row once.
    """

    ndim = 3
    dtype = np.dtype(np.float32)

    def __init__(self, shards: Shards, rows: np.ndarray | None = None):
        self.shards = shards
        counts = np.array([s["rows"] for s in shards.shards], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(counts)])
        self.rows = np.arange(self._starts[-1], dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
        if self.rows.ndim != 1 or (len(self.rows) and (self.rows.min() < 0 or self.rows.max() >= self._starts[-1])):
            raise ConfigError(f"row selection out of range for a sharded cache of {self._starts[-1]} rows",
                              fix="index with row numbers in [0, rows)")
        self._maps: dict[int, np.ndarray] = {}

    @property
    def shape(self) -> tuple:
        return (len(self.rows),) + tuple(self.shards.shape)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"ShardedRows({self.shape}, {len(self.shards.shards)} shard(s) at {self.shards.path})"

    def _map(self, i: int) -> np.ndarray:
        if i not in self._maps:
            self._maps[i] = self.shards.features(i)
        return self._maps[i]

    def _locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shard = np.searchsorted(self._starts, rows, side="right") - 1
        return shard, rows - self._starts[shard]

    def _read(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows),) + tuple(self.shards.shape), np.float32)
        shard, local = self._locate(rows)
        for i in np.unique(shard):
            m = shard == i
            out[m] = self._map(int(i))[local[m]]
        return out

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self._read(self.rows[[int(key)]])[0]
        if isinstance(key, slice):
            return self._read(self.rows[key])
        idx = np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        if idx.dtype.kind not in "iu":
            raise ConfigError(f"ShardedRows index must be an int, a slice or an integer array, got {idx.dtype}")
        return ShardedRows(self.shards, self.rows[idx])

    def __array__(self, dtype=None, copy=None):
        x = self._read(self.rows)
        return x if dtype is None else x.astype(dtype)

    def dataset(self, y: Sequence[int], *, n_classes: int, batch_size: int, seed: int = 0,
                weights: np.ndarray | None = None, batch_fn=None, cycle_length: int = 2,
                shuffle_buffer: int = 2048, block: int = 64, repeat: bool = False, drop_remainder: bool = False):
        """A ``tf.data.Dataset`` of ``(x, one_hot)`` (or ``(x, one_hot, weights)``) batches of these rows.

        Each epoch the shard order is shuffled, ``cycle_length`` shards are read at once in blocks
        of ``block`` rows (TensorFlow's native fixed-length record reader past the ``.npy``
        header: no Python per row or per block), the rows are
        shuffled in a buffer of ``shuffle_buffer``, batched and prefetched.  A row selected ``k``
        times (oversampling) is read ``k`` times per epoch.  Memory: the buffer + ``cycle_length``
        blocks + the prefetched batches, whatever the number of rows.

        Parameters
        ----------
        y : sequence of int
            The class of every row of this view (``len(y) == len(self)``).
        n_classes : int
            Width of the one-hot targets.
        batch_size : int
            Rows per batch (the global batch under a distribution strategy).
        seed : int
            Seeds the shard order, the row shuffle and ``batch_fn``'s generator.
        weights : array of float, optional
            A sample weight per row (class weights); batches then carry a third element.
        batch_fn : callable, optional
            ``batch_fn(x, one_hot, weights, rng) -> (x, one_hot, weights)`` on NumPy batches
            (SpecAugment, mixup); ``rng`` is seeded by ``(seed, batch number)``, batches counted
            from the start of training, so a run is reproducible.  ``x`` keeps its shape.
        cycle_length, shuffle_buffer, block : int
            Shards read at once, rows in the shuffle buffer, rows per read.
        repeat : bool
            Repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        drop_remainder : bool
            Drop the last, partial batch of an epoch (static batch shape: what a distribution
            strategy needs to split batches evenly across replicas).

        Examples
        --------
        >>> ds = ShardedRows(sh).dataset(y, n_classes=3, batch_size=32)   # doctest: +SKIP
        """
        import tensorflow as tf

        y = np.asarray(y, dtype=np.int64)
        if len(y) != len(self):
            raise ConfigError(f"{len(y)} labels for {len(self)} rows", fix="give one label per row of the view")
        frames, bins = self.shards.shape
        row_bytes = frames * bins * 4
        paths = [str(self.shards.path / f"{s['name']}.npy") for s in self.shards.shards]
        starts = self._starts
        used = [i for i in range(len(paths)) if np.any((self.rows >= starts[i]) & (self.rows < starts[i + 1]))]
        # every cache row -> the positions of this view that select it (0, 1 or more: oversampling)
        order = np.argsort(self.rows, kind="stable")
        sel = tf.RaggedTensor.from_row_lengths(order.astype(np.int64),
                                               np.bincount(self.rows, minlength=int(starts[-1])).astype(np.int64))
        paths_t = tf.constant(paths)
        headers_t = tf.constant([_data_offset(p) for p in paths], tf.int64)
        starts_t = tf.constant(starts, tf.int64)
        block = max(1, int(block))

        def decode(raw, g):  # a block of raw rows + their cache row numbers -> (rows selected, positions)
            x = tf.reshape(tf.io.decode_raw(raw, tf.float32), (-1, frames, bins))
            pos = tf.gather(sel, g)
            return tf.repeat(x, pos.row_lengths(), axis=0), pos.flat_values

        def shard(i):  # native reads (no Python per row): fixed-length records after the .npy header
            recs = tf.data.FixedLengthRecordDataset(tf.gather(paths_t, i), row_bytes, header_bytes=tf.gather(headers_t, i))
            rows = tf.data.Dataset.range(tf.gather(starts_t, i), tf.gather(starts_t, i + 1))
            return tf.data.Dataset.zip((recs.batch(block), rows.batch(block))).map(decode)

        ds = tf.data.Dataset.from_tensor_slices(np.array(used, np.int64))
        ds = ds.shuffle(max(1, len(used)), seed=seed, reshuffle_each_iteration=True)
        ds = ds.interleave(shard, cycle_length=max(1, int(cycle_length)), block_length=1,
                           num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        ds = ds.unbatch().shuffle(max(1, int(shuffle_buffer)), seed=seed + 1, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
        if not repeat:  # the interleave hides the length: tell Keras (steps per epoch, no "ran out of data")
            n = len(self) // int(batch_size) if drop_remainder else -(-len(self) // int(batch_size))
            ds = ds.apply(tf.data.experimental.assert_cardinality(n))
        y_t = tf.constant(y)
        w_t = None if weights is None else tf.constant(np.asarray(weights, np.float32))

        def targets(x, p):
            oh = tf.one_hot(tf.gather(y_t, p), n_classes)
            return (x, oh) if w_t is None else (x, oh, tf.gather(w_t, p))

        ds = ds.map(targets, num_parallel_calls=tf.data.AUTOTUNE)
        if batch_fn is not None:
            ds = ds.map(_numpy_batches(batch_fn, seed, with_weights=w_t is not None, shape=(frames, bins),
                                       n_classes=n_classes), num_parallel_calls=1, deterministic=True)
        return ds.prefetch(tf.data.AUTOTUNE)


def _data_offset(path: str) -> int:
    """Bytes before the data of a ``.npy`` file (its header)."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        _, fortran, dtype = read(fh)
        if fortran or dtype != np.dtype("<f4"):
            raise DatasetError(f"shard is not C-ordered little-endian float32 ({dtype})", path=path, fix="rebuild it")
        return fh.tell()


def _numpy_batches(batch_fn, seed: int, *, with_weights: bool, shape: tuple, n_classes: int):
    """A ``tf.data`` map calling ``batch_fn`` on NumPy batches, with a generator per batch number."""
    import tensorflow as tf

    count = [0]

    def call(x, y, w=None):
        rng = np.random.default_rng([int(seed), count[0], 13])
        count[0] += 1
        x, y, w = batch_fn(x, y, w, rng)
        x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
        return (x, y) if w is None else (x, y, np.asarray(w, np.float32))

    def fn(*batch):
        out = tf.numpy_function(call, list(batch), [tf.float32] * len(batch), stateful=True)
        out[0].set_shape((None,) + tuple(shape))
        out[1].set_shape((None, n_classes))
        if with_weights:
            out[2].set_shape((None,))
        return tuple(out)

    return fn


def open_shards(path: str | os.PathLike) -> Shards:
    """Open a sharded cache entry written by :func:`build_shards`; :class:`DatasetError` when it is not one."""
    path = Path(path)
    try:
        meta = json.loads((path / "index.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"not a sharded feature cache ({exc})", path=path,
                           fix="build it with auricle.datasets.shards.build_shards") from None
    if meta.get("version") != SHARDS_VERSION:
        raise DatasetError(f"sharded cache version {meta.get('version')}, this auricle reads {SHARDS_VERSION}",
                           path=path, fix="rebuild it")
    return Shards(path=path, shards=meta["shards"], shape=tuple(meta["shape"]),
                  failures=[tuple(f) for f in meta["failures"]], seconds=meta.get("seconds", 0.0))


def _client(cluster: str | None, workers: int):
    """A Dask client: joined to ``cluster`` (a scheduler address), or to a new LocalCluster of
    ``workers`` single-threaded processes (closed with the client)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a dependency of auricle
        raise ConfigError("building shards on several workers needs Dask", fix="pip install 'dask[distributed]'") from None
    if cluster:
        try:
            return Client(cluster, timeout=CONNECT_TIMEOUT), None
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {cluster} ({exc})",
                              fix="start one with `dask scheduler` (and `dask worker ADDRESS` on each host), "
                                  "or leave --cluster out for a local cluster") from None
    env = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    lc = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      worker_dashboard_address=None, silence_logs=40, env=env)
    return Client(lc), lc


def build_shards(paths: Sequence[str | os.PathLike], cfg: FeatureConfig, *, cache_dir: str | os.PathLike,
                 shard_size: int = SHARD_SIZE, crop: str = "center", window_hop: float | None = None,
                 silence: dict | None = None, strict: bool = False, workers: int = 1,
                 cluster: str | None = None, progress: bool = False) -> Shards:
    """Features of every file as shards under ``cache_dir/<key>/``, computed once.

    Parameters
    ----------
    paths : sequence of path
        Audio files, in the order the per-row file index refers to.
    cfg : FeatureConfig
        Features to compute.
    cache_dir : path
        Folder holding sharded entries (created if missing).
    shard_size : int
        Files per shard (and per task).
    crop, window_hop, silence, strict
        As in :func:`auricle.datasets.cache.cached_features`.
    workers : int
        1: tasks run in this process; N > 1: on a local Dask cluster of N worker processes
        (a single shard is built in this process either way).
    cluster : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``) to run the tasks on instead.
    progress : bool
        Print one line per finished shard.

    Returns
    -------
    Shards

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> from auricle.features import preset
    >>> d = tempfile.mkdtemp()
    >>> files = [os.path.join(d, f"{i}.wav") for i in range(3)]
    >>> for f in files: sf.write(f, np.random.default_rng(0).standard_normal(8000).astype("float32"), 16000)
    >>> sh = build_shards(files, preset("kws", duration=0.5), cache_dir=os.path.join(d, "c"), shard_size=2)
    >>> [s["rows"] for s in sh.shards], sh.shape
    ([2, 1], (51, 40))
    """
    paths = _check_common(paths, crop, workers)
    if not isinstance(shard_size, int) or isinstance(shard_size, bool) or shard_size < 1:
        raise ConfigError(f"shard_size must be an int >= 1, got {shard_size!r}", fix="a few thousand files is usual")
    if window_hop is not None and (isinstance(window_hop, bool) or not isinstance(window_hop, (int, float))
                                   or not window_hop > 0):
        raise ConfigError(f"window_hop must be a positive number of seconds or None, got {window_hop!r}",
                          fix="use e.g. window_hop=0.5, or None for one row per file")
    window_hop = None if window_hop is None else float(window_hop)
    silence = {k: float(v) for k, v in (silence or {}).items() if v is not None} or None  # as the array cache
    hop = None if window_hop is None else max(1, int(round(window_hop * cfg.sr)))
    key = cache_key(paths, cfg, crop=crop, window_hop=window_hop, silence=silence)
    key = hashlib.sha1(f"{key}:shards:{SHARDS_VERSION}:{shard_size}".encode()).hexdigest()[:20]
    root = Path(cache_dir)
    entry = root / key
    if (entry / "index.json").exists():
        sh = open_shards(entry)
        sh.cache_hit = True
        return sh
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    t0 = time.time()
    tasks = [(i, s, paths[s:s + shard_size], cfg.to_dict(), crop, hop, strict, silence, str(tmp.resolve()))
             for i, s in enumerate(range(0, len(paths), shard_size))]
    try:
        if (workers == 1 or len(tasks) == 1) and not cluster:  # one task: no cluster to start
            results = []
            for t in tasks:
                results.append(_shard_task(t))
                if progress:
                    print(f"shard {t[0] + 1}/{len(tasks)}", flush=True)
        else:
            from distributed import as_completed

            client, local = _client(cluster, workers)
            try:
                futures = client.map(_shard_task, tasks, pure=False)
                results = []
                for fut in as_completed(futures):
                    results.append(fut.result())
                    if progress:
                        print(f"shard {len(results)}/{len(tasks)}", flush=True)
            finally:
                client.close()
                if local is not None:
                    local.close()
        results.sort(key=lambda r: r["shard"])
        failures = []
        for r in results:
            for p, msg, fix in r.pop("failures"):
                if strict:
                    raise AudioError(msg, path=p, fix=fix)
                failures.append((p, _reason(msg, fix)))
        meta = {"version": SHARDS_VERSION, "key": key, "cfg": cfg.to_dict(), "crop": crop, "window_hop": window_hop,
                "silence": silence, "shard_size": shard_size, "n_files": len(paths),
                "shape": list(cfg.output_shape), "shards": results, "failures": failures,
                "seconds": round(time.time() - t0, 3)}
        (tmp / "index.json").write_text(json.dumps(meta, indent=1))
        try:
            os.rename(tmp, entry)
        except OSError:  # another process finished the same entry first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return open_shards(entry)
