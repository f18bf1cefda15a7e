"""Classic ML: summary features vs librosa, the registered scikit-learn models, train_classic's run directory."""
import json

import numpy as np
import pytest
from rich.console import Console

from auricle.classic.summary import (PROSODY, SummaryConfig, chroma_filterbank, feature_names, frame_features,
                                     prosody_features, summary_features, yin_f0)
from auricle.errors import ConfigError
from test_training import _clip, make_dataset, small_config

SR = 22050
CLASSIC = ["xgboost", "random_forest", "svm", "knn", "logreg"]


@pytest.fixture(scope="module")
def signals():
    """A noisy A4 tone, white noise, and a C4 tone that stops halfway (2 s at 22.05 kHz)."""
    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR
    return np.stack([0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t)),
                     0.2 * rng.standard_normal(len(t)),
                     0.3 * np.sin(2 * np.pi * 261.63 * t) * (t < 1.0)]).astype("float32")


@pytest.fixture(scope="module")
def frames(signals):
    return frame_features(signals, SummaryConfig(sr=SR))


def _librosa():
    return pytest.importorskip("librosa")


# ------------------------------------------------------------------ summary features vs librosa

def test_mfcc_and_chroma_match_librosa(signals, frames):
    librosa = _librosa()
    for i, y in enumerate(signals):
        ref = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20)
        # dB-domain coefficients of magnitude up to ~600: 1e-2 absolute is float32 round-off
        np.testing.assert_allclose(frames["mfcc"][i], ref, atol=1e-2)
        # no tuning estimate here: compare with librosa's tuning=0.0
        np.testing.assert_allclose(frames["chroma"][i], librosa.feature.chroma_stft(y=y, sr=SR, tuning=0.0),
                                   atol=1e-5)
    np.testing.assert_allclose(chroma_filterbank(sr=SR, n_fft=2048), librosa.filters.chroma(sr=SR, n_fft=2048),
                               atol=1e-6)


