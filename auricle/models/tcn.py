"""Temporal-convolution models: TC-ResNet (Choi et al., 2019).

Time is the only convolution axis and the frequency bins are the input channels, so the
first layer already sees the whole spectrum; this makes the network small and fast
(TC-ResNet8: ~66K parameters, 1.56M multiply-accumulates (3M FLOPs) for 101x40 input).
"""
from __future__ import annotations

from auricle.models.common import regularizer, scaled
from auricle.models.registry import register_model

#: (channels, stride) of the residual blocks, as published.
TC_RESNET_BLOCKS = {
    8: ((24, 2), (32, 2), (48, 2)),
    14: ((24, 2), (24, 1), (32, 2), (32, 1), (48, 2), (48, 1)),
}


def _bn(batch_norm, name):
    from keras import layers

    return layers.BatchNormalization(momentum=0.9, name=name) if batch_norm else layers.Identity(name=name)


def tc_resnet(input_shape, n_classes, *, depth=8, first_channels=16, kernel=9, dropout=0.0, l1=0.0,
              l2=0.0, batch_norm=True, width=1.0, padding="same"):
    """Build TC-ResNet-``depth`` (8 or 14) for time-major ``(frames, bins)`` input.

    ``padding="causal"`` makes every convolution look only at past frames (needed for
    exact frame-by-frame streaming); the published network uses ``"same"``.
    """
    import keras
    from keras import layers

    if depth not in TC_RESNET_BLOCKS:
        raise ValueError(f"depth must be one of {sorted(TC_RESNET_BLOCKS)}")
    reg = regularizer(l1, l2)
    inp = keras.Input(shape=input_shape, name="features")
    x = layers.Conv1D(scaled(first_channels, width), 3, padding=padding, use_bias=False,
                      kernel_regularizer=reg, name="conv0")(inp)
    x = _bn(batch_norm, "bn0")(x)
    x = layers.Activation("relu", name="relu0")(x)
    for i, (ch, stride) in enumerate(TC_RESNET_BLOCKS[depth]):
        ch = scaled(ch, width)
        y = layers.Conv1D(ch, kernel, strides=stride, padding=padding, use_bias=False,
                          kernel_regularizer=reg, name=f"b{i}_conv1")(x)
        y = _bn(batch_norm, f"b{i}_bn1")(y)
        y = layers.Activation("relu", name=f"b{i}_relu1")(y)
        y = layers.Conv1D(ch, kernel, padding=padding, use_bias=False, kernel_regularizer=reg,
                          name=f"b{i}_conv2")(y)
        y = _bn(batch_norm, f"b{i}_bn2")(y)
        if stride != 1 or x.shape[-1] != ch:
            x = layers.Conv1D(ch, 1, strides=stride, use_bias=False, kernel_regularizer=reg,
                              name=f"b{i}_short")(x)
            x = _bn(batch_norm, f"b{i}_short_bn")(x)
            x = layers.Activation("relu", name=f"b{i}_short_relu")(x)
        x = layers.Add(name=f"b{i}_add")([x, y])
        x = layers.Activation("relu", name=f"b{i}_relu2")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    if dropout:
        x = layers.Dropout(float(dropout), name="dropout")(x)
    out = layers.Dense(n_classes, activation="softmax", kernel_regularizer=reg, name="probs")(x)
    return keras.Model(inp, out, name=f"tc_resnet{depth}")


@register_model("tc_resnet8", description="TC-ResNet8 (Choi et al. 2019): 1-D temporal convs, frequency as channels, ~66K params", streamable="causal")
def tc_resnet8(input_shape, n_classes, *, first_channels=16, kernel=9, dropout=0.0, l1=0.0, l2=0.0,
               batch_norm=True, width=1.0, padding="same"):
    return tc_resnet(input_shape, n_classes, depth=8, first_channels=first_channels, kernel=kernel,
                     dropout=dropout, l1=l1, l2=l2, batch_norm=batch_norm, width=width, padding=padding)


@register_model("tc_resnet14", description="TC-ResNet14 (Choi et al. 2019): 6 residual blocks, ~137K params", streamable="causal")
def tc_resnet14(input_shape, n_classes, *, first_channels=16, kernel=9, dropout=0.0, l1=0.0, l2=0.0,
                batch_norm=True, width=1.0, padding="same"):
    return tc_resnet(input_shape, n_classes, depth=14, first_channels=first_channels, kernel=kernel,
                     dropout=dropout, l1=l1, l2=l2, batch_norm=batch_norm, width=width, padding=padding)
