"""Stems datasets: layouts, stem mapping, checks, song-disjoint splits, the cache and the sampler."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auricle import audio
from auricle.errors import AudioError, ConfigError, DatasetError
from auricle.separation.stems import (LENGTH_TOLERANCE, ChunkSampler, Song, StemCache, index_stems,
                                      split_songs, stem_plan)

SR = 8000
FOUR = ("vocals", "drums", "bass", "other")
FIVE = ("vocals", "drums", "bass", "piano", "other")


def wav(path, y, sr=SR, subtype="FLOAT") -> Path:
    """Write ``y`` ((N,) or (C, N)) exactly (float wav); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    y = np.asarray(y, dtype=np.float32)
    sf.write(str(path), y.T if y.ndim == 2 else y, sr, subtype=subtype if path.suffix == ".wav" else None)
    return path


def const(v, n=800, channels=1):
    return np.full((channels, n), v, np.float32) if channels > 1 else np.full(n, v, np.float32)


def make_song(folder, values: dict[str, float | np.ndarray], *, n=800, mixture=False, ext=".wav"):
    """One song folder: each stem a constant (or the given array); optionally the exact mixture."""
    folder = Path(folder)
    total = 0
    for stem, v in values.items():
        y = const(v, n) if np.isscalar(v) else np.asarray(v, np.float32)
        wav(folder / f"{stem}{ext}", y)
        total = total + y
    if mixture:
        wav(folder / "mixture.wav", total)
    return folder


def write_csv(path, rows, header):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def cache_of(songs, stems, tmp_path, *, sr=SR, channels=1, **kw):
    return StemCache(songs, stems=stems, sr=sr, channels=channels, cache_dir=tmp_path / "cache", **kw)


# --------------------------------------------------------------------------- layouts

def test_folder_layout(tmp_path):
    make_song(tmp_path / "d" / "b_song", {"vocals": 0.1, "drums": 0.2}, mixture=True)
    make_song(tmp_path / "d" / "a_song", {"vocals": 0.1, "drums": 0.2}, ext=".flac")
    (tmp_path / "d" / "empty_dir").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("not audio")
    songs = index_stems(tmp_path / "d", stems=["vocals", "drums"])
    assert [s.name for s in songs] == ["a_song", "b_song"]
    a, b = songs
    assert sorted(a.stems) == ["drums", "vocals"] and a.mixture is None and a.split is None
    assert a.stems["vocals"].name == "vocals.flac" and a.stems["vocals"].is_absolute()
    assert b.mixture is not None and b.mixture.name == "mixture.wav" and "mixture" not in b.stems
    assert index_stems(tmp_path / "d", stems=["vocals"], layout="folder") == songs


def test_musdb_layout(tmp_path):
    root = tmp_path / "musdb"
    for split, names in (("train", ["t1", "t2"]), ("test", ["x1"]), ("valid", ["v1"])):
        for name in names:
            make_song(root / split / name, {s: 0.1 for s in FOUR}, mixture=True)
    songs = index_stems(root, stems=FOUR)
    assert [(s.name, s.split) for s in songs] == [("t1", "train"), ("t2", "train"), ("v1", "valid"), ("x1", "test")]
    assert all(s.mixture is not None and sorted(s.stems) == sorted(FOUR) for s in songs)
    assert index_stems(root, stems=FOUR, layout="musdb") == songs


def test_manifest_layout(tmp_path):
    d = tmp_path / "m"
    make_song(d / "audio" / "s1", {"vocals": 0.1, "drums": 0.2}, mixture=True)
    make_song(d / "audio" / "s2", {"vocals": 0.3, "drums": 0.4})
    rows = [("s1", "vocals", "audio/s1/vocals.wav", "train"), ("s1", "drums", "audio/s1/drums.wav", "train"),
            ("s1", "mixture", "audio/s1/mixture.wav", "train"),
            ("s2", "vocals", str(d / "audio/s2/vocals.wav"), "val"), ("s2", "drums", "audio/s2/drums.wav", "val")]
    m = write_csv(d / "manifest.csv", rows, ["song", "stem", "path", "split"])
    for root in (m, d):
        songs = index_stems(root, stems=["vocals", "drums"])
        assert [(s.name, s.split, s.mixture is not None) for s in songs] == [("s1", "train", True),
                                                                             ("s2", "valid", False)]
        assert songs[0].stems["drums"] == (d / "audio/s1/drums.wav").absolute()
    # an explicit manifest elsewhere
    m2 = write_csv(tmp_path / "other.csv", [("z", "vocals", "m/audio/s2/vocals.wav")], ["song", "stem", "path"])
    (z,) = index_stems(m2, stems=["vocals"], layout="manifest")
    assert z.name == "z" and z.split is None


