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
    from auricle.errors import AuricleError
    from auricle.training import callbacks

    if a.stop_after:
        base = callbacks.RunCallback

        class Stop(base):
            def on_epoch_end(self, epoch, logs=None):
                super().on_epoch_end(epoch, logs)
                if epoch + 1 == a.stop_after:
                    raise KeyboardInterrupt

        callbacks.RunCallback = Stop
    try:
        result = run(a.config, a.out, resume=a.resume)
    except AuricleError as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
        return 3
    print(json.dumps(result))
    return 0


def run(config, out, *, resume: bool = False) -> dict:
    """Train (or resume) one run and return its losses, epochs, seconds, wall time, accuracy and run info.

    tests/test_distributed.py calls this in its own process for the one-device reference run.
    """
    from auricle.config import RunConfig
    from auricle.training import train

    out = Path(out)
    t0 = time.time()
    metrics = train(None if resume else RunConfig.load(config), out, resume=resume, progress=False)
    hist = []
    if (out / "history.csv").exists() and metrics:
        rows = (out / "history.csv").read_text().splitlines()
        keys = rows[0].split(",")
        hist = [dict(zip(keys, map(float, r.split(",")))) for r in rows[1:]]
    info = json.loads((out / "metrics.json").read_text()).get("run", {}) if metrics else {}
    return {"loss": [h["loss"] for h in hist], "epochs": [int(h["epoch"]) for h in hist],
            "seconds": [h["seconds"] for h in hist], "wall": time.time() - t0,
            "accuracy": metrics.get("accuracy") if metrics else None, "info": info}


if __name__ == "__main__":
    sys.exit(main())
