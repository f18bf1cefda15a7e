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
