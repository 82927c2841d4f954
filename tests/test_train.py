"""The training loop: determinism, checkpoint/resume bit-identity, divergence, records,
and the optimizer contract (every exported optimizer runs; needs decide the oracles)."""
import math

import numpy as np
import pytest

from rso_ref import autodiff, backend, optim
from rso_ref.nn import MLP
from rso_ref.optim import RSO, SGD, Adam, BulkSGD, DomSGD, InterpolatedSGD
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
    train(MODEL, SGD(lr=0.1), X, y, epochs=1, batch_size=20, progress=False,
          checkpoint_dir=tmp_path)
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
    assert len(steps["loss"]) == 2 * 3 == len(steps["w"]) == len(steps["oracle_calls"])
    assert all(len(w) == 2 for w in steps["w"]) and all(n >= 1 for n in steps["oracle_calls"])
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


@pytest.mark.parametrize("kwargs, error, match", [
    ({"epochs": 0, "batch_size": 4}, ValueError, "^epochs"),
    ({"epochs": 1, "batch_size": 0}, ValueError, "^batch_size"),
    ({"epochs": 2.0, "batch_size": 4}, TypeError, "^epochs"),
    ({"epochs": 1, "batch_size": np.int64(4), "seed": -1}, ValueError, "^seed"),
    ({"epochs": 1, "batch_size": 4, "max_steps": 0}, ValueError, "^max_steps"),
    ({"epochs": 1, "batch_size": 4, "max_steps": "3"}, TypeError, "^max_steps"),
    ({"epochs": 1, "batch_size": 4, "resume": True}, ValueError, "checkpoint_dir"),
    ({"epochs": 1, "batch_size": 4, "meta_batch": 0}, ValueError, "^meta_batch"),
    # SGD takes no meta oracle: meta_batch used to be accepted and ignored.
    ({"epochs": 1, "batch_size": 4, "meta_batch": 2}, ValueError, "^meta_batch is for"),
    ({"epochs": 1, "batch_size": 4, "params": [np.full((6, 16), np.nan)]}, ValueError, "^params"),
    ({"epochs": 1, "batch_size": 4, "X_eval": np.zeros((2, 6))}, ValueError, "^X_eval and y_eval"),
    ({"epochs": 1, "batch_size": 4, "progress": 1}, TypeError, "^progress"),
    ({"epochs": 1, "batch_size": 4, "callback": "print"}, TypeError, "^callback"),
])
def test_bad_arguments(np_xp, kwargs, error, match):
    X, y = _data(np_xp)
    with pytest.raises(error, match=match):
        train(MODEL, SGD(lr=0.1), X, y, **{"progress": False, **kwargs})


def test_data_on_two_devices_is_refused_naming_both():
    strict = pytest.importorskip("array_api_strict")
    X, y = _data(backend.namespace("numpy"))
    X1 = strict.asarray(X, device=strict.Device("device1"))
    with pytest.raises(ValueError, match=r"X on .*device1.*y on .*CPU_DEVICE"):
        train(MODEL, SGD(lr=0.1), X1, strict.asarray(y), epochs=1, batch_size=4, progress=False)


class _DuckSGD:
    """Has init and step like an optimizer, but declares nothing."""

    def init(self, params):
        return {}

    def step(self, params, grads, state):
        return params, state


def test_an_object_outside_the_contract_is_refused_before_training(np_xp):
    X, y = _data(np_xp)
    with pytest.raises(TypeError, match="^optimizer must be an rso_ref.optim.Optimizer"):
        train(MODEL, _DuckSGD(), X, y, epochs=1, batch_size=8, progress=False)


class _CliffModel:
    """Loss -p with gradient -1 (SGD walks p up by lr); the loss is NaN beyond p = 2.5.

    ``bad_grad`` makes the gradient NaN while the loss stays finite.
    """

    def __init__(self, bad_grad=False):
        self.bad_grad = bad_grad

    def init(self, seed=0, *, like=None):
        return [np.zeros(1)]

    def loss(self, params, X, y):
        p = float(params[0][0])
        return float("nan") if p > 2.5 else -p

    def value_and_grad(self, params, X, y):
        return self.loss(params, X, y), [np.full(1, np.nan if self.bad_grad else -1.0)]


