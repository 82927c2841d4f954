"""CompareConfig: arms (optimizers and named variants), model and data options, validation."""
import dataclasses

import numpy as np
import pytest

from rso_ref import compare, data
from rso_ref.compare import CompareConfig, run_comparison, tune_learning_rates
from rso_ref.experiment import load_dataset, make_model
from rso_ref.optim.registry import DEFAULT_LR, make_optimizer


def test_arms_resolve_to_an_optimizer_and_its_options():
    config = CompareConfig(optimizers=("sgd", "rso", "K=2"), rso_options={"meta_iters": 3},
                           variants={"K=2": {"optimizer": "rso", "options": {"meta_iters": 2}}},
                           lrs={"K=2": 0.5})
    assert config.arm("sgd") == ("sgd", {})
    assert config.arm("rso") == ("rso", {"meta_iters": 3})
    assert config.arm("K=2") == ("rso", {"meta_iters": 2})
    assert config.lr("K=2") == 0.5 and config.lr("rso") == DEFAULT_LR["rso"]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"variants": {"v": {"optimizer": "nadam"}}}, ValueError, "variants: 'v'"),
    ({"variants": {"v": {"optimizer": "rso", "option": {}}}}, ValueError, "variants: 'v'"),
    ({"optimizers": ("sgd", "sgd")}, ValueError, "distinct"),
    ({"optimizers": ("sgd", "SGD")}, ValueError, "distinct"),
    ({"optimizers": ("sgd", "v")}, ValueError, "unknown: \\['v'\\]"),
    ({"lrs": {"v": 0.1}}, ValueError, "lrs: 'v' is neither"),
    ({"lrs": {"sgd": True}}, TypeError, "lrs\\['sgd'\\] must be a real number"),
    ({"lrs": {"sgd": -0.1}}, ValueError, "lrs\\['sgd'\\] must be > 0"),
    ({"variants": {"sgd": {"optimizer": "rso"}}}, ValueError, "'sgd' would shadow"),
    ({"variants": {"SGD": {"optimizer": "rso"}}}, ValueError, "'SGD' would shadow"),
    ({"data_options": {"seed": 3}}, ValueError, "data_options must not set \\['seed'\\]"),
    ({"model_options": [("widths", 2)]}, TypeError, "model_options must be a dict"),
    # checked when the config is built, before any data is loaded (issue 15):
    ({"rso_options": {"meta_iter": 3}}, ValueError,
     "rso_options: meta_iter is not an option of optimizer 'rso'"),
    ({"rso_options": {"meta_iters": -1}}, ValueError,
     "rso_options: meta_iters must be an int >= 0"),
    ({"rso_options": {"meta_iters": 2.0}}, TypeError, "rso_options: meta_iters must be an int"),
    ({"rso_options": {"groups": "foo"}}, ValueError, "rso_options: groups must be None, 'layer'"),
    ({"rso_options": {"groups": "uniform:0"}}, ValueError, "rso_options: groups='uniform:0'"),
    ({"variants": {"K=2": {"optimizer": "rso", "options": {"meta_iters": -2}}}}, ValueError,
     "variants\\['K=2'\\]: meta_iters must be"),
    ({"variants": {"m": {"optimizer": "sgd", "options": {"momentum": -1}}}}, ValueError,
     "variants\\['m'\\]: momentum must be >= 0"),
    ({"backend": "nonsense"}, ValueError, "backend must be one of"),
    ({"dtype": "float16"}, ValueError, "dtype must be one of"),
    ({"data": "imagenet"}, ValueError, "data: unknown data set name 'imagenet'"),
    ({"data": "digits", "data_options": {"n_train": 3}}, ValueError,
     "data_options: \\['n_train'\\] are not options of data 'digits'"),
    ({"seeds": (0, -1)}, ValueError, "seeds must be an int >= 0"),
    ({"seeds": ()}, ValueError, "seeds must be a non-empty sequence"),
    ({"seeds": (1, 1)}, ValueError, "seeds must be distinct"),
    ({"lrs": {"SGD": 0.1, "sgd": 0.2}}, ValueError, "lrs: 'sgd' is given twice"),
    ({"epochs": 0}, ValueError, "epochs must be an int >= 1"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
])
def test_bad_configs_name_the_field(kwargs, error, match):
    with pytest.raises(error, match=match):
        CompareConfig(**kwargs)


