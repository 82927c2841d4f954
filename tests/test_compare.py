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
