"""Separation metrics: BSS Eval v4 equal to museval, baselines, summaries, report files and pictures."""
from __future__ import annotations

import importlib.util
import json
import os
import warnings

import numpy as np
import pytest

from auricle.errors import AuricleError
from auricle.separation import metrics as sm

# museval and this module agree to ~1e-13 dB on these signals (both float64, same algorithm);
# 1e-6 dB leaves room for other BLAS/FFT builds.  Values above ABOVE_DB are rounding noise in
# both (an error energy of ~1e-30 of the signal's: museval reports ~300 dB there) and are only
# required to be above it on both sides.
TOL_DB = 1e-6
ABOVE_DB = 150.0
SR = 8000


def _museval_evaluate():
    """``museval.evaluate``; without ffmpeg its package import fails (musdb -> stempeg), so then
    its ``metrics`` module is loaded on its own and called as ``evaluate`` calls it (v4 mode)."""
    try:
        import museval

        return lambda r, e, win, hop: museval.evaluate(r, e, win=win, hop=hop)
    except ImportError:
        pytest.skip("museval is not installed (pip install -e .[test])")
    except Exception:  # RuntimeError: ffmpeg or ffprobe could not be found
        spec = importlib.util.find_spec("museval")
        path = os.path.join(spec.submodule_search_locations[0], "metrics.py")
        mspec = importlib.util.spec_from_file_location("_museval_metrics", path)
        mm = importlib.util.module_from_spec(mspec)
        mspec.loader.exec_module(mm)
        return lambda r, e, win, hop: mm.bss_eval(r, e, window=win, hop=hop, compute_permutation=False,
                                                  framewise_filters=False, bsseval_sources_version=False)[:4]


def _random_song(rng, s, c, n):
    """Sources, and estimates that hold noise, a little of the other sources and a delayed copy."""
    refs = rng.standard_normal((s, c, n))
    ests = refs + 0.4 * rng.standard_normal(refs.shape) + 0.3 * np.roll(refs, 1, axis=0)
    ests[..., 3:] += 0.2 * refs[..., :-3]
    return refs, ests


def _assert_equal_to_museval(refs, ests, *, window, hop):
    evaluate = _museval_evaluate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # museval's divide-by-zero on silent windows
        expected = evaluate(refs.transpose(0, 2, 1) if refs.ndim == 3 else refs,
                            ests.transpose(0, 2, 1) if ests.ndim == 3 else ests, window * SR, hop * SR)
    got = sm.bss_eval(refs, ests, sr=SR, window=window, hop=hop)
    for name, want in zip(("sdr", "isr", "sir", "sar"), expected):
        have = got[name]
        assert have.shape == want.shape and have.dtype == np.float64, name
        np.testing.assert_array_equal(np.isnan(have), np.isnan(want), err_msg=name)
        ok = ~np.isnan(want)
        big = (want > ABOVE_DB) | (have > ABOVE_DB)
        assert np.all((want[big & ok] > ABOVE_DB) & (have[big & ok] > ABOVE_DB)), name
        np.testing.assert_allclose(have[ok & ~big], want[ok & ~big], rtol=0, atol=TOL_DB, err_msg=name)
    return got


