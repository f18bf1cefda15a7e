"""Serving: an HTTP API and a web page over a run's ONNX export (no TensorFlow on the request path).

* :mod:`auricle.serve.models` - a run (or an export) opened for serving; exports on first serve.
* :mod:`auricle.serve.batching` - concurrent requests' windows batched into one model call.
* :mod:`auricle.serve.decode` - uploaded bytes / raw PCM -> checked mono float32 at the model's rate.
* :mod:`auricle.serve.stream` - the WebSocket session: PCM packets -> sliding windows -> detector events.
* :mod:`auricle.serve.app` - the FastAPI application (:func:`create_app`) and its JSON errors.
* ``static/`` - the web page (plain HTML/JS/CSS, no CDN).

``auricle serve RUN [RUN ...]`` (``auricle/cli/serve.py``) opens the runs and starts uvicorn.
"""
from __future__ import annotations

__all__ = ["create_app", "load_models", "Limits"]


def __getattr__(name):  # keep `import auricle.serve` light
    if name in ("create_app", "Limits"):
        from auricle.serve import app

        return getattr(app, name)
    if name == "load_models":
        from auricle.serve.models import load_models

        return load_models
    raise AttributeError(name)
