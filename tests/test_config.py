import pytest

from auricle.config import RunConfig, list_recipes, recipe
from auricle.errors import ConfigError


def test_recipes_load_and_round_trip(tmp_path):
    assert {"default", "classic"} <= set(list_recipes())
    cfg = recipe("classic")
    assert cfg.model["name"] == "cnn" and cfg.train.epochs == 40 and cfg.features == {"preset": "seed"}
    p = tmp_path / "c.yaml"
    cfg.save(p)
    assert RunConfig.load(p).to_dict() == cfg.to_dict()


def test_user_config_can_start_from_recipe(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("recipe: default\ntrain: {epochs: 3}\n")
    cfg = RunConfig.load(p)
    assert cfg.train.epochs == 3 and cfg.model["name"] == recipe("default").model["name"]


@pytest.mark.parametrize("bad, msg", [
    ({"train": {"epochs": 0}}, "epochs"),
    ({"train": {"optimizer": "adamax"}}, "optimizer"),
    ({"train": {"learnig_rate": 1}}, "unknown key"),
    ({"data": {"val": 0.6, "test": 0.5}}, "fractions"),
    ({"train": {"class_weight": 3}}, "class_weight"),
])
def test_bad_config_values(bad, msg):
    with pytest.raises(ConfigError, match=msg):
        RunConfig.from_dict(bad)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        RunConfig.load(tmp_path / "nope.yaml")
