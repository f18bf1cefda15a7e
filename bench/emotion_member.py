#!/usr/bin/env python3
"""Fusion-member variants on URDU whole-utterance features, on the speaker splits of a finished
``bench_emotion.py --work WORK --tag TAG`` run (validation chooses; test is printed).

    .venv/bin/python bench/emotion_member.py --work /tmp/emo --tag fused03 --data ../shared/data/urdu
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from auricle.fusion import utterance_features
from auricle.models import get_model
ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--work", type=Path, required=True)
ap.add_argument("--tag", required=True)
ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data" / "urdu")
args = ap.parse_args()
P = json.loads((args.work / f"probs-{args.tag}.json").read_text())
files = sorted(str(p) for p in args.data.resolve().glob("*/*.flac"))
if not files:
    sys.exit(f"error: no URDU .flac files under {args.data}; pass --data FOLDER")
labels = P["0/auto"]["val"]["labels"]  # the run's class order
cache = args.work / "member-features.npy"
if cache.exists():
    X = np.load(cache)
else:
    X = np.stack([utterance_features(sf.read(f, dtype="float32")[0], sr=16000) for f in files])
    np.save(cache, X)
y = np.array([labels.index(Path(f).parent.name) for f in files])
idx = {f: i for i, f in enumerate(files)}
variants = {
 "xgb default": ("xgboost", {}),
 "xgb depth3": ("xgboost", {"max_depth": 3}),
 "xgb 600 lr.05": ("xgboost", {"n_estimators": 600, "learning_rate": 0.05}),
 "xgb depth3 mcw3": ("xgboost", {"max_depth": 3, "min_child_weight": 3}),
 "logreg": ("logreg", {}),
 "svm": ("svm", {}),
 "random_forest": ("random_forest", {}),
}
for name, (m, opt) in variants.items():
    va, te = [], []
    for s in range(3):
        v = [idx[f] for f in P[f"{s}/auto"]["val"] if f != "labels"]
        t = [idx[f] for f in P[f"{s}/auto"]["test"] if f != "labels"]
        tr = np.setdiff1d(np.arange(len(files)), v + t)
        pipe = get_model(m).build((X.shape[1],), 4, **opt)
        if "clf__random_state" in pipe.get_params(): pipe.set_params(clf__random_state=s)
        pipe.fit(X[tr], y[tr])
        va.append((pipe.predict(X[v]) == y[v]).mean()); te.append((pipe.predict(X[t]) == y[t]).mean())
    va, te = 100 * np.array(va), 100 * np.array(te)
    print(f"{name:18s} val {va.mean():5.1f} +- {va.std(ddof=1):4.1f} {np.round(va,1)}  test {te.mean():5.1f} +- {te.std(ddof=1):4.1f} {np.round(te,1)}", flush=True)
