"""``data.cache: auto|memory|shards`` (issue 25): ``auricle train`` streaming its training split from
the sharded feature cache through tf.data, on a tiny generated low-tone / high-tone / noise task."""
import json

import numpy as np
import pytest
import yaml

from auricle import data as data_mod
from auricle.config import RunConfig
from auricle.datasets.shards import ShardedRows, build_shards
from auricle.errors import ConfigError
from auricle.features import preset


def _config(root, tmp, *, cache="shards", augment=None, features=None, **train):
    return RunConfig.from_dict({
        "name": "s", "data": {"root": str(root), "layout": "manifest", "val": 0.25, "test": 0.25, "cache": cache},
        "features": {"preset": "kws", "duration": 0.5, "normalize": "per_clip", **(features or {})},
        "augment": augment or {},
        "model": {"name": "mlp", "options": {"hidden": [16]}},
        "train": {"epochs": 4, "batch_size": 8, "learning_rate": 0.003, "workers": 1, "keep": "last",
                  "cache_dir": str(tmp / "cache"), **train}})


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from tests.test_training import make_dataset

    tmp = tmp_path_factory.mktemp("shardtrain")
    return tmp, make_dataset(tmp / "data", groups=4, per=3)


@pytest.fixture(scope="module")
def runs(data):
    """The same run trained from the in-memory cache and streamed from shards (class weights on)."""
    from auricle.training import train

    tmp, root = data
    out = {}
    for cache in ("memory", "shards"):
        train(_config(root, tmp, cache=cache, class_weight="balanced"), tmp / cache, progress=False)
        out[cache] = tmp / cache
    return out


def test_streamed_training_has_the_memory_runs_plumbing_and_learns(runs):
    mem = json.loads((runs["memory"] / "metrics.json").read_text())
    sh = json.loads((runs["shards"] / "metrics.json").read_text())
    assert (runs["memory"] / "labels.json").read_text() == (runs["shards"] / "labels.json").read_text()
    assert set(sh) == set(mem) and set(sh["run"]) == set(mem["run"]) and set(sh["splits"]) == {"train", "val", "test"}
    for key in ("counts", "class_counts", "class_weight"):
        assert sh["run"][key] == mem["run"][key]
    assert set(sh["per_class"]) == {"low", "high", "noise"}
    assert sh["splits"]["train"]["n"] == 18 and sh["run"]["epochs_run"] == 4
    assert sh["splits"]["test"]["accuracy"] >= 8 / 9  # a trivially separable task, learned from the stream
    saved = yaml.safe_load((runs["shards"] / "config.yaml").read_text())
    assert saved["data"]["cache"] == "shards"
    assert len((runs["shards"] / "history.csv").read_text().splitlines()) == 5


def test_stream_carries_weights_oversampling_and_per_batch_transforms(data):
    tmp, root = data
    paths = sorted(str(p) for p in root.rglob("*.wav"))[:20]
    sh = build_shards(paths, preset("kws", duration=0.5), cache_dir=tmp / "unit", shard_size=6)
    view = ShardedRows(sh)
    full = sh.to_array()
    assert view.shape == (20, 51, 40) and len(view) == 20
    np.testing.assert_array_equal(view[3:9], full[3:9])  # slices read rows (predict_probs' batches)
    np.testing.assert_array_equal(view[7], full[7])
    rows = np.array([0, 0, 0, 5, 7, 7, 19])  # a lazy, oversampled selection: no copy of the features
    sel = view[rows]
    assert isinstance(sel, ShardedRows) and sel.shape == (7, 51, 40)
    np.testing.assert_array_equal(np.asarray(sel), full[rows])
    y = np.array([0, 0, 0, 1, 2, 2, 1])
    w = np.array([1.0, 1.0, 1.0, 3.0, 1.5, 1.5, 3.0], np.float32)

    def plus_one(x, oh, weights, rng):
        return x + 1.0, oh, weights * 2

    def epoch(seed):
        out = [tuple(t.numpy() for t in b) for b in sel.dataset(y, n_classes=3, batch_size=3, seed=seed, weights=w,
                                                                 batch_fn=plus_one, shuffle_buffer=4, block=2)]
        return [np.concatenate(c) for c in zip(*out)]

    x, oh, ww = epoch(0)
    assert x.shape == (7, 51, 40) and oh.shape == (7, 3)
    flat = full.reshape(20, -1) + 1.0
    got_rows = [int(np.flatnonzero((flat == r.reshape(1, -1)).all(1))[0]) for r in x]
    assert sorted(got_rows) == sorted(rows.tolist())  # every selected row, repeats included, once per epoch
    lookup = {int(r): (int(c), float(v)) for r, c, v in zip(rows, y, w)}
    assert [(int(a), float(b)) for a, b in zip(oh.argmax(1), ww / 2)] == [lookup[r] for r in got_rows]
    again = epoch(0)
    np.testing.assert_array_equal(again[0], x)  # seeded: the same stream


