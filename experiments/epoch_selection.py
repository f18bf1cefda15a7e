"""Which epoch's weights to keep: the best on the validation speaker, or the last?

FSDD leave-one-speaker-out runs trained with every epoch's weights kept, then each rule scored on
the test speaker (and, for the record, on the validation speaker it was chosen on):

    AURICLE_KEEP_EPOCH_WEIGHTS=1 .venv/bin/python bench/bench_zoo.py --models cnn,tc14=tc_resnet14 \\
        --jobs 2 --out bench/out/epochs
    .venv/bin/python experiments/epoch_selection.py bench/out/epochs/cnn bench/out/epochs/tc14 \\
        --json experiments/results/epoch_selection_cpu.json

Rules: ``best`` (highest val_accuracy, auricle's ``train.keep: best``), ``best_loss`` (lowest val
loss), ``last`` (``train.keep: last``), ``swaK`` (weights averaged over the last K epochs, batch-norm
statistics included), ``snapK`` (probabilities averaged over the last K epochs).  ``val_half``
scores best and last on one half of the validation clips after choosing on the other half (both
ways, averaged): a validation-only check of whether the choice carries over, within one speaker.
With several run roots the members' probabilities are also averaged per rule (the ensemble).
Per-epoch probabilities are cached in ROOT/epoch_probs/.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]


def epoch_probs(root: Path, spk: str):
    """(test probs (E+2, N, C), test labels, val probs, val labels): E epochs, then SWA5 and SWA10."""
    cache = root / "epoch_probs" / f"{spk}.npz"
    if cache.exists():
        z = np.load(cache)
        return z["test"], z["test_y"], z["val"], z["val_y"]
    run_dir = root / spk
    weights = sorted((run_dir / "epochs").glob("epoch*.weights.h5"))
    if not weights:
        return None
    from auricle.evaluation import predict_probs
    from ensemble_loso import fold_data  # experiments/ is the script's directory

    r, data = fold_data(run_dir, ("test", "val"))
    out = {}
    for split, (x, y) in data.items():
        P = []
        for w in weights:
            r.model.load_weights(str(w))
            P.append(predict_probs(r.model, x))
        for k in (5, 10):  # SWA: average every variable of the last k epochs
            acc = None
            for w in weights[-k:]:
                r.model.load_weights(str(w))
                v = [np.asarray(x) for x in r.model.weights]
                acc = v if acc is None else [a + b for a, b in zip(acc, v)]
            for var, a in zip(r.model.weights, acc):
                var.assign(a / k)
            P.append(predict_probs(r.model, x))
        out[split], out[split + "_y"] = np.stack(P), y
    cache.parent.mkdir(exist_ok=True)
    np.savez(cache, **out)
    return out["test"], out["test_y"], out["val"], out["val_y"]


def rule_probs(T, V, yv, rule):
    E = T.shape[0] - 2
    va = (V[:E].argmax(2) == yv).mean(1)
    if rule == "best":
        e = int(np.argmax(va))
    elif rule == "best_loss":
        e = int(np.argmin(-np.log(V[:E, np.arange(len(yv)), yv] + 1e-9).mean(1)))
    elif rule == "last":
        e = E - 1
    elif rule in ("swa5", "swa10"):
        e = E if rule == "swa5" else E + 1
    else:  # snapK
        k = int(rule[4:])
        return T[E - k:E].mean(0), V[E - k:E].mean(0), None
    return T[e], V[e], e + 1


def val_half(V, yv):
    """Choose the best epoch on half the validation clips, score best and last on the other half."""
    E = V.shape[0] - 2
    h = np.arange(len(yv)) % 2 == 0
    got = []
    for a, b in ((h, ~h), (~h, h)):
        e = int(np.argmax((V[:E, a].argmax(2) == yv[a]).mean(1)))
        got.append(((V[e, b].argmax(1) == yv[b]).mean(), (V[E - 1, b].argmax(1) == yv[b]).mean()))
    return np.mean(got, axis=0)


RULES = ["best", "best_loss", "last", "swa5", "swa10", "snap5", "snap10"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="+", type=Path, help="bench_zoo model folders (one subfolder per test speaker)")
    ap.add_argument("--json", type=Path, help="write the table here")
    args = ap.parse_args()
    data = {root: {s: epoch_probs(root, s) for s in SPEAKERS} for root in args.roots}
    table = {}
    for name, roots in [(r.name, [r]) for r in args.roots] + ([("ensemble", args.roots)] if len(args.roots) > 1 else []):
        spk = [s for s in SPEAKERS if all(data[r][s] is not None for r in roots)]
        print(f"\n{name} ({len(spk)} folds)   " + "  ".join(f"{s[:8]:>8}" for s in spk) + "      mean   worst | val mean")
        rows = {}
        for rule in RULES:
            test, val, epochs = [], [], []
            for s in spk:
                got = [rule_probs(data[r][s][0], data[r][s][2], data[r][s][3], rule) for r in roots]
                yt, yv = data[roots[0]][s][1], data[roots[0]][s][3]
                test.append(float((np.mean([g[0] for g in got], 0).argmax(1) == yt).mean()))
                val.append(float((np.mean([g[1] for g in got], 0).argmax(1) == yv).mean()))
                epochs.append([g[2] for g in got])
            rows[rule] = {"test": dict(zip(spk, test)), "val": dict(zip(spk, val)), "epochs": dict(zip(spk, epochs)),
                          "mean": float(np.mean(test)), "worst": float(min(test)), "val_mean": float(np.mean(val))}
            print(f"  {rule:<10}" + "  ".join(f"{a:8.1%}" for a in test)
                  + f"  {np.mean(test):7.1%} {min(test):7.1%} | {np.mean(val):6.1%}")
        if len(roots) == 1:
            vh = [val_half(data[roots[0]][s][2], data[roots[0]][s][3]) for s in spk]
            rows["val_half"] = {"best": float(np.mean([v[0] for v in vh])), "last": float(np.mean([v[1] for v in vh]))}
            print(f"  validation half-split (choose on one half, score the other): best {rows['val_half']['best']:.1%}"
                  f", last {rows['val_half']['last']:.1%}")
            print("  best epochs:", [e[0] for e in rows["best"]["epochs"].values()])
        table[name] = rows
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
