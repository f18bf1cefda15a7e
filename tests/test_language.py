"""Spoken language identification: the silence VAD/targets, the three silence modes trained end to
end on generated "languages", unequal amounts per language, streaming == offline, bad input."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from auricle.datasets import silence as S
from auricle.errors import ConfigError

SR = 8000
LANGS = ("aa", "bb", "cc")
# each "language": the formants of its two alternating syllable types and its pitch contour (x f0 over a syllable)
VOWELS = {"aa": ((800, 1200), (700, 1100)), "bb": ((300, 2300), (350, 2000)), "cc": ((500, 1000), (400, 2600))}
CONTOUR = {"aa": (0.9, 1.2), "bb": (1.2, 0.85), "cc": (1.0, 1.0)}


def syllable(lang, k, f0, seconds, rng):
    t = np.arange(int(seconds * SR)) / SR
    c0, c1 = CONTOUR[lang]
    f = f0 * np.linspace(c0, c1, len(t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    formants = VOWELS[lang][k % 2]
    y = np.zeros_like(t)
    for h in range(1, int(3800 / (f0 * 1.3))):
        amp = sum(np.exp(-((h * f0 - F) / 150.0) ** 2) for F in formants) + 0.02
        y += amp * np.sin(h * phase)
    env = np.sin(np.pi * np.linspace(0, 1, len(t))) ** 0.5
    return y * env / np.abs(y).max()


def utterance(lang, speaker, rng):
    """Syllables of the language in the speaker's pitch and level, with silence gaps and edges."""
    f0, gain = 100 + 25 * speaker, 0.2 + 0.05 * (speaker % 3)
    parts = [np.zeros(int(rng.uniform(0.1, 0.2) * SR))]
    for k in range(int(rng.integers(3, 6))):
        parts.append(syllable(lang, k, f0 * rng.uniform(0.95, 1.05), rng.uniform(0.09, 0.14), rng))
        parts.append(np.zeros(int(rng.uniform(0.03, 0.07) * SR)))
    parts.append(np.zeros(int(rng.uniform(0.1, 0.2) * SR)))
    y = np.concatenate(parts) * gain
    return (y + rng.normal(0, 1e-4, len(y))).astype("float32")


