"""train.fuse: a classic member on whole recordings joins the deep model's per-recording answers
(auricle.fusion), in evaluation, predict, evaluate and the ONNX export alike."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from auricle.config import RunConfig
from auricle.errors import ConfigError

SR = 16000


def _tones(rng, seconds):
    """Half-second tone bursts of random pitch: every window looks alike whatever the length."""
    out = []
    for _ in range(int(round(seconds / 0.5))):
        t = np.arange(SR // 2) / SR
        env = np.clip(np.minimum(t, t[-1] - t) * 20, 0, 1)
        out.append(rng.uniform(0.1, 0.4) * np.sin(2 * np.pi * rng.uniform(300, 900) * t) * env)
    return np.concatenate(out).astype("float32")


def make_lengths_dataset(root, *, groups=12, per=2, seed=0):
    """Two classes that differ only in length ('short' 1 s, 'long' 2 s) of the same tone bursts: a window
    model cannot tell them apart, the member's duration statistic can (the known answer)."""
    rng = np.random.default_rng(seed)
    rows = ["path,label,group"]
    for g in range(groups):
        for c, sec in (("short", 1.0), ("long", 2.0)):
            for i in range(per):
                rel = f"{c}/spk{g}_{i}.wav"
                (root / c).mkdir(parents=True, exist_ok=True)
                sf.write(root / rel, _tones(rng, sec), SR)
                rows.append(f"{rel},{c},spk{g}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def fused_config(root, tmp_path, **train):
    return RunConfig.from_dict({
        "name": "fused", "data": {"root": str(root), "layout": "manifest", "val": 0.25, "test": 0.25},
        "features": {"preset": "kws", "duration": 0.5, "normalize": "none"},
        "model": {"name": "cnn", "options": {"dense": 16}},
        "train": {"epochs": 2, "batch_size": 16, "workers": 1, "cache_dir": str(tmp_path / "cache"),
                  "fuse": {"member": "xgboost", "weight": 0.5}, **train},
    })


@pytest.fixture(scope="module")
def fused_run(tmp_path_factory):
    from auricle.training import train

    tmp = tmp_path_factory.mktemp("fusion")
    root = make_lengths_dataset(tmp / "data")
    run = tmp / "run"
    return root, run, train(fused_config(root, tmp), run)


def test_fused_run_scores_the_member_the_deep_model_and_both(fused_run):
    root, run, m = fused_run
    assert (run / "member" / "model.joblib").exists()
    settings = json.loads((run / "member" / "fusion.json").read_text())
    assert settings["weight"] == 0.5 and settings["member"] == "xgboost" and len(settings["names"]) == 94
    # the known answer: length alone separates the classes, and only the member sees the whole recording
    assert m["per_recording_member"]["accuracy"] == 1.0
    assert m["per_recording"]["accuracy"] >= m["per_recording_deep"]["accuracy"]
    assert m["per_recording"]["n"] == m["per_recording_member"]["n"] == m["per_recording_deep"]["n"] == 12
    assert m["splits"]["val"]["fusion"] == {"member": "xgboost", "weight": 0.5}
    assert m["run"]["fusion"]["weight"] == 0.5
    assert "xgboost member on whole recordings" in (run / "report.md").read_text()


def test_predict_and_evaluate_give_the_fused_answer(fused_run):
    """`auricle evaluate` and `predict` fuse as training's evaluation did, and the fused probability is
    exactly weight x windows' mean + (1 - weight) x member."""
    from auricle.evaluation import evaluate_run, file_level
    from auricle.inference import load_run, predict_files, predict_probs, prepare_windows
    from auricle.audio import load

    root, run, m = fused_run
    ev = evaluate_run(run, progress=False)
    assert ev["per_recording"]["accuracy"] == pytest.approx(m["per_recording"]["accuracy"])
    r = load_run(run)
    assert r.member is not None and r.member.weight == 0.5
    paths = [x["path"] for x in ev["recordings"]]
    preds = predict_files(r, paths, top_k=2)
    for rec, p in zip(ev["recordings"], preds):
        assert p.top[0][0] == rec["label"] and p.top[0][1] == pytest.approx(rec["probability"], abs=1e-5)
    y = load(paths[0], sr=SR)
    feats, _ = prepare_windows(r, y)
    deep = predict_probs(r.model, feats).mean(0)
    member = r.member.probs_of_waves([y])[0]
    expect = 0.5 * deep + 0.5 * member
    got = dict(preds[0].top)
    for i, lab in enumerate(r.labels):
        assert got[lab] == pytest.approx(expect[i], abs=1e-5)
    assert file_level  # (imported for the doc: evaluation's per-recording mean is file_level)


def test_onnx_export_carries_the_member(fused_run):
    from auricle.export import export_run, load_predictor
    from auricle.inference import load_run, predict_files

    root, run, m = fused_run
    out = export_run(run, "onnx", parity_clips=8)
    assert (out / "member" / "model.joblib").exists()
    assert json.loads((out / "meta.json").read_text())["fusion"]["weight"] == 0.5
    pr = load_predictor(out, "onnx")
    assert pr.member is not None
    files = sorted(str(p) for p in (root / "long").glob("*.wav"))[:3] + sorted(str(p) for p in (root / "short").glob("*.wav"))[:3]
    a = predict_files(pr, files, top_k=2)
    b = predict_files(load_run(run), files, top_k=2)
    for x, y in zip(a, b):
        assert x.top[0][0] == y.top[0][0]
        assert x.top[0][1] == pytest.approx(y.top[0][1], abs=1e-4)


@pytest.mark.parametrize("fuse, match", [
    ({"weight": 1.5}, "weight"),
    ({"member": "cnn"}, "classic model"),
    ({"memebr": "xgboost"}, "unknown train.fuse key"),
    ({"features": "frames"}, "features"),
    ("xgboost", "mapping"),
])
def test_bad_fuse_settings_are_config_errors(fuse, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig.from_dict({"train": {"fuse": fuse}})


def test_fuse_with_an_ensemble_or_classic_model_is_refused_before_any_work(tmp_path):
    from auricle.training import train

    root = make_lengths_dataset(tmp_path / "d", groups=4, per=1)
    for model in ("xgboost", "ensemble"):
        cfg = fused_config(root, tmp_path)
        cfg.model = {"name": model, "options": {}} if model != "ensemble" else {
            "name": "ensemble", "options": {"members": ["cnn", "cnn"]}}
        with pytest.raises(ConfigError, match="train.fuse"):
            train(cfg, tmp_path / f"run-{model}")
        assert not (tmp_path / f"run-{model}").exists()


def test_utterance_features_see_length_and_pitch():
    from auricle.classic.summary import PROSODY
    from auricle.fusion import feature_names, utterance_features

    t = np.arange(2 * SR) / SR
    v = utterance_features(0.3 * np.sin(2 * np.pi * 220 * t).astype("float32"), sr=SR)
    names = feature_names()
    assert v.shape == (len(names),) == (94,)
    assert v[names.index("duration")] == pytest.approx(2.0)
    assert 2 ** v[75 + PROSODY.index("f0_p50")] == pytest.approx(220, rel=0.01)
    # very short recordings are padded for the STFT and YIN frames instead of failing
    assert np.isfinite(utterance_features(np.ones(300, "float32") * 0.1, sr=SR)).all()
