"""auricle.datasets.cache: load_clips and the on-disk feature cache (generated audio only)."""
import json
import os

import numpy as np
import pytest

from auricle import features as F
from auricle.datasets import cache
from auricle.datasets.cache import FeatureSet, cached_features, load_clips
from auricle.errors import AudioError, ConfigError

CFG = F.preset("kws", duration=0.25)  # (26, 40) per clip: fast


@pytest.fixture
def files(tmp_path, make_wav):
    """Five 16 kHz noise files of different lengths, and a corrupt one at index 2."""
    paths = [make_wav(tmp_path / "audio" / f"f{i}.wav", sr=16000, seconds=0.1 + 0.05 * i, freq=None)
             for i in range(5)]
    bad = tmp_path / "audio" / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00 this is not audio" * 4)
    return [str(p) for p in paths[:2]] + [str(bad)] + [str(p) for p in paths[2:]]


def test_second_call_is_a_cache_hit_and_equal(files, tmp_path):
    good = [p for p in files if "bad" not in p]
    a = cached_features(good, CFG, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert isinstance(a, FeatureSet) and not a.cache_hit and a.failures == []
    assert a.features.shape == (5,) + CFG.output_shape and a.features.dtype == np.float32
    assert a.file_index.tolist() == [0, 1, 2, 3, 4]
    b = cached_features(good, CFG, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert b.cache_hit and isinstance(b.features, np.memmap) and b.path == a.path
    np.testing.assert_array_equal(np.asarray(a.features), np.asarray(b.features))
    assert sorted(os.listdir(a.path)) == ["features.npy", "file_index.npy", "meta.json"]
    meta = json.loads((a.path / "meta.json").read_text())
    assert meta["cfg"] == CFG.to_dict() and meta["n_rows"] == 5
    # same numbers as extracting the loaded clips directly
    clips, _ = load_clips(good, sr=CFG.sr, n_samples=CFG.n_samples, workers=1, progress=False)
    np.testing.assert_allclose(np.asarray(a.features), F.extract(CFG, clips), rtol=0, atol=1e-4)


def test_key_changes_with_config_and_file_contents(files, tmp_path, make_wav):
    good = [p for p in files if "bad" not in p]
    a = cached_features(good, CFG, cache_dir=tmp_path / "c", workers=1, progress=False)
    b = cached_features(good, CFG.replace(n_mels=32), cache_dir=tmp_path / "c", workers=1, progress=False)
    assert not b.cache_hit and b.features.shape[-1] == 32 and b.path != a.path
    make_wav(good[0], sr=16000, seconds=0.3, freq=1000.0)  # edit a file: size/mtime change
    c = cached_features(good, CFG, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert not c.cache_hit and c.path != a.path


def test_corrupt_file_is_skipped_and_reported(files, tmp_path):
    fs = cached_features(files, CFG, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert fs.features.shape[0] == 5
    assert fs.file_index.tolist() == [0, 1, 3, 4, 5]  # index 2 (bad.wav) has no row
    assert len(fs.failures) == 1 and fs.failures[0][0] == files[2] and "decode" in fs.failures[0][1]
    again = cached_features(files, CFG, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert again.cache_hit and again.failures == fs.failures
    with pytest.raises(AudioError, match="bad.wav"):
        cached_features(files, CFG, cache_dir=tmp_path / "strict", workers=1, progress=False, strict=True)
    assert list((tmp_path / "strict").iterdir()) == []  # nothing half-written


def test_load_clips_zero_rows_for_failures(files):
    clips, failures = load_clips(files, sr=16000, n_samples=4000, workers=1, progress=False)
    assert clips.shape == (6, 4000) and clips.dtype == np.float32
    assert [p for p, _ in failures] == [files[2]]
    assert not clips[2].any() and all(clips[i].any() for i in (0, 1, 3, 4, 5))
    with pytest.raises(AudioError, match="bad.wav"):
        load_clips(files, sr=16000, n_samples=4000, workers=1, progress=False, strict=True)


def test_long_file_is_windowed(tmp_path, make_wav):
    cfg = F.preset("kws", duration=1.0)
    long = make_wav(tmp_path / "long.wav", sr=16000, seconds=3.5, freq=None)
    short = make_wav(tmp_path / "short.wav", sr=8000, seconds=0.4, freq=300.0)
    fs = cached_features([str(short), str(long)], cfg, cache_dir=tmp_path / "c", window_hop=1.0,
                         workers=1, progress=False)
    assert fs.file_index.tolist() == [0, 1, 1, 1, 1]  # 3.5 s -> windows at 0, 1, 2, 3 s
    assert fs.features.shape == (5, 101, 40)
    # the windows are the features of frame_windows' slices
    from auricle.audio import frame_windows, load
    wins = frame_windows(load(long, sr=16000), length=16000, hop=16000)
    np.testing.assert_allclose(np.asarray(fs.features[1:]), F.extract(cfg, wins), rtol=0, atol=1e-4)
    # without windowing: one row per file
    one = cached_features([str(short), str(long)], cfg, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert one.file_index.tolist() == [0, 1] and not one.cache_hit


def test_interrupted_run_leaves_no_entry(files, tmp_path, monkeypatch):
    calls = []

    def boom(task):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return real(task)

    real = cache._feature_task
    monkeypatch.setattr(cache, "_feature_task", boom)
    monkeypatch.setattr(cache, "_chunk_size", lambda n: 2)
    with pytest.raises(KeyboardInterrupt):
        cached_features(files, CFG, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert list((tmp_path / "c").iterdir()) == []
    monkeypatch.setattr(cache, "_feature_task", real)
    fs = cached_features(files, CFG, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert not fs.cache_hit and fs.features.shape[0] == 5


def test_damaged_entry_is_recomputed(files, tmp_path):
    fs = cached_features(files, CFG, cache_dir=tmp_path / "c", workers=1, progress=False)
    ref = np.array(fs.features)
    path = fs.path
    del fs
    with open(path / "features.npy", "r+b") as fh:  # truncate the data
        fh.truncate(200)
    again = cached_features(files, CFG, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert not again.cache_hit
    np.testing.assert_array_equal(np.asarray(again.features), ref)


def test_two_workers_give_the_same_rows(files, tmp_path):
    many = files * 4  # 24 files -> 3 tasks of 8
    a = cached_features(many, CFG, cache_dir=tmp_path / "a", workers=1, progress=False)
    b = cached_features(many, CFG, cache_dir=tmp_path / "b", workers=2, progress=False)
    # same batches; only BLAS threading round-off may differ
    np.testing.assert_allclose(np.asarray(a.features), np.asarray(b.features), rtol=0, atol=1e-4)
    np.testing.assert_array_equal(a.file_index, b.file_index)
    assert len(b.failures) == 4


def test_bad_arguments(files, tmp_path):
    with pytest.raises(ConfigError, match="crop"):
        cached_features(files, CFG, cache_dir=tmp_path, crop="middle", workers=1, progress=False)
    with pytest.raises(ConfigError, match="window_hop"):
        cached_features(files, CFG, cache_dir=tmp_path, window_hop=0, workers=1, progress=False)
    with pytest.raises(ConfigError, match="workers"):
        load_clips(files, sr=16000, n_samples=100, workers=0, progress=False)
    with pytest.raises(ConfigError, match="list"):
        load_clips(files[0], sr=16000, n_samples=100, workers=1, progress=False)
