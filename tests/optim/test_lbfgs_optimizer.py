"""Tests of the full-batch LBFGS optimizer: same iteration as minimize, contract, purity."""
import math

import numpy as np
import pytest

from rso_ref import tree
from rso_ref.lbfgs import minimize
from rso_ref.optim import LBFGS, Needs, Optimizer, StepInfo
from rso_ref.testing import assert_close
from rso_ref.validation import NonFiniteError
from rso_ref.testing.problems import extended_rosenbrock


def _value_and_grad(fun):
    def value_and_grad(p):
        f, g = fun(tree.flatten(p))
        return f, tree.unflatten(g, p)
    return value_and_grad


def _rosenbrock_start(xp):
    """``(value_and_grad, params)`` at the start of the 4-d extended Rosenbrock problem."""
    problem = extended_rosenbrock(4)
    return _value_and_grad(problem.fun(xp)), [xp.asarray(problem.x0)]


def test_lbfgs_optimizer_matches_minimize(xp, on_device):
    problem = extended_rosenbrock(6)
    fun = problem.fun(xp)
    x0 = xp.asarray(problem.x0)
    params = [xp.reshape(x0[:4], (2, 2)), x0[4:]]
    value_and_grad = _value_and_grad(fun)

    opt = LBFGS(m=5)
    state = opt.init(params)
    assert set(state) == {"count", "s", "y", "rho", "head", "size", "gamma"}
    k, calls, losses = 6, 0, []
    for _ in range(k):
        loss, grads = value_and_grad(params)
        params, state, info = opt.step_with_info(params, grads, state,
                                                 value_and_grad=value_and_grad, loss=loss)
        assert isinstance(info, StepInfo) and info.status == 0 and info.message
        calls += info.oracle_calls
        losses.append(info.loss_after)
    ref = minimize(fun, x0, m=5, gtol=0.0, ftol=0.0, maxiter=k)
    # The same iteration on the same numbers: identical up to flatten/unflatten copies.
    assert_close(tree.flatten(params), ref.x, rtol=1e-12)
    assert losses == [r.f for r in ref.trace] and state["count"] == k
    assert calls == ref.nfev - 1  # minimize also counts the call at x0
    on_device(params, state["s"], state["y"], state["rho"], ref.x, ref.jac)


def test_lbfgs_declares_the_contract():
    assert issubclass(LBFGS, Optimizer) and LBFGS.needs is Needs.VALUE_AND_GRAD
    assert LBFGS.takes_meta_oracle is False


def test_missing_loss_costs_one_call_counted_in_the_info(np_xp):
    value_and_grad, params = _rosenbrock_start(np_xp)
    opt = LBFGS()
    state = opt.init(params)
    loss, grads = value_and_grad(params)
    _, _, given = opt.step_with_info(params, grads, state, value_and_grad=value_and_grad,
                                     loss=loss)
    _, _, missing = opt.step_with_info(params, grads, state, value_and_grad=value_and_grad)
    assert missing.oracle_calls == given.oracle_calls + 1
    assert missing.loss_after == given.loss_after < loss


def test_lbfgs_step_is_pure(np_xp):
    value_and_grad, params = _rosenbrock_start(np_xp)
    opt = LBFGS(m=3)
    state = opt.init(params)
    for _ in range(3):
        params, state = opt.step(params, value_and_grad(params)[1], state,
                                 value_and_grad=value_and_grad)
    saved = {k: (np.array(v, copy=True) if hasattr(v, "shape") else v) for k, v in state.items()}
    first, _ = opt.step(params, value_and_grad(params)[1], state, value_and_grad=value_and_grad)
    second, _ = opt.step(params, value_and_grad(params)[1], state, value_and_grad=value_and_grad)
    np.testing.assert_array_equal(first[0], second[0])
    for key, value in saved.items():
        np.testing.assert_array_equal(state[key], value)


def test_failed_line_search_leaves_params_and_reports_status(np_xp):
    # NaN everywhere but at params: every trial is backtracked from until maxls is spent,
    # then the reset retry along -g (memory already empty) is not made.
    x0 = np_xp.asarray([1.0, -2.0])

    def value_and_grad(p):
        if bool(np.all(p[0] == x0)):
            return float(p[0] @ p[0]), [2.0 * p[0]]
        return math.nan, [np.full(2, math.nan)]

    opt = LBFGS(maxls=4)
    params = [x0]
    params_out, state, info = opt.step_with_info(params, [2.0 * x0], opt.init(params),
                                                 value_and_grad=value_and_grad)
    assert info.status != 0 and info.oracle_calls == 4 + 1  # the search and the loss
    assert params_out[0] is x0 and info.loss_after == 5.0 and state["size"] == 0


def test_lr_accepts_any_real_scalar(np_xp):
    # lr=np.float32(0.1) raised ValueError before (issue 15); stored as a plain float.
    opt = LBFGS(lr=np.float32(0.1), m=np.int64(4), maxls=np.int32(5), c1=np.float32(1e-4))
    assert type(opt.lr) is float and opt.lr == float(np.float32(0.1))
    assert type(opt.m) is int and type(opt.maxls) is int
    value_and_grad, params = _rosenbrock_start(np_xp)
    _, _, info = opt.step_with_info(params, value_and_grad(params)[1], opt.init(params),
                                    value_and_grad=value_and_grad)
    assert info.status == 0


@pytest.mark.parametrize("kwargs,error,match", [
    ({"m": 0}, ValueError, "^m must"), ({"m": 2.0}, TypeError, "^m must"),
    ({"lr": 0.0}, ValueError, "^lr must"), ({"lr": "1"}, TypeError, "^lr must"),
    ({"lr": math.inf}, ValueError, "^lr must"), ({"maxls": 0}, ValueError, "^maxls must"),
    ({"maxls": True}, TypeError, "^maxls must"),
    ({"c1": 0.5, "c2": 0.4}, ValueError, "^c1 and c2"),
])
def test_lbfgs_optimizer_rejects_bad_hyperparameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        LBFGS(**kwargs)


def test_old_name_max_linesearch_is_gone():
    with pytest.raises(TypeError, match="max_linesearch"):
        LBFGS(max_linesearch=5)


def test_non_finite_grads_or_loss_raise_non_finite_error(np_xp):
    value_and_grad, params = _rosenbrock_start(np_xp)
    opt = LBFGS()
    state = opt.init(params)
    grads = value_and_grad(params)[1]
    with pytest.raises(NonFiniteError, match="grads"):
        opt.step(params, [grads[0] * math.nan], state, value_and_grad=value_and_grad)
    with pytest.raises(NonFiniteError, match="^value_and_grad returned a non-finite loss"):
        opt.step(params, grads, state, value_and_grad=value_and_grad, loss=math.inf)


@pytest.mark.parametrize("oracle,match", [
    (lambda p: 1.0, r"^value_and_grad must return a pair \(loss, gradient\)"),
    (lambda p: (None, [2.0 * p[0]]), "^value_and_grad must return a real scalar loss"),
    (lambda p: (1.0, [np.asarray([1, 2])]), "^value_and_grad returned a gradient of dtype"),
])
def test_bad_oracle_output_names_value_and_grad(oracle, match, np_xp):
    params = [np_xp.asarray([1.0, 2.0])]
    opt = LBFGS()
    with pytest.raises(TypeError, match=match):
        opt.step(params, [2.0 * params[0]], opt.init(params), value_and_grad=oracle)
