"""rso_ref.interop.torch: a torch module as a library model, and RSO as a torch optimizer."""
import copy
import dataclasses
import inspect
import subprocess
import sys
import warnings

import pytest

torch = pytest.importorskip("torch")

from rso_ref import rso_step  # noqa: E402
from rso_ref.interop.torch import RSO, as_model, name_groups  # noqa: E402
from rso_ref.optim import RSO as LibraryRSO  # noqa: E402
from rso_ref.optim.registry import make_optimizer  # noqa: E402
from rso_ref.train import train  # noqa: E402
from rso_ref.validation import NonFiniteError  # noqa: E402

pytestmark = pytest.mark.torch

F = torch.nn.functional
#: float64 identities (the same arithmetic in another order): 1e-10 relative.
RTOL = 1e-10


def _net(batchnorm=False, dropout=0.0, seed=0):
    # float64 given to each layer, so the draws do not depend on torch's default dtype
    # (other tests set it to float64)
    torch.manual_seed(seed)
    f64 = {"dtype": torch.float64}
    hidden = [torch.nn.Linear(5, 7, **f64), torch.nn.Tanh()]
    if batchnorm:
        hidden.insert(1, torch.nn.BatchNorm1d(7, **f64))
    if dropout:
        hidden.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(torch.nn.Sequential(*hidden), torch.nn.Linear(7, 3, **f64))


def _batch(n=24, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 5, generator=gen, dtype=torch.float64),
            torch.randint(0, 3, (n,), generator=gen))


def _closure(opt, net, X, y, log=None):
    def closure():
        opt.zero_grad()
        if log is not None:
            log.append(float(torch.rand(())))
        loss = F.cross_entropy(net(X), y)
        loss.backward()
        return loss
    return closure


def _close(actual, desired, rtol=RTOL):
    for a, d in zip(actual, desired):
        torch.testing.assert_close(a.detach(), d.detach(), rtol=rtol,
                                   atol=rtol * float(d.abs().max()))


# -- optional dependency ------------------------------------------------------------

def test_without_torch_the_import_error_names_the_extra():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import rso_ref, rso_ref.interop\n"
            "try:\n    import rso_ref.interop.torch\n"
            "except ImportError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert "rso_ref[torch]" in out and len(out.strip().splitlines()) == 1


# -- as_model -----------------------------------------------------------------------

def test_value_and_grad_is_torch_autograd_and_detached():
    net = _net(batchnorm=True)
    model, (X, y) = as_model(net, F.cross_entropy), _batch()
    params = model.init()
    tracked = int(net[0][1].num_batches_tracked)
    loss, grads = model.value_and_grad(params, X, y)
    reference = F.cross_entropy(net(X), y)
    expected = torch.autograd.grad(reference, list(net.parameters()))
    torch.testing.assert_close(loss, reference.detach(), rtol=RTOL, atol=0.0)
    _close(grads, expected)
    for t in [loss, *grads, *params]:
        assert not t.requires_grad and t.grad_fn is None
    # as_model never writes buffers: the reference call above updated them once.
    assert int(net[0][1].num_batches_tracked) == tracked + 1


def test_loss_is_differentiable_by_torch_func_so_the_exact_hvp_is_not_zero():
    from rso_ref import hessian

    net = _net()
    model, (X, y) = as_model(net, F.cross_entropy), _batch()
    params = model.init()
    loss = model.loss(params, X, y)
    assert not loss.requires_grad and loss.grad_fn is None  # no graph for detached params
    gen = torch.Generator().manual_seed(3)
    v = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params]
    exact = hessian.hvp(model.loss, params, v, X, y)
    approx = hessian.fd_hvp(lambda p: model.value_and_grad(p, X, y), params, v)
    norm = float(torch.sqrt(sum((h * h).sum() for h in exact)))
    assert norm > 1e-3  # a torch.no_grad inside loss made torch.func return zeros
    # central differences of a smooth (tanh, cross-entropy) loss: O(eps^2) ~ 1e-7 relative
    _close(exact, approx, rtol=1e-6)