def test_auto_picks_memory_for_small_data_and_shards_above_the_threshold(data, monkeypatch):
    tmp, root = data
    cfg = _config(root, tmp, cache="auto")
    prep, _ = data_mod.prepare(cfg, progress=False)
    assert prep.cache == "memory" and isinstance(prep.splits["train"].x, np.ndarray)
    est = data_mod.estimate_feature_bytes(cfg, [it for it in _items(cfg) if it.split == "train"])
    assert est == 18 * 51 * 40 * 4 and est < data_mod.shard_threshold()
    monkeypatch.setattr(data_mod, "AUTO_SHARDS_BYTES", est - 1)
    prep, _ = data_mod.prepare(cfg, progress=False)
    assert prep.cache == "shards" and isinstance(prep.splits["train"].x, ShardedRows)
    assert isinstance(prep.splits["val"].x, np.ndarray) and isinstance(prep.splits["test"].x, np.ndarray)
    mem, _ = data_mod.prepare(_config(root, tmp, cache="memory"), progress=False)
    np.testing.assert_allclose(np.asarray(prep.splits["train"].x), mem.splits["train"].x, atol=1e-4)
    np.testing.assert_array_equal(prep.splits["train"].y, mem.splits["train"].y)
    # above the threshold but waveform augmentation needs the audio: auto keeps memory, shards refuses
    wave = _config(root, tmp, cache="auto", augment={"gain": {"p": 0.5}})
    assert data_mod.choose_cache(wave, [], with_train_waves=True) == "memory"
    wave.data.cache = "shards"
    with pytest.raises(ConfigError, match="waveform augmentation"):
        data_mod.prepare(wave, progress=False, with_train_waves=True)
    var = _config(root, tmp, cache="shards")
    var.data.variable_length = True
    with pytest.raises(ConfigError, match="data.variable_length"):
        data_mod.choose_cache(var, [])
    dist = _config(root, tmp, cache="shards", distribute="mirrored")
    with pytest.raises(ConfigError, match="train.distribute: mirrored"):
        data_mod.choose_cache(dist, [])


def _items(cfg):
    return data_mod.load_dataset(cfg.data, progress=False, cache_dir=cfg.train.cache_dir).items


def test_shards_reused_on_a_second_run_and_rebuilt_when_features_change(data):
    tmp, root = data
    first, _ = data_mod.prepare(_config(root, tmp), progress=False)
    again, _ = data_mod.prepare(_config(root, tmp), progress=False)
    a, b = first.splits["train"].x.shards, again.splits["train"].x.shards
    assert b.cache_hit and b.path == a.path
    other, _ = data_mod.prepare(_config(root, tmp, features={"n_mels": 32}), progress=False)
    c = other.splits["train"].x.shards
    assert not c.cache_hit and c.path != a.path and c.shape == (51, 32)


def test_bad_cache_settings_are_config_errors():
    with pytest.raises(ConfigError, match="data.cache must be one of auto, memory, shards"):
        RunConfig.from_dict({"data": {"cache": "disk"}})
    with pytest.raises(ConfigError, match="Dask scheduler address"):
        RunConfig.from_dict({"data": {"cache": "shards", "cache_cluster": "localhost"}})
    assert RunConfig.from_dict({"data": {"cache_cluster": "tcp://10.0.0.1:8786"}}).data.cache == "auto"


def test_train_command_builds_shards_on_a_dask_scheduler(data, tmp_path):
    from distributed import LocalCluster
    from typer.testing import CliRunner

    from auricle.cli import app

    _, root = data
    cfg = _config(root, tmp_path, cache="auto", epochs=1)
    cfg.save(tmp_path / "c.yaml")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=None) as lc:
        address = lc.scheduler_address
        assert address.startswith("tcp://")
        r = CliRunner().invoke(app, ["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run"),
                                     "--cluster", address, "--workers", "2"])
    assert r.exit_code == 0, r.output
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["data"]["cache"] == "shards" and saved["data"]["cache_cluster"] == address
    assert saved["train"]["workers"] == 2
    assert "streamed from 1 shard(s)" in " ".join(r.output.split())
    assert list((tmp_path / "cache" / "shards").glob("*/index.json"))
    mem = _config(root, tmp_path, cache="memory")
    mem.save(tmp_path / "m.yaml")
    r = CliRunner().invoke(app, ["train", "--config", str(tmp_path / "m.yaml"), "--out", str(tmp_path / "r2"),
                                 "--cluster", "tcp://127.0.0.1:9"])
    assert r.exit_code != 0 and "data.cache is memory" in r.output and "Traceback" not in r.output
