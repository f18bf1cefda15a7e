"""Helpers shared by the serve tests: a tiny trained run with its ONNX export (made once per session)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def tone(freq: float, seconds: float = 0.5, amp: float = 0.3, sr: int = SR) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    env = np.clip(np.minimum(t, t[-1] - t) * 20, 0, 1)
    return (amp * np.sin(2 * np.pi * freq * t) * env).astype("float32")


def make_tiny_run(base: Path) -> Path:
    """Train a small cnn on generated low/high/noise clips (0.5 s, 16 kHz) and export it to ONNX.

    Reused when ``base/run/export/onnx`` is already there (the two serve test files share it).
    """
    from tests.test_training import make_dataset

    run = base / "run"
    if (run / "export" / "onnx" / "meta.json").exists():
        return run
    from auricle.config import RunConfig
    from auricle.export import export_run
    from auricle.training import train

    root = make_dataset(base / "data", groups=6, per=6)
    cfg = RunConfig.from_dict({
        "name": "tiny", "data": {"root": str(root), "layout": "manifest", "val": 0.2, "test": 0.2},
        "features": {"preset": "kws", "duration": 0.5, "normalize": "per_clip"},
        "augment": {},
        "model": {"name": "cnn", "options": {"dense": 16, "batch_norm": False}},
        "train": {"epochs": 12, "batch_size": 8, "learning_rate": 0.003, "workers": 1, "seed": 0,
                  "cache_dir": str(base / "cache")},
    })
    train(cfg, run)
    export_run(run, "onnx")
    return run


def wav_bytes(y: np.ndarray, sr: int = SR, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, y, sr, subtype=subtype, format=fmt)
    return buf.getvalue()
