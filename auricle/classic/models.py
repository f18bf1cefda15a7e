"""Classic (non-neural) classifiers on clip summary features, registered with ``kind="classic"``.

Each builder returns an unfitted scikit-learn :class:`~sklearn.pipeline.Pipeline`
(``StandardScaler`` then the estimator, steps ``scale`` and ``clf``); its keyword defaults are
the model's options (``auricle train --model svm --set model.options.C=3``).  ``input_shape``
is ``(n_summary_features,)`` and only documents the input; ``n_classes`` is unused (the
estimators infer it).  :class:`ClassicModel` wraps a fitted pipeline with the run's label
mapping and a Keras-like ``predict_on_batch`` so :mod:`auricle.evaluation` can use it.

``xgboost`` is XGBoost's ``XGBClassifier`` when the ``xgboost`` package is installed, else
scikit-learn's ``HistGradientBoostingClassifier`` under the same name (same option names
where they exist; see :func:`xgboost`).
"""
from __future__ import annotations

import numpy as np

from auricle.models.registry import register_model


def _pipeline(est):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("clf", est)])


def has_xgboost() -> bool:
    try:
        import xgboost  # noqa: F401
    except ImportError:
        return False
    return True


@register_model("xgboost", kind="classic",
                description="gradient-boosted trees on summary features (XGBoost; sklearn HistGradientBoosting "
                            "when xgboost is not installed)")
def xgboost(input_shape, n_classes, *, n_estimators: int = 300, max_depth: int = 6,
            learning_rate: float = 0.1, subsample: float = 0.8, colsample_bytree: float = 0.8,
            min_child_weight: float = 1.0, reg_lambda: float = 1.0):
    if has_xgboost():
        from xgboost import XGBClassifier

        est = XGBClassifier(n_estimators=int(n_estimators), max_depth=int(max_depth), learning_rate=learning_rate,
                            subsample=subsample, colsample_bytree=colsample_bytree,
                            min_child_weight=min_child_weight, reg_lambda=reg_lambda, tree_method="hist",
                            n_jobs=1, random_state=0, verbosity=0)
    else:  # pragma: no cover - depends on the environment
        from sklearn.ensemble import HistGradientBoostingClassifier

        # no row/column subsampling there; min_child_weight ~ min_samples_leaf; reg_lambda = l2_regularization
        est = HistGradientBoostingClassifier(max_iter=int(n_estimators), max_depth=int(max_depth),
                                             learning_rate=learning_rate, l2_regularization=reg_lambda,
                                             min_samples_leaf=max(1, int(round(min_child_weight))),
                                             early_stopping=False, random_state=0)
    return _pipeline(est)


@register_model("random_forest", kind="classic", description="random forest on summary features")
def random_forest(input_shape, n_classes, *, n_estimators: int = 300, max_depth: int | None = None,
                  min_samples_leaf: int = 1, max_features: str | float = "sqrt", class_weight: str | None = None):
    from sklearn.ensemble import RandomForestClassifier

    return _pipeline(RandomForestClassifier(n_estimators=int(n_estimators), max_depth=max_depth,
                                            min_samples_leaf=int(min_samples_leaf), max_features=max_features,
                                            class_weight=class_weight, n_jobs=1, random_state=0))


@register_model("svm", kind="classic",
                description="support-vector machine (RBF kernel) on standardized summary features")
def svm(input_shape, n_classes, *, C: float = 10.0, kernel: str = "rbf", gamma: str | float = "scale",
        class_weight: str | None = None):
    from sklearn.svm import SVC

    # scores: softmax of the one-vs-rest decision values (see ClassicModel), not Platt-calibrated
    return _pipeline(SVC(C=C, kernel=kernel, gamma=gamma, class_weight=class_weight,
                         decision_function_shape="ovr", random_state=0))


@register_model("knn", kind="classic", description="k-nearest neighbours on standardized summary features")
def knn(input_shape, n_classes, *, n_neighbors: int = 5, weights: str = "distance", p: float = 2):
    from sklearn.neighbors import KNeighborsClassifier

    return _pipeline(KNeighborsClassifier(n_neighbors=int(n_neighbors), weights=weights, p=p))


@register_model("logreg", kind="classic", description="multinomial logistic regression on summary features")
def logreg(input_shape, n_classes, *, C: float = 1.0, max_iter: int = 2000,
           class_weight: str | None = None):
    from sklearn.linear_model import LogisticRegression

    return _pipeline(LogisticRegression(C=C, max_iter=int(max_iter), class_weight=class_weight))


# --------------------------------------------------------------------------------------------
# the fitted model
# --------------------------------------------------------------------------------------------

