"""Small building blocks shared by the model families (keras.layers/keras.ops only)."""
from __future__ import annotations


def regularizer(l1: float, l2: float):
    import keras

    if not l1 and not l2:
        return None
    return keras.regularizers.L1L2(l1=float(l1), l2=float(l2))


def scaled(n: int, width: float) -> int:
    return max(1, int(round(n * float(width))))


def classifier_head(x, n_classes: int, *, dense: int, dropout: float, reg, batch_norm: bool = False):
    from keras import layers

    if dense:
        x = layers.Dense(dense, kernel_regularizer=reg, name="dense")(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=0.9, name="dense_bn")(x)
        x = layers.Activation("relu", name="dense_relu")(x)
    if dropout:
        x = layers.Dropout(float(dropout), name="dropout")(x)
    return layers.Dense(n_classes, activation="softmax", name="probs")(x)
