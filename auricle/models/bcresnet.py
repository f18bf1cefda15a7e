"""Broadcasted residual network (BC-ResNet) of Kim, Chang, Lee & Sung, "Broadcasted Residual
Learning for Efficient Keyword Spotting" (Interspeech 2021, arXiv:2106.04140).

Each BC block splits its work into a cheap 2-D part on the ``(time, freq)`` map and a 1-D
temporal part on the frequency-averaged map, whose output is *broadcast* back over
frequency::

    f2(x) = SubSpectralNorm(FreqDepthwiseConv3x1(x))              # 2-D, per frequency
    f1(y) = Dropout(Pointwise(SiLU(BN(TimeDepthwiseConv1x3(y)))))  # 1-D, dilated in time
    out   = ReLU(x + f2(x) + f1(avg_freq(f2(x))))                  # normal block
    out   = ReLU(f2(x) + f1(avg_freq(f2(x))))                      # transition block

A transition block (first of each stage, when the width changes) starts with a 1x1
conv-BN-ReLU and drops the identity shortcut.  Network: 5x5 conv (stride 2 in frequency) ->
4 stages of (2, 2, 4, 4) blocks with widths ``8*scale * (1, 1.5, 2, 2.5)``, stride 2 in
frequency at the first block of stages 2 and 3, time dilation ``2**stage`` -> 5x5 depthwise
conv without frequency padding -> 1x1 conv to ``32*scale`` -> global average -> classifier.

Published sizes (40 log-mel bins, 12 classes): BC-ResNet-1 9.2K, -1.5 18K, -2 27K, -3 54K,
-6 188K, -8 321K parameters.  Here the 2-D layout is ``(time, freq, 1)``.
"""
from __future__ import annotations

from auricle.models.common import regularizer
from auricle.models.registry import register_model

#: blocks per stage, as published
BC_STAGES = (2, 2, 4, 4)
#: published scales (BC-ResNet-{scale})
BC_SCALES = (1, 1.5, 2, 3, 6, 8)


def _channels(scale: float):
    base = int(8 * scale)
    return [base * 2, base, int(base * 1.5), base * 2, int(base * 2.5), base * 4]


def bc_block(x, out_ch, *, stage, freq_stride, sub_bands, block_dropout, reg, name):
    """One BC-ResBlock (transition when the channel count changes) on ``(B, T, F, C)``."""
    from keras import layers

    from auricle.models.layers import SubSpectralNormalization

    transition = x.shape[-1] != out_ch
    shortcut = x
    y = x
    if transition:
        y = layers.Conv2D(out_ch, 1, use_bias=False, kernel_regularizer=reg, name=f"{name}_proj")(y)
        y = layers.BatchNormalization(momentum=0.9, name=f"{name}_proj_bn")(y)
        y = layers.Activation("relu", name=f"{name}_proj_relu")(y)
    # f2: frequency-wise depthwise conv + sub-spectral norm
    y = layers.DepthwiseConv2D((1, 3), padding="same", use_bias=False, depthwise_regularizer=reg,
                               name=f"{name}_fdw")(y)
    if freq_stride > 1:  # TensorFlow's CPU depthwise kernel rejects unequal strides (1, 2) on CPUs without
        # oneDNN's kernel; keeping every freq_stride-th bin of the stride-1 conv is the same downsampling
        y = layers.MaxPooling2D((1, 1), strides=(1, freq_stride), name=f"{name}_fstride")(y)
    y = SubSpectralNormalization(sub_bands, momentum=0.9, name=f"{name}_ssn")(y)
    aux = y
    # f1: frequency average, temporal (dilated) depthwise conv, pointwise conv
    z = layers.AveragePooling2D((1, y.shape[2]), name=f"{name}_favg")(y)
    z = layers.DepthwiseConv2D((3, 1), dilation_rate=(2 ** stage, 1), padding="same", use_bias=False,
                               depthwise_regularizer=reg, name=f"{name}_tdw")(z)
    z = layers.BatchNormalization(momentum=0.9, name=f"{name}_tdw_bn")(z)
    z = layers.Activation("silu", name=f"{name}_swish")(z)
    z = layers.Conv2D(out_ch, 1, use_bias=False, kernel_regularizer=reg, name=f"{name}_pw")(z)
    if block_dropout:
        z = layers.SpatialDropout2D(float(block_dropout), name=f"{name}_drop")(z)
    merge = [z, aux] if transition else [z, aux, shortcut]
    y = layers.Add(name=f"{name}_broadcast_add")(merge)  # z (B,T,1,C) broadcasts over frequency
    return layers.Activation("relu", name=f"{name}_relu")(y)


