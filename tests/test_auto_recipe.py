"""``--recipe auto``: the data profile (auricle.datasets.profile) and the recipe it picks, on generated audio
with a known answer per branch (profile only, no training)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import lfilter
from typer.testing import CliRunner

from auricle.config import RunConfig, recipe
from auricle.datasets import index
from auricle.datasets.profile import (SHORT_CLIP_S, Choice, DataProfile, acoustic_measures, choose_recipe,
                                      label_hint, profile_dataset)

ALL = ["default", "emotion", "environmental", "music", "language"]


def speech_like(seconds, sr, rng):
    """Syllables (0.12-0.25 s) of a falling glottal pulse train at 100-220 Hz through two formants, short gaps."""
    n = int(seconds * sr)
    y, t = np.zeros(n), 0
    while t < n:
        syl, gap = int(rng.uniform(0.12, 0.25) * sr), int(rng.uniform(0.04, 0.12) * sr)
        ph = np.cumsum(rng.uniform(100, 220) * np.linspace(1.1, 0.9, syl) / sr)
        seg = (np.diff(np.floor(ph), prepend=0) > 0).astype(float)
        for fc, bw in ((rng.uniform(500, 800), 80), (rng.uniform(1000, 1800), 120)):
            r, th = np.exp(-np.pi * bw / sr), 2 * np.pi * fc / sr
            seg = lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], seg)
        m = min(syl, n - t)
        y[t:t + m] = (seg * np.hanning(syl))[:m]
        t += syl + gap
    return 0.5 * y / np.abs(y).max()


def music_like(seconds, sr, rng):
    """Held harmonic notes (0.5-1 s, 5 partials) overlapping by their 0.15 s release."""
    n = int(seconds * sr)
    y, t = np.zeros(n), 0
    while t < n:
        d = int(rng.uniform(0.5, 1.0) * sr)
        f = 220 * 2 ** (rng.integers(0, 24) / 12)
        tt = np.arange(d + int(0.4 * sr)) / sr
        env = np.minimum(1, tt / 0.05) * np.where(tt < d / sr, 1.0, np.exp(-(tt - d / sr) / 0.15))
        note = sum(np.sin(2 * np.pi * f * k * tt) / k for k in range(1, 6)) * env
        m = min(len(tt), n - t)
        y[t:t + m] += note[:m]
        t += d
    return 0.5 * y / np.abs(y).max()


def env_like(seconds, sr, rng):
    """Background noise with decaying noise bursts (rain, knocks)."""
    n = int(seconds * sr)
    y = rng.standard_normal(n) * 0.05
    for _ in range(int(seconds * 3)):
        s, L = rng.integers(0, n - sr // 10), rng.integers(sr // 50, sr // 10)
        y[s:s + L] += rng.standard_normal(L) * np.exp(-np.arange(L) / (L / 4))
    return 0.5 * y / np.abs(y).max()


def write_set(root, gen, *, sr, seconds, labels=("a", "b", "c"), per=3, seed=0):
    rng = np.random.default_rng(seed)
    for lab in labels:
        (root / lab).mkdir(parents=True, exist_ok=True)
        for i in range(per):
            sf.write(root / lab / f"{lab}{i}.wav", gen(seconds, sr, rng).astype("float32"), sr)
    return root


@pytest.mark.parametrize("gen, sr, seconds, want", [
    (speech_like, 16000, 3.0, "emotion"),
    (music_like, 22050, 6.0, "music"),
    (env_like, 22050, 5.0, "environmental"),
    (speech_like, 16000, 1.0, "default"),          # short clips: keyword-style whatever they hold
])
def test_each_branch_from_the_audio_alone(tmp_path, gen, sr, seconds, want):
    ds = index(write_set(tmp_path / "d", gen, sr=sr, seconds=seconds))
    prof = profile_dataset(ds)
    assert prof.n_files == prof.n_sampled == 9 and prof.rates == {sr: 9}
    assert prof.median_s == pytest.approx(seconds, abs=0.01) and prof.label_hint is None
    c = choose_recipe(prof, available=ALL)
    assert c.name == want, (c, prof)
    assert c.reason.startswith(f"median {seconds:.1f} s, {sr} Hz")


def test_measures_tell_noise_from_tones():
    sr = 22050
    rng = np.random.default_rng(1)
    tone = np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)
    m_tone, m_noise = acoustic_measures(tone, sr), acoustic_measures(rng.standard_normal(2 * sr), sr)
    assert m_tone["harmonicity"] > 0.9 and m_noise["harmonicity"] < 0.3
    assert m_tone["flatness"] < 0.01 < 0.4 < m_noise["flatness"]
    assert m_tone["hf_share"] < 0.01 and 0.5 < m_noise["hf_share"] < 0.75   # white: (11025-4000)/11025
    assert acoustic_measures(tone, 8000)["hf_share"] is None                 # nothing above 4 kHz to measure
    assert acoustic_measures(np.zeros(sr), sr)["flatness"] is None           # silence: no measure


def test_label_and_layout_hints(tmp_path):
    assert label_hint(["ANG", "HAP", "NEU", "SAD"]) == "emotion"
    assert label_hint(["en", "es", "fr", "it", "ru"]) == "language"
    assert label_hint(["blues", "jazz", "rock"]) == "music"
    assert label_hint(["dog_bark", "rain", "siren", "engine_idling"]) == "environmental"
    assert label_hint(["zero", "one", "two"]) is None
    # labels win over the acoustics: speech-like audio labelled as languages
    ds = index(write_set(tmp_path / "l", speech_like, sr=16000, seconds=3.0, labels=("en", "fr")))
    assert choose_recipe(profile_dataset(ds), available=ALL).name == "language"
    p = DataProfile(n_files=10, n_sampled=10, median_s=30.0, rates={22050: 10}, layout="gtzan", layout_hint="music")
    assert choose_recipe(p, available=ALL).name == "music" and "gtzan layout" in choose_recipe(p, available=ALL).reason


def test_missing_recipe_falls_back_to_default_saying_why():
    p = DataProfile(n_files=10, n_sampled=10, median_s=6.0, rates={22050: 10}, harmonicity=0.9, voiced=0.5,
                    syllabic=0.2)
    c = choose_recipe(p, available=["default", "emotion", "environmental"])
    assert c == Choice("default", c.reason, "music") and "'music', but that recipe is not installed" in c.reason
    assert choose_recipe(DataProfile(n_files=1, n_sampled=1, median_s=SHORT_CLIP_S, rates={16000: 1}),
                         available=ALL).name == "default"


def test_origin_round_trips_through_config_yaml(tmp_path):
    cfg = recipe("emotion")
    cfg.origin = {"recipe": "auto", "chose": "emotion", "reason": "speech", "profile": {"median_s": 2.0}}
    cfg.save(tmp_path / "config.yaml")
    back = RunConfig.load(tmp_path / "config.yaml")
    assert back.origin == cfg.origin and back.to_dict() == cfg.to_dict()
    assert "recipe:" not in (tmp_path / "config.yaml").read_text().split("origin:")[0]  # no recipe: key to re-merge


def test_cli_train_auto_prints_and_records_the_choice(tmp_path, monkeypatch):
    import auricle.training as training
    from auricle.cli import app

    root = write_set(tmp_path / "d", speech_like, sr=16000, seconds=3.0)
    seen = {}

    def fake_train(cfg, out, **kw):  # the choice is what is tested here, not training
        seen["cfg"] = cfg
        (out / "report.md").parent.mkdir(parents=True, exist_ok=True)
        return {}

    monkeypatch.setattr(training, "train", fake_train)
    r = CliRunner().invoke(app, ["train", str(root), "--out", str(tmp_path / "run"), "--epochs", "1"])
    assert r.exit_code == 0, r.output
    line = " ".join(r.output.split())
    assert "recipe auto -> emotion (median 3.0 s, 16000 Hz" in line
    cfg = seen["cfg"]
    assert cfg.name == "emotion" and cfg.train.epochs == 1 and cfg.features["preset"] == "emotion"
    assert cfg.origin["recipe"] == "auto" and cfg.origin["chose"] == "emotion"
    assert cfg.origin["profile"]["rates"] == {16000: 9}
    # --recipe NAME still forces one, without profiling
    r = CliRunner().invoke(app, ["train", str(root), "--out", str(tmp_path / "run2"), "--recipe", "classic"])
    assert r.exit_code == 0, r.output
    assert "recipe auto" not in r.output and seen["cfg"].name == "classic" and seen["cfg"].origin == {}
