"""From a :class:`~auricle.config.DataConfig` to arrays: index, split, read, featurize.

This is the glue between :mod:`auricle.datasets` (which rows exist and where they go) and
:mod:`auricle.features` (what the model sees).  Training, evaluation and the benches use it,
so a dataset is always prepared the same way.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from auricle.datasets.cache import default_cache_dir  # noqa: F401  (re-exported)
from auricle.features.padding import PAD_VALUE, mask_padding_, valid_frames  # noqa: F401  (re-exported)
from auricle.errors import ConfigError, DatasetError

#: The shipped, generated keyword set (see data/demo/README.md).
DEMO_DIR = Path(__file__).resolve().parent.parent / "data" / "demo"


def resolve_root(root: str | os.PathLike) -> Path:
    if str(root) == "demo":
        if not (DEMO_DIR / "manifest.csv").exists():
            raise DatasetError("the built-in demo data is missing", path=DEMO_DIR,
                               fix="install auricle from a clone of its repository (pip install -e .)")
        return DEMO_DIR
    return Path(root).expanduser()


def load_dataset(data_cfg, *, progress: bool = True, cache_dir=None, sr: int = 16000, duration: float = 1.0):
    """Index and split the dataset a :class:`DataConfig` names; returns a split Dataset.

    With ``data_cfg.keywords`` the other words become ``_unknown_`` and ``_silence_`` clips
    (``sr``/``duration`` long, written under ``cache_dir``) are added, see
    :func:`auricle.datasets.keywords.select_keywords`.
    """
    from auricle import datasets

    root = resolve_root(data_cfg.root)
    ds = datasets.index(root, layout=data_cfg.layout, strict=data_cfg.strict, **(data_cfg.options or {}))
    ds = datasets.split(ds, val=data_cfg.val, test=data_cfg.test, seed=data_cfg.split_seed,
                        by=data_cfg.split_by, test_groups=data_cfg.test_groups, val_groups=data_cfg.val_groups)
    if data_cfg.extra_train:
        ds = add_extra_train(ds, data_cfg.extra_train, strict=data_cfg.strict, allow_new=bool(data_cfg.keywords))
    if data_cfg.keywords:
        from auricle.datasets.keywords import select_keywords

        ds = select_keywords(ds, data_cfg.keywords, unknown_share=data_cfg.unknown_share,
                             silence_share=data_cfg.silence_share, noise_dir=data_cfg.noise_dir,
                             cache_dir=cache_dir, sr=sr, duration=duration, seed=data_cfg.split_seed)
    return ds


def add_extra_train(ds, roots, *, strict: bool = False, allow_new: bool = False):
    """Add the items of other data sets to the **training** split only.

    For data that should teach the model but never grade it: synthetic voices from
    ``auricle synth``, another corpus of the same words, or your own extra recordings.  Each
    root is indexed with the auto layout; its groups are prefixed with ``extra:`` so they can
    never coincide with a validation or test speaker.  A label the main data set does not have
    is an error naming it (with ``data.keywords`` set, extra words become ``_unknown_`` later).
    """
    from dataclasses import replace

    from auricle import datasets

    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]
    items = list(ds.items)
    for root in roots:
        path = resolve_root(root)
        extra = datasets.index(path, layout="auto", strict=strict)
        unknown = sorted(set(extra.labels) - set(ds.labels))
        if unknown and not allow_new:
            raise DatasetError(f"data.extra_train holds labels the data set does not have: {', '.join(unknown)}",
                               path=path, fix=f"keep only the data set's labels ({', '.join(ds.labels)})")
        items += [replace(it, split="train", group=f"extra:{it.group}") for it in extra.items]
    labels = sorted(set(ds.labels) | {it.label for it in items})
    return replace(ds, items=items, labels=labels)


@dataclass
class SplitArrays:
    """Features (or waveforms) and integer labels of one split."""

    x: np.ndarray
    y: np.ndarray
    paths: list[str]
    file_index: np.ndarray  # row -> index into ``paths`` (windows of long files share a file)
    waves: np.ndarray | None = None
    lengths: np.ndarray | None = None  # valid frames per row (variable-length data; the rest is 0 padding)


@dataclass
class Prepared:
    labels: list[str]
    splits: dict[str, SplitArrays]
    failures: list[tuple[str, str]] = field(default_factory=list)
    background: list[str] = field(default_factory=list)
    cache: str = "memory"  # how the training split is held: memory (arrays) or shards (streamed, see choose_cache)


def silence_settings(data_cfg) -> dict | None:
    """``{"mode", "vad_db"}`` of ``data.silence_frames`` (saved in features.json), or None when off."""
    mode = getattr(data_cfg, "silence_frames", None)
    return {"mode": mode, "vad_db": float(data_cfg.vad_db)} if mode else None


def _row_samples(paths, file_index, fcfg, window_hop) -> np.ndarray:
    """Real (unpadded) samples of every row at the feature rate, from the file headers."""
    from auricle.audio import info

    per_file = {}
    for fi in np.unique(file_index):
        try:
            h = info(paths[fi])
            per_file[fi] = int(np.ceil(h.frames * fcfg.sr / h.samplerate))
        except Exception:
            per_file[fi] = fcfg.n_samples
    hop = int(round((window_hop or 0) * fcfg.sr))
    out = np.empty(len(file_index), dtype=np.int64)
    seen: dict[int, int] = {}
    for r, fi in enumerate(file_index):
        j = seen.get(fi, 0)
        seen[fi] = j + 1
        out[r] = max(1, per_file[fi] - j * hop) if hop else per_file[fi]
    return out


def featurize(items, labels, feature_cfg, *, crop="center", window_hop=None, strict=False,
              cache_dir=None, workers=2, progress=True, with_waves=False, silence=None,
              variable_length=False, silence_frames=None) -> tuple[SplitArrays, list]:
    """Features for a list of dataset items (cached on disk) and their label indices.

    ``variable_length=True``: clips shorter than the feature duration are padded at the end
    only, their padding frames set to :data:`PAD_VALUE` and their valid frame counts returned
    in ``SplitArrays.lengths`` (for masked sequence models and length bucketing).
    ``silence_frames`` (``{"mode", "vad_db"}``, with ``variable_length``): silent frames are
    handled as :func:`auricle.datasets.silence.apply_silence` says (one more feature column: each
    frame's decision weight).
    """
    from auricle.datasets.cache import cached_features, load_clips

    lab_index = {lab: i for i, lab in enumerate(labels)}
    paths = [it.path for it in items]
    norm = feature_cfg.normalize
    if variable_length:
        if feature_cfg.kind == "waveform":
            raise DatasetError("variable_length needs spectral features (log_mel, mfcc, spectrogram)")
        crop = "start"
        feature_cfg = feature_cfg.replace(normalize="none")
    fs = cached_features(paths, feature_cfg, cache_dir=default_cache_dir(cache_dir), crop=crop,
                         window_hop=window_hop, strict=strict, workers=workers, progress=progress,
                         silence=silence)
    y_file = np.array([lab_index[it.label] for it in items], dtype=np.int64)
    fi = np.asarray(fs.file_index, dtype=np.int64)
    clips = waves = None
    if with_waves:
        clips, _ = load_clips(paths, sr=feature_cfg.sr, n_samples=feature_cfg.n_samples, crop=crop,
                              strict=strict, workers=workers, progress=progress, silence=silence)
        waves = clips[fi]
    if variable_length:
        if silence and silence.get("trim_db") is not None:
            # lengths after trimming are only known from the audio itself (crop is "start" here)
            if clips is None:
                clips, _ = load_clips(paths, sr=feature_cfg.sr, n_samples=feature_cfg.n_samples, crop=crop,
                                      workers=workers, progress=False, silence=silence)
            nz = np.abs(clips) > 0
            n_real = np.where(nz.any(1), feature_cfg.n_samples - np.argmax(nz[:, ::-1], axis=1), 1)[fi]
        else:
            n_real = _row_samples(paths, fi, feature_cfg, window_hop)
        lengths = valid_frames(feature_cfg, n_real)
        if silence_frames:
            from auricle.datasets.silence import apply_silence

            x, lengths = apply_silence(np.array(fs.features), lengths, feature_cfg, mode=silence_frames["mode"],
                                       threshold_db=silence_frames["vad_db"], normalize=norm,
                                       floor=feature_cfg.cmvn_floor)
        else:
            x = mask_padding_(np.array(fs.features), lengths, norm, feature_cfg.cmvn_floor)
        return SplitArrays(x, y_file[fi], paths, fi, waves, lengths), list(fs.failures)
    return SplitArrays(np.asarray(fs.features), y_file[fi], paths, fi, waves), list(fs.failures)


#: ``data.cache: auto`` streams the training split from shards when its features are estimated
#: above this share of the machine's physical memory.  The memory path holds about 3x the feature
#: bytes while ``fit`` runs (the array plus the copies Keras' array adapter makes; measured in
#: docs/experiments/scale-out.md), so 0.2 keeps it under ~60% of RAM.  On a 16 GB machine the
#: 105k-clip Speech Commands set (1.7 GB of kws features) stays in memory; AudioSet-sized sets stream.
AUTO_SHARDS_FRACTION = 0.2

#: A fixed ``data.cache: auto`` threshold in bytes instead of the fraction of RAM (None: the fraction).
AUTO_SHARDS_BYTES: int | None = None

#: Files per shard (and per Dask task) of the training split's sharded cache.
TRAIN_SHARD_SIZE = 2000


def physical_memory() -> int:
    """Bytes of physical memory of this machine (8 GiB where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def shard_threshold() -> int:
    """Feature bytes above which ``data.cache: auto`` streams from shards (:data:`AUTO_SHARDS_BYTES`,
    else :data:`AUTO_SHARDS_FRACTION` of :func:`physical_memory`)."""
    if AUTO_SHARDS_BYTES is not None:
        return int(AUTO_SHARDS_BYTES)
    return int(AUTO_SHARDS_FRACTION * physical_memory())


def estimate_feature_bytes(cfg, items) -> int:
    """Estimated float32 feature bytes of ``items``: rows x ``frames x bins x 4``.

    One row per file, or with a numeric ``data.window_hop`` the mean number of windows of (up to
    4,000 evenly spaced) files, from their headers."""
    fcfg = cfg.feature_config()
    frames, bins = fcfg.output_shape
    rows = float(len(items))
    hop = cfg.data.window_hop
    if isinstance(hop, (int, float)) and not isinstance(hop, bool) and items:
        secs = recording_seconds(items)
        if len(secs):
            per = np.maximum(1, 1 + np.ceil((secs - fcfg.duration) / float(hop)))
            rows *= float(per.mean())
    return int(rows * frames * bins * 4)


def stream_blockers(cfg, *, with_train_waves: bool = False) -> list[str]:
    """The settings of ``cfg`` that the streamed (sharded) training path cannot serve; [] when none.

    Streaming serves feature-domain augmentation (SpecAugment), mixup, class weights,
    oversampling, EMA and every callback; the shards hold features, so what needs the audio or
    every row at once in memory is refused, and so is ``train.distribute`` for now (Keras' fit on
    the stream under MirroredStrategy failed on 2 logical CPUs: an AddN shape error on batches
    split 5/4 across replicas)."""
    out = []
    if cfg.data.variable_length:
        out.append("data.variable_length (length-bucketed batches sort every row by length)")
    if with_train_waves:
        out.append("waveform augmentation (augment: time_shift/gain/noise/freq_warp... needs the audio; "
                   "the shards hold features)")
    if cfg.train.teacher:
        out.append("train.teacher (distillation)")
    if cfg.train.distribute != "none":  # tried: mirrored on 2 logical CPUs fails in fit with an AddN shape
        out.append(f"train.distribute: {cfg.train.distribute} (not yet: Keras' fit on the stream under a "
                   "strategy fails on unevenly split batches)")
    return out


def _size(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def choose_cache(cfg, items, *, with_train_waves: bool = False, console=None) -> str:
    """Settle ``data.cache`` for the training split ``items``: ``"memory"`` or ``"shards"``.

    * ``memory``: the single-array, memory-mapped feature cache, read into arrays (fast for small data);
    * ``shards``: the sharded cache (:func:`auricle.datasets.shards.build_shards`, on
      ``train.workers`` local Dask processes or the ``data.cache_cluster`` scheduler), streamed
      through ``tf.data`` during ``fit`` with memory independent of the dataset's size.  Only the
      training split streams: validation and test stay in memory (they are small, and evaluation
      reads them whole);
    * ``auto``: memory when :func:`estimate_feature_bytes` is at most :func:`shard_threshold`,
      else shards -- unless a setting needs memory (:func:`stream_blockers`), which keeps memory
      with a warning.

    Raises
    ------
    ConfigError
        ``data.cache: shards`` with a setting streaming cannot serve, naming it.
    """
    mode = cfg.data.cache
    if mode == "memory":
        return "memory"
    blockers = stream_blockers(cfg, with_train_waves=with_train_waves)
    if mode == "shards":
        if blockers:
            raise ConfigError(f"data.cache: shards cannot stream the training split with {'; '.join(blockers)}",
                              fix="set data.cache: memory (or auto), or drop that setting (--no-augment, or "
                                  "feature-domain augmentation such as spec_augment only)")
        return "shards"
    est, limit = estimate_feature_bytes(cfg, items), shard_threshold()
    if est <= limit:
        return "memory"
    if blockers:
        if console is not None:
            console.print(f"[yellow]data.cache auto: {_size(est)} of training features is above the "
                          f"{_size(limit)} streaming threshold, but {'; '.join(blockers)} needs memory: "
                          "keeping the in-memory cache[/yellow]")
        return "memory"
    if console is not None:
        console.print(f"data.cache auto: {_size(est)} of training features > {_size(limit)} "
                      f"({AUTO_SHARDS_FRACTION:.0%} of RAM, or AUTO_SHARDS_BYTES): streaming the training split "
                      "from a sharded cache (data.cache: memory keeps it in memory)")
    return "shards"


def featurize_shards(items, labels, cfg, *, progress: bool = True, console=None) -> tuple[SplitArrays, list]:
    """The training split as a sharded cache: ``SplitArrays`` whose ``x`` is a lazy
    :class:`~auricle.datasets.shards.ShardedRows` (``y``, ``file_index`` are arrays).

    The shards live under ``<cache root>/shards/<key>``, keyed like the array cache (paths, sizes,
    mtimes, feature config, crop, hop, silence handling) so a changed feature config never reuses
    stale shards; a second run reuses them."""
    from auricle.datasets.shards import ShardedRows, build_shards

    fcfg = cfg.feature_config()
    paths = [it.path for it in items]
    sh = build_shards(paths, fcfg, cache_dir=default_cache_dir(cfg.train.cache_dir) / "shards",
                      shard_size=TRAIN_SHARD_SIZE, crop=cfg.data.crop, window_hop=cfg.data.window_hop,
                      silence=cfg.silence(), strict=cfg.data.strict, workers=cfg.train.workers,
                      cluster=cfg.data.cache_cluster, progress=progress)
    if console is not None:
        where = f"on {cfg.data.cache_cluster}" if cfg.data.cache_cluster else f"{cfg.train.workers} worker(s)"
        how = "reused" if sh.cache_hit else f"built in {sh.seconds:.1f}s, {where}"
        console.print(f"training features: {len(sh.shards)} shard(s), {len(sh):,} rows ({how}): {sh.path}")
    lab_index = {lab: i for i, lab in enumerate(labels)}
    y_file = np.array([lab_index[it.label] for it in items], dtype=np.int64)
    fi = sh.file_index()
    return SplitArrays(ShardedRows(sh), y_file[fi], paths, fi), list(sh.failures)


def band_limit(cfg, items, *, console=None) -> float | None:
    """Cap ``features.fmax`` at the Nyquist frequency of the recordings themselves.

    8 kHz recordings (telephone speech, FSDD) resampled to a 16 kHz front end hold nothing
    above 4 kHz; mel bands up there carry only resampler noise, which per-clip normalization
    then blows up into a channel fingerprint (FSDD figures: docs/experiments/features.md).  With
    ``data.band_limit: auto`` (the default) the highest native rate among ``items`` (file
    headers only) sets ``fmax = min(fmax, rate / 2)``; the value is written into
    ``cfg.features`` so the saved config, evaluation and inference use it too.  Returns the new
    fmax, or None when nothing changed (full-band data, ``off``, features without a mel axis).
    """
    from auricle.audio import info
    from auricle.errors import AudioError

    fcfg = cfg.feature_config()
    rates = []
    for it in items:
        if it.label == "_silence_":  # generated at the front end's rate by --keywords
            continue
        try:
            rates.append(info(it.path).samplerate)
        except AudioError:  # unreadable files are reported (or skipped) by featurization
            continue
    mixed_rates(rates, fcfg, console=console)
    if cfg.data.band_limit != "auto" or fcfg.kind not in ("log_mel", "mfcc") or not rates:
        return None
    nyquist = max(rates) / 2.0
    current = fcfg.fmax if fcfg.fmax is not None else fcfg.sr / 2.0
    if nyquist >= current or nyquist <= fcfg.fmin:
        return None
    cfg.features = {**(cfg.features or {}), "fmax": float(nyquist)}
    if console is not None:
        console.print(f"band limit: the recordings are at most {max(rates)} Hz, so features.fmax = {nyquist:g} Hz "
                      f"(was {current:g}; data.band_limit: off keeps it)")
    return float(nyquist)


def mixed_rates(rates, fcfg, *, console=None) -> str | None:
    """The message for recordings at several sample rates (printed to ``console``), else None.

    Every file is resampled to the front end's rate, so nothing is lost; but files recorded at a
    low rate hold nothing above their Nyquist frequency, so a model can learn the rate (the
    device) instead of the class.  The message says how many files are at each rate and how to
    make them alike.

    Examples
    --------
    >>> from auricle.features import preset
    >>> print(mixed_rates([8000, 8000, 16000], preset("kws")))
    recordings at 2 sample rates (8000 Hz: 2 files, 16000 Hz: 1): all are resampled to 16000 Hz; those at 8000 Hz hold nothing above 4000 Hz, so a model can tell them apart by that alone (fix: --set features.fmax=4000 gives every file the same band)
    """
    from collections import Counter

    c = Counter(int(r) for r in rates)
    if len(c) < 2:
        return None
    parts = ", ".join(f"{r} Hz: {n} file{'s' if n != 1 else ''}" if i == 0 else f"{r} Hz: {n}"
                      for i, (r, n) in enumerate(sorted(c.items())))
    low = min(c)
    msg = f"recordings at {len(c)} sample rates ({parts}): all are resampled to {fcfg.sr} Hz"
    if low < fcfg.sr and fcfg.kind != "waveform":
        msg += (f"; those at {low} Hz hold nothing above {low // 2} Hz, so a model can tell them apart by that "
                f"alone (fix: --set features.fmax={low // 2} gives every file the same band)")
    if console is not None:
        console.print(f"[yellow]{msg}[/yellow]")
    return msg


def file_floor_db(y: np.ndarray, sr: int) -> float:
    """How far (dB) the quietest tenth of a recording's 25 ms frames (10 ms hop) sits below its
    loudest frame: the recording's own noise floor.  Digital silence gives 120 (the cap)."""
    win, hop = max(1, int(0.025 * sr)), max(1, int(0.010 * sr))
    if len(y) < win:
        return 120.0
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(y, np.float64), win)[::hop]
    e = np.mean(frames ** 2, axis=1)
    top = e.max()
    if top <= 0:
        return 120.0
    low = np.percentile(e, 10)
    return float(min(120.0, 10 * np.log10(top / low))) if low > 0 else 120.0


def noise_floor(cfg, items, *, console=None, max_files: int = 300, margin_db: float = 15.0) -> float | None:
    """``data.noise_floor: auto``: set ``features.top_db`` just below the recordings' noise floor.

    The log-mel floor ``top_db`` says how far below its loudest bin a clip's features may go.
    Clips shorter than the front end's window are padded with digital zeros; with librosa's 80 dB
    those frames sit far below anything a microphone records, and after per-clip normalization
    the amount of padding becomes a feature that differs by speaker (FSDD's files are trimmed
    tight; their quietest frames are 18-49 dB below the peak).  So: measure each training
    file's floor (:func:`file_floor_db`, up to ``max_files`` evenly spaced files, native rate),
    take the median, add ``margin_db`` and round to 10 dB, within [30, 80].  Recordings whose
    quiet parts are digital silence (synthetic data, the demo) keep the preset's value.  The
    value is written into ``cfg.features`` (saved with the run, used by evaluation and
    inference).  On FSDD (median floor ~27 dB) this gives 40 (figures: docs/experiments/features.md).
    Returns the new top_db, or None when nothing changed.
    """
    from auricle.audio import load_native
    from auricle.errors import AudioError

    fcfg = cfg.feature_config()
    if cfg.data.noise_floor != "auto" or fcfg.kind not in ("log_mel", "mfcc", "spectrogram") or not items:
        return None
    items = [it for it in items if not str(it.label).startswith("_")]
    step = max(1, len(items) // max_files)
    floors = []
    for it in items[::step][:max_files]:
        try:
            floors.append(file_floor_db(*load_native(it.path)))
        except AudioError:
            continue
    if not floors:
        return None
    median = float(np.median(floors))
    current = fcfg.top_db if fcfg.top_db is not None else 120.0
    new = float(np.clip(10 * np.round((median + margin_db) / 10), 30, 80))
    if median >= 70 or new >= current:
        return None
    cfg.features = {**(cfg.features or {}), "top_db": new}
    if console is not None:
        console.print(f"noise floor: the recordings' quiet parts sit {median:.0f} dB below their peaks, so "
                      f"features.top_db = {new:g} (was {current:g}; data.noise_floor: off keeps it)")
    return new


def recording_seconds(items, *, max_files: int = 4000) -> np.ndarray:
    """Durations in seconds of (up to ``max_files`` evenly spaced) ``items``, from the file headers."""
    from auricle.audio import info
    from auricle.errors import AudioError

    items = list(items)
    step = max(1, len(items) // max_files)
    out = []
    for it in items[::step]:
        try:
            h = info(it.path)
        except AudioError:  # reported (or skipped) by featurization
            continue
        out.append(h.frames / h.samplerate)
    return np.asarray(out, dtype=float)


#: ``data.window_hop: auto`` cuts recordings into windows when the median one is this many windows long.
LONG_CLIPS = 1.5


def window_hop(cfg, items, *, console=None) -> float | None:
    """Settle ``data.window_hop: auto`` (the default) from the recordings' lengths (file headers).

    When the median recording is at least :data:`LONG_CLIPS` times the model's window
    (``features.duration``), every recording is cut into windows of that length every half
    window -- after splitting, so the windows of one recording stay in its split -- instead of
    being cropped to one window; evaluation then scores windows and recordings (window
    probabilities averaged, as ``auricle predict`` does).  One-second keyword clips (and FSDD's
    shorter digits) keep one row per file.  The value is written into ``cfg.data.window_hop`` (so
    config.yaml, features.json and ``predict`` use it) and returned; a number or null is kept.
    """
    if cfg.data.window_hop != "auto":
        return cfg.data.window_hop
    fcfg = cfg.feature_config()
    secs = recording_seconds([it for it in items if not str(it.label).startswith("_")])
    hop = None
    if len(secs):
        med, win = float(np.median(secs)), fcfg.duration
        if med >= LONG_CLIPS * win:
            hop = round(win / 2, 6)
            if console is not None:
                console.print(f"long recordings: median {med:.1f} s against a {win:g} s window, so each is cut into "
                              f"{win:g} s windows every {hop:g} s after splitting (data.window_hop: {hop:g}; null crops "
                              "instead); evaluation scores windows and recordings")
        elif console is not None:
            if secs.max() < 0.9 * win:
                fit = max(0.1, float(np.ceil(secs.max() * 10) / 10))
                console.print(f"[yellow]every recording is shorter than the {win:g} s window (longest "
                              f"{secs.max():.2f} s, median {med:.2f} s): each is zero-padded to {win:g} s, so the "
                              f"model sees {1 - med / win:.0%} padding in the median clip; a shorter window fits them "
                              f"(--set features.duration={fit:g})[/yellow]")
            n_long = int((secs > win * 1.05).sum())
            if n_long and n_long >= 0.05 * len(secs):
                console.print(f"{n_long} of {len(secs)} recordings are longer than the {win:g} s window and are "
                              f"cropped (median {med:.2f} s; --set data.window_hop={win / 2:g} windows them)")
    cfg.data.window_hop = hop
    return hop


def prepare(cfg, *, progress: bool = True, with_train_waves: bool = False, dataset=None,
            console=None) -> tuple[Prepared, object]:
    """Index, split and featurize everything a run needs.  Returns ``(Prepared, dataset)``.

    ``data.cache`` (:func:`choose_cache`) decides how the training split is held: arrays, or with
    ``shards`` a lazy :class:`~auricle.datasets.shards.ShardedRows` that
    :func:`auricle.training.batches.fit_inputs` streams through ``tf.data``; validation and test
    are always arrays.  ``console`` (default: stderr when ``progress``) gets the choice."""
    if console is None and progress:
        from rich.console import Console

        console = Console(stderr=True)
    fcfg = cfg.feature_config()
    ds = dataset if dataset is not None else load_dataset(cfg.data, progress=progress, cache_dir=cfg.train.cache_dir,
                                                          sr=fcfg.sr, duration=fcfg.n_samples / fcfg.sr)
    labels = list(ds.labels)
    if cfg.data.window_hop == "auto":  # callers that did not settle it (training does, and prints why)
        window_hop(cfg, [it for it in ds.items if it.split == "train"])
    splits, failures = {}, []
    cache = choose_cache(cfg, [it for it in ds.items if it.split == "train"], with_train_waves=with_train_waves,
                         console=console)
    for name in ("train", "val", "test"):
        items = [it for it in ds.items if it.split == name]
        if not items:
            continue
        if name == "train" and cache == "shards":
            splits[name], fails = featurize_shards(items, labels, cfg, progress=progress, console=console)
            failures += fails
            continue
        arrays, fails = featurize(items, labels, fcfg, crop=cfg.data.crop, window_hop=cfg.data.window_hop,
                                  strict=cfg.data.strict, cache_dir=cfg.train.cache_dir,
                                  workers=cfg.train.workers, progress=progress,
                                  with_waves=with_train_waves and name == "train", silence=cfg.silence(),
                                  variable_length=cfg.data.variable_length,
                                  silence_frames=silence_settings(cfg.data))
        splits[name] = arrays
        failures += fails
    if "train" not in splits or len(splits["train"].y) == 0:
        raise DatasetError("the training split is empty", path=ds.root,
                           fix="check data.val/data.test fractions or the explicit test/val groups")
    present = np.unique(splits["train"].y)
    if len(present) < 2:
        raise DatasetError(f"the training split holds only one class ({labels[present[0]]})", path=ds.root,
                           fix="a classifier needs at least two classes in training")
    return Prepared(labels, splits, failures, list(getattr(ds, "background", []) or []), cache=cache), ds
