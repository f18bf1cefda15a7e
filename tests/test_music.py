"""Music: the rendered instrument set (auricle.datasets.music_synth), the music presets and recipe."""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from auricle.datasets import music_synth as ms
from auricle.errors import AuricleError, ConfigError


def _tools_missing() -> str | None:
    from auricle.separation import demo

    if not shutil.which("fluidsynth"):
        return "the fluidsynth program is not installed"
    for name in demo.SOUNDFONTS:
        try:
            demo.find_soundfont(name)
        except AuricleError as exc:
            return str(exc)
    return None


needs_fluidsynth = pytest.mark.skipif(_tools_missing() is not None,
                                      reason=f"rendering needs fluidsynth and the GM soundfonts: {_tools_missing()}")
TINY = dict(n_train=2, n_valid=1, n_test=1, seconds=2.0, sr=16000, seed=0, instruments=["flute", "cello"])


def _manifest(root):
    with open(root / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def _centroid(x, sr):
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return float((spec * f).sum() / spec.sum())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("instruments") / "set"
    return ms.make_instruments(out, **TINY).parent


def test_phrase_is_a_function_of_its_seed_and_stays_in_range():
    for name, (program, lo, hi, _) in ms.INSTRUMENTS.items():
        part = ms.compose_phrase(5, name, seconds=4.0)
        assert part.program == program and len(part.notes) >= 3
        assert all(lo <= n.pitch <= hi for n in part.notes), name
        assert all(0 <= n.start < 4000 and 20 <= n.velocity <= 127 for n in part.notes)
        assert ms.compose_phrase(5, name, seconds=4.0) == part
    a, b = ms.compose_phrase(1, "violin"), ms.compose_phrase(2, "violin")
    assert [n.pitch for n in a.notes] != [n.pitch for n in b.notes]
    with pytest.raises(ConfigError, match="unknown instrument"):
        ms.compose_phrase(1, "theremin")


def test_plan_holds_the_test_soundfont_and_sources_out_of_training():
    rows = ms.plan_recordings(n_train=4, n_valid=2, n_test=3, seed=1, instruments=list(ms.INSTRUMENTS))
    assert len(rows) == 9 * 10
    fit = [r for r in rows if r["split"] != "test"]
    test = [r for r in rows if r["split"] == "test"]
    assert {r["soundfont"] for r in test} == {"TimGM6mb"}
    assert "TimGM6mb" not in {r["soundfont"] for r in fit}
    for inst in ms.INSTRUMENTS:   # every instrument is heard in both training soundfonts
        assert {r["soundfont"] for r in fit if r["label"] == inst and r["split"] == "train"} == \
            {"FluidR3_GM", "MuseScore_General_Lite"}
    groups = {s: {r["group"] for r in rows if r["split"] == s} for s in ms.SPLITS}
    assert not (groups["train"] & groups["valid"]) and not (groups["train"] & groups["test"])
    other = ms.plan_recordings(n_train=2, n_valid=0, n_test=1, seed=1, instruments=["piano", "organ"],
                               test_soundfont="FluidR3_GM")
    assert {r["soundfont"] for r in other if r["split"] == "test"} == {"FluidR3_GM"}
    assert "FluidR3_GM" not in {r["soundfont"] for r in other if r["split"] == "train"}


@needs_fluidsynth
def test_rendered_set_is_labelled_and_split_right(tiny):
    rows = _manifest(tiny)
    assert len(rows) == 4 * 2 and set(rows[0]) == {"path", "label", "group", "split", "soundfont", "program", "seed",
                                                   "chorus", "reverb_rt60"}
    assert all(r["chorus"] == "0" and float(r["reverb_rt60"]) == 0 for r in rows if r["split"] != "train")
    cent = {"flute": [], "cello": []}
    for r in rows:
        x, sr = sf.read(str(tiny / r["path"]))
        assert sr == 16000 and x.ndim == 1 and len(x) == 2 * sr
        assert 10 ** (-12.5 / 20) <= np.abs(x).max() <= 10 ** (-0.9 / 20)   # peak -1..-12 dBFS
        assert r["path"].startswith(f"{r['split']}/{r['label']}/")
        assert int(r["program"]) == ms.INSTRUMENTS[r["label"]][0]
        assert (r["soundfont"] == "TimGM6mb") == (r["split"] == "test")
        cent[r["label"]].append(_centroid(x, sr))
    assert np.median(cent["flute"]) > 1.5 * np.median(cent["cello"])   # the program rendered is the one labelled
    from auricle.datasets import index

    ds = index(tiny / "manifest.csv")
    assert {it.split for it in ds.items} == {"train", "val", "test"} and len(ds.items) == 8
    assert "TimGM6mb" in (tiny / "LICENSES.md").read_text()


@needs_fluidsynth
def test_cli_same_seed_same_bytes_and_refuses_to_overwrite(tiny, tmp_path):
    from auricle.cli import app

    args = ["make-instruments", str(tmp_path / "again"), "--train", "2", "--valid", "1", "--test", "1",
            "--seconds", "2", "--sr", "16000", "--seed", "0", "--instruments", "flute,cello"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    for row in _manifest(tiny):
        assert (tmp_path / "again" / row["path"]).read_bytes() == (tiny / row["path"]).read_bytes()
    r = CliRunner().invoke(app, args)
    assert r.exit_code != 0 and "already there" in r.output and "--overwrite" in r.output
    r = CliRunner().invoke(app, args[:2] + ["--instruments", "flute,theremin"])
    assert r.exit_code != 0 and "theremin" in r.output


def test_training_soundfonts_leave_out_the_held_out_families_and_rotate_over_families():
    fonts = ["FluidR3_GM", "MuseScore_General_Lite", "MuseScore_General_Full", "TimGM6mb", "sf_GMbank"]
    rows = ms.plan_recordings(n_train=4, n_valid=2, n_test=1, seed=0, instruments=list(ms.INSTRUMENTS),
                              soundfonts=fonts)
    train = [r["soundfont"] for r in rows if r["split"] == "train"]
    assert set(train) == {"FluidR3_GM", "MuseScore_General_Lite", "MuseScore_General_Full", "sf_GMbank"}
    assert train.count("sf_GMbank") == len(train) // 2          # csound is one family of two: half the recordings
    held = ms.plan_recordings(n_train=4, n_valid=2, n_test=1, seed=0, instruments=["flute", "cello"],
                              soundfonts=fonts, test_soundfont="MuseScore_General_Lite", valid_soundfont="sf_GMbank")
    assert {r["soundfont"] for r in held if r["split"] == "train"} == {"TimGM6mb"}   # Fluid R3's family is out
    assert {r["soundfont"] for r in held if r["split"] == "valid"} == {"sf_GMbank"}
    with pytest.raises(ConfigError, match="both"):
        ms.plan_recordings(n_train=1, n_valid=1, n_test=1, seed=0, instruments=["flute", "cello"],
                           valid_soundfont="TimGM6mb")
    with pytest.raises(ConfigError, match="no soundfont is left"):
        ms.plan_recordings(n_train=1, n_valid=1, n_test=1, seed=0, instruments=["flute", "cello"],
                           soundfonts=["FluidR3_GM"], test_soundfont="MuseScore_General_Lite")


def test_varied_recording_stays_in_range_and_is_a_function_of_its_seed():
    seen_programs, seen_fx = set(), set()
    for seed in range(40):
        plain = ms.compose_phrase(seed, "saxophone", seconds=3.0)
        part, fx = ms.vary_recording(plain, "saxophone", seed, seconds=3.0)
        assert (part, fx) == ms.vary_recording(plain, "saxophone", seed, seconds=3.0)
        lo, hi = ms.INSTRUMENTS["saxophone"][1:3]
        assert all(lo <= n.pitch <= hi and 20 <= n.velocity <= 127 and 0 <= n.start < 2700 for n in part.notes)
        assert part.program in ms.PROGRAM_VARIANTS["saxophone"] and 24 <= part.pan <= 104
        assert 0.2 <= fx["balance"] <= 0.8 and (fx["rt60"] == 0 or 0.3 <= fx["rt60"] <= 2.0)
        seen_programs.add(part.program)
        seen_fx.add((fx["chorus"], fx["rt60"] > 0))
    assert len(seen_programs) >= 3 and len(seen_fx) == 4


def test_bad_sizes_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="training source"):
        ms.make_instruments(tmp_path / "x", n_train=0)
    with pytest.raises(ConfigError, match="seconds"):
        ms.make_instruments(tmp_path / "x", seconds=0.5)
    with pytest.raises(ConfigError, match="unknown soundfont"):
        ms.plan_recordings(n_train=1, n_valid=0, n_test=1, seed=0, instruments=["flute", "cello"],
                           test_soundfont="Nope")


def test_music_presets_have_the_documented_values():
    from auricle.features import preset

    m = preset("music")
    assert (m.kind, m.sr, m.duration, m.n_fft, m.hop_length, m.n_mels, m.fmax) == \
        ("log_mel", 22050, 3.0, 2048, 512, 64, 11025.0)
    assert m.output_shape == (130, 64)
    h = preset("music44")
    assert (h.sr, h.n_fft, h.hop_length, h.n_mels, h.fmax, h.output_shape) == (44100, 4096, 1024, 128, 16000.0, (130, 128))


def _tone(kind, rng, sr, seconds):
    """Notes of random pitch with one of three harmonic recipes: the 'instrument' is the spectrum shape."""
    t = np.arange(int(sr * seconds)) / sr
    y = np.zeros_like(t)
    for start in np.arange(0, seconds, 0.25):
        f0 = rng.uniform(200, 700)
        k = np.arange(1, 12)
        amp = {"sine": (k == 1) * 1.0, "odd": (k % 2) / k, "saw": 1.0 / k}[kind]
        seg = (t >= start) & (t < start + 0.24)
        tt = t[seg] - start
        y[seg] += (amp[:, None] * np.sin(2 * np.pi * f0 * k[:, None] * tt)).sum(0) * np.exp(-4 * tt)
    return (rng.uniform(0.1, 0.5) * y / np.abs(y).max()).astype("float32")


def test_music_recipe_windows_long_recordings_and_beats_chance_per_recording(tmp_path):
    """The music recipe on 2-s recordings of three synthetic timbres (0.5-s windows here to stay fast):
    recordings are cut into windows after splitting, and test recordings are told apart."""
    from auricle.config import recipe
    from auricle.training import train

    rng = np.random.default_rng(0)
    root, rows, sr = tmp_path / "tones", ["path,label,group"], 22050
    for g in range(8):
        for c in ("sine", "odd", "saw"):
            (root / c).mkdir(parents=True, exist_ok=True)
            sf.write(root / c / f"r{g}.wav", _tone(c, rng, sr, 2.0), sr)
            rows.append(f"{c}/r{g}.wav,{c},r{g}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    cfg = recipe("music", {"data": {"root": str(root / "manifest.csv"), "val": 0.25, "test": 0.25},
                           "features": {"duration": 0.5},
                           "train": {"epochs": 6, "batch_size": 16, "workers": 1,
                                     "cache_dir": str(tmp_path / "cache")}})
    assert cfg.feature_config().sr == 22050 and cfg.data.window_hop == "auto"
    m = train(cfg, tmp_path / "run")
    assert m["per_recording"]["n"] == 6 and m["n"] > 6 * 3          # windows, then one answer per recording
    assert m["per_recording"]["accuracy"] > 1 / 3 + 0.2


