"""The Keras/TensorFlow process setup the library and the CLI share: quiet logging, one backend.

Light to import (os, sys, logging only); TensorFlow itself is imported by :func:`quiet_keras`, on
first use, never at import time.
"""
from __future__ import annotations

import os
import sys

__all__ = ["quiet_keras", "quiet_tf"]


def quiet_tf() -> None:
    """Set TensorFlow's logging to errors only and the Keras backend to TensorFlow (unless the
    environment already chose), before TensorFlow is imported.

    Examples
    --------
    >>> quiet_tf()
    >>> os.environ["KERAS_BACKEND"] in ("tensorflow", "jax", "torch", "numpy")
    True
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import logging
    import warnings
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    # tf.function "retracing" notices when several models predict in one process (ensembles)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def quiet_keras() -> None:
    """Import Keras/TensorFlow with the C++ start-up chatter (absl/oneDNN banners, which no
    environment variable silences in TF 2.21) sent to a scratch file; shown if the import fails.

    Examples
    --------
    >>> quiet_keras()                                                      # doctest: +SKIP
    >>> import keras                                                       # doctest: +SKIP
    """
    quiet_tf()
    if "keras" in sys.modules:
        return
    import tempfile

    saved = os.dup(2)
    with tempfile.TemporaryFile() as scratch:
        os.dup2(scratch.fileno(), 2)
        try:
            import keras  # noqa: F401
        except Exception:
            os.dup2(saved, 2)
            scratch.seek(0)
            sys.stderr.write(scratch.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
