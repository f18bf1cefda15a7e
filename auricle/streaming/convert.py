"""Trained models as step models: a few feature frames in, the class posteriors out, state carried.

A *step model* is a plain Keras functional model with fixed batch 1::

    inputs : frames (1, k, bins), state_0, state_1, ...
    outputs: probs (1, n_classes), new_state_0, new_state_1, ...

Every state is an explicit input and output (the kws_streaming "external state" idea), so the
same graph exports to ONNX / TFLite and runs in onnxruntime or LiteRT with the state kept in
numpy by :class:`StepRunner`; ``reset()`` sets the states back to zeros.

Two ways of streaming a model
-----------------------------
``incremental`` (exact, O(1) work per frame)
    The offline graph is rewritten layer by layer: LSTM/GRU/SimpleRNN layers become their
    cells with ``h`` (and ``c``) as state; causal ``Conv1D`` layers get a ring buffer of their
    last ``(kernel - 1) * dilation`` input frames; ``GlobalAveragePooling1D`` /
    ``GlobalMaxPooling1D`` keep the last ``T`` outputs (``T`` = the offline length at that
    layer); per-frame layers (Dense, BatchNorm, LayerNorm, activations, Add ...) are reused
    as they are.  With strided convolutions a step takes ``k`` = the total stride frames at
    once.  After :meth:`StepRunner.reset`, feeding a clip's frames gives the offline model's
    output on that clip (``tests/test_streaming.py``: within 1e-5).
``window`` (exact, a full forward pass per step)
    The state is a ring buffer of the last ``n_frames`` feature frames (the training clip) and
    each step runs the offline model on it: the output equals the offline model on the last
    clip-length window.  Any model streams this way; it is what models whose layers look at
    future frames or mix the whole clip (2-D convolutions with ``same`` padding, Flatten,
    bidirectional RNNs, attention over the clip) fall back to.

Which models stream how (:func:`streamability`)
-------------------------------------------------
=================  ===========  ======================================================================
model              incremental  why
=================  ===========  ======================================================================
lstm, gru          exact        unidirectional RNN: the state after frame t only depends on frames <= t
                                (``bidirectional=True`` -> window only: the backward RNN needs the future)
tc_resnet8/14      exact        with ``padding="causal"`` (ring buffers, k = 8 frames per step);
                                the published ``padding="same"`` looks 4 frames per layer ahead -> window
cnn, cnn2, resnet  no           2-D convs with ``same`` padding look ahead in time; Flatten (cnn) ties
                                each weight to an absolute frame position -> window
ds_cnn, bc_resnet  no           ``same``-padded convolutions in time -> window
crnn               no (window)  the ``valid`` Conv2D front end is causal, but its first outputs of a
                                stream would feed the GRU steps the offline model never sees (needs a
                                warm-up mask; not done) -> window
att_rnn, mlp       no           bidirectional LSTMs + attention over the clip / Flatten -> window
=================  ===========  ======================================================================

Suggested ``streamable`` values for the registry: ``"exact"`` (incremental and exact: lstm,
gru), ``"causal"`` (exact when built with ``padding="causal"``: tc_resnet8/14), ``"window"``
(exact only by re-running the model on a sliding window: every other model).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from auricle.errors import ModelError

__all__ = ["NotStreamable", "StepModel", "StepRunner", "make_step_model", "streamability"]

#: layers that act on each frame independently (last axis only)
_PER_FRAME = ("Dense", "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "Dropout", "SpatialDropout1D",
              "GaussianDropout", "GaussianNoise", "AlphaDropout", "Identity", "BatchNormalization",
              "LayerNormalization", "Masking")
_MERGE = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate")
_RNN = ("LSTM", "GRU", "SimpleRNN")


class NotStreamable(ModelError):
    """The model has a layer that cannot be rewritten into an incremental step."""


@dataclass
class _Sym:
    t: object            # the new KerasTensor
    kind: str            # "seq" (1, k, ch) or "vec" (1, ch)
    k: int = 0           # frames per step of a seq
    stride: int = 1      # input frames per frame of a seq


@dataclass
class StepModel:
    """A step model and what a runner needs to drive it."""

    model: object                       # keras.Model: [frames, *states] -> [probs, *states]
    mode: str                           # "incremental" or "window"
    frames_per_step: int
    bins: int
    n_frames: int                       # frames of the training clip
    state_names: list = field(default_factory=list)
    state_shapes: list = field(default_factory=list)   # each with the batch axis (1, ...)
    exact: bool = True
    reason: str = ""
    latency_frames: int = 0             # frames after the decisive frame before its output appears

    def runner(self) -> "StepRunner":
        """A :class:`StepRunner` executing this step model with TensorFlow."""
        return StepRunner(keras_step_fn(self.model, len(self.state_shapes)), self.state_shapes,
                          self.frames_per_step, self.bins, pad_flush=self.mode == "incremental")

    def meta(self) -> dict:
        return {"mode": self.mode, "frames_per_step": self.frames_per_step, "bins": self.bins,
                "n_frames": self.n_frames, "state_names": list(self.state_names),
                "state_shapes": [list(s) for s in self.state_shapes], "exact": self.exact,
                "reason": self.reason, "latency_frames": self.latency_frames}


# ----------------------------------------------------------------------------------------
# analysis


def _layer_kind(layer) -> str:
    return type(layer).__name__


def streamability(model) -> tuple[str, str]:
    """``("incremental" | "window", reason)`` for a built Keras model (no conversion done)."""
    try:
        _Converter(model, frames_per_step=None).run()
        return "incremental", "every layer streams frame by frame exactly"
    except NotStreamable as exc:
        return "window", exc.message


def _total_stride(model) -> int:
    """Input frames per output frame at the coarsest point of the graph (product of Conv1D strides)."""
    stride = {id(t): 1 for t in model.inputs}
    worst = 1
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            s = max([stride.get(id(t), 1) for t in node.input_tensors] or [1])
            if _layer_kind(node.operation) == "Conv1D":
                s *= int(node.operation.strides[0])
            worst = max(worst, s)
            for t in node.output_tensors:
                stride[id(t)] = s
    return worst


# ----------------------------------------------------------------------------------------
# conversion


class _Converter:
    def __init__(self, model, frames_per_step, per_frame=False):
        self.model = model
        self.per_frame = bool(per_frame)
        self.k = frames_per_step
        self.state_in, self.state_out, self.state_names = [], [], []
        self.latency = 0

    def _state(self, name, shape, dtype="float32"):
        import keras

        inp = keras.Input(batch_shape=(1, *shape), name=f"state_{len(self.state_in)}_{name}", dtype=dtype)
        self.state_in.append(inp)
        self.state_names.append(name)
        return inp

    def run(self):
        import keras

        m = self.model
        if len(m.inputs) != 1 or len(m.outputs) != 1:
            raise NotStreamable("only single-input, single-output models are converted")
        in_shape = tuple(m.inputs[0].shape[1:])
        if len(in_shape) != 2 or (in_shape[0] is None and not self.per_frame):
            raise NotStreamable(f"input shape {in_shape} is not (frames, bins)")
        self.n_frames, self.bins = int(in_shape[0] or 0), int(in_shape[1])
        if self.k is None:
            self.k = _total_stride(m)
        frames = keras.Input(batch_shape=(1, self.k, self.bins), name="frames")
        self.frames = frames
        sym = {id(m.inputs[0]): _Sym(frames, "seq", self.k, 1)}
        for depth in sorted(m._nodes_by_depth, reverse=True):
            for node in m._nodes_by_depth[depth]:
                layer = node.operation
                if _layer_kind(layer) == "InputLayer":
                    continue
                ins = [sym[id(t)] for t in node.input_tensors]
                outs = self._layer(layer, ins, node)
                outs = outs if isinstance(outs, list) else [outs]
                for t, s in zip(node.output_tensors, outs):
                    sym[id(t)] = s
        out = sym[id(m.outputs[0])]
        if out.kind != "vec" and not self.per_frame:
            raise NotStreamable("the model's output is per frame, not per clip")
        return out

    # -- per layer ---------------------------------------------------------------------------
    def _layer(self, layer, ins, node):
        kind = _layer_kind(layer)
        if all(s.kind == "vec" for s in ins):
            t = layer([s.t for s in ins]) if len(ins) > 1 else layer(ins[0].t)
            return _Sym(t, "vec")
        if any(s.kind == "vec" for s in ins):
            raise NotStreamable(f"layer '{layer.name}' mixes per-frame and per-clip tensors")
        s0 = ins[0]
        if kind in _RNN:
            return self._rnn(layer, s0)
        if kind == "Bidirectional":
            raise NotStreamable(f"'{layer.name}' is bidirectional: its backward half needs future frames")
        if kind == "Conv1D":
            return self._conv1d(layer, s0)
        if kind in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
            return self._gpool(layer, s0, node)
        if kind in _PER_FRAME:
            axis = getattr(layer, "axis", -1)
            axes = axis if isinstance(axis, (list, tuple)) else [axis]
            if any(a not in (-1, 2) for a in axes):
                raise NotStreamable(f"'{layer.name}' normalises over time (axis={axis})")
            return _Sym(layer(s0.t), "seq", s0.k, s0.stride)
        if kind in _MERGE:
            if any((s.k, s.stride) != (s0.k, s0.stride) for s in ins):
                raise NotStreamable(f"'{layer.name}' merges sequences of different frame rates")
            if kind == "Concatenate" and layer.axis not in (-1, 2):
                raise NotStreamable(f"'{layer.name}' concatenates along time")
            return _Sym(layer([s.t for s in ins]), "seq", s0.k, s0.stride)
        reason = {"Flatten": "Flatten ties each weight to an absolute frame position",
                  "Reshape": "a Reshape of the (time, bins) map (2-D convolutions follow)",
                  "Conv2D": "a 2-D convolution", "DepthwiseConv2D": "a 2-D convolution"}.get(kind, f"a {kind} layer")
        raise NotStreamable(f"'{layer.name}' is {reason}; it cannot be run frame by frame exactly")

    def _rnn(self, layer, s):
        from keras import ops

        if layer.go_backwards:
            raise NotStreamable(f"'{layer.name}' runs backwards in time")
        # a copy of the trained cell with a name of its own (every Keras RNN's cell is "<kind>_cell")
        cell = type(layer.cell).from_config({**layer.cell.get_config(), "name": f"{layer.name}_cell"})
        cell.build((None, int(s.t.shape[-1])))
        cell.set_weights(layer.cell.get_weights())
        units = int(cell.units)
        names = ["h", "c"] if _layer_kind(layer) == "LSTM" else ["h"]
        states = [self._state(f"{layer.name}_{n}", (units,)) for n in names]
        outs = []
        for i in range(s.k):
            x = s.t[:, i, :]
            y, states = cell(x, states)
            if not isinstance(states, (list, tuple)):
                states = [states]
            states = list(states)
            outs.append(y)
        self.state_out += states
        if layer.return_sequences:
            return _Sym(ops.stack(outs, axis=1), "seq", s.k, s.stride)
        return _Sym(outs[-1], "vec")

    def _conv1d(self, layer, s):
        import keras
        from keras import ops

        K, d, st = int(layer.kernel_size[0]), int(layer.dilation_rate[0]), int(layer.strides[0])
        pad = layer.padding
        if getattr(layer, "groups", 1) != 1:
            raise NotStreamable(f"'{layer.name}' is a grouped convolution")
        if pad == "same" and K > 1:
            raise NotStreamable(f"'{layer.name}' uses padding='same' (looks {(K - 1) * d // 2} frames ahead); "
                                "build the model with padding='causal' to stream it")
        if pad == "valid" and K > 1:
            raise NotStreamable(f"'{layer.name}' is a 'valid' convolution: its first outputs would need a warm-up mask")
        if s.k % st:
            raise NotStreamable(f"'{layer.name}' has stride {st}, which does not divide the {s.k} frames per step")
        cfg = layer.get_config()
        cfg.update(padding="valid", name=f"{layer.name}_stream")
        conv = keras.layers.Conv1D.from_config(cfg)
        buf = (K - 1) * d
        x = s.t
        if buf:
            state = self._state(layer.name, (buf, int(s.t.shape[-1])))
            x = ops.concatenate([state, x], axis=1)
            self.state_out.append(x[:, -buf:, :])
        conv.build(x.shape)
        conv.set_weights(layer.get_weights())
        return _Sym(conv(x), "seq", s.k // st, s.stride * st)

    def _gpool(self, layer, s, node):
        from keras import ops

        T = node.input_tensors[0].shape[1]
        if T is None:
            raise NotStreamable(f"'{layer.name}' pools over a sequence of unknown length")
        T = int(T)
        if s.k > T:
            raise NotStreamable(f"'{layer.name}' pools {T} frames but a step brings {s.k}")
        if getattr(layer, "keepdims", False):
            raise NotStreamable(f"'{layer.name}' keeps the time axis")
        ch = int(s.t.shape[-1])
        state = self._state(layer.name, (T, ch))
        x = ops.concatenate([state, s.t], axis=1)[:, -T:, :]
        self.state_out.append(x)
        red = ops.mean if _layer_kind(layer) == "GlobalAveragePooling1D" else ops.max
        return _Sym(red(x, axis=1), "vec")


def make_step_model(model, *, mode: str = "auto", frames_per_step: int | None = None,
                    per_frame: bool = False) -> StepModel:
    """Convert a trained Keras model into a :class:`StepModel`.

    Parameters
    ----------
    model : keras.Model
        A functional model over time-major ``(frames, bins)`` features (a run's ``model.keras``).
    mode : {"auto", "incremental", "window"}
        ``auto`` tries ``incremental`` and falls back to ``window`` (see the module docs).
    frames_per_step : int, optional
        Frames a step consumes; default: the total stride of the model (1 for RNNs, 8 for
        TC-ResNet8) for ``incremental``, 1 for ``window``.
    per_frame : bool
        The model's output is per frame (a framewise network, :func:`auricle.models.frames.frame_network`):
        a step then outputs ``(1, k, C)``, one posterior per frame (``incremental`` only).

    Raises
    ------
    NotStreamable
        ``mode="incremental"`` for a model that cannot stream incrementally (the message says
        which layer and why).
    """
    import keras

    if mode not in ("auto", "incremental", "window"):
        raise ModelError(f"unknown streaming mode {mode!r}", fix="use auto, incremental or window")
    in_shape = tuple(model.inputs[0].shape[1:])
    if len(in_shape) != 2:
        raise NotStreamable(f"model input {in_shape} is not (frames, bins): waveform models do not stream")
    n_frames, bins = int(in_shape[0] or 0), int(in_shape[1])
    reason = ""
    if mode in ("auto", "incremental"):
        try:
            c = _Converter(model, frames_per_step, per_frame)
            out = c.run()
            step = keras.Model([c.frames, *c.state_in], [out.t, *c.state_out], name=f"{model.name}_step")
            return StepModel(step, "incremental", c.k, bins, n_frames, c.state_names,
                             [tuple(t.shape) for t in c.state_in], True,
                             "incremental: every layer streams frame by frame", c.k - 1)
        except NotStreamable as exc:
            if mode == "incremental" or per_frame:
                raise
            reason = exc.message
    k = int(frames_per_step or 1)
    if k > n_frames:
        raise ModelError(f"frames_per_step={k} is more than the model's {n_frames} frames")
    frames = keras.Input(batch_shape=(1, k, bins), name="frames")
    state = keras.Input(batch_shape=(1, n_frames, bins), name="state_0_window")
    from keras import ops

    window = ops.concatenate([state, frames], axis=1)[:, -n_frames:, :]
    probs = model(window)
    step = keras.Model([frames, state], [probs, window], name=f"{model.name}_window_step")
    why = ("window: the offline model re-runs on the last %d frames every %d frame(s)" % (n_frames, k)
           + (f" (not incremental: {reason})" if reason else ""))
    return StepModel(step, "window", k, bins, n_frames, ["window"], [(1, n_frames, bins)], True, why, k - 1)


# ----------------------------------------------------------------------------------------
# running


def keras_step_fn(model, n_states: int):
    """``fn(frames, states) -> (probs, new_states)`` on numpy arrays, via a traced tf.function."""
    import tensorflow as tf

    specs = [tf.TensorSpec(t.shape, t.dtype) for t in model.inputs]

    @tf.function(input_signature=specs, reduce_retracing=True)
    def f(*args):
        return model(list(args), training=False)

    def fn(frames, states):
        out = f(frames, *states)
        out = [o.numpy() for o in out]
        return out[0], out[1:]

    return fn


class StepRunner:
    """Drive a step function over a stream of feature frames, keeping the states in numpy.

    ``fn(frames (1, k, bins), states) -> (probs (1, C), new_states)`` may come from Keras
    (:func:`keras_step_fn`), onnxruntime or LiteRT (:mod:`auricle.export`).  Frames are
    buffered until a step's ``k`` are there.
    """

    def __init__(self, fn, state_shapes, frames_per_step: int, bins: int, *, pad_flush: bool = True):
        self.fn = fn
        self.pad_flush = bool(pad_flush)
        self.state_shapes = [tuple(s) for s in state_shapes]
        self.k = int(frames_per_step)
        self.bins = int(bins)
        self.reset()

    def reset(self) -> None:
        """Zero the states: the next frame starts a new clip."""
        self.states = [np.zeros(s, dtype=np.float32) for s in self.state_shapes]
        self._pending = np.zeros((0, self.bins), dtype=np.float32)
        self.frames = 0        # frames consumed by steps
        self.last = None       # latest probabilities (C,)

    def push(self, frames) -> np.ndarray:
        """Add ``(n, bins)`` frames; returns ``(steps, C)`` probabilities, one row per step run."""
        frames = np.asarray(frames, dtype=np.float32).reshape(-1, self.bins)
        if self._pending.size:
            frames = np.concatenate([self._pending, frames])
        n_steps = len(frames) // self.k
        outs = []
        for i in range(n_steps):
            chunk = frames[i * self.k:(i + 1) * self.k][None]
            probs, self.states = self.fn(np.ascontiguousarray(chunk), self.states)
            outs.append(np.asarray(probs).reshape(-1))
        self.frames += n_steps * self.k
        self._pending = frames[n_steps * self.k:]
        if outs:
            self.last = outs[-1]
            return np.stack(outs)
        return np.zeros((0, 0), dtype=np.float32)

    def flush(self) -> np.ndarray:
        """Complete a partial step with zero frames (causal models ignore them for the output)."""
        if not len(self._pending) or not self.pad_flush:
            return np.zeros((0, 0), dtype=np.float32)
        pad = np.zeros((self.k - len(self._pending), self.bins), dtype=np.float32)
        return self.push(pad)

    def run_clip(self, features) -> np.ndarray:
        """Reset, feed a whole ``(frames, bins)`` clip, flush; the final probabilities (C,)."""
        self.reset()
        self.push(features)
        self.flush()
        return self.last


def save_meta(step: StepModel, path) -> None:
    from pathlib import Path

    Path(path).write_text(json.dumps(step.meta(), indent=1))
