"""Named separation presets, like Spleeter's ``2stems`` / ``4stems`` / ``5stems``.

Each preset is a complete description of a separator: the stems, the sample rate and channels
the model works at, the STFT, the patch the U-Net sees, and the network's size.

The full-size presets follow Spleeter (frame 4096, hop 1024 at 44.1 kHz, the lowest 1024 bins,
i.e. up to ~11 kHz, 512-frame patches, 6 encoder layers with 16-512 filters).  The ``-16kHz``
presets scale the STFT with the rate (frame 1024, hop 256, all 512 bins below 8 kHz, 256-frame
patches).  The ``-small`` presets are the same networks at a quarter of the width and 5 levels:
what trains in minutes on a 2-core CPU.

Examples
--------
>>> p = get_preset("2stems")
>>> p.stems, p.sr, p.n_fft, p.hop, p.bins, p.frames
(('vocals', 'accompaniment'), 44100, 4096, 1024, 1024, 512)
>>> get_preset("4stems-16kHz").stems
('vocals', 'drums', 'bass', 'other')
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from auricle.errors import ConfigError

#: Every stem name auricle knows.  ``accompaniment`` is everything but the vocals.
STEM_NAMES = ("vocals", "drums", "bass", "piano", "other", "accompaniment")

STEMS = {
    "2stems": ("vocals", "accompaniment"),
    "4stems": ("vocals", "drums", "bass", "other"),
    "5stems": ("vocals", "drums", "bass", "piano", "other"),
}


@dataclass(frozen=True)
class SeparationPreset:
    """A complete separator configuration.

    Parameters
    ----------
    name : str
        The preset's name.
    stems : tuple of str
        Output stems, in order.
    sr : int
        Sample rate the model works at; input files are resampled to it and stems written at it.
    channels : int
        Audio channels the model sees (2: stereo; mono files are duplicated).
    n_fft, hop : int
        STFT frame and hop in samples (periodic Hann window).
    bins : int
        Lowest STFT bins the network sees; higher bins get the mask of the top bin (Spleeter's way).
    frames : int
        STFT frames in one patch (a multiple of ``2 ** depth``).
    model : str
        Name of a builder in :mod:`auricle.separation.unet`'s registry.
    model_options : dict
        Keyword options of that builder (``width``, ``depth``, ``dropout`` ...).
    """

    name: str
    stems: tuple[str, ...]
    sr: int
    channels: int = 2
    n_fft: int = 4096
    hop: int = 1024
    bins: int = 1024
    frames: int = 512
    model: str = "unet"
    model_options: dict = field(default_factory=dict)

    @property
    def patch_seconds(self) -> float:
        """Audio seconds covered by one patch."""
        return self.frames * self.hop / self.sr

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stems"] = list(self.stems)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SeparationPreset":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["stems"] = tuple(known.get("stems", ()))
        known["model_options"] = dict(known.get("model_options") or {})
        return cls(**known)

    def replace(self, **changes: Any) -> "SeparationPreset":
        return replace(self, **changes)


def _make_all() -> dict[str, SeparationPreset]:
    out: dict[str, SeparationPreset] = {}
    for key, stems in STEMS.items():
        out[key] = SeparationPreset(key, stems, 44100, 2, 4096, 1024, 1024, 512, "unet",
                                    {"width": 16, "depth": 6})
        out[f"{key}-16kHz"] = SeparationPreset(f"{key}-16kHz", stems, 16000, 2, 1024, 256, 512, 256,
                                               "unet", {"width": 16, "depth": 6})
        out[f"{key}-22kHz"] = SeparationPreset(f"{key}-22kHz", stems, 22050, 2, 2048, 512, 1024, 256,
                                               "unet", {"width": 16, "depth": 6})
        out[f"{key}-small"] = SeparationPreset(f"{key}-small", stems, 16000, 2, 1024, 256, 512, 128,
                                               "unet", {"width": 8, "depth": 5})
    return out


PRESETS: dict[str, SeparationPreset] = _make_all()


def get_preset(name: str, **overrides: Any) -> SeparationPreset:
    """The preset called ``name`` (``"spleeter:2stems"`` is accepted too), with fields overridden.

    Raises
    ------
    ConfigError
        For an unknown name, listing the known ones.
    """
    key = name.split(":", 1)[1] if name.startswith("spleeter:") else name
    if key not in PRESETS:
        raise ConfigError(f"unknown separation preset {name!r}",
                          fix=f"use one of {', '.join(sorted(PRESETS))}")
    p = PRESETS[key]
    return p.replace(**overrides) if overrides else p