_CLIFF_DATA = (np.zeros((4, 1)), np.zeros(4, dtype=np.int64))


def test_divergence_returns_the_last_params_with_a_finite_loss():
    result = train(_CliffModel(), SGD(lr=1.0), *_CLIFF_DATA, epochs=10, batch_size=4,
                   progress=False)
    assert result.status == "diverged" and "step 3" in result.message
    assert float(result.params[0][0]) == 2.0 and len(result.steps["loss"]) == 3


def test_a_nan_last_step_does_not_end_completed():
    # Three steps reach p = 3, beyond the cliff: no step starts there, so before only the
    # loss at the start of a step was checked and the run was "completed" with a NaN loss.
    result = train(_CliffModel(), SGD(lr=1.0), *_CLIFF_DATA, epochs=3, batch_size=4,
                   progress=False)
    assert result.status == "diverged" and "after the last step" in result.message
    assert float(result.params[0][0]) == 2.0 and len(result.steps["loss"]) == 3


def test_a_nan_first_loss_returns_the_initial_params_and_state():
    start = [np.array([3.0])]
    result = train(_CliffModel(), SGD(lr=1.0, momentum=0.5), *_CLIFF_DATA, epochs=2,
                   batch_size=4, params=start, progress=False)
    assert result.status == "diverged" and "step 0" in result.message
    assert result.params[0].tolist() == [3.0] and result.steps["loss"] == []
    assert result.opt_state["count"] == 0


@pytest.mark.parametrize("make_opt", [lambda: SGD(lr=0.1), lambda: Adam(lr=0.1),
                                      lambda: RSO(lr=0.1, meta_iters=2)],
                         ids=["sgd", "adam", "rso"])
def test_a_nan_gradient_with_a_finite_loss_never_reaches_the_params(make_opt):
    # One step: before, SGD and Adam returned NaN parameters with status "completed".
    result = train(_CliffModel(bad_grad=True), make_opt(), *_CLIFF_DATA, epochs=1,
                   batch_size=4, progress=False)
    assert result.status == "diverged" and "grads contains NaN" in result.message
    assert result.params[0].tolist() == [0.0]


def test_rso_blow_up_inside_train_is_a_divergence_not_an_exception():
    # RSO's meta-solve reaches the cliff: f(w0) = L(theta - lr/L g) is NaN at the start of
    # a later step. Before, minimize raised "non-finite value ... at x0" out of train and
    # the partial result was lost.
    result = train(_CliffModel(), RSO(lr=1.0, meta_iters=2), *_CLIFF_DATA, epochs=10,
                   batch_size=4, progress=False)
    assert result.status == "diverged" and "at w0 of the meta-solve" in result.message
    assert len(result.steps["loss"]) >= 1 and math.isfinite(float(result.params[0][0]))
    assert float(result.params[0][0]) <= 2.5


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
@pytest.mark.parametrize("make_opt", [lambda: SGD(lr=1e300), lambda: Adam(lr=1e300),
                                      lambda: RSO(lr=1e300, meta_iters=1)],
                         ids=["sgd", "adam", "rso"])
def test_huge_learning_rates_end_diverged_with_finite_params(np_xp, make_opt):
    # A single step: before, the loss after it was never checked (status "completed").
    X, y = _data(np_xp)
    start = MODEL.init(seed=0, like=X)
    result = train(MODEL, make_opt(), X, y, epochs=1, batch_size=X.shape[0], params=start,
                   X_eval=X, y_eval=y, progress=False)
    assert result.status == "diverged", result.message
    for p, q in zip(result.params, start):
        np.testing.assert_array_equal(backend.to_numpy(p), backend.to_numpy(q))


def test_callback_raising_stop_iteration_is_reported_as_stopped(np_xp):
    # One stop rule for every callback of rso_ref (SciPy's, as minimize's): StopIteration.
    X, y = _data(np_xp)

    def stop_at_two(step, record):
        if step == 2:
            raise StopIteration

    result = train(MODEL, SGD(lr=0.1), X, y, epochs=3, batch_size=32, progress=False,
                   callback=stop_at_two)
    assert result.status == "stopped" and "step 2" in result.message
    assert len(result.steps["loss"]) == 2


