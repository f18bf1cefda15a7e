"""``train.distribute``: one model trained on several devices or hosts with TensorFlow's
distribution strategies (Keras 3 on the TensorFlow backend).

* ``none`` (default): the default strategy, one device.
* ``mirrored``: :class:`tf.distribute.MirroredStrategy` over this machine's GPUs, or over its
  logical CPU devices where there is no GPU (one replica on a plain CPU; tests and the benchmark
  split the CPU into two logical devices with ``tf.config.set_logical_device_configuration``).
* ``multi_worker``: :class:`tf.distribute.MultiWorkerMirroredStrategy` across the processes /
  hosts named in the ``TF_CONFIG`` environment variable, started with the same command on
  each (``auricle train ... --out RUN``; ``RUN`` on a filesystem every worker sees).  The chief
  (task ``chief``, else ``worker`` 0) writes the run directory; the other workers train the same
  steps and write nothing.  A killed worker stops the job (the collective ops wait for it);
  restart every worker with ``auricle train --resume RUN`` and the job goes on after the last
  checkpointed epoch.

Batch size and learning rate
----------------------------
``train.batch_size`` is the **global** batch: each of N replicas computes ``batch_size / N``
examples per step and the gradients are summed across replicas, so the same config gives the
same optimization on 1 or N devices (equal to one device within float tolerance; tested).  The
learning rate is not changed automatically.  To use N replicas for throughput, raise
``train.batch_size`` N-fold and scale ``train.learning_rate`` by N as well (the linear scaling rule,
Goyal et al. 2017), with a few ``train.warmup_epochs`` when N is large.

The JAX and PyTorch backends have no TensorFlow strategy: ``train.distribute`` other than ``none``
is a :class:`~auricle.errors.ConfigError` there (Keras' ``keras.distribution`` API is their path).
"""
from __future__ import annotations

import contextlib
import json
import os

from auricle.config import DISTRIBUTE as MODES
from auricle.errors import ConfigError


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({exc})",
                          fix='e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                              '"task": {"type": "worker", "index": 0}}') from None


def check(t) -> None:
    """Validate ``train.distribute`` (and ``TF_CONFIG`` for ``multi_worker``) before any work."""
    if t.distribute not in MODES:
        raise ConfigError(f"train.distribute must be one of {', '.join(MODES)}, got {t.distribute!r}")
    if t.distribute == "none":
        return
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        raise ConfigError(f"train.distribute: {t.distribute} needs the TensorFlow backend (KERAS_BACKEND={backend})",
                          fix="unset KERAS_BACKEND (or set it to tensorflow), or train with train.distribute: none")
    if t.distribute == "multi_worker":
        tc = _tf_config()
        if not tc.get("cluster") or not tc.get("task"):
            raise ConfigError("train.distribute: multi_worker needs TF_CONFIG naming the cluster and this task",
                              fix='export TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                                  '"task": {"type": "worker", "index": 0}}\' on each worker (index 1 on the second)')


def is_chief_worker(t) -> bool:
    """Whether this process writes the run directory: always, except a multi-worker job's non-chief workers."""
    if t.distribute != "multi_worker":
        return True
    tc = _tf_config()
    task = tc.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    if "chief" in tc.get("cluster", {}):
        return kind == "chief"
    return kind == "worker" and index == 0


def strategy(t, *, console):
    """The ``tf.distribute`` strategy for ``train.distribute`` (None for ``none``).

    Create it before any other TensorFlow work: ``MultiWorkerMirroredStrategy`` configures the
    collective ops at program start-up."""
    check(t)
    if t.distribute == "none":
        return None
    import tensorflow as tf

    if t.distribute == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        s = tf.distribute.MirroredStrategy(devices=devices)
        where = f"{len(devices)} local {'GPU' if gpus else 'CPU'} device(s)"
    else:
        s = tf.distribute.MultiWorkerMirroredStrategy()
        n = len(_tf_config()["cluster"].get("worker", [])) + len(_tf_config()["cluster"].get("chief", []))
        where = f"{n} workers (TF_CONFIG), {s.num_replicas_in_sync} replica(s) in all"
    per = t.batch_size / s.num_replicas_in_sync
    console.print(f"distribute: {t.distribute} on {where}; global batch {t.batch_size} "
                  f"({per:g} per replica), learning rate {t.learning_rate:g} as configured")
    if t.batch_size % s.num_replicas_in_sync:
        console.print(f"[yellow]train.batch_size {t.batch_size} is not a multiple of the {s.num_replicas_in_sync} "
                      "replicas: the replicas get unequal shares[/yellow]")
    return s


def scope(s):
    """``s.scope()``, or a no-op context for no strategy: models and optimizers are created in it."""
    return s.scope() if s is not None else contextlib.nullcontext()


def prepare_model(model, s) -> None:
    """Work around Keras 3's ``fit`` under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585,
    open for Keras 3.5-3.15 with TF 2.17-2.21): its first-batch build reduces the input batch
    eagerly, which the collective strategy cannot do, and its per-step reduction of the logs asks
    for a mean over axis 0 of scalars.  The model's build takes the local replica's batch (only
    its shapes matter) and scalar logs are averaged over the workers with ``axis=None``; both are
    no-ops for any other strategy.  The logs are then the same on every worker (tested), so early
    stopping and the best epoch agree across the job."""
    import tensorflow as tf

    if s is None or not isinstance(s, tf.distribute.MultiWorkerMirroredStrategy):
        return
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def local_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: s.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues)
                    else v, next(it))
                break
        with s.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = local_build
    if not getattr(tf_trainer.reduce_per_replica, "_auricle", False):
        original = tf_trainer.reduce_per_replica

        def reduce_per_replica(values, strategy, reduction):
            if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):
                return tf.nest.map_structure(
                    lambda v: strategy.reduce("MEAN", v, axis=0 if v.shape.rank else None), values)
            return original(values, strategy, reduction)

        reduce_per_replica._auricle = True
        tf_trainer.reduce_per_replica = reduce_per_replica


def describe(s) -> dict:
    """What ``metrics.json`` records about the strategy."""
    return {} if s is None else {"replicas": int(s.num_replicas_in_sync)}
