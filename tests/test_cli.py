import json

import pytest
from typer.testing import CliRunner

from auricle.cli import app
from tests.test_training import make_dataset

runner = CliRunner()


def test_help_lists_commands():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("train", "demo", "evaluate", "predict", "audit", "models"):
        assert cmd in r.output


def test_train_predict_evaluate_via_cli(tmp_path):
    root = make_dataset(tmp_path / "data", groups=6, per=2)
    run = tmp_path / "run"
    args = ["train", str(root), "--layout", "manifest", "--out", str(run), "--model", "mlp", "--epochs", "2",
            "--batch-size", "8", "--optimizer", "sgd", "--lr", "0.01", "--l2", "0.0001", "--dropout", "0.1",
            "--class-weight", "balanced", "--seed", "3", "--no-augment",
            "--set", "features.duration=0.5", "--set", f"train.cache_dir={tmp_path / 'c'}", "--set", "train.workers=1"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert (run / "report.md").exists()
    cfg = (run / "config.yaml").read_text()
    assert "optimizer: sgd" in cfg and "class_weight: balanced" in cfg and "seed: 3" in cfg
    r = runner.invoke(app, ["predict", str(run), str(root / "high"), "--format", "json", "--top-k", "2"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert len(out) == 12 and all(len(p["top"]) == 2 for p in out)
    r = runner.invoke(app, ["evaluate", str(run)])
    assert r.exit_code == 0, r.output
    assert (run / "eval-test" / "confusion.png").exists()
    # the same run again without --overwrite is refused with a clear message
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "already exists" in r.output
    # a student distilled from it (fixed inputs: the teacher's targets are computed once)
    student = tmp_path / "student"
    r = runner.invoke(app, [*args[:5], str(student), *args[6:], "--teacher", str(run)])
    assert r.exit_code == 0, r.output
    assert f"distilling from {run}" in " ".join(r.output.split())
    assert f"teacher: {run}" in (student / "config.yaml").read_text()


@pytest.mark.parametrize("args, expect", [
    (["train", "/no/such/folder", "--out", "/tmp/x"], "not"),
    (["predict", "/no/such/run", "a.wav"], "run directory not found"),
    (["train", ".", "--model", "nosuchnet"], "unknown model"),
])
def test_bad_input_gives_one_clear_error(args, expect, tmp_path):
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    assert "error:" in r.output and expect in r.output
    assert "Traceback" not in r.output


# ------------------------------------------------------------------------------------------------
# predict: the run's ONNX export without TensorFlow, a non-zero exit naming unreadable files in
# full, and nothing but the data on stdout for --format json/csv


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    from tests.test_serve_helpers import make_tiny_run

    return make_tiny_run(tmp_path_factory.getbasetemp() / "serve-run")  # shared with tests/test_serve*.py


@pytest.fixture
def clips(tmp_path):
    import soundfile as sf

    from tests.test_serve_helpers import tone

    good = tmp_path / "clips" / "high.wav"
    good.parent.mkdir()
    sf.write(good, tone(3000), 16000)
    bad = tmp_path / "clips" / ("a_broken_recording_with_a_long_name_that_a_table_would_cut_" + "x" * 40 + ".wav")
    bad.write_bytes(b"RIFF not audio")
    return good, bad


def test_predict_uses_the_onnx_export_without_tensorflow(tiny_run, clips):
    import subprocess
    import sys

    good, _ = clips
    code = f"""
import json, sys
from typer.testing import CliRunner
from auricle.cli import app
r = CliRunner().invoke(app, ["predict", {str(tiny_run)!r}, {str(good)!r}, "--format", "json"])
assert r.exit_code == 0, r.output
assert json.loads(r.stdout)[0]["label"] == "high", r.stdout
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TF was imported"
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr[-2000:]
    # the table says what ran
    r = runner.invoke(app, ["predict", str(tiny_run), str(good)])
    assert r.exit_code == 0 and "onnx export" in " ".join(r.stdout.split())


def test_predict_falls_back_to_keras_when_the_export_is_stale_or_asked(tiny_run, clips, tmp_path):
    import os
    import shutil
    import time

    from auricle.inference import fresh_export, load_for_predict

    good, _ = clips
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    assert fresh_export(run) == run / "export" / "onnx"
    future = time.time() + 100
    os.utime(run / "model.keras", (future, future))  # retrained after the export
    assert fresh_export(run) is None
    assert load_for_predict(run)[1] == "keras"
    a = runner.invoke(app, ["predict", str(tiny_run), str(good), "--format", "json", "--runtime", "keras"])
    b = runner.invoke(app, ["predict", str(tiny_run), str(good), "--format", "json"])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    pa, pb = json.loads(a.stdout)[0], json.loads(b.stdout)[0]
    assert pa["label"] == pb["label"] == "high" and abs(pa["probability"] - pb["probability"]) < 1e-4


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_predict_exits_1_naming_each_unreadable_file_in_full(tiny_run, clips, fmt):
    import csv
    import io

    good, bad = clips
    r = runner.invoke(app, ["predict", str(tiny_run), str(good.parent), "--format", fmt])
    assert r.exit_code == 1, r.output
    assert "1 of 2 file(s) could not be read" in r.stderr
    assert f"  {bad}: cannot decode audio" in r.stderr.splitlines()[1]  # the whole name, on one line
    if fmt == "json":
        out = {p["path"]: p for p in json.loads(r.stdout)}
        assert out[str(good)]["label"] == "high" and "cannot decode" in out[str(bad)]["error"]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        assert {row["path"] for row in rows} == {str(good), str(bad)}
        assert [row["label"] for row in rows if row["path"] == str(good)][0] == "high"
    else:
        first_column = "".join(line.split("│")[1].strip() for line in r.stdout.splitlines() if line.startswith("│"))
        assert str(bad) in first_column and "high" in r.stdout  # folded onto several lines, not cut
        assert "…" not in r.stdout


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_predict_machine_formats_keep_progress_text_off_stdout(tiny_run, clips, fmt, monkeypatch):
    import auricle.inference as inference

    real = inference.predict_files

    def chatty(*a, **k):
        print("loading... 50% done")  # what a library's progress output would do
        return real(*a, **k)

    monkeypatch.setattr(inference, "predict_files", chatty)
    good, _ = clips
    r = runner.invoke(app, ["predict", str(tiny_run), str(good), "--format", fmt])
    assert r.exit_code == 0, r.output
    assert "loading" not in r.stdout and "loading... 50% done" in r.stderr
    if fmt == "json":
        assert json.loads(r.stdout)[0]["label"] == "high"
    else:
        assert r.stdout.splitlines()[0] == "path,rank,label,probability,error"


def test_train_tensorboard_and_curves_redrawn_every_epoch(tmp_path, monkeypatch):
    import os

    pytest.importorskip("tensorboard", reason="--tensorboard needs the tensorboard package")

    import auricle.evaluation as evaluation

    drawn = []

    def spy(history, path, **kw):  # instant, so the redraw throttle (for sub-second epochs) never skips
        drawn.append(len(history))

    monkeypatch.setattr(evaluation, "plot_curves", spy)
    root = make_dataset(tmp_path / "data", groups=6, per=2)
    run = tmp_path / "run"
    r = runner.invoke(app, ["train", str(root), "--layout", "manifest", "--out", str(run), "--model", "mlp",
                            "--epochs", "3", "--batch-size", "8", "--no-augment", "--tensorboard",
                            "--set", "features.duration=0.5", "--set", f"train.cache_dir={tmp_path / 'c'}",
                            "--set", "train.workers=1"])
    assert r.exit_code == 0, r.output
    assert drawn[:3] == [1, 2, 3]  # curves.png after each epoch (then once more by the report)
    logs = list((run / "tensorboard").rglob("events.out.tfevents.*"))
    assert logs and any("train" in str(p) for p in logs) and any("validation" in str(p) for p in logs)
    assert "AURICLE_TENSORBOARD" not in os.environ  # not left behind for later runs


def test_train_tensorboard_without_the_package_is_one_clear_error(tmp_path, monkeypatch):
    from auricle.training import callbacks

    monkeypatch.setattr(callbacks, "_have_tensorboard", lambda: False)
    root = make_dataset(tmp_path / "data", groups=6, per=2)
    r = runner.invoke(app, ["train", str(root), "--layout", "manifest", "--out", str(tmp_path / "run"), "--model", "mlp",
                            "--epochs", "1", "--no-augment", "--tensorboard", "--set", "features.duration=0.5",
                            "--set", f"train.cache_dir={tmp_path / 'c'}"])
    assert r.exit_code == 2 and "pip install tensorboard" in " ".join(r.output.split()), r.output
