"""auricle.features against librosa 0.11 (the numerical reference), plus configs and presets.

Signals are generated (chirps, noise, tones, very quiet clips); every comparison is per clip.
Targets: log-mel within 1e-3 dB, MFCC within 1e-3 absolute.
"""
import json
import warnings

import numpy as np
import pytest

from auricle import features as F
from auricle.errors import ConfigError

librosa = pytest.importorskip("librosa")

DB_TOL = 1e-3
MFCC_TOL = 1e-3


def chirp(sr, seconds=0.5, amp=0.5, f0=30.0):
    t = np.arange(int(sr * seconds)) / sr
    f1 = 0.45 * sr
    return (amp * np.sin(2 * np.pi * (f0 * t + (f1 - f0) / (2 * t[-1]) * t ** 2))).astype(np.float32)


def noise(sr, seconds=0.5, amp=0.1, seed=0):
    return (amp * np.random.default_rng(seed).standard_normal(int(sr * seconds))).astype(np.float32)


def tone(sr, freq, seconds=0.5, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def lr_log_mel(y, sr, **kw):
    return librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, **kw))


# sr, n_fft, hop_length, win_length, window, center, n_mels, fmin, fmax, power
GRID = [
    (16000, 512, 160, 400, "hann", True, 40, 20.0, 8000.0, 2.0),    # kws
    (22050, 2048, 512, None, "hann", True, 128, 0.0, None, 2.0),     # seed
    (8000, 256, 64, 200, "hamming", False, 32, 0.0, 4000.0, 1.0),
    (44100, 1024, 256, 1024, "hann", True, 64, 100.0, 16000.0, 2.0),
    (16000, 400, 100, 400, "hamming", True, 80, 0.0, None, 2.0),     # n_fft not a power of 2
    (11025, 1024, 300, 700, "hann", False, 48, 50.0, 5000.0, 1.0),
    (16000, 512, 128, 256, "hamming", True, 24, 300.0, 3400.0, 2.0),
]


def grid_kw(p):
    sr, n_fft, hop, win, window, center, n_mels, fmin, fmax, power = p
    return sr, dict(n_fft=n_fft, hop_length=hop, win_length=win, window=window, center=center,
                    n_mels=n_mels, fmin=fmin, fmax=fmax, power=power)


@pytest.mark.parametrize("p", GRID, ids=lambda p: f"sr{p[0]}-nfft{p[1]}-hop{p[2]}-win{p[3]}-{p[4]}-c{int(p[5])}")
@pytest.mark.parametrize("signal", ["chirp", "noise", "tones"])
def test_log_mel_equals_librosa(p, signal):
    sr, kw = grid_kw(p)
    y = {"chirp": chirp(sr), "noise": noise(sr),
         "tones": tone(sr, 440.0) + tone(sr, 0.3 * sr, amp=1e-3)}[signal]
    got = F.log_mel(y, sr=sr, **kw)
    ref = lr_log_mel(y, sr, **kw)
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=0, atol=DB_TOL)
    # melspectrogram itself: relative accuracy for values within 80 dB of the clip max
    M, Mref = F.melspectrogram(y, sr=sr, **kw), librosa.feature.melspectrogram(y=y, sr=sr, **kw)
    keep = Mref > Mref.max() * 1e-8
    np.testing.assert_allclose(M[keep], Mref[keep], rtol=3e-4)


@pytest.mark.filterwarnings("ignore:Empty filters")
@pytest.mark.parametrize("n_mfcc, n_mels, lifter, dct_type", [(13, 128, 0, 2), (20, 40, 22, 2), (40, 40, 0, 2),
                                                               (12, 26, 0, 3)])
@pytest.mark.parametrize("p", GRID[:4] + GRID[6:], ids=lambda p: f"sr{p[0]}-nfft{p[1]}-hop{p[2]}")
def test_mfcc_equals_librosa(p, n_mfcc, n_mels, lifter, dct_type):
    sr, kw = grid_kw(p)
    kw["n_mels"] = n_mels
    y = chirp(sr)  # steep spectra: liftering (x12 for lifter=22) amplifies dB round-off
    got = F.mfcc(y, sr=sr, n_mfcc=n_mfcc, lifter=lifter, dct_type=dct_type, **kw)
    ref = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, lifter=lifter, dct_type=dct_type, **kw)
    assert got.shape == ref.shape == (n_mfcc, ref.shape[-1])
    np.testing.assert_allclose(got, ref, rtol=0, atol=MFCC_TOL)