@register_model("bc_resnet", description="BC-ResNet (Kim et al. 2021): broadcasted residual blocks with "
                "SubSpectralNorm; scale 1..8 = 9.2K..321K params", streamable="window")
def bc_resnet(input_shape, n_classes, *, scale=1, sub_bands=5, block_dropout=0.1, dropout=0.0, l1=0.0,
              l2=0.0, batch_norm=True, width=1.0):
    """Build BC-ResNet-``scale`` (Kim et al. 2021) for time-major ``(frames, bins)`` input.

    Parameters
    ----------
    input_shape : tuple of int
        ``(frames, bins)``; the paper uses 40 log-mel bins x 101 frames (1 s, 10 ms hop).
    n_classes : int
        Output classes.
    scale : float
        Width factor of the published family BC-ResNet-{1, 1.5, 2, 3, 6, 8} (base width
        ``8 * scale``); published sizes 9.2K, 18K, 27K, 54K, 188K, 321K parameters.
    sub_bands : int
        Frequency groups of SubSpectralNorm (5 as published; degrades gracefully for bins
        not divisible by it, see :class:`~auricle.models.layers.SubSpectralNormalization`).
    block_dropout : float
        Spatial dropout at the end of every temporal branch (0.1 as published).
    dropout : float
        Dropout before the classifier (not in the paper).
    l1, l2 : float
        Kernel penalties.
    batch_norm : bool
        Accepted for a uniform interface; BC-ResNet always normalizes (BN/SubSpectralNorm
        are part of the block definition).
    width : float
        Extra multiplier on ``scale`` (``scale * width`` is the effective scale).

    Returns
    -------
    keras.Model
    """
    import keras
    from keras import layers

    eff = float(scale) * float(width)
    if int(8 * eff) < 1:
        raise ValueError(f"scale * width = {eff} gives no channels (needs >= 0.125)")
    c = _channels(eff)
    reg = regularizer(l1, l2)
    inp = keras.Input(shape=input_shape, name="features")
    x = layers.Reshape((*input_shape, 1), name="add_channel")(inp)  # (time, freq, 1)
    x = layers.Conv2D(c[0], 5, strides=(1, 2), padding="same", use_bias=False, kernel_regularizer=reg,
                      name="head_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name="head_bn")(x)
    x = layers.Activation("relu", name="head_relu")(x)
    for stage, n in enumerate(BC_STAGES):
        for j in range(n):
            stride = 2 if (stage in (1, 2) and j == 0) else 1
            x = bc_block(x, c[stage + 1], stage=stage, freq_stride=stride, sub_bands=sub_bands,
                         block_dropout=block_dropout, reg=reg, name=f"s{stage}b{j}")
    # classifier: 5x5 depthwise (no frequency padding) -> 1x1 conv -> BN -> ReLU -> GAP -> linear
    kf = min(5, x.shape[2])
    x = layers.ZeroPadding2D(((2, 2), (0, 0)), name="cls_pad")(x)
    x = layers.DepthwiseConv2D((5, kf), padding="valid", use_bias=False, depthwise_regularizer=reg,
                               name="cls_dw")(x)
    x = layers.Conv2D(c[-1], 1, use_bias=False, kernel_regularizer=reg, name="cls_pw")(x)
    x = layers.BatchNormalization(momentum=0.9, name="cls_bn")(x)
    x = layers.Activation("relu", name="cls_relu")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = layers.Dropout(float(dropout), name="dropout")(x)
    out = layers.Dense(n_classes, activation="softmax", kernel_regularizer=reg, name="probs")(x)
    return keras.Model(inp, out, name=f"bc_resnet{eff:g}".replace(".", "_"))
