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


@pytest.mark.parametrize("name", ["ensemble", "large"])
def test_shipped_ensemble_recipes_build_their_members(name):
    """Every member of a shipped ensemble recipe is a registered model that builds with its options
    (the ensemble's ResNet has the stride-2 stem; members of one family get different seeds)."""
    from auricle.models import get_model
    from auricle.training.ensemble import member_configs

    subs = member_configs(recipe(name))
    assert len(subs) >= 2
    for sub in subs:
        m = get_model(sub.model["name"]).build((101, 40), 10, **sub.model["options"])
        assert m.output_shape == (None, 10)
    if name == "ensemble":
        assert [(s.model["name"], s.model["options"]) for s in subs] == [("resnet", {"stem_stride": 2}), ("cnn", {})]
    if name == "large":  # a shipped recipe can start from another (recipe: default) and adds to it:
        d, base = recipe("large").to_dict(), recipe("default").to_dict()  # tempo and 80 epochs
        tempo, epochs, base_epochs = d["augment"].pop("tempo"), d["train"].pop("epochs"), base["train"].pop("epochs")
        assert tempo == {"min_rate": 0.85, "max_rate": 1.15, "p": 0.5}
        assert epochs == 80 and base_epochs == 40
        assert {k: v for k, v in d.items() if k not in ("name", "model")} == \
               {k: v for k, v in base.items() if k not in ("name", "model")}
    seeds = [(s.model["name"], s.train.seed) for s in subs]
    assert len(set(seeds)) == len(seeds)


def test_user_config_can_start_from_recipe(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("recipe: default\ntrain: {epochs: 3}\n")
    cfg = RunConfig.load(p)
    assert cfg.train.epochs == 3 and cfg.model["name"] == recipe("default").model["name"]
    # another model on top of a recipe does not inherit the recipe model's options (regression:
    # the default's ensemble members were merged into a resnet_tiny's options)
    p.write_text("recipe: default\nmodel: {name: cnn}\n")
    assert RunConfig.load(p).model == {"name": "cnn"}
    p.write_text("recipe: ensemble\nmodel: {options: {fit: together}}\n")
    assert RunConfig.load(p).model["options"]["members"] == recipe("ensemble").model["options"]["members"]


def test_tiny_recipe_is_resnet_tiny_with_tempo_and_test_time_shifts():
    cfg = recipe("tiny")
    assert cfg.model["name"] == "resnet_tiny" and not cfg.model.get("options")
    assert cfg.train.epochs == 160 and cfg.train.tta_shift_ms == [-50, 50]
    assert "tempo" in cfg.augment and cfg.features == recipe("default").features


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
