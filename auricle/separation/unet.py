"""U-Net mask networks for source separation, and their registry.

The network follows Spleeter (Hennequin et al., JOSS 2020; Jansson et al., ISMIR 2017): the
magnitude STFT patch ``(frames, bins, channels)`` goes through ``depth`` encoder layers
(5x5 convolution, stride 2, batch norm, leaky ReLU; 16-512 filters for the full size) and as many
decoder layers (5x5 transposed convolution, stride 2, ReLU, batch norm, dropout 0.5 in the first
three), each decoder layer concatenated with the encoder layer of the same resolution (the skip
connections).  A last 4x4 dilated convolution with a sigmoid gives the stem's soft mask, which
multiplies the input magnitude.  ``unet`` is Spleeter's design — one U-Net per stem — and
``unet_shared`` is one U-Net with a mask per stem at the end (about 1/S of the compute, for CPUs).

Every builder returns a ``keras.Model`` mapping ``(batch, frames, bins, channels)`` magnitudes
to ``(batch, frames, bins, channels, stems)`` *estimated stem magnitudes* (mask x input), the
quantity Spleeter's L1 loss compares with the true stems' magnitudes.  Only stock
``keras.layers`` are used, so the ``.keras`` file reloads with no custom objects and exports to
ONNX/TFLite.

Examples
--------
>>> m = build_separator("unet_shared", frames=32, bins=64, channels=2, n_stems=2, width=4, depth=3)
>>> tuple(m.output.shape)
(None, 32, 64, 2, 2)
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from auricle.errors import ModelError


@dataclass
class SeparatorSpec:
    name: str
    builder: Callable
    description: str
    defaults: dict = field(default_factory=dict)


SEPARATORS: dict[str, SeparatorSpec] = {}


def register_separator(name: str, *, description: str):
    """Decorator registering a separator builder; its keyword defaults become its options."""

    def deco(fn):
        sig = inspect.signature(fn)
        defaults = {k: p.default for k, p in sig.parameters.items()
                    if p.default is not inspect.Parameter.empty
                    and k not in ("frames", "bins", "channels", "n_stems")}
        SEPARATORS[name] = SeparatorSpec(name, fn, description, defaults)
        return fn

    return deco


def list_separators() -> list[SeparatorSpec]:
    return [SEPARATORS[k] for k in sorted(SEPARATORS)]


def build_separator(name: str, *, frames: int | None, bins: int, channels: int, n_stems: int, **options):
    """Build the registered separator ``name``.

    Parameters
    ----------
    name : str
        ``unet`` or ``unet_shared`` (see :func:`list_separators`).
    frames : int or None
        Patch length in STFT frames (``None``: any multiple of ``2 ** depth``).
    bins : int
        Frequency bins the network sees (a multiple of ``2 ** depth``).
    channels : int
        Audio channels (2 for stereo).
    n_stems : int
        Number of output stems.
    **options
        The builder's options (``width``, ``depth``, ``dropout``, ...).

    Raises
    ------
    ModelError
        Unknown name or option, or a patch not divisible by ``2 ** depth``.
    """
    if name not in SEPARATORS:
        raise ModelError(f"unknown separator {name!r}", fix=f"choose one of: {', '.join(sorted(SEPARATORS))}")
    spec = SEPARATORS[name]
    unknown = set(options) - set(spec.defaults)
    if unknown:
        raise ModelError(f"unknown option(s) {sorted(unknown)} for separator {name!r}",
                         fix=f"valid options: {', '.join(sorted(spec.defaults))}")
    opts = {**spec.defaults, **options}
    step = 2 ** int(opts["depth"])
    for what, v in (("frames", frames), ("bins", bins)):
        if v is not None and int(v) % step:
            raise ModelError(f"{what}={v} is not a multiple of 2**depth={step}",
                             fix=f"use {what} = {max(step, int(v) // step * step)} or a smaller depth")
    return spec.builder(frames=frames, bins=int(bins), channels=int(channels), n_stems=int(n_stems), **opts)


def _filters(width: int, depth: int, max_filters: int) -> list[int]:
    return [min(int(width) * 2 ** i, int(max_filters)) for i in range(int(depth))]


def _unet_body(x, *, channels: int, outputs: int, width: int, depth: int, max_filters: int,
               dropout: float, dropout_layers: int, prefix: str):
    """One encoder-decoder; returns the pre-sigmoid decoder output with ``outputs`` channels."""
    from keras import layers

    filters = _filters(width, depth, max_filters)
    skips = []
    h = x
    for i, f in enumerate(filters):
        h = layers.Conv2D(f, 5, strides=2, padding="same", name=f"{prefix}enc{i + 1}_conv")(h)
        skips.append(h)  # Spleeter skips (and decodes from) the conv output, before batch norm
        if i < len(filters) - 1:
            h = layers.BatchNormalization(momentum=0.99, epsilon=1e-3, name=f"{prefix}enc{i + 1}_bn")(h)
            h = layers.LeakyReLU(negative_slope=0.2, name=f"{prefix}enc{i + 1}_act")(h)
    h = skips[-1]
    for j, i in enumerate(range(len(filters) - 2, -2, -1)):
        f = filters[i] if i >= 0 else 1
        h = layers.Conv2DTranspose(f, 5, strides=2, padding="same", name=f"{prefix}dec{j + 1}_deconv")(h)
        h = layers.ReLU(name=f"{prefix}dec{j + 1}_act")(h)
        h = layers.BatchNormalization(momentum=0.99, epsilon=1e-3, name=f"{prefix}dec{j + 1}_bn")(h)
        if j < dropout_layers and dropout > 0:
            h = layers.Dropout(dropout, name=f"{prefix}dec{j + 1}_drop")(h)
        if i >= 0:
            h = layers.Concatenate(axis=-1, name=f"{prefix}dec{j + 1}_skip")([skips[i], h])
    return layers.Conv2D(outputs, 4, dilation_rate=2, padding="same", activation="sigmoid",
                         name=f"{prefix}mask")(h)


@register_separator("unet", description="Spleeter U-Net: one 12-layer encoder-decoder per stem, sigmoid mask x input")
def unet(*, frames, bins, channels, n_stems, width: int = 16, depth: int = 6, max_filters: int = 512,
         dropout: float = 0.5, dropout_layers: int = 3):
    import keras
    from keras import layers

    inp = keras.Input((frames, bins, channels), name="magnitude")
    outs = []
    for s in range(n_stems):
        mask = _unet_body(inp, channels=channels, outputs=channels, width=width, depth=depth,
                          max_filters=max_filters, dropout=dropout, dropout_layers=dropout_layers,
                          prefix=f"s{s}_")
        est = layers.Multiply(name=f"s{s}_estimate")([mask, inp])
        outs.append(layers.Reshape((frames or -1, bins, channels, 1), name=f"s{s}_stack")(est))
    out = outs[0] if n_stems == 1 else layers.Concatenate(axis=-1, name="stems")(outs)
    return keras.Model(inp, out, name="unet")


@register_separator("unet_shared", description="one U-Net shared by all stems, a sigmoid mask per stem (1/S of unet's compute)")
def unet_shared(*, frames, bins, channels, n_stems, width: int = 16, depth: int = 6, max_filters: int = 512,
                dropout: float = 0.5, dropout_layers: int = 3):
    import keras
    from keras import layers

    inp = keras.Input((frames, bins, channels), name="magnitude")
    mask = _unet_body(inp, channels=channels, outputs=channels * n_stems, width=width, depth=depth,
                      max_filters=max_filters, dropout=dropout, dropout_layers=dropout_layers, prefix="")
    mask = layers.Reshape((frames or -1, bins, n_stems, channels), name="split_stems")(mask)
    mask = layers.Permute((1, 2, 4, 3), name="stems_last")(mask)
    rep = layers.Reshape((frames or -1, bins, channels, 1), name="input_stack")(inp)
    est = layers.Multiply(name="estimate")([mask, rep])
    return keras.Model(inp, est, name="unet_shared")
