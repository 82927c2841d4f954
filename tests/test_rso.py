"""Tests of Algorithm 1 (rso_ref.rso), held to the letter of the RSO paper §2.2.

The test losses are written once in array-API calls so every check runs on every
backend. ``quartic_oracle`` is non-quadratic and couples its parameter arrays, so the
meta-objective is not separable and a wrong sign or index shows up.
"""
import inspect
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from rso_ref import backend, tree
from rso_ref.optim import RSO
from rso_ref.rso import (DEFAULT_META_ITERS, initial_weights, meta_objective, resolve_groups,
                         rso_step)
from rso_ref.testing import assert_close
from rounding import assert_axpy
from rso_ref.validation import NonFiniteError

SHAPES = [(3, 2), (2,), (4,), (1, 3)]


def make_params(xp, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [backend.asarray(scale * rng.standard_normal(s), xp=xp) for s in SHAPES]


def quartic_oracle(xp, coupling=0.3):
    """L = sum_j (1/2 a_j |θ_j|² + 1/4 Σ θ_j⁴) + c (Σθ_0)(Σθ_1): smooth, non-quadratic."""
    curv = [1.0, 5.0, 0.5, 2.0]

    def oracle(params):
        s0, s1 = xp.sum(params[0]), xp.sum(params[1])
        loss = coupling * s0 * s1
        grads = []
        for a, p in zip(curv, params):
            loss = loss + 0.5 * a * xp.sum(p * p) + 0.25 * xp.sum(p ** 4)
            grads.append(a * p + p ** 3)
        grads[0] = grads[0] + coupling * s1
        grads[1] = grads[1] + coupling * s0
        return float(loss), grads

    return oracle


class CountingOracle:
    """Wraps an oracle and counts its calls."""

    def __init__(self, oracle):
        self.oracle, self.calls = oracle, 0

    def __call__(self, params):
        self.calls += 1
        return self.oracle(params)


def test_meta_gradient_matches_central_differences(xp):
    params = make_params(xp)
    oracle = quartic_oracle(xp)
    _, grads = oracle(params)
    groups = [[0], [1, 2], [3]]
    f = meta_objective(oracle, params, grads, groups, lr=0.05)
    w = np.array([0.7, -0.2, 1.3])
    _, analytic = f(w)
    h = 1e-5
    numeric = np.array([(f(w + h * e)[0] - f(w - h * e)[0]) / (2 * h) for e in np.eye(3)])
    # Central differences have O(h²) truncation ~1e-10 and O(eps/h) round-off ~1e-11
    # relative to |f| ~ 10: 1e-7 relative leaves a margin of ~100.
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9)


def test_meta_gradient_sign_is_negative_lr_times_inner_product(xp):
    # At w = 0, theta' = theta, so df/dw_i = -lr <g_i, g_i> = -lr ||g_i||^2 exactly.
    params = make_params(xp)
    oracle = quartic_oracle(xp)
    _, grads = oracle(params)
    groups = resolve_groups(None, len(params))
    _, df = meta_objective(oracle, params, grads, groups, lr=0.1)(np.zeros(len(params)))
    expected = -0.1 * np.array([tree.vdot([g], [g]) for g in grads])
    np.testing.assert_allclose(df, expected, rtol=1e-12)


@pytest.mark.portable
def test_one_group_is_an_exact_line_search(np_xp):
    xp = np_xp
    params = make_params(xp, seed=3)
    oracle = quartic_oracle(xp)
    _, grads = oracle(params)
    lr = 0.01
    groups = [list(range(len(params)))]
    res = rso_step(oracle, params, lr=lr, groups=groups, meta_iters=30)

    def along(t):
        return oracle([p - lr * t * g for p, g in zip(params, grads)])[0]

    ref = minimize_scalar(along, bracket=(0.0, 1.0), tol=1e-12)
    # Both locate the minimiser of a smooth 1-D function; the minimum value agrees to
    # round-off (f is flat there), the minimiser to ~sqrt(eps) relative as Brent's tol.
    assert res.loss_after == pytest.approx(ref.fun, rel=1e-12)
    assert res.w[0] == pytest.approx(ref.x, rel=1e-6)


