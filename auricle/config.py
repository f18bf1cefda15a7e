"""Typed run configuration <-> YAML.

A run is fully described by one YAML file with five sections::

    data:      where the audio is and how to split it
    features:  a preset name plus overrides (see :mod:`auricle.features`)
    augment:   on-the-fly training augmentation (see :mod:`auricle.augment`)
    model:     a registered model name plus its options
    train:     optimizer, schedule, epochs, early stopping, class weights, seed

Named recipes (``auricle/recipes/*.yaml``) are complete configs; a user config or CLI
flags override them key by key.
"""
from __future__ import annotations

import copy
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from auricle.errors import ConfigError

RECIPES_DIR = Path(__file__).parent / "recipes"


@dataclass
class DataConfig:
    root: str = "demo"               # a folder/CSV, or "demo" for the built-in keyword set
    layout: str = "auto"
    val: float = 0.15
    test: float = 0.15
    split_by: str = "group"          # "group" (speaker/source disjoint) or "item" (leaky, warned)
    split_seed: int = 0
    test_groups: list | None = None  # explicit held-out groups, e.g. [jackson]
    val_groups: list | None = None
    crop: str = "center"             # fix-length policy for clips (center/start/random)
    window_hop: float | str | None = "auto"  # seconds between windows cut from long files (after splitting);
                                     # auto: half a window when the median recording is >= 1.5 windows, else none
    variable_length: bool = False    # pad short clips at the end and mask the padding (sequence models)
    trim_db: float | None = None     # trim leading/trailing silence (dB below the loudest frame) before cropping
    drop_silent_db: float | None = None  # with window_hop: drop windows this many dB below the loudest window
    band_limit: str = "auto"         # auto: cap features.fmax at the recordings' own Nyquist (8 kHz data -> 4 kHz); off
    noise_floor: str = "off"         # auto: features.top_db just below the recordings' own noise floor (see data.noise_floor)
    strict: bool = False             # fail on the first unreadable file instead of skipping it
    options: dict = field(default_factory=dict)  # layout-specific options
    keywords: list | None = None     # target words; others -> _unknown_, plus _silence_ (Speech Commands style)
    unknown_share: float = 0.1       # per split: unknown examples as a fraction of target examples
    silence_share: float = 0.1       # per split: silence clips as a fraction of target examples
    noise_dir: str | None = None     # background recordings for silence clips (besides _background_noise_)
    extra_train: list | None = None  # folders/manifests added to the training split only (e.g. `auricle synth` voices)
    silence_frames: str | None = None  # with variable_length: per-frame targets, silent frames (energy VAD) handled as
                                     # mask (kept, zero loss weight), remove (cut out) or label (own _silence_ class);
                                     # decision = mean over voiced frames (auricle.datasets.silence); null: off
    vad_db: float = 30.0             # with silence_frames: a frame this many dB below the utterance's loudest is silent
    cache: str = "auto"              # training features: memory (one memory-mapped array, fast for small data), shards
                                     # (sharded cache streamed through tf.data: memory bounded whatever the size), auto
                                     # (shards above a size threshold, auricle.data.choose_cache); val/test: memory
    cache_cluster: str | None = None  # with shards: build them on this Dask scheduler (tcp://host:8786) instead of a
                                     # local cluster of train.workers processes (auricle train --cluster)


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "adam"          # adam, adamw, sgd, rmsprop
    learning_rate: float = 1e-3
    momentum: float = 0.9            # sgd / rmsprop
    weight_decay: float = 0.0        # adamw
    lr_schedule: str = "none"        # none, cosine, step, plateau
    warmup_epochs: int = 0
    loss: str = "categorical_crossentropy"  # or focal
    label_smoothing: float = 0.0
    mixup: float = 0.0               # alpha of mixup's Beta(alpha, alpha) mixing weight; 0 disables
    ema: float = 0.0                 # decay of an exponential moving average of the weights (e.g. 0.999), which
                                     # validation sees and the run keeps; 0 disables
    early_stopping: int = 0          # patience in epochs; 0 disables
    monitor: str = "val_accuracy"
    keep: str = "best"               # weights the run keeps: best (epoch with the best monitor) or last;
                                     # last when there is no validation split
    class_weight: Any = None         # None, "balanced", or {label: weight}
    oversample: bool = False         # repeat minority-class examples up to the largest class
    seed: int = 0
    cache_dir: str | None = None     # feature cache; default $AURICLE_CACHE or ~/.cache/auricle
    workers: int = 2                 # processes for reading audio / computing features
    augment_domain: str = "auto"     # auto: shift/gain/noise on cached mel power when they can (no STFT per batch); waveform; power
    teacher: str | None = None       # distil from this finished run (auricle.distillation): it sees every training batch
    teacher_weight: float = 0.7      # share of each target taken from the teacher's probabilities
    teacher_temperature: float = 1.0  # > 1 flattens the teacher's probabilities
    tta_shift_ms: list = field(default_factory=list)  # test-time augmentation: the saved model also looks at the clip
                                     # shifted by each of these ms and averages (auricle.models.tta); [] = off
    fuse: dict = field(default_factory=dict)  # late fusion with a classic model on whole recordings (auricle.fusion):
                                     # {member: xgboost, weight: 0.5} (weight = the deep model's share); {} = off
    distribute: str = "none"         # none; mirrored (local GPUs / logical CPUs); multi_worker (hosts from TF_CONFIG).
                                     # batch_size is the global batch, split across replicas; the learning rate is
                                     # not rescaled (scale it with the batch: auricle.training.distribute)


