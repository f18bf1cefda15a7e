"""The built-in separation demo songs (auricle.separation.demo): fluidsynth renders generated MIDI per stem."""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from auricle.errors import AuricleError
from auricle.separation import demo


def _tools_missing() -> str | None:
    if not shutil.which("fluidsynth"):
        return "the fluidsynth program is not installed"
    for name in demo.SOUNDFONTS:
        try:
            demo.find_soundfont(name)
        except AuricleError as exc:
            return str(exc)
    return None


needs_fluidsynth = pytest.mark.skipif(_tools_missing() is not None,
                                      reason=f"demo stems need fluidsynth and the GM soundfonts: {_tools_missing()}")

TINY = dict(n_train=2, n_valid=0, n_test=1, seconds=3.0, sr=16000, seed=0)
CLI_ARGS = ["--train", "2", "--valid", "0", "--test", "1", "--seconds", "3", "--sr", "16000", "--seed", "0"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    seen = []
    out = demo.make_demo_stems(tmp_path_factory.mktemp("stems") / "demo", progress=lambda d, t: seen.append((d, t)),
                               **TINY)
    return out, seen


def _read(path):
    return sf.read(str(path), dtype="int16", always_2d=True)


def _manifest(root):
    with open(root / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


@needs_fluidsynth
def test_layout_lengths_and_exact_mixture(tiny):
    root, seen = tiny
    rows = _manifest(root)
    assert [r["song"] for r in rows] == ["train-000", "train-001", "test-000"]
    assert set(rows[0]) == {"song", "split", "soundfont", "tempo", "key", "seed"}
    assert seen[-1] == (3, 3)
    lic = (root / "LICENSES.md").read_text()
    for name in ("FluidR3_GM", "MuseScore_General_Lite", "TimGM6mb", "fluidsynth", "MIT", "GPL-2", "LGPL"):
        assert name in lic
    for r in rows:
        d = root / r["split"] / r["song"]
        assert sorted(p.name for p in d.iterdir()) == sorted(f"{s}.wav" for s in (*demo.DEMO_STEMS, "mixture"))
        stems = {}
        for s in demo.DEMO_STEMS:
            x, sr = _read(d / f"{s}.wav")
            assert sr == 16000 and x.shape == (48000, 2), (s, x.shape)
            assert np.sqrt(np.mean((x / 32768.0) ** 2)) > 1e-3, f"{r['song']}/{s} is silent"
            assert sf.info(str(d / f"{s}.wav")).subtype == "PCM_16"
            stems[s] = x.astype(np.int64)
        mix, _ = _read(d / "mixture.wav")
        total = sum(stems.values())
        assert np.abs(total - mix).max() <= 1                      # exact, up to 16-bit rounding
        assert 0.3 < np.abs(mix).max() / 32767 < 1.0              # loud, never clipped
        # float reading (what a loader does) sums to the mixture too
        fl = sum(sf.read(str(d / f"{s}.wav"), dtype="float64")[0] for s in demo.DEMO_STEMS)
        assert np.abs(fl - sf.read(str(d / "mixture.wav"), dtype="float64")[0]).max() <= 1.5 / 32768


@needs_fluidsynth
def test_test_soundfont_is_never_used_for_training(tiny):
    rows = _manifest(tiny[0])
    train_fonts = {r["soundfont"] for r in rows if r["split"] != "test"}
    test_fonts = {r["soundfont"] for r in rows if r["split"] == "test"}
    assert train_fonts == {"FluidR3_GM", "MuseScore_General_Lite"}
    assert test_fonts == {"TimGM6mb"} and not train_fonts & test_fonts


@needs_fluidsynth
def test_cli_same_seed_same_bytes_and_refuses_to_overwrite(tiny, tmp_path):
    from auricle.cli import app

    runner = CliRunner()
    out = tmp_path / "again"
    r = runner.invoke(app, ["make-stems", "--out", str(out), *CLI_ARGS])
    assert r.exit_code == 0, r.output
    assert "wrote 3 songs" in r.output
    files = sorted(p.relative_to(tiny[0]) for p in tiny[0].rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    for rel in files:
        assert (tiny[0] / rel).read_bytes() == (out / rel).read_bytes(), rel
    r = runner.invoke(app, ["make-stems", "--out", str(out), *CLI_ARGS])
    assert r.exit_code == 2 and "already there" in r.output


@needs_fluidsynth
def test_different_seed_different_audio(tiny, tmp_path):
    other = demo.make_demo_stems(tmp_path / "s1", n_train=1, n_valid=0, n_test=0, seconds=3.0, seed=1)
    a, _ = _read(tiny[0] / "train" / "train-000" / "mixture.wav")
    b, _ = _read(other / "train" / "train-000" / "mixture.wav")
    assert a.shape == b.shape and not np.array_equal(a, b)
    assert _manifest(other)[0]["seed"] != _manifest(tiny[0])[0]["seed"]


def test_missing_soundfont_or_fluidsynth_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("AURICLE_SOUNDFONT_DIR", raising=False)
    with pytest.raises(AuricleError, match="TimGM6mb.sf2.*apt-get install fluidsynth"):
        demo.find_soundfont("TimGM6mb", dirs=[tmp_path])
    if shutil.which("fluidsynth"):
        with pytest.raises(AuricleError, match="not found in"):
            demo.make_demo_stems(tmp_path / "x", soundfont_dirs=[tmp_path], n_train=1, n_valid=0, n_test=0)
    monkeypatch.setattr(demo.shutil, "which", lambda name: None)
    with pytest.raises(AuricleError, match="fluidsynth program is missing.*apt-get install fluidsynth"):
        demo.make_demo_stems(tmp_path / "y", n_train=1, n_valid=0, n_test=0)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_soundfont_found_through_environment(tmp_path, monkeypatch):
    (tmp_path / "TimGM6mb.sf2").write_bytes(b"RIFF")
    monkeypatch.setenv("AURICLE_SOUNDFONT_DIR", str(tmp_path))
    assert demo.find_soundfont("TimGM6mb", dirs=[tmp_path / "nowhere"]) == (tmp_path / "TimGM6mb.sf2").resolve()


def test_compose_is_deterministic_varied_and_in_range():
    songs = [demo.compose_song(s, seconds=12.0) for s in range(12)]
    assert demo.compose_song(3, seconds=12.0) == songs[3]
    assert len({s.tempo for s in songs}) > 6 and len({s.key for s in songs}) > 4
    for s in songs:
        assert 80 <= s.tempo <= 150
        assert s.parts["drums"].drums and s.parts["drums"].program in demo.DRUM_KITS
        assert s.parts["bass"].program in range(32, 40)
        assert s.parts["piano"].program in range(0, 8)
        assert s.parts["vocals"].program in (52, 53, 54)
        assert s.parts["other"].program not in (*range(0, 8), *range(32, 40), 52, 53, 54)
        for name, part in s.parts.items():
            assert part.notes, name
            assert all(0 <= n.start < 12000 and 0 <= n.pitch <= 127 and 1 <= n.velocity <= 127 for n in part.notes)


def test_bad_sizes_are_config_errors(tmp_path):
    from auricle.errors import ConfigError

    with pytest.raises(ConfigError):
        demo.make_demo_stems(tmp_path, n_train=0, n_valid=0, n_test=0)
    with pytest.raises(ConfigError):
        demo.make_demo_stems(tmp_path, seconds=0.1)