def test_quadratic_meta_solution_solves_the_normal_equations(xp):
    rng = np.random.default_rng(11)
    n = 9
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a_host = q @ np.diag(np.linspace(1.0, 30.0, n)) @ q.T
    b_host = rng.standard_normal(n)
    a_mat, b_vec = backend.asarray(a_host, xp=xp), backend.asarray(b_host, xp=xp)
    sizes = [2, 4, 3]
    bounds = np.cumsum([0] + sizes)

    def oracle(params):
        theta = xp.concat(params)
        grad = a_mat @ theta - b_vec
        loss = 0.5 * xp.sum(theta * (a_mat @ theta)) - xp.sum(b_vec * theta)
        return float(loss), [grad[bounds[i]:bounds[i + 1]] for i in range(len(sizes))]

    theta0 = rng.standard_normal(n)
    params = [backend.asarray(theta0[bounds[i]:bounds[i + 1]], xp=xp) for i in range(len(sizes))]
    lr = 0.05
    res = rso_step(oracle, params, lr=lr, meta_iters=40)

    grad0 = a_host @ theta0 - b_host
    cols = np.zeros((n, len(sizes)))
    for i in range(len(sizes)):
        cols[bounds[i]:bounds[i + 1], i] = grad0[bounds[i]:bounds[i + 1]]
    w_star = np.linalg.solve(cols.T @ a_host @ cols, cols.T @ grad0 / lr)
    np.testing.assert_allclose(res.w, w_star, rtol=1e-8)
    # Once f(w) is minimised to rounding the meta-solve stops before all 40 iterations.
    assert res.nit < 40 and res.meta_status in (0, 2), (res.nit, res.meta_message)


def test_meta_solve_keeps_going_after_a_tiny_step_on_a_curved_valley():
    # Rosenbrock split in two groups: L-BFGS makes one tiny step (decrease 6e-7) and then
    # speeds up again. A stop extrapolated from past decreases would end at nit = 4.
    def oracle(p):
        x, y = float(p[0][0]), float(p[1][0])
        f = 100.0 * (y - x * x) ** 2 + (1.0 - x) ** 2
        return f, [np.array([-400.0 * x * (y - x * x) - 2.0 * (1.0 - x)]),
                   np.array([200.0 * (y - x * x)])]

    params = [np.array([4.00478517]), np.array([0.37703839])]
    res = rso_step(oracle, params, lr=0.02276968917305913, meta_iters=10)
    assert res.nit == 10, (res.nit, res.meta_message)


def test_returned_params_loss_and_nfev_are_exact(xp):
    params = make_params(xp, seed=5)
    oracle = CountingOracle(quartic_oracle(xp))
    loss0, grads = oracle(params)
    oracle.calls = 0
    groups = [[0, 1], [2], [3]]
    res = rso_step(oracle, params, lr=0.05, groups=groups, meta_iters=4, loss=loss0, grads=grads)
    assert res.nfev == oracle.calls
    assert 1 <= res.nit <= 4
    # theta' = theta - lr * sum_i w_i g_i, recomputed independently
    for gi, group in enumerate(groups):
        for j in group:
            assert_axpy(res.params[j], params[j], -(0.05 * float(res.w[gi])), grads[j], xp)
    assert res.loss_after == oracle.oracle(res.params)[0]
    assert res.loss_before == loss0
    np.testing.assert_allclose(res.grad_norms, [math.sqrt(tree.vdot([grads[j] for j in g],
                                                                     [grads[j] for j in g]))
                                                for g in groups], rtol=1e-12)


def test_meta_solve_runs_k_iterations_even_when_gradients_are_tiny(np_xp):
    # The pitfall of absolute tolerances: a tiny gradient must not stop the meta-solve.
    params = make_params(np_xp, seed=1, scale=1e-4)
    res = rso_step(quartic_oracle(np_xp), params, lr=0.05, meta_iters=3)
    assert res.nit == 3
    assert res.loss_after < res.loss_before


