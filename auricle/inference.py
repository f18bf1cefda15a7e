"""Load a run directory and predict on files, with sliding windows for long recordings."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from auricle.errors import AudioError, AuricleError, RunError
from auricle.runs import Run


def load_run(run_dir) -> Run:
    """Everything needed to use a trained model, read from its run directory."""
    from auricle.config import RunConfig
    from auricle.features import FeatureConfig

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError("run directory not found", path=run_dir, fix="pass the --out folder of `auricle train`")
    if (run_dir / "model.joblib").exists() and not (run_dir / "model.keras").exists():
        from auricle.classic.load import load_classic

        return load_classic(run_dir)
    missing = [f for f in ("config.yaml", "labels.json", "features.json", "model.keras") if not (run_dir / f).exists()]
    if missing:
        hint = ("training did not finish; resume it with `auricle train --resume " + str(run_dir) + "`"
                if (run_dir / "checkpoint").exists() else "train a model into this folder first")
        raise RunError(f"incomplete run (missing {', '.join(missing)})", path=run_dir, fix=hint)
    from auricle.models import load_model

    feats = json.loads((run_dir / "features.json").read_text())
    crop = feats.pop("crop", "center")
    hop = feats.pop("window_hop", None)
    silence = feats.pop("silence", None)
    variable = bool(feats.pop("variable_length", False))
    frames = feats.pop("silence_frames", None)
    from auricle.fusion import load_member

    labels = json.loads((run_dir / "labels.json").read_text())
    return Run(run_dir, RunConfig.load(run_dir / "config.yaml"), labels,
               FeatureConfig.from_dict(feats), crop, hop, load_model(run_dir / "model.keras"), silence, variable,
               frames, load_member(run_dir, labels=labels))


@dataclass
class Prediction:
    path: str
    top: list[tuple[str, float]]          # top-k (label, probability), file level
    windows: list[dict] | None = None     # per-window results for long files
    error: str | None = None
    note: str | None = None               # e.g. a recording shorter than the model's window (zero-padded)

    def to_dict(self) -> dict:
        d = {"path": self.path, "label": self.top[0][0] if self.top else None,
             "probability": self.top[0][1] if self.top else None,
             "top": [{"label": lab, "probability": p} for lab, p in self.top]}
        if self.windows is not None:
            d["windows"] = self.windows
        if self.error:
            d["error"] = self.error
        if self.note:
            d["note"] = self.note
        return d


def predict_probs(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Batched ``predict_on_batch`` (much cheaper than per-example calls)."""
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), dtype="float32")
    return np.concatenate([np.asarray(model.predict_on_batch(x[i:i + batch_size]))
                           for i in range(0, len(x), batch_size)])


def predict_files(run: Run, paths, *, top_k: int = 3, window_hop: float | None = None,
                  per_window: bool = False, aggregate: str = "mean") -> list[Prediction]:
    """Top-k labels per file with the run's preprocessing.

    A file longer than the training clip is cut into windows of the clip length every
    ``window_hop`` seconds (default: half a clip); window probabilities are averaged
    (``aggregate="mean"``) or voted (``"majority"``) into the file's answer.
    Unreadable files give a :class:`Prediction` with ``error`` set instead of stopping the batch.
    A run with a fusion member (``train.fuse``, :mod:`auricle.fusion`) averages the windows' answer
    with the member's answer on the whole file, as its evaluation does.
    """
    from auricle.audio import load

    out = []
    for p in paths:
        try:
            y = load(p, sr=run.feature_config.sr)
        except AudioError as exc:
            out.append(Prediction(str(p), [], error=str(exc)))
            continue
        feats, starts = prepare_windows(run, y, window_hop=window_hop)
        probs = predict_probs(run.model, feats)
        pred = summarize(run, str(p), probs, starts, top_k=top_k, per_window=per_window, aggregate=aggregate,
                         member_probs=recording_member_probs(run, y))
        pred.note = short_note(run, len(y))
        out.append(pred)
    return out


#: A recording shorter than this share of the model's window gets a :attr:`Prediction.note`.
SHORT_SHARE = 0.9


def short_note(run: Run, n_samples: int) -> str | None:
    """The note for a recording of ``n_samples`` (at the run's rate) shorter than the model's window, else None.

    Such a recording is zero-padded to one window, as in training; the answer then rests on less
    sound than the model was trained on, so ``auricle predict`` names the file.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from auricle.features import preset
    >>> short_note(SimpleNamespace(feature_config=preset("kws")), 4000)
    "0.25 s long, shorter than the model's 1 s window: zero-padded to it"
    """
    fc = run.feature_config
    if n_samples >= SHORT_SHARE * fc.n_samples:
        return None
    return f"{n_samples / fc.sr:.2f} s long, shorter than the model's {fc.duration:g} s window: zero-padded to it"


