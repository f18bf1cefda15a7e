"""Run settings settled or checked before any training: ``auto`` data settings and model options.

Used by :func:`auricle.training.fit.train` (step 2, ``_start_run``) and by
:func:`auricle.training.ensemble.train_separately`, which settles them once for all its members;
kept below both so that neither imports the other for them.
"""
from __future__ import annotations

from auricle.errors import ModelError


def resolve_auto_settings(cfg, *, console, progress: bool = True):
    """Settle ``data.band_limit: auto`` and ``data.noise_floor: auto`` into ``cfg.features`` and
    ``data.window_hop: auto`` into ``cfg.data`` (:func:`auricle.data.window_hop`).
    Returns the indexed dataset when it had to be read (``prepare`` reuses it), else None."""
    from auricle import data as data_mod

    if cfg.data.band_limit != "auto" and cfg.data.noise_floor != "auto" and cfg.data.window_hop != "auto":
        return None
    fcfg0 = cfg.feature_config()
    dataset = data_mod.load_dataset(cfg.data, progress=progress, cache_dir=cfg.train.cache_dir,
                                    sr=fcfg0.sr, duration=fcfg0.n_samples / fcfg0.sr)
    data_mod.band_limit(cfg, dataset.items, console=console)
    data_mod.noise_floor(cfg, [it for it in dataset.items if it.split == "train"], console=console)
    data_mod.window_hop(cfg, [it for it in dataset.items if it.split == "train"], console=console)
    return dataset


def check_model_options(cfg) -> None:
    """Raise :class:`~auricle.errors.ModelError` when ``cfg.model`` names options its model does not
    have, or the data settings need a kind of model it is not (masking, framewise)."""
    from auricle.models import get_model

    spec = get_model(cfg.model["name"])
    unknown = set(cfg.model.get("options") or {}) - set(spec.defaults)
    if unknown:
        raise ModelError(f"unknown option(s) {sorted(unknown)} for model '{spec.name}'",
                         fix=f"valid options: {', '.join(sorted(spec.defaults))}")
    if cfg.data.variable_length and "masking" not in spec.defaults:
        from auricle.models import list_models

        maskers = [m.name for m in list_models() if "masking" in m.defaults]
        raise ModelError(f"data.variable_length needs a model that masks padding; '{spec.name}' does not",
                         fix=f"use one of: {', '.join(maskers)}")
    if cfg.data.silence_frames and "frames" not in spec.defaults:
        raise ModelError(f"data.silence_frames needs a framewise model; '{spec.name}' is not",
                         fix="use model gru or lstm (--model gru)")
    if cfg.data.silence_frames and cfg.train.teacher:
        raise ModelError("data.silence_frames with train.teacher is not supported: a teacher gives one answer per "
                         "clip, a framewise model learns one per frame",
                         fix="drop train.teacher, or train without data.silence_frames")