def test_info_manifest_is_not_a_stems_manifest(tmp_path):
    d = tmp_path / "demo"
    for name in ("s1", "s2", "s3"):
        make_song(d / name, {"vocals": 0.1, "other": 0.2})
    write_csv(d / "manifest.csv", [("s1", "train", "a.sf2"), ("s2", "test", "b.sf2"), ("s3", "", "c.sf2")],
              ["song", "split", "soundfont"])
    songs = index_stems(d, stems=["vocals", "other"])
    assert [(s.name, s.split) for s in songs] == [("s1", "train"), ("s2", "test"), ("s3", None)]
    with pytest.raises(DatasetError, match=r"lacks column\(s\) stem, path"):
        index_stems(d, stems=["vocals"], layout="manifest")


# --------------------------------------------------------------------------- stem mapping

def test_stem_plan_rules():
    assert stem_plan(FOUR, ["vocals", "accompaniment"])["accompaniment"] == [(1, "drums"), (1, "bass"), (1, "other")]
    assert stem_plan(FIVE, FOUR)["other"] == [(1, "other"), (1, "piano")]
    assert stem_plan(FIVE, FIVE)["other"] == [(1, "other")]
    assert stem_plan(["vocals", "drums", "piano"], ["vocals", "drums", "other"])["other"] == [(1, "piano")]
    # an accompaniment file is used as is and never folded into other
    with_acc = list(FOUR) + ["accompaniment"]
    assert stem_plan(with_acc, ["vocals", "accompaniment"])["accompaniment"] == [(1, "accompaniment")]
    assert stem_plan(with_acc, FOUR)["other"] == [(1, "other")]
    plan = stem_plan(["vocals"], ["vocals", "accompaniment"], mixture=True)
    assert plan["accompaniment"] == [(1, "mixture"), (-1, "vocals")]
    with pytest.raises(DatasetError, match="has no 'accompaniment' stem"):
        stem_plan(["vocals"], ["vocals", "accompaniment"])
    with pytest.raises(ConfigError, match="twice"):
        stem_plan(FOUR, ["vocals", "vocals"])


def test_accompaniment_is_the_sum_of_non_vocal_stems(tmp_path):
    rng = np.random.default_rng(0)
    parts = {s: (0.2 * rng.standard_normal(800)).astype(np.float32) for s in FIVE}
    make_song(tmp_path / "d" / "s", parts, mixture=True)
    songs = index_stems(tmp_path / "d", stems=["vocals", "accompaniment"])
    c = cache_of(songs, ["vocals", "accompaniment"], tmp_path)
    src = np.asarray(c.sources(0))
    assert src.shape == (2, 1, 800) and src.dtype == np.float32
    np.testing.assert_array_equal(src[0, 0], parts["vocals"])
    np.testing.assert_allclose(src[1, 0], parts["drums"] + parts["bass"] + parts["piano"] + parts["other"], atol=1e-6)
    np.testing.assert_allclose(src.sum(0), c.mixture(0), atol=1e-6)


def test_accompaniment_from_mixture_minus_vocals(tmp_path):
    d = tmp_path / "d" / "s"
    wav(d / "vocals.wav", const(0.25))
    wav(d / "mixture.wav", const(0.75))
    songs = index_stems(tmp_path / "d", stems=["vocals", "accompaniment"])
    c = cache_of(songs, ["vocals", "accompaniment"], tmp_path)
    np.testing.assert_array_equal(c.sources(0)[:, 0, 0], [0.25, 0.5])
    np.testing.assert_array_equal(c.mixture(0), c.sources(0).sum(0))


def test_piano_folded_into_other_for_four_stems(tmp_path):
    vals = {"vocals": 0.01, "drums": 0.02, "bass": 0.04, "piano": 0.08, "other": 0.16}
    make_song(tmp_path / "d" / "s", vals, mixture=True)
    songs = index_stems(tmp_path / "d", stems=FOUR)
    c4 = cache_of(songs, FOUR, tmp_path)
    np.testing.assert_allclose(c4.sources(0)[:, 0, 0], [0.01, 0.02, 0.04, 0.24], rtol=1e-6)
    c5 = cache_of(songs, FIVE, tmp_path)
    np.testing.assert_allclose(c5.sources(0)[:, 0, 0], [0.01, 0.02, 0.04, 0.08, 0.16], rtol=1e-6)
    for c in (c4, c5):   # sources sum to the mixture file
        np.testing.assert_allclose(c.sources(0).sum(0), c.mixture(0), atol=1e-6)
    assert isinstance(c4.mixture(0), np.memmap)


