"""A cheap profile of a dataset and the recipe ``--recipe auto`` picks from it.

:func:`profile_dataset` reads the headers of (up to) every file for sample rates and durations,
decodes a small even sample of files (a few seconds each, at their own rate) for the acoustic
measures, and looks at the layout and the label names:

* ``median_s`` / ``rates``: recording length and sample rates (file headers);
* ``hf_share``: share of the spectral energy above 4 kHz (recordings above 8 kHz only);
* ``flatness``: median spectral flatness (1 = white noise, ~0 = a few sinusoids);
* ``harmonicity``: median peak of the normalized autocorrelation of loud frames (periodic sound);
* ``voiced``: share of loud frames periodic with a pitch in the voice range (70-400 Hz);
* ``syllabic``: share of the loudness envelope's modulation energy at 2-8 Hz (syllable rate);
* ``label_hint`` / ``layout_hint``: a domain named by the labels (emotion words, ISO language
  codes, instrument or genre names, sound-event names) or by the layout (esc50, gtzan, ...).

:func:`choose_recipe` turns a profile into a recipe name and a one-line reason; its thresholds are
the module constants below (figures behind them: ``docs/experiments/domains.md``).

Examples
--------
>>> p = DataProfile(n_files=10, n_sampled=10, median_s=0.9, rates={16000: 10})
>>> choose_recipe(p, available=["default", "emotion", "environmental"]).name
'default'
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

#: Recordings whose median length is at most this (seconds) are keyword-style clips: ``default``.
SHORT_CLIP_S = 1.5
#: A dataset is speech when this share of loud frames is voiced in the voice range ...
SPEECH_VOICED = 0.30
#: ... and this share of its loudness modulation lies at the syllable rate (2-8 Hz) ...
SPEECH_SYLLABIC = 0.38
#: ... and it is less periodic than sustained notes (speech 0.68-0.79, rendered instruments 0.92).
SPEECH_MAX_HARMONICITY = 0.85
#: Non-speech audio at least this harmonic (median autocorrelation peak) is music, else environmental
#: (rendered instruments 0.92, the generated sound-event set of bench_environmental.py 0.77).
MUSIC_HARMONICITY = 0.80
#: Files decoded for the acoustic measures, and seconds read from each.
SAMPLE_FILES = 32
SAMPLE_SECONDS = 6.0

_LAYOUT_HINTS = {"esc50": "environmental", "gtzan": "music", "cremad": "emotion",
                 "speech_commands": "default", "fsdd": "default"}

_EMOTION = {"angry", "anger", "happy", "happiness", "joy", "sad", "sadness", "neutral", "calm", "fear", "fearful",
            "disgust", "disgusted", "surprise", "surprised", "contempt", "boredom", "bored", "excited", "frustrated",
            "ang", "hap", "neu", "sad", "fea", "dis", "sur", "ps"}
_LANGUAGE = {"en", "es", "fr", "it", "ru", "de", "pt", "nl", "sv", "pl", "zh", "ja", "ko", "ar", "hi", "ur", "tr",
             "fa", "el", "cs", "da", "fi", "no", "hu", "ro", "uk", "vi", "th", "id", "he", "ca", "eu", "cy", "ga",
             "eng", "spa", "fra", "fre", "ita", "rus", "deu", "ger", "por", "nld", "zho", "jpn", "kor", "ara",
             "english", "spanish", "french", "italian", "russian", "german", "portuguese", "dutch", "chinese",
             "mandarin", "japanese", "korean", "arabic", "hindi", "urdu", "turkish", "persian", "greek", "polish"}
_MUSIC = {"piano", "guitar", "violin", "viola", "cello", "bass", "flute", "clarinet", "oboe", "bassoon", "trumpet",
          "trombone", "horn", "tuba", "saxophone", "sax", "organ", "harp", "marimba", "xylophone", "vibraphone",
          "banjo", "mandolin", "accordion", "harmonica", "sitar", "synth", "strings", "brass", "voice", "vocal",
          "drums", "keyboard", "mallet", "reed", "blues", "classical", "country", "disco", "hiphop", "hip-hop",
          "jazz", "metal", "pop", "reggae", "rock", "electronic", "folk", "punk", "soul", "funk", "techno",
          "house", "ambient", "instrumental"}
_ENVIRONMENTAL = {"dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow", "rain",
                  "sea_waves", "crackling_fire", "crickets", "chirping_birds", "water_drops", "wind", "pouring_water",
                  "toilet_flush", "thunderstorm", "crying_baby", "sneezing", "clapping", "breathing", "coughing",
                  "footsteps", "laughing", "brushing_teeth", "snoring", "drinking_sipping", "door_wood_knock",
                  "mouse_click", "keyboard_typing", "door_wood_creaks", "can_opening", "washing_machine",
                  "vacuum_cleaner", "clock_alarm", "clock_tick", "glass_breaking", "helicopter", "chainsaw", "siren",
                  "car_horn", "engine", "train", "church_bells", "airplane", "fireworks", "hand_saw", "gun_shot",
                  "jackhammer", "drilling", "air_conditioner", "children_playing", "street_music", "dog_bark",
                  "door", "knock", "bird", "birds", "water", "fire", "car", "traffic", "alarm", "bell", "thunder"}
_HINT_SETS = (("emotion", _EMOTION), ("language", _LANGUAGE), ("music", _MUSIC), ("environmental", _ENVIRONMENTAL))


@dataclass
class DataProfile:
    """What :func:`profile_dataset` measured (all fields plain numbers/strings: saved in config.yaml)."""
    n_files: int
    n_sampled: int
    median_s: float
    rates: dict = field(default_factory=dict)      # sample rate -> files (headers)
    p10_s: float = 0.0
    p90_s: float = 0.0
    hf_share: float | None = None
    flatness: float | None = None
    harmonicity: float | None = None
    voiced: float | None = None
    syllabic: float | None = None
    layout: str | None = None
    layout_hint: str | None = None
    label_hint: str | None = None
    n_labels: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rates"] = {int(k): int(v) for k, v in self.rates.items()}
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}

    @property
    def speech(self) -> bool:
        """Voiced in the voice range, modulated at the syllable rate, less periodic than held notes."""
        return (self.voiced is not None and self.syllabic is not None and self.harmonicity is not None
                and self.voiced >= SPEECH_VOICED and self.syllabic >= SPEECH_SYLLABIC
                and self.harmonicity < SPEECH_MAX_HARMONICITY)


@dataclass
class Choice:
    """The recipe :func:`choose_recipe` picked and why (one line, printed by ``auricle train``)."""
    name: str
    reason: str
    wanted: str | None = None  # the domain the data looked like when its recipe is not installed


def label_hint(labels) -> str | None:
    """The domain most labels name (emotion, language, music, environmental), or None.

    Examples
    --------
    >>> label_hint(["Angry", "Happy", "Neutral", "Sad"])
    'emotion'
    >>> label_hint(["en", "fr", "ru"])
    'language'
    >>> label_hint(["yes", "no", "up"]) is None
    True
    """
    words = [re.sub(r"[\s\-]+", "_", str(lab).strip().lower()) for lab in labels if not str(lab).startswith("_")]
    if not words:
        return None
    best, best_share = None, 0.0
    for domain, vocab in _HINT_SETS:
        share = np.mean([w in vocab or any(part in vocab for part in w.split("_")) for w in words])
        if share > best_share:
            best, best_share = domain, float(share)
    return best if best_share >= 0.5 else None


def _frames(y: np.ndarray, win: int, hop: int) -> np.ndarray:
    if len(y) < win:
        y = np.pad(y, (0, win - len(y)))
    return np.lib.stride_tricks.sliding_window_view(y, win)[::hop]


def acoustic_measures(y: np.ndarray, sr: int) -> dict:
    """The acoustic part of a profile for one mono signal at its native rate ``sr``.

    Returns ``hf_share`` (None at 8 kHz and below), ``flatness``, ``harmonicity``, ``voiced`` and
    ``syllabic`` (see the module docstring); None values when the signal is silent.

    Examples
    --------
    >>> sr = 16000
    >>> noise = np.random.default_rng(0).standard_normal(2 * sr)
    >>> m = acoustic_measures(noise, sr)
    >>> m["flatness"] > 0.5 and m["harmonicity"] < 0.3
    True
    """
    y = np.asarray(y, np.float64)
    out = dict(hf_share=None, flatness=None, harmonicity=None, voiced=None, syllabic=None)
    if not len(y) or not np.any(y):
        return out
    # spectrum at the native rate: energy above 4 kHz, flatness
    n_fft = 1 << int(np.ceil(np.log2(0.032 * sr)))
    fr = _frames(y, n_fft, n_fft // 2) * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(fr, axis=1)) ** 2 + 1e-12
    e = power.sum(axis=1)
    loud = e >= e.max() * 10 ** (-40 / 10)
    p = power[loud]
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    if sr > 8000:
        out["hf_share"] = float(p[:, freqs > 4000].sum() / p.sum())
    out["flatness"] = float(np.median(np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)))
    # periodicity at 8 kHz: normalized autocorrelation of 40 ms frames
    from auricle.audio import resample

    z = resample(y, orig_sr=sr, target_sr=8000) if sr != 8000 else y
    win, hop = 320, 80
    fz = _frames(z, win, hop)
    fz = fz - fz.mean(axis=1, keepdims=True)
    ez = (fz ** 2).sum(axis=1)
    loud_z = ez >= ez.max() * 10 ** (-30 / 10)
    if loud_z.sum() >= 3:
        spec = np.fft.rfft(fz[loud_z], n=2 * win, axis=1)
        ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :win]
        ac = ac / np.maximum(ac[:, :1], 1e-12)
        lo, hi = 8000 // 1000, 8000 // 50        # lags for 50-1000 Hz
        peak = ac[:, lo:hi].max(axis=1)
        lag = lo + ac[:, lo:hi].argmax(axis=1)
        out["harmonicity"] = float(np.median(peak))
        in_voice = (lag >= 8000 // 400) & (lag <= 8000 // 70)
        out["voiced"] = float(np.mean((peak >= 0.5) & in_voice))
    # syllable-rate modulation of the loudness envelope (100 Hz frame rate)
    env = 10 * np.log10(ez / max(ez.max(), 1e-12) + 1e-6)
    env = np.maximum(env, -50.0)
    if len(env) >= 100:  # at least a second
        env = env - env.mean()
        m = np.abs(np.fft.rfft(env * np.hanning(len(env)))) ** 2
        mf = np.fft.rfftfreq(len(env), 1 / 100)
        band = (mf >= 0.5) & (mf <= 25)
        if m[band].sum() > 0:
            out["syllabic"] = float(m[(mf >= 2) & (mf <= 8)].sum() / m[band].sum())
    return out


def profile_dataset(dataset, *, max_files: int = SAMPLE_FILES, seconds: float = SAMPLE_SECONDS,
                    max_headers: int = 4000) -> DataProfile:
    """Profile an indexed :class:`~auricle.datasets.Dataset` cheaply (headers + a small sample).

    Parameters
    ----------
    dataset : Dataset
        From :func:`auricle.datasets.index`.
    max_files : int
        Files decoded (evenly spaced, so every class is usually seen) for the acoustic measures.
    seconds : float
        Seconds read from the middle of each sampled file.
    max_headers : int
        Files whose headers are read for rates and durations (evenly spaced).

    Examples
    --------
    >>> from auricle.datasets import index                    # doctest: +SKIP
    >>> profile_dataset(index("data/urdu")).median_s         # doctest: +SKIP
    2.0
    """
    from auricle.audio import info, load_native
    from auricle.errors import AudioError

    items = [it for it in dataset.items if not str(it.label).startswith("_")]
    step = max(1, len(items) // max_headers)
    rates: Counter = Counter()
    secs = []
    for it in items[::step]:
        try:
            h = info(it.path)
        except AudioError:
            continue
        rates[int(h.samplerate)] += 1
        secs.append(h.frames / h.samplerate)
    secs = np.asarray(secs, float)
    acc: dict[str, list] = {k: [] for k in ("hf_share", "flatness", "harmonicity", "voiced", "syllabic")}
    n_sampled = 0
    sample = items[::max(1, len(items) // max_files)][:max_files] if items else []
    for it in sample:
        try:
            y, sr = load_native(it.path)
        except AudioError:
            continue
        n = int(seconds * sr)
        if len(y) > n:
            start = (len(y) - n) // 2
            y = y[start:start + n]
        n_sampled += 1
        for k, v in acoustic_measures(y, sr).items():
            if v is not None:
                acc[k].append(v)
    med = {k: (float(np.median(v)) if v else None) for k, v in acc.items()}
    layout = getattr(dataset, "layout", None)
    return DataProfile(
        n_files=len(items), n_sampled=n_sampled,
        median_s=float(np.median(secs)) if len(secs) else 0.0,
        p10_s=float(np.percentile(secs, 10)) if len(secs) else 0.0,
        p90_s=float(np.percentile(secs, 90)) if len(secs) else 0.0,
        rates=dict(sorted(rates.items())), layout=layout, layout_hint=_LAYOUT_HINTS.get(layout),
        label_hint=label_hint(dataset.labels), n_labels=len(dataset.labels), **med)


def _fmt(p: DataProfile) -> str:
    rate = max(p.rates, key=p.rates.get) if p.rates else 0
    bits = [f"median {p.median_s:.1f} s", f"{rate} Hz" + (" (mixed rates)" if len(p.rates) > 1 else "")]
    if p.voiced is not None:
        bits.append(f"voiced {p.voiced:.2f}")
    if p.syllabic is not None:
        bits.append(f"syllabic {p.syllabic:.2f}")
    if p.harmonicity is not None:
        bits.append(f"harmonic {p.harmonicity:.2f}")
    return ", ".join(bits)


def choose_recipe(profile: DataProfile, *, available=None) -> Choice:
    """The recipe for a profiled dataset, with the reason in one line.

    In order: the layout's domain (esc50 -> environmental, gtzan -> music, cremad -> emotion,
    speech_commands / fsdd -> default); short clips (median <= :data:`SHORT_CLIP_S`) -> default;
    labels naming a domain (emotion words, language codes, instruments / genres, sound events);
    speech (:attr:`DataProfile.speech`) -> emotion; harmonic audio (>= :data:`MUSIC_HARMONICITY`)
    -> music; anything else -> environmental.  A domain whose recipe is not in ``available``
    (default :func:`auricle.config.list_recipes`) falls back to ``default``, saying so.

    Examples
    --------
    >>> p = DataProfile(n_files=400, n_sampled=32, median_s=2.0, rates={16000: 400}, voiced=0.5,
    ...                 syllabic=0.5, harmonicity=0.7, label_hint="emotion")
    >>> c = choose_recipe(p, available=["default", "emotion"])
    >>> c.name, c.reason
    ('emotion', 'median 2.0 s, 16000 Hz, voiced 0.50, syllabic 0.50, harmonic 0.70, labels look like emotions')
    """
    if available is None:
        from auricle.config import list_recipes

        available = list_recipes()
    base = _fmt(profile)
    if profile.layout_hint:
        want, why = profile.layout_hint, f"the {profile.layout} layout"
    elif profile.median_s <= SHORT_CLIP_S:
        want, why = "default", f"clips up to {SHORT_CLIP_S:g} s: keyword-style"
    elif profile.label_hint:
        want, why = profile.label_hint, {"emotion": "labels look like emotions", "language": "labels look like "
                                         "language codes", "music": "labels look like instruments or genres",
                                         "environmental": "labels look like sound events"}[profile.label_hint]
    elif profile.speech:
        want, why = "emotion", "speech (voiced, syllable-rate loudness), labels unknown: emotion"
    elif profile.harmonicity is not None and profile.harmonicity >= MUSIC_HARMONICITY:
        want, why = "music", "harmonic, not speech"
    else:
        want, why = "environmental", "not speech, not harmonic"
    if want not in available:
        return Choice("default", f"{base}; {why} -> '{want}', but that recipe is not installed, so default", want)
    return Choice(want, f"{base}, {why}")


def auto_recipe(data_cfg, *, console=None, available=None) -> tuple[Choice, DataProfile | None]:
    """``--recipe auto``: index the dataset a :class:`~auricle.config.DataConfig` names, profile it
    and choose a recipe (printed to ``console`` in one line).  Keyword spotting (``data.keywords``)
    is ``default`` without profiling.

    Examples
    --------
    >>> from auricle.config import DataConfig
    >>> auto_recipe(DataConfig(root="demo"))[0].name        # doctest: +SKIP
    'default'
    """
    if data_cfg.keywords:
        choice, prof = Choice("default", "data.keywords set: keyword spotting"), None
    else:
        from auricle import datasets
        from auricle.data import resolve_root

        ds = datasets.index(resolve_root(data_cfg.root), layout=data_cfg.layout, strict=data_cfg.strict,
                            **(data_cfg.options or {}))
        prof = profile_dataset(ds)
        choice = choose_recipe(prof, available=available)
    if console is not None:
        console.print(f"recipe auto -> {choice.name} ({choice.reason})")
    return choice, prof


def origin_record(choice: Choice, prof: DataProfile | None) -> dict:
    """What a run's ``config.yaml`` keeps under ``origin`` about an automatic choice."""
    d = {"recipe": "auto", "chose": choice.name, "reason": choice.reason}
    if choice.wanted:
        d["wanted"] = choice.wanted
    if prof is not None:
        d["profile"] = prof.to_dict()
    return d
