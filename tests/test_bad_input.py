"""Bad input of issue 22: clips all shorter than the window, mixed sample rates, a recording shorter than
one window at predict time -- each one clear message naming the files and the fix, nothing dropped."""
from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from rich.console import Console
from typer.testing import CliRunner

from auricle.config import RunConfig
from auricle.data import band_limit, load_dataset, mixed_rates, window_hop
from auricle.features import preset


def _tone(sr, seconds, f):
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype("float32")


def _manifest(root, files):
    """files: (name, label, group, sr, seconds); tone frequency by label."""
    root.mkdir(parents=True, exist_ok=True)
    lines = ["path,label,group"]
    for name, lab, grp, sr, sec in files:
        sf.write(root / name, _tone(sr, sec, 400.0 if lab == "lo" else 1500.0), sr)
        lines.append(f"{name},{lab},{grp}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


def _cfg(root, **features):
    return RunConfig.from_dict({"data": {"root": str(root), "layout": "manifest"},
                                "features": {"preset": "kws", **features}})


def _console():
    buf = io.StringIO()
    return Console(file=buf, width=400), buf


def test_mixed_sample_rates_say_how_many_and_the_fix(tmp_path):
    files = [(f"{lab}{g}.wav", lab, f"g{g}", 8000 if g < 3 else 16000, 1.0) for g in range(5) for lab in ("lo", "hi")]
    cfg = _cfg(_manifest(tmp_path / "d", files))
    ds = load_dataset(cfg.data, progress=False)
    con, buf = _console()
    band_limit(cfg, ds.items, console=con)
    out = " ".join(buf.getvalue().split())
    assert "recordings at 2 sample rates (8000 Hz: 6 files, 16000 Hz: 4)" in out
    assert "all are resampled to 16000 Hz" in out and "--set features.fmax=4000" in out
    assert len(ds.items) == 10                                        # nothing dropped
    assert mixed_rates([16000] * 3, preset("kws")) is None              # one rate: nothing to say


def test_clips_all_shorter_than_the_window_say_so_with_a_window_that_fits(tmp_path):
    files = [(f"{lab}{g}.wav", lab, f"g{g}", 16000, 0.3 + 0.05 * g) for g in range(4) for lab in ("lo", "hi")]
    cfg = _cfg(_manifest(tmp_path / "d", files), duration=2.0)
    ds = load_dataset(cfg.data, progress=False)
    con, buf = _console()
    assert window_hop(cfg, ds.items, console=con) is None
    out = " ".join(buf.getvalue().split())
    assert "every recording is shorter than the 2 s window (longest 0.45 s, median 0.38 s)" in out
    assert "--set features.duration=0.5" in out
    # clips that fill the window: no message
    cfg = _cfg(tmp_path / "d", duration=0.45)
    con, buf = _console()
    window_hop(cfg, ds.items, console=con)
    assert "shorter than" not in buf.getvalue()


def test_predict_names_a_recording_shorter_than_the_window(tmp_path):
    from auricle.cli import app
    from auricle.inference import load_run, predict_files

    files = [(f"{lab}{g}.wav", lab, f"g{g}", 8000, 0.5) for g in range(6) for lab in ("lo", "hi")]
    root = _manifest(tmp_path / "d", files)
    run = tmp_path / "run"
    r = CliRunner().invoke(app, ["train", str(root), "--layout", "manifest", "--recipe", "classic", "--model", "logreg",
                                 "--out", str(run), "--set", "features.duration=0.5",
                                 "--set", f"train.cache_dir={tmp_path / 'c'}", "--set", "train.workers=1"])
    assert r.exit_code == 0, r.output
    short = tmp_path / "short.wav"
    sf.write(short, _tone(8000, 0.2, 400.0), 8000)
    preds = predict_files(load_run(run), [short, root / "lo0.wav"])
    assert preds[0].note == "0.20 s long, shorter than the model's 0.5 s window: zero-padded to it"
    assert preds[0].top and preds[1].note is None                      # still answered
    assert preds[0].to_dict()["note"] == preds[0].note and "note" not in preds[1].to_dict()
    r = CliRunner().invoke(app, ["predict", str(run), str(short), str(root / "lo0.wav")])
    assert r.exit_code == 0, r.output
    assert f"note: {short}: 0.20 s long, shorter than the model's 0.5 s window" in r.output
    assert "lo0.wav: " not in r.output.split("note:")[-1]