def test_mixture_without_file_is_the_sum(tmp_path):
    make_song(tmp_path / "d" / "s", {"vocals": 0.25, "drums": 0.5})
    songs = index_stems(tmp_path / "d", stems=["vocals", "drums"])
    c = cache_of(songs, ["vocals", "drums"], tmp_path, channels=2)
    assert c.mixture(0).shape == (2, 800)
    np.testing.assert_array_equal(c.mixture(0), np.full((2, 800), 0.75, np.float32))


# --------------------------------------------------------------------------- bad input

def test_missing_stem_names_song_stem_and_files(tmp_path):
    make_song(tmp_path / "d" / "song_x", {"vocals": 0.1, "drums": 0.2})
    with pytest.raises(DatasetError) as e:
        index_stems(tmp_path / "d", stems=["vocals", "bass"])
    msg = str(e.value)
    assert "'song_x'" in msg and "'bass'" in msg and "found: vocals, drums" in msg and "Fix:" in msg


def test_lengths_beyond_tolerance(tmp_path):
    d = tmp_path / "d" / "s"
    wav(d / "vocals.wav", const(0.1, 4000))
    wav(d / "drums.wav", const(0.1, 3000))
    with pytest.raises(DatasetError) as e:
        index_stems(tmp_path / "d", stems=["vocals", "drums"])
    msg = str(e.value)
    assert "different lengths" in msg and "vocals.wav has 4000" in msg and "drums.wav has 3000" in msg


def test_lengths_within_tolerance_cut_to_shortest(tmp_path):
    d = tmp_path / "d" / "s"
    short = 4000 - int(LENGTH_TOLERANCE * SR) // 2
    wav(d / "vocals.wav", const(0.1, 4000))
    wav(d / "drums.wav", const(0.2, short))
    songs = index_stems(tmp_path / "d", stems=["vocals", "drums"])
    c = cache_of(songs, ["vocals", "drums"], tmp_path)
    assert c.lengths.tolist() == [short] and c.sources(0).shape == (2, 1, short)


def test_different_sample_rates(tmp_path):
    d = tmp_path / "d" / "s"
    wav(d / "vocals.wav", const(0.1, 800), sr=8000)
    wav(d / "drums.wav", const(0.1, 1600), sr=16000)
    with pytest.raises(DatasetError, match=r"mixes sample rates: .*vocals.wav is 8000 Hz but .*drums.wav is 16000 Hz"):
        index_stems(tmp_path / "d", stems=["vocals", "drums"])


@pytest.mark.parametrize("kind", ["zero_bytes", "corrupt", "no_samples", "three_channels"])
def test_bad_files_name_the_file(tmp_path, kind):
    d = tmp_path / "d" / "s"
    wav(d / "vocals.wav", const(0.1))
    bad = d / "drums.wav"
    if kind == "zero_bytes":
        bad.write_bytes(b"")
    elif kind == "corrupt":
        bad.write_bytes(b"RIFF\x00\x00garbage, not a wav file at all")
    elif kind == "no_samples":
        wav(bad, np.zeros(0, np.float32))
    else:
        wav(bad, const(0.1, 800, channels=3))
    with pytest.raises(AudioError) as e:
        index_stems(tmp_path / "d", stems=["vocals", "drums"])
    assert str(bad) in str(e.value) and "Fix:" in str(e.value)
    expected = {"zero_bytes": "0 bytes", "corrupt": "cannot read", "no_samples": "no samples",
                "three_channels": "3 channels"}[kind]
    assert expected in str(e.value) and "song 's'" in str(e.value)


def test_an_unused_bad_file_is_ignored(tmp_path):
    d = make_song(tmp_path / "d" / "s", {"vocals": 0.1, "drums": 0.2})
    (d / "guitar.wav").write_bytes(b"")
    assert len(index_stems(tmp_path / "d", stems=["vocals", "drums"])) == 1


