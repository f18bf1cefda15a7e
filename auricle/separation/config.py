"""The settings of a separation run and the songs they name.

:class:`SeparationConfig` is a separation run's ``config.yaml``; :func:`load_songs` indexes, splits
and caches the songs it points at.  Training (:mod:`auricle.separation.training`) and evaluation
(:mod:`auricle.separation.evaluate`) both start here, so neither imports the other for these.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from auricle.errors import ConfigError
from auricle.separation.presets import SeparationPreset, get_preset

__all__ = ["SeparationConfig", "demo_root", "load_songs"]


@dataclass
class SeparationConfig:
    """Everything a separation run needs; saved as the run's ``config.yaml``.

    Examples
    --------
    >>> c = SeparationConfig(data="songs", preset="2stems-small", epochs=3)
    >>> SeparationConfig.from_dict(c.to_dict()) == c
    True
    """

    data: str = "demo"
    preset: str = "4stems-small"
    preset_overrides: dict = field(default_factory=dict)
    layout: str = "auto"
    epochs: int = 8
    steps_per_epoch: int = 30
    batch_size: int = 8
    lr: float = 1e-3
    train_frames: int | None = None          # patch length in training (default: the preset's frames)
    remix: float = 0.5
    gain: tuple = (0.25, 1.25)
    channel_swap: float = 0.5
    valid_patches: int = 48
    valid_fraction: float = 0.15
    test_fraction: float = 0.15
    mask: str = "ratio"
    seed: int = 0
    cache_dir: str | None = None
    eval_seconds: float | None = None        # evaluate on at most this much of each test song

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gain"] = list(self.gain)
        return {"task": "separation", **d}

    @classmethod
    def from_dict(cls, d: dict) -> "SeparationConfig":
        d = {k: v for k, v in d.items() if k != "task"}
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown separation setting(s) {sorted(unknown)}",
                              fix=f"valid settings: {', '.join(sorted(cls.__dataclass_fields__))}")
        if "gain" in d:
            d["gain"] = tuple(d["gain"])
        return cls(**d)

    def resolved_preset(self) -> SeparationPreset:
        return get_preset(self.preset, **self.preset_overrides)

    def validate(self) -> None:
        p = self.resolved_preset()
        if self.epochs < 1 or self.steps_per_epoch < 1 or self.batch_size < 1:
            raise ConfigError("epochs, steps_per_epoch and batch_size must be >= 1")
        if not 0 <= self.remix <= 1 or not 0 <= self.channel_swap <= 1:
            raise ConfigError("remix and channel_swap are probabilities in [0, 1]")
        step = 2 ** int(p.model_options.get("depth", 6))
        frames = self.train_frames or p.frames
        if frames % step:
            raise ConfigError(f"train_frames={frames} is not a multiple of 2**depth={step}",
                              fix=f"use {max(step, frames // step * step)}")


def demo_root() -> Path:
    """The generated demo songs (:mod:`auricle.separation.demo`), rendered on first use."""
    from auricle.data import default_cache_dir
    from auricle.separation.demo import make_demo_stems

    root = default_cache_dir() / "demo-stems"
    if not (root / "manifest.csv").exists():
        make_demo_stems(root, overwrite=True)
    return root


def load_songs(cfg: SeparationConfig, preset: SeparationPreset):
    """Index, split and cache the dataset: ``{split: StemCache}``."""
    from auricle.data import default_cache_dir
    from auricle.separation.stems import StemCache, index_stems, split_songs

    root = demo_root() if cfg.data == "demo" else Path(cfg.data).expanduser()
    songs = index_stems(root, stems=preset.stems, layout=cfg.layout)
    splits = split_songs(songs, valid=cfg.valid_fraction, test=cfg.test_fraction, seed=cfg.seed)
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir() / "stems"
    return {k: StemCache(v, stems=preset.stems, sr=preset.sr, channels=preset.channels, cache_dir=cache_dir)
            for k, v in splits.items() if v}