@dataclass
class RunConfig:
    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    features: dict = field(default_factory=lambda: {"preset": "kws"})
    augment: dict = field(default_factory=dict)
    model: dict = field(default_factory=lambda: {"name": "cnn", "options": {}})
    train: TrainConfig = field(default_factory=TrainConfig)
    origin: dict = field(default_factory=dict)  # how the config was chosen, e.g. {recipe: auto, chose: emotion,
                                                # reason: ..., profile: {...}} (recorded, never merged like recipe:)

    # -- conversions ---------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        d = copy.deepcopy(d or {})
        _check_keys(d, {f.name for f in fields(cls)}, "config")
        data = d.pop("data", {}) or {}
        train = d.pop("train", {}) or {}
        _check_keys(data, {f.name for f in fields(DataConfig)}, "data")
        _check_keys(train, {f.name for f in fields(TrainConfig)}, "train")
        cfg = cls(data=DataConfig(**data), train=TrainConfig(**train), **d)
        cfg.validate()
        return cfg

    def silence(self) -> dict | None:
        """The silence handling of :func:`auricle.datasets.cache.cached_features`, or None."""
        s = {"trim_db": self.data.trim_db, "drop_db": self.data.drop_silent_db}
        return {k: float(v) for k, v in s.items() if v is not None} or None

    def feature_config(self):
        from auricle.features import FeatureConfig, preset

        f = dict(self.features or {})
        name = f.pop("preset", None)
        if name:
            return preset(name, **f)
        return FeatureConfig.from_dict(f)

    def validate(self) -> None:
        t, d = self.train, self.data
        if t.epochs < 1:
            raise ConfigError(f"train.epochs must be >= 1, got {t.epochs}")
        if t.batch_size < 1:
            raise ConfigError(f"train.batch_size must be >= 1, got {t.batch_size}")
        if not t.learning_rate > 0:
            raise ConfigError(f"train.learning_rate must be > 0, got {t.learning_rate}")
        if t.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer '{t.optimizer}'", fix=f"use one of {', '.join(OPTIMIZERS)}")
        if t.lr_schedule not in SCHEDULES:
            raise ConfigError(f"unknown lr_schedule '{t.lr_schedule}'", fix=f"use one of {', '.join(SCHEDULES)}")
        if t.keep not in KEEP:
            raise ConfigError(f"unknown train.keep {t.keep!r}", fix="use 'best' (the epoch with the best train.monitor) "
                                                                     "or 'last' (the weights after the final epoch)")
        if t.loss not in LOSSES:
            raise ConfigError(f"unknown loss '{t.loss}'", fix=f"use one of {', '.join(LOSSES)}")
        if not (0 <= d.val < 1 and 0 <= d.test < 1 and d.val + d.test < 1):
            raise ConfigError(f"data.val ({d.val}) and data.test ({d.test}) must be fractions summing below 1")
        if d.split_by not in ("group", "item"):
            raise ConfigError(f"data.split_by must be 'group' or 'item', got '{d.split_by}'")
        if not isinstance(self.model, dict) or "name" not in self.model:
            raise ConfigError("model must be a mapping with a 'name'", fix="e.g. model: {name: cnn, options: {}}")
        wh = d.window_hop
        if not (wh is None or wh == "auto" or (isinstance(wh, (int, float)) and not isinstance(wh, bool) and wh > 0)):
            raise ConfigError(f"data.window_hop must be auto, null or a positive number of seconds, got {wh!r}",
                              fix="auto cuts recordings longer than the window into windows; null crops them")
        if d.cache not in CACHE_MODES:
            raise ConfigError(f"data.cache must be one of {', '.join(CACHE_MODES)}, got {d.cache!r}",
                              fix="memory: one in-memory array (small data); shards: stream the training split from a "
                                  "sharded cache (data larger than memory); auto: shards above a size threshold")
        cc = d.cache_cluster
        if cc is not None and not (isinstance(cc, str) and re.fullmatch(r"[a-z]+://\S+", cc)):
            raise ConfigError(f"data.cache_cluster must be a Dask scheduler address such as tcp://host:8786, got {cc!r}",
                              fix="start one with `dask scheduler`, or leave it null for a local cluster")
        if d.band_limit not in ("auto", "off"):
            raise ConfigError(f"data.band_limit must be 'auto' or 'off', got {d.band_limit!r}")
        if d.noise_floor not in ("auto", "off"):
            raise ConfigError(f"data.noise_floor must be 'auto' or 'off', got {d.noise_floor!r}")
        if d.silence_frames is not None:
            from auricle.datasets.silence import check_mode

            check_mode(d.silence_frames, d.vad_db, kind=self.feature_config().kind, variable_length=d.variable_length)
        if not (isinstance(self.train.ema, (int, float)) and not isinstance(self.train.ema, bool)
                and 0.0 <= self.train.ema < 1.0):
            raise ConfigError(f"train.ema must be a decay in [0, 1) (0 disables), got {self.train.ema!r}",
                              fix="0.999 averages over about the last 1,000 steps; 0.99 over 100")
        if not (isinstance(self.train.mixup, (int, float)) and self.train.mixup >= 0):
            raise ConfigError(f"train.mixup must be a number >= 0 (Beta alpha; 0 disables), got {self.train.mixup!r}")
        _check_teacher(self.train)  # settings only: the teacher run is checked when training loads it
        from auricle.models.tta import check as check_tta

        self.train.tta_shift_ms = check_tta(self.train.tta_shift_ms)
        if self.train.tta_shift_ms and d.variable_length:  # caught here, not after the last epoch
            raise ConfigError("train.tta_shift_ms needs clips of a fixed length, but data.variable_length is on",
                              fix="drop one of the two")
        if self.train.distribute not in DISTRIBUTE:
            raise ConfigError(f"train.distribute must be one of {', '.join(DISTRIBUTE)}, got {self.train.distribute!r}",
                              fix="mirrored: this machine's GPUs; multi_worker: the hosts in TF_CONFIG")
        from auricle.fusion import normalize_fuse

        self.train.fuse = normalize_fuse(self.train.fuse)
        if self.train.augment_domain not in ("auto", "waveform", "power"):
            raise ConfigError(f"train.augment_domain must be auto, waveform or power, got {self.train.augment_domain!r}")
        for k in ("trim_db", "drop_silent_db"):
            v = getattr(d, k)
            if v is not None and not (isinstance(v, (int, float)) and 0 < v <= 120):
                raise ConfigError(f"data.{k} must be null or a level in dB between 0 and 120, got {v!r}")
        if d.keywords is not None and isinstance(d.keywords, str):
            d.keywords = [k.strip() for k in d.keywords.split(",") if k.strip()]
        cw = t.class_weight
        if cw is not None and cw != "balanced" and not isinstance(cw, dict):
            raise ConfigError(f"train.class_weight must be null, 'balanced' or a mapping label->weight, got {cw!r}")

    # -- YAML ------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        path = Path(path)
        if not path.exists():
            raise ConfigError("config file not found", path=path)
        try:
            d = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"invalid YAML ({exc})", path=path) from None
        return cls.from_dict(_on_base(d))


OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
DISTRIBUTE = ("none", "mirrored", "multi_worker")
CACHE_MODES = ("auto", "memory", "shards")
SCHEDULES = ("none", "cosine", "step", "plateau")
LOSSES = ("categorical_crossentropy", "focal")
KEEP = ("best", "last")


def _check_keys(d: dict, valid: set, where: str) -> None:
    unknown = set(d) - valid
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} in {where}", fix=f"valid keys: {', '.join(sorted(valid))}")


def deep_merge(base: dict, over: dict) -> dict:
    """Recursively merge ``over`` into a copy of ``base`` (mappings merge, others replace)."""
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "class_weight":
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _on_base(d: dict | None) -> dict | None:
    """A config mapping with a ``recipe: NAME`` key, merged over that recipe (user configs and the
    shipped recipes alike)."""
    if "recipe" in (d or {}):
        d = dict(d)
        base = recipe(d.pop("recipe")).to_dict()
        model = d.get("model")
        if isinstance(model, dict) and model.get("name") not in (None, base["model"].get("name")):
            base["model"] = {}  # another model: the recipe's model options mean nothing to it
        d = deep_merge(base, d)
    return d


def list_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def recipe(name: str, overrides: dict | None = None) -> RunConfig:
    """A named, complete configuration (``default``, ``classic``, ...).

    Examples
    --------
    >>> recipe("classic").model["name"]
    'cnn'
    """
    path = RECIPES_DIR / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown recipe '{name}'", fix=f"choose one of: {', '.join(list_recipes())}")
    d = _on_base(yaml.safe_load(path.read_text()))
    return RunConfig.from_dict(deep_merge(d, overrides or {}))