def test_genre_clips_follow_their_style():
    for name, g in ms.GENRES.items():
        parts = ms.compose_genre_clip(4, name, seconds=10.0)
        assert parts == ms.compose_genre_clip(4, name, seconds=10.0)
        assert any(p.drums for p in parts) == bool(g["kits"])
        melodic = [p for p in parts if not p.drums]
        assert [p.program in pool for p, pool in zip(melodic, (g["bass"], g["harmony"], g["lead"]))] == [True] * 3
        assert all(0 <= n.start < 10000 for p in parts for n in p.notes)
    with pytest.raises(ConfigError, match="unknown genre"):
        ms.compose_genre_clip(1, "polka")


def test_genre_plan_trains_on_every_family_but_the_held_out_ones():
    fonts = ["FluidR3_GM", "MuseScore_General_Lite", "MuseScore_General_Full", "TimGM6mb", "sf_GMbank"]
    genres = list(ms.GENRES)
    rows = ms.plan_genres(n_train=4, n_valid=2, n_test=3, seed=0, genres=genres, soundfonts=fonts)
    n = len(genres)
    assert n == 12 and set(ms.FIVE_GENRES) < set(genres)
    assert len(rows) == 9 * n and [r["split"] for r in rows].count("test") == 3 * n
    assert {r["soundfont"] for r in rows if r["split"] == "test"} == {"TimGM6mb"}
    train = [r["soundfont"] for r in rows if r["split"] == "train"]
    assert set(train) == {"FluidR3_GM", "MuseScore_General_Lite", "MuseScore_General_Full", "sf_GMbank"}
    assert train.count("sf_GMbank") == 2 * n                  # two families: half the training clips
    for g in genres:                                          # every genre is heard in both families
        assert {r["soundfont"] == "sf_GMbank" for r in rows if r["label"] == g and r["split"] == "train"} == \
            {True, False}
    assert len({r["group"] for r in rows}) == len(rows)       # every clip is its own group
    held = ms.plan_genres(n_train=3, n_valid=2, n_test=1, seed=0, genres=["rock", "jazz"], soundfonts=fonts,
                          test_soundfont="MuseScore_General_Full", valid_soundfont="sf_GMbank")
    assert {r["soundfont"] for r in held if r["split"] == "train"} == {"TimGM6mb"}   # MuseScore is Fluid R3's
    assert {r["soundfont"] for r in held if r["split"] == "valid"} == {"sf_GMbank"}
    assert {r["soundfont"] for r in held if r["split"] == "test"} == {"MuseScore_General_Full"}
    with pytest.raises(ConfigError, match="both"):
        ms.plan_genres(n_train=1, n_valid=1, n_test=1, seed=0, genres=["rock", "jazz"], valid_soundfont="TimGM6mb")
    with pytest.raises(ConfigError, match="unknown soundfont"):
        ms.plan_genres(n_train=1, n_valid=1, n_test=1, seed=0, genres=["rock", "jazz"], valid_soundfont="Nope")


