"""Model zoo: published sizes, MAC counting, custom layers, the ``models`` command.

Building, one epoch of training and .keras round trips of every registered model (default
options, both presets) are in tests/test_models.py.
"""
import numpy as np
import pytest

from auricle.models import build_model
from auricle.models.profile import count_macs, model_profile

#: (model, options, input (frames, bins), classes, published trainable parameters, source)
PUBLISHED = [
    ("tc_resnet8", {}, (101, 40), 12, 66_000, "Choi et al. 2019, 40 MFCC x 101 frames"),
    ("tc_resnet14", {}, (101, 40), 12, 137_000, "Choi et al. 2019"),
    ("ds_cnn", {"size": "s"}, (49, 10), 12, 24_000, "Zhang et al. 2017 (Hello Edge), 10 MFCC x 49 frames"),
    ("ds_cnn", {"size": "m"}, (49, 10), 12, 140_000, "Hello Edge DS-CNN-M"),
    ("ds_cnn", {"size": "l"}, (49, 10), 12, 420_000, "Hello Edge DS-CNN-L"),
    ("bc_resnet", {"scale": 1}, (101, 40), 12, 9_200, "Kim et al. 2021, 40 log-mel x 101 frames"),
    ("bc_resnet", {"scale": 8}, (101, 40), 12, 321_000, "Kim et al. 2021 BC-ResNet-8"),
]


def _trainable(model):
    # papers count learnable parameters (PyTorch parameters / TF trainable variables), not BN statistics
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.mark.parametrize("name,opts,shape,classes,published,source", PUBLISHED,
                         ids=[f"{p[0]}-{'-'.join(map(str, p[1].values())) or 'default'}" for p in PUBLISHED])
def test_parameter_counts_match_the_papers(name, opts, shape, classes, published, source):
    m = build_model(name, shape, classes, **opts)
    n = _trainable(m)
    assert abs(n - published) <= 0.1 * published, f"{name} {opts}: {n} vs published {published} ({source})"
    prof = model_profile(m)
    assert prof["trainable_params"] == n and prof["params"] == m.count_params()


@pytest.mark.parametrize("name,opts,shape,published_ops", [
    ("ds_cnn", {"size": "s"}, (49, 10), 5.4e6),   # Hello Edge Table 7, "ops" = 2 x MACs
    ("ds_cnn", {"size": "m"}, (49, 10), 19.8e6),
    ("ds_cnn", {"size": "l"}, (49, 10), 56.9e6),
    ("tc_resnet8", {}, (101, 40), 3.0e6),          # TC-ResNet paper, FLOPs
    ("tc_resnet14", {}, (101, 40), 6.1e6),
])
def test_mac_counts_match_published_operation_counts(name, opts, shape, published_ops):
    macs = count_macs(build_model(name, shape, 12, **opts))
    assert abs(2 * macs - published_ops) <= 0.1 * published_ops


def test_count_macs_on_a_hand_checked_tiny_model():
    import keras
    from keras import layers

    inp = keras.Input((10, 6))
    x = layers.Reshape((10, 6, 1))(inp)
    x = layers.Conv2D(4, (3, 3), padding="valid")(x)                    # 8x4x4 out: 128 * 9 * 1 = 1152
    x = layers.BatchNormalization()(x)                                   # not counted
    x = layers.DepthwiseConv2D((3, 1), padding="same")(x)               # 128 * 3 = 384
    x = layers.SeparableConv2D(8, (1, 3), strides=(2, 1), padding="same")(x)  # 4x4: 16*4*3 + 16*4*8 = 704
    x = layers.Conv2D(6, 1, groups=2)(x)                                 # 16 * 6 * 8 / 2 = 384
    x = layers.Flatten()(x)                                              # 96
    out = layers.Dense(5)(x)                                             # 96 * 5 = 480
    m = keras.Model(inp, out)
    assert count_macs(m) == 1152 + 384 + 704 + 384 + 480

    seq = keras.Input((7, 3))
    y = layers.Conv1D(4, 3, strides=2)(seq)                  # 3 steps x 4 x 3 x 3 = 108
    y = layers.DepthwiseConv1D(3, padding="same")(y)        # 3 x 4 x 3 = 36
    y = layers.GRU(5, return_sequences=True)(y)             # 3 x 3 x (4*5 + 5*5) = 405
    y = layers.Bidirectional(layers.LSTM(2))(y)             # 2 x 3 x 4 x (5*2 + 2*2) = 336
    y = layers.Dense(3)(y)                                  # 4 x 3 = 12
    assert count_macs(keras.Model(seq, y)) == 108 + 36 + 405 + 336 + 12

    # a shared layer counts once per call; profile sizes follow the parameter count
    d = layers.Dense(2)
    a, b = keras.Input((3,)), keras.Input((3,))
    shared = keras.Model([a, b], layers.Add()([d(a), d(b)]))
    assert count_macs(shared) == 2 * 6
    p = model_profile(m)
    assert p["params"] == m.count_params() and p["kb_float32"] == pytest.approx(4 * p["kb_int8"])
    assert p["kb_int8"] == pytest.approx(m.count_params() / 1024)


