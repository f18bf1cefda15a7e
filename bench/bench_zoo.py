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
    set_dotted(d, "data.val_groups", [val])
    for s in sets:
        k, v = s.split("=", 1)
        set_dotted(d, k, _value(v))
    return RunConfig.from_dict(d)


def run_fold(model: str, kind: str, args, test: str, val: str, out: Path) -> dict | None:
    """Train one fold; returns metrics.json's content, or None when it failed."""
    t0 = time.time()
    if kind == "classic":
        from rich.console import Console

        from auricle.classic import train_classic

        print(f"$ train_classic({model}, test={test}, val={val}) -> {out}", flush=True)
        cfg = fold_config(args.recipe, model, args.data, test, val, args.set)
        try:
            train_classic(cfg, out, overwrite=True, console=Console(quiet=True), progress=False)
        except Exception as exc:  # report and go on with the other folds
            print(f"  failed: {type(exc).__name__}: {exc}")
            return None
    else:
        auricle = str(Path(sys.executable).parent / "auricle")
        cmd = [auricle, "train", args.data, "--layout", "fsdd", "--recipe", args.recipe, "--model", model,
               "--test-groups", test, "--val-groups", val, "--out", str(out), "--overwrite"]
        for s in args.set:
            cmd += ["--set", s]
        print("$", " ".join(cmd), flush=True)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout[-2000:], r.stderr[-2000:])
            return None
    m = json.loads((out / "metrics.json").read_text())
    m["wall"] = time.time() - t0
    return m


def main():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "fsdd"))
    ap.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated registered model names")
    ap.add_argument("--recipe", default="default", help="recipe the folds start from (features, training)")
    ap.add_argument("--folds", default=",".join(SPEAKERS), help="test speakers to run")
    ap.add_argument("--out", default=str(HERE / "out" / "zoo"))
    ap.add_argument("--set", action="append", default=[], help="extra key=value config overrides (repeatable)")
    args = ap.parse_args()

    from auricle.models import get_model
    import auricle.classic  # noqa: F401  (registers the classic models)

    results: dict[str, dict] = {}
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        kind = get_model(model).kind
        for test in args.folds.split(","):
            val = SPEAKERS[(SPEAKERS.index(test) + 1) % len(SPEAKERS)]
            m = run_fold(model, kind, args, test, val, Path(args.out) / model / test)
            if m is None:
                continue
            run = m["run"]
            row = {"accuracy": m["accuracy"], "val_accuracy": m["splits"].get("val", {}).get("accuracy"),
                   "params": run["params"], "size": run.get("size") or f"{run['params']:,} params",
                   "train_seconds": run["train_seconds"], "wall": m["wall"], "kind": kind}
            results.setdefault(model, {})[test] = row
            print(f"  {model:>14} test={test:<9} val={val:<9} acc={row['accuracy']:.3f}  "
                  f"val_acc={row['val_accuracy'] or float('nan'):.3f}  train={row['train_seconds']:.1f}s  "
                  f"wall={row['wall']:.0f}s", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "zoo.json").write_text(json.dumps(results, indent=1))

    print("\nmodel           " + "  ".join(f"{s[:8]:>8}" for s in SPEAKERS)
          + "      mean     worst  size                     train s  max wall")
    for model, res in results.items():
        accs = [res[s]["accuracy"] for s in SPEAKERS if s in res]
        cells = "  ".join(f"{res[s]['accuracy']:8.1%}" if s in res else f"{'-':>8}" for s in SPEAKERS)
        first = next(iter(res.values()))
        size = first["size"].split(", ")[0] if first["kind"] == "classic" else f"{first['params']:,} params"
        train_s = sum(r["train_seconds"] for r in res.values()) / len(res)
        print(f"{model:<14}  {cells}  {sum(accs) / len(accs):8.1%}  {min(accs):8.1%}  {size:<23}  "
              f"{train_s:7.1f}  {max(r['wall'] for r in res.values()):7.0f}s")
    print(f"\n(folds run: {', '.join(args.folds.split(','))}; results in {out / 'zoo.json'})")


if __name__ == "__main__":
    main()