def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class ClassicModel:
    """A fitted pipeline plus what it needs to answer like a Keras classifier.

    ``predict_on_batch(x)`` takes summary vectors ``(n, d)`` and returns probabilities
    ``(n, n_classes)`` over ALL the run's labels (a class absent from training gets 0), so
    :func:`auricle.evaluation.predict_probs` and friends work unchanged.  Labels are mapped to
    ``0..k-1`` over the classes present before fitting (XGBoost requires that).
    """

    def __init__(self, pipeline, n_classes: int, *, name: str = "", summary: dict | None = None):
        self.pipeline = pipeline
        self.n_classes = int(n_classes)
        self.name = name
        self.summary = dict(summary or {})
        self.classes_ = None

    @property
    def output_shape(self):
        return (None, self.n_classes)

    def fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> "ClassicModel":
        self.classes_, yi = np.unique(np.asarray(y), return_inverse=True)
        kw = {}
        if sample_weight is not None:
            kw["clf__sample_weight"] = np.asarray(sample_weight, dtype=np.float64)
        self.pipeline.fit(np.asarray(x, dtype=np.float64), yi, **kw)
        return self

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        out = np.zeros((len(x), self.n_classes), dtype=np.float32)
        if len(x) == 0:
            return out
        if hasattr(self.pipeline, "predict_proba") and hasattr(self.pipeline[-1], "predict_proba"):
            p = self.pipeline.predict_proba(x)
        else:
            d = np.asarray(self.pipeline.decision_function(x), dtype=np.float64)
            if d.ndim == 1:  # binary: the score of class 1
                d = np.stack([-d / 2, d / 2], axis=1)
            p = _softmax(d)
        out[:, self.classes_] = p
        return out

    predict_proba = predict_on_batch

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_on_batch(x).argmax(axis=1)

    def size(self) -> tuple[int, str]:
        """``(stored numbers, description)``: trees/nodes, support vectors, stored examples or
        weights, plus the scaler's mean and scale; the number is comparable to Keras parameters
        only loosely."""
        clf = self.pipeline[-1]
        scale = self.pipeline[0]
        d = int(getattr(scale, "n_features_in_", 0))
        base = 2 * d
        cls = type(clf).__name__
        if cls == "XGBClassifier":
            dump = clf.get_booster().get_dump()
            nodes = sum(t.count("\n") for t in dump)
            return base + 2 * nodes, f"{len(dump):,} trees, {nodes:,} nodes"
        if hasattr(clf, "estimators_") and hasattr(clf.estimators_[0], "tree_"):
            nodes = sum(int(e.tree_.node_count) for e in clf.estimators_)
            return base + 2 * nodes, f"{len(clf.estimators_):,} trees, {nodes:,} nodes"
        if hasattr(clf, "n_iter_") and hasattr(clf, "n_trees_per_iteration_"):
            n = int(clf.n_iter_) * int(clf.n_trees_per_iteration_)
            return base + n, f"{n:,} trees"
        if hasattr(clf, "n_support_"):
            n_sv = int(np.sum(clf.n_support_))
            return base + n_sv * d + int(clf.dual_coef_.size) + int(clf.intercept_.size), f"{n_sv:,} support vectors"
        if hasattr(clf, "n_samples_fit_"):
            n = int(clf.n_samples_fit_)
            return base + n * d, f"{n:,} stored examples"
        if hasattr(clf, "coef_"):
            n = int(clf.coef_.size + np.size(getattr(clf, "intercept_", 0)))
            return base + n, f"{n:,} weights"
        return base, cls

    def count_params(self) -> int:
        return self.size()[0]


class WaveformModel:
    """A :class:`ClassicModel` that takes waveforms: ``predict_on_batch(x)`` with ``x`` ``(n, samples)``
    or ``(n, samples, 1)`` (what :func:`auricle.features.extract` gives for a ``waveform`` config)
    computes the summary features, then the probabilities.  Used by :func:`auricle.classic.load_classic`
    so ``auricle predict`` / ``evaluate`` work on classic runs unchanged."""

    def __init__(self, model: ClassicModel):
        from auricle.classic.summary import SummaryConfig

        self.model = model
        self.summary_config = SummaryConfig.from_dict(model.summary)

    @property
    def output_shape(self):
        return self.model.output_shape

    def features(self, waves: np.ndarray) -> np.ndarray:
        from auricle.classic.summary import summary_features

        w = np.asarray(waves)
        if w.ndim == 3:
            w = w[..., 0]
        return summary_features(w, self.summary_config)

    def predict_on_batch(self, waves: np.ndarray) -> np.ndarray:
        return self.model.predict_on_batch(self.features(waves))

    def count_params(self) -> int:
        return self.model.count_params()


def load_classic_model(path):
    """The :class:`ClassicModel` saved at ``path`` (``RUN/model.joblib``)."""
    import joblib

    from auricle.errors import RunError

    try:
        model = joblib.load(path)
    except Exception as exc:  # a pickle from another scikit-learn/xgboost version, a truncated file
        raise RunError(f"cannot load the classic model ({type(exc).__name__}: {exc})", path=path,
                       fix="retrain the run with the installed scikit-learn/xgboost versions") from None
    if not isinstance(model, ClassicModel):
        raise RunError("model.joblib does not hold an auricle classic model", path=path)
    return model