def test_subspectral_norm_matches_a_reference_and_round_trips(tmp_path):
    import keras

    from auricle.models.layers import SubSpectralNormalization

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 4, 10, 2)) * np.arange(1, 11)[None, None, :, None] + 5).astype("float32")
    ssn = SubSpectralNormalization(5, momentum=0.5, epsilon=1e-5)
    y = keras.ops.convert_to_numpy(ssn(x, training=True))
    # reference: BatchNorm over a (C * S)-channel view, bands of 2 adjacent bins
    v = x.reshape(3, 4, 5, 2, 2)
    mean = v.mean(axis=(0, 1, 3), keepdims=True)
    var = v.var(axis=(0, 1, 3), keepdims=True)
    np.testing.assert_allclose(y, ((v - mean) / np.sqrt(var + 1e-5)).reshape(x.shape), atol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ssn.moving_mean), 0.5 * mean.reshape(5, 2), rtol=1e-5)

    # 13 bins (not divisible by 5) and fewer bins than sub-bands still work
    for bins, bands in ((13, 5), (3, 3)):
        z = rng.standard_normal((2, 6, bins, 3)).astype("float32") * 4 + 1
        layer = SubSpectralNormalization(5)
        out = keras.ops.convert_to_numpy(layer(z, training=True))
        assert out.shape == z.shape and tuple(layer.gamma.shape) == (bands, 3)
        assert abs(out.mean()) < 1e-4 and np.isfinite(out).all()

    # serialization round trip inside a model, with non-trivial statistics and weights
    inp = keras.Input((8, 13), name="features")
    h = keras.layers.Reshape((8, 13, 1))(inp)
    h = keras.layers.Conv2D(3, 3, padding="same")(h)
    h = SubSpectralNormalization(5, name="ssn")(h)
    model = keras.Model(inp, keras.layers.Dense(2, name="probs")(keras.layers.Flatten()(h)))
    feats = rng.standard_normal((4, 8, 13)).astype("float32")
    model(feats, training=True)  # updates the moving statistics
    layer = model.get_layer("ssn")
    layer.gamma.assign(rng.uniform(0.5, 2, layer.gamma.shape).astype("float32"))
    before = model.predict_on_batch(feats)
    model.save(tmp_path / "ssn.keras")
    again = keras.saving.load_model(tmp_path / "ssn.keras")
    assert again.get_layer("ssn").get_config()["sub_bands"] == 5
    np.testing.assert_allclose(again.predict_on_batch(feats), before, atol=1e-6)


def test_attention_pooling_weights_sum_to_one():
    import keras

    from auricle.models.layers import DotAttentionPooling

    seq = np.random.default_rng(1).standard_normal((2, 7, 4)).astype("float32")
    pooled, w = DotAttentionPooling("last", return_weights=True)(seq)
    w = keras.ops.convert_to_numpy(w)
    np.testing.assert_allclose(w.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled), np.einsum("bt,btd->bd", w, seq), atol=1e-5)


@pytest.mark.parametrize("name,opts", [
    ("ds_cnn", {"size": "m"}), ("ds_cnn", {"size": "l", "width": 0.25}),
    ("bc_resnet", {"scale": 1.5}), ("bc_resnet", {"sub_bands": 4, "block_dropout": 0.0}),
    ("crnn", {"padding": "same", "units": (32,)}), ("att_rnn", {"query": "last"}),
    ("resnet", {"blocks": (1, 1, 1, 1), "stem_stride": 2, "width": 0.125}),
])
@pytest.mark.parametrize("shape", [(101, 40), (44, 13)], ids=["kws", "seed"])
def test_new_builders_take_both_presets_and_their_options(name, opts, shape):
    m = build_model(name, shape, 7, **opts)
    assert m.input.shape[1:] == shape and m.output.shape[1:] == (7,)
    assert m.layers[0].name == "features" and m.layers[-1].name == "probs"
    assert model_profile(m)["macs"] > 0
    assert m.predict_on_batch(np.zeros((1, *shape), "float32")).shape == (1, 7)


