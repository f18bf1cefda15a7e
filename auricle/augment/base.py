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

    def power_ok(self) -> bool:
        """True if this (waveform) transform also has an exact-enough form on mel power,
        :meth:`apply_power` (see :mod:`auricle.augment.power`)."""
        return False

    def apply_power(self, S: np.ndarray, rms: np.ndarray, *, fcfg, rng=None, **params):
        """The same transform on clean mel power ``S`` ``(N, frames, bins)`` with the clips'
        active RMS ``rms``; returns ``(S, rms)``.  Only where :meth:`power_ok` is True."""
        raise NotImplementedError(f"{self.name} has no power-domain form")

    def check(self, fcfg) -> None:
        """Raise :class:`~auricle.errors.ConfigError` if this transform cannot run on features
        described by ``fcfg`` (called before training starts); most transforms run on any."""

    def __call__(self, x: np.ndarray, rng: np.random.Generator, **ctx) -> np.ndarray:
        n = x.shape[0]
        mask = rng.random(n) < self.p
        if not mask.any():
            return x
        params = self.randomize(int(mask.sum()), rng)
        if mask.all():  # the whole batch: no gather / copy / scatter (apply never works in place)
            return self.apply(x, rng=rng, **params, **ctx)
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

    def check(self, fcfg) -> None:
        """Check every transform against the run's feature config (see :meth:`Transform.check`)."""
        for t in self.transforms:
            t.check(fcfg)

    def __bool__(self):
        return bool(self.transforms)

    def __repr__(self):
        return f"Compose({self.transforms!r})"


def check_range(owner: str, lo_name: str, lo: float, hi_name: str, hi: float, *,
                minimum: float | None = None, maximum: float | None = None, strict_min: bool = False) -> tuple[float, float]:
    """Validate a ``[lo, hi]`` parameter range (``lo <= hi``, inside the allowed bounds) as floats."""
    from auricle.errors import ConfigError

    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ConfigError(f"{owner}: {lo_name} and {hi_name} must be numbers, got {lo!r} and {hi!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ConfigError(f"{owner}: {lo_name} and {hi_name} must be finite, got {lo} and {hi}")
    if lo > hi:
        raise ConfigError(f"{owner}: {lo_name} ({lo:g}) is greater than {hi_name} ({hi:g})",
                          fix=f"swap them or set {lo_name} <= {hi_name}")
    if minimum is not None and (lo < minimum or (strict_min and lo <= minimum)):
        op = ">" if strict_min else ">="
        raise ConfigError(f"{owner}: {lo_name} must be {op} {minimum:g}, got {lo:g}")
    if maximum is not None and hi > maximum:
        raise ConfigError(f"{owner}: {hi_name} must be <= {maximum:g}, got {hi:g}")
    return lo, hi


def log_uniform(lo: float, hi: float, n: int, rng: np.random.Generator, steps_per_octave: int | None = None) -> np.ndarray:
    """``n`` values log-uniform in ``[lo, hi]`` (``lo > 0``), optionally snapped to a grid of
    ``steps_per_octave`` (so filter designs can be cached), staying inside ``[lo, hi]``."""
    v = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    if steps_per_octave:
        v = np.clip(2.0 ** (np.round(np.log2(v) * steps_per_octave) / steps_per_octave), lo, hi)
    return v


def build_chain(spec: dict | None) -> Compose:
    """Build a chain from a config mapping ``{transform_name: {params} | true | false}``.

    Examples
    --------
    >>> build_chain({"gain": {"min_db": -6, "max_db": 6, "p": 1.0}}).transforms[0].name
    'gain'
    """
    from auricle.errors import ConfigError

    out = []
    if spec is not None and not isinstance(spec, dict):
        raise ConfigError(f"augment must be a mapping of transform name -> options, got {type(spec).__name__}",
                          fix="e.g. augment: {gain: {min_db: -6, max_db: 6, p: 0.5}}")
    for name, params in (spec or {}).items():
        if params is False or params is None:
            continue
        if name not in TRANSFORMS:
            raise ConfigError(f"unknown augmentation '{name}'", fix=f"choose from: {', '.join(sorted(TRANSFORMS))}")
        if params is not True and not isinstance(params, dict):
            raise ConfigError(f"options of augmentation '{name}' must be a mapping, true or false, got {params!r}",
                              fix=f"e.g. {name}: {{p: 0.5}}")
        params = {} if params is True else dict(params)
        try:
            out.append(TRANSFORMS[name](**params))
        except TypeError as exc:
            raise ConfigError(f"bad parameters for augmentation '{name}': {exc}") from None
    return Compose(out)