@pytest.mark.parametrize("returned", [True, False, 0, np.True_])
def test_a_callback_returning_a_value_is_an_error_not_ignored(np_xp, returned):
    # Before, train stopped on a truthy return (and minimize ignored it): an old
    # ``return True`` now names the rule instead of being silently obeyed or ignored.
    X, y = _data(np_xp)
    with pytest.raises(TypeError, match=r"^callback returned .*raise StopIteration"):
        train(MODEL, SGD(lr=0.1), X, y, epochs=1, batch_size=32, progress=False,
              callback=lambda step, record: returned)


def _all_exported_optimizers():
    k = 3  # the number of classes
    made = {
        "SGD": SGD(lr=0.1), "Adam": Adam(lr=1e-2), "AdamW": optim.AdamW(lr=1e-2),
        "RMSprop": optim.RMSprop(lr=1e-3), "LAMB": optim.LAMB(lr=1e-2),
        "LARS": optim.LARS(lr=1.0), "Muon": optim.Muon(lr=0.02, adam_lr=1e-2),
        "InterpolatedSGD": InterpolatedSGD(0.5, 1.0, lr=0.1, k=k, every=2),
        "DomSGD": DomSGD(lr=0.1, k=k, every=2), "BulkSGD": BulkSGD(lr=0.1, k=k, every=2),
        "RSO": RSO(lr=0.2, meta_iters=2, groups="layer", layers=MODEL.layers()),
        "LBFGS": optim.LBFGS(),
    }
    exported = {name for name in optim.__all__ if isinstance(getattr(optim, name), type)
                and issubclass(getattr(optim, name), optim.Optimizer)
                and getattr(optim, name) is not optim.Optimizer}
    assert set(made) == exported, "a new optimizer must be added to this table"
    return made


@pytest.mark.parametrize("name", sorted(_all_exported_optimizers()))
def test_every_exported_optimizer_runs_through_train(np_xp, name):
    # Dom-/Bulk-SGD used to fail inside train ("hvp_fn is required").
    opt = _all_exported_optimizers()[name]
    X, y = _data(np_xp, n=48)
    result = train(MODEL, opt, X, y, epochs=2, batch_size=16, X_eval=X, y_eval=y,
                   progress=False)
    assert result.status == "completed", result.message
    assert len(result.steps["loss"]) == 6
    assert result.epochs["eval_loss"][-1] < float(MODEL.loss(MODEL.init(seed=0, like=X), X, y))
    if opt.needs is optim.Needs.HVP:
        # eigenvectors at steps 0, 2, 4 (every=2), except where a == b would need none
        assert [n > 0 for n in result.steps["hvp_calls"]] == [True, False] * 3
    else:
        assert result.steps["hvp_calls"] == [0] * 6
    if opt.needs is optim.Needs.VALUE_AND_GRAD:
        assert all(n >= 1 for n in result.steps["oracle_calls"])
    else:
        assert result.steps["oracle_calls"] == [0] * 6
    assert (result.steps["w"][0] is None) == (name != "RSO")


@pytest.mark.slow  # eager JAX: ~25 s of Hessian-vector products at Lanczos tol 1e-10
def test_the_hvp_oracle_is_exact_where_the_backend_has_autodiff(xp):
    # NumPy (autograd), torch (torch.func) and JAX get the exact H v: the Bulk-SGD steps
    # equal NumPy's to 1e-12 (float64, only summation order differs; observed ~1e-15).
    # array_api_strict (any device) and CuPy get a central difference of gradients
    # (relative error ~1e-10, fd_hvp's docstring); the Lanczos eigenvectors (tol 1e-10)
    # then agree to ~1e-9, and so do the steps: 1e-7 leaves a margin of 100.
    opt = BulkSGD(lr=0.1, k=3, tol=1e-10)
    ref = train(MODEL, opt, *_data(backend.namespace("numpy"), n=48), epochs=1, batch_size=16,
                progress=False)
    res = train(MODEL, opt, *_moved(xp, n=48), epochs=1, batch_size=16, progress=False)
    assert all(n > 0 for n in res.steps["hvp_calls"])
    rtol = 1e-12 if autodiff.has_exact_derivatives(xp) else 1e-7
    for p, q in zip(res.params, ref.params):
        np.testing.assert_allclose(backend.to_numpy(p), q, rtol=rtol, atol=rtol * np.max(np.abs(q)))


