"""Convolutional-recurrent models: CRNN and the attention RNN.

* ``crnn`` -- Conv2D front end over ``(time, freq)`` + stacked GRUs + dense layer, the CRNN
  of Arik et al. (2017, "Convolutional Recurrent Neural Networks for Small-Footprint Keyword
  Spotting") in the configuration of Zhang et al. "Hello Edge" (2017), CRNN-S: one 10x4 conv
  (48 filters, stride 2x2), 2 GRU layers of 60 units, a 84-unit dense layer.
* ``att_rnn`` -- the attention RNN of de Andrade et al. (2018, "A neural attention model for
  speech command recognition"; Google kws_streaming ``att_rnn``): (5x1) convolutions along
  time, two bidirectional LSTMs, dot-product attention with a query projected from the
  middle frame, then dense layers.
"""
from __future__ import annotations

from auricle.models.common import classifier_head, regularizer, scaled
from auricle.models.registry import register_model


def _conv_front(inp, input_shape, filters, kernels, strides, padding, batch_norm, width, reg):
    from keras import layers

    x = layers.Reshape((*input_shape, 1), name="add_channel")(inp)
    for i, (f, k, s) in enumerate(zip(filters, kernels, strides)):
        x = layers.Conv2D(scaled(f, width), tuple(k), strides=tuple(s), padding=padding,
                          use_bias=not batch_norm, kernel_regularizer=reg, name=f"conv{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
    # (B, T', F', C) -> (B, T', F' * C): every time step sees all frequencies and channels
    return layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]), name="to_sequence")(x)


@register_model("crnn", description="CRNN (Arik et al. 2017; Hello Edge CRNN-S): Conv2D(48, 10x4, /2) -> "
                "2 GRU(60) -> Dense(84)", streamable="window")
def crnn(input_shape, n_classes, *, filters=(48,), kernels=((10, 4),), strides=((2, 2),), padding="valid",
         units=(60, 60), dense=84, dropout=0.0, l1=0.0, l2=0.0, batch_norm=True, width=1.0):
    """Build a CRNN for time-major ``(frames, bins)`` input.

    Parameters
    ----------
    input_shape : tuple of int
        ``(frames, bins)``; Hello Edge uses 49x10 MFCC.
    n_classes : int
        Output classes.
    filters, kernels, strides : sequences
        One entry per Conv2D layer; kernels and strides are ``(time, freq)``.  The default is
        Hello Edge CRNN-S (48 filters, 10x4, stride 2x2; ~70K parameters on 49x10 MFCC).
    padding : {"valid", "same"}
        Convolution padding.  ``"valid"`` (published) needs no future frames beyond the
        kernel, so the network streams exactly with a ring buffer of ``kernel`` frames and
        stateful GRUs (the kws_streaming recipe).
    units : sequence of int
        GRU sizes; only the last GRU state feeds the classifier.
    dense : int
        Hidden dense units before the classifier (0 to skip).
    dropout, l1, l2, batch_norm, width
        The common regularization knobs.

    Returns
    -------
    keras.Model
    """
    import keras
    from keras import layers

    reg = regularizer(l1, l2)
    inp = keras.Input(shape=input_shape, name="features")
    x = _conv_front(inp, input_shape, filters, kernels, strides, padding, batch_norm, width, reg)
    for i, u in enumerate(units):
        x = layers.GRU(scaled(u, width), return_sequences=i < len(units) - 1, kernel_regularizer=reg,
                       name=f"gru{i}")(x)
    out = classifier_head(x, n_classes, dense=scaled(dense, width) if dense else 0, dropout=dropout, reg=reg)
    return keras.Model(inp, out, name="crnn")


@register_model("att_rnn", description="Attention RNN (de Andrade et al. 2018): (5x1) convs -> 2 BiLSTM -> "
                "dot attention from the middle frame -> Dense", streamable="window")
def att_rnn(input_shape, n_classes, *, filters=(10, 1), kernel=(5, 1), units=(64, 64), query="middle",
            dense=(64, 32), dropout=0.0, l1=0.0, l2=0.0, batch_norm=True, width=1.0):
    """Build the attention RNN for time-major ``(frames, bins)`` input.

    Not streamable: the LSTMs are bidirectional and the attention looks at the whole clip.

    Parameters
    ----------
    input_shape : tuple of int
        ``(frames, bins)``; the paper uses 80-bin log-mel, kws_streaming 40.
    n_classes : int
        Output classes.
    filters : sequence of int
        Conv2D filters, kernel ``kernel`` along time each ("same" padding); the published
        network uses (10, 1).
    kernel : tuple of int
        ``(time, freq)`` kernel of every convolution.
    units : sequence of int
        Bidirectional LSTM sizes per direction (published 64, kws_streaming 128).
    query : {"middle", "last", "first"}
        Frame whose dense projection is the attention query.
    dense : sequence of int
        Hidden dense layers after attention (published 64 relu, 32 linear; here all relu).
    dropout, l1, l2, batch_norm, width
        The common regularization knobs.

    Returns
    -------
    keras.Model
    """
    import keras
    from keras import layers

    from auricle.models.layers import DotAttentionPooling

    reg = regularizer(l1, l2)
    inp = keras.Input(shape=input_shape, name="features")
    n = len(filters)
    x = _conv_front(inp, input_shape, filters, [kernel] * n, [(1, 1)] * n, "same", batch_norm, width, reg)
    for i, u in enumerate(units):
        x = layers.Bidirectional(layers.LSTM(scaled(u, width), return_sequences=True, kernel_regularizer=reg,
                                             name=f"lstm{i}"), name=f"bilstm{i}")(x)
    x = DotAttentionPooling(query, name="attention")(x)
    for i, u in enumerate(dense[:-1] if dense else ()):
        x = layers.Dense(scaled(u, width), activation="relu", kernel_regularizer=reg, name=f"dense{i}")(x)
    out = classifier_head(x, n_classes, dense=scaled(dense[-1], width) if dense else 0, dropout=dropout, reg=reg)
    return keras.Model(inp, out, name="att_rnn")
