"""Speech emotion bench: ``--recipe auto`` vs ``--recipe classic`` vs XGBoost on summary features.

Real data: the URDU emotional speech set (400 utterances, 4 emotions, 38 speakers; research use
only, never copied into the repository), default ``../shared/data/urdu``.  File names
``S{G}{X}_F{NN}_{E}{YY}``: the speaker ``{G}{X}`` is the group, so every split is
speaker-disjoint.  For each seed the split (``data.split_seed``) and the training seed change
together; every arm sees the same split.  Printed: accuracy per recording on the held-out test
speakers, on the validation speakers (the only figure settings are chosen on), and the wall time
of each run; mean and spread (std over seeds).  Results: ``WORK/results.json`` and ``.md``.

Two more arms work on whole utterances, per recording: ``prosody`` is XGBoost (or ``--member
logreg``) on the 75 summary features plus the 19 prosody statistics of
:func:`auricle.classic.summary.prosody_features` (pitch level / range / movement, loudness
dynamics, length) of each utterance, trained on the training speakers; ``fused`` averages the
``auto`` run's per-recording probabilities and ``prosody``'s (late fusion, weight ``--fuse-weight``
on ``auto``).  ``--reuse`` takes a finished Keras or classic run under ``WORK`` as it is (same
seed and arm, trusted to have the same settings) instead of training it again.

    nice -n 10 .venv/bin/python bench/bench_emotion.py                      # 3 seeds, 3 arms
    nice -n 10 .venv/bin/python bench/bench_emotion.py --arms auto --set model.name=cnn2   # a variant
    nice -n 10 .venv/bin/python bench/bench_emotion.py --arms auto,prosody,fused --reuse    # late fusion

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
    for p in sorted(data.resolve().glob("*/*")):  # absolute: the manifest lives elsewhere
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
            "seconds": float(run.get("wall_seconds", 0.0)),
            **{f"{sp}_{part}": float(src[f"per_recording_{part}"]["accuracy"])
               for sp, src in (("test", m), ("val", val)) for part in ("deep", "member")
               if f"per_recording_{part}" in src}}


def fusion_parts(row: dict) -> list[dict]:
    """A fused ``auto`` run (``train.fuse`` in its recipe) split into its two parts as rows of their
    own: ``auto:deep`` (the Keras model alone) and ``auto:member`` (the classic member alone)."""
    out = []
    for part in ("deep", "member"):
        if f"test_{part}" in row:
            out.append({"arm": f"auto:{part}", "seed": row["seed"], "recipe": f"{row['recipe']}, the {part} part alone",
                        "test": row[f"test_{part}"], "val": row.get(f"val_{part}", float("nan")),
                        "seconds": 0.0})
    return out


def run_arm(arm: str, seed: int, manifest: Path, work: Path, sets: list[str], epochs: int | None,
            reuse: bool = False) -> dict:
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
    run_dir = work / f"seed{seed}" / arm
    if reuse and (run_dir / "metrics.json").exists():
        m = json.loads((run_dir / "metrics.json").read_text())
        print(f"  seed {seed} {arm}: reusing {run_dir}", flush=True)
    else:
        m = train(cfg, run_dir, overwrite=True, console=console, progress=False)
    out = {"arm": arm, "seed": seed, "recipe": name if arm != "xgboost" else "classic + xgboost",
           **_figures(m), "total_seconds": round(time.time() - t0, 1)}
    if arm == "auto":
        out["probs"] = recording_probs(run_dir)
    print(f"  seed {seed} {arm:8s} test {out['test']:.1%}  val {out['val']:.1%}  {out['seconds']:.0f} s", flush=True)
    return out


def recording_probs(run_dir: Path, splits=("val", "test")) -> dict:
    """``{split: {path: probabilities}}`` of a finished run: its windows' probabilities averaged per
    recording (what ``per_recording`` in ``metrics.json`` scores), through the run's own features."""
    from auricle.data import featurize, load_dataset
    from auricle.evaluation import file_level
    from auricle.inference import load_run, predict_probs

    run = load_run(run_dir)
    cfg, fc = run.config, run.feature_config
    ds = load_dataset(cfg.data, progress=False, cache_dir=cfg.train.cache_dir, sr=fc.sr, duration=fc.n_samples / fc.sr)
    out = {}
    for sp in splits:
        items = [it for it in ds.items if it.split == sp]
        arr, _ = featurize(items, run.labels, fc, crop=run.crop, window_hop=run.window_hop,
                           cache_dir=cfg.train.cache_dir, workers=1, progress=False, silence=run.silence,
                           variable_length=run.variable_length, silence_frames=run.silence_frames)
        pf, _ = file_level(predict_probs(run.model, arr.x), arr.y, arr.file_index)
        out[sp] = {"labels": list(run.labels),
                   **{str(arr.paths[f]): p.tolist() for f, p in zip(np.unique(arr.file_index), pf)}}
    return out