def test_optimizer_names_are_case_insensitive_and_real_scalars_are_rates():
    config = CompareConfig(optimizers=("SGD", "Adam", "rso"),
                           lrs={"SGD": np.float32(0.25), "ADAM": 3e-3},
                           variants={"Ws": {"optimizer": "RSO", "options": {"w0": "ones"}}})
    assert config.optimizers == ("sgd", "adam", "rso")
    assert config.lr("sgd") == 0.25 and config.lr("adam") == 3e-3
    assert config.arm("Ws") == ("rso", {"w0": "ones"})
    assert make_optimizer("LaRs", 0.1).momentum == 0.9      # the harness default


def test_what_needs_the_model_fails_before_any_training(monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained although the configuration is bad")

    monkeypatch.setattr(compare, "train", no_training)
    # index lists are checked against the model's 6 parameter arrays, once it is built
    config = CompareConfig(optimizers=("sgd", "adam", "rso"), epochs=1,
                           rso_options={"groups": [[0, 1], [99]]})
    with pytest.raises(ValueError, match="rso_options: groups\\[1\\] holds index 99"):
        run_comparison(config, progress=False)
    with pytest.raises(ValueError, match="rso_options: groups\\[1\\] holds index 99"):
        tune_learning_rates(config, progress=False)
    variant = CompareConfig(optimizers=("sgd", "v"), epochs=1, variants={
        "v": {"optimizer": "rso", "options": {"groups": [[0, 1, 2, 3, 4, 5, 6]]}}})
    with pytest.raises(ValueError, match="variants\\['v'\\]: groups"):
        run_comparison(variant, progress=False)
    with pytest.raises(TypeError, match="model_options: .*hidden_sizes"):
        run_comparison(CompareConfig(model_options={"hidden_sizes": (4,)}), progress=False)


def test_model_and_data_options_reach_their_constructors():
    config = CompareConfig(model="resnet", data="cifar_like", model_options={"widths": [2, 4]},
                           data_options={"n_train": 30, "n_test": 20, "image_size": 8})
    ds = load_dataset(config.data, model=config.model, **config.data_options)
    assert ds.name == "cifar_like" and ds.X_train.shape == (30, 3, 8, 8)
    model = make_model(config.model, ds, **config.model_options)
    assert model.widths == (2, 4) and model.input_shape == (3, 8, 8)
    with pytest.raises(TypeError, match="hidden_sizes"):
        make_model("mlp", data.load_digits(), hidden_sizes=(4,))
    with pytest.raises(ValueError, match="model: convnet1d needs \\(channels, length\\)"):
        make_model("convnet1d", data.load_digits(layout="image"))


def test_a_loader_without_layouts_serves_the_mlp():
    ds = load_dataset("teacher", model="mlp", n_train=40, n_test=10, n_features=5)
    assert ds.X_train.shape == (40, 5)
    with pytest.raises(ValueError, match="model: resnet needs \\(C, H, W\\) images"):
        make_model("resnet", load_dataset("teacher", model="resnet", n_train=40, n_test=10))


def test_tuning_extends_the_grid_beyond_an_edge_winner():
    from rso_ref.compare import LR_EDGE_STEP, LR_GRID_FACTORS

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
    with pytest.raises(ValueError, match="extend_edges must be an int >= 0"):
        tune_learning_rates(config, extend_edges=-1, progress=False)


@pytest.mark.torch
def test_a_torch_module_through_as_model_is_compared_like_an_mlp():
    torch = pytest.importorskip("torch")
    from rso_ref.interop.torch import as_model

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Tanh(),
                              torch.nn.Linear(16, 10)).double()
    model = as_model(net, torch.nn.functional.cross_entropy)
    config = CompareConfig(model="mlp", optimizers=("sgd", "rso"), epochs=1, batch_size=128,
                           backend="torch")
    before = [p.detach().clone() for p in net.parameters()]
    report = run_comparison(config, progress=False, model=model)
    assert report["groups"] == [[0, 1], [2, 3]]          # the torch module's layers
    for arm in ("sgd", "rso"):
        (run,) = report["runs"][arm]
        assert run["status"] == "completed" and run["eval_accuracy"] > 0.5  # chance is 0.1
    assert sum(report["runs"]["rso"][0]["steps"]["nfev"]) > 0  # the meta-solve ran on torch
    # the module's own parameters are untouched: the comparison trains copies
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before))
    with pytest.raises(ValueError, match="groups"):
        run_comparison(dataclasses.replace(config, rso_options={"groups": [[0], [9]]}),
                       progress=False, model=model)