def make_set(root, *, speakers=6, per=4, drop=None, seed=0):
    """manifest.csv: every speaker (group) speaks every language; ``drop``: {lang: n kept per speaker}."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in range(speakers):
        for lang in LANGS:
            for i in range((drop or {}).get(lang, per)):
                p = root / f"{lang}_s{s}_{i}.wav"
                sf.write(str(p), utterance(lang, s, rng), SR, subtype="PCM_16")
                rows.append({"path": p.name, "label": lang, "group": f"s{s}"})
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "label", "group"])
        w.writeheader()
        w.writerows(rows)
    return root / "manifest.csv"


def lang_cfg(manifest, mode, *, epochs=6, **train):
    from auricle.config import recipe

    cfg = recipe("language")
    cfg.data.root = str(manifest)
    cfg.data.silence_frames = mode
    cfg.data.test_groups, cfg.data.val = ["s4", "s5"], 0.0  # no validation split: the last epoch is kept
    cfg.features.update(sr=SR, duration=1.5, n_fft=256, win_length=200, hop_length=80, n_mels=24, n_mfcc=13,
                        fmax=4000.0)
    cfg.model["options"] = {"units": [24], "dense": 16, "dropout": 0.0, "input_norm": True}
    cfg.train.epochs, cfg.train.batch_size, cfg.train.learning_rate = epochs, 16, 0.01
    cfg.train.workers = 1
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


# --------------------------------------------------------------------------- exact values


def test_vad_targets_and_decision_on_a_hand_made_example():
    level = np.array([[-10.0, -50.0, -12.0, -39.0, 5.0]])  # last frame: padding (length 4)
    voiced = S.voiced_frames(level, [4], threshold_db=30.0)
    assert voiced.tolist() == [[True, False, True, True, False]]
    w = S.frame_weights(voiced, [4], "mask")
    assert w.tolist() == [[1, 0, 1, 1, 0]]
    t, sw = S.frame_targets([1], w, [4], mode="mask", n_classes=2)
    assert t.tolist() == [[1, 1, 1, 1, 1]] and sw.tolist() == [[1, 0, 1, 1, 0]]
    t, sw = S.frame_targets([1], w, [4], mode="label", n_classes=2)
    assert t.tolist() == [[1, 2, 1, 1, 1]] and sw.tolist() == [[1, 1, 1, 1, 0]]
    x = np.repeat(level[..., None], 2, axis=-1)
    xr, n = S.remove_silent(x, voiced)
    assert n.tolist() == [3] and xr[0, :, 0].tolist() == [-10, -12, -39, 0, 0]
    t, sw = S.frame_targets([0], S.frame_weights(np.arange(5)[None] < 3, n, "remove"), n, mode="remove", n_classes=2)
    assert t.tolist() == [[0] * 5] and sw.tolist() == [[1, 1, 1, 0, 0]]
    # decision: mean over the weighted frames; label mode drops _silence_ and renormalizes each frame
    p = np.array([[[0.5, 0.3, 0.2], [0.0, 0.0, 1.0], [0.1, 0.1, 0.8]]])
    assert np.allclose(S.decide(p[..., :2], [[1, 0, 1]]), [[0.3, 0.2]])
    assert np.allclose(S.decide(p, [[1, 0, 1]], silence_class=True), [[(0.625 + 0.5) / 2, (0.375 + 0.5) / 2]])
    # class weights multiply the frame weights of each utterance
    split = type("A", (), {"y": np.array([0, 1]), "x": np.ones((2, 3, 2)), "lengths": np.array([3, 2])})
    y1, w1 = S.frame_fit_data(split, 2, "remove", {0: 1.0, 1: 3.0})
    assert y1.shape == (2, 3, 2) and w1.tolist() == [[1, 1, 1], [3, 3, 0]]
    assert S.utterance_bounds(np.array([0, -40, -40, 0, 0, -40, -40, -40]), end_frames=2) == [(0, 3), (3, 7), (7, 8)]


def test_frame_level_of_mfcc_is_the_mean_log_mel_db():
    from auricle.features import FeatureConfig, extract

    y = utterance("aa", 1, np.random.default_rng(1))[None, :SR]
    mf = FeatureConfig(kind="mfcc", sr=SR, n_fft=256, win_length=200, hop_length=80, n_mels=24, n_mfcc=13, fmax=4000.0)
    lm = mf.replace(kind="log_mel")
    assert np.allclose(S.frame_level_db(extract(mf, y), mf), extract(lm, y).mean(-1), atol=1e-3)


def test_mixup_blends_per_frame_targets_and_weights_frame_by_frame():
    from auricle.training.components import mixup

    x = np.arange(2 * 3 * 2, dtype="float32").reshape(2, 3, 2)
    y = np.zeros((2, 3, 2), "float32")
    y[0, :, 0], y[1, :, 1] = 1, 1
    w = np.array([[1, 1, 0], [1, 0, 0]], "float32")  # 0: a padded or silent frame
    rng = np.random.default_rng(0)
    lam = np.maximum(*(lambda b: (b, 1 - b))(np.random.default_rng(0).beta(0.4, 0.4, 2)))
    partner = np.random.default_rng(0)
    partner.beta(0.4, 0.4, 2)
    partner = partner.permutation(2)
    xm, ym, wm = mixup(x, y, w, 0.4, rng)
    for i in range(2):
        j = partner[i]
        np.testing.assert_allclose(ym[i], lam[i] * y[i] + (1 - lam[i]) * y[j], rtol=1e-6)
        np.testing.assert_allclose(wm[i], lam[i] * w[i] + (1 - lam[i]) * w[j], rtol=1e-6)
        np.testing.assert_allclose(xm[i], lam[i] * x[i] + (1 - lam[i]) * x[j], rtol=1e-6)
    assert ym.shape == y.shape and wm.shape == w.shape
    np.testing.assert_allclose(ym.sum(-1), 1.0, rtol=1e-6)  # still a distribution per frame


def test_feature_augmentation_leaves_the_frame_weight_column_alone():
    """Bug: freq_warp on framewise batches saw bins + 1 columns and refused (or would warp the weights)."""
    from auricle.augment import build_chain
    from auricle.features import FeatureConfig
    from auricle.training.batches import BucketBatches

    fcfg = FeatureConfig(kind="log_mel", sr=16000, n_fft=512, hop_length=320, n_mels=8, fmax=8000.0)
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(4, 6, 8)).astype("float32")
    w = np.array([[1, 1, 0, 1, 0, 0]] * 4, "float32")
    x = np.concatenate([feats, w[..., None]], axis=-1)
    chain = build_chain({"freq_warp": {"min_alpha": 0.8, "max_alpha": 0.8, "p": 1.0}})
    batches = BucketBatches(x, np.zeros((4, 6, 2), "float32"), [6] * 4, chain, 4, 0, fcfg=fcfg, weight_column=True)
    xb = batches[0][0]
    np.testing.assert_array_equal(xb[..., -1], w)  # the decision weights are untouched
    assert not np.allclose(xb[..., :-1], feats)    # the features were warped
    expect = chain.apply_features(feats, np.random.default_rng([0, 0, 0]), fcfg=fcfg)
    np.testing.assert_allclose(xb[..., :-1], expect, rtol=1e-6)


def test_length_buckets_train_when_the_first_two_batches_have_the_same_length():
    """Bug: Keras took the first two batches' common length as static, and a longer batch failed."""
    import keras

    from auricle.training.batches import BucketBatches

    lengths = [5] * 36 + [9] * 4  # ten batches of 4: nine of 5 frames, one of 9
    x = np.zeros((40, 9, 3), "float32")
    y = keras.utils.to_categorical(np.arange(40) % 2, 2).astype("float32")
    batches = BucketBatches(x, y, lengths, None, 4, seed=0)
    assert batches[0][0].shape[1] != batches[1][0].shape[1]
    inp = keras.Input((None, 3))
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling1D()(inp)))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(batches, epochs=2, verbose=0)  # raised "yielded an element of shape (4, 9, 3) ... (None, 5, 3)"