def test_empty_and_missing_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no songs found"):
        index_stems(tmp_path / "empty", stems=["vocals"])
    wav(tmp_path / "one" / "vocals.wav", const(0.1))
    with pytest.raises(DatasetError, match="one song's folder"):
        index_stems(tmp_path / "one", stems=["vocals"])
    with pytest.raises(DatasetError, match="not found"):
        index_stems(tmp_path / "nope", stems=["vocals"])
    with pytest.raises(DatasetError, match="unknown stems layout"):
        index_stems(tmp_path / "one", stems=["vocals"], layout="spleeter")


def test_duplicate_song_names(tmp_path):
    root = tmp_path / "musdb"
    make_song(root / "train" / "same", {"vocals": 0.1})
    make_song(root / "test" / "same", {"vocals": 0.1})
    with pytest.raises(DatasetError, match="song name 'same' is used twice"):
        index_stems(root, stems=["vocals"])
    a = Song("x", {}, None, None)
    with pytest.raises(DatasetError, match="'x' is used twice"):
        split_songs([a, a, Song("y", {}, None, None)])


def test_manifest_errors(tmp_path):
    make_song(tmp_path / "a", {"vocals": 0.1})
    m = write_csv(tmp_path / "m.csv", [("s", "vocals", "a/vocals.wav"), ("s", "drums", "a/drums.wav")],
                  ["song", "stem", "path"])
    with pytest.raises(DatasetError, match=r"1 file\(s\) named in the manifest do not exist: line 3: a/drums.wav"):
        index_stems(m, stems=["vocals"])
    m = write_csv(tmp_path / "m2.csv", [("s", "vocals", "a/vocals.wav", "train"), ("s", "vocals", "a/vocals.wav", "")],
                  ["song", "stem", "path", "split"])
    with pytest.raises(DatasetError, match="lists stem 'vocals' twice"):
        index_stems(m, stems=["vocals"])
    m = write_csv(tmp_path / "m3.csv", [("s", "vocals", "a/vocals.wav", "holdout")], ["song", "stem", "path", "split"])
    with pytest.raises(DatasetError, match="unknown split 'holdout'"):
        index_stems(m, stems=["vocals"])


def test_channel_conversion(tmp_path):
    d = tmp_path / "d" / "s"
    wav(d / "vocals.wav", const(0.25))                                   # mono
    wav(d / "drums.wav", np.stack([const(0.2), const(0.6)]))             # stereo
    songs = index_stems(tmp_path / "d", stems=["vocals", "drums"])
    st = cache_of(songs, ["vocals", "drums"], tmp_path, channels=2)
    np.testing.assert_allclose(st.sources(0)[:, :, 0], [[0.25, 0.25], [0.2, 0.6]], rtol=1e-6)
    mono = cache_of(songs, ["vocals", "drums"], tmp_path, channels=1)
    np.testing.assert_allclose(mono.sources(0)[:, :, 0], [[0.25], [0.4]], rtol=1e-6)
    with pytest.raises(ConfigError, match="channels=3"):
        cache_of(songs, ["vocals", "drums"], tmp_path, channels=3)


# --------------------------------------------------------------------------- splits

def _songs(n, split=None):
    return [Song(f"s{k:02d}", {}, None, split(k) if split else None) for k in range(n)]


def test_split_song_disjoint_and_deterministic():
    songs = _songs(20)
    a = split_songs(songs, valid=0.15, test=0.15, seed=3)
    assert set(a) == {"train", "valid", "test"}
    names = {s: {x.name for x in v} for s, v in a.items()}
    assert sum(map(len, names.values())) == 20 and len(set().union(*names.values())) == 20
    assert [len(a[s]) for s in ("train", "valid", "test")] == [14, 3, 3]
    assert all(x.split == s for s, v in a.items() for x in v)
    assert split_songs(songs, seed=3) == a
    assert any(split_songs(songs, seed=k)["test"] != a["test"] for k in range(4, 10))


def test_split_small_and_too_small():
    parts = split_songs(_songs(3))
    assert [len(parts[s]) for s in ("train", "valid", "test")] == [1, 1, 1]
    with pytest.raises(DatasetError, match="too few songs"):
        split_songs(_songs(2))
    assert [len(v) for v in split_songs(_songs(2), test=0).values()] == [1, 1, 0]
    assert [len(v) for v in split_songs(_songs(1), valid=0, test=0).values()] == [1, 0, 0]
    with pytest.raises(DatasetError, match="valid=1.5"):
        split_songs(_songs(5), valid=1.5)