def test_equals_museval_stereo_with_silent_window():
    rng = np.random.default_rng(0)
    refs, ests = _random_song(rng, 2, 2, 3 * SR // 2 + 1234)  # a partial window at the end: dropped
    refs[1, :, SR // 2:SR] = 0  # one source silent in the second window -> NaN for all sources
    got = _assert_equal_to_museval(refs, ests, window=0.5, hop=0.5)
    assert got["sdr"].shape == (2, 3)
    assert np.isnan(got["sdr"][:, 1]).all() and not np.isnan(got["sdr"][:, [0, 2]]).any()


def test_equals_museval_mono_overlapping_and_whole_signal():
    rng = np.random.default_rng(1)
    refs, ests = _random_song(rng, 3, 1, 3 * SR // 2)
    _assert_equal_to_museval(refs[:, 0], ests[:, 0], window=0.75, hop=0.5)  # (S, N) input
    _assert_equal_to_museval(refs, ests, window=np.inf, hop=np.inf)


def test_equals_museval_stereo_silent_estimate_window_and_float32():
    rng = np.random.default_rng(2)
    refs, ests = _random_song(rng, 2, 2, SR)
    ests[0, :, :SR // 2] = 0  # a silent estimate window is NaN too (museval's rule)
    refs32, ests32 = refs.astype(np.float32), ests.astype(np.float32)
    got = _assert_equal_to_museval(refs32.astype(np.float64), ests32.astype(np.float64), window=0.5, hop=0.5)
    got32 = sm.bss_eval(refs32, ests32, sr=SR, window=0.5, hop=0.5)
    for k in sm.METRICS:
        np.testing.assert_allclose(got32[k], got[k], atol=TOL_DB)
    assert np.isnan(got["sdr"][:, 0]).all()


def test_perfect_estimate_and_mixture_baseline():
    rng = np.random.default_rng(3)
    refs = rng.standard_normal((2, 2, 3 * SR))  # two independent sources of equal power
    perfect = sm.bss_eval(refs, refs.copy(), sr=SR)
    # museval does not cap: the error energy is exactly zero, so SDR is +inf (as museval);
    # ISR/SIR/SAR are rounding noise far above any real separation
    assert np.all(perfect["sdr"] == np.inf)
    assert all(np.all(perfect[k] > ABOVE_DB) for k in ("isr", "sir", "sar"))

    mix = sm.mixture_baseline(refs.sum(0), 2)
    assert mix.shape == (2, 2, 3 * SR)
    base = sm.song_scores(refs, mix, sr=SR, stems=["a", "b"])
    for stem in ("a", "b"):  # textbook: 10 log10(|s1|^2 / |s2|^2) = 0 dB
        assert abs(base[stem]["sdr"]) < 0.3
        assert abs(base[stem]["sir"]) < 1.0


def test_oracle_ratio_mask_beats_the_mixture():
    rng = np.random.default_rng(4)
    t = np.arange(SR) / SR
    sine = np.stack([np.sin(2 * np.pi * 440 * t), 0.8 * np.sin(2 * np.pi * 440 * t + 0.3)])
    noise = 0.5 * rng.standard_normal((2, SR))
    refs = np.stack([sine, noise])
    mix = refs.sum(0)
    for power in (1.0, 2.0):
        oracle = sm.oracle_ratio_mask(mix, refs, n_fft=512, hop=128, power=power)
        assert oracle.shape == refs.shape
        np.testing.assert_allclose(oracle.sum(0), mix, atol=1e-4)  # the masks add up to one
        o = sm.song_scores(refs, oracle, sr=SR, stems=["sine", "noise"], window=0.5, hop=0.5)
        b = sm.song_scores(refs, sm.mixture_baseline(mix, 2), sr=SR, stems=["sine", "noise"], window=0.5, hop=0.5)
        for stem in ("sine", "noise"):
            assert o[stem]["sdr"] > b[stem]["sdr"] + 5, (power, stem, o[stem], b[stem])


def test_song_scores_median_ignores_nan_and_all_nan_stem_is_quiet():
    rng = np.random.default_rng(5)
    refs, ests = _random_song(rng, 2, 1, 3 * SR)
    refs[0, :, SR:2 * SR] = 0
    m = sm.bss_eval(refs, ests, sr=SR)
    sc = sm.song_scores(refs, ests, sr=SR, stems=["x", "y"])
    for j, stem in enumerate(("x", "y")):
        for k in sm.METRICS:
            assert sc[stem][k] == pytest.approx(np.nanmedian(m[k][j]))
    refs[1] = 0  # a stem silent throughout: museval refuses it; here every window is NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        allnan = sm.song_scores(refs, ests, sr=SR, stems=["x", "y"])
        s = sm.summarize({"model": {"song": allnan}})
    assert all(np.isnan(v) for d in allnan.values() for v in d.values())
    assert np.isnan(s["model"]["y"]["sdr"]["median"])


def test_length_and_shape_mismatch_raise_clear_errors():
    refs = np.zeros((2, 2, 1000))
    with pytest.raises(AuricleError) as e:
        sm.bss_eval(refs, np.zeros((2, 2, 990)), sr=SR)
    assert isinstance(e.value, sm.SeparationMetricsError)
    assert "(2, 2, 990)" in str(e.value) and "(2, 2, 1000)" in str(e.value) and "Fix:" in str(e.value)
    with pytest.raises(sm.SeparationMetricsError, match="one estimate per reference"):
        sm.bss_eval(refs, np.zeros((3, 2, 1000)), sr=SR)
    with pytest.raises(sm.SeparationMetricsError, match="hop > 0"):
        sm.bss_eval(refs, refs, sr=SR, hop=0)
    with pytest.raises(sm.SeparationMetricsError, match="stem names"):
        sm.song_scores(refs, refs, sr=SR, stems=["only one"])
    with pytest.raises(sm.SeparationMetricsError):
        sm.oracle_ratio_mask(np.zeros((2, 999)), refs, n_fft=256, hop=64)
    bad = np.ones((2, 2, 1000))
    bad[0, 0, 5] = np.nan
    with pytest.raises(sm.SeparationMetricsError, match="NaN"):
        sm.bss_eval(refs + 1, bad, sr=SR)


PER_SONG = {
    "model": {"s1": {"vocals": {"sdr": 5.0, "sir": 10.0, "sar": 6.0, "isr": 9.0},
                     "drums": {"sdr": 3.0, "sir": 8.0, "sar": 4.0, "isr": 7.0}},
              "s2": {"vocals": {"sdr": 7.0, "sir": 12.0, "sar": 8.0, "isr": 11.0},
                     "drums": {"sdr": float("nan"), "sir": 9.0, "sar": 5.0, "isr": 8.0}},
              "s3": {"vocals": {"sdr": 4.0, "sir": 11.0, "sar": 5.5, "isr": 10.0},
                     "drums": {"sdr": 2.0, "sir": 7.5, "sar": 3.0, "isr": 6.0}}},
    "mixture": {s: {"vocals": {"sdr": v, "sir": v, "sar": 300.0, "isr": 12.0},
                    "drums": {"sdr": -v, "sir": -v, "sar": 300.0, "isr": 12.0}}
                for s, v in (("s1", -3.0), ("s2", -5.0), ("s3", -1.0))},
    "oracle": {s: {"vocals": {"sdr": 9.0 + i, "sir": 20.0, "sar": 10.0 + i, "isr": 15.0},
                   "drums": {"sdr": 8.0 + i, "sir": 18.0, "sar": 9.0, "isr": 14.0}}
               for i, s in enumerate(("s1", "s2", "s3"))},
}


def test_summarize_equals_numpy():
    s = sm.summarize(PER_SONG)
    assert set(s) == {"model", "mixture", "oracle"}
    for method, songs in PER_SONG.items():
        for stem in ("vocals", "drums"):
            for k in ("sdr", "sir", "sar", "isr"):
                v = np.array([songs[x][stem][k] for x in songs])
                v = v[~np.isnan(v)]  # NaN songs are left out
                got = s[method][stem][k]
                assert set(got) == {"median", "mean", "std"}
                assert got["median"] == pytest.approx(np.median(v))
                assert got["mean"] == pytest.approx(np.mean(v))
                assert got["std"] == pytest.approx(np.std(v))
    assert s["model"]["drums"]["sdr"]["median"] == 2.5


def test_write_report_and_format_table(tmp_path):
    stems = ["vocals", "drums"]
    summary = sm.write_report(tmp_path / "eval", PER_SONG, stems=stems)
    out = tmp_path / "eval"
    assert summary == sm.summarize(PER_SONG)
    doc = json.loads((out / "separation_metrics.json").read_text())
    assert set(doc) >= {"stems", "methods", "n_songs", "summary", "per_song"}
    assert doc["methods"] == ["model", "mixture", "oracle"] and doc["n_songs"] == 3 and doc["stems"] == stems
    assert doc["per_song"]["model"]["s2"]["drums"]["sdr"] is None  # NaN -> null: strict JSON
    assert doc["summary"]["oracle"]["vocals"]["sdr"]["median"] == 10.0

    md = (out / "separation_metrics.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| stem"))
    for col in ("model SDR", "model SIR", "model SAR", "mixture SDR", "oracle SAR", "SDR gap to oracle"):
        assert col in header
    vocals = next(line for line in md.splitlines() if line.startswith("| vocals"))
    assert "| 5.00 |" in vocals and vocals.rstrip().endswith("| 5.00 |")  # oracle 10 - model 5
    assert "| drums" in md and "sdr.png" in md
    png = (out / "sdr.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000

    text = sm.format_table(summary, stems=stems, methods=["model", "mixture", "oracle"])
    lines = text.splitlines()
    assert len(lines) == 1 + len(stems)
    assert lines[1].split()[0] == "vocals" and lines[2].split()[0] == "drums"
    assert "SDR gap to oracle" in lines[0] and lines[2].split()[-1] == "6.50"  # 9 - 2.5
    only_model = sm.format_table(summary, stems=stems, methods=["model", "missing"])
    assert "gap" not in only_model and "missing" not in only_model


def test_plot_spectrograms_writes_png(tmp_path):
    rng = np.random.default_rng(6)
    refs = rng.standard_normal((2, 2, SR)).astype(np.float32)
    path = tmp_path / "spec.png"
    sm.plot_spectrograms(refs.sum(0), refs * 0.9, refs, sr=SR, stems=["a", "b"], path=path,
                         n_fft=256, hop=64, seconds=0.5)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sm.plot_spectrograms(refs.sum(0)[0], refs[:, 0], sr=SR, stems=["a", "b"], path=tmp_path / "mono.png",
                         n_fft=256, hop=64, seconds=(0.25, 0.75))
    assert (tmp_path / "mono.png").stat().st_size > 0
