"""The transform interface (audiomentations style, batched).

A transform is a small class with a probability ``p`` and parameter ranges.  Calling it on a
batch ``(N, samples)`` (or features ``(N, frames, bins)`` for spectrogram transforms) with a
``numpy.random.Generator`` draws per-example parameters (:meth:`randomize`) and applies them
(:meth:`apply`) to the examples selected with probability ``p``.  ``apply`` with explicit
parameters is deterministic, which is what the exact-value tests pin.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

TRANSFORMS: dict[str, type["Transform"]] = {}


class Transform:
    name: ClassVar[str] = ""
    domain: ClassVar[str] = "waveform"  # or "features"

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            from auricle.errors import ConfigError
            raise ConfigError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = float(p)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.name:
            TRANSFORMS[cls.name] = cls

    def randomize(self, n: int, rng: np.random.Generator) -> dict:
        """Draw parameters for ``n`` examples; returns arrays of length ``n``."""
        return {}

    def apply(self, x: np.ndarray, **params) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray, rng: np.random.Generator, **ctx) -> np.ndarray:
        n = x.shape[0]
        mask = rng.random(n) < self.p
        if not mask.any():
            return x
        params = self.randomize(int(mask.sum()), rng)
        out = x.copy()
        out[mask] = self.apply(x[mask], rng=rng, **params, **ctx)
        return out

    def __repr__(self):
        items = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({items})"


class Compose:
    """Apply transforms in order; waveform ones first, then (separately) feature ones."""

    def __init__(self, transforms: list[Transform]):
        self.transforms = list(transforms)

    @property
    def waveform(self) -> list[Transform]:
        return [t for t in self.transforms if t.domain == "waveform"]

    @property
    def features(self) -> list[Transform]:
        return [t for t in self.transforms if t.domain == "features"]

    def apply_waveform(self, x, rng, **ctx):
        for t in self.waveform:
            x = t(x, rng, **ctx)
        return x

    def apply_features(self, x, rng, **ctx):
        for t in self.features:
            x = t(x, rng, **ctx)
        return x

    def __bool__(self):
        return bool(self.transforms)

    def __repr__(self):
        return f"Compose({self.transforms!r})"


def build_chain(spec: dict | None) -> Compose:
    """Build a chain from a config mapping ``{transform_name: {params} | true | false}``.

    Examples
    --------
    >>> build_chain({"gain": {"min_db": -6, "max_db": 6, "p": 1.0}}).transforms[0].name
    'gain'
    """
    from auricle.errors import ConfigError

    out = []
    for name, params in (spec or {}).items():
        if params is False or params is None:
            continue
        if name not in TRANSFORMS:
            raise ConfigError(f"unknown augmentation '{name}'", fix=f"choose from: {', '.join(sorted(TRANSFORMS))}")
        params = {} if params is True else dict(params)
        try:
            out.append(TRANSFORMS[name](**params))
        except TypeError as exc:
            raise ConfigError(f"bad parameters for augmentation '{name}': {exc}") from None
    return Compose(out)