def utterance_features(manifest: Path, work: Path) -> dict:
    """``{path: 94 numbers}``: summary features + prosody statistics of each whole utterance at 16 kHz
    (cached in ``WORK/utterance_features.npz``, keyed by the manifest's text)."""
    import hashlib

    from auricle.audio import load
    from auricle.classic.summary import SummaryConfig, prosody_features, summary_features

    text = manifest.read_text()
    key = hashlib.sha1(text.encode()).hexdigest()[:16]
    cache = work / "utterance_features.npz"
    if cache.exists():
        z = np.load(cache)
        if str(z["key"]) == key:
            return dict(zip(z["paths"].tolist(), z["x"]))
    paths = [line.split(",")[0] for line in text.splitlines()[1:]]
    cfg = SummaryConfig(sr=16000)
    x = []
    for p in paths:
        y = load(p, sr=16000)
        x.append(np.concatenate([summary_features(y[None], cfg)[0], prosody_features(y, sr=16000)]))
    x = np.asarray(x, dtype=np.float32)
    np.savez(cache, key=key, paths=np.array(paths), x=x)
    return dict(zip(paths, x))


def prosody_arm(seed: int, manifest: Path, work: Path, member: str) -> dict:
    """XGBoost / logistic regression on whole-utterance summary + prosody features, the same speaker
    split as the other arms; per-recording probabilities of the val and test speakers."""
    from auricle.classic.models import logreg, xgboost
    from auricle.config import recipe
    from auricle.data import load_dataset

    t0 = time.time()
    data = {"root": str(manifest), "layout": "manifest", "val": 0.15, "test": 0.2, "split_seed": seed}
    cfg = recipe("emotion", {"data": data, "train": {"seed": seed, "cache_dir": str(work / "cache")}})
    ds = load_dataset(cfg.data, progress=False, cache_dir=cfg.train.cache_dir, sr=16000, duration=1.0)
    feats = utterance_features(manifest, work)
    labels = sorted({it.label for it in ds.items})
    part = {sp: [it for it in ds.items if it.split == sp] for sp in ("train", "val", "test")}
    xy = {sp: (np.stack([feats[it.path] for it in its]), np.array([labels.index(it.label) for it in its]))
          for sp, its in part.items()}
    model = (xgboost((1,), len(labels)) if member == "xgboost" else logreg((1,), len(labels)))
    if member == "xgboost":
        model.set_params(clf__random_state=seed)
    model.fit(*xy["train"])
    probs = {sp: {"labels": labels, **{it.path: p.tolist() for it, p in zip(part[sp], model.predict_proba(xy[sp][0]))}}
             for sp in ("val", "test")}
    return {"arm": "prosody", "seed": seed, "recipe": f"{member} on utterance summary + prosody",
            **_scores(probs, ds), "seconds": round(time.time() - t0, 1), "probs": probs}


