"""The unconstrained L-BFGS-B cases of SciPy's tests, and optax's and torch's L-BFGS problems.

Each case of :func:`rso_ref.testing.peer_cases.scipy_lbfgsb_cases`,
:func:`~rso_ref.testing.peer_cases.optax_cases` and
:func:`~rso_ref.testing.peer_cases.torch_cases` runs beside SciPy's L-BFGS-B
(``test_peer_run``: our status is the expected one and, where values are compared, ours
is no worse than SciPy's up to ``peer_suite.slack``); the tests after it make the other
checks of the peers' tests, each citing its origin. Sources, read from the peers'
repositories: ``scipy/optimize/tests/test_optimize.py``, ``test_lbfgsb_hessinv.py`` and
``test_lbfgsb_setulb.py``; optax ``optax/_src/lbfgs_test.py``; PyTorch
``test/test_optim.py``.

Left out, with the reason:

- bounds (out of scope of :func:`rso_ref.lbfgs.minimize`): ``TestLBFGSBBounds``,
  ``test_minimize_l_bfgs_b_bounds_FD``, ``test_equal_bounds``, ``test_all_bounds_equal*``,
  ``test_minimize_does_not_mutate_bounds``, ``test_minimize_bounds_reusable_across_sizes``,
  ``test_lbfgsb_setulb.py::test_setulb_floatround`` (it drives the Fortran ``setulb``
  with bounds); ``test_minimize_with_scalar`` runs here without its bounds;
- no counterpart here: the ``fmin_l_bfgs_b`` function (its tests run through
  ``minimize``), ``TestWorkers`` (``workers=`` for parallel differences), ``disp``
  output, ``TestAnnotations``;
- optax's tests of its own machinery (pytrees, complex parameters, ``jit`` state shape,
  the plain-implementation comparison at a fixed learning rate without line search) and
  torch's state-dict, complex and return-type tests, which test their APIs, not the
  minimiser.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize

from rso_ref.benchmarks.peer_suite import run_case
from rso_ref.lbfgs import InverseHessianProduct, minimize
from rso_ref.testing import peer_cases as pc
from peer_helpers import one_blas_thread, peer_failure  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.portable

_TEST_OPTIMIZE = "scipy/optimize/tests/test_optimize.py"


@pytest.mark.parametrize("case", [
    pytest.param(case, id=case.id)
    for case in pc.scipy_lbfgsb_cases() + pc.optax_cases() + pc.torch_cases()])
def test_peer_run(case):
    row = run_case(case)
    assert row["passed"], peer_failure(case, row)
    if case.expect_status is not None:   # the peer meets the expectation too
        assert row["scipy"]["status"] == case.expect_status
    assert row["ours"]["shape"] == list(np.shape(case.x0))


# --- SciPy: TestOptimizeSimple on the entropy problem (CheckOptimize) ------------------------

def test_maxent_counts_and_trace():
    """``test_l_bfgs_b``: 'known good' counts from SciPy 0.7.0 (7 f, 5 g, may not
    increase) and the trace slice [3:5]; ``test_minimize_l_bfgs_b``: njev counts the
    gradient calls."""
    m = pc.MaxEnt()
    res = minimize(m.func, np.zeros(3), jac=m.grad, maxiter=1000)
    assert abs(m.value(res.x) - m.value(m.SOLUTION)) <= 1e-6
    assert m.fcalls <= 7 and m.gcalls <= 5
    assert (res.nfev, res.njev) == (m.fcalls, m.gcalls)
    np.testing.assert_allclose(m.trace[3:5], [[8.117083e-16, -5.196198e-01, 4.897617e-01],
                                              [0.0, -0.52489628, 0.48753042]],
                               atol=1e-14, rtol=1e-7)


@pytest.mark.parametrize("jac", [None, "2-point", "3-point", "funjac"])
def test_maxent_difference_gradients(jac):
    """``test_minimize_l_bfgs_b`` (approximate jacobians: every call counted in nfev),
    ``test_l_bfgs_b_numjac``, ``test_l_bfgs_b_funjac``; ``test_duplicate_evaluations``:
    no point evaluated twice in a row."""
    m = pc.MaxEnt()
    fun, jac = (m.func_and_grad, True) if jac == "funjac" else (m.func, jac)
    res = minimize(fun, np.zeros(3), jac=jac, maxiter=1000)
    assert abs(m.value(res.x) - m.value(m.SOLUTION)) <= 1e-6
    assert res.nfev == m.fcalls
    assert not any(np.array_equal(a, b) for a, b in zip(m.trace, m.trace[1:]))


def test_maxent_ftol():
    """``test_minimize_l_bfgs_b_ftol``: each tighter ftol gives a lower value than
    ftol=0.1, within ftol (relative) of the minimum."""
    best = pc.MaxEnt.value(pc.MaxEnt.SOLUTION)
    values = []
    for ftol in (1e-1, 1e-4, 1e-7, 1e-10):
        m = pc.MaxEnt()
        values.append(m.value(minimize(m.func, np.zeros(3), jac=m.grad, maxiter=1000,
                                       ftol=ftol).x))
        assert values[-1] == pytest.approx(best, rel=ftol)
    assert all(v < values[0] for v in values[1:])


# --- SciPy: limits, callbacks, odd functions ---------------------------------------------------

def test_maxiter_with_callback():
    """``test_l_bfgs_b_maxiter`` (gh7854): no more than maxiter iterations."""
    seen = []
    res = minimize(pc.rosen, [0.0, 0.0], jac=None, maxiter=5, callback=seen.append)
    assert res.nit == len(seen) == 5 and res.status == 1 and res.success is False
    np.testing.assert_array_equal(res.x, seen[-1])
    assert res.fun == pytest.approx(pc.rosen(seen[-1]), rel=1e-15)


def test_respect_maxiter():
    """``test_respect_maxiter``: nit equals maxiter when it comes first; nfev counts
    every call."""
    calls = [0]

    def fun(x):
        calls[0] += 1
        return pc.rosen(x), pc.rosen_der(x)
    res = minimize(fun, np.zeros(10), maxiter=4)
    assert res.nit == 4 and res.status == 1 and res.nfev == calls[0] == res.njev


def test_callback_gets_copies():
    """``test_minimize_callback_copies_array``: the arrays the callback gets are never
    changed afterwards and share no memory."""
    results = []
    minimize(lambda x: (pc.rosen(x), pc.rosen_der(x)), np.zeros(10), maxiter=5,
             callback=lambda x: results.append((x, np.copy(x))))
    assert len(results) > 2
    assert all(np.array_equal(x, y) for x, y in results)
    assert not any(np.may_share_memory(a[0], b[0])
                   for a, b in itertools.combinations(results, 2))


@pytest.mark.parametrize("form", ["x", "intermediate_result", "callable"])
def test_callback_stopiteration(form):
    """``test_callback_stopiteration``: stopping in the 5th callback gives the result of
    ``maxiter=5``, status 99, success False, and no call of fun after it."""
    ref = minimize(pc.rosen, [1.1] * 5, jac=pc.rosen_der, maxiter=5)
    res = minimize(pc.rosen, [1.1] * 5, jac=pc.rosen_der,
                   callback=pc.stop_after(5, form)())
    assert res.nit == ref.nit == 5 and res.nfev == ref.nfev
    assert res.fun == ref.fun
    np.testing.assert_array_equal(res.x, ref.x)
    assert res.status == 99 and res.success is False


def test_intermediate_result_has_the_iterate():
    """``test_callback_stopiteration`` (interface 1): ``intermediate_result.fun`` is f at
    ``intermediate_result.x``."""
    def cb(*, intermediate_result):
        assert intermediate_result.fun == pc.rosen(intermediate_result.x)
    assert minimize(pc.rosen, [1.1] * 5, jac=pc.rosen_der, callback=cb).success


def test_x_overwritten_by_fun():
    """``test_x_overwritten_user_function`` (gh13740): fun computes in place in x."""
    res = minimize(pc.overwriting_quadratic, np.full(5, 1.5), jac=None)
    np.testing.assert_allclose(res.x, np.arange(5), atol=2e-4)


def test_reused_gradient_buffer():
    """A fun that returns one gradient buffer, overwritten at each call (torch's
    ``.grad``): the run is the same as with a fresh gradient at each call."""
    fresh = minimize(lambda x: (pc.rosen(x), pc.rosen_der(x)), np.zeros(5))
    reused = minimize(pc.ReusedGradient(5), np.zeros(5))
    assert reused.success and reused.nfev == fresh.nfev
    np.testing.assert_array_equal(reused.x, fresh.x)
    np.testing.assert_allclose(reused.x, 1.0, atol=1e-4)


@pytest.mark.parametrize("jac", [pc._one, None], ids=["grad", "fd"])
def test_nan_at_x0(jac):
    """``test_nan_values`` (func): f NaN at x0 fails, status 2, without iterating."""
    res = minimize(pc._nan, np.array([1.0]), jac=jac, maxiter=20)
    assert res.success is False and res.status == 2 and res.nit == 0


@pytest.mark.parametrize("jac", [pc._one, None], ids=["grad", "fd"])
def test_nan_after_two_calls(jac):
    """``test_nan_values`` (func2): finite at x0, NaN at every trial point: success False."""
    fun, _ = pc._nan_after_two()
    res = minimize(fun, np.array([1.0]), jac=jac, maxiter=20)
    assert res.success is False


def test_maxls_one_fails():
    """``test_minimize_l_bfgs_maxls``: with maxls=1 from (-1.2, 1) the run fails."""
    res = minimize(pc.rosen, np.array([-1.2, 1.0]), jac=pc.rosen_der, maxls=1)
    assert not res.success


def test_no_increase_with_a_wrong_gradient():
    """``test_no_increase``: with a wrong gradient the result is no worse than x0 and
    fun is f at x."""
    x0 = np.array([2.0])
    res = minimize(pc._no_increase, x0, jac=pc._bad_grad, maxiter=20)
    assert res.fun == pytest.approx(pc._no_increase(res.x).item(), rel=0, abs=0)
    assert res.fun <= pc._no_increase(x0).item()


@pytest.mark.parametrize("scale", [1.0, 1e50])
def test_initial_step_scaling(scale):
    """``test_initial_step_scaling``: the first step stays of length ~1 (0.5 to 3) however
    large f and g are, and the run converges in at most 3 iterations."""
    x0, first = [-1.0], []

    def f(x):
        if not first and x[0] != x0[0]:
            first.append(abs(x[0] - x0[0]))
        assert np.abs(x).max() <= 1e4, "stepped far away"
        return scale * (x[0] - 1.0) ** 2
    res = minimize(f, x0, jac=lambda x: np.array([scale * (x[0] - 1.0)]))
    assert res.success and res.nit <= 3
    np.testing.assert_allclose(res.x, [1.0])
    assert 0.5 < first[0] < 3.0


def test_tol_parameter():
    """``test_minimize_tol_parameter``: tol=1e-10 ends lower than tol=1."""
    tight = minimize(pc._tol_func, [2, 2], jac=pc._tol_grad, tol=1e-10)
    loose = minimize(pc._tol_func, [2, 2], jac=pc._tol_grad, tol=1.0)
    assert pc._tol_func(tight.x) < pc._tol_func(loose.x)


def test_maxfun_interruption():
    """``test_minimize_l_bfgs_b_maxfun_interruption`` (gh-6162): stopped by maxfun at
    the worst of evaluations 100-300 of a first run, the result still beats the best of
    the first 30 evaluations."""
    values = []

    def recording(x):
        values.append(pc.rosen(x))
        return values[-1]
    x0 = np.full(7, 1000.0)
    minimize(recording, x0, jac=pc.rosen_der, maxfun=300)
    maxfun = 100 + max((v, i) for i, v in enumerate(values[100:]))[1]
    res = minimize(pc.rosen, x0, jac=pc.rosen_der, maxfun=maxfun)
    assert res.fun < min(values[:30]) and res.nfev <= maxfun


def test_shapes():
    """``test_result_x_shape_when_len_x_is_one``, ``test_minimize_with_scalar``: x comes
    back in x0's shape; a size-1 array value is taken as f."""
    assert minimize(pc._square, np.array([0.1]), jac=None).x.shape == (1,)
    res = minimize(pc._sum_of_squares, 17, jac=None)
    assert res.success and np.shape(res.x) == ()
    np.testing.assert_allclose(res.x, 0.0, atol=1e-5)
    fun, p0 = pc.linear_least_squares()
    res = minimize(fun, p0)
    assert res.x.shape == res.jac.shape == (10, 6)