def test_varied_genre_clip_moves_the_band_together_and_keeps_the_drums():
    seen_shift, seen_room = set(), set()
    for seed in range(30):
        plain = ms.compose_genre_clip(seed, "rock", seconds=8.0)
        varied, fx = ms.vary_genre_clip(plain, seed, seconds=8.0)
        assert (varied, fx) == ms.vary_genre_clip(plain, seed, seconds=8.0)
        assert [(p.program, p.drums) for p in varied] == [(p.program, p.drums) for p in plain]
        assert 0.9 <= fx["stretch"] <= 1.12 and -5 <= fx["shift"] <= 5 and 0.2 <= fx["balance"] <= 0.8
        for p, q in zip(plain, varied):
            kept = [n for n in p.notes if round(n.start * fx["stretch"]) < 7800]
            assert [n.start for n in q.notes] == [round(n.start * fx["stretch"]) for n in kept]
            assert all(20 <= n.velocity <= 127 for n in q.notes)
            if p.drums:                                       # the same drums, at the new tempo
                assert [n.pitch for n in q.notes] == [n.pitch for n in kept] and 48 <= q.pan <= 80
            else:                                             # every melodic part moved by the same interval
                assert [(b.pitch - a.pitch - fx["shift"]) % 12 for a, b in zip(kept, q.notes)] == [0] * len(kept)
                assert all(24 <= n.pitch <= 108 for n in q.notes) and 24 <= q.pan <= 104
        seen_shift.add(fx["shift"])
        seen_room.add(fx["rt60"] > 0)
    assert len(seen_shift) >= 5 and seen_room == {True, False}