def prepare_windows(run: Run, y: np.ndarray, *, window_hop: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Model-input features of a signal (mono, at the run's rate) and each window's start sample.

    A signal longer than the training clip is cut into clip-long windows every ``window_hop``
    seconds (default: the run's, else half a clip); a shorter one is padded as in training.
    This is the half of :func:`predict_files` before the model (``auricle serve`` batches the
    model calls of concurrent requests in between).
    """
    from auricle.audio import fix_length, frame_windows, loud_windows, trim
    from auricle.features import extract

    fc = run.feature_config
    n = fc.n_samples
    hop_s = window_hop or run.window_hop or fc.duration / 2
    hop = max(1, int(round(hop_s * fc.sr)))
    silence = run.silence or {}
    offset = 0  # where the (trimmed) signal starts in the file, for window times
    if silence.get("trim_db") is not None:
        y, (offset, _) = trim(y, top_db=silence["trim_db"], return_index=True)
    starts = np.zeros(1, dtype=np.int64) + offset
    if len(y) > n:
        wins = frame_windows(y, length=n, hop=hop)
        starts = offset + hop * np.arange(len(wins))
        if silence.get("drop_db") is not None:
            keep = loud_windows(wins, top_db=silence["drop_db"])
            wins, starts = wins[keep], starts[keep]
    else:
        wins = fix_length(y, length=n, mode=run.crop if run.crop != "random" else "center")[None]
    if run.variable_length:
        from auricle.data import mask_padding_, valid_frames

        n_real = np.minimum(len(y) - (starts - offset), n) if len(y) > n else np.array([max(len(y), 1)])
        if len(y) <= n:
            wins = fix_length(y, length=n, mode="start")[None]
        raw = extract(fc.replace(normalize="none"), wins)
        if run.silence_frames:  # the same VAD and frame weights as training (auricle.datasets.silence)
            from auricle.datasets.silence import apply_silence

            feats, _ = apply_silence(raw, valid_frames(fc, n_real), fc, mode=run.silence_frames["mode"],
                                     threshold_db=run.silence_frames["vad_db"], normalize=fc.normalize,
                                     floor=fc.cmvn_floor)
        else:
            feats = mask_padding_(raw, valid_frames(fc, n_real), fc.normalize, fc.cmvn_floor)
    else:
        feats = extract(fc, wins)
    return feats, np.asarray(starts)


def recording_member_probs(run: Run, y: np.ndarray) -> np.ndarray | None:
    """The fusion member's probabilities ``(C,)`` for a whole signal at the run's rate, or None
    for a run without one."""
    member = getattr(run, "member", None)
    if member is None:
        return None
    return member.probs_of_waves([y])[0]


def summarize(run: Run, path: str, probs: np.ndarray, starts, *, top_k: int = 3, per_window: bool = False,
              aggregate: str = "mean", member_probs: np.ndarray | None = None) -> Prediction:
    """Window probabilities ``(W, C)`` -> the file's :class:`Prediction` (the half after the model).

    ``member_probs`` (:func:`recording_member_probs`): the fusion member's answer on the whole file,
    averaged with the windows' answer by the member's weight."""
    fc = run.feature_config
    n = fc.n_samples
    probs = np.asarray(probs)
    if aggregate == "majority" and len(probs) > 1:
        votes = np.bincount(probs.argmax(1), minlength=probs.shape[1]).astype(float)
        agg = votes / votes.sum()
    else:
        agg = probs.mean(axis=0)
    if member_probs is not None:
        agg = run.member.combine(agg[None], np.asarray(member_probs)[None])[0]
    order = np.argsort(-agg)[:top_k]
    windows = None
    if per_window and len(probs) > 1:
        windows = [{"start": round(int(st) / fc.sr, 3), "end": round((int(st) + n) / fc.sr, 3),
                    "label": run.labels[int(pr.argmax())], "probability": float(pr.max())}
                   for st, pr in zip(starts, probs)]
    return Prediction(str(path), [(run.labels[i], float(agg[i])) for i in order], windows)


def fresh_export(run_dir, runtime: str = "onnx") -> Path | None:
    """The run's ``export/<runtime>`` folder when it exists and is not older than ``model.keras``
    (a run retrained after its export is stale); None otherwise.  An export folder is returned as is."""
    run_dir = Path(run_dir)
    if (run_dir / "meta.json").exists():
        return run_dir
    folder = run_dir / "export" / runtime
    try:
        file = folder / json.loads((folder / "meta.json").read_text())["file"]
    except (OSError, ValueError, KeyError):
        return None
    if not file.exists():
        return None
    keras_file = run_dir / "model.keras"
    if keras_file.exists() and keras_file.stat().st_mtime > file.stat().st_mtime:
        return None
    return folder


def load_for_predict(run_dir, runtime: str | None = None):
    """What ``auricle predict`` runs: ``runtime=None`` uses the run's ONNX export when it is there
    and fresh (:func:`fresh_export`; TensorFlow is then never imported), else the Keras model;
    ``"keras"`` forces the Keras model; ``"onnx"`` / ``"tflite"`` load an export folder (or the run's
    own export of that kind).  Returns ``(run, how)`` with ``how`` naming what runs."""
    run_dir = Path(run_dir)
    if runtime in ("onnx", "tflite"):
        from auricle.exported import load_predictor

        exp = run_dir if (run_dir / "meta.json").exists() else fresh_export(run_dir, runtime) or run_dir
        return load_predictor(exp, runtime), f"{runtime} export {exp}"
    if runtime not in (None, "keras"):
        raise AuricleError(f"unknown runtime {runtime!r}", fix="use keras, onnx or tflite")
    if runtime is None and run_dir.is_dir():
        exp = fresh_export(run_dir, "onnx")
        if exp is not None:
            from auricle.exported import load_predictor

            try:
                return load_predictor(exp, "onnx"), f"onnx export {exp}"
            except AuricleError:  # no onnxruntime, broken export: the Keras model still works
                pass
    return load_run(run_dir), "keras"


def expand_inputs(inputs) -> list[Path]:
    """Files and folders (searched recursively for audio) -> sorted list of audio files."""
    from auricle.audio import AUDIO_EXTENSIONS

    files = []
    for inp in inputs:
        p = Path(inp)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS)
        elif p.exists():
            files.append(p)
        else:
            raise AuricleError("no such file or folder", path=p, fix="check the path")
    if not files:
        raise AuricleError(f"no audio files found in {', '.join(map(str, inputs))}",
                           fix="pass wav/flac/ogg/mp3 files or folders containing them")
    return files
