import numpy as np
import pytest

from auricle.errors import ModelError
from auricle.models import build_model, list_models

NAMES = [m.name for m in list_models() if m.kind == "keras"]
RECURRENT = {"gru", "lstm", "att_rnn", "crnn"}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(101, 40), (44, 13)])
def test_builds_trains_and_reloads(name, shape, tmp_path):
    """Every registered Keras model builds on both presets, takes optimizer steps (the weights
    move), predicts probabilities in a traced graph (``predict_on_batch``) and reloads from
    ``.keras`` with the same outputs.

    The two training steps of a convolutional or dense model run eagerly: tracing its training
    step (forward and gradients) as a graph cost 5-55 s a model, about eight minutes of the suite
    over the 28 cases, against 1-11 s eagerly; graph-mode ``fit`` of those runs in the training
    tests (cnn, mlp, tc_resnet8, ensembles...).  Recurrent models train in graph mode here: their
    eager steps loop over the frames in Python and cost as much as tracing."""
    import keras

    m = build_model(name, shape, 3)
    m.compile("adam", "categorical_crossentropy", run_eagerly=name not in RECURRENT)
    x = np.random.default_rng(0).standard_normal((4, *shape)).astype("float32")
    y = keras.utils.to_categorical([0, 1, 2, 0], 3)
    before = [np.array(w) for w in m.trainable_weights]
    m.fit(x, y, epochs=1, batch_size=2, verbose=0)
    assert any(not np.allclose(b, np.array(w)) for b, w in zip(before, m.trainable_weights))
    m.run_eagerly = False  # predict_on_batch traces the forward pass as a tf.function
    p = m.predict_on_batch(x)
    assert p.shape == (4, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    m.save(tmp_path / "m.keras")
    m2 = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(m2(x, training=False)), p, atol=1e-6)


def test_regularization_knobs_change_the_model():
    base = build_model("cnn", (44, 13), 4)
    wide = build_model("cnn", (44, 13), 4, width=2.0)
    assert wide.count_params() > base.count_params()
    reg = build_model("mlp", (44, 13), 4, l2=1e-3, batch_norm=True, dropout=0.5)
    assert any("batch_normalization" in type(layer).__name__.lower() or "bn" in layer.name for layer in reg.layers)
    assert reg.losses  # the L2 penalty is registered


def test_cnn_default_is_the_course_network():
    m = build_model("cnn", (44, 13), 10)
    convs = [lay for lay in m.layers if lay.name.startswith("conv")]
    assert [c.filters for c in convs] == [32, 32, 32]
    assert m.get_layer("dense").units == 64 and m.get_layer("dropout").rate == 0.3


def test_unknown_model_and_option():
    with pytest.raises(ModelError, match="unknown model"):
        build_model("transformerz", (10, 10), 2)
    with pytest.raises(ModelError, match="unknown option"):
        build_model("cnn", (10, 10), 2, wibble=3)
