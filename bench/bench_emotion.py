"""Speech emotion bench: ``--recipe auto`` vs ``--recipe classic`` vs XGBoost on summary features.

Real data: the URDU emotional speech set (400 utterances, 4 emotions, 38 speakers; research use
only, never copied into the repository), default ``../shared/data/urdu``.  File names
``S{G}{X}_F{NN}_{E}{YY}``: the speaker ``{G}{X}`` is the group, so every split is
speaker-disjoint.  For each seed the split (``data.split_seed``) and the training seed change
together; every arm sees the same split.  Printed: accuracy per recording on the held-out test
speakers, on the validation speakers (the only figure settings are chosen on), and the wall time
of each run; mean and spread (std over seeds).  Results: ``WORK/results.json`` and ``.md``.

    nice -n 10 .venv/bin/python bench/bench_emotion.py                      # 3 seeds, 3 arms
    nice -n 10 .venv/bin/python bench/bench_emotion.py --arms auto --set model.name=cnn2   # a variant

Figures and conclusions: docs/experiments/domains.md.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = re.compile(r"^S([MF]\d+)_F\d+_([AHNS])\d+$")


def write_manifest(data: Path, out: Path) -> Path:
    """``path,label,group`` for every utterance (label = its folder, group = the speaker)."""
    rows = ["path,label,group"]
    for p in sorted(data.glob("*/*")):
        m = NAME.match(p.stem)
        if m and p.suffix.lower() in (".flac", ".wav"):
            rows.append(f"{p},{p.parent.name},{m.group(1)}")
    if len(rows) < 50:
        raise SystemExit(f"error: found {len(rows) - 1} URDU utterances under {data}; pass --data FOLDER")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(rows) + "\n")
    return out


def _figures(m: dict) -> dict:
    rec = m.get("per_recording") or m
    val = m["splits"].get("val", {})
    run = m.get("run") or {}
    return {"test": float(rec["accuracy"]), "test_f1": float(rec["macro_f1"]), "n_test": int(rec["n"]),
            "val": float((val.get("per_recording") or val).get("accuracy", float("nan"))),
            "seconds": float(run.get("wall_seconds", 0.0))}


def run_arm(arm: str, seed: int, manifest: Path, work: Path, sets: list[str], epochs: int | None) -> dict:
    from rich.console import Console

    from auricle.cli._app import _parse_value
    from auricle.config import RunConfig, recipe, set_dotted
    from auricle.datasets.profile import auto_recipe, origin_record
    from auricle.training import train

    console = Console(quiet=True)
    data = {"root": str(manifest), "layout": "manifest", "val": 0.15, "test": 0.2, "split_seed": seed}
    over = {"data": data, "train": {"seed": seed, "cache_dir": str(work / "cache")}}
    t0 = time.time()
    origin = {}
    if arm == "auto":
        choice, prof = auto_recipe(RunConfig.from_dict({"data": data}).data)
        name, origin = choice.name, origin_record(choice, prof)
        print(f"  seed {seed}: recipe auto -> {choice.name} ({choice.reason})", flush=True)
    else:
        name = "classic"
    d = recipe(name, over).to_dict()
    if arm == "xgboost":
        d["model"] = {"name": "xgboost", "options": {}}
    if arm == "auto":
        for s in sets:
            k, v = s.split("=", 1)
            set_dotted(d, k, _parse_value(v))
        d["origin"] = origin
    if epochs and arm != "xgboost":
        d["train"]["epochs"] = epochs
    cfg = RunConfig.from_dict(d)
    m = train(cfg, work / f"seed{seed}" / arm, overwrite=True, console=console, progress=False)
    out = {"arm": arm, "seed": seed, "recipe": name if arm != "xgboost" else "classic + xgboost",
           **_figures(m), "total_seconds": round(time.time() - t0, 1)}
    print(f"  seed {seed} {arm:8s} test {out['test']:.1%}  val {out['val']:.1%}  {out['seconds']:.0f} s", flush=True)
    return out


def table(rows: list[dict], arms: list[str]) -> str:
    lines = ["| arm | recipe | test accuracy per recording | val accuracy | seconds a run | seeds |",
             "|---|---|---|---|---|---|"]
    for a in arms:
        r = [x for x in rows if x["arm"] == a]
        if not r:
            continue
        t, v, s = (np.array([x[k] for x in r]) for k in ("test", "val", "seconds"))
        lines.append(f"| {a} | {r[0]['recipe']} | {t.mean():.1%} +- {t.std():.1%} "
                     f"({', '.join(f'{x:.1%}' for x in t)}) | {v.mean():.1%} +- {v.std():.1%} | "
                     f"{s.mean():.0f} | {len(r)} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "urdu")
    ap.add_argument("--work", type=Path, default=Path("/tmp/auricle_bench_emotion"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--arms", default="auto,classic,xgboost", help="comma-separated: auto, classic, xgboost")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="key=value for the auto arm only")
    ap.add_argument("--epochs", type=int, default=None, help="override every Keras arm's epochs (quick checks)")
    ap.add_argument("--tag", default="", help="suffix of the results files (variants)")
    a = ap.parse_args(argv)
    from auricle.cli._app import quiet_keras

    quiet_keras()
    arms = [x.strip() for x in a.arms.split(",") if x.strip()]
    manifest = write_manifest(a.data, a.work / "manifest.csv")
    print(f"URDU: {manifest} ({len(manifest.read_text().splitlines()) - 1} utterances); arms {arms}; "
          f"seeds {a.seeds}; auto overrides {a.sets or 'none'}", flush=True)
    rows = []
    for seed in a.seeds:
        for arm in arms:
            rows.append(run_arm(arm, seed, manifest, a.work, a.sets, a.epochs))
    md = table(rows, arms)
    print(md)
    tag = f"-{a.tag}" if a.tag else ""
    (a.work / f"results{tag}.json").write_text(json.dumps({"sets": a.sets, "rows": rows}, indent=1))
    (a.work / f"results{tag}.md").write_text(md + "\n")


if __name__ == "__main__":
    main()