def _moved(xp, n):
    """The NumPy data of _data put on the namespace and device of the test's ``xp``."""
    return tuple(xp.asarray(a) for a in _data(backend.namespace("numpy"), n=n))


@pytest.mark.parametrize("name", sorted(_all_exported_optimizers()))
def test_every_optimizer_trains_on_every_backend_as_on_numpy(xp, on_device, name):
    # One epoch (3 steps, Dom-/Bulk-SGD's eigenvectors at steps 0 and 2) on the backend and
    # device of xp: the parameters come back there and equal NumPy's run to 1e-12 (float64;
    # only the summation order of the libraries differs, observed <= 5e-15). Only the
    # HVP optimizers on a backend without autodiff (fd_hvp, ~1e-10 per product, see the
    # test above) are compared at 1e-7.
    opt = _all_exported_optimizers()[name]
    ref = train(MODEL, opt, *_data(backend.namespace("numpy"), n=48), epochs=1, batch_size=16,
                seed=2, progress=False)
    res = train(MODEL, opt, *_moved(xp, n=48), epochs=1, batch_size=16, seed=2,
                progress=False)
    assert res.status == "completed", res.message
    on_device(res.params)
    approximate = opt.needs is optim.Needs.HVP and not autodiff.has_exact_derivatives(xp)
    rtol = 1e-7 if approximate else 1e-12
    for p, q in zip(res.params, ref.params):
        np.testing.assert_allclose(backend.to_numpy(p), q, rtol=rtol, atol=rtol * np.max(np.abs(q)))
    assert res.steps["oracle_calls"] == ref.steps["oracle_calls"]
    assert res.steps["hvp_calls"] == ref.steps["hvp_calls"]


def test_evaluate_on_every_backend_equals_numpy(xp):
    # A batch of 1000 rows over 96: array_api_strict refuses the out-of-bounds slice stop
    # that NumPy clips; loss equal to NumPy's to 1e-12 (float64), accuracy exactly.
    params = MODEL.init(seed=4)
    X, y = _data(backend.namespace("numpy"))
    moved = [xp.asarray(p) for p in params]
    loss, acc = evaluate(MODEL, moved, *_moved(xp, n=96), batch_size=1000)
    ref_loss, ref_acc = evaluate(MODEL, params, X, y, batch_size=1000)
    assert loss == pytest.approx(ref_loss, rel=1e-12) and acc == ref_acc
    assert accuracy(MODEL, moved, *_moved(xp, n=96)) == ref_acc


@pytest.mark.parametrize("make_opt", [lambda: SGD(lr=0.1, momentum=0.9),
                                      lambda: RSO(lr=0.2, meta_iters=2, groups="layer",
                                                  layers=MODEL.layers())], ids=["sgd", "rso"])
