"""auricle: deep neural networks for audio classification with Keras.

Heavy dependencies (TensorFlow/Keras) are imported lazily by the modules that need
them, so ``import auricle`` and ``auricle --help`` stay fast.
"""
from auricle.errors import AuricleError, AudioError, ConfigError, DatasetError, ModelError, RunError

__version__ = "0.1.0"

__all__ = ["AuricleError", "AudioError", "ConfigError", "DatasetError", "ModelError", "RunError", "__version__"]
