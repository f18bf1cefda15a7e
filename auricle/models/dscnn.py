"""Depthwise-separable CNN (DS-CNN) of Zhang et al., "Hello Edge: Keyword Spotting on
Microcontrollers" (arXiv:1711.07128, 2017).

A full Conv2D over the ``(time, freq)`` map followed by depthwise-separable blocks
(3x3 depthwise conv -> BN -> ReLU -> 1x1 pointwise conv -> BN -> ReLU), global average
pooling and a linear classifier.  The published configurations (ARM ML-KWS-for-MCU, 49x10
MFCC, 12 classes):

====  =========  ==================================  ==========  =============
size  filters    first conv (kernel, stride)         DS blocks   params (paper)
====  =========  ==================================  ==========  =============
s     64         10x4, stride 2x2                    4           ~24K (5.4M ops)
m     172        10x4, stride 2x1; 1st DS stride 2   4           ~140K (19.8M ops)
l     276        10x4, stride 2x1; 1st DS stride 2   5           ~420K (56.9M ops)
====  =========  ==================================  ==========  =============

Here each conv is bias-free and followed by BatchNorm (the ARM code keeps both a bias and a
scale-free BN; the counts differ by a few hundred weights).
"""
from __future__ import annotations

from auricle.models.common import regularizer, scaled
from auricle.models.registry import register_model

#: size -> (filters, first-conv kernel (time, freq), first-conv stride, [DS-block strides])
DS_CNN_SIZES = {
    "s": (64, (10, 4), (2, 2), ((1, 1),) * 4),
    "m": (172, (10, 4), (2, 1), ((2, 2),) + ((1, 1),) * 3),
    "l": (276, (10, 4), (2, 1), ((2, 2),) + ((1, 1),) * 4),
}


def _bn(x, batch_norm, name):
    from keras import layers

    return layers.BatchNormalization(momentum=0.9, name=name)(x) if batch_norm else x


@register_model("ds_cnn", description="DS-CNN (Zhang et al. 2017, Hello Edge): conv + depthwise-separable "
                "blocks; size s/m/l = ~24K/140K/420K params", streamable="window")
def ds_cnn(input_shape, n_classes, *, size="s", dropout=0.0, l1=0.0, l2=0.0, batch_norm=True, width=1.0):
    """Build DS-CNN-S/M/L (Zhang et al. 2017) for time-major ``(frames, bins)`` input.

    Parameters
    ----------
    input_shape : tuple of int
        ``(frames, bins)``; the paper uses 49x10 MFCC (40 ms windows, 20 ms hop).
    n_classes : int
        Output classes.
    size : {"s", "m", "l"}
        Published configuration: S 64 filters / 4 DS blocks (~24K params), M 172 / 4
        (~140K), L 276 / 5 (~420K).
    dropout : float
        Dropout before the classifier (the ARM code uses 0 for DS-CNN).
    l1, l2, batch_norm, width
        The common regularization knobs; ``width`` scales the filter count.

    Returns
    -------
    keras.Model
    """
    import keras
    from keras import layers

    size = str(size).lower()
    if size not in DS_CNN_SIZES:
        raise ValueError(f"size must be one of {sorted(DS_CNN_SIZES)}, got {size!r}")
    filters, kernel, stride, blocks = DS_CNN_SIZES[size]
    ch = scaled(filters, width)
    reg = regularizer(l1, l2)
    inp = keras.Input(shape=input_shape, name="features")
    x = layers.Reshape((*input_shape, 1), name="add_channel")(inp)
    x = layers.Conv2D(ch, kernel, strides=stride, padding="same", use_bias=not batch_norm,
                      kernel_regularizer=reg, name="conv0")(x)
    x = _bn(x, batch_norm, "bn0")
    x = layers.Activation("relu", name="relu0")(x)
    for i, s in enumerate(blocks, start=1):
        x = layers.DepthwiseConv2D((3, 3), strides=s, padding="same", use_bias=not batch_norm,
                                   depthwise_regularizer=reg, name=f"dw{i}")(x)
        x = _bn(x, batch_norm, f"dw{i}_bn")
        x = layers.Activation("relu", name=f"dw{i}_relu")(x)
        x = layers.Conv2D(ch, 1, use_bias=not batch_norm, kernel_regularizer=reg, name=f"pw{i}")(x)
        x = _bn(x, batch_norm, f"pw{i}_bn")
        x = layers.Activation("relu", name=f"pw{i}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = layers.Dropout(float(dropout), name="dropout")(x)
    out = layers.Dense(n_classes, activation="softmax", kernel_regularizer=reg, name="probs")(x)
    return keras.Model(inp, out, name=f"ds_cnn_{size}")