def test_float32_training_on_float32_only_devices(xp32, on_device, make_opt):
    # Devices without float64 (like Apple MPS) or without any 64-bit type (like JAX
    # without x64): a float32 run trains there (minibatch indices in the device's int32,
    # accuracy counted without float64) and equals NumPy's float32 run -- array_api_strict
    # computes with NumPy, so the arithmetic is the same up to rounding: 1e-6 relative is
    # ~10 float32 ulps.
    X, y = (np.asarray(a) for a in _data(backend.namespace("numpy"), n=48))
    X32, y32 = X.astype(np.float32), y.astype(np.int32)
    ref = train(MODEL, make_opt(), X32, y32, epochs=1, batch_size=16, progress=False)
    # array_api_strict's argmax makes an int64 result, which the no-64-bit device refuses:
    # evaluation (accuracy) only where int64 exists.
    no_x64 = "no_x64" in str(backend.device(xp32.asarray(0.0, dtype=xp32.float32)))
    Xd, yd = xp32.asarray(X32), xp32.asarray(y32)
    extra = {} if no_x64 else {"X_eval": Xd, "y_eval": yd}
    res = train(MODEL, make_opt(), Xd, yd, epochs=1, batch_size=16, progress=False, **extra)
    assert res.status == "completed", res.message
    on_device(res.params)
    assert all(p.dtype == xp32.float32 for p in res.params)
    for p, q in zip(res.params, ref.params):
        np.testing.assert_allclose(backend.to_numpy(p), q, rtol=1e-6, atol=1e-6 * np.max(np.abs(q)))
    if not no_x64:
        assert 0.0 <= res.epochs["eval_accuracy"][0] <= 1.0


@pytest.mark.parametrize("measure", [accuracy, evaluate], ids=["accuracy", "evaluate"])
def test_accuracy_and_evaluate_refuse_an_empty_x(measure):
    # A mean over no rows is undefined: the error names X instead of dividing by zero.
    X, y = _data(backend.namespace("numpy"), n=8)
    with pytest.raises(ValueError, match=r"^X must have at least one row, got shape \(0, "):
        measure(MODEL, MODEL.init(seed=0), X[:0], y[:0])


@pytest.mark.parametrize("batch_size, error, match", [
    (0, ValueError, "^batch_size must be an int >= 1, got 0"),
    (-4, ValueError, "^batch_size must be an int >= 1, got -4"),
    (2.0, TypeError, "^batch_size must be an int, got 2.0"),
])
def test_evaluate_names_a_bad_batch_size(batch_size, error, match):
    X, y = _data(backend.namespace("numpy"), n=8)
    with pytest.raises(error, match=match):
        evaluate(MODEL, MODEL.init(seed=0), X, y, batch_size=batch_size)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_the_step_that_makes_the_params_non_finite_is_rolled_back(tmp_path):
    # The loss at the start of the step is finite (inputs 1e4 keep it so), but
    # SGD(lr=1.7e308) makes the parameters infinite. Only train's check of the params
    # after a step sees it there: without it the step got a history row, its epoch a
    # checkpoint holding inf, and the divergence surfaced only at the next step's NaN loss.
    from rso_ref import checkpoint

    X, y = _data(backend.namespace("numpy"))
    X = X * 1e4
    start = MODEL.init(seed=0, like=X)
    result = train(MODEL, SGD(lr=1.7e308), X, y, epochs=3, batch_size=X.shape[0], params=start,
                   progress=False, checkpoint_dir=tmp_path)
    stored = tmp_path / "last"
    if checkpoint.exists(stored):
        assert all(np.all(np.isfinite(p)) for p in checkpoint.load(stored)["params"])
    assert result.status == "diverged"
    assert result.steps["loss"] == [] and result.epochs["epoch"] == []
    for p, q in zip(result.params, start):
        np.testing.assert_array_equal(p, q)
    assert "step 0" in result.message and "parameters non-finite" in result.message


def test_eval_data_is_checked_before_training_and_named(np_xp):
    X, y = _data(np_xp)

    def never(step, record):
        raise AssertionError("trained although X_eval/y_eval are bad")

    cases = [({"X_eval": X[:, :3], "y_eval": y}, ValueError, r"^X_eval must have rows of shape"),
             ({"X_eval": X[:0], "y_eval": y[:0]}, ValueError, r"^X_eval must have at least one"),
             ({"X_eval": X, "y_eval": y[:5]}, ValueError, r"^X_eval has 96 rows but y_eval has 5"),
             ({"X_eval": X.tolist(), "y_eval": y}, TypeError, r"^X_eval must be an array"),
             ({"X_eval": X, "y_eval": None}, ValueError, r"^X_eval and y_eval")]
    for kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            train(MODEL, SGD(lr=0.1), X, y, epochs=1, batch_size=16, progress=False,
                  callback=never, **kwargs)
