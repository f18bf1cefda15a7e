"""Runs opened for serving: the ONNX export of each run (exported on first serve), one batcher each.

A served model never imports TensorFlow: it runs ``RUN/export/onnx`` with onnxruntime through
:func:`auricle.export.load_predictor`.  When a run has no ONNX export yet (or its export is older
than ``model.keras``), :func:`ensure_export` writes one *in a subprocess* (the converter needs
TensorFlow; the server process stays lean) and caches it in the run directory.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from auricle.errors import RunError

__all__ = ["ServedModel", "ensure_export", "find_export", "load_models", "open_model"]


def find_export(path, runtime: str = "onnx") -> Path | None:
    """The usable export folder of a run (or the export folder itself); None when there is none
    or when it is older than the run's ``model.keras`` (stale).  See :func:`auricle.inference.fresh_export`."""
    from auricle.inference import fresh_export

    return fresh_export(path, runtime)


_EXPORT_SCRIPT = r"""
import json, sys
from pathlib import Path
from auricle.errors import AuricleError
from auricle.export import export_run
run, out = sys.argv[1], Path(sys.argv[2])
try:
    export_run(run, "onnx", out=out)
except AuricleError as exc:
    # the parity check needs the run's dataset; the converted model is usable without it
    meta = out / "meta.json"
    if not (meta.exists() and (out / "model.onnx").exists()):
        raise
    m = json.loads(meta.read_text())
    m["parity"] = {"skipped": str(exc)}
    meta.write_text(json.dumps(m, indent=1))
    print(f"note: parity check skipped: {exc}", file=sys.stderr)
"""