def test_float32_gradient():
    """``test_lbfgsb_setulb.py::test_gh_issue18730``: a single-precision gradient."""
    res = minimize(pc._float32_grad, np.array([1.0, 1.0]))
    np.testing.assert_allclose(res.fun, 0.0, atol=1e-15)


def test_lone_args_object():
    """``test_minimize_coerce_args_param`` (gh-3503): ``args=c`` with c an array."""
    x0 = np.random.default_rng(1234).standard_normal(pc.COERCE_C.size)
    res = minimize(pc._coerce_y, x0, args=pc.COERCE_C, jac=pc._coerce_dy)
    np.testing.assert_allclose(res.x, pc.COERCE_C, atol=1e-5)


def test_maxiter_noninteger():
    """``test_minimize_maxiter_noninteger`` (gh-23430): a real maxiter is accepted."""
    res = minimize(pc.rosen, np.array([1.3, 0.7, 0.8, 1.9, 1.2]), jac=None, maxiter=100.1)
    assert res.success
    capped = minimize(pc.rosen, np.array([1.3, 0.7, 0.8, 1.9, 1.2]), jac=None, maxiter=2.5)
    assert capped.nit == 3 and capped.status == 1  # nit >= 2.5 first holds at 3


# --- SciPy: test_lbfgsb_hessinv.py -----------------------------------------------------------

