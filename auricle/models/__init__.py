"""Model families and their registry.  ``build_model(name, input_shape, n_classes, **options)``."""
from auricle.models.registry import MODELS, build_model, get_model, list_models, load_model, register_model

__all__ = ["MODELS", "build_model", "get_model", "list_models", "load_model", "register_model"]