def test_value_and_grad_leaves_the_module_alone():
    net = _net(batchnorm=True)
    model, (X, y) = as_model(net, F.cross_entropy), _batch()
    before = copy.deepcopy(net.state_dict())
    model.value_and_grad([p + 1.0 for p in model.init()], X, y)
    for name, value in net.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_structure_from_parameter_names():
    model = as_model(_net(batchnorm=True), F.cross_entropy)
    assert model.names == ("0.0.weight", "0.0.bias", "0.1.weight", "0.1.bias",
                           "1.weight", "1.bias")
    assert model.layers() == [[0, 1], [2, 3], [4, 5]]
    assert model.blocks() == [[0, 1, 2, 3], [4, 5]]
    assert model.group_by(lambda n: n.endswith("weight")) == [[0, 2, 4]]
    assert model.group_by(lambda n: n.rpartition(".")[2]) == [[0, 2, 4], [1, 3, 5]]


def test_frozen_parameters_are_not_params():
    net = _net()
    net[1].weight.requires_grad_(False)
    model = as_model(net, F.cross_entropy)
    assert "1.weight" not in model.names and len(model.init()) == 3


def test_rso_step_takes_it_like_an_mlp():
    model, (X, y) = as_model(_net(), F.cross_entropy), _batch()
    res = rso_step(lambda p: model.value_and_grad(p, X, y), model.init(), lr=0.5,
                   groups="layer", layers=model.layers(), meta_iters=3)
    assert res.loss_after < res.loss_before
    assert all(isinstance(p, torch.Tensor) and p.grad_fn is None for p in res.params)
    assert float(model.loss(res.params, X, y)) == pytest.approx(res.loss_after, rel=RTOL)


@pytest.mark.parametrize("make", [
    lambda model: LibraryRSO(lr=0.5, groups="block", blocks=model.blocks(), meta_iters=2),
    lambda model: make_optimizer("rso", 0.5, model, groups="layer", meta_iters=2),
    lambda model: make_optimizer("adam", 0.05, model),
], ids=["optim.RSO", "registry-rso", "registry-adam"])
def test_library_optimizers_and_train_take_it(make):
    model, (X, y) = as_model(_net(), F.cross_entropy), _batch(n=48)
    result = train(model, make(model), X, y, epochs=2, batch_size=16, seed=0)
    assert result.status == "completed", result.message
    assert len(result.steps["loss"]) == 6
    # the loss on the whole training set went down (minibatch losses are too noisy to compare)
    assert float(model.loss(result.params, X, y)) < float(model.loss(model.init(), X, y))
    assert all(isinstance(p, torch.Tensor) for p in result.params)
    assert model.predict(result.params, X).shape == (48, 3)


# -- the torch.optim optimizer ------------------------------------------------------

@pytest.mark.portable
@pytest.mark.parametrize("options", [
    {"groups": "layer"},
    {"groups": None, "normalize": True},
    {"groups": "block", "safeguard": True, "w0": "ones"},
    {"groups": lambda n: n.rpartition(".")[2], "safeguard": True, "m": 3, "maxls": 5},
    {"groups": [[0, 3], [1, 2]], "w0": [0.5, 2.0]},
    {"groups": "uniform:2", "c1": 1e-3, "c2": 0.5},
], ids=["layer", "per-tensor-normalized", "block-safeguard", "key-function", "index-lists",
        "uniform"])
def test_one_step_equals_rso_step_through_as_model(options):
    net, (X, y) = _net(), _batch()
    model = as_model(net, F.cross_entropy)
    params = model.init()
    groups = options["groups"]
    rest = {k: v for k, v in options.items() if k != "groups"}
    expected = rso_step(lambda p: model.value_and_grad(p, X, y), params, lr=0.3,
                        groups=model.group_by(groups) if callable(groups) else groups,
                        layers=model.layers(), blocks=model.blocks(), meta_iters=4, **rest)
    opt = RSO(net.named_parameters(), lr=0.3, meta_iters=4, **options)
    loss = opt.step(_closure(opt, net, X, y))
    assert float(loss.detach()) == pytest.approx(expected.loss_before, rel=RTOL)
    _close(list(net.parameters()), expected.params)
    assert opt.last_info.oracle_calls == expected.nfev
    assert opt.last_info.w == pytest.approx(list(expected.w), rel=RTOL)


