import numpy as np
import pytest

from auricle.augment import AddNoise, Gain, SpecAugment, TimeShift, build_chain
from auricle.errors import ConfigError


def test_time_shift_exact():
    x = np.arange(1, 11, dtype="float32")[None]
    out = TimeShift(mode="pad").apply(x, shift_ms=np.array([2.0]), sr=1000)
    assert out.tolist() == [[0, 0, 1, 2, 3, 4, 5, 6, 7, 8]]
    out = TimeShift(mode="roll").apply(x, shift_ms=np.array([-3.0]), sr=1000)
    assert out.tolist() == [[4, 5, 6, 7, 8, 9, 10, 1, 2, 3]]


def test_gain_exact():
    x = np.ones((2, 4), dtype="float32")
    out = Gain().apply(x, gain_db=np.array([20.0, -20.0]))
    np.testing.assert_allclose(out, [[10] * 4, [0.1] * 4], rtol=1e-6)


def test_noise_hits_requested_snr():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 300 * t))[None].astype("float32").repeat(3, 0)
    out = AddNoise().apply(x, snr_db=np.array([0.0, 10.0, 20.0]), color=np.array([0, 1, 2]), rng=rng)
    noise = out - x
    snr = 10 * np.log10((x ** 2).mean(1) / (noise ** 2).mean(1))
    np.testing.assert_allclose(snr, [0, 10, 20], atol=0.2)


def test_specaugment_masks_and_p():
    x = np.ones((1, 20, 8), dtype="float32")
    x[0, 0, 0] = 21.0  # mean becomes 1 + 20/160
    out = SpecAugment().apply(x, t_width=np.array([[3]]), t_start=np.array([[0.0]]),
                              f_width=np.array([[2]]), f_start=np.array([[1.0]]))
    fill = x.mean()
    assert np.allclose(out[0, :3], fill) and np.allclose(out[0, :, 6:], fill)
    assert np.allclose(out[0, 3:, :6], 1.0)
    # p=0 never changes anything
    assert np.array_equal(SpecAugment(p=0.0)(x, np.random.default_rng(0)), x)


def test_chain_is_deterministic_under_seed():
    chain = build_chain({"time_shift": {"p": 1.0}, "gain": True, "noise": {"p": 1.0}})
    x = np.random.default_rng(3).standard_normal((4, 1600)).astype("float32")
    a = chain.apply_waveform(x, np.random.default_rng(7), sr=16000)
    b = chain.apply_waveform(x, np.random.default_rng(7), sr=16000)
    assert np.array_equal(a, b) and not np.array_equal(a, x)


def test_unknown_transform_and_bad_p():
    with pytest.raises(ConfigError, match="unknown augmentation"):
        build_chain({"wobble": True})
    with pytest.raises(ConfigError, match="p must be"):
        Gain(p=2.0)


# ---------------------------------------------------------------------------------------------
# exact-value tests of the added transforms (audiomentations style)

import soundfile as sf  # noqa: E402

from auricle.augment import (TRANSFORMS, BackgroundNoise, BandPass, Compressor, HighPass, LowPass,  # noqa: E402
                             PitchShift, Reverb, Speed, Tempo)
from auricle.augment.spec import time_warp  # noqa: E402
from auricle.augment.stretch import fit_rows  # noqa: E402

SR = 16000


def tone(freq, seconds=1.0, sr=SR, amp=0.5, start=0.0, stop=None):
    t = np.arange(int(round(seconds * sr))) / sr
    y = amp * np.sin(2 * np.pi * freq * t)
    if start or stop is not None:
        y = np.where((t >= start) & (t < (seconds if stop is None else stop)), y, 0.0)
    return y.astype("float32")


def peak_hz(y, sr=SR):
    n = 1 << 18
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), n))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-30)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / n  # parabolic interpolation