def test_split_keeps_given_splits_and_carves_valid_from_train():
    musdb = _songs(20, lambda k: "test" if k >= 14 else "train")
    parts = split_songs(musdb, valid=0.15, seed=0)
    assert [x.name for x in parts["test"]] == [f"s{k}" for k in range(14, 20)]
    assert len(parts["valid"]) == 2 and len(parts["train"]) == 12       # round(0.15 * 14)
    assert {x.name for x in parts["valid"]} <= {f"s{k:02d}" for k in range(14)}
    mixed = _songs(10, lambda k: "test" if k == 0 else None)
    assert split_songs(_songs(4, lambda k: "val" if k == 0 else None))["valid"][0].name == "s00"
    parts = split_songs(mixed, seed=1)
    assert [x.name for x in parts["test"]] == ["s00"] and len(parts["valid"]) >= 1
    assert all(x.name != "s00" for x in parts["train"] + parts["valid"])


# --------------------------------------------------------------------------- cache

def _dataset(tmp_path, n=3, seconds=0.25, seed=1):
    rng = np.random.default_rng(seed)
    root = tmp_path / "ds"
    for k in range(n):
        d = root / f"song{k}"
        for s in FOUR:
            wav(d / f"{s}.wav", (0.2 * rng.standard_normal((2, int(SR * seconds)))).astype(np.float32))
    return root


def test_cache_round_trip_equals_decoding(tmp_path):
    root = _dataset(tmp_path)
    songs = index_stems(root, stems=FOUR)
    calls = []
    c = cache_of(songs, FOUR, tmp_path, sr=16000, channels=2, progress=lambda *a: calls.append(a))
    assert len(c) == 3 and c.names == ["song0", "song1", "song2"] and c.lengths.tolist() == [4000] * 3
    assert calls == [(1, 3, "song0"), (2, 3, "song1"), (3, 3, "song2")]
    assert c.decoded == c.names
    for i, song in enumerate(songs):
        src = c.sources(i)
        assert isinstance(src, np.memmap) and src.dtype == np.float32 and not src.flags.writeable
        for k, s in enumerate(FOUR):
            want = audio.resample(audio.load_native(song.stems[s], mono=False)[0], orig_sr=SR, target_sr=16000)
            np.testing.assert_array_equal(src[k], audio.fix_length(want, length=4000, mode="start"))
    assert not list((tmp_path / "cache").glob(".*tmp*"))


def test_cache_reused_and_invalidated(tmp_path):
    root = _dataset(tmp_path)
    songs = index_stems(root, stems=FOUR)
    c1 = cache_of(songs, FOUR, tmp_path)
    files = sorted((tmp_path / "cache").glob("*.npy"))
    mtimes = [f.stat().st_mtime_ns for f in files]
    c2 = cache_of(songs, FOUR, tmp_path)
    assert c2.decoded == [] and [f.stat().st_mtime_ns for f in files] == mtimes
    np.testing.assert_array_equal(c1.sources(1), c2.sources(1))
    # a changed file re-decodes that song only, and the stale copy goes
    new = np.full((2, int(SR * 0.25)), 0.5, np.float32)
    p = songs[1].stems["bass"]
    wav(p, new)
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))
    c3 = cache_of(songs, FOUR, tmp_path)
    assert c3.decoded == ["song1"]
    np.testing.assert_array_equal(c3.sources(1)[2], new[:1])   # mono cache: the mean
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3
    # another setting is another cache entry
    assert cache_of(songs, FOUR, tmp_path, sr=16000).decoded == ["song0", "song1", "song2"]
    assert cache_of(songs, ["vocals", "accompaniment"], tmp_path).decoded == ["song0", "song1", "song2"]
    assert cache_of(songs, FOUR, tmp_path).decoded == []


# --------------------------------------------------------------------------- sampler

def _ramp_cache(tmp_path, n_songs=5, n=2000, stereo_lr=False):
    """Song j: every stem = j * 100000 + t (identifies song and offset); stereo (L, R) differ by 0.5."""
    root = tmp_path / "ramps"
    for j in range(n_songs):
        y = (j * 100000 + np.arange(n)).astype(np.float32)
        for s in FOUR:
            wav(root / f"song{j}" / f"{s}.wav", np.stack([y, y + 0.5]))
    songs = index_stems(root, stems=FOUR)
    return cache_of(songs, FOUR, tmp_path, channels=2)


def test_sampler_shapes_and_exact_mix(tmp_path):
    c = _ramp_cache(tmp_path)
    mix, src = ChunkSampler(c, chunk=256, batch_size=6, seed=0).batch()
    assert mix.shape == (6, 2, 256) and src.shape == (6, 4, 2, 256)
    assert mix.dtype == np.float32 and src.dtype == np.float32
    assert np.array_equal(mix, src.sum(1))