def test_hessinv_matvec_matches_todense():
    """``test_1``: x^4 from 20 for gtol 1e-8, 1e-12, 1e-20 and maxcor 20-34."""
    for gtol, maxcor in itertools.product([1e-8, 1e-12, 1e-20], range(20, 35)):
        res = minimize(pc._quartic, 20, gtol=gtol, maxcor=maxcor)
        h = res.hess_inv
        np.testing.assert_allclose(h(np.array([1.0])).reshape(1, 1), h.todense())


@pytest.fixture(scope="module")
def quadratic_run():
    """``test_2``'s run: x^T H0^-1 x (H0 = [[3, 0], [1, 2]]) from (10, 20), no jac."""
    return minimize(pc._hessinv_quadratic, [10.0, 20.0], jac=None)


def test_hessinv_operator(quadratic_run):
    """``test_2``: todense equals the matvecs of the unit vectors, an (n, 1) vector
    gives the same product; the operator is symmetric positive definite, ``.T`` is it,
    matmat is the dense product."""
    h = quadratic_run.hess_inv
    assert isinstance(h, InverseHessianProduct) and h.shape == (2, 2)
    dense = h.todense()
    np.testing.assert_allclose(dense, np.vstack([h(np.array([1.0, 0.0])),
                                                 h(np.array([0.0, 1.0]))]))
    np.testing.assert_allclose(h(np.array([[1.0], [0.0]])).reshape(-1), h(np.array([1.0, 0.0])))
    np.testing.assert_allclose(dense, dense.T, rtol=1e-14)
    assert np.linalg.eigvalsh(dense).min() > 0 and h.T is h
    v = np.random.default_rng(0).standard_normal((2, 3))
    np.testing.assert_allclose(h.matmat(v), dense @ v, rtol=1e-13)
    np.testing.assert_allclose(h @ v[:, 0], h.matvec(v[:, 0]))


