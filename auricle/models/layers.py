"""Serializable custom layers used by the model zoo (keras.layers/keras.ops only).

Every layer here is registered with ``@keras.saving.register_keras_serializable(package="auricle")``
so that ``.keras`` files containing it reload with plain :func:`keras.saving.load_model` once
:mod:`auricle.models` has been imported.  A layer may define ``count_macs(input_shape,
output_shape) -> int`` (shapes without the batch axis); :func:`auricle.models.profile.count_macs`
uses it.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops


def _band_matrix(n_bins: int, n_bands: int) -> np.ndarray:
    """One-hot ``(n_bins, n_bands)`` assignment of frequency bins to contiguous sub-bands.

    Bin ``f`` goes to band ``floor(f * n_bands / n_bins)``, so equal-width bands when
    ``n_bins`` is divisible by ``n_bands`` and bands differing by at most one bin otherwise.
    """
    band = (np.arange(n_bins) * n_bands) // n_bins
    return np.eye(n_bands, dtype="float32")[band]


@keras.saving.register_keras_serializable(package="auricle")
class SubSpectralNormalization(keras.layers.Layer):
    """Sub-spectral normalization (Chang et al., Interspeech 2021, used by BC-ResNet).

    Batch normalization whose statistics and affine parameters are separate for each of
    ``sub_bands`` contiguous frequency sub-bands (and each channel), i.e. ``BatchNorm`` over
    a ``(C * S)``-channel view of the input.  Input layout is ``(batch, time, freq, channels)``.

    Parameters
    ----------
    sub_bands : int
        Number of frequency groups ``S`` (BC-ResNet uses 5).  When the frequency axis has
        fewer than ``S`` bins the layer uses one band per bin; when it is not divisible by
        ``S`` the bands differ in width by at most one bin (the published layer requires
        divisibility; with divisible input both agree exactly).
    momentum, epsilon : float
        As in :class:`keras.layers.BatchNormalization`.

    Examples
    --------
    >>> import numpy as np
    >>> ssn = SubSpectralNormalization(5)
    >>> tuple(ssn(np.zeros((2, 7, 13, 4), "float32")).shape)
    (2, 7, 13, 4)
    >>> tuple(ssn.gamma.shape)
    (5, 4)
    """

    def __init__(self, sub_bands: int = 5, momentum: float = 0.9, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        if int(sub_bands) < 1:
            raise ValueError("sub_bands must be >= 1")
        self.sub_bands = int(sub_bands)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[2] is None or input_shape[3] is None:
            raise ValueError("SubSpectralNormalization expects (batch, time, freq, channels) with "
                             f"known freq and channels, got {input_shape}")
        n_bins, ch = int(input_shape[2]), int(input_shape[3])
        self.n_bands = min(self.sub_bands, n_bins)
        self._bands = _band_matrix(n_bins, self.n_bands)  # (F, S), a constant, not a weight
        shape = (self.n_bands, ch)
        self.gamma = self.add_weight(shape=shape, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(shape=shape, initializer="zeros", name="moving_mean",
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=shape, initializer="ones", name="moving_variance",
                                               trainable=False)

    def call(self, inputs, training=None):
        x = ops.cast(inputs, "float32")
        bands = ops.convert_to_tensor(self._bands, dtype="float32")  # (F, S)
        if training and self.trainable:
            n = ops.cast(ops.shape(x)[0] * ops.shape(x)[1], "float32")
            count = ops.sum(bands, axis=0)[:, None] * n  # (S, 1) elements per band
            mean = ops.matmul(ops.transpose(bands), ops.sum(x, axis=(0, 1))) / count  # (S, C)
            centred = x - ops.matmul(bands, mean)
            var = ops.matmul(ops.transpose(bands), ops.sum(ops.square(centred), axis=(0, 1))) / count
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + var * (1.0 - self.momentum))
        else:
            mean, var = self.moving_mean, self.moving_variance
            centred = x - ops.matmul(bands, mean)
        scale = self.gamma * ops.rsqrt(var + self.epsilon)  # (S, C)
        y = centred * ops.matmul(bands, scale) + ops.matmul(bands, self.beta)  # (F, C) broadcasts
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def count_macs(self, input_shape, output_shape):
        return 0  # an affine per element; folds into the neighbouring convolution at inference

    def get_config(self):
        return {**super().get_config(), "sub_bands": self.sub_bands, "momentum": self.momentum,
                "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="auricle")
class DotAttentionPooling(keras.layers.Layer):
    """Dot-product attention pooling of a sequence with a query taken from the sequence itself.

    The attention RNN of de Andrade et al. (2018, "A neural attention model for speech
    command recognition", as in Google's kws_streaming ``att_rnn``): the query is a dense
    projection of one frame (the middle one by default), the weights are
    ``softmax(sequence @ query)`` over time, and the output is the weighted sum of frames.
    Input ``(batch, time, dim)`` -> output ``(batch, dim)``.

    Parameters
    ----------
    query : {"middle", "last", "first"}
        Which frame the query is projected from.
    return_weights : bool
        Also return the ``(batch, time)`` attention weights.
    """

    def __init__(self, query: str = "middle", return_weights: bool = False, **kwargs):
        super().__init__(**kwargs)
        if query not in ("middle", "last", "first"):
            raise ValueError("query must be 'middle', 'last' or 'first'")
        self.query = query
        self.return_weights = bool(return_weights)

    def build(self, input_shape):
        dim = int(input_shape[-1])
        self.kernel = self.add_weight(shape=(dim, dim), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(dim,), initializer="zeros", name="bias")

    def call(self, inputs):
        t = ops.shape(inputs)[1]
        idx = {"middle": t // 2, "last": t - 1, "first": 0}[self.query]
        frame = ops.take(inputs, idx, axis=1)  # (B, D)
        q = ops.matmul(frame, self.kernel) + self.bias
        weights = ops.softmax(ops.einsum("btd,bd->bt", inputs, q), axis=-1)
        pooled = ops.einsum("bt,btd->bd", weights, inputs)
        return (pooled, weights) if self.return_weights else pooled

    def compute_output_shape(self, input_shape):
        out = (input_shape[0], input_shape[-1])
        return (out, (input_shape[0], input_shape[1])) if self.return_weights else out

    def count_macs(self, input_shape, output_shape):
        t, d = input_shape[-2] or 0, input_shape[-1]
        return d * d + 2 * t * d  # query projection + scores + weighted sum

    def get_config(self):
        return {**super().get_config(), "query": self.query, "return_weights": self.return_weights}


@keras.saving.register_keras_serializable(package="auricle")
class FrameShift(keras.layers.Layer):
    """Shift the time axis (axis 1) by ``frames`` frames, repeating the edge frame.

    ``frames > 0`` delays the clip (the first frame is repeated in front and the last
    ``frames`` frames drop off); ``frames < 0`` advances it.  Used by test-time augmentation
    (:func:`auricle.models.tta.shift_average`) to look at a clip a few frames early and late.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(5, dtype="float32").reshape(1, 5, 1)
    >>> np.asarray(FrameShift(2)(x))[0, :, 0].tolist()
    [0.0, 0.0, 0.0, 1.0, 2.0]
    >>> np.asarray(FrameShift(-2)(x))[0, :, 0].tolist()
    [2.0, 3.0, 4.0, 4.0, 4.0]
    """

    def __init__(self, frames: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.frames = int(frames)

    def call(self, inputs):
        k = self.frames
        n = inputs.shape[1]
        if k == 0 or n is None:
            return inputs
        k = max(-n, min(n, k))
        if k > 0:
            edge = ops.repeat(inputs[:, :1], k, axis=1)
            return ops.concatenate([edge, inputs[:, :n - k]], axis=1)
        edge = ops.repeat(inputs[:, n - 1:], -k, axis=1)
        return ops.concatenate([inputs[:, -k:], edge], axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def count_macs(self, input_shape, output_shape):
        return 0

    def get_config(self):
        return {**super().get_config(), "frames": self.frames}