def test_sampler_remix_takes_stems_from_different_songs(tmp_path):
    c = _ramp_cache(tmp_path)
    same = ChunkSampler(c, chunk=64, batch_size=32, remix=0.0, gain=(1, 1), channel_swap=0, seed=1)
    _, src = same.batch()
    first = src[:, :, 0, 0]
    assert (first == first[:, :1]).all()                        # one song, one offset for every stem
    assert len(set((first[:, 0] // 100000).tolist())) > 1
    np.testing.assert_array_equal(src[:, :, 0, 1:] - src[:, :, 0, :-1], 1.0)   # contiguous chunks
    remix = ChunkSampler(c, chunk=64, batch_size=32, remix=1.0, gain=(1, 1), channel_swap=0, seed=1)
    _, src = remix.batch()
    song_of = src[:, :, 0, 0] // 100000
    assert all(len(set(row.tolist())) == 4 for row in song_of)    # 5 songs >= 4 stems: all different
    offsets = src[:, :, 0, 0] % 100000
    assert (offsets >= 0).all() and (offsets <= 2000 - 64).all()
    assert (offsets != offsets[:, :1]).any()


def test_sampler_gain_range_and_channel_swap(tmp_path):
    d = tmp_path / "lr"
    for j in range(3):
        for s in FOUR:
            wav(d / f"s{j}" / f"{s}.wav", np.stack([const(0.25, 500), const(0.5, 500)]))
    c = cache_of(index_stems(d, stems=FOUR), FOUR, tmp_path, channels=2)
    _, src = ChunkSampler(c, chunk=100, batch_size=64, gain=(0.5, 0.75), channel_swap=0.0, seed=2).batch()
    g = src[:, :, 0, 0] / 0.25
    assert (g >= 0.5 - 1e-6).all() and (g <= 0.75 + 1e-6).all() and np.unique(g).size > 100
    np.testing.assert_allclose(src[:, :, 1] / src[:, :, 0], 2.0, rtol=1e-6)   # no swap: R = 2 L
    _, src = ChunkSampler(c, chunk=100, batch_size=16, gain=(1, 1), channel_swap=1.0, seed=2).batch()
    assert (src[:, :, 0] == 0.5).all() and (src[:, :, 1] == 0.25).all()
    _, src = ChunkSampler(c, chunk=100, batch_size=32, gain=(1, 1), channel_swap=0.5, seed=2).batch()
    swapped = src[:, :, 0, 0] == 0.5
    assert 0.25 < swapped.mean() < 0.75


def test_sampler_pads_short_songs_and_is_deterministic(tmp_path):
    c = _ramp_cache(tmp_path, n_songs=2, n=100)
    mix, src = ChunkSampler(c, chunk=300, batch_size=4, gain=(1, 1), channel_swap=0, seed=0).batch()
    assert (src[..., 100:] == 0).all() and (src[:, :, 0, :100] % 100000 == np.arange(100)).all()
    a, b = (ChunkSampler(c, chunk=50, batch_size=8, seed=7) for _ in range(2))
    for _ in range(3):
        (ma, sa), (mb, sb) = a.batch(), b.batch()
        assert np.array_equal(ma, mb) and np.array_equal(sa, sb)
    other = ChunkSampler(c, chunk=50, batch_size=8, seed=8).batch()[1]
    assert not np.array_equal(other, ChunkSampler(c, chunk=50, batch_size=8, seed=7).batch()[1])
    with pytest.raises(ConfigError, match="chunk"):
        ChunkSampler(c, chunk=0, batch_size=8)
    with pytest.raises(ConfigError, match="gain"):
        ChunkSampler(c, chunk=10, batch_size=8, gain=(1.0, 0.5))


def test_cache_dir_shared_by_two_datasets_with_the_same_song_names(tmp_path):
    a, b = _dataset(tmp_path / "a", n=2), _dataset(tmp_path / "b", n=2, seed=2)
    sa, sb = index_stems(a, stems=FOUR), index_stems(b, stems=FOUR)
    ca, cb = cache_of(sa, FOUR, tmp_path), cache_of(sb, FOUR, tmp_path)
    assert ca.decoded == cb.decoded == ["song0", "song1"]
    assert cache_of(sa, FOUR, tmp_path).decoded == [] and cache_of(sb, FOUR, tmp_path).decoded == []
    assert not np.array_equal(ca.sources(0), cb.sources(0))
