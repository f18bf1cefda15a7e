"""End-to-end: generated audio -> train -> run directory -> evaluate -> predict; resume; bad inputs."""
import json

import numpy as np
import pytest
import soundfile as sf

from auricle.config import RunConfig
from auricle.errors import DatasetError, RunError

SR = 16000


def _clip(kind, rng, seconds=0.5):
    t = np.arange(int(SR * seconds)) / SR
    if kind == "low":
        f = rng.uniform(250, 450)
        y = np.sin(2 * np.pi * f * t)
    elif kind == "high":
        f = rng.uniform(2500, 3500)
        y = np.sin(2 * np.pi * f * t)
    else:
        y = rng.standard_normal(len(t))
    env = np.clip(np.minimum(t, t[-1] - t) * 20, 0, 1)
    return (rng.uniform(0.05, 0.5) * y * env).astype("float32")


def make_dataset(root, *, groups=8, per=3, classes=("low", "high", "noise"), seed=0, sr=SR):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = ["path,label,group"]
    for g in range(groups):
        for c in classes:
            for i in range(per):
                rel = f"{c}/spk{g}_{i}.wav"
                (root / c).mkdir(exist_ok=True)
                y = _clip(c, rng)
                sf.write(root / rel, y if sr == SR else y[::SR // sr], sr)
                rows.append(f"{rel},{c},spk{g}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def small_config(root, tmp_path, **train):
    return RunConfig.from_dict({
        "name": "t", "data": {"root": str(root), "layout": "manifest", "val": 0.25, "test": 0.25},
        "features": {"preset": "kws", "duration": 0.5, "normalize": "none"},
        "augment": {"gain": {"p": 0.5}},
        "model": {"name": "cnn", "options": {"dense": 16}},
        "train": {"epochs": 6, "batch_size": 8, "learning_rate": 0.003, "workers": 1,
                  "cache_dir": str(tmp_path / "cache"), **train},
    })


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from auricle.training import train

    tmp = tmp_path_factory.mktemp("e2e")
    root = make_dataset(tmp / "data")
    run = tmp / "run"
    metrics = train(small_config(root, tmp), run)
    return root, run, metrics


def test_run_directory_is_complete(trained):
    _, run, metrics = trained
    for f in ("config.yaml", "labels.json", "features.json", "model.keras", "history.csv", "metrics.json",
              "per_class.csv", "confusion.png", "curves.png", "report.md"):
        assert (run / f).exists(), f
    assert not (run / "checkpoint").exists()
    assert metrics["evaluated_on"] == "test"
    assert metrics["accuracy"] >= 0.9, metrics["accuracy"]  # clearly different synthetic classes
    hist = (run / "history.csv").read_text().splitlines()
    assert len(hist) == 1 + 6
    assert json.loads((run / "labels.json").read_text()) == ["high", "low", "noise"]


def test_evaluate_and_predict(trained):
    from auricle.evaluation import evaluate_run
    from auricle.inference import load_run, predict_files

    root, run, metrics = trained
    m = evaluate_run(run, progress=False)
    assert m["accuracy"] == pytest.approx(metrics["accuracy"])
    r = load_run(run)
    preds = predict_files(r, [root / "high/spk0_0.wav", root / "low/spk1_1.wav"], top_k=2)
    assert [p.top[0][0] for p in preds] == ["high", "low"]
    assert len(preds[0].top) == 2 and preds[0].top[0][1] >= preds[0].top[1][1]


def test_long_file_sliding_windows(trained, tmp_path):
    from auricle.inference import load_run, predict_files

    _, run, _ = trained
    rng = np.random.default_rng(5)
    long = np.concatenate([_clip("high", rng) for _ in range(4)])
    p = tmp_path / "long.wav"
    sf.write(p, long, SR)
    pred = predict_files(load_run(run), [p], per_window=True)[0]
    assert pred.top[0][0] == "high" and len(pred.windows) >= 4


def test_existing_run_not_overwritten(trained):
    from auricle.training import train

    root, run, _ = trained
    with pytest.raises(RunError, match="already exists"):
        train(small_config(root, run.parent), run)


def test_overwrite_refuses_foreign_folder(tmp_path):
    from auricle.training import train

    root = make_dataset(tmp_path / "d", groups=4, per=1)
    precious = tmp_path / "mydocs"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    with pytest.raises(RunError, match="not an auricle run"):
        train(small_config(root, tmp_path), precious, overwrite=True)
    assert (precious / "thesis.txt").exists()


def test_resume_after_interruption(tmp_path, monkeypatch):
    import auricle.training as tr

    root = make_dataset(tmp_path / "data", groups=6, per=2)
    run = tmp_path / "run"
    from auricle.training import callbacks

    original = callbacks.RunCallback

    class Boom(original):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if epoch == 1:
                raise KeyboardInterrupt

    monkeypatch.setattr(callbacks, "RunCallback", Boom)
    with pytest.raises(tr.TrainingInterrupted, match="--resume"):
        tr.train(small_config(root, tmp_path, epochs=4), run)
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 2 and not (run / "model.keras").exists()
    monkeypatch.setattr(callbacks, "RunCallback", original)
    tr.train(None, run, resume=True)
    hist = (run / "history.csv").read_text().splitlines()[1:]
    assert [int(float(h.split(",")[0])) for h in hist] == [1, 2, 3, 4]
    assert (run / "model.keras").exists() and not (run / "checkpoint").exists()
    with pytest.raises(RunError, match="already finished"):
        tr.train(None, run, resume=True)


def test_interruption_mid_epoch_checkpoints_the_last_completed_epoch(tmp_path, monkeypatch):
    """The checkpoint is written only every few short epochs (CHECKPOINT_BUDGET), yet a Ctrl-C in the
    middle of epoch 3 leaves exactly the weights, optimizer step and best weights of the end of epoch 2
    on disk, and --resume goes on from there."""
    import keras

    import auricle.training as tr
    from auricle.training import callbacks

    root = make_dataset(tmp_path / "data", groups=6, per=2)
    run = tmp_path / "run"
    original = callbacks.RunCallback
    saved, ends = [], {}

    class Boom(original):
        def _write_checkpoint(self):
            saved.append(json.loads(self._snap[2])["epoch"])
            super()._write_checkpoint()

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            ends[epoch + 1] = ([np.array(w) for w in self.model.get_weights()],
                               int(self.model.optimizer.iterations.numpy()))

        def on_train_batch_end(self, batch, logs=None):
            if len(ends) == 2 and batch == 1:  # the middle of epoch 3
                raise KeyboardInterrupt

    monkeypatch.setattr(callbacks, "CHECKPOINT_BUDGET", 1e9)  # no writes between the first and the last epoch
    monkeypatch.setattr(callbacks, "RunCallback", Boom)
    with pytest.raises(tr.TrainingInterrupted, match="--resume"):
        tr.train(small_config(root, tmp_path, epochs=4, keep="best"), run)
    assert saved == [1, 2]  # epoch 1 (the first), then epoch 2 by the interruption, not every epoch
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 2 and len(state["history"]) == 2
    ckpt = keras.saving.load_model(run / "checkpoint" / "model.keras")
    weights, step = ends[2]
    assert int(ckpt.optimizer.iterations.numpy()) == step
    for a, b in zip(ckpt.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    with np.load(run / "checkpoint" / callbacks.BEST_WEIGHTS) as z:
        assert len(z.files) == len(weights)
        if state["best_epoch"] == 2:
            np.testing.assert_array_equal(z["w0"], weights[0])
    monkeypatch.setattr(callbacks, "RunCallback", original)
    tr.train(None, run, resume=True)
    hist = (run / "history.csv").read_text().splitlines()[1:]
    assert [int(float(h.split(",")[0])) for h in hist] == [1, 2, 3, 4]


def test_one_class_dataset_is_rejected(tmp_path):
    from auricle.training import train

    root = make_dataset(tmp_path / "d", groups=4, per=1, classes=("low",))
    with pytest.raises(DatasetError, match="class"):
        train(small_config(root, tmp_path), tmp_path / "run")


def test_unreadable_file_skipped_with_count(tmp_path):
    from auricle.training import train

    root = make_dataset(tmp_path / "d", groups=6, per=2)
    (root / "low" / "spk0_0.wav").write_bytes(b"not audio at all")
    m = train(small_config(root, tmp_path, epochs=1), tmp_path / "run")
    assert len(m["run"]["skipped_files"]) == 1 and "spk0_0.wav" in m["run"]["skipped_files"][0][0]
    with pytest.raises(Exception, match="spk0_0.wav"):
        cfg = small_config(root, tmp_path, epochs=1)
        cfg.data.strict = True
        train(cfg, tmp_path / "run2")


def test_keywords_oversampling_and_class_counts_in_report(tmp_path):
    """--keywords makes _unknown_ and _silence_ classes; oversampling balances; the report shows counts."""
    from auricle.training import train

    root = make_dataset(tmp_path / "d", groups=6, per=2, classes=("low", "high", "noise"))
    cfg = small_config(root, tmp_path, epochs=1, oversample=True, class_weight="balanced")
    cfg.data.keywords = ["low", "high"]
    cfg.data.unknown_share = 0.5
    cfg.data.silence_share = 0.5
    m = train(cfg, tmp_path / "run")
    labels = json.loads((tmp_path / "run" / "labels.json").read_text())
    assert labels == ["_silence_", "_unknown_", "high", "low"]
    counts = m["run"]["class_counts"]
    assert len(set(counts["train (oversampled)"].values())) == 1
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Examples per class" in report and "_silence_" in report and "Class weights" in report


def test_same_seed_same_history(tmp_path):
    """Reproducible from a seed, even with threaded batch prefetching and augmentation."""
    from auricle.training import train

    root = make_dataset(tmp_path / "d", groups=6, per=2)
    hist = []
    for k in range(2):
        train(small_config(root, tmp_path, epochs=2), tmp_path / f"run{k}")
        hist.append([line.split(",")[:3] for line in (tmp_path / f"run{k}" / "history.csv").read_text().splitlines()])
    assert hist[0] == hist[1]


def test_keep_best_or_last_epoch_weights(trained, tmp_path):
    """train.keep: best restores the epoch with the best val_accuracy, last keeps the final
    weights: the run's validation accuracy equals that epoch's logged val_accuracy exactly."""
    import csv

    from auricle.errors import ConfigError
    from auricle.training import train

    def logged(run):
        return [float(r["val_accuracy"]) for r in csv.DictReader(open(run / "history.csv"))]

    _, run, metrics = trained
    hist = logged(run)
    assert metrics["run"]["keep"] == "best" and metrics["run"]["kept_epoch"] == int(np.argmax(hist)) + 1
    assert metrics["splits"]["val"]["accuracy"] == pytest.approx(max(hist), abs=1e-6)
    root = make_dataset(tmp_path / "d", groups=6, per=2)
    m = train(small_config(root, tmp_path, epochs=3, keep="last", learning_rate=0.05), tmp_path / "last")
    hist = logged(tmp_path / "last")
    assert m["run"]["kept_epoch"] == 3 and m["run"]["keep"] == "last"
    assert m["splits"]["val"]["accuracy"] == pytest.approx(hist[-1], abs=1e-6)
    assert "last epoch 3 kept" in (tmp_path / "last" / "report.md").read_text()
    with pytest.raises(ConfigError, match="train.keep"):
        small_config(root, tmp_path, keep="final")
    cfg = small_config(root, tmp_path, epochs=2)  # keep: best, but nothing to choose on
    cfg.data.val = 0.0
    m = train(cfg, tmp_path / "noval")
    assert "val" not in m["splits"] and m["run"]["keep"] == "last" and m["run"]["kept_epoch"] == 2
    assert "last epoch 2 kept (no validation split)" in (tmp_path / "noval" / "report.md").read_text()


def test_trim_and_silent_window_dropping_follow_the_run(tmp_path):
    from auricle.inference import load_run, predict_files
    from auricle.training import train

    root = make_dataset(tmp_path / "d", groups=6, per=2)
    cfg = small_config(root, tmp_path, epochs=1)
    cfg.data.trim_db = 40
    cfg.data.drop_silent_db = 30
    train(cfg, tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert run.silence == {"trim_db": 40.0, "drop_db": 30.0}
    rng = np.random.default_rng(1)
    silence = np.zeros(SR * 2, np.float32)
    long = np.concatenate([silence, _clip("high", rng), silence, _clip("high", rng), silence])
    sf.write(tmp_path / "long.wav", long, SR)
    pred = predict_files(run, [tmp_path / "long.wav"], per_window=True, window_hop=0.25)[0]
    # trimmed to the two clips (2.0-2.5 s and 4.5-5.0 s of the file); silent windows between are dropped
    assert pred.windows and pred.windows[0]["start"] >= 1.9 and all(w["end"] <= 5.3 for w in pred.windows)
    assert not [w for w in pred.windows if w["start"] >= 2.55 and w["end"] <= 4.45]


def test_masked_rnn_ignores_padding():
    """Padding frames (PAD_VALUE) never change a masked sequence model's output."""
    from auricle.data import PAD_VALUE
    from auricle.models import build_model

    for name in ("lstm", "gru"):
        m = build_model(name, (None, 8), 3, masking=True)
        x = np.random.default_rng(0).standard_normal((1, 17, 8)).astype("float32")
        padded = np.concatenate([x, np.full((1, 23, 8), PAD_VALUE, "float32")], axis=1)
        np.testing.assert_allclose(m.predict_on_batch(padded), m.predict_on_batch(x), atol=1e-6)


def test_mask_padding_normalizes_valid_frames_only():
    from auricle.data import mask_padding_

    x = np.random.default_rng(0).normal(5, 3, (2, 10, 4)).astype("float32")
    full = x[:1, :6].copy()
    out = mask_padding_(x.copy(), np.array([6, 10]), "per_clip")
    np.testing.assert_allclose(out[0, :6].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out[0, :6], (full[0] - full[0].mean(0)) / (full[0].std(0) + 1e-5), atol=1e-4)
    assert not out[0, 6:].any()


def test_variable_length_training_with_buckets(tmp_path):
    """Clips of 0.2-0.8 s, padded and masked, bucketed by length; predict sees the same features."""
    from auricle.inference import load_run, predict_files
    from auricle.training import train

    rng = np.random.default_rng(0)
    root = tmp_path / "d"
    rows = ["path,label,group"]
    for g in range(6):
        for c in ("low", "high"):
            for i in range(3):
                rel = f"{c}/s{g}_{i}.wav"
                (root / c).mkdir(parents=True, exist_ok=True)
                sf.write(root / rel, _clip(c, rng, seconds=rng.uniform(0.2, 0.8)), SR)
                rows.append(f"{rel},{c},s{g}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    cfg = small_config(root, tmp_path, epochs=8, learning_rate=0.01)
    cfg.data.variable_length = True
    cfg.features = {"preset": "kws", "duration": 1.0, "normalize": "per_clip"}
    cfg.augment = {"spec_augment": {"p": 0.5}}
    cfg.model = {"name": "gru", "options": {"units": [16], "dense": 16}}
    m = train(cfg, tmp_path / "run")
    assert m["accuracy"] >= 0.75
    run = load_run(tmp_path / "run")
    assert run.variable_length and run.model.input_shape[1] is None
    # predicting a file gives the same probabilities as the evaluation path did
    from auricle.evaluation import predict_probs
    from auricle.data import featurize
    from auricle import datasets

    ds = datasets.index(root, layout="manifest")
    arr, _ = featurize(ds.items[:2], run.labels, run.feature_config, crop=run.crop, variable_length=True,
                       cache_dir=tmp_path / "cache", workers=1, progress=False)
    p_eval = predict_probs(run.model, arr.x)
    preds = predict_files(run, [ds.items[0].path, ds.items[1].path], top_k=2)
    for p, pe in zip(preds, p_eval):
        assert dict(p.top)[run.labels[int(pe.argmax())]] == pytest.approx(float(pe.max()), abs=1e-4)


def test_variable_length_needs_a_masking_model(tmp_path):
    from auricle.errors import ModelError
    from auricle.training import train

    root = make_dataset(tmp_path / "d", groups=4, per=1)
    cfg = small_config(root, tmp_path)
    cfg.data.variable_length = True
    with pytest.raises(ModelError, match="masks padding"):
        train(cfg, tmp_path / "run")


def test_band_limit_caps_fmax_at_the_recordings_nyquist(tmp_path):
    """8 kHz recordings on the 16 kHz kws front end: fmax becomes 4 kHz, saved with the run and
    used again by evaluation; ``data.band_limit: off`` and full-band data leave it alone."""
    from auricle.data import band_limit, load_dataset
    from auricle.evaluation import evaluate_run
    from auricle.training import train

    root = make_dataset(tmp_path / "d8", groups=6, per=2, sr=8000)
    cfg = small_config(root, tmp_path, epochs=1)
    m = train(cfg, tmp_path / "run")
    saved = RunConfig.load(tmp_path / "run" / "config.yaml")
    assert saved.feature_config().fmax == 4000.0
    assert evaluate_run(tmp_path / "run")["accuracy"] == pytest.approx(m["accuracy"])

    items = load_dataset(small_config(root, tmp_path).data, progress=False).items
    off = small_config(root, tmp_path)
    off.data.band_limit = "off"
    assert band_limit(off, items) is None and off.feature_config().fmax == 8000.0
    full = make_dataset(tmp_path / "d16", groups=2, per=1)
    cfg16 = small_config(full, tmp_path)
    assert band_limit(cfg16, load_dataset(cfg16.data, progress=False).items) is None
    assert cfg16.feature_config().fmax == 8000.0
    with pytest.raises(Exception, match="band_limit"):
        bad = small_config(root, tmp_path)
        bad.data.band_limit = "yes"
        bad.validate()


def test_file_floor_db_exact_values():
    from auricle.data import file_floor_db

    sr = 8000
    t = np.arange(sr) / sr
    y = np.sin(2 * np.pi * 440 * t) * (t < 0.5)          # a tone, then digital silence
    assert file_floor_db(y, sr) == 120.0
    y2 = y + 10 ** (-30 / 20) * np.sin(2 * np.pi * 1000 * t)  # a floor 30 dB under the tone
    assert file_floor_db(y2, sr) == pytest.approx(30.0, abs=0.5)
    assert file_floor_db(np.zeros(100), sr) == 120.0


def test_noise_floor_sets_top_db_below_the_recordings_floor(tmp_path):
    """``data.noise_floor: auto``: recordings with a real floor ~25 dB under their peak get
    features.top_db 40 (median + 15 dB, 10 dB steps), saved with the run; digitally silent
    clips, ``off`` and special classes leave it alone."""
    import soundfile as sf

    from auricle.data import load_dataset, noise_floor
    from auricle.training import train

    rng = np.random.default_rng(0)

    def write_set(root, floor):
        for c, f in (("low", 300), ("high", 3000)):
            (root / c).mkdir(parents=True)
            for g in range(6):
                t = np.arange(8000) / SR
                y = 0.3 * np.sin(2 * np.pi * f * t) * ((t > 0.1) & (t < 0.35)) + floor * rng.standard_normal(8000)
                sf.write(root / c / f"spk{g}_0.wav", y.astype("float32"), SR)
        return root

    root = write_set(tmp_path / "floor", 0.3 * 10 ** (-25 / 20))
    cfg = small_config(root, tmp_path, epochs=1)
    cfg.data.layout = "folder"
    cfg.data.options = {"group_regex": r"(spk\d+)_"}
    cfg.data.noise_floor = "auto"
    items = load_dataset(cfg.data, progress=False).items
    assert noise_floor(cfg, items) == 40.0 and cfg.feature_config().top_db == 40.0
    off = small_config(root, tmp_path)
    off.data.layout, off.data.options = "folder", {"group_regex": r"(spk\d+)_"}
    assert noise_floor(off, items) is None and off.feature_config().top_db == 80.0
    silent = small_config(write_set(tmp_path / "silent", 0.0), tmp_path)
    silent.data.layout, silent.data.options, silent.data.noise_floor = "folder", {"group_regex": r"(spk\d+)_"}, "auto"
    assert noise_floor(silent, load_dataset(silent.data, progress=False).items) is None
    train(cfg, tmp_path / "run")
    assert RunConfig.load(tmp_path / "run" / "config.yaml").feature_config().top_db == 40.0
    with pytest.raises(Exception, match="noise_floor"):
        off.data.noise_floor = "yes"
        off.validate()
    with pytest.raises(Exception, match="augment_domain"):
        off.data.noise_floor = "off"
        off.train.augment_domain = "gpu"
        off.validate()


def test_freq_warp_on_mfcc_fails_before_any_work(tmp_path):
    from auricle.errors import ConfigError
    from auricle.training import train

    root = make_dataset(tmp_path / "d", groups=4, per=1)
    cfg = small_config(root, tmp_path, epochs=1)
    cfg.features = {"preset": "mfcc40", "duration": 0.5}
    cfg.augment = {"freq_warp": {"p": 0.5}}
    with pytest.raises(ConfigError, match="augment.freq_warp=false"):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_ensemble_of_runs_averages_member_probabilities(trained, tmp_path):
    import shutil

    from auricle.data import featurize, load_dataset
    from auricle.evaluation import predict_probs
    from auricle.inference import load_run, predict_files
    from auricle.models.ensemble import combine_runs
    from auricle.training import train

    root, run, _ = trained
    other = tmp_path / "other"
    train(small_config(root, tmp_path, seed=1), other)
    out = tmp_path / "both"
    m = combine_runs([run, other], out)
    assert json.loads((out / "members.json").read_text()) == [str(run.resolve()), str(other.resolve())]
    ens, a, b = load_run(out), load_run(run), load_run(other)
    assert ens.config.model["options"]["members"] == ["cnn", "cnn"]
    cfg, fc = a.config, a.feature_config
    items = [it for it in load_dataset(cfg.data, progress=False, sr=fc.sr, duration=fc.n_samples / fc.sr).items
             if it.split == "test"]
    arr, _ = featurize(items, a.labels, fc, crop=a.crop, progress=False)
    pa, pb, pe = (predict_probs(r.model, arr.x) for r in (a, b, ens))
    np.testing.assert_allclose(pe, (pa + pb) / 2, atol=1e-6)
    assert m["accuracy"] == pytest.approx(float((pe.argmax(1) == arr.y).mean()))
    assert predict_files(ens, [root / "high/spk0_0.wav"])[0].top[0][0] == "high"
    with pytest.raises(RunError, match="already exists"):
        combine_runs([run, other], out)
    with pytest.raises(RunError, match="one of the members"):
        combine_runs([run, other], other, overwrite=True)
    odd = tmp_path / "odd"
    shutil.copytree(other, odd)
    feats = json.loads((odd / "features.json").read_text())
    (odd / "features.json").write_text(json.dumps({**feats, "n_mels": 64}))
    with pytest.raises(RunError, match="n_mels=64"):
        combine_runs([run, odd], tmp_path / "x")
    (odd / "labels.json").write_text(json.dumps(["a", "b", "c"]))
    with pytest.raises(RunError, match="labels differ"):
        combine_runs([run, odd], tmp_path / "x")
    with pytest.raises(RunError, match="at least two"):
        combine_runs([run], tmp_path / "x")


def test_mixup_blends_features_labels_and_weights():
    from auricle.training import mixup

    n = 64
    x = np.arange(n, dtype="float32")[:, None, None] * np.ones((1, 3, 2), "float32")
    y = np.eye(4, dtype="float32")[np.arange(n) % 4]
    w = np.arange(1, n + 1, dtype="float32")
    xm, ym, wm = mixup(x, y, w, 0.4, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    lam = rng.beta(0.4, 0.4, n)
    lam = np.maximum(lam, 1 - lam)
    partner = rng.permutation(n)
    np.testing.assert_allclose(xm[:, 0, 0], lam * np.arange(n) + (1 - lam) * partner, rtol=1e-5)
    assert np.allclose(xm, xm[:, :1, :1])                       # every value of an example mixed alike
    np.testing.assert_allclose(ym.sum(1), 1, atol=1e-6)
    assert (ym.argmax(1) == np.arange(n) % 4).all()             # the example itself dominates (lam >= 0.5)
    np.testing.assert_allclose(wm, lam * w + (1 - lam) * w[partner], rtol=1e-5)
    assert mixup(x, y, None, 0.0, np.random.default_rng(0))[0] is x
    with pytest.raises(Exception, match="train.mixup"):
        RunConfig.from_dict({"train": {"mixup": -1}})


def test_ensemble_config_trains_members_separately_and_resumes(tmp_path):
    import shutil

    from auricle.data import featurize, load_dataset
    from auricle.evaluation import predict_probs
    from auricle.inference import load_run
    from auricle.models import load_model
    from auricle.training import train

    root = make_dataset(tmp_path / "data", groups=6, per=2)
    cfg = small_config(root, tmp_path, epochs=3)
    cfg.model = {"name": "ensemble", "options": {"members": ["cnn", "cnn"], "member_options": [{"dense": 16}, {"dense": 8}]}}
    run = tmp_path / "run"
    m = train(cfg, run)
    dirs = [run / "members" / "m0_cnn", run / "members" / "m1_cnn"]
    for d in dirs:
        assert (d / "model.keras").exists() and (d / "report.md").exists()
    assert [load_run(d).config.train.seed for d in dirs] == [0, 1]  # same family: different seeds
    report = (run / "report.md").read_text()
    assert "## Members" in report and (run / "curves.png").exists()
    # the headline names each member's kept epoch (it said "best epoch None of 3")
    epochs = [x["kept_epoch"] for x in m["run"]["members"]]
    assert f"each member keeps its own epoch ({epochs[0]}, {epochs[1]} of 3" in report and "epoch None" not in report
    assert len(m["run"]["members"]) == 2 and m["run"]["params"] == sum(x["params"] for x in m["run"]["members"])
    r = load_run(run)
    fc = r.feature_config
    items = [it for it in load_dataset(r.config.data, progress=False, sr=fc.sr, duration=fc.n_samples / fc.sr).items
             if it.split == "test"]
    x = featurize(items, r.labels, fc, crop=r.crop, progress=False)[0].x
    members = [predict_probs(load_model(d / "model.keras"), x) for d in dirs]
    np.testing.assert_allclose(predict_probs(r.model, x), np.mean(members, 0), atol=1e-6)
    # interrupted after the first member: resume keeps it and trains the second
    kept = (dirs[0] / "model.keras").stat().st_mtime_ns
    (run / "model.keras").unlink()
    shutil.rmtree(dirs[1])
    m2 = train(None, run, resume=True)
    assert (dirs[0] / "model.keras").stat().st_mtime_ns == kept and (dirs[1] / "model.keras").exists()
    assert m2["run"]["members"][0]["splits"] == m["run"]["members"][0]["splits"]
    with pytest.raises(RunError, match="already finished"):
        train(None, run, resume=True)


def test_ensemble_with_a_classic_member_fails_before_any_work(tmp_path):
    from auricle.errors import ModelError
    from auricle.training import train

    root = make_dataset(tmp_path / "data", groups=4, per=1)
    cfg = small_config(root, tmp_path)
    cfg.model = {"name": "ensemble", "options": {"members": ["cnn", "xgboost"]}}
    with pytest.raises(ModelError, match="xgboost"):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_interrupted_ensemble_member_says_resume_the_ensemble(tmp_path):
    from auricle import training
    from auricle.training.ensemble import train_separately

    root = make_dataset(tmp_path / "data", groups=4, per=1)
    cfg = small_config(root, tmp_path, epochs=1)
    cfg.model = {"name": "ensemble", "options": {"members": ["cnn", "mlp"]}}

    def interrupted(*args, **kwargs):
        raise training.TrainingInterrupted("training interrupted after epoch 0", path=tmp_path)

    run = tmp_path / "run"
    with pytest.raises(training.TrainingInterrupted, match=r"member 1/2 \(cnn\)") as err:
        train_separately(cfg, run, train_run=interrupted)
    assert err.value.fix == f"resume with: auricle train --resume {run}"
    assert (run / "config.yaml").exists()  # the ensemble's own config is kept for --resume


def test_rotate_validation_moves_the_validation_groups_and_never_the_test_groups():
    from types import SimpleNamespace as Item

    from auricle.training.ensemble import rotate_validation

    items = [Item(group=g, split=s) for g, s in [("a", "train"), ("b", "train"), ("c", "train"), ("d", "val"),
                                                 ("e", "test")] for _ in range(3)]
    items += [Item(group="extra:tts", split="train")] * 5  # added data never validates
    blocks, why = rotate_validation(items, 4, seed=0)
    assert why == "" and blocks[0] == (["d"], ["e"])
    assert sorted(b[0] for b in blocks[1:]) == ["a", "b", "c"]  # one training group each, no reuse
    blocks, _ = rotate_validation(items, 6, seed=0)              # more members than groups: reuse, never test
    assert all(len(b) == 1 and b[0] in "abc" for b in blocks[1:])
    leaky = items + [Item(group="a", split="val")]
    assert rotate_validation(leaky, 2) == (None, "a group is in more than one split (item-level split)")
    assert rotate_validation([it for it in items if it.split != "val"], 2)[0] is None


def test_ensemble_with_rotated_validation_trains_members_on_other_groups(tmp_path):
    from auricle.inference import load_run
    from auricle.training import train

    root = make_dataset(tmp_path / "data", groups=6, per=2)
    cfg = small_config(root, tmp_path, epochs=2)
    cfg.model = {"name": "ensemble", "options": {"members": ["cnn", "mlp"], "validation": "rotate"}}
    run = tmp_path / "run"
    m = train(cfg, run)
    from auricle.data import load_dataset

    c0, c1 = (load_run(run / "members" / d).config.data for d in ("m0_cnn", "m1_mlp"))
    splits = {s: {it.group for it in load_dataset(c, progress=False, sr=SR).items if it.split == s}
              for c, s in ((load_run(run).config.data, "test"), (load_run(run).config.data, "val"))}
    assert c0.val_groups is None                                   # member 0 keeps the run's split
    assert set(c1.test_groups) == splits["test"]                   # the test groups never move
    assert set(c1.val_groups) and not set(c1.val_groups) & (splits["val"] | splits["test"])
    member1 = load_dataset(c1, progress=False, sr=SR).items
    assert splits["val"] <= {it.group for it in member1 if it.split == "train"}
    assert m["run"]["validation"] == "rotate" and "Validation rotated" in (run / "report.md").read_text()
    assert "val_seen" in m["splits"] and "val" not in m["splits"]  # the run's val groups are not held out any more


def test_teacher_targets_blend_labels_with_the_teacher_on_the_same_batch():
    from auricle.distillation import soft_targets, teacher_batches_class

    class Teacher:  # answers 0.6/0.4/0 for every example and records the batches it saw
        seen = []

        def predict_on_batch(self, x):
            self.seen.append(np.array(x))
            return np.tile([0.6, 0.4, 0.0], (len(x), 1))

    x = np.arange(12, dtype="float32").reshape(4, 3)
    y = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    w = np.ones(4, dtype="float32")
    inner = [(x[:2], y[:2], w[:2]), (x[2:], y[2:], w[2:])]

    class Inner(list):
        epochs = 0

        def on_epoch_end(self):
            self.epochs += 1

    src = Inner(inner)
    ds = teacher_batches_class()(src, Teacher(), weight=0.5)
    assert len(ds) == 2
    xb, yb, wb = ds[1]
    np.testing.assert_array_equal(Teacher.seen[-1], x[2:])  # the teacher sees the student's very batch
    np.testing.assert_allclose(yb, [[0.3, 0.2, 0.5], [0.8, 0.2, 0.0]], atol=1e-7)
    np.testing.assert_array_equal(wb, w[2:])
    ds.on_epoch_end()
    assert src.epochs == 1
    # temperature flattens the teacher only; rows still sum to 1
    t = soft_targets(y, np.tile([0.9, 0.1, 0.0], (4, 1)), weight=1.0, temperature=2.0)
    np.testing.assert_allclose(t[0], [0.75, 0.25, 0.0], atol=1e-6)
    np.testing.assert_allclose(t.sum(1), 1.0, atol=1e-6)


def test_distillation_trains_a_student_from_a_finished_run(trained, tmp_path):
    import shutil

    from auricle.errors import ConfigError
    from auricle.inference import load_run
    from auricle.training import train

    root, run, teacher_metrics = trained
    student = tmp_path / "student"
    cfg = small_config(root, tmp_path, teacher=str(run), teacher_weight=0.8)
    cfg.model = {"name": "mlp", "options": {"hidden": [16], "dropout": 0.0}}
    m = train(cfg, student)
    # three clearly different classes (chance 0.33), taught by a teacher that knows them; 18 test clips:
    # seeds 0-3 score 0.56-1.0 (mean 0.72) whether or not the last batch is filled, so 0.5 is the bar
    assert m["accuracy"] >= 0.5
    assert load_run(student).config.train.teacher == str(run)
    assert "## Distillation" in (student / "report.md").read_text()
    assert f"teacher run `{run}`" in (student / "report.md").read_text()

    odd = tmp_path / "odd"
    shutil.copytree(run, odd)
    feats = json.loads((odd / "features.json").read_text())
    (odd / "features.json").write_text(json.dumps({**feats, "n_mels": 64}))
    with pytest.raises(ConfigError, match="other features .*n_mels: teacher 64"):
        train(small_config(root, tmp_path, teacher=str(odd)), tmp_path / "s2")
    (odd / "labels.json").write_text(json.dumps(["a", "b", "c"]))
    with pytest.raises(ConfigError, match="labels"):
        train(small_config(root, tmp_path, teacher=str(odd)), tmp_path / "s3")
    with pytest.raises(ConfigError, match="train.teacher: run directory not found"):
        train(small_config(root, tmp_path, teacher=str(tmp_path / "nope")), tmp_path / "s4")
    with pytest.raises(ConfigError, match="teacher_weight"):
        small_config(root, tmp_path, teacher=str(run), teacher_weight=0)
    classic = tmp_path / "classic"
    ccfg = small_config(root, tmp_path)
    ccfg.model = {"name": "logreg", "options": {}}
    train(ccfg, classic)
    with pytest.raises(ConfigError, match="must be a Keras run"):
        train(small_config(root, tmp_path, teacher=str(classic)), tmp_path / "s5")
    # --overwrite onto the teacher's own folder must not delete the teacher
    with pytest.raises(ConfigError, match="own output folder"):
        train(small_config(root, tmp_path, teacher=str(student)), student, overwrite=True)
    assert (student / "model.keras").exists()


def test_tta_shift_average_is_built_into_the_saved_model(trained, tmp_path):
    """train.tta_shift_ms: the saved model averages the trained network over the clip and its
    shifted copies (same weights, same parameter count); evaluate and predict see the same thing."""
    import keras

    from auricle.errors import ConfigError
    from auricle.evaluation import evaluate_run, predict_probs
    from auricle.inference import load_run
    from auricle.training import train

    root, _, _ = trained
    m = train(small_config(root, tmp_path, epochs=2, keep="last", tta_shift_ms=[-30, 30]), tmp_path / "tta")
    assert m["run"]["tta_shift_frames"] == [-3, 3]  # kws preset: 10 ms hop
    assert "Test-time augmentation" in (tmp_path / "tta" / "report.md").read_text()
    run = load_run(tmp_path / "tta")
    base = next(la for la in run.model.layers if isinstance(la, keras.Model))
    assert run.model.count_params() == base.count_params() == m["run"]["params"]
    x = np.random.default_rng(0).normal(size=(5,) + tuple(run.model.input_shape[1:])).astype("float32")
    late = np.concatenate([np.repeat(x[:, :1], 3, 1), x[:, :-3]], 1)
    early = np.concatenate([x[:, 3:], np.repeat(x[:, -1:], 3, 1)], 1)
    want = (predict_probs(base, x) + predict_probs(base, late) + predict_probs(base, early)) / 3
    np.testing.assert_allclose(predict_probs(run.model, x), want, atol=1e-5)
    assert evaluate_run(tmp_path / "tta", progress=False)["accuracy"] == pytest.approx(m["accuracy"])
    with pytest.raises(ConfigError, match="tta_shift_ms"):
        small_config(root, tmp_path, tta_shift_ms="both")
    assert small_config(root, tmp_path, tta_shift_ms=50).train.tta_shift_ms == [-50, 50]


def test_teacher_drops_test_time_shifts_of_an_ensemble_saved_to_disk(tmp_path):
    """A distillation teacher built from runs with train.tta_shift_ms (an ensemble of shift-averaged
    members, saved and loaded back) scores batches with the members' plain networks: the average
    of the bases, without the shifted copies that would triple its cost."""
    import keras

    from auricle.models import load_model
    from auricle.models.ensemble import average_models
    from auricle.models.tta import shift_average, without_shifts

    def base(seed):
        inp = keras.Input((6, 2))
        dense = keras.layers.Dense(3, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(seed))
        return keras.Model(inp, dense(keras.layers.Flatten()(inp)), name="net")

    bases = [base(1), base(2)]
    ens = average_models([shift_average(b, [-1, 1]) for b in bases], (6, 2))
    ens.save(tmp_path / "ens.keras")
    loaded = load_model(tmp_path / "ens.keras")
    plain = without_shifts(loaded)
    x = np.random.default_rng(0).normal(size=(4, 6, 2)).astype("float32")
    want = (np.asarray(bases[0](x)) + np.asarray(bases[1](x))) / 2
    np.testing.assert_allclose(np.asarray(plain(x)), want, atol=1e-6)
    assert not np.allclose(np.asarray(loaded(x)), want, atol=1e-3)  # the shifts did change the output
    assert plain.count_params() == loaded.count_params()
    assert without_shifts(plain) is plain  # nothing left to remove
    two = average_models([base(3), base(4)], (6, 2))
    assert without_shifts(two) is two


def test_frame_shift_repeats_the_edge_frame():
    from auricle.models.layers import FrameShift

    x = np.arange(12, dtype="float32").reshape(1, 6, 2)
    np.testing.assert_array_equal(np.asarray(FrameShift(1)(x))[0], [[0, 1], [0, 1], [2, 3], [4, 5], [6, 7], [8, 9]])
    np.testing.assert_array_equal(np.asarray(FrameShift(-2)(x))[0], [[4, 5], [6, 7], [8, 9], [10, 11], [10, 11], [10, 11]])
    np.testing.assert_array_equal(np.asarray(FrameShift(0)(x)), x)
    assert FrameShift.from_config(FrameShift(-2).get_config()).frames == -2


def test_tta_shifts_refuse_a_variable_length_model():
    import keras

    from auricle.errors import ConfigError
    from auricle.models.tta import shift_average

    inp = keras.Input((None, 4))
    model = keras.Model(inp, keras.layers.GlobalAveragePooling1D()(inp))
    with pytest.raises(ConfigError, match="fixed length"):
        shift_average(model, [-2, 2])
    assert shift_average(model, []) is model
    with pytest.raises(ConfigError, match="variable_length"):  # before any training, not after it
        RunConfig.from_dict({"data": {"variable_length": True}, "train": {"tta_shift_ms": [-50, 50]}})


def _ema_setup(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((3,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(4)(inp))
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(h))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(24, 3)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 2, 24), 2)
    return model, x, y


def test_weight_average_keeps_the_exact_moving_average_and_resumes_exactly(tmp_path):
    """train.ema: after fit the model holds the moving average of the raw weights after every batch
    (batch-norm statistics included, decay ramped as min(d, (1+t)/(10+t))); validation sees it;
    stopping after an epoch and resuming from the checkpoint gives the same weights as one fit."""
    import keras

    from auricle.training.callbacks import WeightAverage

    WA = WeightAverage

    class Record(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.raw, self.val = [], []

        def on_train_batch_end(self, batch, logs=None):
            self.raw.append([np.array(v.numpy()) for v in self.model.weights if "float" in str(v.dtype)])

        def on_test_begin(self, logs=None):
            self.val.append([np.array(v.numpy()) for v in self.model.weights if "float" in str(v.dtype)])

    model, x, y = _ema_setup()
    rec = Record()
    (tmp_path / "a").mkdir()
    wa = WA(0.9, tmp_path / "a")
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, validation_data=(x, y), verbose=0,
              callbacks=[wa, rec])
    wa.write()  # what RunCallback does with the checkpoint
    model0, _, _ = _ema_setup()
    avg = [np.array(v.numpy()) for v in model0.weights if "float" in str(v.dtype)]
    for t, raw in enumerate(rec.raw, start=1):
        d = min(0.9, (1 + t) / (10 + t))
        avg = [d * a + (1 - d) * r for a, r in zip(avg, raw)]
        if t == 3:  # end of epoch 1: validation saw the average
            for a, v in zip(avg, rec.val[0]):
                np.testing.assert_allclose(v, a, rtol=1e-5, atol=1e-6)
    got = [np.array(v.numpy()) for v in model.weights if "float" in str(v.dtype)]
    for a, g, r in zip(avg, got, rec.raw[-1]):
        np.testing.assert_allclose(g, a, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(g, r) for g, r in zip(got, rec.raw[-1]))  # not simply the last weights
    assert (tmp_path / "a" / "raw_weights.npz").exists()

    # one epoch, a "kill", then resume from the saved model + raw weights: same result
    m1, x, y = _ema_setup()
    (tmp_path / "b").mkdir()
    wa = WA(0.9, tmp_path / "b")
    m1.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[wa])
    wa.write()
    m1.save(tmp_path / "b" / "model.keras")
    m2 = keras.saving.load_model(tmp_path / "b" / "model.keras")
    m2.fit(x, y, batch_size=8, epochs=2, initial_epoch=1, shuffle=False, verbose=0,
           callbacks=[WA(0.9, tmp_path / "b", resume=True)])
    for a, g in zip(got, [np.array(v.numpy()) for v in m2.weights if "float" in str(v.dtype)]):
        np.testing.assert_allclose(g, a, rtol=1e-5, atol=1e-6)


def test_ema_setting_is_checked_and_trains(trained, tmp_path):
    from auricle.errors import ConfigError
    from auricle.training import train

    root, _, _ = trained
    with pytest.raises(ConfigError, match="train.ema"):
        small_config(root, tmp_path, ema=1.0)
    m = train(small_config(root, tmp_path, epochs=2, ema=0.99), tmp_path / "ema")
    assert m["accuracy"] >= 0.0 and not (tmp_path / "ema" / "checkpoint").exists()
    from auricle.inference import load_run

    assert load_run(tmp_path / "ema").config.train.ema == 0.99  # recorded, so the run can be repeated
    assert m["run"]["epochs_run"] == 2


def test_long_recordings_are_windowed_by_default_and_predict_agrees_per_recording(tmp_path):
    """Recordings 4 windows long: training cuts them into windows after splitting (no flag), metrics.json
    and the report give per-window and per-recording figures, and `predict` gives each test recording
    the label and probability evaluation averaged for it."""
    from auricle.evaluation import evaluate_run
    from auricle.inference import load_run, predict_files
    from auricle.training import train

    rng = np.random.default_rng(3)
    root = tmp_path / "long"
    rows = ["path,label,group"]
    for g in range(6):
        for c in ("low", "high", "noise"):
            rel = f"{c}/rec{g}.wav"
            (root / c).mkdir(parents=True, exist_ok=True)
            sf.write(root / rel, np.concatenate([_clip(c, rng) for _ in range(4)]), SR)  # 2 s = 4 windows
            rows.append(f"{rel},{c},rec{g}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    cfg = small_config(root, tmp_path, epochs=4)
    assert cfg.data.window_hop == "auto"
    run = tmp_path / "run"
    m = train(cfg, run)
    assert RunConfig.load(run / "config.yaml").data.window_hop == 0.25  # half the 0.5 s window, recorded
    assert json.loads((run / "features.json").read_text())["window_hop"] == 0.25
    rec = m["per_recording"]
    assert rec["n"] == 6 and m["n"] > 6 * 6  # 2 test recordings a class, 7 windows each
    assert m["splits"]["test"]["per_recording"]["n"] == 6 and sum(v["per_recording"]["n"] for v in m["splits"].values()) == 18
    assert rec["accuracy"] >= 5 / 6
    report = (run / "report.md").read_text()
    assert "per recording" in report and "accuracy per window" in report and (run / "confusion_recordings.png").exists()
    ev = evaluate_run(run, progress=False)
    assert ev["per_recording"]["accuracy"] == pytest.approx(rec["accuracy"])
    preds = predict_files(load_run(run), [r["path"] for r in ev["recordings"]], top_k=1)
    for r, p in zip(ev["recordings"], preds):
        assert p.top[0][0] == r["label"] and p.top[0][1] == pytest.approx(r["probability"], abs=1e-5)


def test_one_second_clips_keep_one_row_per_file(tmp_path):
    """data.window_hop: auto leaves clips no longer than the window alone (keyword data: unchanged)."""
    from auricle import data as data_mod

    root = make_dataset(tmp_path / "d", groups=2, per=1)
    cfg = small_config(root, tmp_path)
    ds = data_mod.load_dataset(cfg.data, progress=False)
    assert data_mod.window_hop(cfg, ds.items) is None and cfg.data.window_hop is None
    with pytest.raises(Exception, match="window_hop"):
        RunConfig.from_dict({"data": {"window_hop": "sometimes"}})
