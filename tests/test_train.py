"""The training loop: determinism, checkpoint/resume bit-identity, divergence, records."""
import numpy as np
import pytest

from rso_ref import backend
from rso_ref.nn import MLP
from rso_ref.optim import SGD, Adam
from rso_ref.rso import RSO
from rso_ref.train import accuracy, evaluate, train


def _data(xp, n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return backend.asarray(X, xp=xp), backend.asarray(y, xp=xp)


MODEL = MLP((6, 16, 3))


def _assert_same_params(a, b):
    for p, q in zip(a, b):
        np.testing.assert_array_equal(backend.to_numpy(p), backend.to_numpy(q))


@pytest.mark.parametrize("make_opt", [lambda: SGD(lr=0.1, momentum=0.9), lambda: Adam(lr=1e-2),
                                      lambda: RSO(lr=0.2, meta_iters=2, groups="layer",
                                                  layers=MODEL.layers(), w0="previous")],
                         ids=["sgd", "adam", "rso"])
def test_resume_continues_bit_for_bit(np_xp, tmp_path, make_opt):
    X, y = _data(np_xp)
    straight = train(MODEL, make_opt(), X, y, epochs=3, batch_size=20, seed=1, progress=False)
    train(MODEL, make_opt(), X, y, epochs=2, batch_size=20, seed=1, progress=False,
          checkpoint_dir=tmp_path)
    resumed = train(MODEL, make_opt(), X, y, epochs=3, batch_size=20, seed=1, progress=False,
                    checkpoint_dir=tmp_path, resume=True)
    _assert_same_params(resumed.params, straight.params)
    assert resumed.steps["loss"] == straight.steps["loss"]
    assert resumed.epochs["train_loss"] == straight.epochs["train_loss"]


def test_resume_refuses_a_different_configuration(np_xp, tmp_path):
    X, y = _data(np_xp)
    train(MODEL, SGD(lr=0.1), X, y, epochs=1, batch_size=20, progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="different configuration"):
        train(MODEL, SGD(lr=0.2), X, y, epochs=2, batch_size=20, progress=False,
              checkpoint_dir=tmp_path, resume=True)


def test_training_is_deterministic_and_identical_across_backends(xp):
    ref_xp = backend.namespace("numpy")
    ref = train(MODEL, SGD(lr=0.1, momentum=0.9), *_data(ref_xp), epochs=2, batch_size=32,
                seed=3, progress=False)
    res = train(MODEL, SGD(lr=0.1, momentum=0.9), *_data(xp), epochs=2, batch_size=32, seed=3,
                progress=False)
    for p, q in zip(res.params, ref.params):
        # float64 everywhere; only reduction order differs between libraries.
        np.testing.assert_allclose(backend.to_numpy(p), q, rtol=1e-12, atol=1e-14)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_divergence_stops_with_a_clear_message(np_xp):
    X, y = _data(np_xp)
    X = X * 1e3
    result = train(MODEL, SGD(lr=1e3), X, y, epochs=50, batch_size=16, progress=False)
    assert result.status == "diverged"
    assert "diverged at step" in result.message and "lower the learning rate" in result.message
    assert all(np.all(np.isfinite(backend.to_numpy(p))) for p in result.params)


def test_records_and_evaluation(np_xp):
    X, y = _data(np_xp)
    opt = RSO(lr=0.2, meta_iters=2, groups="layer", layers=MODEL.layers())
    result = train(MODEL, opt, X, y, epochs=2, batch_size=32, X_eval=X, y_eval=y, progress=False)
    steps = result.steps
    assert len(steps["loss"]) == 2 * 3 == len(steps["w"]) == len(steps["nfev"])
    assert all(len(w) == 2 for w in steps["w"]) and all(n >= 1 for n in steps["nfev"])
    loss, acc = evaluate(MODEL, result.params, X, y, batch_size=40)
    assert loss == pytest.approx(float(MODEL.loss(result.params, X, y)), rel=1e-12)
    assert acc == accuracy(MODEL, result.params, X, y) == result.epochs["eval_accuracy"][-1]
    assert result.epochs["train_loss"][-1] < result.epochs["train_loss"][0]


def test_meta_batch_and_max_steps(np_xp):
    X, y = _data(np_xp)
    opt = RSO(lr=0.2, meta_iters=2, layers=MODEL.layers(), groups="layer")
    result = train(MODEL, opt, X, y, epochs=5, batch_size=32, meta_batch=8, max_steps=4,
                   progress=False)
    assert result.status == "max_steps" and len(result.steps["loss"]) == 4


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0, "batch_size": 4}, "epochs"), ({"epochs": 1, "batch_size": 0}, "batch_size"),
    ({"epochs": 1, "batch_size": 4, "resume": True}, "checkpoint_dir"),
    ({"epochs": 1, "batch_size": 4, "meta_batch": 0}, "meta_batch"),
])
def test_bad_arguments(np_xp, kwargs, match):
    X, y = _data(np_xp)
    with pytest.raises(ValueError, match=match):
        train(MODEL, SGD(lr=0.1), X, y, progress=False, **kwargs)


class _RunawayModel:
    """Loss p, gradient -1 (SGD walks p up by lr); the loss is NaN once p > 2.5."""

    def init(self, seed=0, dtype=None, backend="numpy"):
        return [np.zeros(1)]

    def value_and_grad(self, params, X, y):
        p = float(params[0][0])
        return (float("nan") if p > 2.5 else p), [-np.ones(1)]


def test_divergence_returns_the_last_params_with_a_finite_loss(np_xp):
    X, y = np.zeros((4, 1)), np.zeros(4, dtype=np.int64)
    result = train(_RunawayModel(), SGD(lr=1.0), X, y, epochs=10, batch_size=4, progress=False)
    assert result.status == "diverged" and "step 3" in result.message
    assert float(result.params[0][0]) == 2.0