def test_spectral_features_match_librosa(signals, frames):
    librosa = _librosa()
    for i, y in enumerate(signals):
        np.testing.assert_allclose(frames["rms"][i], librosa.feature.rms(y=y)[0], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(frames["spectral_centroid"][i], librosa.feature.spectral_centroid(y=y, sr=SR)[0],
                                   rtol=1e-5, atol=1e-3)  # Hz
        np.testing.assert_allclose(frames["spectral_bandwidth"][i],
                                   librosa.feature.spectral_bandwidth(y=y, sr=SR)[0], rtol=1e-5, atol=1e-3)
        # roll-off is an FFT-bin frequency: allow a one-bin flip on at most 2% of frames (float32 vs 64 sums)
        ro, ref = frames["rolloff"][i], librosa.feature.spectral_rolloff(y=y, sr=SR)[0]
        assert np.abs(ro - ref).max() <= SR / 2048 + 1e-6
        assert np.mean(ro != ref) <= 0.02
        np.testing.assert_array_equal(frames["zero_crossing_rate"][i], librosa.feature.zero_crossing_rate(y)[0])


@pytest.mark.parametrize("bpm", [80, 100, 140])
def test_tempo_matches_librosa_on_a_click_track(bpm):
    librosa = _librosa()
    n = 8 * SR
    y = np.zeros(n, dtype="float32")
    rng = np.random.default_rng(bpm)
    for k in range(int(8 * bpm / 60) + 1):
        s = int(k * 60 / bpm * SR)
        m = min(400, n - s)
        if m > 0:
            y[s:s + m] += 0.5 * (rng.standard_normal(m) * np.exp(-np.arange(m) / 80)).astype("float32")
    ours = summary_features(y[None], SummaryConfig(sr=SR))[0, -1]
    ref = float(librosa.feature.tempo(y=y, sr=SR)[0])
    # lags are whole frames (43 per second): one lag apart is ~2-4% at these tempi
    assert abs(ours - ref) / ref <= 0.05, (ours, ref)
    assert abs(ours - bpm) / bpm <= 0.05, (ours, bpm)


def _voice(f0_start, f0_end, *, sr=16000, seconds=1.0, seed=0):
    """A harmonic tone (5 partials) gliding geometrically from f0_start to f0_end Hz, with light noise."""
    t = np.arange(int(sr * seconds)) / sr
    f = f0_start * (f0_end / f0_start) ** (t / seconds)
    phase = 2 * np.pi * np.cumsum(f) / sr
    y = sum(0.3 / h * np.sin(h * phase) for h in range(1, 6))
    return (y + 0.003 * np.random.default_rng(seed).standard_normal(len(t))).astype("float32")


def test_yin_matches_librosa_and_finds_the_pitch():
    y = _voice(180.0, 180.0)
    f0 = yin_f0(y, sr=16000)
    assert abs(np.median(f0) - 180.0) < 1.0
    np.testing.assert_allclose(f0, _librosa().yin(y.astype(np.float64), fmin=60, fmax=500, sr=16000,
                                                   frame_length=1024, hop_length=256), rtol=1e-6)
    with pytest.raises(ConfigError, match="fmin"):
        yin_f0(y, sr=16000, fmin=300.0, fmax=200.0)


def test_prosody_features_known_answers():
    at = {k: i for i, k in enumerate(PROSODY)}
    low, high, glide = (prosody_features(_voice(a, b), sr=16000) for a, b in ((150, 150), (300, 300), (120, 360)))
    assert low.shape == (len(PROSODY),) and low.dtype == np.float32
    assert abs(high[at["f0_p50"]] - low[at["f0_p50"]] - 1.0) < 0.01           # one octave up
    assert abs(2 ** low[at["f0_p50"]] - 150.0) < 1.5
    assert low[at["f0_range"]] < 0.05 and abs(glide[at["f0_range"]] - 0.9 * np.log2(3)) < 0.1
    assert glide[at["f0_jitter"]] > 3 * low[at["f0_jitter"]]
    assert low[at["voiced_fraction"]] > 0.9 and abs(low[at["duration"]] - 1.0) < 1e-6
    half = np.concatenate([_voice(200, 200), np.zeros(16000, np.float32)])   # voice, then digital silence
    v = prosody_features(half, sr=16000)
    assert 0.45 < v[at["active_fraction"]] < 0.55 and abs(v[at["duration"]] - 2.0) < 1e-6
    quiet = prosody_features(np.zeros(8000, np.float32), sr=16000)         # nothing voiced: pitch stats are 0
    assert np.all(quiet[:at["voiced_fraction"] + 1] == 0)
    with pytest.raises(ConfigError, match="one non-empty signal"):
        prosody_features(np.zeros((2, 100)), sr=16000)


def test_summary_vector_layout_and_batching(signals):
    cfg = SummaryConfig(sr=SR)
    names = feature_names(cfg)
    assert len(names) == 75 and names[:2] == ["mfcc1_mean", "mfcc1_var"] and names[-1] == "tempo"
    x = summary_features(signals, cfg)
    assert x.shape == (3, 75) and x.dtype == np.float32 and np.isfinite(x).all()
    # a chunk of one clip at a time gives the same numbers as the whole batch
    one = summary_features(signals, cfg, chunk_bytes=1)
    np.testing.assert_allclose(one, x, rtol=1e-5, atol=1e-5)
    ff = frame_features(signals[:1], cfg)
    assert x[0, names.index("rms_mean")] == pytest.approx(ff["rms"].mean(), rel=1e-5)
    assert x[0, names.index("mfcc2_var")] == pytest.approx(ff["mfcc"][0, 1].var(), rel=1e-4)
    # silence and a clip shorter than n_fft stay finite
    assert np.isfinite(summary_features(np.zeros((2, 1000), "float32"), cfg)).all()


# ------------------------------------------------------------------ the models

@pytest.fixture(scope="module")
def tones():
    """Summary features of generated low-tone / high-tone / noise clips (16 kHz, 0.5 s)."""
    rng = np.random.default_rng(1)
    cfg = SummaryConfig(sr=16000)

    def make(n):
        kinds = ["low", "high", "noise"] * n
        return summary_features(np.stack([_clip(k, rng) for k in kinds]), cfg), np.array([0, 1, 2] * n)

    return make(12), make(10)


@pytest.mark.parametrize("name", CLASSIC)
def test_classic_models_separate_tones_and_noise(name, tones):
    from auricle.classic.models import ClassicModel
    from auricle.models import get_model

    (xtr, ytr), (xte, yte) = tones
    spec = get_model(name)
    assert spec.kind == "classic" and spec.defaults  # options are the builder's keyword defaults
    pipe = spec.build((xtr.shape[1],), 3)
    assert [s for s, _ in pipe.steps] == ["scale", "clf"]
    m = ClassicModel(pipe, 3).fit(xtr, ytr)
    p = m.predict_on_batch(xte)
    assert p.shape == (len(xte), 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert (p.argmax(1) == yte).mean() >= 0.9
    n, desc = m.size()
    assert n > 0 and desc


def test_absent_class_gets_zero_probability(tones):
    from auricle.classic.models import ClassicModel
    from auricle.models import build_model

    (xtr, ytr), (xte, _) = tones
    keep = ytr != 1  # classes 0 and 2 only: xgboost needs contiguous labels, the wrapper maps them
    m = ClassicModel(build_model("xgboost", (75,), 3, n_estimators=20), 3).fit(xtr[keep], ytr[keep])
    p = m.predict_on_batch(xte)
    assert p.shape == (len(xte), 3) and np.all(p[:, 1] == 0)


def test_unknown_option_is_rejected():
    from auricle.errors import ModelError
    from auricle.models import build_model

    import auricle.classic.models  # noqa: F401  (registers)
    with pytest.raises(ModelError, match="unknown option"):
        build_model("svm", (75,), 3, n_estimators=3)


# ------------------------------------------------------------------ train_classic

@pytest.fixture(scope="module")
def classic_run(tmp_path_factory):
    from auricle.classic import train_classic
    from auricle.config import RunConfig

    tmp = tmp_path_factory.mktemp("classic")
    root = make_dataset(tmp / "data")
    d = small_config(root, tmp).to_dict()
    d["model"] = {"name": "random_forest", "options": {"n_estimators": 50}}
    d["train"]["class_weight"] = "balanced"
    d["train"]["mixup"] = 0.2  # Keras-only: the run must say it is not used (and still train)
    cfg = RunConfig.from_dict(d)
    console = Console(record=True, width=200)
    metrics = train_classic(cfg, tmp / "run", progress=False, console=console)
    metrics["console"] = console.export_text()
    return root, tmp / "run", metrics, cfg


def test_train_classic_names_keras_only_settings_it_ignores(classic_run):
    from auricle.classic.train import keras_only_settings
    from auricle.config import TrainConfig

    assert "classic models do not use train.mixup (Keras training only)" in classic_run[2]["console"]
    assert keras_only_settings(TrainConfig()) == []
    assert keras_only_settings(TrainConfig(teacher="runs/t", early_stopping=5, epochs=3)) == ["teacher", "early_stopping"]


def test_train_classic_writes_a_complete_run(classic_run):
    _, run, metrics, _ = classic_run
    for f in ("config.yaml", "labels.json", "features.json", "model.joblib", "metrics.json", "per_class.csv",
              "confusion.png", "report.md"):
        assert (run / f).exists(), f
    assert not (run / "model.keras").exists() and not (run / "checkpoint").exists()
    assert metrics["evaluated_on"] == "test" and metrics["accuracy"] >= 0.9
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["run"]["kind"] == "classic" and saved["run"]["train_seconds"] >= 0
    assert saved["run"]["size"].startswith("50 trees") and saved["run"]["n_features"] == 75
    assert set(saved["splits"]) == {"train", "val", "test"}
    assert json.loads((run / "labels.json").read_text()) == ["high", "low", "noise"]
    assert json.loads((run / "features.json").read_text())["kind"] == "waveform"
    report = (run / "report.md").read_text()
    assert "curves.png" not in report and "best epoch" not in report and "50 trees" in report


def test_classic_run_predicts_files(classic_run):
    from auricle.audio import fix_length, load
    from auricle.classic import is_classic_run, load_classic, predict_classic
    from auricle.inference import predict_files

    root, run, _, _ = classic_run
    assert is_classic_run(run)
    r = load_classic(run)
    files = sorted(root.glob("*/spk0_*.wav"))
    preds = predict_files(r, files)
    assert [p.top[0][0] for p in preds] == [f.parent.name for f in files]
    waves = np.stack([fix_length(load(f, sr=16000), length=r.feature_config.n_samples) for f in files])
    probs = predict_classic(r, waves)
    assert [r.labels[i] for i in probs.argmax(1)] == [f.parent.name for f in files]


def test_train_classic_refuses_keras_models_and_existing_runs(classic_run, tmp_path):
    from auricle.classic import train_classic
    from auricle.config import RunConfig
    from auricle.errors import ModelError, RunError

    _, run, _, cfg = classic_run
    with pytest.raises(RunError, match="already exists"):
        train_classic(cfg, run, progress=False)
    d = cfg.to_dict()
    d["model"] = {"name": "cnn", "options": {}}
    with pytest.raises(ModelError, match="not a classic"):
        train_classic(RunConfig.from_dict(d), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()
