"""Cross-validation (auricle.crossval, ``auricle train --folds K``) on tiny generated data, 1 epoch a fold."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from auricle.config import RunConfig
from auricle.crossval import cross_validate, fold_config, fold_plan
from auricle.datasets import Dataset, Item, index
from auricle.errors import ConfigError, DatasetError

SR = 8000
MODEL = "logreg"  # a classic model: one fold trains and evaluates in about a second


def _clip(label, rng, seconds=0.5):
    t = np.arange(int(SR * seconds)) / SR
    f = {"low": 300.0, "high": 1800.0}[label]
    return (0.4 * np.sin(2 * np.pi * f * t) + 0.02 * rng.standard_normal(len(t))).astype("float32")


def write_esc50(root, folds=3):
    """An ESC-50-style folder: meta/esc50.csv with ``folds`` folds, two source recordings per class and fold."""
    rng = np.random.default_rng(0)
    (root / "audio").mkdir(parents=True)
    (root / "meta").mkdir()
    rows = []
    for fold in range(1, folds + 1):
        for ci, cat in enumerate(("low", "high")):
            for s in range(2):
                src = f"{fold}{ci}{s}"
                fn = f"{fold}-{src}-A-{ci}.wav"
                sf.write(root / "audio" / fn, _clip(cat, rng), SR)
                rows.append([fn, fold, ci, cat, "False", src, "A"])
    with open(root / "meta" / "esc50.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        w.writerows(rows)
    return root


def write_manifest(root, groups=6):
    rng = np.random.default_rng(1)
    root.mkdir(parents=True)
    lines = ["path,label,group"]
    for g in range(groups):
        for lab in ("low", "high"):
            sf.write(root / f"{lab}_{g}.wav", _clip(lab, rng), SR)
            lines.append(f"{lab}_{g}.wav,{lab},spk{g}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


def tiny_cfg(root, tmp_path, layout):
    return RunConfig.from_dict({
        "name": "cv", "data": {"root": str(root), "layout": layout},
        "features": {"preset": "kws", "duration": 0.5, "sr": SR, "fmax": 4000.0},
        "model": {"name": MODEL, "options": {}},
        "train": {"epochs": 1, "batch_size": 8, "workers": 1, "cache_dir": str(tmp_path / "cache")}})


def test_group_kfold_plan_is_disjoint_balanced_and_seeded():
    items = [Item(f"/{g}_{i}.wav", "xy"[i % 2], f"g{g}") for g in range(7) for i in range(2 + (g == 0) * 4)]
    ds = Dataset("/d", "manifest", items)
    plan = fold_plan(ds, folds=3, seed=0)
    assert plan["kind"] == "group"
    flat = [g for f in plan["folds"] for g in f]
    assert sorted(flat) == sorted(ds.groups())                          # every group in exactly one fold
    sizes = [sum(it.group in f for it in items) for f in plan["folds"]]
    assert max(sizes) - min(sizes) <= 2 and fold_plan(ds, folds=3, seed=0) == plan
    cfg = RunConfig.from_dict({"name": "x", "data": {"root": "/d", "layout": "manifest"}})
    f2 = fold_config(cfg, plan, 2)                                     # fold 3 tests, fold 1 validates
    assert f2.data.test_groups == plan["folds"][2] and f2.data.val_groups == plan["folds"][0]
    assert f2.name == "x-fold3" and f2.origin == {"fold": 3, "folds": 3}
    with pytest.raises(DatasetError, match="at least 8 groups"):
        fold_plan(ds, folds=8)
    with pytest.raises(ConfigError, match="at least 3"):
        fold_plan(ds, folds=2)


def test_esc50_folds_come_from_the_layout(tmp_path):
    ds = index(write_esc50(tmp_path / "esc", folds=3), test_fold=None, val_fold=None)
    plan = fold_plan(ds, folds=None)
    assert plan == {"kind": "layout", "folds": [1, 2, 3]}
    with pytest.raises(ConfigError, match="--folds 3"):
        fold_plan(ds, folds=5)
    cfg = fold_config(tiny_cfg(tmp_path / "esc", tmp_path, "esc50"), plan, 2)
    assert cfg.data.options == {"test_fold": 3, "val_fold": 1}


def test_group_kfold_trains_one_run_per_fold_and_summarizes(tmp_path):
    root = write_manifest(tmp_path / "m")
    s = cross_validate(tiny_cfg(root, tmp_path, "manifest"), tmp_path / "cv", folds=3, progress=False)
    assert [r["fold"] for r in s["folds"]] == [1, 2, 3] and s["kind"] == "group"
    tested = set()
    for i, r in enumerate(s["folds"], 1):
        run = tmp_path / "cv" / f"fold{i}"
        m = json.loads((run / "metrics.json").read_text())
        assert m["evaluated_on"] == "test" and r["accuracy"] == pytest.approx(m["accuracy"])
        assert r["n_recordings"] == 4                                    # 2 speakers x 2 classes per fold
        tested |= set(RunConfig.load(run / "config.yaml").data.test_groups)
    assert tested == {f"spk{g}" for g in range(6)}                       # every speaker tested once
    acc = [r["accuracy"] for r in s["folds"]]
    assert s["mean"]["accuracy"] == pytest.approx(np.mean(acc)) and s["std"]["accuracy"] == pytest.approx(np.std(acc))
    assert json.loads((tmp_path / "cv" / "cv_summary.json").read_text())["mean"] == s["mean"]
    md = (tmp_path / "cv" / "cv_summary.md").read_text()
    assert "mean +- std" in md and f"{s['mean']['accuracy']:.2%}" in md
    assert (tmp_path / "cv" / "cv_folds.png").stat().st_size > 1000


def test_cli_folds_on_esc50_layout(tmp_path):
    from auricle.cli import app

    root = write_esc50(tmp_path / "esc", folds=3)
    cfg = tiny_cfg(root, tmp_path, "esc50")
    cfg.save(tmp_path / "cv.yaml")
    out = tmp_path / "cv"
    r = CliRunner().invoke(app, ["train", "--config", str(tmp_path / "cv.yaml"), "--folds", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "cv_summary.json").read_text())
    assert s["kind"] == "layout" and [r["test"] for r in s["folds"]] == [1, 2, 3]
    assert RunConfig.load(out / "fold2" / "config.yaml").data.options == {"test_fold": 2, "val_fold": 3}
    assert "cross-validation cv:" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["train", "--config", str(tmp_path / "cv.yaml"), "--folds", "3", "--out", str(out)])
    assert r.exit_code == 2 and "already exists" in r.output