def test_bc_resnet_published_scales_grow_and_streaming_flags():
    from auricle.models import get_model

    sizes = [_trainable(build_model("bc_resnet", (101, 40), 12, scale=s)) for s in (1, 2, 3, 6)]
    assert sizes == sorted(sizes)
    # window: exact but a full forward pass per step (look-ahead / bidirectional / attention);
    # incremental step models exist for lstm, gru ("exact") and causal tc_resnet ("causal")
    assert get_model("att_rnn").streamable == "window"
    assert get_model("crnn").streamable == "window"
    assert get_model("gru").streamable == "exact" and get_model("tc_resnet8").streamable == "causal"


def test_models_command_lists_costs():
    from typer.testing import CliRunner

    from auricle.cli import app

    r = CliRunner().invoke(app, ["models", "--input", "49x10", "--classes", "12"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    for word in ("MACs", "int8 kB", "float32 kB", "ds_cnn", "bc_resnet", "att_rnn", "resnet", "crnn"):
        assert word in r.output
    assert "24,332" in r.output  # ds_cnn-S: all weights, BN statistics included
    r = CliRunner().invoke(app, ["models", "--input", "nosuchpreset"])
    assert r.exit_code == 2


def test_bc_resnet_inference_mode_agrees_with_training_mode_once_trained():
    """Regression check for the BC-ResNet 'inference accuracy ~50%' report: after a few hundred
    steps the moving statistics of BatchNorm/SubSpectralNorm have caught up, so predictions in
    inference mode equal those in training mode (early on they lag: a warm-up effect, not a bug)."""
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 32, 20)).astype("float32") * 0.3
    y = rng.integers(0, 2, 256)
    x[y == 0, :, :5] += 2.0
    x[y == 1, :, 15:] += 2.0
    m = build_model("bc_resnet", (32, 20), 2, block_dropout=0.0)
    m.compile(keras.optimizers.Adam(0.002), "categorical_crossentropy")
    m.fit(x, keras.utils.to_categorical(y, 2), epochs=12, batch_size=32, verbose=0)
    inference = m.predict_on_batch(x).argmax(1)
    training = np.asarray(m(x, training=True)).argmax(1)
    assert (training == y).mean() == 1.0
    assert (inference == y).mean() >= 0.98


def test_models_command_narrow_terminal_keeps_numbers_on_one_line():
    from typer.testing import CliRunner

    from auricle.cli import app

    r = CliRunner().invoke(app, ["models", "--input", "49x10", "--classes", "12"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "24,332" in r.output and "widen the terminal" in r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80


def test_ensemble_loso_averages_saved_probabilities_and_names_missing_shifts(tmp_path):
    """experiments/ensemble_loso.py on probabilities saved by experiments/dump_probs.py: the average of two
    labels is exact, and a label asking for test-time-shifted probabilities that were never dumped
    gets one line naming the file and the fix (it was a KeyError traceback)."""
    import subprocess
    import sys
    from pathlib import Path

    speakers = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    y = np.array([0, 1, 1, 0])
    a = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.6, 0.4]])  # 3 of 4 right
    b = np.array([[0.9, 0.1], [0.1, 0.9], [0.7, 0.3], [0.8, 0.2]])  # 3 of 4 right, different ones
    for name, p in (("a", a), ("b", b)):
        np.savez(tmp_path / f"{name}.npz", labels=np.array(["0", "1"]),
                 **{f"{s}.{k}": v for s in speakers for k, v in
                    (("val_groups", np.array([], dtype=str)), ("test.p", p), ("test.y", y))})
    script = Path(__file__).resolve().parents[1] / "experiments" / "ensemble_loso.py"
    run = subprocess.run([sys.executable, str(script), f"A={tmp_path / 'a.npz'}", f"B={tmp_path / 'b.npz'}",
                          "--", "A", "A+B"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    rows = {line.split()[0]: line.split() for line in run.stdout.splitlines()[1:]}
    assert rows["A"][7] == "75.0%" and rows["A+B"][7] == "100.0%"  # the average fixes both models' misses
    run = subprocess.run([sys.executable, str(script), f"A={tmp_path / 'a.npz'}:tta", "--", "A"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "a.npz:tta: no test-time-shifted probabilities" in run.stderr and "dump_probs.py" in run.stderr