def test_hessinv_approximates_the_inverse_hessian(quadratic_run):
    """``test_2``: close to SciPy's BFGS ``hess_inv`` (rtol 1e-2, atol 0.03), and to the
    true inverse Hessian :math:`(A + A^T)^{-1}`, :math:`A = H_0^{-1}`."""
    dense = quadratic_run.hess_inv.todense()
    bfgs = scipy.optimize.minimize(pc._hessinv_quadratic, [10, 20], method="BFGS")
    np.testing.assert_allclose(dense, bfgs.hess_inv, rtol=1e-2, atol=0.03)
    a = scipy.linalg.inv(pc.HESSINV_H0)
    np.testing.assert_allclose(dense, np.linalg.inv(a + a.T), rtol=1e-2, atol=1e-2)


def test_hessinv_todense_is_the_bfgs_product(quadratic_run):
    """``test_3``: todense equals the BFGS update product built here independently,
    :math:`H \\leftarrow (I - \\rho s y^T) H (I - \\rho y s^T) + \\rho s s^T` from
    :math:`H = \\gamma I`."""
    h = quadratic_run.hess_inv
    eye = np.eye(2)
    dense = h.gamma * eye
    for s, y, rho in zip(h.s_hist, h.y_hist, h.rho):
        dense = (eye - rho * np.outer(s, y)) @ dense @ (eye - rho * np.outer(y, s)) \
            + rho * np.outer(s, s)
    np.testing.assert_allclose(h.todense(), dense, rtol=1e-13)