@pytest.mark.parametrize("power", [1.0, 2.0])
@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_spectrogram_equals_librosa(power, pad_mode):
    y = chirp(16000) + noise(16000, amp=1e-3)
    kw = dict(n_fft=512, hop_length=128, win_length=400, window="hann", center=True, pad_mode=pad_mode)
    got = F.spectrogram(y, power=power, **kw)
    ref = np.abs(librosa.stft(y, **kw)) ** power
    assert got.shape == ref.shape
    keep = ref > ref.max() * 10 ** (-8 * power / 2)  # within 80 dB of the max
    np.testing.assert_allclose(got[keep], ref[keep], rtol=3e-4)
    np.testing.assert_allclose(got, ref, rtol=0, atol=ref.max() * 1e-6)


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax, htk, norm", [
    (16000, 512, 40, 20.0, 8000.0, False, "slaney"),
    (22050, 2048, 128, 0.0, None, False, "slaney"),
    (8000, 256, 20, 0.0, 3000.0, True, None),
    (44100, 1024, 64, 60.0, 20000.0, True, "slaney"),
    (16000, 400, 30, 0.0, None, False, 2.0),
    (16000, 400, 30, 0.0, None, False, np.inf),
])
def test_mel_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax, htk, norm):
    got = F.mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    assert got.dtype == np.float32 and not got.flags.writeable
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-9)


