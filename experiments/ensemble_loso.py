"""Ensembles of finished FSDD leave-one-speaker-out runs, without retraining.

Each ``label=DIR`` names a folder holding one run per test speaker (``DIR/<speaker>/``, as
``bench/bench_zoo.py`` and ``bench/fsdd_loso.py`` write them; or a pattern with ``{s}`` for the
speaker, e.g. ``c=bench/out/fsdd/default/{s}/members/m0_cnn`` for one member of an ensemble run).  For every combination given
(``a+b``, ``a+b+c``; default: each label alone) it averages the members' class probabilities on
each fold's test and validation speaker, exactly as ``auricle ensemble`` does, and prints test and
validation accuracy per fold, mean and worst (validation only when all members validated on the
same speaker).  A label may also name probabilities saved by ``experiments/dump_probs.py``
(``m=experiments/results/probs/rmix.npz``, or ``...npz:tta`` for its test-time-shifted ones), so
ensembles of runs whose models are gone can still be measured.  Run by hand, e.g.:

    .venv/bin/python experiments/ensemble_loso.py cnn=bench/out/zoo/cnn tc=bench/out/fsdd/default -- cnn tc cnn+tc
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]


def fold_data(run_dir: Path, splits=("test",)):
    """The loaded run and ``{split: (features, labels)}`` of its own data splits (the dataset read once);
    a split the run does not have (a refit run's ``val``) is left out."""
    from auricle.data import featurize, load_dataset
    from auricle.inference import load_run

    r = load_run(run_dir)
    fc = r.feature_config
    ds = load_dataset(r.config.data, progress=False, sr=fc.sr, duration=fc.n_samples / fc.sr)
    out = {}
    for split in splits:
        items = [it for it in ds.items if it.split == split]
        if not items:
            continue
        arr, _ = featurize(items, r.labels, fc, crop=r.crop, window_hop=r.window_hop, progress=False,
                           silence=r.silence, variable_length=r.variable_length)
        out[split] = (arr.x, arr.y)
    return r, out


def fold_probs(run_dir: Path, split: str):
    from auricle.evaluation import predict_probs

    r, data = fold_data(run_dir, (split,))
    x, y = data[split]
    return predict_probs(r.model, x), y


def run_path(spec: str, spk: str) -> Path:
    return Path(spec.format(s=spk)) if "{s}" in spec else Path(spec) / spk


def val_groups(run_dir: Path) -> tuple | None:
    """The run's validation groups, or None when they are not held out from all of it (an
    ensemble with ``validation: rotate``)."""
    from auricle.config import RunConfig

    cfg = RunConfig.load(run_dir / "config.yaml")
    if (cfg.model.get("options") or {}).get("validation") == "rotate":
        return None
    return tuple(cfg.data.val_groups or ())


def saved_probs(spec: str):
    """``(arrays, key suffix)`` of a ``experiments/dump_probs.py`` file named as ``FILE.npz`` or ``FILE.npz:tta``."""
    path, _, variant = spec.partition(".npz")
    z = np.load(path + ".npz")
    return {k: z[k] for k in z.files}, "p_tta" if variant == ":tta" else "p"


def main():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices: one model per fold
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="label=DIR ... then combinations (label+label ...)")
    ap.add_argument("--json", default=None, help="also write the table here")
    args = ap.parse_args([a for a in os.sys.argv[1:] if a != "--"])
    items = args.runs
    dirs = dict(a.split("=", 1) for a in items if "=" in a)
    combos = [a for a in items if "=" not in a] or list(dirs)
    cache: dict = {}
    saved = {label: saved_probs(spec) for label, spec in dirs.items() if ".npz" in spec}

    def probs(label, spk, split):
        key = (label, spk, split)
        if key not in cache:
            if label in saved:
                z, suffix = saved[label]
                if f"{spk}.{split}.{suffix}" not in z:
                    what = "test-time-shifted probabilities (dumped without --shifts)" if suffix == "p_tta" else "probabilities"
                    raise SystemExit(f"{dirs[label]}: no {what} for {spk}'s {split} split; "
                                     f"dump them with experiments/dump_probs.py or leave this label out")
                cache[key] = z[f"{spk}.{split}.{suffix}"], z[f"{spk}.{split}.y"]
            else:
                cache[key] = fold_probs(run_path(dirs[label], spk), split)
        return cache[key]

    def groups(label, spk):
        if label in saved:
            z = saved[label][0]
            return tuple(z[f"{spk}.val_groups"]) if f"{spk}.val.y" in z else ()
        return val_groups(run_path(dirs[label], spk))

    rows = []
    print(f"{'ensemble':<32} " + " ".join(f"{s[:8]:>8}" for s in SPEAKERS) + "   test mean  worst   val mean")
    for combo in combos:
        members = combo.split("+")
        res = {}
        # members that validated on different speakers (bench_zoo --val-offset, validation: rotate) have
        # no common held-out validation speaker: their ensemble gets no validation figure
        # (and runs refit without a validation split have none)
        shared_val = all(len(g := {groups(m, spk) for m in members}) == 1
                         and None not in g and () not in g for spk in SPEAKERS)
        for split in ("test", "val") if shared_val else ("test",):
            accs = []
            for spk in SPEAKERS:
                ps = [probs(m, spk, split) for m in members]
                p = np.mean([q[0] for q in ps], axis=0)
                accs.append(float((p.argmax(1) == ps[0][1]).mean()))
            res[split] = accs
        t, v = res["test"], res.get("val")
        rows.append({"ensemble": combo, "test": dict(zip(SPEAKERS, t)), "val": dict(zip(SPEAKERS, v)) if v else None,
                     "test_mean": float(np.mean(t)), "worst": min(t), "val_mean": float(np.mean(v)) if v else None})
        vtext = f"{np.mean(v):8.1%}" if v else f"{'-':>8}"
        print(f"{combo:<32} " + " ".join(f"{a:8.1%}" for a in t) + f"   {np.mean(t):8.1%} {min(t):6.1%}   {vtext}",
              flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