# --- optax: optax/_src/lbfgs_test.py -----------------------------------------------------------

@pytest.mark.parametrize("name", ["rosenbrock", "himmelblau", "matyas", "eggholder",
                                  "zakharov"])
def test_optax_against_scipy(name):
    """``LBFGSTest.test_against_scipy``: the minimiser (matyas, zakharov: the known one;
    the others: SciPy BFGS's) and the minimum (eggholder: SciPy BFGS's value) at tol
    1e-5."""
    case = {c.name: c for c in pc.optax_cases()}[name]
    fun, _ = case.make()
    res = minimize(fun, case.x0)
    bfgs = scipy.optimize.minimize(lambda x: fun(x)[0], case.x0, method="BFGS").x
    target = np.zeros_like(case.x0) if name in ("matyas", "zakharov") else bfgs
    np.testing.assert_allclose(res.x, target, atol=1e-5, rtol=1e-5)
    expected = fun(bfgs)[0] if name == "eggholder" else case.f_star
    np.testing.assert_allclose(res.fun, expected, atol=1e-5, rtol=1e-5)


def test_optax_bad_initialization_and_steep_objective():
    """``test_minimize_bad_initialization`` (Himmelblau from (92, 0.001)) and
    ``test_steep_objective`` (mean((1e4 x)^2) from ones)."""
    cases = {c.name: c for c in pc.optax_cases()}
    res = minimize(cases["himmelblau-bad-init"].make()[0], cases["himmelblau-bad-init"].x0)
    np.testing.assert_allclose(res.fun, 0.0, atol=1e-5)
    res = minimize(cases["steep"].make()[0], cases["steep"].x0)
    np.testing.assert_allclose(res.x, 0.0, atol=1e-5)


# --- torch: test/test_optim.py -----------------------------------------------------------------

def test_torch_basic_cases_and_rosenbrock():
    """``TestOptim.test_lbfgs`` (``_test_basic_cases``: the loss falls; here it reaches 0)
    and the Rosenbrock start (1.5, 1.5) of ``_test_rosenbrock_sparse`` (closer to (1, 1)
    than the start)."""
    fun, p0 = pc.linear_least_squares()
    res = minimize(fun, p0)
    assert res.success and res.fun < fun(p0)[0] and res.fun < 1e-10
    res = minimize(lambda x: (pc.rosen(x), pc.rosen_der(x)), [1.5, 1.5])
    assert np.linalg.norm(res.x - 1.0) < np.linalg.norm(np.array([1.5, 1.5]) - 1.0)
    np.testing.assert_allclose(res.x, 1.0, atol=1e-4)
