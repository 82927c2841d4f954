"""train_step on its own: one step by hand (SGD, RSO), the first step of train, bad input,
and divergence as NonFiniteError with the inputs left as they were."""
import numpy as np
import pytest

from rso_ref import backend, tree
from rso_ref.data import minibatches
from rso_ref.nn import MLP
from rso_ref.optim import RSO, SGD
from rso_ref.train import TrainConfig, train, train_step
from rso_ref.validation import NonFiniteError

MODEL = MLP((6, 8, 3))


def _batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6))
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 1).astype(np.int64)


def _copy(params):
    return [np.array(p, copy=True) for p in params]


def _assert_same(actual, desired):
    assert len(actual) == len(desired)
    for a, d in zip(actual, desired):
        np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(d))


def test_an_sgd_step_is_theta_minus_lr_g():
    xb, yb = _batch()
    params = MODEL.init(seed=0)
    before = _copy(params)
    loss, grads = MODEL.value_and_grad(params, xb, yb)
    opt = SGD(lr=0.1)
    new, state, record = train_step(MODEL, opt, params, opt.init(params), xb, yb)
    _assert_same(new, [p - 0.1 * g for p, g in zip(params, grads)])  # same f64 ops: exact
    _assert_same(params, before)                                     # inputs untouched
    assert state["count"] == 1
    assert list(record) == ["loss", "grad_norm", "time", "oracle_calls", "hvp_calls", "w"]
    assert record["loss"] == float(loss) and record["grad_norm"] == tree.norm(grads)
    assert (record["oracle_calls"], record["hvp_calls"], record["w"]) == (0, 0, None)
    assert record["time"] >= 0.0


@pytest.mark.parametrize("meta_batch", [None, 5])
def test_an_rso_step_equals_the_optimizer_step_with_the_minibatch_oracles(meta_batch):
    # By hand: the gradient on the minibatch, then RSO's step with the value-and-grad
    # oracle of the minibatch (and the meta oracle of its first meta_batch rows).
    xb, yb = _batch()
    params = MODEL.init(seed=1)
    opt = RSO(lr=0.2, meta_iters=3, groups="layer", layers=MODEL.layers())
    loss, grads = MODEL.value_and_grad(params, xb, yb)
    oracles = {"value_and_grad": lambda p: MODEL.value_and_grad(p, xb, yb), "loss": float(loss)}
    if meta_batch is not None:
        oracles["meta_value_and_grad"] = lambda p: MODEL.value_and_grad(
            p, xb[:meta_batch], yb[:meta_batch])
    want, want_state, info = opt.step_with_info(params, grads, opt.init(params), **oracles)
    new, state, record = train_step(MODEL, opt, params, opt.init(params), xb, yb,
                                    meta_batch=meta_batch)
    _assert_same(new, want)
    assert state["count"] == want_state["count"] == 1
    assert record["w"] == list(info.w) and len(record["w"]) == 2
    assert record["oracle_calls"] == info.oracle_calls >= 1
    assert record["hvp_calls"] == 0


def test_the_first_step_of_train_is_train_step_on_the_first_minibatch():
    X, y = _batch(n=40)
    opt = SGD(lr=0.1, momentum=0.9)
    ran = train(MODEL, opt, X, y, epochs=1, batch_size=16, seed=3, max_steps=1, progress=False)
    index = next(minibatches(40, 16, np.random.default_rng([3, 0])))
    params = MODEL.init(seed=3, like=X)
    new, state, record = train_step(MODEL, opt, params, opt.init(params), X[index], y[index])
    _assert_same(ran.params, new)
    assert ran.steps["loss"] == [record["loss"]]
    assert ran.steps["oracle_calls"] == [0] and ran.status == "max_steps"


_X, _Y = _batch()
_P = MODEL.init(seed=0)


@pytest.mark.parametrize("change, error, match", [
    ({"optimizer": object()}, TypeError, "^optimizer must be an rso_ref.optim.Optimizer"),
    ({"model": None}, TypeError, "^model must be an rso_ref model"),
    ({"params": _P[0]}, TypeError, "^params must be a list of arrays"),
    ({"xb": _X.tolist()}, TypeError, "^xb must be an array"),
    ({"yb": _Y[:3]}, ValueError, "^xb has 16 rows but yb has 3"),
    ({"xb": _X[:0], "yb": _Y[:0]}, ValueError, "^xb must have at least one row"),
    ({"meta_batch": 4}, ValueError, "^meta_batch is for optimizers that take a meta oracle"),
    ({"meta_batch": 0, "optimizer": RSO(lr=0.1)}, ValueError, "^meta_batch must be"),
])
def test_bad_input_is_refused_naming_it(change, error, match):
    opt = change.get("optimizer", SGD(lr=0.1))
    args = {"model": MODEL, "optimizer": opt, "params": _P, "state": {"count": 0,
            "momentum_buffer": []}, "xb": _X, "yb": _Y, **change}
    with pytest.raises(error, match=match):
        train_step(**args)


class _Cliff:
    """Loss -p, gradient -1 (``bad_grad``: NaN); the loss is NaN beyond p = 2.5."""

    def __init__(self, bad_grad=False):
        self.bad_grad = bad_grad

    def loss(self, params, X, y):
        p = float(params[0][0])
        return float("nan") if p > 2.5 else -p

    def value_and_grad(self, params, X, y):
        return self.loss(params, X, y), [np.full(1, np.nan if self.bad_grad else -1.0)]


class _Overflow:
    """A finite loss with a gradient so large that a step of lr 1.7e308 overflows."""

    def loss(self, params, X, y):
        return 0.0

    def value_and_grad(self, params, X, y):
        return 0.0, [np.full(1, 1e10)]


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
@pytest.mark.parametrize("model, start, lr, match", [
    (_Cliff(), 3.0, 1.0, "non-finite loss"),                  # the loss at params
    (_Cliff(bad_grad=True), 0.0, 1.0, "grads contains NaN"),  # the optimizer refuses
    (_Overflow(), 1.0, 1.7e308, "parameters non-finite"),     # the step overflows
], ids=["loss", "gradient", "params"])
def test_divergence_raises_non_finite_error_and_leaves_the_inputs(model, start, lr, match):
    params = [np.array([start])]
    opt = SGD(lr=lr)
    with pytest.raises(NonFiniteError, match=match):
        train_step(model, opt, params, opt.init(params), np.zeros((4, 1)),
                   np.zeros(4, dtype=np.int64))
    assert params[0].tolist() == [start]


def test_train_config_is_checked_once_and_frozen(tmp_path):
    config = TrainConfig(epochs=np.int64(2), batch_size=8, checkpoint_dir=str(tmp_path))
    assert type(config.epochs) is int and config.checkpoint_dir == tmp_path
    with pytest.raises(AttributeError):
        config.epochs = 3
    with pytest.raises(ValueError, match="^resume=True needs checkpoint_dir"):
        TrainConfig(epochs=1, batch_size=8, resume=True)
    with pytest.raises(TypeError, match="^callback must be callable"):
        TrainConfig(epochs=1, batch_size=8, callback="print")
