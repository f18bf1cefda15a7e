"""Streaming: incremental features, step models with explicit state, detection on long audio.

* :mod:`auricle.streaming.frontend` - :class:`StreamingFrontend`, packets in, offline-equal frames out.
* :mod:`auricle.streaming.convert` - :func:`make_step_model`, a trained model as a one-frame step model.
* :mod:`auricle.streaming.detector` - posterior smoothing, threshold, refractory period, events.
* :mod:`auricle.streaming.evaluate` - synthetic long streams and false-reject / false-accept curves.

Heavy modules (Keras) are imported only by the functions that need them.
"""
from auricle.streaming.frontend import StreamingFrontend, streaming_exactness

__all__ = ["StreamingFrontend", "streaming_exactness"]
