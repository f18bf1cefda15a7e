"""Recurrent models (LSTM / GRU) over feature frames."""
from __future__ import annotations

from auricle.models.common import classifier_head, regularizer, scaled
from auricle.models.registry import register_model


def _rnn(kind, input_shape, n_classes, *, units, dense, dropout, l1, l2, batch_norm, width, bidirectional,
         masking=False, frames=None, input_norm=False):
    import keras
    from keras import layers

    cell = layers.LSTM if kind == "lstm" else layers.GRU
    reg = regularizer(l1, l2)
    inp = keras.Input(shape=input_shape, name="features")
    x = inp
    if frames:  # framewise (auricle.models.frames): the last input column holds the decision weights
        from auricle.models.frames import FrameDecision, FrameFeatures, FrameWeights

        weights = FrameWeights(name="frame_weights")(inp)
        x = FrameFeatures(name="frame_features")(inp)
    # masking: all-zero frames (auricle.data.PAD_VALUE padding of variable-length input) are
    # skipped, so padding never changes the output; input_shape may then be (None, bins)
    x = layers.Masking(mask_value=0.0, name="mask")(x) if masking or frames else x
    if input_norm:  # learned per-bin normalization (streams exactly, unlike per-clip CMVN)
        x = layers.BatchNormalization(name="input_bn")(x)
    for i, u in enumerate(units):
        last = i == len(units) - 1 and not frames
        rnn = cell(scaled(u, width), return_sequences=not last, kernel_regularizer=reg, name=f"{kind}{i}")
        x = (layers.Bidirectional(rnn, name=f"bi{kind}{i}") if bidirectional else rnn)(x)
        if batch_norm and not last:
            x = layers.LayerNormalization(name=f"ln{i}")(x)
    if frames:
        if dense:
            x = layers.Dense(scaled(dense, width), activation="relu", kernel_regularizer=reg, name="dense")(x)
        if dropout:
            x = layers.Dropout(float(dropout), name="dropout")(x)
        label = frames == "label"  # one more output: the per-frame _silence_ class
        p = layers.Dense(n_classes + int(label), activation="softmax", name="frame_probs")(x)
        return keras.Model(inp, FrameDecision(silence_class=label, name="decision")([p, weights]), name=kind)
    out = classifier_head(x, n_classes, dense=scaled(dense, width) if dense else 0,
                          dropout=dropout, reg=reg, batch_norm=batch_norm)
    return keras.Model(inp, out, name=kind)


@register_model("lstm", description="2 stacked LSTM(64) -> Dense(64) -> Dropout -> softmax", streamable="exact")
def lstm(input_shape, n_classes, *, units=(64, 64), dense=64, dropout=0.3, l1=0.0, l2=0.0,
         batch_norm=False, width=1.0, bidirectional=False, masking=False, frames=None, input_norm=False):
    return _rnn("lstm", input_shape, n_classes, units=units, dense=dense, dropout=dropout, l1=l1, l2=l2,
                batch_norm=batch_norm, width=width, bidirectional=bidirectional, masking=masking,
                frames=frames, input_norm=input_norm)


@register_model("gru", description="2 stacked GRU(64) -> Dense(64) -> Dropout -> softmax", streamable="exact")
def gru(input_shape, n_classes, *, units=(64, 64), dense=64, dropout=0.3, l1=0.0, l2=0.0,
        batch_norm=False, width=1.0, bidirectional=False, masking=False, frames=None, input_norm=False):
    return _rnn("gru", input_shape, n_classes, units=units, dense=dense, dropout=dropout, l1=l1, l2=l2,
                batch_norm=batch_norm, width=width, bidirectional=bidirectional, masking=masking,
                frames=frames, input_norm=input_norm)