def test_framewise_runs_refuse_a_teacher_and_an_ensemble(tmp_path):
    from auricle.errors import ModelError
    from auricle.training.settings import check_model_options

    cfg = lang_cfg(tmp_path / "m.csv", "mask")
    cfg.train.teacher = str(tmp_path / "teacher")
    with pytest.raises(ModelError, match="teacher"):
        check_model_options(cfg)
    cfg = lang_cfg(tmp_path / "m.csv", "mask")
    cfg.model = {"name": "ensemble", "options": {"members": ["gru", "lstm"]}}
    with pytest.raises(ModelError, match="needs a model that masks padding; 'ensemble'"):
        check_model_options(cfg)


def test_config_validation_and_single_voice_labels():
    from types import SimpleNamespace as I

    from auricle.config import recipe

    cfg = recipe("language")
    cfg.data.silence_frames = "drop"
    with pytest.raises(ConfigError, match="silence_frames"):
        cfg.validate()
    cfg = recipe("language")
    cfg.data.variable_length = False
    with pytest.raises(ConfigError, match="variable_length"):
        cfg.validate()
    cfg = recipe("language")
    cfg.data.vad_db = -3
    with pytest.raises(ConfigError, match="vad_db"):
        cfg.validate()
    items = [I(label="en", group="allison"), I(label="es", group="allison"), I(label="es", group="allison"),
             I(label="fr", group="june"), I(label="fr", group="jean")]
    assert S.single_voice_labels(items) == {"es": "allison"}  # en: one file only
    # a layout without speakers (every file its own group) warns about nothing
    assert S.single_voice_labels([I(label=lab, group=str(i)) for i, lab in enumerate("aabb")]) == {}


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def lang_runs(tmp_path_factory):
    """One tiny GRU per silence mode on 3 generated languages x 6 speakers (2 held out for test).
    The ``label`` run trains on unequal amounts (``cc``: 1 utterance per speaker against 4) with
    oversampling and balanced class weights, plus ``dd``, a language spoken by one voice only."""
    from rich.console import Console

    from auricle.training import train

    root = tmp_path_factory.mktemp("lang")
    manifest = make_set(root / "data")
    unequal = make_set(root / "unequal", drop={"cc": 1}, seed=1)
    rows = unequal.read_text().splitlines()
    rng = np.random.default_rng(3)
    for i in range(3):
        sf.write(str(root / "unequal" / f"dd_{i}.wav"), utterance("cc", 0, rng)[::-1].copy(), SR)
        rows.append(f"dd_{i}.wav,dd,s0")
    unequal.write_text("\n".join(rows) + "\n")
    runs, logs = {}, {}
    for mode in S.SILENCE_MODES:
        extra = dict(oversample=True, class_weight="balanced") if mode == "label" else {}
        cfg = lang_cfg(unequal if mode == "label" else manifest, mode, **extra)
        cfg.train.cache_dir = str(root / "cache")
        console = Console(record=True, width=300, file=open(root / f"{mode}.log", "w"))
        runs[mode] = (root / mode, train(cfg, root / mode, console=console, progress=False))
        logs[mode] = console.export_text()
    return manifest, runs, logs


@pytest.mark.parametrize("mode", S.SILENCE_MODES)
def test_each_silence_mode_beats_chance_on_unseen_speakers(lang_runs, mode):
    _, runs, _ = lang_runs
    run_dir, metrics = runs[mode]
    feats = json.loads((run_dir / "features.json").read_text())
    assert feats["silence_frames"] == {"mode": mode, "vad_db": 30.0}
    labels = list(LANGS) + (["dd"] if mode == "label" else [])
    assert json.loads((run_dir / "labels.json").read_text()) == labels  # _silence_ is never a decision
    assert metrics["accuracy"] >= 0.6, metrics["accuracy"]  # chance: 1/3 (24 test utterances, 2 unseen speakers)


