"""Framewise recurrent classifiers: a posterior per feature frame, one decision per utterance.

Built by ``lstm`` / ``gru`` with ``frames="mask"|"remove"|"label"`` (training sets it from
``data.silence_frames``, see :mod:`auricle.datasets.silence`).  The input is ``(T, bins + 1)``:
the features plus each frame's decision weight in the last column.  :class:`FrameFeatures`
splits the features off for the network, which ends in a per-frame softmax named
``frame_probs`` (trained with per-frame targets and loss weights, :func:`frame_model`), and
:class:`FrameDecision` averages the frame posteriors with the weights into the utterance's
posteriors: the saved model's output, so evaluation, ``predict`` and the exports all decide the
same way.  :func:`frame_network` rebuilds the network alone (features in, frame posteriors out)
for streaming (:mod:`auricle.streaming.utterances`).
"""
from __future__ import annotations

import keras
from keras import ops

FRAME_OUTPUT = "frame_probs"
SPLIT = "frame_features"


@keras.saving.register_keras_serializable(package="auricle")
class FrameFeatures(keras.layers.Layer):
    """``(B, T, bins + 1)`` -> the features ``(B, T, bins)`` (the last column, the weights, dropped)."""

    def call(self, x):
        return x[..., :-1]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] - 1)


@keras.saving.register_keras_serializable(package="auricle")
class FrameWeights(keras.layers.Layer):
    """``(B, T, bins + 1)`` -> the decision weights ``(B, T)`` (the last column)."""

    def call(self, x):
        return x[..., -1]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])


@keras.saving.register_keras_serializable(package="auricle")
class FrameDecision(keras.layers.Layer):
    """``[frame posteriors (B, T, C[+1]), weights (B, T)]`` -> ``(B, C)``: the weighted mean over
    frames; with ``silence_class`` the last column is dropped and each frame renormalized first."""

    def __init__(self, silence_class: bool = False, **kw):
        super().__init__(**kw)
        self.silence_class = bool(silence_class)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        p, w = inputs
        if self.silence_class:
            p = p[..., :-1]
            p = p / ops.maximum(ops.sum(p, axis=-1, keepdims=True), 1e-12)
        w = ops.expand_dims(ops.cast(w, p.dtype), -1)
        return ops.sum(p * w, axis=1) / ops.maximum(ops.sum(w, axis=1), 1e-12)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        p = input_shape[0]
        return (p[0], p[-1] - 1 if self.silence_class else p[-1])

    def get_config(self):
        return {**super().get_config(), "silence_class": self.silence_class}


def is_framewise(model) -> bool:
    """Whether ``model`` is a framewise classifier (has the ``frame_probs`` layer)."""
    return any(layer.name == FRAME_OUTPUT for layer in model.layers)


def frame_model(model):
    """The same layers with the per-frame posteriors as output (what training fits)."""
    return keras.Model(model.inputs, model.get_layer(FRAME_OUTPUT).output, name=f"{model.name}_frames")


def decision_model(frames, *, silence_class: bool = False):
    """A trained frame model (:func:`frame_model`) with the utterance decision on top again:
    what a run saves (its checkpoints hold the frame model)."""
    inp = frames.inputs[0]
    w = FrameWeights(name="frame_weights")(inp)
    out = FrameDecision(silence_class=silence_class, name="decision")([frames.outputs[0], w])
    return keras.Model(inp, out, name=frames.name.removesuffix("_frames"))


def frame_network(model):
    """Features ``(T, bins)`` in, frame posteriors out: the layers between the split and
    ``frame_probs`` applied to a new input (weights shared), for step-model conversion."""
    names = [layer.name for layer in model.layers]
    chain = model.layers[names.index(SPLIT) + 1:names.index(FRAME_OUTPUT) + 1]
    # a stream has no padding, so the Masking layer (identity on real frames) is left out
    chain = [layer for layer in chain if not isinstance(layer, (FrameWeights, FrameDecision, keras.layers.Masking))]
    bins = int(model.inputs[0].shape[-1]) - 1
    inp = keras.Input(shape=(None, bins), name="features")
    x = inp
    for layer in chain:
        x = layer(x)
    return keras.Model(inp, x, name=f"{model.name}_network")
