"""Keyword selection (_unknown_, _silence_), oversampling and the class-count report."""
import numpy as np
import pytest
import soundfile as sf

from auricle import datasets
from auricle.datasets.keywords import SILENCE, UNKNOWN, select_keywords
from auricle.errors import DatasetError
from auricle.training import oversample_indices


def _words(root, make_wav, words=("yes", "no", "up", "down", "left"), speakers=6, per=5, noise=True):
    for w_i, w in enumerate(words):
        for s in range(speakers):
            for i in range(per):
                make_wav(root / w / f"spk{s}_nohash_{i}.wav", sr=16000, seconds=0.2, freq=300 + 100 * w_i)
    if noise:
        make_wav(root / "_background_noise_" / "white.wav", sr=16000, seconds=3.0, freq=None, amplitude=0.5)
        make_wav(root / "_background_noise_" / "short.wav", sr=8000, seconds=0.3, freq=None, amplitude=0.5)
    return root


def test_keywords_unknown_and_silence_shares(tmp_path, make_wav):
    root = _words(tmp_path / "sc", make_wav)
    ds = datasets.split(datasets.index(root), val=0.2, test=0.2, seed=0)
    out = select_keywords(ds, "yes,no", unknown_share=0.5, silence_share=0.25, cache_dir=tmp_path / "c", seed=1)
    assert out.labels == sorted(["yes", "no", UNKNOWN, SILENCE])
    for sp in ("train", "val", "test"):
        c = out.counts(sp)
        n_t = c["yes"] + c["no"]
        assert c[UNKNOWN] == int(np.ceil(n_t * 0.5))
        assert c[SILENCE] == int(np.ceil(n_t * 0.25))
    unk = [it for it in out.items if it.label == UNKNOWN]
    assert {it.extra["word"] for it in unk} <= {"up", "down", "left"}
    # no group leaks: unknown items keep their speakers and splits
    assert not datasets.leaks(out)
    # silence clips are real 1-s files cut from the background noise, quieter than the source
    sil = [it for it in out.items if it.label == SILENCE]
    y, sr = sf.read(sil[0].path)
    assert sr == 16000 and len(y) == 16000 and np.abs(y).max() <= 0.5 + 1e-3
    # deterministic and reused
    again = select_keywords(ds, ["yes", "no"], unknown_share=0.5, silence_share=0.25, cache_dir=tmp_path / "c", seed=1)
    assert [it.path for it in again.items] == [it.path for it in out.items]


def test_silence_without_background_is_quiet(tmp_path, make_wav):
    root = _words(tmp_path / "w", make_wav, noise=False)
    ds = datasets.split(datasets.index(root, layout="folder"), val=0.2, test=0.2, seed=0)
    out = select_keywords(ds, ["yes"], silence_share=1.0, cache_dir=tmp_path / "c")
    sil = [sf.read(it.path)[0] for it in out.items if it.label == SILENCE]
    assert sil and max(np.sqrt(np.mean(y ** 2)) for y in sil) < 0.03


def test_unknown_keyword_names_the_available_words(tmp_path, make_wav):
    root = _words(tmp_path / "sc", make_wav)
    ds = datasets.split(datasets.index(root), val=0.2, test=0.2, seed=0)
    with pytest.raises(DatasetError, match="'maybe'.*") as e:
        select_keywords(ds, ["yes", "maybe"], cache_dir=tmp_path / "c")
    assert "down" in str(e.value) and "yes" in str(e.value)


def test_missing_noise_dir_is_a_clear_error(tmp_path, make_wav):
    root = _words(tmp_path / "sc", make_wav, noise=False)
    ds = datasets.split(datasets.index(root, layout="folder"), val=0.2, test=0.2, seed=0)
    with pytest.raises(DatasetError, match="noise folder"):
        select_keywords(ds, ["yes"], noise_dir=tmp_path / "nope", cache_dir=tmp_path / "c")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no audio"):
        select_keywords(ds, ["yes"], noise_dir=tmp_path / "empty", cache_dir=tmp_path / "c")


def test_oversample_balances_exactly():
    y = np.array([0] * 10 + [1] * 3 + [2] * 1)
    idx = oversample_indices(y, seed=0)
    assert np.bincount(y[idx]).tolist() == [10, 10, 10]
    # every minority example is used as evenly as possible
    assert sorted(np.bincount(idx[y[idx] == 1], minlength=13)[10:13].tolist()) == [3, 3, 4]
    np.testing.assert_array_equal(idx, oversample_indices(y, seed=0))