def test_predict_agrees_with_evaluation_per_utterance(lang_runs):
    from auricle.data import featurize
    from auricle.datasets import index
    from auricle.evaluation import predict_probs
    from auricle.inference import load_run, predict_files

    manifest, runs, _ = lang_runs
    run = load_run(runs["label"][0])
    items = [it for it in index(manifest).items if it.group in ("s4", "s5")][:6]
    arr, _ = featurize(items, run.labels, run.feature_config, crop=run.crop, window_hop=run.window_hop,
                       variable_length=True, silence_frames=run.silence_frames, progress=False,
                       cache_dir=str(manifest.parent.parent / "cache"))
    assert arr.x.shape[-1] == run.feature_config.n_mfcc + 1  # the decision weights ride along as one column
    probs = predict_probs(run.model, arr.x)
    preds = predict_files(run, [it.path for it in items], top_k=3)
    for p, pr in zip(probs, preds):
        assert pr.top[0][0] == run.labels[int(p.argmax())]
        assert abs(pr.top[0][1] - float(p.max())) < 1e-5


@pytest.mark.parametrize("mode", ["mask", "label"])
def test_streaming_resets_per_utterance_and_equals_offline(lang_runs, mode):
    from auricle.features import extract
    from auricle.inference import load_run
    from auricle.streaming.utterances import UtteranceStream

    _, runs, _ = lang_runs
    run = load_run(runs[mode][0])
    fc = run.feature_config
    rng = np.random.default_rng(5)
    gap = np.zeros(int(0.5 * SR), dtype="float32")
    y = np.concatenate([np.concatenate([utterance(lang, 4, rng), gap]) for lang in ("bb", "aa", "cc")])
    feats = extract(fc.replace(duration=len(y) / SR), y[None])[0]
    stream = UtteranceStream(run.model, fc, mode=mode, threshold_db=30.0, end_frames=30)
    utts = stream.push(feats[:100]) + stream.push(feats[100:]) + stream.flush()
    assert len(utts) >= 3 and utts[0]["start"] == 0 and utts[-1]["stop"] == len(feats)
    for u in utts:
        seg = feats[None, u["start"]:u["stop"]]
        x, _ = S.apply_silence(seg, [seg.shape[1]], fc, mode=mode, threshold_db=30.0)
        offline = run.model.predict(x, verbose=0)[0]
        assert np.abs(offline - u["probs"]).max() < 1e-5


def test_remove_mode_does_not_stream(lang_runs):
    from auricle.inference import load_run
    from auricle.streaming.convert import NotStreamable
    from auricle.streaming.utterances import UtteranceStream

    run = load_run(lang_runs[1]["remove"][0])
    with pytest.raises(NotStreamable, match="remove"):
        UtteranceStream(run.model, run.feature_config, mode="remove")


def test_unequal_amounts_oversampling_class_weights_and_one_voice_warning(lang_runs):
    _, runs, logs = lang_runs
    assert "every recording of 'dd' is by one voice (s0)" in logs["label"]
    assert "'aa'" not in logs["label"] and "one voice" not in logs["mask"]
    metrics = runs["label"][1]["run"]
    over = metrics["class_counts"]["train (oversampled)"]
    assert len(set(over.values())) == 1 and over["aa"] == 16  # every language repeated up to the largest
    assert metrics["class_counts"]["train"]["cc"] == 4
    assert metrics["class_weight"]["cc"] > metrics["class_weight"]["aa"] * 0.99  # balanced after oversampling: equal


def test_framewise_model_exports_and_predicts_like_keras(lang_runs, tmp_path):
    """A per-frame GRU with its utterance decision layer converts to ONNX, and `auricle predict`
    through the export (the hot path: no TensorFlow) answers as the Keras model does."""
    import shutil

    from auricle.datasets import index
    from auricle.export import export_run
    from auricle.inference import load_for_predict, load_run, predict_files

    manifest, runs, _ = lang_runs
    run_dir = tmp_path / "label"
    shutil.copytree(runs["label"][0], run_dir)
    out = export_run(run_dir, "onnx")
    parity = json.loads((out / "meta.json").read_text())["parity"]
    assert parity["n"] > 0 and parity["max_abs_diff"] < 1e-4 and parity["argmax_agreement"] == 1.0
    exported, how = load_for_predict(run_dir)
    assert how.startswith("onnx export")
    paths = [it.path for it in index(manifest).items if it.group in ("s4", "s5")][:6]
    for a, b in zip(predict_files(exported, paths, top_k=2), predict_files(load_run(run_dir), paths, top_k=2)):
        assert a.top[0][0] == b.top[0][0] and abs(a.top[0][1] - b.top[0][1]) < 1e-4