def ensure_export(run_dir, *, log=None, timeout: float = 900) -> Path:
    """``RUN/export/onnx`` (converted now in a subprocess when missing or stale)."""
    run_dir = Path(run_dir)
    found = find_export(run_dir)
    if found is not None:
        return found
    if not run_dir.is_dir():
        raise RunError("run directory not found", path=run_dir, fix="pass the --out folder of `auricle train`")
    if (run_dir / "model.joblib").exists():
        raise RunError("a classic (scikit-learn) run cannot be served: it has no ONNX export", path=run_dir,
                       fix="serve a Keras run (any model of `auricle models`)")
    if not (run_dir / "model.keras").exists():
        raise RunError("not a finished run (no model.keras) and not an export (no meta.json)", path=run_dir,
                       fix="pass a run directory of `auricle train` or a folder of `auricle export`")
    out = run_dir / "export" / "onnx"
    if log:
        log(f"{run_dir}: no ONNX export yet; exporting once (cached in {out})...")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    try:
        p = subprocess.run([sys.executable, "-c", _EXPORT_SCRIPT, str(run_dir), str(out)], env=env,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunError(f"the ONNX export did not finish within {timeout:.0f} s", path=run_dir,
                       fix=f"run `auricle export {run_dir} --format onnx` by hand") from None
    if p.returncode != 0 or find_export(run_dir) is None:
        tail = " | ".join((p.stderr or "").strip().splitlines()[-3:])
        raise RunError(f"the ONNX export failed: {tail}", path=run_dir,
                       fix=f"run `auricle export {run_dir} --format onnx` to see the whole error")
    return out


@dataclass
class ServedModel:
    """One model of the server: its name, the runtime-only predictor and its batcher."""

    name: str
    source: Path
    export: Path
    run: object                 # auricle.inference.Run over an ExportedModel (load_predictor)
    batcher: object = None      # auricle.serve.batching.Batcher
    info: dict = field(default_factory=dict)

    @property
    def labels(self) -> list:
        return self.run.labels

    @property
    def feature_config(self):
        return self.run.feature_config

    def describe(self) -> dict:
        fc = self.feature_config
        return {"name": self.name, "labels": list(self.labels), "sample_rate": fc.sr,
                "clip_seconds": fc.duration, "features": fc.to_dict(), "runtime": self.run.model.runtime,
                "model": self.run.model.meta.get("model"), "size_bytes": self.info.get("size_bytes"),
                "window_hop": self.run.window_hop, "parity": self.run.model.meta.get("parity"),
                "batching": self.batcher.stats() if self.batcher is not None else None}


def open_model(source, *, name: str | None = None, export: bool = True, threads: int = 1, log=None,
               max_batch: int = 64) -> ServedModel:
    """A run directory or an export folder, opened with onnxruntime behind a batcher."""
    from auricle.export import load_predictor
    from auricle.serve.batching import Batcher

    source = Path(source)
    exp = ensure_export(source, log=log) if export else find_export(source)
    if exp is None:
        raise RunError("no ONNX export in this run", path=source,
                       fix=f"run `auricle export {source} --format onnx`, or serve without --no-export")
    run = load_predictor(exp, "onnx")
    run.model._session = _serving_session(exp / run.model.meta["file"], threads)
    name = name or (source.name if source.name not in ("onnx", "export") else source.parent.parent.name)
    model_file = exp / run.model.meta["file"]
    m = ServedModel(name=name, source=source, export=exp, run=run,
                    info={"size_bytes": model_file.stat().st_size if model_file.exists() else None})
    m.batcher = Batcher(run.model.predict, max_batch=max_batch, name=name)
    return m


def _serving_session(file: Path, threads: int):
    """An onnxruntime session for serving: ``threads`` intra-op threads and no CPU memory arena
    (the arena keeps the high-water mark of the largest batch: +86 MB after batches of 64 for the
    default recipe, measured; without it +31 MB, at the same speed: 1.2 ms a row either way)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.enable_cpu_mem_arena = False
    so.log_severity_level = 3
    return ort.InferenceSession(str(file), so, providers=["CPUExecutionProvider"])


def load_models(sources, *, export: bool = True, threads: int = 1, log=None, max_batch: int = 64) -> list[ServedModel]:
    """Open several runs; names are the folder names (``name=path`` picks one), made unique."""
    models, seen = [], set()
    for src in sources:
        src = str(src)
        name = None
        if "=" in src and not Path(src).exists():
            name, src = src.split("=", 1)
        m = open_model(src, name=name, export=export, threads=threads, log=log, max_batch=max_batch)
        base, i = m.name, 2
        while m.name in seen:
            m.name = f"{base}-{i}"
            i += 1
        seen.add(m.name)
        models.append(m)
    return models


# ----------------------------------------------------------------------------------------------
# separation runs (auricle separate-train): served at :separate


def is_separation_run(path) -> bool:
    from auricle.separation.separate import SEPARATION_META

    return (Path(path) / SEPARATION_META).exists()


@dataclass
class ServedSeparator:
    """A separation run served at ``:separate`` (its ONNX export, never TensorFlow)."""

    name: str
    source: Path
    separator: object            # auricle.separation.separate.Separator

    @property
    def sr(self) -> int:
        return self.separator.sr

    def separate(self, y, sr):
        return self.separator.separate(y, sr)

    def describe(self) -> dict:
        return {"name": self.name, "kind": "separator", "stems": list(self.separator.stems),
                "sample_rate": self.separator.sr, "runtime": self.separator.runtime}


_SEPARATOR_EXPORT = r"""
import sys
from auricle.separation.export import export_separator
export_separator(sys.argv[1], "onnx")
"""


def open_separator(source, *, name: str | None = None, export: bool = True, threads: int = 1,
                   log=None, timeout: float = 900) -> ServedSeparator:
    """A separation run with its ONNX export (exported once, in a subprocess, when missing)."""
    from auricle.separation.separate import Separator

    source = Path(source)
    onnx_file = source / "export" / "onnx" / "separator.onnx"
    if not onnx_file.exists():
        if not export:
            raise RunError("the separation run has no ONNX export", path=source,
                           fix=f"run `auricle export {source}`, or serve without --no-export")
        if log:
            log(f"{source}: no ONNX export of the separator yet; exporting once...")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
        p = subprocess.run([sys.executable, "-c", _SEPARATOR_EXPORT, str(source)], env=env, capture_output=True,
                           text=True, timeout=timeout)
        if p.returncode != 0 or not onnx_file.exists():
            tail = " | ".join((p.stderr or "").strip().splitlines()[-3:])
            raise RunError(f"the separator's ONNX export failed: {tail}", path=source,
                           fix=f"run `auricle export {source}` to see the whole error")
    sep = Separator.load(source, runtime="onnx", threads=threads)
    return ServedSeparator(name or source.name, source, sep)


def load_all(sources, *, export: bool = True, threads: int = 1, log=None, max_batch: int = 64):
    """Classifier runs/exports and separation runs -> ``(classifiers, {name: separator})``."""
    classifiers, separators = [], {}
    plain = []
    for src in sources:
        s = str(src)
        name = None
        if "=" in s and not Path(s).exists():
            name, s = s.split("=", 1)
        if is_separation_run(s):
            sp = open_separator(s, name=name, export=export, threads=threads, log=log)
            separators[sp.name] = sp
        else:
            plain.append(src)
    if plain:
        classifiers = load_models(plain, export=export, threads=threads, log=log, max_batch=max_batch)
    clash = set(separators) & {m.name for m in classifiers}
    if clash:
        raise RunError(f"two served models are named {', '.join(sorted(clash))}",
                       fix="name them: auricle serve kws=RUN1 stems=RUN2")
    return classifiers, separators
