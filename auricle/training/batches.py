"""What ``model.fit`` reads: the training batches and the validation data.

:func:`fit_inputs` is the one place that turns a prepared training split into ``model.fit``
arguments; it picks one of

* plain arrays (no augmentation, no mixup): ``model.fit(x, y, shuffle=True)``;
* :class:`AugmentedBatches`: waveform -> augment -> features -> SpecAugment per batch (or the
  same chain on cached mel power, or feature-domain transforms on cached features);
* :class:`BucketBatches`: variable-length features batched by similar length;
* a ``tf.data`` stream from the sharded cache (``data.cache: shards``, :func:`stream_inputs`):
  SpecAugment, mixup, class weights and oversampling on the stream, memory bounded;

and wraps them for distillation (``train.teacher``).  Targets (one-hot ``y``) and sample weights
are built here too, so a task with other targets (per-frame labels, masks) changes this one
function.

This module imports Keras at the top; :mod:`auricle.training.fit` imports it lazily.
"""
from __future__ import annotations

import time

import keras
import numpy as np

from auricle.datasets.shards import ShardedRows
from auricle.errors import ConfigError
from auricle.training.components import mixup

#: Rows in the streamed path's shuffle buffer (with 2 shards interleaved: ~32 MB of kws features).
STREAM_SHUFFLE_BUFFER = 2048


def _batch(x, y, weights, alpha: float, rng) -> tuple:
    """A PyDataset item: ``(x, y)`` or ``(x, y, weights)``, mixed up first when ``alpha > 0``."""
    if alpha:
        x, y, weights = mixup(x, y, weights, alpha, rng)
    return (x, y) if weights is None else (x, y, weights)


class AugmentedBatches(keras.utils.PyDataset):
    """Waveforms -> augment -> features -> SpecAugment, one batch at a time, seeded per (epoch, batch).
    Without waveform transforms it starts from the cached features (``feats``)."""

    def __init__(self, waves, y_onehot, fcfg, chain, batch_size, seed, weights=None, workers=2, feats=None,
                 power=None, mixup=0.0):
        # threads, not processes: FFTs and BLAS release the GIL, and batches are a pure
        # function of (seed, epoch, index), so prefetching keeps training reproducible
        super().__init__(workers=max(1, int(workers)), use_multiprocessing=False, max_queue_size=8)
        self.waves, self.y, self.fcfg, self.chain = waves, y_onehot, fcfg, chain
        self.feats = feats  # with waves=None: cached features, feature-domain transforms only
        self.power = power  # (mel power, active rms, PowerAugmenter): augment without an STFT per batch
        self.bs, self.seed, self.weights, self.mixup = batch_size, seed, weights, float(mixup)
        self.epoch = 0
        self._order = self._perm()

    def _perm(self):
        return np.random.default_rng([self.seed, self.epoch, 7]).permutation(len(self.y))

    def __len__(self):
        return int(np.ceil(len(self.y) / self.bs))

    def rows(self, i: int) -> np.ndarray:
        """Batch ``i``'s rows, sorted.  Every batch is full: the last one wraps round to the start of
        the epoch's order, because a short last batch makes TensorFlow trace the training step a
        second time (~3 s for TC-ResNet14 on 2 cores, every run)."""
        n = len(self.y)
        return np.sort(self._order[np.arange(i * self.bs, i * self.bs + min(self.bs, n)) % n])

    def __getitem__(self, i):
        from auricle.features import extract

        idx = self.rows(i)
        rng = np.random.default_rng([self.seed, self.epoch, i])
        if self.power is not None:  # whole chain on cached mel power (features transforms included)
            S, rms, aug = self.power
            x = aug.batch(S, rms, idx, rng)
        else:
            if self.feats is not None:  # feature-domain transforms only: start from the cached features
                x = np.array(self.feats[idx])
            else:
                w = self.chain.apply_waveform(self.waves[idx], rng, sr=self.fcfg.sr)
                x = extract(self.fcfg, w)
            x = self.chain.apply_features(x, rng, fcfg=self.fcfg)
        return _batch(x, self.y[idx], None if self.weights is None else self.weights[idx], self.mixup, rng)

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._perm()