@needs_fluidsynth
def test_genre_set_is_rendered_split_by_soundfont(tmp_path):
    from auricle.cli import app

    args = ["make-genres", str(tmp_path / "g"), "--train", "1", "--valid", "0", "--test", "1", "--seconds", "3",
            "--sr", "16000", "--genres", "rock,classical"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    rows = _manifest(tmp_path / "g")
    assert [(x["label"], x["split"]) for x in rows] == [("rock", "train"), ("classical", "train"), ("rock", "test"),
                                                          ("classical", "test")]
    assert [x["soundfont"] == "TimGM6mb" for x in rows] == [False, False, True, True]
    for x in rows:
        y, sr = sf.read(str(tmp_path / "g" / x["path"]))
        assert sr == 16000 and len(y) == 3 * sr and np.abs(y).max() > 0.2
    assert CliRunner().invoke(app, args).exit_code != 0          # already there


@needs_fluidsynth
def test_make_genres_valid_soundfont_and_plain(tmp_path):
    from auricle.cli import app

    args = ["make-genres", str(tmp_path / "v"), "--train", "2", "--valid", "1", "--test", "1", "--seconds", "3",
            "--sr", "16000", "--genres", "jazz,electronic", "--valid-soundfont", "sf_GMbank",
            "--train-soundfonts", "FluidR3_GM,sf_GMbank,TimGM6mb"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    rows = _manifest(tmp_path / "v")
    assert set(rows[0]) == {"path", "label", "group", "split", "soundfont", "seed", "chorus", "reverb_rt60"}
    assert {x["split"]: x["soundfont"] for x in rows} == {"train": "FluidR3_GM", "valid": "sf_GMbank",
                                                          "test": "TimGM6mb"}
    assert all(float(x["reverb_rt60"]) == 0 for x in rows if x["split"] != "train")
    assert "sf_GMbank" in (tmp_path / "v" / "LICENSES.md").read_text()
    r = CliRunner().invoke(app, args[:1] + [str(tmp_path / "p")] + args[2:] + ["--plain"])
    assert r.exit_code == 0, r.output
    plain = _manifest(tmp_path / "p")
    assert [x["seed"] for x in plain] == [x["seed"] for x in rows]
    assert all(float(x["reverb_rt60"]) == 0 and x["chorus"] == "0" for x in plain)
    for x, y in zip(rows, plain):        # valid and test are plain either way; training clips are played anew
        same = (tmp_path / "v" / x["path"]).read_bytes() == (tmp_path / "p" / y["path"]).read_bytes()
        assert same == (x["split"] != "train"), x["path"]
    r = CliRunner().invoke(app, args[:1] + [str(tmp_path / "w")] + args[2:-4] + ["--valid-soundfont", "TimGM6mb"])
    assert r.exit_code != 0 and "both" in r.output
