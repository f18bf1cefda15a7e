"""Test-time augmentation baked into the saved model: average over time-shifted copies.

A trained model that saw each word at many offsets (``augment.time_shift``) still gives
slightly different answers for the same clip a few frames earlier or later.  Averaging the
probabilities over the clip and shifted copies of it (``train.tta_shift_ms``) smooths that out.
The average is part of the saved ``.keras`` model (shared weights, no new parameters), so
``auricle predict``, ``evaluate``, ``ensemble`` and ONNX/TFLite export all see the same thing;
inference costs one forward pass per copy.

Off by default, on in ``--recipe tiny`` only: figures in docs/experiments/test-time-augmentation.md.
"""
from __future__ import annotations

from auricle.errors import ConfigError


def shift_frames(shift_ms, fcfg) -> list[int]:
    """Milliseconds -> whole feature frames (samples for waveform features), zero and repeats dropped."""
    per_s = fcfg.sr if fcfg.kind == "waveform" else fcfg.sr / fcfg.resolved_hop_length
    out = []
    for ms in shift_ms or []:
        k = int(round(float(ms) / 1000.0 * per_s))
        if k and k not in out:
            out.append(k)
    return out


def check(shift_ms) -> list:
    """Validate ``train.tta_shift_ms``: a list of numbers (ms), or empty/None for none."""
    if shift_ms is None:
        return []
    if isinstance(shift_ms, (int, float)) and not isinstance(shift_ms, bool):
        shift_ms = [-abs(shift_ms), abs(shift_ms)]
    if not isinstance(shift_ms, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in shift_ms):
        raise ConfigError(f"train.tta_shift_ms must be a list of shifts in ms, got {shift_ms!r}",
                          fix="e.g. --set 'train.tta_shift_ms=[-50, 50]' (or a single number n for [-n, n]); [] for none")
    return list(shift_ms)


def shift_average(model, frames, *, name: str | None = None):
    """A model whose output is the mean of ``model`` on its input and on the input shifted by each
    of ``frames`` (feature frames, :class:`~auricle.models.layers.FrameShift`).  Weights are shared:
    the result has exactly ``model``'s parameters.

    Examples
    --------
    >>> import keras, numpy as np
    >>> inp = keras.Input((6, 2)); base = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(inp[:, 0]))
    >>> tta = shift_average(base, [-1, 1])
    >>> tta.count_params() == base.count_params()
    True
    >>> x = np.random.default_rng(0).normal(size=(4, 6, 2)).astype("float32")
    >>> want = (base(x) + base(np.concatenate([x[:, 1:], x[:, -1:]], 1)) + base(np.concatenate([x[:, :1], x[:, :-1]], 1))) / 3
    >>> bool(np.allclose(tta(x), want, atol=1e-6))
    True
    """
    import keras
    from keras import layers

    from auricle.models.layers import FrameShift

    frames = [int(k) for k in frames if int(k)]
    if not frames:
        return model
    if model.input_shape[1] is None:
        raise ConfigError("train.tta_shift_ms needs clips of a fixed length; this model takes any length "
                          "(data.variable_length)", fix="drop train.tta_shift_ms or data.variable_length")
    inp = keras.Input(shape=tuple(model.input_shape[1:]), name="features")
    outs = [model(inp)] + [model(FrameShift(k, name=f"shift_{'m' if k < 0 else 'p'}{abs(k)}")(inp)) for k in frames]
    out = layers.Average(name="tta_average")(outs)
    return keras.Model(inp, out, name=name or f"{model.name}_tta")


def _shift_wrapped(model):
    """The network inside a :func:`shift_average` wrapper, or None when ``model`` is not one."""
    import keras

    from auricle.models.layers import FrameShift

    inner = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(inner) == 1 and any(isinstance(layer, FrameShift) for layer in model.layers) and \
            any(layer.name == "tta_average" for layer in model.layers):
        return inner[0]
    return None


def without_shifts(model):
    """``model`` without the test-time shifts built into it or into the members of an ensemble.

    A distillation teacher scores every augmented training batch; its test-time shifts would
    triple that cost (FSDD, three resnet_tiny runs + a cnn: 36 -> 12 ms per batch of 32, 8.0 ->
    4.6 s per epoch beside a second fold) while the batches are shifted at random anyway.  Returns
    ``model`` itself when there is nothing to remove; an ensemble (:func:`auricle.models.ensemble.average_models`)
    is rebuilt on the same (shared) member weights.

    Examples
    --------
    >>> import keras, numpy as np
    >>> inp = keras.Input((6, 2)); base = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(inp[:, 0]))
    >>> without_shifts(shift_average(base, [-1, 1])) is base
    True
    >>> without_shifts(base) is base
    True
    """
    import keras
    from keras import layers

    inner = _shift_wrapped(model)
    if inner is not None:
        return inner
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    kinds = {type(layer) for layer in model.layers} - {keras.layers.InputLayer, layers.Average}
    if len(members) < 2 or not all(issubclass(k, keras.Model) for k in kinds) or \
            not any(isinstance(layer, layers.Average) for layer in model.layers):
        return model  # not an average of nested models: leave it alone
    stripped = [without_shifts(m) for m in members]
    if all(s is m for s, m in zip(stripped, members)):
        return model
    inp = keras.Input(shape=tuple(model.input_shape[1:]), name="features")
    outs = []
    for m, s in zip(members, stripped):
        if s is not m:
            s.name = m.name  # members of the same family keep distinct names (m0_..., m1_...)
        outs.append(s(inp))
    return keras.Model(inp, layers.Average(name="average")(outs), name=model.name)
