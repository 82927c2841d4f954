"""CompareConfig: arms (optimizers and named variants), model and data options, validation."""
import pytest

from rso_ref import data
from rso_ref.compare import DEFAULT_LR, CompareConfig, load_dataset, make_model


def test_arms_resolve_to_an_optimizer_and_its_options():
    config = CompareConfig(optimizers=("sgd", "rso", "K=2"), rso_options={"meta_iters": 3},
                           variants={"K=2": {"optimizer": "rso", "options": {"meta_iters": 2}}},
                           lrs={"K=2": 0.5})
    assert config.arm("sgd") == ("sgd", {})
    assert config.arm("rso") == ("rso", {"meta_iters": 3})
    assert config.arm("K=2") == ("rso", {"meta_iters": 2})
    assert config.lr("K=2") == 0.5 and config.lr("rso") == DEFAULT_LR["rso"]


@pytest.mark.parametrize("kwargs, match", [
    ({"variants": {"v": {"optimizer": "nadam"}}}, "variants: 'v'"),
    ({"variants": {"v": {"optimizer": "rso", "option": {}}}}, "variants: 'v'"),
    ({"optimizers": ("sgd", "sgd")}, "distinct"),
    ({"optimizers": ("sgd", "v")}, "unknown: \\['v'\\]"),
    ({"lrs": {"v": 0.1}}, "lrs: bad entry v"),
    ({"lrs": {"sgd": True}}, "lrs: bad entry sgd"),
    ({"variants": {"sgd": {"optimizer": "rso"}}}, "'sgd' would shadow"),
    ({"data_options": {"seed": 3}}, "data_options must not set \\['seed'\\]"),
    ({"model_options": [("widths", 2)]}, "model_options must be a dict"),
])
def test_bad_configs_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CompareConfig(**kwargs)


def test_model_and_data_options_reach_their_constructors():
    config = CompareConfig(model="resnet", data="cifar_like", model_options={"widths": [2, 4]},
                           data_options={"n_train": 30, "n_test": 20, "image_size": 8})
    ds = load_dataset(config)
    assert ds.name == "cifar_like" and ds.X_train.shape == (30, 3, 8, 8)
    model = make_model(config.model, ds, **config.model_options)
    assert model.widths == (2, 4) and model.input_shape == (3, 8, 8)
    with pytest.raises(TypeError, match="hidden_sizes"):
        make_model("mlp", data.load_digits(), hidden_sizes=(4,))


def test_tuning_extends_the_grid_beyond_an_edge_winner():
    from rso_ref.compare import LR_EDGE_STEP, LR_GRID_FACTORS, tune_learning_rates

    # Adam for one epoch on the digits: on the five-point grid the largest rate wins
    config = CompareConfig(optimizers=("sgd", "adam"), epochs=1,
                           data_options={"test_fraction": 0.5})
    base = tune_learning_rates(config, progress=False)
    extended = tune_learning_rates(config, extend_edges=2, progress=False)
    grid5 = [DEFAULT_LR["adam"] * f for f in LR_GRID_FACTORS]
    assert base["adam"]["grid"] == grid5 and base["adam"]["best"] == grid5[-1]
    grid = extended["adam"]["grid"]
    assert grid[:5] == grid5 and extended["adam"]["val_accuracy"][:5] == \
        base["adam"]["val_accuracy"]                       # deterministic re-runs
    assert 6 <= len(grid) <= 7
    assert grid[5] == pytest.approx(grid5[-1] * LR_EDGE_STEP, rel=1e-15)
    # the search stops once the winner is interior, or after two extra rates
    best = extended["adam"]["best"]
    assert best == max(zip(extended["adam"]["val_accuracy"], grid),
                       key=lambda t: (t[0], -t[1]))[1]
    assert len(grid) == 7 or best != grid[-1]
    # SGD's winner is interior: nothing is added
    assert extended["sgd"]["grid"] == base["sgd"]["grid"]
    assert base["sgd"]["best"] not in (base["sgd"]["grid"][0], base["sgd"]["grid"][-1])
    with pytest.raises(ValueError, match="extend_edges"):
        tune_learning_rates(config, extend_edges=-1, progress=False)
