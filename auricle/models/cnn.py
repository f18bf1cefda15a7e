"""2-D CNN over (time, frequency) feature maps."""
from __future__ import annotations

from auricle.models.common import classifier_head, regularizer, scaled
from auricle.models.registry import register_model


@register_model("cnn", description="The course 3-block Conv2D+BN+MaxPool network -> Dense(64) -> Dropout(0.3)", streamable="window")
def cnn(input_shape, n_classes, *, filters=(32, 32, 32), kernels=((3, 3), (3, 3), (2, 2)),
        pools=((3, 3), (3, 3), (2, 2)), strides=((2, 2), (2, 2), (2, 2)), dense=64,
        dropout=0.3, l1=0.0, l2=0.0, batch_norm=True, width=1.0, global_pool=False):
    """The seeds' CNN: three [Conv2D(relu) -> MaxPool(stride 2, same) -> BatchNorm] blocks.

    ``global_pool=True`` replaces Flatten by global average pooling (fewer parameters,
    length-independent).
    """
    import keras
    from keras import layers

    reg = regularizer(l1, l2)
    inp = keras.Input(shape=input_shape, name="features")
    x = layers.Reshape((*input_shape, 1), name="add_channel")(inp)
    for i, (f, k, p, s) in enumerate(zip(filters, kernels, pools, strides)):
        x = layers.Conv2D(scaled(f, width), tuple(k), activation="relu", padding="same",
                          kernel_regularizer=reg, name=f"conv{i}")(x)
        x = layers.MaxPooling2D(tuple(p), strides=tuple(s), padding="same", name=f"pool{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
    x = (layers.GlobalAveragePooling2D(name="gap") if global_pool else layers.Flatten(name="flatten"))(x)
    out = classifier_head(x, n_classes, dense=scaled(dense, width) if dense else 0,
                          dropout=dropout, reg=reg)
    return keras.Model(inp, out, name="cnn")


@register_model("cnn2", description="Deeper VGG-style CNN (conv-BN-relu x2 per block, global pooling); auricle's default", streamable="window")
def cnn2(input_shape, n_classes, *, filters=(32, 64, 128), dense=64, dropout=0.3, l1=0.0, l2=1e-4,
         batch_norm=True, width=1.0, spatial_dropout=0.1):
    import keras
    from keras import layers

    reg = regularizer(l1, l2)
    inp = keras.Input(shape=input_shape, name="features")
    x = layers.Reshape((*input_shape, 1), name="add_channel")(inp)
    for i, f in enumerate(filters):
        for j in range(2):
            x = layers.Conv2D(scaled(f, width), (3, 3), padding="same", use_bias=not batch_norm,
                              kernel_regularizer=reg, name=f"conv{i}_{j}")(x)
            if batch_norm:
                x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}_{j}")(x)
            x = layers.Activation("relu", name=f"relu{i}_{j}")(x)
        x = layers.MaxPooling2D((2, 2), padding="same", name=f"pool{i}")(x)
        if spatial_dropout:
            x = layers.SpatialDropout2D(float(spatial_dropout), name=f"sdrop{i}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    out = classifier_head(x, n_classes, dense=scaled(dense, width) if dense else 0,
                          dropout=dropout, reg=reg)
    return keras.Model(inp, out, name="cnn2")
