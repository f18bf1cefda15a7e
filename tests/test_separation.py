"""Separation: STFT, U-Net, masks, chunked separation, training, CLI and export, on generated signals.

The trained-model tests share one tiny separator (module fixture): "vocals" is a low sine, the
"accompaniment" high-passed noise, so a network of a few thousand weights learns it in seconds.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auricle.separation.masks import apply_masks, ratio_masks
from auricle.separation.presets import get_preset
from auricle.separation.stft import istft, stft

SR = 8000
# a preset small enough to train in seconds: 8 kHz, 256-point STFT, 32-frame patches, 3 levels
TINY = {"sr": SR, "n_fft": 256, "hop": 64, "bins": 128, "frames": 32, "model": "unet",
        "model_options": {"width": 4, "depth": 3}}


def _song(rng, seconds: float):
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f = rng.uniform(110, 300)
    low = 0.3 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
    env = (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t)) ** 2
    low = np.stack([low * env, low * env * rng.uniform(0.6, 1.0)])
    noise = rng.standard_normal((2, n))
    spec = np.fft.rfft(noise, axis=-1)
    spec[:, : int(len(spec[0]) * 1500 / (SR / 2))] = 0          # keep 1.5-4 kHz only
    high = np.fft.irfft(spec, n=n, axis=-1)
    high *= 0.15 / high.std()
    return low.astype(np.float32), high.astype(np.float32)


def _write_dataset(root: Path, n_songs: int = 6, seconds: float = 4.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(n_songs):
        low, high = _song(rng, seconds)
        d = root / f"song{i:02d}"
        d.mkdir(parents=True)
        sf.write(d / "vocals.wav", low.T, SR, subtype="FLOAT")
        sf.write(d / "other.wav", high.T, SR, subtype="FLOAT")
    return root


# ----------------------------------------------------------------------------------------------
# STFT and masks


@pytest.mark.parametrize("n_fft,hop,length", [(1024, 256, 5000), (256, 64, 64 * 33), (4096, 1024, 44100), (512, 128, 1)])
def test_stft_round_trip(n_fft, hop, length):
    y = np.random.default_rng(1).standard_normal((3, 2, length)).astype(np.float32)
    Z = stft(y, n_fft=n_fft, hop=hop)
    assert Z.shape == (3, 2, 1 + length // hop, n_fft // 2 + 1)
    np.testing.assert_allclose(istft(Z, n_fft=n_fft, hop=hop, length=length), y, atol=1e-5)


def test_stft_matches_librosa_frames():
    import librosa

    y = np.random.default_rng(2).standard_normal(3000).astype(np.float32)
    ours = stft(y, n_fft=512, hop=128)
    ref = librosa.stft(y, n_fft=512, hop_length=128, window="hann", center=True, pad_mode="constant").T
    np.testing.assert_allclose(ours, ref, atol=2e-4)


def test_ratio_masks_sum_to_one_and_extend():
    v = np.random.default_rng(0).random((7, 16, 2, 4)).astype(np.float32)
    v[0] = 0.0                                                # silent frame: equal shares
    m = ratio_masks(v, total_bins=20)
    assert m.shape == (7, 20, 2, 4)
    np.testing.assert_allclose(m.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(m[0], 0.25, atol=1e-6)


@pytest.mark.parametrize("mode", ["ratio", "wiener"])
def test_stems_sum_to_mixture(mode):
    rng = np.random.default_rng(3)
    X = stft(rng.standard_normal((2, 4000)).astype(np.float32), n_fft=256, hop=64)
    v = rng.random((X.shape[1], 100, 2, 3)).astype(np.float32)
    Y = apply_masks(X, v, mode=mode)
    assert Y.shape == (3,) + X.shape
    np.testing.assert_allclose(Y.sum(0), X, atol=1e-5 * np.abs(X).max())


def test_presets_are_complete():
    p = get_preset("spleeter:4stems")
    assert p.stems == ("vocals", "drums", "bass", "other")
    assert (p.sr, p.n_fft, p.hop, p.bins, p.frames) == (44100, 4096, 1024, 1024, 512)
    assert get_preset("5stems-16kHz").stems[3] == "piano"
    from auricle.errors import ConfigError

    with pytest.raises(ConfigError, match="3stems"):
        get_preset("3stems")


# ----------------------------------------------------------------------------------------------
# the network


def test_spleeter_unet_shape_and_size():
    from auricle.separation.unet import build_separator

    p = get_preset("2stems")
    m = build_separator("unet", frames=p.frames, bins=p.bins, channels=2, n_stems=2, **p.model_options)
    assert tuple(m.output.shape) == (None, 512, 1024, 2, 2)
    # Spleeter's U-Net is 9.8M parameters per stem
    assert 9.5e6 < m.count_params() / 2 < 10.1e6
    names = [layer.name for layer in m.layers]
    assert sum(n.startswith("s0_enc") and n.endswith("_conv") for n in names) == 6
    assert sum(n.startswith("s0_dec") and n.endswith("_drop") for n in names) == 3


def test_unet_saves_and_reloads_identically(tmp_path):
    import keras

    from auricle.separation.unet import build_separator

    for name in ("unet", "unet_shared"):
        m = build_separator(name, frames=None, bins=32, channels=2, n_stems=3, width=4, depth=2)
        x = np.random.default_rng(0).random((2, 16, 32, 2)).astype(np.float32)
        m.save(tmp_path / f"{name}.keras")
        m2 = keras.saving.load_model(str(tmp_path / f"{name}.keras"))
        np.testing.assert_array_equal(m.predict_on_batch(x), m2.predict_on_batch(x))
        assert m.predict_on_batch(x).shape == (2, 16, 32, 2, 3)


def test_unet_rejects_bad_options():
    from auricle.errors import ModelError
    from auricle.separation.unet import build_separator

    with pytest.raises(ModelError, match="multiple of"):
        build_separator("unet", frames=30, bins=64, channels=2, n_stems=2, depth=3)
    with pytest.raises(ModelError, match="unknown option"):
        build_separator("unet", frames=32, bins=64, channels=2, n_stems=2, widht=3)
    with pytest.raises(ModelError, match="unknown separator"):
        build_separator("demucs", frames=32, bins=64, channels=2, n_stems=2)


# ----------------------------------------------------------------------------------------------
# chunked separation


def _untrained_separator(**kw):
    from auricle.separation.separate import Separator, _KerasNet
    from auricle.separation.unet import build_separator

    p = get_preset("2stems-small").replace(**TINY)
    m = build_separator("unet", frames=None, bins=p.bins, channels=2, n_stems=2, width=4, depth=3, dropout=0.0)
    return p, m, Separator(p, _KerasNet(m), **kw)


def test_chunked_equals_unchunked_within_tolerance():
    """Chunks of 32 frames (0.25 s) cross-faded over 0.1 s vs the whole 6 s signal in one patch.

    The stated tolerance: 25 dB signal-to-difference for an untrained network (whose masks
    depend on the whole receptive field); every chunked result still sums to the mixture exactly.
    """
    from auricle.separation.separate import Separator, _KerasNet

    p, m, chunked = _untrained_separator(overlap=0.1, batch=3)
    y = np.random.default_rng(4).standard_normal((2, 6 * SR)).astype(np.float32) * 0.1
    whole_frames = ((y.shape[1] // p.hop) // 8 + 2) * 8
    whole = Separator(p, _KerasNet(m), chunk_frames=whole_frames).separate(y)
    parts = chunked.separate(y)
    num = sum((whole[k] ** 2).sum() for k in whole)
    den = sum(((parts[k] - whole[k]) ** 2).sum() for k in whole)
    assert 10 * np.log10(num / den) > 25
    for out in (whole, parts):
        assert out["vocals"].shape == y.shape
        np.testing.assert_allclose(out["vocals"] + out["accompaniment"], y, atol=1e-5)


@pytest.mark.parametrize("n", [1, 100, 1983, 1984, 1985, 5000])
def test_separate_any_length_and_mono(n):
    _, _, sep = _untrained_separator(overlap=0.05, batch=2)
    y = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    out = sep.separate(y)
    assert out["vocals"].shape == (1, n)
    np.testing.assert_allclose(out["vocals"][0] + out["accompaniment"][0], y, atol=1e-5)


def test_batching_does_not_change_the_result():
    _, _, one = _untrained_separator(overlap=0.1, batch=1)
    _, _, four = _untrained_separator(overlap=0.1, batch=4)
    four.net = one.net
    y = np.random.default_rng(5).standard_normal((2, 3 * SR)).astype(np.float32) * 0.1
    a, b = one.separate(y), four.separate(y)
    np.testing.assert_allclose(a["vocals"], b["vocals"], atol=1e-6)


def test_separate_rejects_more_than_two_channels():
    from auricle.errors import AudioError

    _, _, sep = _untrained_separator()
    with pytest.raises(AudioError, match="mono or stereo"):
        sep.separate(np.zeros((3, 1000), np.float32))


# ----------------------------------------------------------------------------------------------
# a trained tiny separator: training, evaluation, CLI, export


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import yaml

    from auricle.separation.training import SeparationConfig, train_separator

    base = tmp_path_factory.mktemp("sep")
    data = _write_dataset(base / "songs")
    cfg = SeparationConfig(data=str(data), preset="2stems-small", preset_overrides=dict(TINY),
                           epochs=3, steps_per_epoch=25, batch_size=8, lr=3e-3, valid_patches=16,
                           cache_dir=str(base / "cache"), seed=0)
    # three epochs, then the fourth by --resume (as a stopped run continues), evaluated at the end:
    # one run proves resuming and gives the trained separator the other tests use
    run = train_separator(cfg, base / "run", evaluate=False)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["epochs"] = 4
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    train_separator(cfg, run, resume=True)
    return run, data


def test_trained_separator_beats_the_mixture(trained):
    run, _ = trained
    m = json.loads((run / "separation_metrics.json").read_text())
    summary = m["summary"]
    for stem in ("vocals", "accompaniment"):
        model = summary["model"][stem]["sdr"]["median"]
        mix = summary["mixture"][stem]["sdr"]["median"]
        oracle = summary["oracle"][stem]["sdr"]["median"]
        assert model > mix + 3, (stem, model, mix)
        assert oracle >= model - 1
    for f in ("model.keras", "history.csv", "curves.png", "report.md", "sdr.png", "spectrograms.png",
              "separation.json", "config.yaml"):
        assert (run / f).exists(), f
    assert "SDR" in (run / "report.md").read_text()


def test_resume_continues_from_the_last_epoch(trained):
    """The fixture's run stopped after epoch 3 and was resumed from its own config.yaml (epochs: 4)."""
    import yaml

    run, _ = trained
    rows = (run / "history.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]
    assert yaml.safe_load((run / "config.yaml").read_text())["epochs"] == 4


def test_cli_separate_writes_spleeter_layout(trained, tmp_path):
    from typer.testing import CliRunner

    from auricle.cli import app

    run, data = trained
    song = data / "song00"
    mix = sf.read(song / "vocals.wav")[0] + sf.read(song / "other.wav")[0]
    sf.write(tmp_path / "a.wav", mix, SR)
    sf.write(tmp_path / "b.flac", mix[:, 0], SR)                 # mono: stems come out mono
    r = CliRunner().invoke(app, ["separate", str(tmp_path / "a.wav"), str(tmp_path / "b.flac"),
                                 "-p", str(run), "-o", str(tmp_path / "out"), "--codec", "flac"])
    assert r.exit_code == 0, r.output
    for name, ch in (("a", 2), ("b", 1)):
        for stem in ("vocals", "accompaniment"):
            y, sr = sf.read(tmp_path / "out" / name / f"{stem}.flac", always_2d=True)
            assert sr == SR and y.shape == (len(mix), ch)
    # a second run refuses to replace the stems, --overwrite replaces them
    r = CliRunner().invoke(app, ["separate", str(tmp_path / "a.wav"), "-p", str(run), "-o", str(tmp_path / "out"),
                                 "--codec", "flac"])
    assert r.exit_code == 2 and "--overwrite" in r.output
    r = CliRunner().invoke(app, ["separate", str(tmp_path / "a.wav"), "-p", str(run), "-o", str(tmp_path / "out"),
                                 "--codec", "flac", "--overwrite"])
    assert r.exit_code == 0, r.output


def test_cli_separate_bad_inputs_name_the_file(trained, tmp_path):
    from typer.testing import CliRunner

    from auricle.cli import app

    run, _ = trained
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    sf.write(tmp_path / "empty.wav", np.zeros((0, 2)), SR)
    sf.write(tmp_path / "eight.wav", np.zeros((800, 8)), SR)
    sf.write(tmp_path / "good.wav", np.zeros((800, 2)), SR)
    r = CliRunner().invoke(app, ["separate", str(tmp_path / "corrupt.wav"), str(tmp_path / "empty.wav"),
                                 str(tmp_path / "eight.wav"), str(tmp_path / "good.wav"),
                                 "-p", str(run), "-o", str(tmp_path / "out")])
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    for name in ("corrupt.wav", "empty.wav", "eight.wav"):
        assert name in r.output
    assert (tmp_path / "out" / "good" / "vocals.wav").exists()        # the good file still separated
    assert not (tmp_path / "out" / "corrupt").exists() or not any((tmp_path / "out" / "corrupt").iterdir())


def test_cli_separate_unknown_model(tmp_path):
    from typer.testing import CliRunner

    from auricle.cli import app

    r = CliRunner().invoke(app, ["separate", str(tmp_path), "-p", "7stems"])
    assert r.exit_code == 2 and "preset" in r.output


def test_export_onnx_runs_without_tensorflow_and_agrees(trained, tmp_path):
    import subprocess
    import sys

    from auricle.separation.export import export_separator
    from auricle.separation.separate import Separator

    run, data = trained
    folder = export_separator(run, "onnx")
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["parity"]["max_rel_diff"] < 1e-4
    y = np.random.default_rng(6).standard_normal((2, 3 * SR)).astype(np.float32) * 0.1
    a = Separator.load(run, runtime="keras").separate(y)
    b = Separator.load(run, runtime="onnx").separate(y)
    np.testing.assert_allclose(a["vocals"], b["vocals"], atol=1e-4)
    code = ("import sys, numpy as np; from auricle.separation.separate import Separator;"
            f"s = Separator.load({str(run)!r}); assert s.runtime == 'onnx';"
            "s.separate(np.zeros((2, 4000), np.float32)); assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_separate_eval_on_another_dataset(trained, tmp_path):
    from typer.testing import CliRunner

    from auricle.cli import app

    run, _ = trained
    other = _write_dataset(tmp_path / "other", n_songs=2, seconds=2.0, seed=9)
    r = CliRunner().invoke(app, ["separate-eval", str(run), str(other), "--json", "--runtime", "keras",
                                 "--out", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert set(summary["model"]) == {"vocals", "accompaniment"}
    assert (tmp_path / "ev" / "sdr.png").exists()


def test_ratio_fast_path_equals_the_masks():
    rng = np.random.default_rng(7)
    X = stft(rng.standard_normal((2, 3000)).astype(np.float32), n_fft=256, hop=64)
    v = rng.random((X.shape[1], 100, 2, 3)).astype(np.float32)
    m = ratio_masks(v, total_bins=X.shape[-1])
    np.testing.assert_allclose(apply_masks(X, v, mode="ratio"), m.transpose(3, 2, 0, 1) * X[None], rtol=1e-5, atol=1e-7)