def active_seconds(y, sr=SR, rel_db=-20.0):
    """Seconds of 10-ms frames whose RMS is within rel_db of the loudest frame."""
    hop = sr // 100
    fr = y[:len(y) // hop * hop].reshape(-1, hop)
    e = np.sqrt((fr.astype(np.float64) ** 2).mean(1))
    return float((e > e.max() * 10 ** (rel_db / 20)).sum() * hop / sr)


def level_db(y):
    return 10 * np.log10((np.asarray(y, np.float64) ** 2).mean())


def test_gain_plus_6_0206_db_doubles():
    x = np.random.default_rng(0).standard_normal((2, 100)).astype("float32")
    np.testing.assert_allclose(Gain().apply(x, gain_db=np.array([6.0206, 6.0206])), 2 * x, rtol=1e-5)


def test_low_pass_attenuates_above_and_keeps_below_cutoff():
    x = np.stack([tone(4000), tone(200)])
    y = LowPass().apply(x, cutoff_hz=np.array([1000.0, 1000.0]), sr=SR)
    s = slice(SR // 10, None)  # skip the filter's start transient
    assert level_db(y[0, s]) - level_db(x[0, s]) < -20
    assert abs(level_db(y[1, s]) - level_db(x[1, s])) < 1.0


def test_high_pass_and_band_pass():
    x = np.stack([tone(200), tone(4000)])
    y = HighPass().apply(x, cutoff_hz=np.array([1000.0]), sr=SR)
    s = slice(SR // 10, None)
    assert level_db(y[0, s]) - level_db(x[0, s]) < -20
    assert abs(level_db(y[1, s]) - level_db(x[1, s])) < 1.0
    # 2 octaves around 1 kHz: 500-2000 Hz
    x = np.stack([tone(100), tone(1000), tone(7000)])
    y = BandPass().apply(x, center_hz=np.full(3, 1000.0), bandwidth_octaves=np.full(3, 2.0), sr=SR)
    db = [level_db(y[i, s]) - level_db(x[i, s]) for i in range(3)]
    assert db[0] < -20 and abs(db[1]) < 1.0 and db[2] < -20


def test_filters_group_rows_with_their_own_cutoffs():
    x = np.stack([tone(4000)] * 3)
    y = LowPass().apply(x, cutoff_hz=np.array([1000.0, 7999.0, 1000.0]), sr=SR)
    assert np.array_equal(y[0], y[2]) and np.array_equal(y[1], x[1])  # at Nyquist: unchanged


def test_pitch_shift_octave_moves_peak_and_keeps_duration():
    x = tone(440, start=0.25, stop=0.75)[None]
    y = PitchShift().apply(x, semitones=np.array([12.0]), sr=SR)
    assert y.shape == x.shape and y.dtype == np.float32
    assert abs(peak_hz(y[0]) - 880.0) < 3.0
    assert abs(active_seconds(y[0]) - active_seconds(x[0])) <= 0.03
    y = PitchShift().apply(x, semitones=np.array([-12.0]), sr=SR)
    assert abs(peak_hz(y[0]) - 220.0) < 2.0


def test_tempo_x2_halves_duration_and_keeps_pitch():
    x = tone(440, start=0.25, stop=0.75)[None]
    y = Tempo().apply(x, rate=np.array([2.0]), sr=SR)
    assert y.shape == x.shape
    assert abs(active_seconds(y[0]) - 0.25) <= 0.03
    assert abs(peak_hz(y[0]) - 440.0) < 2.0
    y = Tempo(phase_lock=True).apply(x, rate=np.array([0.8]), sr=SR)
    assert abs(active_seconds(y[0]) - 0.625) <= 0.03 and abs(peak_hz(y[0]) - 440.0) < 2.0


def test_speed_1_1_moves_440_to_484():
    x = tone(440, seconds=2.0)[None]
    y = Speed().apply(x, rate=np.array([1.1]), sr=SR)
    assert y.shape == x.shape
    assert abs(peak_hz(y[0]) - 484.0) < 1.0
    # slower: longer, so the centre is kept; faster: shorter, zero-padded at both ends
    assert abs(active_seconds(y[0]) - 2.0 / 1.1) <= 0.02 and y[0, :100].max() == 0


def test_fit_rows_matches_fix_length():
    from auricle.audio import fix_length

    y = np.arange(1, 8, dtype="float32")
    for length in (3, 4, 7, 10):
        for m in (2, 5, 7):
            np.testing.assert_array_equal(fit_rows(y[None], [m], length)[0], fix_length(y[:m], length=length))


def test_noise_snr_10_db_with_every_color_and_folder(tmp_path, make_wav):
    make_wav(tmp_path / "n" / "hum.wav", sr=SR, seconds=0.3, freq=None, amplitude=0.5)
    x = np.stack([tone(300, amp=0.3)] * 4)
    t = AddNoise(folder=str(tmp_path / "n"), colors=["white", "pink", "brown"])
    out = t.apply(x, snr_db=np.full(4, 10.0), color=np.arange(4), file=np.zeros(4), offset=np.zeros(4), sr=SR,
                  rng=np.random.default_rng(0))
    snr = 10 * np.log10((x.astype(np.float64) ** 2).mean(1) / ((out - x).astype(np.float64) ** 2).mean(1))
    np.testing.assert_allclose(snr, 10.0, atol=0.5)


def test_folder_noise_shorter_than_clip_is_looped(tmp_path, make_wav):
    make_wav(tmp_path / "n" / "short.wav", sr=SR, seconds=0.1, freq=None, amplitude=0.5)  # 1600 samples
    t = BackgroundNoise(folder=str(tmp_path / "n"))
    x = np.stack([tone(300, amp=0.3)] * 2)
    out = t.apply(x, snr_db=np.array([0.0, 0.0]), color=np.array([0, 0]), file=np.zeros(2),
                  offset=np.array([0.0, 0.5]), sr=SR)
    noise = out - x
    np.testing.assert_allclose(noise[:, 1600:3200], noise[:, :1600], atol=1e-6)
    np.testing.assert_allclose(noise[0, 800:2400], noise[1, :1600], atol=1e-6)  # offset 0.5 of the file
    assert np.abs(noise[0]).max() > 0


def test_folder_noise_stereo_and_other_rate_are_converted(tmp_path, make_wav):
    make_wav(tmp_path / "n" / "st.wav", sr=8000, seconds=0.5, freq=1000.0, amplitude=0.4, channels=2)
    t = BackgroundNoise(folder=str(tmp_path / "n"))
    seg = t.bank.segments(SR, SR, np.zeros(1), np.zeros(1))
    assert seg.shape == (1, SR) and seg.dtype == np.float32
    assert abs(peak_hz(seg[0, :8000]) - 1000.0) < 2.0  # still 1 kHz at 16 kHz: resampled, not reinterpreted
    assert abs(np.abs(seg).max() - 0.4) < 0.02          # channels averaged, not summed


def test_noise_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(ConfigError, match="noise folder not found") as e:
        build_chain({"background_noise": {"folder": str(tmp_path / "nope")}})
    assert str(tmp_path / "nope") in str(e.value)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(ConfigError, match="no audio files") as e:
        build_chain({"noise": {"folder": str(tmp_path / "empty")}})
    assert str(tmp_path / "empty") in str(e.value)
    with pytest.raises(ConfigError, match="bad parameters"):
        build_chain({"background_noise": True})
    with pytest.raises(ConfigError, match="unknown noise color"):
        AddNoise(colors=["purple"])


def test_reverb_lengthens_decay_and_hits_rt60():
    x = tone(500, start=0.1, stop=0.3)[None]
    y = Reverb(predelay_ms=0).apply(x, rt60=np.array([0.5]), wet=np.array([0.5]), sr=SR, rng=np.random.default_rng(0))
    tail = slice(int(0.32 * SR), int(0.45 * SR))
    assert (x[0, tail] == 0).all() and level_db(y[0, tail]) > level_db(y[0, int(0.15 * SR):int(0.3 * SR)]) - 30
    # the impulse response itself decays 60 dB in rt60 (Schroeder backward integration, T20 fit)
    imp = np.zeros((1, SR), "float32")
    imp[0, 0] = 1.0
    for rt in (0.3, 0.7):
        h = Reverb(predelay_ms=0).apply(imp, rt60=np.array([rt]), wet=np.array([1.0]), sr=SR,
                                        rng=np.random.default_rng(1))[0].astype(np.float64)
        edc = 10 * np.log10(np.cumsum((h ** 2)[::-1])[::-1] / (h ** 2).sum())
        t5, t25 = np.argmax(edc < -5), np.argmax(edc < -25)
        assert abs(3 * (t25 - t5) / SR - rt) < 0.1 * rt


def test_compressor_static_curve_exact():
    x = np.stack([tone(440, amp=1.0), tone(440, amp=0.05)])  # -3 dB RMS (above -20) and -29 dB (below)
    c = Compressor(attack_ms=0, release_ms=0, rms_ms=20, makeup=False)
    y = c.apply(x, threshold_db=np.array([-20.0, -20.0]), ratio=np.array([4.0, 4.0]), sr=SR)
    s = slice(SR // 2, None)
    expect = (-20 + 3.0103) * (1 - 1 / 4)  # gain (dB) at a level of -3.01 dB
    assert abs((level_db(y[0, s]) - level_db(x[0, s])) - expect) < 0.1
    np.testing.assert_allclose(y[1], x[1], rtol=1e-6)  # below threshold: untouched
    # makeup restores the RMS
    y = Compressor(makeup=True).apply(x, threshold_db=np.array([-20.0, -20.0]), ratio=np.array([4.0, 4.0]), sr=SR)
    np.testing.assert_allclose([level_db(r) for r in y], [level_db(r) for r in x], atol=1e-3)


def test_compressor_attack_and_release():
    loud_then_quiet = np.concatenate([tone(440, 0.5, amp=1.0), tone(440, 0.5, amp=0.05)])[None]
    c = Compressor(attack_ms=5, release_ms=200, rms_ms=5, makeup=False)
    y = c.apply(loud_then_quiet, threshold_db=np.array([-20.0]), ratio=np.array([10.0]), sr=SR)
    g = lambda a, b: level_db(y[0, int(a * SR):int(b * SR)]) - level_db(loud_then_quiet[0, int(a * SR):int(b * SR)])  # noqa: E731
    assert g(0.0, 0.002) > -3          # attack: not yet compressed
    assert g(0.3, 0.5) < -14           # steady state about (-20 + 3) * 0.9 = -15.3 dB
    assert -14 < g(0.52, 0.56) < -3    # release: still recovering just after the loud part
    # one-pole release: 15.3 dB * exp(-t / 200 ms), about -1.4 dB 450-500 ms after the loud part
    assert -2.0 < g(0.95, 1.0) < -0.8


def test_spec_time_warp_moves_the_centre_frame():
    ramp = np.tile(np.arange(50, dtype="float32")[None, :, None], (1, 1, 3))
    out = time_warp(ramp, np.array([20]), np.array([5]))
    assert out[0, 25, 0] == pytest.approx(20.0) and out[0, 0, 0] == 0 and out[0, -1, 0] == 49
    assert np.array_equal(time_warp(ramp, np.array([20]), np.array([0])), ramp)
    sa = SpecAugment(time_masks=0, freq_masks=0, time_warp=5, p=1.0)
    none = np.zeros((1, 0))
    out = sa.apply(ramp, t_width=none.astype(int), t_start=none, f_width=none.astype(int), f_start=none,
                   warp_center=np.array([0.5]), warp_shift=np.array([-3.0]))
    assert not np.array_equal(out, ramp) and np.all(np.diff(out[0, :, 0]) > 0)


def _all_transforms(folder):
    return {name: ({"folder": str(folder)} if name == "background_noise" else {}) for name in TRANSFORMS}


def test_every_transform_p0_identity_and_seeded(tmp_path, make_wav):
    make_wav(tmp_path / "n" / "a.wav", sr=SR, seconds=0.2, freq=None)
    x = np.random.default_rng(0).standard_normal((4, SR // 2)).astype("float32") * 0.1
    feats = np.random.default_rng(1).standard_normal((4, 51, 40)).astype("float32")
    for name, opts in _all_transforms(tmp_path / "n").items():
        inp = feats if TRANSFORMS[name].domain == "features" else x
        t0 = TRANSFORMS[name](**opts, p=0.0)
        assert np.array_equal(t0(inp, np.random.default_rng(0), sr=SR), inp), name
        t1 = TRANSFORMS[name](**opts, p=1.0)
        a = t1(inp, np.random.default_rng(5), sr=SR)
        b = t1(inp, np.random.default_rng(5), sr=SR)
        c = t1(inp, np.random.default_rng(6), sr=SR)
        assert a.shape == inp.shape and a.dtype == np.float32 and np.isfinite(a).all(), name
        assert np.array_equal(a, b), name
        assert not np.array_equal(a, c) and not np.array_equal(a, inp), name


def test_full_chain_from_config(tmp_path, make_wav):
    make_wav(tmp_path / "n" / "a.wav", sr=22050, seconds=0.3, freq=None, channels=2)
    spec = {name: {**opts, "p": 0.7} for name, opts in _all_transforms(tmp_path / "n").items()}
    chain = build_chain(spec)
    n_features = sum(t.domain == "features" for t in TRANSFORMS.values())
    assert len(chain.waveform) == len(TRANSFORMS) - n_features and len(chain.features) == n_features == 3
    x = np.random.default_rng(2).standard_normal((8, SR)).astype("float32") * 0.1
    a = chain.apply_waveform(x, np.random.default_rng(3), sr=SR)
    assert np.array_equal(a, chain.apply_waveform(x, np.random.default_rng(3), sr=SR))
    assert a.shape == x.shape and a.dtype == np.float32 and np.isfinite(a).all()


def test_range_validation():
    with pytest.raises(ConfigError, match="greater than"):
        build_chain({"speed": {"min_rate": 1.2, "max_rate": 0.9}})
    with pytest.raises(ConfigError, match="order"):
        LowPass(order=0)
    with pytest.raises(ConfigError, match="fit must be"):
        Tempo(fit="left")
    with pytest.raises(ConfigError, match="must be a mapping"):
        build_chain({"gain": 3})


def test_default_recipe_chain_unchanged():
    from auricle.config import recipe

    chain = build_chain(recipe("default").augment)
    assert [t.name for t in chain.transforms] == ["time_shift", "gain", "noise", "freq_warp"]
    assert chain.transforms[2].colors == ("white", "pink", "brown") and chain.transforms[2].bank is None


def test_augment_preview_cli(tmp_path, make_wav):
    from typer.testing import CliRunner

    from auricle.cli import app

    wav = make_wav(tmp_path / "word.wav", sr=8000, seconds=0.8, freq=300.0)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("recipe: default\naugment:\n  reverb: {p: 1.0}\n  spec_augment: {time_warp: 5, p: 1.0}\n")
    r = CliRunner().invoke(app, ["augment-preview", str(cfg), str(wav), "--out", str(tmp_path / "o"), "--n", "3"])
    assert r.exit_code == 0, r.output
    outs = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert outs == ["word_aug00.wav", "word_aug01.wav", "word_aug02.wav", "word_augment.png", "word_original.wav"]
    y, sr = sf.read(tmp_path / "o" / "word_aug00.wav")
    assert sr == 16000 and len(y) == 16000
    r = CliRunner().invoke(app, ["augment-preview", str(tmp_path / "nothing"), str(wav), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no such run directory" in " ".join(r.output.split())


def test_compressor_soft_knee_curve():
    from auricle.augment.dynamics import gain_curve_db

    lv = np.array([-30.0, -23.0, -20.0, -17.0, -10.0], "float32")
    np.testing.assert_allclose(gain_curve_db(lv, -20.0, 4.0, 6.0), [0, 0, -0.5625, -2.25, -7.5], atol=1e-6)
    np.testing.assert_allclose(gain_curve_db(lv, -20.0, 4.0, 0.0), [0, 0, 0, -2.25, -7.5], atol=1e-6)


def test_noise_bank_pickles_without_audio(tmp_path, make_wav):
    import pickle

    make_wav(tmp_path / "n" / "a.wav", sr=SR, seconds=0.2, freq=None)
    t = BackgroundNoise(folder=str(tmp_path / "n"), p=1.0)
    x = np.stack([tone(300)] * 2)
    a = t(x, np.random.default_rng(0), sr=SR)
    t2 = pickle.loads(pickle.dumps(t))
    assert t2.bank._cache == {} and np.array_equal(t2(x, np.random.default_rng(0), sr=SR), a)


def test_generated_noise_bank_windows_are_unit_rms_colored_and_wrap():
    from auricle.augment.noise import bank_segments, noise_bank

    n = 4000
    bank = noise_bank("pink", n)
    period = bank.shape[0] - n
    assert not bank.flags.writeable
    np.testing.assert_array_equal(bank[period:], bank[:n])  # circular: a wrapped window is a slice
    assert noise_bank("pink", n) is bank  # generated once
    seg = bank_segments("pink", n, np.array([0.0, 0.5, 1.0 - 1e-12]))
    np.testing.assert_allclose(np.sqrt((seg.astype(np.float64) ** 2).mean(1)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(seg[0] * np.sqrt((bank[:n] ** 2).mean()), bank[:n], rtol=1e-5, atol=1e-6)
    # energy per octave: white doubles, pink stays, brown halves (averaged over a long stretch)
    for color, ratio in (("white", 2.0), ("pink", 1.0), ("brown", 0.5)):
        p = np.abs(np.fft.rfft(noise_bank(color, n)[:period])) ** 2
        f = np.arange(p.size) * (n / period)  # cycles per clip
        lo, hi = p[(f >= 40) & (f < 80)].sum(), p[(f >= 80) & (f < 160)].sum()
        assert abs(hi / lo / ratio - 1) < 0.1, (color, hi / lo)
        assert p[f < 1].sum() < 1e-9 * p.sum() or color == "white"  # nothing below one cycle per clip


def test_noise_offsets_pin_the_generated_window():
    x = np.zeros((2, 1000), "float32") + 0.1
    a = AddNoise(colors=["pink"]).apply(x, snr_db=np.array([10.0, 10.0]), color=np.array([0, 0]),
                                        offset=np.array([0.25, 0.25]))
    np.testing.assert_array_equal(a[0], a[1])
    b = AddNoise(colors=["pink"]).apply(x[:1], snr_db=np.array([10.0]), color=np.array([0]), offset=np.array([0.5]))
    assert not np.allclose(a[0], b[0])


def test_freq_warp_exact_values_on_linear_and_mel_axes():
    from auricle.augment import FreqWarp
    from auricle.features import mel_frequencies, preset

    x = np.arange(8, dtype="float32")[None, None, :].repeat(2, 1)  # value = bin index
    t = FreqWarp()
    np.testing.assert_allclose(t.apply(x, alpha=np.array([1.0])), x)
    # linear bins (no config): value at bin f comes from bin f / alpha
    np.testing.assert_allclose(t.apply(x, alpha=np.array([2.0]))[0, 0], np.arange(8) / 2.0, atol=1e-6)
    np.testing.assert_allclose(t.apply(x, alpha=np.array([0.5]))[0, 0], np.minimum(np.arange(8) * 2.0, 7))
    # on a mel axis it is a frequency scaling: a peak at the bin centred on f moves to ~alpha * f
    cfg = preset("kws")
    centres = mel_frequencies(42, fmin=cfg.fmin, fmax=cfg.fmax)[1:-1]
    k = 20
    spec = np.zeros((1, 3, 40), "float32")
    spec[0, :, k] = 1.0
    out = t.apply(spec, alpha=np.array([1.1]), fcfg=cfg)
    peak = centres[out[0, 0].argmax()]
    assert abs(peak / (centres[k] * 1.1) - 1) < 0.03
    with pytest.raises(ConfigError, match="freq_warp needs"):
        t.apply(spec[:, :, :13], alpha=np.array([1.1]), fcfg=preset("mfcc40"))


def test_feature_only_augmentation_is_applied_from_cached_features(tmp_path):
    """Regression: with only feature-domain transforms (SpecAugment, freq_warp) training used the
    cached features as they were, silently without augmentation."""
    from auricle.training.batches import AugmentedBatches
    from auricle.features import preset

    feats = np.random.default_rng(0).standard_normal((8, 101, 40)).astype("float32")
    y = np.eye(2, dtype="float32")[np.arange(8) % 2]
    chain = build_chain({"spec_augment": {"p": 1.0, "max_time": 20}})
    ds = AugmentedBatches(None, y, preset("kws"), chain, 4, 0, feats=feats)
    xb, yb = ds[0]
    idx = np.sort(ds._order[:4])
    assert xb.shape == (4, 101, 40) and np.array_equal(yb, y[idx])
    assert not np.allclose(xb, feats[idx])  # masked
    np.testing.assert_array_equal(ds[0][0], xb)  # a pure function of (seed, epoch, index)


# --------------------------------------------------------------------------- power domain

def _word_batch(n=6, seed=0):
    """Clips with a 'word' (two tones) in the middle and silence around it."""
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    env = ((t > 0.35) & (t < 0.65)).astype(np.float32)
    f = rng.uniform(300, 2000, (n, 1))
    x = rng.uniform(0.05, 0.5, (n, 1)) * (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(2 * np.pi * 2.3 * f * t)) * env
    return x.astype(np.float32)


def test_mel_power_then_finish_equals_extract():
    from auricle.features import extract, finish_power, mel_power, preset

    x = _word_batch()
    for fcfg in (preset("kws"), preset("kws").replace(normalize="per_clip"), preset("mfcc40"),
                 preset("kws").replace(kind="spectrogram")):
        np.testing.assert_allclose(finish_power(fcfg, mel_power(fcfg, x)), extract(fcfg, x), atol=1e-4)


def test_power_domain_gain_and_whole_frame_shift_equal_the_waveform_path():
    from auricle.augment.power import PowerAugmenter
    from auricle.features import extract, mel_power, preset

    fcfg = preset("kws")
    x = _word_batch()
    S, rms = mel_power(fcfg, x), PowerAugmenter.rms(x)
    g = Gain(p=1.0)
    out, r2 = g.apply_power(S, rms, fcfg=fcfg, gain_db=np.full(6, 6.0))
    ref = extract(fcfg, g.apply(x, gain_db=np.full(6, 6.0)))
    np.testing.assert_allclose(extract(fcfg, x) + 6.0, ref, atol=1e-3)
    from auricle.features import finish_power
    np.testing.assert_allclose(finish_power(fcfg, out), ref, atol=1e-3)
    np.testing.assert_allclose(r2, rms * 10 ** (6 / 20), rtol=1e-6)
    for mode in ("pad", "roll"):
        ts = TimeShift(mode=mode, p=1.0)
        shift_ms = np.array([50.0, -50.0, 0.0, 100.0, -100.0, 30.0])  # multiples of the 10 ms hop
        out, _ = ts.apply_power(S, rms, fcfg=fcfg, shift_ms=shift_ms)
        ref = extract(fcfg, ts.apply(x, shift_ms=shift_ms))
        # equal away from the clip edges (the centred STFT pads the two ends differently)
        np.testing.assert_allclose(finish_power(fcfg, out)[:, 12:-12], ref[:, 12:-12], atol=1e-3)


def test_power_domain_noise_matches_the_waveform_mix_on_average():
    from auricle.augment.power import PowerAugmenter
    from auricle.features import extract, mel_power, preset

    fcfg = preset("kws")
    x = np.repeat(_word_batch(1), 32, axis=0)
    for color in ("white", "pink", "brown"):
        chain = build_chain({"noise": {"min_snr_db": 10, "max_snr_db": 10, "p": 1.0, "colors": [color]}})
        aug = PowerAugmenter(chain, fcfg)
        a = aug(mel_power(fcfg, x), aug.rms(x), np.random.default_rng(1))
        b = extract(fcfg, chain.apply_waveform(x, np.random.default_rng(1)))
        # per (frame, band) mean over 32 draws: the cross term averages out
        assert np.abs(a.mean(0) - b.mean(0)).mean() < 1.0, color
        assert abs(a.mean() - b.mean()) < 0.5, color
        # silence frames (the noise alone) sit at the same level on both paths
        assert abs(a[:, 5:25].mean() - b[:, 5:25].mean()) < 0.5, color


def test_power_domain_filters_match_the_waveform_filter():
    """High-, low- and band-pass on mel power: white noise through the filter on the waveform has
    the same band powers (mean over frames) within 1 dB where the filter passes >= -15 dB (the
    error is the filter slope within a band, largest on the steep band-pass skirts), and
    the active RMS scales with the power kept (the noise transform's SNR reference)."""
    from auricle.augment.filters import BandPass, HighPass, LowPass
    from auricle.augment.power import PowerAugmenter
    from auricle.features import mel_power, preset

    fcfg = preset("kws")
    x = (0.1 * np.random.default_rng(0).standard_normal((3, 16000))).astype(np.float32)
    S, rms = mel_power(fcfg, x), PowerAugmenter.rms(x)
    cases = [(HighPass(p=1.0), {"cutoff_hz": np.array([100.0, 400.0, 800.0])}),
             (LowPass(p=1.0), {"cutoff_hz": np.array([500.0, 1000.0, 4000.0])}),
             (BandPass(p=1.0), {"center_hz": np.array([500.0, 1000.0, 2000.0]),
                                "bandwidth_octaves": np.array([1.0, 2.0, 3.0])})]
    for t, params in cases:
        out, r2 = t.apply_power(S, rms, fcfg=fcfg, **params)
        ref = mel_power(fcfg, t.apply(x, sr=fcfg.sr, **params))
        got_db = 10 * np.log10(out[:, 10:-10].mean(1))
        ref_db = 10 * np.log10(ref[:, 10:-10].mean(1))
        clean_db = 10 * np.log10(S[:, 10:-10].mean(1))
        passed = ref_db - clean_db > -15
        assert passed.sum() > 20, t.name
        np.testing.assert_allclose(got_db[passed], ref_db[passed], atol=1.0, err_msg=t.name)
        assert (got_db - clean_db).min() < -20, t.name  # the filter really cuts somewhere
        np.testing.assert_allclose(r2, PowerAugmenter.rms(t.apply(x, sr=fcfg.sr, **params)), rtol=0.1, err_msg=t.name)
    # a low-pass above Nyquist passes everything
    out, r2 = LowPass(p=1.0).apply_power(S, rms, fcfg=fcfg, cutoff_hz=np.full(3, 9000.0))
    np.testing.assert_array_equal(out, S)
    np.testing.assert_allclose(r2, rms)


def test_power_domain_tempo_moves_the_word_like_the_phase_vocoder():
    """Tempo on mel power: the word starts and ends on the same frame as after the phase
    vocoder on the waveform (+-2), for both fits, and its band levels agree within 2 dB on average."""
    from auricle.augment.power import PowerAugmenter
    from auricle.augment.stretch import Tempo
    from auricle.features import mel_power, preset

    fcfg = preset("kws")
    x = _word_batch()
    S, rms = mel_power(fcfg, x), PowerAugmenter.rms(x)

    def edges(P):
        loud = 10 * np.log10(np.maximum(P.sum(2), 1e-10))
        loud = loud > loud.max(1, keepdims=True) - 20
        return loud.argmax(1), P.shape[1] - loud[:, ::-1].argmax(1)

    for fit in ("center", "start"):
        tm = Tempo(p=1.0, fit=fit)
        for r in (0.8, 1.25):
            rate = np.full(len(x), r)
            got, r2 = tm.apply_power(S, rms, fcfg=fcfg, rate=rate)
            ref = mel_power(fcfg, tm.apply(x, rate=rate, sr=fcfg.sr))
            for a, b in zip(edges(got), edges(ref)):
                assert np.abs(a - b).max() <= 2, (fit, r)  # the vocoder smears a tail of a frame or two
            np.testing.assert_array_equal(r2, rms)
            mid = slice(45, 56)
            ga, rb = (10 * np.log10(np.maximum(P[:, mid].mean(1), 1e-10)) for P in (got, ref))
            keep = rb > rb.max(1, keepdims=True) - 20
            assert np.abs(ga - rb)[keep].mean() < 2.0, (fit, r)
    out, _ = Tempo(p=1.0).apply_power(S, rms, fcfg=fcfg, rate=np.ones(len(x)))
    np.testing.assert_allclose(out, S)


def test_power_reason_names_what_cannot_run_there(tmp_path, make_wav):
    from auricle.augment.power import PowerAugmenter, power_reason
    from auricle.features import preset

    fcfg = preset("kws")
    assert power_reason(build_chain({"time_shift": {}, "gain": {}, "noise": {}, "freq_warp": {}}), fcfg) is None
    assert power_reason(build_chain({"high_pass": {}, "low_pass": {}, "band_pass": {}, "tempo": {}}), fcfg) is None
    assert "pitch_shift" in power_reason(build_chain({"pitch_shift": {}}), fcfg)
    assert "waveform" in power_reason(build_chain({"gain": {}}), preset("waveform"))
    assert "dither" in power_reason(build_chain({"gain": {}}), fcfg.replace(dither_db=50.0))
    make_wav(tmp_path / "n" / "a.wav", 16000, 0.5)
    assert power_reason(build_chain({"noise": {"folder": str(tmp_path / "n")}}), fcfg) is None  # recordings too
    assert "reverb" in power_reason(build_chain({"reverb": {}}), fcfg)
    with pytest.raises(ConfigError, match="augment_domain"):
        PowerAugmenter(build_chain({"pitch_shift": {}}), fcfg)


def test_power_batches_are_seeded_and_used_by_training(tmp_path):
    from auricle.augment.power import PowerAugmenter
    from auricle.features import mel_power, preset
    from auricle.training.batches import AugmentedBatches

    fcfg = preset("kws").replace(normalize="per_clip")
    x = _word_batch(8)
    y = np.eye(2, dtype="float32")[np.arange(8) % 2]
    chain = build_chain({"time_shift": {"p": 1.0}, "gain": {"p": 1.0}, "noise": {"p": 1.0}, "freq_warp": {"p": 1.0}})
    aug = PowerAugmenter(chain, fcfg)
    S, rms = aug.cache(x)
    assert S.shape == (2, 8, 101, 40)  # two framing phases: as recorded, delayed by half a hop
    np.testing.assert_array_equal(S[0], mel_power(fcfg, x))
    half = np.concatenate([np.zeros((8, 80), np.float32), x[:, :-80]], axis=1)
    np.testing.assert_allclose(S[1], mel_power(fcfg, half), rtol=1e-5, atol=1e-9)
    S0 = S.copy()
    ds = AugmentedBatches(None, y, fcfg, chain, 4, 0, power=(S, rms, aug))
    xb, yb = ds[0]
    assert xb.shape == (4, 101, 40) and np.isfinite(xb).all()
    np.testing.assert_array_equal(ds[0][0], xb)
    np.testing.assert_array_equal(S, S0)  # the cache is never modified
    assert PowerAugmenter(build_chain({"gain": {}}), fcfg).cache(x)[0].shape[0] == 1  # no shift: one phase


def test_power_domain_noise_is_as_rough_as_the_waveform_mix():
    """The cross term 2|X||N|cos(phi) is drawn, not dropped: over many draws the spread of a
    noisy word's log-mel matches the waveform path, not only its mean."""
    from auricle.augment.power import PowerAugmenter
    from auricle.features import extract, mel_power, preset

    fcfg = preset("kws")
    x = np.repeat(_word_batch(1), 64, axis=0)
    chain = build_chain({"noise": {"min_snr_db": 5, "max_snr_db": 5, "p": 1.0, "colors": ["white"]}})
    aug = PowerAugmenter(chain, fcfg)
    a = aug(mel_power(fcfg, x), aug.rms(x), np.random.default_rng(1))[:, 40:60]
    b = extract(fcfg, chain.apply_waveform(x, np.random.default_rng(1)))[:, 40:60]
    assert abs(a.std(0).mean() / b.std(0).mean() - 1) < 0.1
    assert abs(a.mean() - b.mean()) < 0.3


def test_recorded_noise_in_the_power_domain_equals_the_waveform_mix(tmp_path):
    """On a silent clip (no cross term) the power path adds exactly the mel power of the window the
    waveform path mixes in: a file longer than the clip and one shorter (looped), at
    whole-frame offsets, scaled to the same level."""
    import soundfile as sf

    from auricle.augment.power import PowerAugmenter
    from auricle.features import mel_power, preset

    fcfg = preset("kws")
    hop = fcfg.resolved_hop_length
    rng = np.random.default_rng(0)
    (tmp_path / "n").mkdir()
    t = np.arange(22400) / 16000
    sf.write(tmp_path / "n" / "a_long.wav", (0.3 * np.sin(2 * np.pi * 700 * t) * (1 + t)).astype("float32"), 16000)
    sf.write(tmp_path / "n" / "b_short.wav", (0.2 * rng.standard_normal(4800)).astype("float32"), 16000)
    chain = build_chain({"noise": {"folder": str(tmp_path / "n"), "min_snr_db": 10, "max_snr_db": 10, "p": 1.0}})
    noise = chain.waveform[0]
    n = 4
    x = np.zeros((n, fcfg.n_samples), np.float32)
    lengths = np.array([22400, 22400, 4800, 4800])
    frames = np.array([0, 37, 3, 29])
    params = {"snr_db": np.full(n, 10.0), "color": np.zeros(n, int), "file": np.array([0.1, 0.4, 0.6, 0.9]),
              "offset": (frames * hop + 0.5) / lengths}
    wave = mel_power(fcfg, noise.apply(x, **params, sr=16000))
    aug = PowerAugmenter(chain, fcfg)
    power, rms2 = noise.apply_power(mel_power(fcfg, x), aug.rms(x), fcfg=fcfg, rng=np.random.default_rng(1), **params)
    # away from the clip's two edges (the centred STFT pads them; the loop continues)
    ref = wave[:, 3:-3]
    floor = ref.max() * 1e-6  # compare in dB down to 60 dB below the loudest band

    def db(p):
        return 10 * np.log10(p + floor)

    np.testing.assert_allclose(db(power[:, 3:-3]), db(ref), atol=0.01)
    shifted = dict(params, offset=((frames + 1) * hop + 0.5) / lengths)  # one frame later: not equal
    later = noise.apply_power(mel_power(fcfg, x), aug.rms(x), fcfg=fcfg, **shifted)[0]
    assert np.abs(db(later[:, 3:-3]) - db(ref)).max() > 1.0
    np.testing.assert_allclose(rms2, 10 ** (noise.floor_db / 20), rtol=1e-6)


def test_random_eq_exact_values_and_checks():
    from auricle.augment import RandomEQ
    from auricle.features import preset

    x = np.zeros((2, 3, 5), "float32")
    t = RandomEQ()
    out = t.apply(x, tilt_db=np.array([4.0, 0.0]), centre=np.array([[0.5], [0.0]]),
                  gain_db=np.array([[0.0], [3.0]]), width=np.array([[0.25], [0.25]]))
    np.testing.assert_allclose(out[0], np.tile([-2.0, -1.0, 0.0, 1.0, 2.0], (3, 1)), atol=1e-6)
    bump = 3.0 * np.exp(-0.5 * (np.array([0.0, 0.25, 0.5, 0.75, 1.0]) / 0.25) ** 2)   # 3, 1.8196, 0.406, ...
    np.testing.assert_allclose(out[1, 2], bump, atol=1e-6)
    np.testing.assert_allclose(out[1, 0, :3], [3.0, 1.8195919, 0.4060058], atol=1e-6)
    y = np.random.default_rng(0).standard_normal((4, 6, 8)).astype("float32")   # the curve is added to every frame
    z = t(y, np.random.default_rng(1))
    d = z - y
    assert z.dtype == np.float32 and np.allclose(d, d[:, :1, :], atol=1e-5) and not np.allclose(d, 0)
    t.check(preset("kws"))
    with pytest.raises(ConfigError, match="random_eq needs"):
        t.check(preset("mfcc40"))
    with pytest.raises(ConfigError, match="bands"):
        RandomEQ(bands=-1)
    with pytest.raises(ConfigError, match="greater than"):
        RandomEQ(min_width=0.3, max_width=0.1)