def test_meta_iterations_decrease_the_loss_monotonically_in_k(np_xp):
    params = make_params(np_xp, seed=2)
    oracle = quartic_oracle(np_xp)
    after = [rso_step(oracle, params, lr=0.05, meta_iters=k).loss_after for k in range(0, 6)]
    assert all(b <= a for a, b in zip(after, after[1:]))
    assert after[-1] < after[0]


def test_deterministic_and_identical_across_backends(xp, on_device):
    ref_xp = backend.namespace("numpy")
    ref = rso_step(quartic_oracle(ref_xp), make_params(ref_xp, seed=4), lr=0.05, meta_iters=5)
    res = rso_step(quartic_oracle(xp), make_params(xp, seed=4), lr=0.05, meta_iters=5)
    again = rso_step(quartic_oracle(xp), make_params(xp, seed=4), lr=0.05, meta_iters=5)
    np.testing.assert_array_equal(res.w, again.w)
    on_device(res.params)
    # float64 on every backend: only summation order in reductions may differ.
    np.testing.assert_allclose(res.w, ref.w, rtol=1e-12)
    assert (res.nfev, res.nit) == (ref.nfev, ref.nit)
    for p, q in zip(res.params, ref.params):
        np.testing.assert_allclose(backend.to_numpy(p), q, rtol=1e-12)


@pytest.mark.parametrize("w0", ["uniform", "ones", "previous"])
def test_initial_weights(w0):
    start = initial_weights(w0, 4, previous=np.array([0.1, 0.2, 0.3, 0.4]))
    expected = {"uniform": np.full(4, 0.25), "ones": np.ones(4),
                "previous": np.array([0.1, 0.2, 0.3, 0.4])}[w0]
    np.testing.assert_array_equal(start, expected)
    np.testing.assert_array_equal(initial_weights("previous", 4), np.full(4, 0.25))


def test_meta_iters_zero_applies_w0_exactly(np_xp):
    params = make_params(np_xp)
    oracle = quartic_oracle(np_xp)
    _, grads = oracle(params)
    res = rso_step(oracle, params, lr=0.1, meta_iters=0, w0="ones")
    for p, q, g in zip(res.params, params, grads):
        assert_close(p, q - 0.1 * g, rtol=0)


def test_normalize_uses_unit_directions(np_xp):
    params = make_params(np_xp, seed=6)
    oracle = quartic_oracle(np_xp)
    _, grads = oracle(params)
    res = rso_step(oracle, params, lr=0.1, meta_iters=2, normalize=True)
    for j, (p, q, g) in enumerate(zip(res.params, params, grads)):
        unit = g / np.linalg.norm(g)
        assert_close(p, q - 0.1 * res.w[j] * unit, rtol=1e-14)


def test_safeguard_is_never_worse_than_the_gradient_step(np_xp):
    # lr small enough that the gradient step beats a 1-iteration solve from 1/L.
    params = make_params(np_xp, seed=7)
    oracle = quartic_oracle(np_xp)
    _, grads = oracle(params)
    gd_loss = oracle([p - 0.02 * g for p, g in zip(params, grads)])[0]
    plain = rso_step(oracle, params, lr=0.02, meta_iters=1, maxls=1)
    guarded = rso_step(oracle, params, lr=0.02, meta_iters=1, maxls=1, safeguard=True)
    assert guarded.loss_after <= gd_loss
    assert guarded.nfev == plain.nfev + 1
    if plain.loss_after > gd_loss:
        assert guarded.safeguarded
        np.testing.assert_array_equal(guarded.w, np.ones(len(params)))


def test_meta_batch_oracle_is_the_one_used_for_f(np_xp):
    params = make_params(np_xp, seed=8)
    main, meta = CountingOracle(quartic_oracle(np_xp)), CountingOracle(quartic_oracle(np_xp, 0.0))
    res = rso_step(main, params, lr=0.05, meta_iters=3, meta_value_and_grad=meta)
    assert main.calls == 1 and meta.calls == res.nfev
    assert res.loss_after == meta.oracle(res.params)[0]


