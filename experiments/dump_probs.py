"""Save the class probabilities of finished FSDD leave-one-speaker-out runs, so ensembles of them
can be measured later without the models.

The runs' models are large (a width-0.5 ResNet is 11 MB) and trained where they cannot stay (a lent
GPU machine, a session's scratch folder); their probabilities on each fold's test and validation
speaker are 20 kB.  For each ``label=DIR`` (one run per test speaker under ``DIR/<speaker>/``, as
``bench/bench_zoo.py`` writes them) this writes ``OUT/<label>.npz`` holding, per speaker ``s``:
``s.test.p`` / ``s.test.y`` (probabilities, labels), the same for ``val`` where the run validated,
``s.val_groups`` (the run's validation speakers), and ``labels`` (class order).  With ``--shifts MS``
it also stores ``s.test.p_tta`` / ``s.val.p_tta``: the same run wrapped with test-time shifts of
+-MS (:func:`auricle.models.tta.shift_average`, as ``train.tta_shift_ms`` does).
``experiments/ensemble_loso.py`` reads such a file in place of a run folder (``label=OUT/label.npz``, or
``label=OUT/label.npz:tta`` for the shifted probabilities).  Run by hand, e.g.:

    .venv/bin/python experiments/dump_probs.py resnet=bench/out/zoo/resnet --out experiments/results/probs --shifts 50
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from ensemble_loso import SPEAKERS, fold_data, val_groups


def dump(label: str, root: Path, out: Path, shifts: float = 0.0) -> Path | None:
    """Probabilities of every run under ``root`` into ``out/<label>.npz``; None when no run finished."""
    from auricle.evaluation import predict_probs
    from auricle.models.tta import shift_average, shift_frames

    arrays: dict[str, np.ndarray] = {}
    for s in SPEAKERS:
        run_dir = root / s
        if not (run_dir / "model.keras").exists():
            continue
        r, data = fold_data(run_dir, splits=("test", "val"))
        arrays["labels"] = np.array(r.labels)
        arrays[f"{s}.val_groups"] = np.array(val_groups(run_dir) or (), dtype=str)
        acc = {}
        for split, (x, y) in data.items():
            arrays[f"{s}.{split}.p"] = p = predict_probs(r.model, x).astype(np.float32)
            arrays[f"{s}.{split}.y"] = np.asarray(y, dtype=np.int16)
            acc[split] = float((p.argmax(1) == y).mean())
        if shifts:
            try:  # the plain probabilities are the point; a failing extra must not lose them
                tta = shift_average(r.model, shift_frames([-shifts, shifts], r.feature_config))
                for split, (x, _) in data.items():
                    arrays[f"{s}.{split}.p_tta"] = predict_probs(tta, x).astype(np.float32)
            except Exception as exc:
                print(f"{label} {s}: test-time shifts failed ({type(exc).__name__}: {exc})", flush=True)
        print(f"{label:20s} {s:9s} " + "  ".join(f"{k} {v:.1%}" for k, v in sorted(acc.items())), flush=True)
    if "labels" not in arrays:
        print(f"{label}: no finished run under {root}")
        return None
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{label}.npz"
    np.savez_compressed(path, **arrays)
    return path


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="label=DIR, one run per test speaker under DIR")
    ap.add_argument("--out", required=True, help="folder for LABEL.npz")
    ap.add_argument("--shifts", type=float, default=0.0, help="also store probabilities with test-time shifts of +-MS")
    args = ap.parse_args()
    for spec in args.runs:
        label, _, d = spec.partition("=")
        dump(label, Path(d), Path(args.out), args.shifts)


if __name__ == "__main__":
    main()
