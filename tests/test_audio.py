import numpy as np
import pytest
import soundfile as sf

from auricle import audio
from auricle.errors import AudioError


def test_load_resamples_and_mixes_to_mono(tmp_path):
    p = tmp_path / "st.wav"
    t = np.arange(8000) / 8000
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(p, np.stack([left, left], axis=1), 8000)
    y = audio.load(p, sr=16000)
    assert y.dtype == np.float32 and y.shape == (16000,)
    # the tone survives resampling: dominant frequency 440 Hz
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) * 16000 / len(y) - 440) < 2


@pytest.mark.parametrize("ext", ["flac", "ogg"])
def test_load_compressed_formats(tmp_path, ext):
    p = tmp_path / f"a.{ext}"
    sf.write(p, 0.1 * np.random.default_rng(0).standard_normal(4000).astype("float32"), 16000)
    assert audio.load(p, sr=16000).shape == (4000,)


def test_fix_length_policies():
    y = np.arange(10, dtype="float32")
    assert audio.fix_length(y, length=4, mode="center").tolist() == [3, 4, 5, 6]
    assert audio.fix_length(y, length=4, mode="start").tolist() == [0, 1, 2, 3]
    z = audio.fix_length(np.ones(2, dtype="float32"), length=6, mode="center")
    assert z.tolist() == [0, 0, 1, 1, 0, 0]
    r = audio.fix_length(y, length=4, mode="random", rng=np.random.default_rng(1))
    assert len(r) == 4 and np.all(np.diff(r) == 1)


def test_frame_windows_covers_signal():
    y = np.arange(23, dtype="float32")
    w = audio.frame_windows(y, length=10, hop=5)
    assert w.shape == (4, 10)
    assert w[-1, :5].tolist() == list(range(15, 20)) and w[-1, -1] == 0  # last window zero-padded


@pytest.mark.parametrize("make, expect", [
    (lambda p: None, "not found"),
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(b"RIFF\x00\x00garbage-not-audio" * 3), "cannot decode"),
])
def test_bad_files_raise_clear_errors(tmp_path, make, expect):
    p = tmp_path / "bad.wav"
    make(p)
    with pytest.raises(AudioError) as e:
        audio.load(p)
    assert expect in str(e.value) and "bad.wav" in str(e.value)


def test_truncated_file(tmp_path):
    p = tmp_path / "t.flac"
    sf.write(p, np.random.default_rng(0).standard_normal(16000).astype("float32") * 0.1, 16000)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(AudioError, match="t.flac"):
        audio.load(p)


def test_nan_samples(tmp_path):
    p = tmp_path / "nan.wav"
    y = np.zeros(100, dtype="float32")
    y[5] = np.nan
    sf.write(p, y, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        audio.load(p)


def test_zero_length(tmp_path):
    p = tmp_path / "z.wav"
    sf.write(p, np.zeros(0, dtype="float32"), 16000)
    with pytest.raises(AudioError, match="no samples|empty|decode"):
        audio.load(p)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(AudioError, match="folder"):
        audio.load(tmp_path)


@pytest.mark.parametrize("top_db, frame, hop", [(40, 2048, 512), (30, 1024, 256), (60, 512, 128)])
def test_trim_equals_librosa(top_db, frame, hop):
    import librosa

    from auricle.audio import trim

    rng = np.random.default_rng(top_db)
    sr = 16000
    t = np.arange(int(0.4 * sr)) / sr
    word = (0.5 * np.sin(2 * np.pi * 300 * t) * np.hanning(len(t))).astype(np.float32)
    y = np.concatenate([1e-4 * rng.standard_normal(5000), word, 1e-4 * rng.standard_normal(7000)]).astype(np.float32)
    ref, _ = librosa.effects.trim(y, top_db=top_db, frame_length=frame, hop_length=hop)
    got = trim(y, top_db=top_db, frame_length=frame, hop_length=hop)
    np.testing.assert_array_equal(got, ref)
    assert len(trim(np.zeros(1000, np.float32))) == 0


def test_loud_windows_drops_silent_stretches():
    from auricle.audio import loud_windows

    w = np.zeros((4, 100), np.float32)
    w[1] = 0.5
    w[3] = 0.02   # 28 dB below the loudest
    assert loud_windows(w, top_db=40).tolist() == [False, True, False, True]
    assert loud_windows(w, top_db=20).tolist() == [False, True, False, False]
    assert loud_windows(np.zeros((3, 10)), top_db=40).sum() == 1  # all silent: keep one
