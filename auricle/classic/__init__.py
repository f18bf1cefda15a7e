"""Classic machine learning on clip summary features: XGBoost, random forest, SVM, k-NN, logistic regression.

* :mod:`auricle.classic.summary` - the GTZAN-style summary vector (MFCC/chroma/spectral means
  and variances + tempo), vectorized over a batch of clips;
* :mod:`auricle.classic.models` - the registered ``kind="classic"`` models (scikit-learn pipelines);
* :mod:`auricle.classic.train` - :func:`train_classic` writes the same run directory as a Keras
  run (``model.joblib`` instead of ``model.keras``);
* :mod:`auricle.classic.load` - :func:`load_classic` / :func:`predict_classic` use it.
"""
from auricle.classic import models  # noqa: F401,E402  (registers the classic models)
from auricle.classic.load import is_classic_run, load_classic, predict_classic  # noqa: F401
from auricle.classic.train import train_classic  # noqa: F401

__all__ = ["train_classic", "load_classic", "predict_classic", "is_classic_run"]
