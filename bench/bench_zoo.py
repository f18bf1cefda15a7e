"""FSDD leave-one-speaker-out for a list of models, Keras and classic: accuracy, size, training time.

Speakers in alphabetical order; fold i tests on speaker i, validates on speaker i+1 (wrapping)
and trains on the other four (as bench/fsdd_loso.py).  Keras models run as one
`auricle train ... --model M --test-groups S --val-groups V` command per fold (printed);
classic models (kind "classic", scikit-learn on summary features) are fitted in this process
with :func:`auricle.classic.train_classic` on the same config and splits, which needs no
TensorFlow.  Run by hand (the full table is 6 folds x models):

    .venv/bin/python bench/bench_zoo.py                                   # cnn2, xgboost, random_forest, svm, knn, logreg
    .venv/bin/python bench/bench_zoo.py --models svm --folds george       # one model, one fold
    .venv/bin/python bench/bench_zoo.py --models cnn,ds_cnn --set train.epochs=20
    .venv/bin/python bench/bench_zoo.py --models resnet_tiny --set "train.teacher=runs/fsdd/default/{test}"

``{test}`` and ``{val}`` in a ``--set`` value become the fold's test and validation speaker: a
student distils from the teacher run of its own fold (`bench/fsdd_loso.py` writes
``OUT/RECIPE/SPEAKER``), never from one that saw its test speaker.

Per model it prints the accuracy per fold, mean and worst, the size (Keras parameters, or
trees / support vectors / stored examples), mean training (fit) time per fold and the largest
wall time of a fold, and writes everything to ``--out``/zoo.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
HERE = Path(__file__).resolve().parent
DEFAULT_MODELS = "cnn2,xgboost,random_forest,svm,knn,logreg"


def _value(text: str):
    import yaml

    try:
        return yaml.safe_load(text)
    except Exception:
        return text


def fold_config(recipe: str, model: str, data: str, test: str, val: str, sets: list[str]):
    """The config `auricle train DATA --layout fsdd --recipe R --model M --test-groups .. --val-groups ..` builds."""
    from auricle.config import RunConfig, recipe as get_recipe, set_dotted

    d = get_recipe(recipe).to_dict()
    if model != d["model"]["name"]:
        d["model"] = {"name": model, "options": {}}
    set_dotted(d, "data.root", data)
    set_dotted(d, "data.layout", "fsdd")
    set_dotted(d, "data.test_groups", [test])
    set_dotted(d, "data.val_groups", [val] if val else [])
    for s in sets:
        k, v = s.split("=", 1)
        set_dotted(d, k, _value(v))
    return RunConfig.from_dict(d)


def refits(sets: list[str]) -> bool:
    """True when the overrides empty the validation split (``data.val_groups=[]``): the fold then
    trains on all five other speakers and has no validation speaker to name."""
    return any(k.strip() == "data.val_groups" and _value(v) == [] for k, _, v in (s.partition("=") for s in sets))


def parse_spec(spec: str) -> tuple[str, str, list[str]]:
    """``label=model;key=value;...`` (or just ``model``) -> (label, model, extra --set items)."""
    head, *sets = [p.strip() for p in spec.split(";") if p.strip()]
    label, _, model = head.partition("=")
    return (label, model, sets) if model else (head, head, sets)


def run_fold(label: str, model: str, kind: str, sets: list[str], args, test: str, val: str, out: Path):
    """Train one fold; returns metrics.json's content (plus wall seconds), or None when it failed.

    Keras folds return a started subprocess instead (run in parallel with ``--jobs``);
    :func:`finish_fold` collects it."""
    t0 = time.time()
    if kind == "classic":
        from rich.console import Console

        from auricle.classic import train_classic

        print(f"$ train_classic({model}, test={test}, val={val}) -> {out}", flush=True)
        cfg = fold_config(args.recipe, model, args.data, test, val, args.set + sets)
        try:
            train_classic(cfg, out, overwrite=True, console=Console(quiet=True), progress=False)
        except Exception as exc:  # report and go on with the other folds
            print(f"  failed: {type(exc).__name__}: {exc}")
            return None
        m = json.loads((out / "metrics.json").read_text())
        m["wall"] = time.time() - t0
        return m
    cmd = [sys.executable, "-m", "auricle", "train", args.data, "--layout", "fsdd", "--recipe", args.recipe,
           "--model", model, "--test-groups", test, *(["--val-groups", val] if val else []), "--out", str(out),
           "--overwrite"]
    for s in args.set + sets:  # {test} and {val} name the fold's speakers (a teacher run per fold)
        cmd += ["--set", s.replace("{test}", test).replace("{val}", val or "")]
    print("$", " ".join(cmd), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    log = open(out.parent / f"{test}.log", "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), t0, log


def finish_fold(proc, t0, log, out: Path):
    log.close()
    if proc.returncode != 0 or not (out / "metrics.json").exists():
        print(f"  failed ({proc.returncode}): {out}\n" + Path(log.name).read_text()[-1500:], flush=True)
        return None
    m = json.loads((out / "metrics.json").read_text())
    m["wall"] = time.time() - t0
    return m


def row_of(m: dict, kind: str, model: str, sets: list[str]) -> dict:
    run = m["run"]
    return {"accuracy": m["accuracy"], "macro_f1": m.get("macro_f1"),
            "val_accuracy": m["splits"].get("val", {}).get("accuracy"),
            "params": run["params"], "size": run.get("size") or f"{run['params']:,} params",
            "train_seconds": run["train_seconds"], "epochs_run": run.get("epochs_run"),
            "best_epoch": run.get("best_epoch"), "wall": m["wall"], "kind": kind, "model": model, "sets": sets}


def print_table(results: dict) -> None:
    print("\nmodel               " + "  ".join(f"{s[:8]:>8}" for s in SPEAKERS)
          + "      mean     worst  val mean  size                     train s  max wall")
    for label, res in results.items():
        accs = [res[s]["accuracy"] for s in SPEAKERS if s in res]
        vals = [res[s]["val_accuracy"] for s in SPEAKERS if s in res and res[s]["val_accuracy"] is not None]
        cells = "  ".join(f"{res[s]['accuracy']:8.1%}" if s in res else f"{'-':>8}" for s in SPEAKERS)
        first = next(iter(res.values()))
        size = first["size"].split(", ")[0] if first["kind"] == "classic" else f"{first['params']:,} params"
        train_s = sum(r["train_seconds"] for r in res.values()) / len(res)
        vmean = f"{sum(vals) / len(vals):8.1%}" if vals else f"{'-':>8}"
        print(f"{label:<18}  {cells}  {sum(accs) / len(accs):8.1%}  {min(accs):8.1%}  {vmean}  {size:<23}  "
              f"{train_s:7.1f}  {max(r['wall'] for r in res.values()):7.0f}s")


def main():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "fsdd"))
    ap.add_argument("--models", default=DEFAULT_MODELS,
                    help="comma-separated specs: a registered model name, or label=model;key=value;... "
                         "(per-model config overrides; use --spec for specs whose values hold commas)")
    ap.add_argument("--spec", action="append", default=[], help="one label=model;key=value;... spec (repeatable)")
    ap.add_argument("--recipe", default="default", help="recipe the folds start from (features, training)")
    ap.add_argument("--folds", default=",".join(SPEAKERS), help="test speakers to run")
    ap.add_argument("--out", default=str(HERE / "out" / "zoo"))
    ap.add_argument("--set", action="append", default=[], help="extra key=value config overrides (repeatable)")
    ap.add_argument("--val-offset", type=int, default=1,
                    help="fold i validates on speaker i+OFFSET (wrapping); 1 everywhere else in bench/")
    ap.add_argument("--jobs", type=int, default=1, help="Keras folds trained at the same time (subprocesses)")
    ap.add_argument("--deadline", type=float, default=0,
                    help="seconds after which no new fold starts (0 = none); finished folds are kept")
    ap.add_argument("--table", nargs="*", default=None, metavar="JSONL",
                    help="only print the table of earlier results (results.jsonl files) and exit")
    args = ap.parse_args()

    if args.table is not None:
        results: dict[str, dict] = {}
        for f in args.table:
            for line in Path(f).read_text().splitlines():
                r = json.loads(line)
                results.setdefault(r["label"], {})[r["test"]] = r
        print_table(results)
        return

    from auricle.models import get_model
    import auricle.classic  # noqa: F401  (registers the classic models)

    specs = [parse_spec(m) for m in args.models.split(",") if m.strip()] + [parse_spec(s) for s in args.spec]
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)
    jsonl = open(out_root / "results.jsonl", "a")
    results: dict[str, dict] = {}
    t_start = time.time()

    def record(label, model, kind, sets, test, val, m):
        row = row_of(m, kind, model, sets)
        results.setdefault(label, {})[test] = row
        jsonl.write(json.dumps({"label": label, "test": test, "val": val, **row}) + "\n")
        jsonl.flush()
        print(f"  {label:>18} test={test:<9} val={val or '-':<9} acc={row['accuracy']:.3f}  "
              f"val_acc={row['val_accuracy'] or float('nan'):.3f}  train={row['train_seconds']:.1f}s  "
              f"wall={row['wall']:.0f}s  [{time.time() - t_start:.0f}s]", flush=True)

    queue = []
    for label, model, sets in specs:
        kind = get_model(model).kind
        for test in args.folds.split(","):
            val = SPEAKERS[(SPEAKERS.index(test) + args.val_offset) % len(SPEAKERS)]
            if val == test:
                raise SystemExit("--val-offset must not pick the test speaker")
            if refits(args.set + sets):
                val = None
            queue.append((label, model, kind, sets, test, val, out_root / label / test))
    running = []
    while queue or running:
        while queue and len(running) < max(1, args.jobs):
            if args.deadline and time.time() - t_start > args.deadline:
                print(f"deadline reached: {len(queue)} folds not started", flush=True)
                queue.clear()
                break
            label, model, kind, sets, test, val, out = queue.pop(0)
            started = run_fold(label, model, kind, sets, args, test, val, out)
            if kind == "classic":
                if started is not None:
                    record(label, model, kind, sets, test, val, started)
            else:
                running.append(((label, model, kind, sets, test, val, out), started))
        for item in list(running):
            (label, model, kind, sets, test, val, out), (proc, t0, log) = item
            if proc.poll() is not None:
                running.remove(item)
                m = finish_fold(proc, t0, log, out)
                if m is not None:
                    record(label, model, kind, sets, test, val, m)
        if running:
            time.sleep(0.5)
    (out_root / "zoo.json").write_text(json.dumps(results, indent=1))
    print_table(results)
    print(f"\n(folds run: {', '.join(args.folds.split(','))}; results in {out_root / 'results.jsonl'})")


if __name__ == "__main__":
    main()
