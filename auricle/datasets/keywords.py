"""Keyword-spotting conventions: target words, an ``_unknown_`` class and a ``_silence_`` class.

The Speech Commands benchmark (Warden 2018) classifies 12 classes: ten target words, ``_unknown_``
(every other word, sampled) and ``_silence_`` (background noise without speech).  Per split, the
number of unknown and of silence examples is a share of the number of target-word examples
(10% each in the benchmark).  :func:`select_keywords` applies that to any split dataset, not
only Speech Commands: a folder of words, a manifest, FSDD digits...

Silence clips are cut from the dataset's background-noise recordings (Speech Commands'
``_background_noise_`` or any folder given as ``noise_dir``) at a random volume, or, without
any, generated as low-level colored noise (and some digital zeros).  They are written once as
WAV files under the cache folder, so everything downstream (features, cache, evaluation,
prediction) sees ordinary files.

>>> ds = select_keywords(split(index(root)), ["yes", "no"], seed=0)   # doctest: +SKIP
>>> ds.labels                                                          # doctest: +SKIP
['_silence_', '_unknown_', 'no', 'yes']
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from auricle.datasets.base import SPLITS, Dataset, Item
from auricle.errors import DatasetError

UNKNOWN = "_unknown_"
SILENCE = "_silence_"


def select_keywords(ds: Dataset, keywords, *, unknown: str | None = UNKNOWN, unknown_share: float = 0.1,
                    silence: str | None = SILENCE, silence_share: float = 0.1, noise_dir=None,
                    cache_dir=None, sr: int = 16000, duration: float = 1.0, seed: int = 0) -> Dataset:
    """Keep ``keywords`` as classes, sample the rest as ``unknown``, add ``silence`` clips.

    Parameters
    ----------
    ds : Dataset
        A dataset whose items already have splits (see :func:`auricle.datasets.split`).
    keywords : list of str or str
        Target labels (a comma-separated string is accepted).  Each must exist in ``ds``.
    unknown : str or None
        Label for non-target items; ``None`` drops them.
    unknown_share, silence_share : float
        Per split, the number of unknown / silence examples as a fraction of the number of
        target examples (the benchmark uses 0.1 each).  ``silence_share=0`` adds no silence.
    noise_dir : path, optional
        Folder of background recordings for silence clips (in addition to ``ds.background``).
    cache_dir : path
        Where generated silence clips are written (reused when the same clips are asked for).
    sr, duration : int, float
        Rate and length of the generated silence clips.
    seed : int
        Makes the unknown sampling and the silence clips reproducible.

    Returns
    -------
    Dataset
        A new dataset; its labels are the keywords plus the unknown/silence labels in use.
    """
    if isinstance(keywords, str):
        keywords = [k.strip() for k in keywords.split(",") if k.strip()]
    keywords = list(dict.fromkeys(keywords))
    have = sorted({it.label for it in ds.items} | {it.extra.get("word") for it in ds.items if it.extra.get("word")})
    absent = [k for k in keywords if k not in have]
    if not keywords or absent:
        raise DatasetError(f"keyword(s) {', '.join(map(repr, absent)) or '(none given)'} not in the data",
                           path=ds.root, fix=f"available words: {', '.join(have)}")
    for name, share in (("unknown_share", unknown_share), ("silence_share", silence_share)):
        if not 0 <= share <= 10:
            raise DatasetError(f"{name} must be between 0 and 10, got {share}")
    rng = np.random.default_rng([seed, 4242])
    keep = set(keywords)
    out: list[Item] = []
    for sp in [*SPLITS, None]:
        part = [it for it in ds.items if it.split == sp]
        if not part:
            continue
        targets = [it for it in part if it.label in keep]
        others = [it for it in part if it.label not in keep and it.label != unknown]
        out += targets
        n_t = len(targets)
        if unknown is not None and others and unknown_share > 0:
            n_u = min(len(others), int(math.ceil(n_t * unknown_share)))
            pick = rng.choice(len(others), size=n_u, replace=False)
            for i in sorted(pick):
                it = others[i]
                out.append(replace(it, label=unknown, extra={**it.extra, "word": it.label}))
        if silence is not None and silence_share > 0 and sp is not None:
            n_s = int(math.ceil(n_t * silence_share))
            out += _silence_items(ds, sp, n_s, noise_dir=noise_dir, cache_dir=cache_dir, sr=sr,
                                  duration=duration, seed=seed, label=silence)
    labels = sorted({it.label for it in out})
    return replace(ds, items=out, labels=labels, warnings=list(ds.warnings), background=list(ds.background))


def _noise_files(ds: Dataset, noise_dir) -> list[str]:
    from auricle.audio import AUDIO_EXTENSIONS

    files = list(ds.background or [])
    if noise_dir:
        d = Path(noise_dir).expanduser()
        found = sorted(str(p) for p in d.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS) if d.is_dir() else []
        if not found:
            raise DatasetError("the noise folder has no audio files" if d.is_dir() else "the noise folder does not exist",
                               path=d, fix="point noise_dir at a folder of wav/flac/ogg/mp3 background recordings")
        files += found
    return files


def _silence_items(ds, split, n, *, noise_dir, cache_dir, sr, duration, seed, label) -> list[Item]:
    from auricle.audio import load, save
    from auricle.datasets.cache import default_cache_dir

    if n <= 0:
        return []
    noise = _noise_files(ds, noise_dir)
    n_samples = int(round(sr * duration))
    ident = json.dumps({"noise": [(p, os.path.getsize(p)) for p in noise], "split": split, "n": n, "sr": sr,
                        "len": n_samples, "seed": seed, "v": 1})
    key = hashlib.sha1(ident.encode()).hexdigest()[:16]
    folder = default_cache_dir(cache_dir) / "silence" / key
    paths = [folder / f"{split}_{i:05d}.wav" for i in range(n)]
    if not all(p.exists() for p in paths):
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([seed, 777, SPLITS.index(split)])
        waves = [load(p, sr=sr) for p in noise]
        waves = [w for w in waves if len(w)]
        for i in range(n):
            save(tmp / paths[i].name, _silence_clip(rng, waves, n_samples), sr)
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete earlier entry
        os.replace(tmp, folder)
    return [Item(str(p), label, f"{SILENCE}:{split}", split, {"kind": "silence"}) for p in paths]


def _silence_clip(rng, waves, n_samples) -> np.ndarray:
    """One clip of background without speech: a random window of a noise recording at a random
    volume (looped if shorter), or low-level colored noise / digital silence without recordings."""
    from auricle.augment.waveform import colored_noise

    if waves and rng.random() < 0.9:
        w = waves[rng.integers(len(waves))]
        if len(w) < n_samples:
            w = np.tile(w, int(np.ceil(n_samples / len(w))))
        start = rng.integers(0, len(w) - n_samples + 1)
        clip = w[start:start + n_samples] * rng.uniform(0.0, 1.0)
    elif rng.random() < 0.15:
        clip = np.zeros(n_samples, np.float32)
    else:
        level_db = rng.uniform(-75, -35)
        color = ["white", "pink", "brown"][rng.integers(3)]
        clip = colored_noise(1, n_samples, color, rng)[0]
        clip = clip / (np.sqrt(np.mean(clip ** 2)) + 1e-12) * 10 ** (level_db / 20)
    return np.clip(clip, -1, 1).astype(np.float32)
