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
