"""Child process of tests/test_distributed.py and bench/bench_scale.py: TensorFlow's device setup
must happen before TensorFlow initialises, so each distributed run gets its own process.

    python tests/_distributed_child.py CONFIG.yaml OUT [--logical-cpus N] [--resume] [--stop-after E]

Prints one JSON line: the run's history losses, the replica count and the examples/s of training.
"""
import argparse
import json
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("out")
    ap.add_argument("--logical-cpus", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--stop-after", type=int, default=0, help="raise KeyboardInterrupt after this epoch (a killed job)")
    a = ap.parse_args(argv)
    import tensorflow as tf

    if a.logical_cpus:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * a.logical_cpus)
    from auricle.config import RunConfig
    from auricle.errors import AuricleError
    from auricle.training import callbacks, train

    if a.stop_after:
        base = callbacks.RunCallback

        class Stop(base):
            def on_epoch_end(self, epoch, logs=None):
                super().on_epoch_end(epoch, logs)
                if epoch + 1 == a.stop_after:
                    raise KeyboardInterrupt

        callbacks.RunCallback = Stop
    out = Path(a.out)
    t0 = time.time()
    try:
        metrics = train(None if a.resume else RunConfig.load(a.config), out, resume=a.resume, progress=False)
    except AuricleError as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
        return 3
    hist = []
    if (out / "history.csv").exists() and metrics:
        rows = (out / "history.csv").read_text().splitlines()
        keys = rows[0].split(",")
        hist = [dict(zip(keys, map(float, r.split(",")))) for r in rows[1:]]
    info = json.loads((out / "metrics.json").read_text()).get("run", {}) if metrics else {}
    print(json.dumps({"loss": [h["loss"] for h in hist], "epochs": [int(h["epoch"]) for h in hist],
                      "seconds": [h["seconds"] for h in hist], "wall": time.time() - t0,
                      "accuracy": metrics.get("accuracy") if metrics else None, "info": info}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