def test_string_groupings_come_from_the_structure():
    layers = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    blocks = [[0, 1, 2, 3], [4, 5, 6, 7, 8, 9]]
    assert resolve_groups("layer", 10, layers=layers) == layers
    assert resolve_groups("block", 10, blocks=blocks) == blocks
    assert resolve_groups("uniform:2", 10, layers=layers) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert resolve_groups(None, 3) == [[0], [1], [2]]


@pytest.mark.parametrize("groups, match", [
    ([], "at least one group"),
    ([[0], []], "empty"),
    ([[0, 1], [1]], "overlap"),
    ([[0], [7]], "out of range"),
    ("layers", "groups must be"),
    ("uniform:0", "positive integer"),
    ("block", "blocks"),
])
def test_bad_groups_raise(np_xp, groups, match):
    params = make_params(np_xp)
    with pytest.raises(ValueError, match=match):
        rso_step(quartic_oracle(np_xp), params, lr=0.1, groups=groups)


@pytest.mark.parametrize("lr", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_lr_raises(np_xp, lr):
    with pytest.raises(ValueError, match="lr must be"):
        rso_step(quartic_oracle(np_xp), make_params(np_xp), lr=lr)


@pytest.mark.parametrize("meta_iters", [0, 3])
def test_nan_loss_at_params_raises_non_finite_error(np_xp, meta_iters):
    def bad(params):
        return float("nan"), [np_xp.zeros_like(p) for p in params]

    with pytest.raises(NonFiniteError, match="value_and_grad returned a non-finite loss"):
        rso_step(bad, make_params(np_xp), lr=0.1, meta_iters=meta_iters)


@pytest.mark.parametrize("meta_iters", [0, 3])
@pytest.mark.parametrize("bad_value", [float("nan"), float("inf")])
def test_non_finite_grads_at_params_raise_before_reaching_params(xp, meta_iters, bad_value):
    # Finite loss, one bad gradient entry: with meta_iters=0 the step used to return NaN
    # parameters with status 0.
    oracle = quartic_oracle(xp)

    def bad(params):
        loss, grads = oracle(params)
        spoilt = backend.to_numpy(grads[2]).copy()
        spoilt[1] = bad_value
        return loss, [grads[0], grads[1], backend.asarray(spoilt, xp=xp), grads[3]]

    with pytest.raises(NonFiniteError, match="grads contains NaN or inf"):
        rso_step(bad, make_params(xp), lr=0.1, meta_iters=meta_iters)


class _BlowsUpAwayFromStart:
    """quartic_oracle at the start point, NaN loss (finite grads) anywhere else."""

    def __init__(self, xp, start):
        self.oracle, self.start = quartic_oracle(xp), start

    def __call__(self, params):
        loss, grads = self.oracle(params)
        moved = any(not bool(np.array_equal(backend.to_numpy(p), backend.to_numpy(q)))
                    for p, q in zip(params, self.start))
        return (float("nan") if moved else loss), grads


@pytest.mark.parametrize("meta_iters", [0, 3])
def test_non_finite_meta_objective_at_w0_raises_non_finite_error(np_xp, meta_iters):
    # f(w0) = L(theta - lr/L sum g_i) is NaN: the meta-solve cannot start. Before, K > 0
    # raised a bare ValueError from inside minimize and K = 0 one about the solution.
    params = make_params(np_xp, seed=2)
    with pytest.raises(NonFiniteError, match="at w0 of the meta-solve"):
        rso_step(_BlowsUpAwayFromStart(np_xp, params), params, lr=0.1, meta_iters=meta_iters)


def test_meta_oracle_named_when_it_is_the_non_finite_one(np_xp):
    params = make_params(np_xp, seed=2)
    with pytest.raises(NonFiniteError, match="^meta_value_and_grad returned a non-finite"):
        rso_step(quartic_oracle(np_xp), params, lr=0.1,
                 meta_value_and_grad=_BlowsUpAwayFromStart(np_xp, params))


@pytest.mark.parametrize("returns, error, match", [
    (lambda loss, grads: loss, TypeError, "value_and_grad must return a pair"),
    (lambda loss, grads: (loss, grads, 0), TypeError, "value_and_grad must return a pair"),
    (lambda loss, grads: (np.ones(3), grads), TypeError,
     "value_and_grad must return a real scalar loss"),
    (lambda loss, grads: (None, grads), TypeError, "value_and_grad must return a real scalar"),
])
def test_an_oracle_of_the_wrong_shape_gets_one_clear_error(np_xp, returns, error, match):
    oracle = quartic_oracle(np_xp)
    with pytest.raises(error, match=match):
        rso_step(lambda p: returns(*oracle(p)), make_params(np_xp), lr=0.1)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"normalize": 1}, TypeError, "^normalize"), ({"safeguard": "yes"}, TypeError, "^safeguard"),
    ({"meta_value_and_grad": 3}, TypeError, "^meta_value_and_grad must be callable"),
    ({"meta_iters": 2.0}, TypeError, "^meta_iters"),
    ({"w0": [1.0, 2.0]}, ValueError, r"^w0 must be a finite array of shape \(4,\)"),
    ({"w0": "up"}, ValueError, "^w0 must be one of"),
])
def test_bad_options_raise_naming_them(np_xp, kwargs, error, match):
    with pytest.raises(error, match=match):
        rso_step(quartic_oracle(np_xp), make_params(np_xp), lr=0.1, **kwargs)