def _check_teacher(t) -> None:
    """Validate the ``train.teacher*`` settings without opening the teacher run
    (:func:`auricle.distillation.load_teacher` checks the run itself when training starts)."""
    if t.teacher is None:
        return
    if not isinstance(t.teacher, str) or not t.teacher:
        raise ConfigError(f"train.teacher must be a run directory or null, got {t.teacher!r}")
    if not (isinstance(t.teacher_weight, (int, float)) and 0.0 < t.teacher_weight <= 1.0):
        raise ConfigError(f"train.teacher_weight must be in (0, 1], got {t.teacher_weight!r}",
                          fix="the share of each target taken from the teacher; 0.5 to 0.9 is usual")
    if not (isinstance(t.teacher_temperature, (int, float)) and t.teacher_temperature > 0):
        raise ConfigError(f"train.teacher_temperature must be > 0, got {t.teacher_temperature!r}")


def set_dotted(d: dict, dotted: str, value) -> None:
    """``set_dotted(cfg, "train.epochs", 5)`` — used by ``--set key=value`` flags."""
    keys = dotted.split(".")
    cur = d
    for k in keys[:-1]:
        cur = cur.setdefault(k, {})
        if not isinstance(cur, dict):
            raise ConfigError(f"cannot set '{dotted}': '{k}' is not a section")
    cur[keys[-1]] = value