class BucketBatches(keras.utils.PyDataset):
    """Variable-length features batched by similar length: rows sorted by valid frames,
    cut into batches, batch order shuffled per epoch, each batch cropped to its longest
    row (masked sequence models then skip the rest).  Seeded per (epoch, batch)."""

    def __init__(self, x, y_onehot, lengths, chain, batch_size, seed, weights=None, fcfg=None, mixup=0.0,
                 weight_column=False):
        super().__init__()
        self.mixup = float(mixup)
        self.weight_column = bool(weight_column)  # the last column is the frames' decision weight, not a feature
        self.x, self.y, self.lengths, self.chain = x, y_onehot, np.asarray(lengths), chain
        self.fcfg = fcfg
        self.bs, self.seed, self.weights = batch_size, seed, weights
        order = np.argsort(self.lengths, kind="stable")
        self.batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        self.epoch = 0
        self._perm = self._shuffle()

    def _shuffle(self):
        perm = np.random.default_rng([self.seed, self.epoch, 11]).permutation(len(self.batches))
        if self.epoch == 0:
            # Keras (TensorFlow) fixes the batches' shape from the first two of the first epoch: when
            # both have the same longest row it takes that length as static and a longer batch fails.
            t = [int(self.lengths[self.batches[b]].max()) for b in perm]
            other = next((k for k in range(2, len(t)) if t[k] != t[0]), None)
            if len(t) > 2 and t[1] == t[0] and other is not None:
                perm[[1, other]] = perm[[other, 1]]
        return perm

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        idx = np.sort(self.batches[self._perm[i]])
        t = int(self.lengths[idx].max())
        x = np.array(self.x[idx, :t])
        rng = np.random.default_rng([self.seed, self.epoch, i])
        if self.chain is not None and self.chain.features:
            if self.weight_column:  # augment the features only: SpecAugment / freq_warp must not move the weights
                x[..., :-1] = self.chain.apply_features(x[..., :-1], rng, fcfg=self.fcfg)
            else:
                x = self.chain.apply_features(x, rng, fcfg=self.fcfg)
        y, w = self.y[idx], None if self.weights is None else self.weights[idx]
        if y.ndim == 3:  # per-frame targets and weights (data.silence_frames): cropped with the frames
            y, w = y[:, :t], (None if w is None else w[:, :t])
        return _batch(x, y, w, self.mixup, rng)

    def on_epoch_end(self):
        self.epoch += 1
        self._perm = self._shuffle()


def fit_inputs(cfg, data, *, console) -> tuple[dict, tuple | None]:
    """``(fit_kw, validation_data)`` for ``model.fit`` from a prepared run (:class:`~auricle.training.fit.TrainData`).

    ``fit_kw`` holds ``x`` (a PyDataset) or ``x``, ``y``, ``batch_size``, ``shuffle``,
    ``class_weight`` (arrays); ``validation_data`` is ``(x, one_hot)`` or None.
    """
    tr, va, n_cls, chain, fcfg = data.train, data.val, len(data.labels), data.chain, data.fcfg
    t, teacher = cfg.train, data.teacher
    y_tr = keras.utils.to_categorical(tr.y, n_cls).astype("float32")
    cw = data.class_weight
    weights = None if cw is None else np.array([cw[int(c)] for c in tr.y], dtype="float32")
    val_data = (va.x, keras.utils.to_categorical(va.y, n_cls)) if va is not None and len(va.y) else None
    if isinstance(tr.x, ShardedRows):  # data.cache: shards
        return stream_inputs(cfg, data, weights, console=console), val_data
    if data.variable and cfg.data.silence_frames:  # per-frame targets and loss weights (auricle.datasets.silence)
        from auricle.datasets.silence import frame_fit_data

        y_tr, weights = frame_fit_data(tr, n_cls, cfg.data.silence_frames, cw)
        if val_data is not None:
            val_data = (va.x, *frame_fit_data(va, n_cls, cfg.data.silence_frames))
    if data.variable:
        fit_kw = dict(x=BucketBatches(tr.x, y_tr, tr.lengths, chain, t.batch_size, t.seed, weights,
                                      fcfg=fcfg, mixup=t.mixup, weight_column=bool(cfg.data.silence_frames)))
    elif data.use_waves:
        power = _power_cache(cfg, chain, fcfg, tr.waves, console)
        if power:  # the mel-power cache replaces the audio: free it (Speech Commands: ~5 GB of waveforms)
            data.prep.splits["train"].waves = None
            tr.waves = None
        # a power-domain batch costs ~3 ms: one prefetch thread keeps up, and a second one only
        # contends with the training step for the cores (demo, 2 cores: 1.26x vs 1.41x slow-down)
        fit_kw = dict(x=AugmentedBatches(None if power else tr.waves, y_tr, fcfg, chain, t.batch_size, t.seed, weights,
                                         workers=1 if power else t.workers, power=power, mixup=t.mixup))
    elif chain.features or t.mixup:  # SpecAugment / mixup without waveform transforms (or windowed long files)
        fit_kw = dict(x=AugmentedBatches(None, y_tr, fcfg, chain, t.batch_size, t.seed, weights,
                                         workers=t.workers, feats=tr.x, mixup=t.mixup))
    else:
        if teacher is not None:  # fixed inputs: the teacher's targets are fixed too, computed once
            from auricle.distillation import soft_targets
            from auricle.evaluation import predict_probs

            y_tr = soft_targets(y_tr, predict_probs(teacher, tr.x), weight=t.teacher_weight,
                                temperature=t.teacher_temperature)
        fit_kw = dict(x=tr.x, y=y_tr, batch_size=t.batch_size, shuffle=True, class_weight=cw)
    if teacher is not None and "y" not in fit_kw:
        from auricle.distillation import teacher_batches_class

        fit_kw["x"] = teacher_batches_class()(fit_kw["x"], teacher, weight=t.teacher_weight,
                                              temperature=t.teacher_temperature)
    if val_data is not None and t.distribute == "none":  # replicas need batches they split evenly
        fit_kw["validation_batch_size"] = validation_batch_size(len(val_data[1]), t.batch_size)
    return fit_kw, val_data