def test_batched_equals_per_clip_librosa_with_per_clip_top_db():
    sr = 16000
    clips = np.stack([chirp(sr, amp=0.9), noise(sr, amp=0.3, seed=1),
                      tone(sr, 1000.0, amp=1e-4) + noise(sr, amp=1e-6, seed=2),  # 1e-4 amplitude
                      np.zeros(sr // 2, np.float32)])
    kw = dict(n_fft=512, hop_length=160, win_length=400, n_mels=40, fmin=20.0, fmax=8000.0)
    got = F.log_mel(clips, sr=sr, **kw)
    mf = F.mfcc(clips, sr=sr, n_mfcc=13, **kw)
    for i, y in enumerate(clips):
        np.testing.assert_allclose(got[i], lr_log_mel(y, sr, **kw), atol=DB_TOL, rtol=0)
        np.testing.assert_allclose(mf[i], librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, **kw), atol=MFCC_TOL, rtol=0)
    # librosa on the whole batch clamps against the loudest clip: the quiet clip is flattened
    lr_batch = librosa.power_to_db(librosa.feature.melspectrogram(y=clips, sr=sr, **kw))
    assert np.ptp(lr_batch[2]) < 5 and np.ptp(got[2]) > 30
    assert np.abs(lr_batch[2] - got[2]).max() > 30
    # F.power_to_db on a batch is per clip too
    per_clip = F.power_to_db(F.melspectrogram(clips, sr=sr, **kw))
    np.testing.assert_allclose(per_clip, got, atol=1e-4)  # float32 ulp at ~80 dB is ~1e-5


def test_leading_dims_are_kept():
    y = noise(8000, seconds=0.25).reshape(1, -1).repeat(6, axis=0).reshape(2, 3, -1)
    S = F.log_mel(y, sr=8000, n_fft=256, hop_length=64, n_mels=20)
    assert S.shape == (2, 3, 20, 1 + y.shape[-1] // 64)
    np.testing.assert_array_equal(S[0, 0], S[1, 2])


def test_power_to_db_matches_librosa_and_ref_callable():
    S = np.abs(np.random.default_rng(0).standard_normal((20, 30))).astype(np.float32) ** 2
    S[3, 4] = 0.0
    np.testing.assert_allclose(F.power_to_db(S), librosa.power_to_db(S), atol=1e-5)
    np.testing.assert_allclose(F.power_to_db(S, ref=np.max, top_db=40.0),
                               librosa.power_to_db(S, ref=np.max, top_db=40.0), atol=1e-5)
    np.testing.assert_allclose(F.power_to_db(S, top_db=None), librosa.power_to_db(S, top_db=None), atol=1e-5)
    batch = np.stack([S, S * 1e-3])
    out = F.power_to_db(batch, ref=np.max)
    np.testing.assert_allclose(out[0], out[1], atol=1e-4)  # each clip against its own max
    with pytest.raises(ConfigError, match="amin"):
        F.power_to_db(S, amin=0)
    with pytest.raises(ConfigError, match="top_db"):
        F.power_to_db(S, top_db=-1)


@pytest.mark.parametrize("window", ["hann", "hamming"])
@pytest.mark.parametrize("n", [1, 2, 400, 512, 2048])
def test_builtin_windows_equal_scipy(window, n):
    import scipy.signal

    np.testing.assert_array_equal(F._window(window, n), scipy.signal.get_window(window, n, fftbins=True))


def test_tone_energy_lands_in_the_band_containing_440_hz():
    sr = 16000
    S = F.melspectrogram(tone(sr, 440.0, seconds=1.0), sr=sr, n_fft=512, hop_length=160, win_length=400,
                         n_mels=40, fmin=20.0, fmax=8000.0)
    band = int(np.argmax(S.mean(axis=1)))
    edges = F.mel_frequencies(40 + 2, fmin=20.0, fmax=8000.0)
    assert edges[band] < 440.0 < edges[band + 2]
    assert abs(edges[band + 1] - 440.0) < (edges[band + 2] - edges[band]) / 2


def test_presets_shapes_and_extract_is_time_major():
    assert F.preset("kws").output_shape == (101, 40)
    assert F.preset("seed").output_shape == (44, 13)
    assert F.preset("mfcc40").output_shape == (101, 40)
    assert F.preset("waveform").output_shape == (16000, 1)
    rng = np.random.default_rng(0)
    for name in ("kws", "seed", "mfcc40", "waveform"):
        cfg = F.preset(name)
        x = (0.1 * rng.standard_normal((3, cfg.n_samples))).astype(np.float32)
        out = F.extract(cfg, x)
        assert out.shape == (3,) + cfg.output_shape and out.dtype == np.float32
    cfg = F.preset("kws")
    x = (0.1 * rng.standard_normal((2, cfg.n_samples))).astype(np.float32)
    ref = F.log_mel(x, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=40, fmin=20.0, fmax=8000.0)
    np.testing.assert_array_equal(F.extract(cfg, x), ref.transpose(0, 2, 1))
    seed = F.preset("seed")
    y = (0.1 * rng.standard_normal(seed.n_samples)).astype(np.float32)
    lr = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=13, n_fft=2048, hop_length=512, n_mels=128)
    np.testing.assert_allclose(F.extract(seed, y)[0], lr.T, atol=MFCC_TOL)


def test_spectrogram_kind_is_db_and_per_clip_normalize():
    cfg = F.FeatureConfig(kind="spectrogram", normalize="per_clip")
    x = np.stack([noise(16000, seconds=1.0), chirp(16000, seconds=1.0)])
    out = F.extract(cfg, x)
    assert out.shape == (2, 101, 257)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-4)
    std = out.std(axis=1)
    assert np.all((np.abs(std - 1) < 1e-3) | (std < 1e-3))  # constant (clamped) bins stay 0
    raw = F.extract(cfg.replace(normalize="none"), x)
    db = F.power_to_db(F.spectrogram(x, n_fft=512, win_length=400, hop_length=160))
    np.testing.assert_allclose(raw, db.transpose(0, 2, 1), atol=1e-4)
    wave = F.extract(F.preset("waveform", normalize="per_clip"), x)
    np.testing.assert_allclose(wave[:, :, 0].std(axis=1), 1, atol=1e-3)
    assert not np.shares_memory(wave, x)


def test_feature_config_round_trip_key_and_replace():
    cfg = F.preset("seed")
    d = cfg.to_dict()
    assert F.FeatureConfig.from_dict(json.loads(json.dumps(d))) == cfg
    assert cfg.key() == F.FeatureConfig.from_dict(d).key() and len(cfg.key()) == 12
    assert cfg.replace(n_mfcc=20).key() != cfg.key()
    assert cfg.replace(n_mfcc=20).output_shape == (44, 20)
    assert cfg.n_samples == 22050 and cfg.replace(duration=0.5).n_samples == 11025
    assert F.preset("kws", duration=2.0).output_shape == (201, 40)


def test_feature_config_errors():
    with pytest.raises(ConfigError) as e:
        F.FeatureConfig.from_dict({"kind": "mfcc", "n_mfccs": 13})
    assert "n_mfccs" in str(e.value) and "n_mfcc" in str(e.value) and "top_db" in str(e.value)
    with pytest.raises(ConfigError, match="bogus"):
        F.preset("kws").replace(bogus=1)
    with pytest.raises(ConfigError) as e:
        F.preset("nope")
    assert "kws" in str(e.value) and "seed" in str(e.value)
    bad = [dict(kind="cqt"), dict(normalize="global"), dict(fmax=9000.0), dict(win_length=600),
           dict(hop_length=0), dict(kind="mfcc", n_mfcc=50), dict(sr=0), dict(duration=0.0),
           dict(center=False, n_fft=512, duration=0.01), dict(top_db=-3.0), dict(window="nope")]
    for kw in bad:
        with pytest.raises(ConfigError):
            F.FeatureConfig(**kw)


def test_input_validation_errors():
    y = noise(16000)
    with pytest.raises(ConfigError, match="win_length"):
        F.spectrogram(y, n_fft=256, win_length=512)
    with pytest.raises(ConfigError, match="hop_length"):
        F.spectrogram(y, n_fft=256, hop_length=0)
    with pytest.raises(ConfigError, match="Nyquist"):
        F.melspectrogram(y, sr=16000, fmax=9000.0)
    bad = y.copy()
    bad[100] = np.nan
    with pytest.raises(ConfigError, match="finite"):
        F.log_mel(np.stack([y, bad]), sr=16000)
    with pytest.raises(ConfigError, match="floating"):
        F.spectrogram((y * 1000).astype(np.int16))
    with pytest.raises(ConfigError, match="shorter than n_fft"):
        F.spectrogram(y[:100], n_fft=512, center=False)
    with pytest.raises(ConfigError, match="unknown mfcc keyword"):
        F.mfcc(y, sr=16000, n_melz=40)
    with pytest.raises(ConfigError, match="n_mfcc"):
        F.mfcc(y, sr=16000, n_mfcc=50, n_mels=40)
    with pytest.raises(ConfigError, match="samples"):
        F.extract(F.preset("kws"), y)  # 0.5 s, the preset wants 1 s


def test_short_clip_and_empty_filters_warning():
    y = noise(16000, seconds=0.01)  # shorter than n_fft, center=True pads (like librosa)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lr_log_mel(y, 16000, n_fft=512, hop_length=160)
    np.testing.assert_allclose(F.log_mel(y, sr=16000, n_fft=512, hop_length=160), ref, atol=DB_TOL)
    with pytest.warns(UserWarning, match="Empty filters"):
        F.mel_filterbank(sr=8000, n_fft=64, n_mels=97)


def test_dither_is_deterministic_level_invariant_and_fills_silence():
    rng = np.random.default_rng(3)
    word = np.zeros(16000, np.float32)
    word[6000:10000] = 0.3 * np.sin(2 * np.pi * 500 * np.arange(4000) / 16000) * np.hanning(4000)
    batch = np.stack([word, 0.1 * word, word + 0.001 * rng.standard_normal(16000).astype(np.float32)])
    cfg = F.preset("kws", normalize="per_clip", dither_db=60)
    a = F.extract(cfg, batch)
    np.testing.assert_array_equal(a, F.extract(cfg, batch))                  # same pattern every call
    np.testing.assert_allclose(a[0], a[1], atol=2e-3)  # level-relative (above the amin=1e-10 power floor)
    plain = F.extract(F.preset("kws", normalize="none"), word[None])[0]
    dith = F.extract(F.preset("kws", dither_db=60), word[None])[0]
    assert np.ptp(plain[:20]) == 0 and np.ptp(dith[:20]) > 5                 # silence is no longer a flat floor
    loud = plain > plain.max() - 40
    assert np.abs(dith - plain)[loud].max() < 0.5                              # the word itself barely moves
    with pytest.raises(Exception, match="dither_db"):
        F.preset("kws", dither_db=-5)


def test_cmvn_floor_keeps_near_constant_bands_small():
    x = np.zeros((1, 100, 2), np.float32)
    x[0, :, 0] = np.linspace(-20, 20, 100)                       # a real band: std ~11.7 dB
    x[0, :, 1] = 0.05 * np.sin(np.arange(100))                   # resampler residue: std ~0.035 dB
    plain = F.cmvn_(x.copy())
    floored = F.cmvn_(x.copy(), floor=5.0)
    np.testing.assert_allclose(floored[..., 0], plain[..., 0], atol=1e-5)   # std above the floor: unchanged
    assert plain[..., 1].std() == pytest.approx(1, abs=1e-3) and floored[..., 1].std() < 0.01
