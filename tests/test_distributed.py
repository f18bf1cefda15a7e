"""Scale-out (issue 25): train.distribute mirrored on two logical CPU devices and multi_worker on two
local processes (loopback ports) give the single-device losses; a killed multi-worker job resumes
from its last epoch; the sharded feature cache built on a two-worker Dask cluster equals the
single-process one byte for byte."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from auricle.config import RunConfig
from auricle.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
CHILD = [sys.executable, str(REPO / "tests" / "_distributed_child.py")]


def _config(root, tmp_path, mode, epochs=2):
    cfg = RunConfig.from_dict({
        "name": "d", "data": {"root": str(root), "layout": "manifest", "val": 0.25, "test": 0.25},
        "features": {"preset": "kws", "duration": 0.5}, "augment": {},
        "model": {"name": "mlp", "options": {"hidden": [16, 8], "dropout": 0.0}},  # no batch norm, no dropout:
        "train": {"epochs": epochs, "batch_size": 8, "learning_rate": 0.003, "workers": 1,  # same maths on N replicas
                  "cache_dir": str(tmp_path / "cache"), "distribute": mode, "keep": "last"}})
    path = tmp_path / f"{mode}.yaml"
    cfg.save(path)
    return path


def _result(proc_out: str) -> dict:
    return json.loads(proc_out.strip().splitlines()[-1])


def _env(**extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO), **extra}
    env.pop("KERAS_BACKEND", None)
    return env


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from tests.test_training import make_dataset

    tmp = tmp_path_factory.mktemp("dist")
    root = make_dataset(tmp / "data", groups=4, per=3)
    return tmp, root


@pytest.fixture(scope="module")
def one_device(data):
    """The single-device reference, trained in this process (no device setup to do before TensorFlow starts)."""
    from tests._distributed_child import run

    tmp, root = data
    return run(_config(root, tmp, "none"), tmp / "none")


def test_mirrored_on_two_logical_cpus_equals_one_device(data, one_device):
    tmp, root = data
    p = subprocess.run(CHILD + [str(_config(root, tmp, "mirrored")), str(tmp / "mirrored"), "--logical-cpus", "2"],
                       capture_output=True, text=True, env=_env(), timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    got = _result(p.stdout)
    assert got["info"]["distribute"] == {"strategy": "mirrored", "replicas": 2}
    np.testing.assert_allclose(got["loss"], one_device["loss"], rtol=1e-4)  # global batch split in two
    assert got["accuracy"] == one_device["accuracy"]


def test_multi_worker_on_two_local_processes_resumes_after_a_kill(data, one_device):
    tmp, root = data
    cfg, out = _config(root, tmp, "multi_worker"), tmp / "mw"
    ports = _free_ports(2)

    def job(*extra):
        procs = []
        for i in range(2):
            tf_config = {"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker", "index": i}}
            procs.append(subprocess.Popen(CHILD + [str(cfg), str(out), *extra], stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, env=_env(TF_CONFIG=json.dumps(tf_config))))
        outs = [p.communicate(timeout=300) for p in procs]
        return [(p.returncode, _result(o)) for p, (o, _) in zip(procs, outs)]

    first = job("--stop-after", "1")  # both workers stop after epoch 1, as a killed job does
    assert [r[1].get("error") for r in first] == ["TrainingInterrupted"] * 2
    assert json.loads((out / "checkpoint" / "state.json").read_text())["epoch"] == 1
    (chief_rc, chief), (other_rc, other) = job("--resume")
    assert chief_rc == 0 and other_rc == 0
    assert chief["epochs"] == [1, 2] and chief["info"]["distribute"] == {"strategy": "multi_worker", "replicas": 2}
    np.testing.assert_allclose(chief["loss"], one_device["loss"], rtol=1e-4)
    assert other == {"loss": [], "epochs": [], "seconds": [], "wall": other["wall"], "accuracy": None, "info": {}}
    assert (out / "model.keras").exists() and not (out / "checkpoint").exists()


def test_distribute_settings_are_checked_before_any_work(tmp_path, monkeypatch):
    from auricle.training.distribute import check

    with pytest.raises(ConfigError, match="train.distribute"):
        RunConfig.from_dict({"train": {"distribute": "horovod"}})
    cfg = RunConfig.from_dict({"train": {"distribute": "multi_worker"}})
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        check(cfg.train)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        check(cfg.train)
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    with pytest.raises(ConfigError, match="TensorFlow backend"):
        check(RunConfig.from_dict({"train": {"distribute": "mirrored"}}).train)


def test_sharded_cache_on_a_two_worker_dask_cluster_equals_one_process(data, tmp_path):
    from auricle.datasets.cache import cached_features
    from auricle.datasets.shards import build_shards, open_shards
    from auricle.features import preset

    _, root = data
    paths = sorted(str(p) for p in root.rglob("*.wav"))
    (root / "broken.wav").write_bytes(b"not audio")
    paths.insert(5, str(root / "broken.wav"))
    cfg = preset("kws", duration=0.5)
    one = build_shards(paths, cfg, cache_dir=tmp_path / "one", shard_size=8, workers=1)
    two = build_shards(paths, cfg, cache_dir=tmp_path / "two", shard_size=8, workers=2)
    assert len(one.shards) == 5 and [s["rows"] for s in one.shards] == [7, 8, 8, 8, 5]
    assert one.shards == two.shards  # row counts, file ranges and sha256 of every shard
    for s in one.shards:
        assert (one.path / f"{s['name']}.npy").read_bytes() == (two.path / f"{s['name']}.npy").read_bytes()
    assert [p for p, _ in two.failures] == [str(root / "broken.wav")]
    ref = cached_features(paths, cfg, cache_dir=tmp_path / "array", workers=1, progress=False)
    np.testing.assert_allclose(two.to_array(), ref.features, atol=1e-4)  # the same features as the array cache
    np.testing.assert_array_equal(two.file_index(), ref.file_index)
    again = build_shards(paths, cfg, cache_dir=tmp_path / "two", shard_size=8, workers=2)
    assert again.cache_hit and open_shards(again.path).shards == two.shards
    # streamed back: every row once per epoch, shuffled across shards, with its file's label
    labels = np.arange(len(paths)) % 3
    ds = two.dataset(labels, n_classes=3, batch_size=10, seed=0, cycle_length=2, shuffle_buffer=16)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (36, 51, 40)
    order = [int(np.flatnonzero((ref.features.reshape(36, -1) == r.reshape(1, -1)).all(1))[0]) for r in x]
    assert sorted(order) == list(range(36)) and order != list(range(36))
    np.testing.assert_array_equal(y.argmax(1), labels[ref.file_index[order]])


def test_bad_shard_settings_are_clear_errors(tmp_path, monkeypatch):
    from auricle.datasets import shards
    from auricle.datasets.shards import build_shards, open_shards
    from auricle.errors import DatasetError
    from auricle.features import preset

    with pytest.raises(ConfigError, match="shard_size"):
        build_shards([], preset("kws"), cache_dir=tmp_path, shard_size=0)
    with pytest.raises(DatasetError, match="not a sharded feature cache"):
        open_shards(tmp_path)
    monkeypatch.setattr(shards, "CONNECT_TIMEOUT", 1)
    with pytest.raises(ConfigError, match="Dask scheduler"):
        build_shards([str(tmp_path / "a.wav")], preset("kws"), cache_dir=tmp_path / "c", cluster="tcp://127.0.0.1:9")


def test_cache_build_command(data, tmp_path):
    from typer.testing import CliRunner

    from auricle.cli import app

    _, root = data
    args = ["cache", "build", str(root), "--layout", "manifest", "--duration", "0.5", "--shard-size", "16",
            "--workers", "1", "--out", str(tmp_path / "c")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "3 shard(s), 36 rows of (51, 40), built" in " ".join(r.output.split())
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0 and "found (cached)" in r.output
    r = CliRunner().invoke(app, ["cache", "build", str(tmp_path / "missing"), "--out", str(tmp_path / "c")])
    assert r.exit_code != 0 and "Traceback" not in r.output