def test_a_step_warns_about_nothing():
    # The closure's loss carries its graph; reading it as a float must not warn.
    net, (X, y) = _net(batchnorm=True), _batch()
    opt = RSO(net.named_parameters(), lr=0.3, groups="layer", meta_iters=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step(_closure(opt, net, X, y))


def test_grad_after_the_step_is_the_gradient_at_the_start():
    net, (X, y) = _net(), _batch()
    model = as_model(net, F.cross_entropy)
    _, expected = model.value_and_grad(model.init(), X, y)
    opt = RSO(net.parameters(), lr=0.3)
    opt.step(_closure(opt, net, X, y))
    _close([p.grad for p in net.parameters()], expected)


def test_state_dict_round_trip_keeps_w_for_previous():
    (X, y) = _batch()
    net_a = _net()
    opt_a = RSO(net_a.named_parameters(), lr=0.3, groups="layer", w0="previous", meta_iters=2)
    opt_a.step(_closure(opt_a, net_a, X, y))
    saved = copy.deepcopy(opt_a.state_dict())
    net_b, net_c = copy.deepcopy(net_a), copy.deepcopy(net_a)
    opt_b = RSO(net_b.named_parameters(), lr=0.3, groups="layer", w0="previous", meta_iters=2)
    opt_b.load_state_dict(saved)
    opt_c = RSO(net_c.named_parameters(), lr=0.3, groups="layer", w0="previous", meta_iters=2)
    first_w = opt_a.state[next(net_a.parameters())]["w"]
    assert opt_b.state[next(net_b.parameters())] == {"count": 1, "w": first_w}
    for opt, net in [(opt_a, net_a), (opt_b, net_b), (opt_c, net_c)]:
        opt.step(_closure(opt, net, X, y))
    assert opt_b.last_info.w == opt_a.last_info.w
    assert opt_c.last_info.w != opt_a.last_info.w  # a fresh state starts uniform instead
    for a, b in zip(net_a.parameters(), net_b.parameters()):
        assert torch.equal(a, b)


def test_a_missing_closure_is_refused_as_torch_lbfgs_refuses_it():
    net = _net()
    opt = RSO(net.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'closure'"):
        opt.step()
    with pytest.raises(TypeError, match="closure"):
        opt.step(None)


@pytest.mark.parametrize("returned, match", [
    (lambda loss: "abc", r"closure must return the loss .*got str"),
    (lambda loss: [loss.item()], r"closure must return the loss .*got list"),
    (lambda loss: torch.stack([loss, loss]), r"closure must return the loss as a scalar .*"
                                             r"shape \(2,\)"),
])
def test_a_closure_returning_no_scalar_loss_is_named_and_nothing_moves(returned, match):
    net = _net()
    X, y = _batch()
    opt = RSO(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.parameters()]

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(net(X), y)
        loss.backward()
        return returned(loss)

    with pytest.raises(TypeError, match=match):
        opt.step(closure)
    _close(list(net.parameters()), before, rtol=0)


@pytest.mark.parametrize("backward_at", ["never", "theta only"])
def test_a_closure_without_backward_is_named_and_nothing_moves(backward_at):
    # before: a silent no-op reported as "converged: the inf-norm of the gradient ..."
    net, (X, y) = _net(), _batch()
    opt = RSO(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.parameters()]
    calls = []

    def closure():
        opt.zero_grad()
        calls.append(1)
        loss = F.cross_entropy(net(X), y)
        if backward_at == "theta only" and len(calls) == 1:
            loss.backward()
        return loss

    with pytest.raises(RuntimeError, match=r"must call loss\.backward\(\)"):
        opt.step(closure)
    _close(list(net.parameters()), before, rtol=0)


def test_clipping_inside_the_closure_warns_that_it_changes_the_meta_gradient():
    net, (X, y) = _net(), _batch()
    opt = RSO(net.parameters(), lr=0.3, meta_iters=2)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(net(X), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1e-3)
        return loss

    with pytest.warns(UserWarning, match=r"changed \.grad after backward\(\)"):
        opt.step(closure)


def test_backward_twice_accumulates_and_is_no_edit():
    net, (X, y) = _net(), _batch()
    opt = RSO(net.parameters(), lr=0.3, meta_iters=2)

    def closure():
        opt.zero_grad()
        losses = [F.cross_entropy(net(X[rows]), y[rows]) / 2 for rows in (slice(0, 12),
                                                                          slice(12, 24))]
        for loss in losses:
            loss.backward()
        return sum(losses)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step(closure)


def test_a_process_group_without_torch_distributed_is_refused():
    with pytest.raises(ValueError, match="init_process_group"):
        RSO(_net().parameters(), lr=0.1, process_group=object())


def test_batchnorm_statistics_change_once_per_step():
    net, (X, y) = _net(batchnorm=True), _batch()
    bn = net[0][1]
    opt = RSO(net.named_parameters(), lr=0.3, groups="layer", meta_iters=3)
    for step in range(1, 4):
        start = copy.deepcopy(net)
        opt.step(_closure(opt, net, X, y))
        assert opt.last_info.oracle_calls > 2  # many closure calls per step ...
        assert int(bn.num_batches_tracked) == step  # ... one update of the statistics
        start(X)  # one forward pass at the step's start gives the same statistics
        torch.testing.assert_close(bn.running_mean, start[0][1].running_mean, rtol=0, atol=0)
        torch.testing.assert_close(bn.running_var, start[0][1].running_var, rtol=0, atol=0)


def test_every_call_of_a_step_sees_the_same_random_numbers():
    net, (X, y) = _net(dropout=0.5), _batch()
    opt = RSO(net.parameters(), lr=0.3, meta_iters=3)
    torch.manual_seed(5)
    draws = []
    opt.step(_closure(opt, net, X, y, log=draws))
    after_step = float(torch.rand(()))
    assert len(draws) > 2 and len(set(draws)) == 1  # deterministic meta-objective
    twin = _net(dropout=0.5)
    torch.manual_seed(5)
    _closure(opt, twin, X, y, log=[])()  # one closure call from the same seed
    assert after_step == float(torch.rand(()))


def _failing_closure(opt, net, X, y, *, fail_at):
    calls = []

    def closure():
        calls.append(1)
        if len(calls) == fail_at:
            raise RuntimeError("closure failed")
        return _closure(opt, net, X, y)()
    return closure


def test_an_error_in_the_meta_solve_leaves_the_module_as_it_was():
    net, (X, y) = _net(batchnorm=True), _batch()
    opt = RSO(net.parameters(), lr=0.3, meta_iters=3)
    before = copy.deepcopy(net.state_dict())
    rng = torch.get_rng_state()
    with pytest.raises(RuntimeError, match="closure failed"):
        opt.step(_failing_closure(opt, net, X, y, fail_at=3))
    for name, value in net.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert torch.equal(torch.get_rng_state(), rng)
    assert opt.state[next(net.parameters())] == {}  # no step was recorded


def test_a_nan_loss_raises_and_changes_nothing():
    net, (X, y) = _net(), _batch()
    X[0, 0] = float("nan")
    opt = RSO(net.parameters(), lr=0.3)
    before = copy.deepcopy(net.state_dict())
    with pytest.raises(NonFiniteError):
        opt.step(_closure(opt, net, X, y))
    for name, value in net.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_defaults_are_the_library_optimizers():
    # each default is written once, in rso_ref.optim.RSO
    library = {f.name: f.default for f in dataclasses.fields(LibraryRSO)}
    signature = inspect.signature(RSO).parameters
    shared = [name for name in signature
              if name not in ("params", "lr", "module", "process_group")]
    assert shared and all(signature[name].default == library[name] for name in shared)


def test_lr_is_read_from_the_param_groups():
    net, (X, y) = _net(), _batch()
    model = as_model(net, F.cross_entropy)
    expected = rso_step(lambda p: model.value_and_grad(p, X, y), model.init(), lr=0.05)
    opt = RSO(net.parameters(), lr=0.3)
    opt.param_groups[0]["lr"] = 0.05  # as a learning-rate scheduler does
    opt.step(_closure(opt, net, X, y))
    _close(list(net.parameters()), expected.params)


# -- param groups ---------------------------------------------------------------

def _two_lr_groups(net, lr0=0.3, lr1=0.075, **extra):
    """net[0] (hidden layer) at lr0, net[1] (output layer) at lr1, as torch.optim takes them."""
    return [{"params": list(net[0].named_parameters()), "lr": lr0, **extra},
            {"params": list(net[1].named_parameters()), "lr": lr1}]


@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalized"])
def test_per_group_lr_without_meta_solve_is_the_per_group_gradient_step(normalize):
    # w = ones and K = 0: theta' = theta - eta_g(j) d_j, SGD's per-group step for raw d_j
    net, (X, y) = _net(), _batch()
    model = as_model(net, F.cross_entropy)
    theta = model.init()
    _, grads = model.value_and_grad(theta, X, y)
    lrs = [0.3, 0.3, 0.075, 0.075]
    norm = float(torch.sqrt(sum(torch.sum(g ** 2) for g in grads)))  # one group
    expected = [t - lr * (g / norm if normalize else g) for t, g, lr in zip(theta, grads, lrs)]
    opt = RSO(_two_lr_groups(net), lr=0.3, groups=[[0, 1, 2, 3]], meta_iters=0, w0="ones",
              normalize=normalize)
    opt.step(_closure(opt, net, X, y))
    _close(list(net.parameters()), expected)


@pytest.mark.parametrize("groups", ["layer", [[0, 1, 2, 3]], [[0, 2], [1, 3]]],
                         ids=["group-per-torch-group", "one-group-spanning-both", "mixed"])
def test_per_group_lr_equals_rso_step_on_rescaled_parameters(groups):
    # theta_j = r_j phi_j with r_j = sqrt(eta_g(j) / eta): RSO on phi at lr eta moves
    # theta by -eta w r_j^2 g_j = -w eta_g(j) g_j, the per-group rule
    net, (X, y) = _net(), _batch()
    model = as_model(net, F.cross_entropy)
    r = [1.0, 1.0, 0.5, 0.5]  # lrs 0.3, 0.3, 0.075, 0.075

    def oracle(phi):
        loss, grads = model.value_and_grad([p * s for p, s in zip(phi, r)], X, y)
        return loss, [g * s for g, s in zip(grads, r)]

    expected = rso_step(oracle, [t / s for t, s in zip(model.init(), r)], lr=0.3,
                        groups=groups if groups != "layer" else model.layers(), meta_iters=4)
    opt = RSO(_two_lr_groups(net), lr=0.3, groups=groups, meta_iters=4)
    opt.step(_closure(opt, net, X, y))
    _close(list(net.parameters()), [p * s for p, s in zip(expected.params, r)], rtol=1e-8)
    assert opt.last_info.w == pytest.approx(list(expected.w), rel=1e-8)


@pytest.mark.parametrize("option", ["meta_iters", "weight_decay", "groups", "momentum", "w0"])
def test_an_option_given_per_param_group_is_refused_naming_it(option):
    net = _net()
    with pytest.raises(ValueError, match=rf"\['{option}'\] for all param groups only"):
        RSO(_two_lr_groups(net, **{option: 0.5}), lr=0.3)


def test_a_bad_per_group_lr_is_refused_at_construction():
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -0.1"):
        RSO(_two_lr_groups(_net(), lr1=-0.1), lr=0.3)


def test_options_made_to_differ_across_groups_are_named_at_the_step():
    net, (X, y) = _net(), _batch()
    opt = RSO(_two_lr_groups(net), lr=0.3, meta_iters=3)
    opt.param_groups[1]["meta_iters"] = 5
    with pytest.raises(ValueError, match="one meta_iters for all param groups, got 3 and 5"):
        opt.step(_closure(opt, net, X, y))


def test_param_groups_are_fixed_at_construction():
    net = _net()
    opt = RSO(net[0].parameters(), lr=0.3)
    with pytest.raises(ValueError, match="fixes its parameters at construction"):
        opt.add_param_group({"params": net[1].parameters()})


def test_every_hyperparameter_round_trips_through_state_dict():
    import io
    (X, y) = _batch()
    options = {"meta_iters": 3, "groups": lambda name: name.endswith("bias"), "w0": "ones",
               "normalize": True, "safeguard": True, "m": 4, "c1": 1e-3, "c2": 0.5, "maxls": 7}
    net_a = _net()
    opt_a = RSO(_two_lr_groups(net_a), lr=0.3, **options)
    buffer = io.BytesIO()
    torch.save(opt_a.state_dict(), buffer)  # picklable: a key function is kept as index lists
    buffer.seek(0)
    net_b = copy.deepcopy(net_a)
    opt_b = RSO(net_b.parameters(), lr=1.0)  # every default
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt_b.load_state_dict(torch.load(buffer))
    buffer.seek(0)
    opt_b = RSO(_two_lr_groups(net_b, lr0=1.0, lr1=1.0), lr=1.0)
    opt_b.load_state_dict(torch.load(buffer))
    for a, b in zip(opt_a.param_groups, opt_b.param_groups):
        assert {k: v for k, v in a.items() if k != "params"} == \
            {k: v for k, v in b.items() if k != "params"}
    assert opt_b.param_groups[0]["groups"] == [[1, 3]]
    for opt, net in [(opt_a, net_a), (opt_b, net_b)]:
        opt.step(_closure(opt, net, X, y))
    assert opt_b.last_info == opt_a.last_info
    for a, b in zip(net_a.parameters(), net_b.parameters()):
        assert torch.equal(a, b)


def test_an_invalid_state_dict_is_refused_and_changes_nothing():
    net = _net()
    opt = RSO(_two_lr_groups(net), lr=0.3, meta_iters=3)
    saved = opt.state_dict()
    saved["param_groups"][1]["meta_iters"] = 4
    with pytest.raises(ValueError, match="one meta_iters for all param groups"):
        opt.load_state_dict(saved)
    assert [g["meta_iters"] for g in opt.param_groups] == [3, 3]


def test_lr_schedulers_edit_each_group_and_the_step_follows():
    (X, y) = _batch()
    net_a, net_b = _net(), _net()
    opt_a = RSO(_two_lr_groups(net_a), lr=0.3, groups="layer", meta_iters=2)
    opt_b = RSO(_two_lr_groups(net_b), lr=0.3, groups="layer", meta_iters=2)
    scheduler = torch.optim.lr_scheduler.StepLR(opt_a, step_size=1, gamma=0.5)
    for step in range(3):
        for group, lr in zip(opt_b.param_groups, (0.3, 0.075)):
            group["lr"] = lr * 0.5 ** step  # what StepLR does, by hand
        opt_a.step(_closure(opt_a, net_a, X, y))
        opt_b.step(_closure(opt_b, net_b, X, y))
        scheduler.step()
        assert opt_a.last_info == opt_b.last_info
    assert [g["lr"] for g in opt_a.param_groups] == [0.3 / 8, 0.075 / 8]
    for a, b in zip(net_a.parameters(), net_b.parameters()):
        assert torch.equal(a, b)


# -- torch.compile ----------------------------------------------------------------

class _CompiledNet(torch.nn.Module):
    """A user-defined module (``Module.compile`` leaves a bare ``Sequential`` eager)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.hidden = torch.nn.Linear(5, 7)
        self.norm = torch.nn.BatchNorm1d(7)
        self.drop = torch.nn.Dropout(0.2)
        self.out = torch.nn.Linear(7, 3)

    def forward(self, x):
        return self.out(self.drop(torch.tanh(self.norm(self.hidden(x)))))


def _compiled_run(form, steps=4):
    """Losses and buffers of ``steps`` RSO steps (float32) and Dynamo's frame counts."""
    from torch._dynamo.testing import CompileCounterWithBackend
    net = _CompiledNet()
    counter = CompileCounterWithBackend("aot_eager")  # inductor builds C++: slow in CI
    if form == "function":
        call = torch.compile(net, backend=counter)
    elif form == "method":
        net.compile(backend=counter)
        call = net
    else:
        call = net
    gen = torch.Generator().manual_seed(1)
    X, y = torch.randn(32, 5, generator=gen), torch.randint(0, 3, (32,), generator=gen)
    opt = RSO(net.named_parameters(), lr=0.3, groups="layer", meta_iters=3)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(call(X), y)
        loss.backward()
        return loss

    torch.manual_seed(2)
    losses, frames = [float(opt.step(closure).detach())], [counter.frame_count]
    with torch._dynamo.config.patch(error_on_recompile=True):
        for _ in range(steps - 1):
            losses.append(float(opt.step(closure).detach()))
            frames.append(counter.frame_count)
    return losses, [b.clone() for b in net.buffers()], frames


@pytest.mark.parametrize("form", ["function", "method"])
def test_compiled_modules_step_like_eager_without_recompiling(form):
    # torch.compile(net) and net.compile(): no hook that breaks Dynamo, buffers and
    # random generators restored for every trial point without a recompile after step 1
    torch._dynamo.reset()
    eager_losses, eager_buffers, _ = _compiled_run("eager")
    losses, buffers, frames = _compiled_run(form)
    torch._dynamo.reset()
    assert frames[0] >= 1 and frames == [frames[0]] * len(frames)
    assert losses == pytest.approx(eager_losses, rel=1e-4)
    for b, e in zip(buffers, eager_buffers):
        torch.testing.assert_close(b, e, rtol=1e-4, atol=1e-6)


# -- bad input ----------------------------------------------------------------------

def test_a_module_without_trainable_parameters_is_refused():
    with pytest.raises(ValueError, match="module has no trainable parameters"):
        as_model(torch.nn.ReLU(), F.cross_entropy)
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        as_model(lambda x: x, F.cross_entropy)
    with pytest.raises(TypeError, match="loss_fn"):
        as_model(_net(), "cross_entropy")


def test_a_grouping_that_selects_nothing_is_refused():
    net = _net()
    with pytest.raises(ValueError, match="selects no parameter"):
        as_model(net, F.cross_entropy).group_by(lambda n: n.startswith("decoder"))
    with pytest.raises(ValueError, match="selects no parameter"):
        RSO(net.named_parameters(), lr=0.1, groups=lambda n: False)
    with pytest.raises(ValueError, match="must be 'layer', 'block' or a key function"):
        name_groups(["w"], "layers")


def test_groups_by_name_need_names():
    with pytest.raises(ValueError, match="needs parameter names"):
        RSO(_net().parameters(), lr=0.1, groups="layer")


def test_parameters_not_in_the_module_are_refused():
    net, other = _net(), torch.nn.Linear(2, 2)
    with pytest.raises(ValueError,
                       match=r"params\[2\] \(shape \(2, 2\)\) is not a parameter of module"):
        RSO([*list(net[1].parameters()), other.weight], lr=0.1, module=net)


def test_params_of_the_wrong_shape_are_refused():
    model, (X, y) = as_model(_net(), F.cross_entropy), _batch()
    params = model.init()
    with pytest.raises(ValueError, match="params has 3 tensors but the module has 4"):
        model.value_and_grad(params[:3], X, y)
    params[1] = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(ValueError,
                       match=r"params\[1\] \(0.0.bias\) must be a tensor of shape \(7,\)"):
        model.value_and_grad(params, X, y)


def test_two_devices_are_refused_naming_the_argument():
    model, (X, y) = as_model(_net(), F.cross_entropy), _batch()
    with pytest.raises(ValueError, match="X is on device meta but params are on cpu"):
        model.value_and_grad(model.init(), X.to("meta"), y)
    with pytest.raises(TypeError, match="X must be a torch tensor, got ndarray"):
        model.value_and_grad(model.init(), X.numpy(), y)
    mixed = [torch.zeros(2, requires_grad=True), torch.zeros(2, device="meta", requires_grad=True)]
    with pytest.raises(ValueError, match=r"params live on different devices: \['cpu', 'meta'\]"):
        RSO(mixed, lr=0.1)


# -- CUDA ---------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch has no CUDA device here")
def test_a_step_on_cuda_equals_the_step_on_cpu():
    (X, y) = _batch()
    net_cpu = _net(batchnorm=True)
    net_gpu = copy.deepcopy(net_cpu).cuda()
    for net, X_, y_ in [(net_cpu, X, y), (net_gpu, X.cuda(), y.cuda())]:
        opt = RSO(net.named_parameters(), lr=0.3, groups="layer", meta_iters=3)
        opt.step(_closure(opt, net, X_, y_))
        assert all(p.device == X_.device for p in net.parameters())
    # float64 on two BLAS implementations: reductions in another order, 1e-10 relative.
    _close([p.cpu() for p in net_gpu.parameters()], list(net_cpu.parameters()))
