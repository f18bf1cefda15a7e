"""2-D residual network for spectrograms (He et al. 2016, "Deep Residual Learning for Image
Recognition"; the ResNet-18 layout of basic blocks, 2-2-2-2).

Adapted to ``(time, freq)`` feature maps the way audio-tagging ResNets are (e.g. the PANNs
ResNets, Kong et al. 2020): a 3x3 stem instead of 7x7/2 + max-pool, four stages of basic
blocks (two 3x3 conv-BN, identity or 1x1 projection shortcut), stride 2 at the first block
of stages 2-4, global average pooling, linear classifier.  ResNet-18 proper has widths
64-128-256-512 (~11M parameters); the default ``width=0.25`` (16-32-64-128, ~0.7M) trains
on a CPU.  Suited to longer clips (several seconds of 64-128 mel bins), where the depth
gives a large receptive field.
"""
from __future__ import annotations

from auricle.models.common import regularizer, scaled
from auricle.models.registry import register_model


def _bn(x, batch_norm, name):
    from keras import layers

    return layers.BatchNormalization(momentum=0.9, name=name)(x) if batch_norm else x


def basic_block(x, ch, stride, *, batch_norm, reg, name):
    """ResNet basic block: conv3x3(stride)-BN-ReLU-conv3x3-BN + shortcut, ReLU."""
    from keras import layers

    y = layers.Conv2D(ch, 3, strides=stride, padding="same", use_bias=not batch_norm, kernel_regularizer=reg,
                      name=f"{name}_conv1")(x)
    y = _bn(y, batch_norm, f"{name}_bn1")
    y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = layers.Conv2D(ch, 3, padding="same", use_bias=not batch_norm, kernel_regularizer=reg,
                      name=f"{name}_conv2")(y)
    y = _bn(y, batch_norm, f"{name}_bn2")
    if stride != 1 or x.shape[-1] != ch:
        x = layers.Conv2D(ch, 1, strides=stride, use_bias=not batch_norm, kernel_regularizer=reg,
                          name=f"{name}_short")(x)
        x = _bn(x, batch_norm, f"{name}_short_bn")
    x = layers.Add(name=f"{name}_add")([x, y])
    return layers.Activation("relu", name=f"{name}_relu2")(x)


@register_model("resnet", description="2-D ResNet-18 layout (He et al. 2016) for spectrograms; width 0.25 "
                "(16-128 channels, ~0.7M params) by default", streamable="window")
def resnet(input_shape, n_classes, *, blocks=(2, 2, 2, 2), filters=(64, 128, 256, 512), stem_stride=1,
           dropout=0.2, l1=0.0, l2=1e-4, batch_norm=True, width=0.25):
    """Build a 2-D ResNet for time-major ``(frames, bins)`` input.

    Parameters
    ----------
    input_shape : tuple of int
        ``(frames, bins)``, treated as a one-channel ``(time, freq)`` image.
    n_classes : int
        Output classes.
    blocks : sequence of int
        Basic blocks per stage: (2, 2, 2, 2) is ResNet-18, (3, 4, 6, 3) ResNet-34.
    filters : sequence of int
        Stage widths before ``width`` scaling (ResNet-18: 64, 128, 256, 512).
    stem_stride : int
        Stride of the 3x3 stem conv; 2 quarters the cost on long clips.
    dropout, l1, l2, batch_norm : float, float, float, bool
        The common regularization knobs.
    width : float
        Width multiplier; 1.0 is the full ResNet-18 (~11M parameters), the default 0.25
        ~0.7M.

    Returns
    -------
    keras.Model
    """
    return _build(input_shape, n_classes, blocks=blocks, filters=filters, stem_stride=stem_stride, dropout=dropout,
                  l1=l1, l2=l2, batch_norm=batch_norm, width=width, name="resnet")


def _build(input_shape, n_classes, *, blocks, filters, stem_stride, dropout, l1, l2, batch_norm, width, name):
    import keras
    from keras import layers

    if len(blocks) != len(filters):
        raise ValueError("blocks and filters need one entry per stage")
    reg = regularizer(l1, l2)
    inp = keras.Input(shape=input_shape, name="features")
    x = layers.Reshape((*input_shape, 1), name="add_channel")(inp)
    x = layers.Conv2D(scaled(filters[0], width), 3, strides=stem_stride, padding="same",
                      use_bias=not batch_norm, kernel_regularizer=reg, name="stem_conv")(x)
    x = _bn(x, batch_norm, "stem_bn")
    x = layers.Activation("relu", name="stem_relu")(x)
    for s, (n, f) in enumerate(zip(blocks, filters)):
        for b in range(n):
            stride = 2 if (s > 0 and b == 0) else 1
            x = basic_block(x, scaled(f, width), stride, batch_norm=batch_norm, reg=reg, name=f"s{s}b{b}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = layers.Dropout(float(dropout), name="dropout")(x)
    out = layers.Dense(n_classes, activation="softmax", kernel_regularizer=reg, name="probs")(x)
    return keras.Model(inp, out, name=name)


@register_model("resnet_tiny", description="The 2-D ResNet at keyword-spotting-device size: one basic block per "
                "stage, 4-8-16-32 channels, ~20K params, 1.1M multiply-adds per 1 s clip", streamable="window")
def resnet_tiny(input_shape, n_classes, *, blocks=(1, 1, 1, 1), filters=(64, 128, 256, 512), stem_stride=2,
                dropout=0.2, l1=0.0, l2=1e-4, batch_norm=True, width=0.0625):
    """The :func:`resnet` builder with small defaults (a "ResNet-10" at 1/16 width: ~20K parameters
    for 10 classes on 40 mel bands), for devices and as a distillation student (``train.teacher``).

    FSDD figures against DS-CNN-S and the course cnn: docs/experiments/small-models.md.

    Examples
    --------
    >>> from auricle.models import build_model
    >>> build_model("resnet_tiny", (101, 40), 10).count_params()
    20190
    """
    return _build(input_shape, n_classes, blocks=blocks, filters=filters, stem_stride=stem_stride, dropout=dropout,
                  l1=l1, l2=l2, batch_norm=batch_norm, width=width, name="resnet_tiny")
