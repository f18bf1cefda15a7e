"""Multi-layer perceptron on the flattened feature map."""
from __future__ import annotations

from auricle.models.common import classifier_head, regularizer, scaled
from auricle.models.registry import register_model


@register_model("mlp", description="Dense layers on flattened features (course baseline)", streamable="window")
def mlp(input_shape, n_classes, *, hidden=(512, 256, 64), dropout=0.3, l1=0.0, l2=0.0,
        batch_norm=False, width=1.0):
    import keras
    from keras import layers

    reg = regularizer(l1, l2)
    inp = keras.Input(shape=input_shape, name="features")
    x = layers.Flatten(name="flatten")(inp)
    for i, units in enumerate(hidden[:-1] if hidden else ()):
        x = layers.Dense(scaled(units, width), kernel_regularizer=reg, name=f"dense{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
        if dropout:
            x = layers.Dropout(float(dropout), name=f"drop{i}")(x)
    out = classifier_head(x, n_classes, dense=scaled(hidden[-1], width) if hidden else 0,
                          dropout=dropout, reg=reg, batch_norm=batch_norm)
    return keras.Model(inp, out, name="mlp")