@pytest.mark.parametrize("given, match", [
    ("loss", "^loss was given without grads"), ("grads", "^grads was given without loss"),
])
def test_loss_and_grads_are_given_together_or_not_at_all(np_xp, given, match):
    # One without the other is refused, never silently replaced by an oracle call.
    params = make_params(np_xp)
    oracle = CountingOracle(quartic_oracle(np_xp))
    loss, grads = quartic_oracle(np_xp)(params)
    with pytest.raises(ValueError, match=match):
        rso_step(oracle, params, lr=0.1, **{given: {"loss": loss, "grads": grads}[given]})
    assert oracle.calls == 0


def test_meta_objective_checks_its_arguments(np_xp):
    params = make_params(np_xp)
    oracle = quartic_oracle(np_xp)
    _, grads = oracle(params)
    groups = resolve_groups(None, len(params))
    with pytest.raises(ValueError, match="^lr must be > 0"):
        meta_objective(oracle, params, grads, groups, lr=-0.1)
    with pytest.raises(TypeError, match="^value_and_grad must be callable"):
        meta_objective(None, params, grads, groups, lr=0.1)
    with pytest.raises(ValueError, match="^directions has 3 arrays"):
        meta_objective(oracle, params, grads[:3], groups, lr=0.1)


def test_weights_from_another_backend_start_the_meta_solve(xp):
    previous = backend.asarray(np.array([0.5, 1.5, 2.0, -1.0]), xp=xp)
    start = initial_weights("previous", 4, previous=previous)
    assert isinstance(start, np.ndarray) and start.dtype == np.float64
    assert start.tolist() == [0.5, 1.5, 2.0, -1.0]
    assert initial_weights((0.5, 1.5, 2.0, -1.0), 4).tolist() == start.tolist()


def test_the_default_k_is_defined_once():
    assert inspect.signature(rso_step).parameters["meta_iters"].default == DEFAULT_META_ITERS
    assert RSO(lr=0.1).meta_iters == DEFAULT_META_ITERS == 5


def test_grads_of_wrong_shape_raise(np_xp):
    def wrong(params):
        return 1.0, [np_xp.zeros(5) for _ in params]

    with pytest.raises(ValueError, match=r"grads\[0\] has shape"):
        rso_step(wrong, make_params(np_xp), lr=0.1)
