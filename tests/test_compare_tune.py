"""``auricle compare`` on a Keras and a classic run; ``auricle tune`` with two short trials."""
import json

import pytest
from typer.testing import CliRunner

from auricle.config import RunConfig
from test_training import make_dataset, small_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cmp")
    return make_dataset(tmp / "data", groups=6, per=2), tmp


@pytest.fixture(scope="module")
def two_runs(data):
    from rich.console import Console

    from auricle.classic import train_classic
    from auricle.training import train

    root, tmp = data
    quiet = Console(quiet=True)
    keras_run = tmp / "runs" / "cnn"
    train(small_config(root, tmp, epochs=1), keras_run, console=quiet, progress=False)
    d = small_config(root, tmp).to_dict()
    d["model"] = {"name": "svm", "options": {}}
    classic_run = tmp / "runs" / "svm"
    train_classic(RunConfig.from_dict(d), classic_run, console=quiet, progress=False)
    return keras_run, classic_run


def test_compare_rows(two_runs):
    from auricle.classic.compare import compare_runs

    rows = compare_runs(list(two_runs), max_clips=8, repeats=1)
    assert [r["kind"] for r in rows] == ["keras", "classic"]
    assert [r["name"] for r in rows] == ["cnn", "svm"]
    for r, run in zip(rows, two_runs):
        m = json.loads((run / "metrics.json").read_text())
        assert r["accuracy"] == m["accuracy"] and r["macro_f1"] == m["macro_f1"]
        assert r["train_seconds"] == m["run"]["train_seconds"]
        assert r["model_ms"] > 0 and r["feature_ms"] > 0 and r["params"] > 0
        assert r["batch"] <= 8 and r["timed_on"] == "test clips"
    assert rows[1]["size"].endswith("support vectors")


def test_compare_command(two_runs, tmp_path):
    from auricle.cli import app

    png, js = tmp_path / "cmp.png", tmp_path / "cmp.json"
    r = CliRunner().invoke(app, ["compare", *map(str, two_runs), "--out", str(png), "--json", str(js),
                                 "--clips", "8", "--repeats", "1"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "svm" in r.output and "cnn" in r.output and "support" in r.output.replace("SVs", "support")
    assert png.stat().st_size > 1000 and len(json.loads(js.read_text())) == 2
    bad = CliRunner().invoke(app, ["compare", str(tmp_path)])
    assert bad.exit_code == 2 and "not a finished run" in " ".join(bad.output.split())  # rich wraps long paths


def test_tune_two_trials(data):
    from rich.console import Console

    from auricle.classic.tuning import tune

    root, tmp = data
    out = tmp / "tune"
    res = tune(small_config(root, tmp), out, trials=2, epochs=1, console=Console(quiet=True))
    assert res["trials"] == 2 and res["complete"] == 2 and 0 <= res["best_value"] <= 1
    best = RunConfig.load(out / "best.yaml")  # a complete, valid config
    assert best.train.epochs == 6  # the config's own epochs, not the trials'
    p = res["best_params"]
    assert best.train.learning_rate == pytest.approx(p["learning_rate"])
    assert best.train.batch_size == p["batch_size"] and best.model["options"]["dropout"] == pytest.approx(p["dropout"])
    assert best.feature_config().n_mels == p["n_mels"]
    assert best.model["options"]["dense"] == 16  # untouched settings are kept
    assert (out / "search.png").stat().st_size > 1000
    lines = (out / "trials.csv").read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("trial,state,value")
    assert (out / "trials" / "000" / "history.csv").exists()


def test_tune_command_and_errors(data, tmp_path):
    from auricle.cli import app

    root, tmp = data
    cfg = tmp_path / "cfg.yaml"
    small_config(root, tmp).save(cfg)
    r = CliRunner().invoke(app, ["tune", str(cfg), "--trials", "1", "--epochs", "1", "--params",
                                 "learning_rate,optimizer", "--out", str(tmp_path / "t")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "best val_accuracy" in r.output and (tmp_path / "t" / "best.yaml").exists()
    again = CliRunner().invoke(app, ["tune", str(cfg), "--trials", "1", "--out", str(tmp_path / "t")])
    assert again.exit_code == 2 and "not empty" in again.output
    bad = CliRunner().invoke(app, ["tune", str(cfg), "--params", "momentum", "--out", str(tmp_path / "u")])
    assert bad.exit_code == 2 and "unknown tune parameter" in bad.output
    d = small_config(root, tmp).to_dict()
    d["model"] = {"name": "knn", "options": {}}
    RunConfig.from_dict(d).save(cfg)
    classic = CliRunner().invoke(app, ["tune", str(cfg), "--out", str(tmp_path / "v")])
    assert classic.exit_code == 2 and "Keras models" in classic.output