def validation_batch_size(n: int, batch_size: int) -> int:
    """The batch size that cuts ``n`` validation rows into equal batches: the smallest divisor of ``n``
    from ``batch_size`` to 4x it, else all ``n`` rows when that is at most 4 batches, else ``batch_size``.
    Equal batches trace the evaluation step once instead of twice (a short last batch is a new shape).

    Examples
    --------
    >>> validation_batch_size(180, 32), validation_batch_size(100, 32), validation_batch_size(1009, 32)
    (36, 50, 32)
    """
    if n <= batch_size:
        return max(1, n)
    for b in range(batch_size, 4 * batch_size + 1):
        if n % b == 0:
            return b
    return n if n <= 4 * batch_size else batch_size


def stream_inputs(cfg, data, weights, *, console) -> dict:
    """``fit_kw`` streaming the training split from its sharded cache (``data.cache: shards``).

    A ``tf.data`` pipeline (:meth:`auricle.datasets.shards.ShardedRows.dataset`): shard order
    shuffled per epoch, rows shuffled in a buffer of :data:`STREAM_SHUFFLE_BUFFER`; feature-domain
    augmentation (SpecAugment) and mixup run per batch seeded by ``(train.seed, batch number)``;
    class weights ride along as sample weights; an oversampled split repeats its rows' indices
    (no copy).  Waveform augmentation, variable-length buckets and distillation need the audio or
    every row in memory: a :class:`ConfigError` naming them (``auricle.data.choose_cache`` refuses
    them before any featurization; this is the last line).
    """
    from auricle.data import stream_blockers

    t, tr, chain, fcfg = cfg.train, data.train, data.chain, data.fcfg
    blockers = stream_blockers(cfg, with_train_waves=data.use_waves)
    if blockers:
        raise ConfigError(f"data.cache: shards cannot stream the training split with {'; '.join(blockers)}",
                          fix="set data.cache: memory, or drop that setting")
    batch_fn = None
    if chain.features or t.mixup:
        def batch_fn(x, y, w, rng):
            if chain.features:
                x = chain.apply_features(x, rng, fcfg=fcfg)
            if t.mixup:
                x, y, w = mixup(x, y, w, t.mixup, rng)
            return x, y, w
    ds = tr.x.dataset(tr.y, n_classes=len(data.labels), batch_size=t.batch_size, seed=t.seed, weights=weights,
                      batch_fn=batch_fn, shuffle_buffer=STREAM_SHUFFLE_BUFFER)
    extra = [w for w, on in (("SpecAugment", bool(chain.features)), ("mixup", bool(t.mixup)),
                             ("class weights", weights is not None)) if on]
    console.print(f"training split streamed from {len(tr.x.shards.shards)} shard(s) through tf.data "
                  f"(shuffle buffer {STREAM_SHUFFLE_BUFFER:,} rows{', ' + ', '.join(extra) if extra else ''})")
    return dict(x=ds, shuffle=False)  # shuffled by the pipeline itself


def _power_cache(cfg, chain, fcfg, waves, console):
    """``(mel power, rms, PowerAugmenter)`` of the training clips when the chain runs in the
    power domain (``train.augment_domain``: auto/power), else None (augment the waveforms)."""
    from auricle.augment.power import PowerAugmenter, power_reason

    domain = cfg.train.augment_domain
    if domain == "waveform":
        return None
    why = power_reason(chain, fcfg)
    if why:
        if domain == "power":
            raise ConfigError(f"augmentation cannot run in the power domain: {why}",
                              fix="set train.augment_domain: auto or waveform")
        console.print(f"augmentation on the waveform ({why})")
        return None
    t0 = time.time()
    aug = PowerAugmenter(chain, fcfg)
    S, rms = aug.cache(waves)
    console.print(f"augmentation in the power domain: mel power of {S.shape[1]} clips x {S.shape[0]} framing phase(s) "
                  f"cached in {time.time() - t0:.1f}s (train.augment_domain: waveform to augment the audio itself)")
    return S, rms, aug
