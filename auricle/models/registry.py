"""Model registry: names -> Keras builders and their documented options.

Each model module declares its own options (kws_streaming style) with
:func:`register_model`; the CLI lists what is registered.  A builder has the signature
``builder(input_shape, n_classes, **options) -> keras.Model`` where ``input_shape`` is the
time-major feature shape ``(frames, bins)``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from auricle.errors import ModelError

#: Options every builder accepts (the regularization knobs).
COMMON_OPTIONS = {
    "dropout": "dropout rate before the classifier (0 disables)",
    "l1": "L1 penalty on kernels",
    "l2": "L2 penalty on kernels",
    "batch_norm": "insert BatchNormalization after conv/dense layers",
    "width": "width multiplier applied to every layer's units/filters",
}


@dataclass
class ModelSpec:
    name: str
    builder: Callable
    description: str
    defaults: dict = field(default_factory=dict)
    streamable: str = "no"
    kind: str = "keras"  # "keras" (a keras.Model) or "classic" (a scikit-learn estimator on summary features)

    def build(self, input_shape, n_classes: int, **options):
        unknown = set(options) - set(self.defaults)
        if unknown:
            raise ModelError(f"unknown option(s) {sorted(unknown)} for model '{self.name}'",
                             fix=f"valid options: {', '.join(sorted(self.defaults))}")
        opts = {**self.defaults, **options}
        return self.builder(tuple(input_shape), int(n_classes), **opts)


MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, *, description: str, streamable: str = "no", kind: str = "keras"):
    """Decorator registering a builder; its keyword defaults become the model's options."""

    def deco(fn):
        sig = inspect.signature(fn)
        defaults = {k: p.default for k, p in sig.parameters.items()
                    if p.default is not inspect.Parameter.empty}
        MODELS[name] = ModelSpec(name, fn, description, defaults, streamable, kind)
        return fn

    return deco


def get_model(name: str) -> ModelSpec:
    _load_builtin()
    if name not in MODELS:
        raise ModelError(f"unknown model '{name}'", fix=f"choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def build_model(name: str, input_shape, n_classes: int, **options):
    """Build a registered model.

    Examples
    --------
    >>> m = build_model("mlp", (101, 40), 10, hidden=(32,))  # doctest: +SKIP
    """
    return get_model(name).build(input_shape, n_classes, **options)


def list_models() -> list[ModelSpec]:
    _load_builtin()
    return [MODELS[k] for k in sorted(MODELS)]


def _load_builtin():
    # importing the modules runs their @register_model decorators
    from auricle.models import cnn, mlp, recurrent, tcn  # noqa: F401
    from auricle.models import bcresnet, crnn, dscnn, ensemble, resnet  # noqa: F401
    from auricle.classic import models as _classic  # noqa: F401  (kind="classic": scikit-learn on summary features)


def load_model(path):
    """Load a saved ``.keras`` model, with auricle's custom layers registered first.

    Always load through this (not ``keras.saving.load_model`` directly): models such as
    ``bc_resnet`` and ``att_rnn`` hold serializable custom layers that must be imported.
    """
    import keras

    from auricle.models import layers  # noqa: F401  (registers the custom layers)
    from auricle.models import frames  # noqa: F401  (framewise decision layers)

    return keras.saving.load_model(str(path))
