"""Running an export without TensorFlow: :func:`load_exported` (onnxruntime or LiteRT) and
:func:`load_predictor` (a :class:`auricle.runs.Run` over it, for :func:`auricle.inference.predict_files`).

:mod:`auricle.export` writes exports (and re-exports these names); this module only reads them,
so ``auricle predict`` on an export and the server never import the converter side.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from auricle.errors import AuricleError, ConfigError, RunError

__all__ = ["RUNTIMES", "ExportError", "ExportedModel", "load_exported", "load_predictor", "stream_clips"]

#: Runtimes an export can be loaded with.
RUNTIMES = ("onnx", "tflite")


class ExportError(AuricleError):
    """A conversion or runtime that failed (converter crash, missing runtime package...)."""


def stream_clips(fn, smeta: dict, x) -> np.ndarray:
    """Final probabilities ``(N, C)`` of each clip of ``x`` fed frame by frame after a reset through
    ``fn(frames, states) -> (probs, new_states)``, as the export's ``meta.json`` ``streaming``
    section ``smeta`` describes."""
    from auricle.streaming.convert import StepRunner

    r = StepRunner(fn, smeta["state_shapes"], smeta["frames_per_step"], smeta["bins"],
                   pad_flush=smeta["mode"] == "incremental")
    return np.stack([r.run_clip(c) for c in x])


@dataclass
class ExportedModel:
    """An exported model run by onnxruntime or LiteRT; quacks like a Keras model for ``predict``."""

    path: Path
    runtime: str
    meta: dict
    labels: list = field(default_factory=list)
    feature_config: object = None
    _session: object = None
    _interp: object = None

    # -- info -----------------------------------------------------------------------------------
    @property
    def streaming(self) -> dict | None:
        return self.meta.get("streaming")

    @property
    def output_shape(self):
        return (None, len(self.labels))

    # -- one call -------------------------------------------------------------------------------
    def _run(self, arrays: list) -> list:
        if self.runtime == "onnx":
            names = self.meta["inputs"]
            return self._session.run(self.meta["outputs"], dict(zip(names, arrays)))
        it = self._interp
        for name, a in zip(self.meta["inputs"], arrays):
            idx = self._in_idx[name]
            if self._in_shape[name] != a.shape:
                it.resize_tensor_input(idx, a.shape, strict=False)
                it.allocate_tensors()
                self._in_shape[name] = a.shape
            it.set_tensor(idx, a)
        it.invoke()
        return [it.get_tensor(self._out_idx[n]).copy() for n in self.meta["outputs"]]

    # -- offline --------------------------------------------------------------------------------
    def predict(self, x, batch_size: int = 256, verbose=0) -> np.ndarray:
        """Probabilities ``(N, C)`` of features ``(N, frames, bins)`` (an offline export)."""
        if self.streaming is not None:
            return self.predict_streaming(x)
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not len(x):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        bs = 1 if self.meta.get("fixed_batch") else batch_size
        return np.concatenate([self._run([x[i:i + bs]])[0] for i in range(0, len(x), bs)])

    def predict_on_batch(self, x):
        return self.predict(x)

    # -- streaming ------------------------------------------------------------------------------
    def step_fn(self):
        """``fn(frames, states) -> (probs, new_states)`` of a ``--streaming`` export."""
        if self.streaming is None:
            raise ExportError("this export holds the offline model, not a step model",
                              path=self.path, fix="export with --streaming")

        def fn(frames, states):
            out = self._run([frames, *states])
            return out[0], out[1:]

        return fn

    def step_runner(self):
        """A :class:`auricle.streaming.convert.StepRunner` over this export."""
        from auricle.streaming.convert import StepRunner

        s = self.streaming
        if s is None:
            self.step_fn()
        return StepRunner(self.step_fn(), s["state_shapes"], s["frames_per_step"], s["bins"],
                          pad_flush=s["mode"] == "incremental")

    def predict_streaming(self, x) -> np.ndarray:
        """Each clip fed frame by frame after a reset; the final probabilities ``(N, C)``."""
        return stream_clips(self.step_fn(), self.streaming, np.asarray(x, dtype=np.float32))


def _find(path: Path) -> tuple[Path, Path]:
    """(export folder, model file) of an export folder or a model file inside one."""
    path = Path(path)
    if path.is_dir() and (path / "meta.json").exists():
        meta = json.loads((path / "meta.json").read_text())
        return path, path / meta["file"]
    if path.is_file() and (path.parent / "meta.json").exists():
        return path.parent, path
    if path.is_dir() and (path / "export").is_dir():
        found = sorted(p.parent for p in (path / "export").glob("*/meta.json"))
        raise RunError("this is a run directory; pass one of its exports", path=path,
                       fix="one of: " + ", ".join(map(str, found)) if found else "run `auricle export` first")
    raise RunError("not an auricle export (no meta.json beside the model)", path=path,
                   fix="pass the folder written by `auricle export`")


def load_exported(path, runtime: str | None = None, *, threads: int = 1) -> ExportedModel:
    """Load an export for inference with onnxruntime or LiteRT only (TensorFlow is not imported).

    Parameters
    ----------
    path : path
        The folder ``auricle export`` wrote (or the model file in it).
    runtime : {"onnx", "tflite"}, optional
        Default: from the file type.
    threads : int
        Intra-op threads (1 = one core, the device-like setting).
    """
    from auricle.features import FeatureConfig

    folder, file = _find(Path(path))
    meta = json.loads((folder / "meta.json").read_text())
    kind = "onnx" if file.suffix == ".onnx" else "tflite" if file.suffix == ".tflite" else None
    runtime = runtime or kind
    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown runtime {runtime!r}", fix=f"use one of {', '.join(RUNTIMES)}")
    if kind != runtime:
        raise ConfigError(f"{file.name} is not a {runtime} model", path=folder,
                          fix=f"export with --format {'onnx' if runtime == 'onnx' else 'tflite'}")
    m = ExportedModel(folder, runtime, meta, list(meta["labels"]), FeatureConfig.from_dict(meta["features"]))
    if runtime == "onnx":
        try:
            import onnxruntime as ort
        except ImportError:
            raise ExportError("the onnx runtime needs onnxruntime", fix="pip install onnxruntime") from None
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        m._session = ort.InferenceSession(str(file), so, providers=["CPUExecutionProvider"])
    else:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise ExportError("the tflite runtime needs LiteRT", fix="pip install ai-edge-litert") from None
        it = Interpreter(model_path=str(file), num_threads=threads)
        sig = it.get_signature_runner()
        ins = sig.get_input_details()
        outs = sig.get_output_details()
        del sig
        it.allocate_tensors()
        m._interp = it
        m._in_idx = {n: int(d["index"]) for n, d in ins.items()}
        m._out_idx = {n: int(d["index"]) for n, d in outs.items()}
        m._in_shape = {n: tuple(int(v) for v in d["shape"]) for n, d in ins.items()}
    return m


def load_predictor(path, runtime: str | None = None):
    """A :class:`auricle.inference.Run`-like object over an export, for ``predict_files``.

    ``auricle predict EXPORT FILES --runtime onnx|tflite`` can call
    ``predict_files(load_predictor(EXPORT, runtime), paths, ...)``: the returned object has the
    ``path, config, labels, feature_config, crop, window_hop, model`` attributes that
    :func:`auricle.inference.predict_files` reads, with ``model`` an :class:`ExportedModel`.
    """
    import dataclasses

    from auricle.runs import Run

    m = load_exported(path, runtime)
    values = {f.name: None for f in dataclasses.fields(Run)}  # fields added later stay None
    values.update(path=m.path, config=None, labels=m.labels, feature_config=m.feature_config,
                  crop=m.meta.get("crop") or "center", window_hop=m.meta.get("window_hop"), model=m,
                  silence=m.meta.get("silence"), variable_length=bool(m.meta.get("variable_length", False)),
                  silence_frames=m.meta.get("silence_frames"))
    if "member" in values:  # train.fuse: the export folder carries the run's member/ (auricle.fusion)
        from auricle.fusion import load_member

        values["member"] = load_member(m.path, labels=m.labels)
    return Run(**values)