def _scores(probs: dict, ds) -> dict:
    """Accuracy per recording on val and test of ``{split: {"labels": [...], path: probabilities}}``."""
    truth = {it.path: it.label for it in ds.items}
    out = {}
    for sp in ("val", "test"):
        labels = probs[sp]["labels"]
        rows = [(truth[p], labels[int(np.argmax(v))]) for p, v in probs[sp].items() if p != "labels"]
        out[sp] = float(np.mean([a == b for a, b in rows]))
        out[f"n_{sp}"] = len(rows)
    return out


def fused_arm(seed: int, rows: list[dict], weight: float, manifest: Path) -> dict:
    """Late fusion: ``weight * auto + (1 - weight) * prosody`` per recording, labels aligned by name."""
    from auricle.config import RunConfig
    from auricle.data import load_dataset

    a = next(r for r in rows if r["arm"] == "auto" and r["seed"] == seed)["probs"]
    b = next(r for r in rows if r["arm"] == "prosody" and r["seed"] == seed)["probs"]
    fused = {}
    for sp in ("val", "test"):
        la, lb = a[sp]["labels"], b[sp]["labels"]
        if sorted(la) != sorted(lb) or set(a[sp]) != set(b[sp]):
            raise SystemExit(f"error: auto and prosody disagree on the {sp} split's labels or utterances (seed {seed})")
        order = [lb.index(x) for x in la]
        fused[sp] = {"labels": la, **{p: (weight * np.asarray(v) + (1 - weight) * np.asarray(b[sp][p])[order]).tolist()
                                      for p, v in a[sp].items() if p != "labels"}}
    data = {"root": str(manifest), "layout": "manifest", "val": 0.15, "test": 0.2, "split_seed": seed}
    ds = load_dataset(RunConfig.from_dict({"data": data}).data, progress=False, sr=16000, duration=1.0)
    return {"arm": "fused", "seed": seed, "recipe": f"{weight:g} auto + {1 - weight:g} prosody", **_scores(fused, ds),
            "seconds": 0.0}


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
    ap.add_argument("--arms", default="auto,classic,xgboost",
                    help="comma-separated: auto, classic, xgboost, prosody, fused (fused needs auto and prosody)")
    ap.add_argument("--member", choices=("xgboost", "logreg"), default="xgboost", help="the prosody arm's model")
    ap.add_argument("--fuse-weight", type=float, default=0.5, help="fused = w * auto + (1 - w) * prosody")
    ap.add_argument("--reuse", action="store_true", help="take finished runs under WORK as they are")
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
    if "fused" in arms and not {"auto", "prosody"} <= set(arms):
        raise SystemExit("error: --arms fused needs auto and prosody too (e.g. --arms auto,prosody,fused)")
    rows = []
    for seed in a.seeds:
        for arm in arms:
            if arm == "prosody":
                r = prosody_arm(seed, manifest, a.work, a.member)
            elif arm == "fused":
                r = fused_arm(seed, rows, a.fuse_weight, manifest)
            else:
                rows.append(run_arm(arm, seed, manifest, a.work, a.sets, a.epochs, a.reuse))
                rows += fusion_parts(rows[-1]) if arm == "auto" else []
                continue
            print(f"  seed {seed} {arm:8s} test {r['test']:.1%}  val {r['val']:.1%}  {r['seconds']:.0f} s", flush=True)
            rows.append(r)
    shown = [x for a_ in arms for x in ([a_, "auto:deep", "auto:member"] if a_ == "auto" else [a_])]
    md = table(rows, shown)
    print(md)
    tag = f"-{a.tag}" if a.tag else ""
    (a.work / f"results{tag}.json").write_text(json.dumps(
        {"sets": a.sets, "member": a.member, "fuse_weight": a.fuse_weight,
         "rows": [{k: v for k, v in r.items() if k != "probs"} for r in rows]}, indent=1))
    (a.work / f"probs{tag}.json").write_text(json.dumps(
        {f"{r['seed']}/{r['arm']}": r["probs"] for r in rows if "probs" in r}))
    (a.work / f"results{tag}.md").write_text(md + "\n")


if __name__ == "__main__":
    main()
