"""Tests of the strong-Wolfe line search: the definition, interpolation, failures, backends."""
import math
import warnings

import numpy as np
import pytest

from rso_ref import backend
from rso_ref.linesearch import (LINESEARCH_MESSAGES, _cubicmin, _quadmin, line_search,
                                scalar_search_wolfe)
from rso_ref.testing.problems import assert_wolfe, chained_rosenbrock, extended_rosenbrock
from rounding import assert_axpy

# Scalar test functions phi(a) -> (phi, dphi) with phi'(0) < 0: Moré-Thuente's first
# three (doi:10.1145/192115.192132, Table 1-3) and two smooth ones with far minima.
_BETA = 2.0


def _exp(t):
    return math.exp(t) if t < 700.0 else math.inf


SCALAR_FUNCTIONS = {
    "mt1": lambda a: (-a / (a * a + _BETA), (a * a - _BETA) / (a * a + _BETA) ** 2),
    "mt2": lambda a: ((a + 0.004) ** 5 - 2.0 * (a + 0.004) ** 4,
                      5.0 * (a + 0.004) ** 4 - 8.0 * (a + 0.004) ** 3),
    "mt3": lambda a: (-a + 0.01 * math.sin(39.0 * math.pi * a) / (39.0 * math.pi)
                      + a * a / 20.0,
                      -1.0 + 0.01 * math.cos(39.0 * math.pi * a) + a / 10.0),
    "quadratic_far": lambda a: ((a - 300.0) ** 2, 2.0 * (a - 300.0)),
    # Overflows to inf for a > 705: such trials must be backtracked from.
    "exp_valley": lambda a: (_exp(a - 5.0) - a, _exp(a - 5.0) - 1.0),
}


def _wolfe_holds(phi, alpha, c1, c2):
    phi0, dphi0 = phi(0.0)
    value, slope = phi(alpha)
    return value <= phi0 + c1 * alpha * dphi0 and abs(slope) <= c2 * abs(dphi0)


@pytest.mark.parametrize("name", sorted(SCALAR_FUNCTIONS))
@pytest.mark.parametrize("alpha0", [1e-3, 1e-1, 1.0, 10.0, 1e3])
@pytest.mark.parametrize("c1,c2", [(1e-4, 0.9), (1e-3, 0.1)])
def test_scalar_search_satisfies_strong_wolfe(name, alpha0, c1, c2):
    phi = SCALAR_FUNCTIONS[name]
    phi0, dphi0 = phi(0.0)
    res = scalar_search_wolfe(phi, phi0, dphi0, alpha0=alpha0, c1=c1, c2=c2, maxls=30)
    assert res.status == 0, res.message
    assert _wolfe_holds(phi, res.alpha, c1, c2)
    assert res.info.decrease_violation <= 0.0 and res.info.curvature_violation <= 0.0
    assert res.info.trial_steps[-1] == res.alpha and res.nfev == len(res.info.trial_steps)
    assert (res.phi, res.dphi) == phi(res.alpha)


def test_extrapolation_lands_on_quadratic_minimiser():
    # phi = (a - 3)^2 with c2 = 0.5: alpha = 1 has |phi'| = 4 > 3 = c2 |phi'(0)|; the cubic
    # through (0, 9, -6) and (1, 4, -4) is the quadratic itself, so the next trial is 3.
    res = scalar_search_wolfe(lambda a: ((a - 3.0) ** 2, 2.0 * (a - 3.0)), 9.0, -6.0, c2=0.5)
    assert res.status == 0 and res.alpha == 3.0 and res.nfev == 2


def test_interpolants_are_exact_on_their_own_model():
    cubic = lambda t: (t - 1.0) * (t - 4.0) ** 2          # local min at t = 4  # noqa: E731
    dcubic = lambda t: (t - 4.0) ** 2 + 2.0 * (t - 1.0) * (t - 4.0)  # noqa: E731
    t = _cubicmin(2.0, cubic(2.0), dcubic(2.0), 6.0, cubic(6.0), dcubic(6.0))
    assert abs(t - 4.0) <= 1e-12  # exact up to round-off of a few flops
    quad = lambda t: 2.0 * (t - 0.7) ** 2  # noqa: E731
    t = _quadmin(0.0, quad(0.0), -2.8, 2.0, quad(2.0))
    assert abs(t - 0.7) <= 1e-12
    assert _quadmin(0.0, 0.0, -1.0, 1.0, -5.0) is None  # concave: no minimiser
    # phi = -t^3 + 1.5 t^2 - t has phi' = -3 (t - 1/2)^2 - 1/4 < 0: no local minimiser.
    assert _cubicmin(0.0, 0.0, -1.0, 1.0, -0.5, -1.75) is None


@pytest.mark.parametrize("c1,c2", [(0.0, 0.9), (0.5, 0.5), (0.9, 0.1), (1e-4, 1.0), (-1, 0.5)])
def test_bad_wolfe_constants_raise(c1, c2):
    with pytest.raises(ValueError, match="c1"):
        scalar_search_wolfe(SCALAR_FUNCTIONS["mt1"], 0.0, -0.5, c1=c1, c2=c2)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"maxls": 0}, ValueError, "^maxls"), ({"maxls": 2.0}, TypeError, "^maxls"),
    ({"alpha0": 0.0}, ValueError, "^alpha0"), ({"alpha0": math.inf}, ValueError, "^alpha0"),
    ({"alpha0": "1"}, TypeError, "^alpha0"), ({"c1": None}, TypeError, "^c1"),
])
def test_bad_options_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        scalar_search_wolfe(SCALAR_FUNCTIONS["mt1"], 0.0, -0.5, **kwargs)


def test_numpy_scalars_are_accepted_as_options():
    # rso_ref.validation everywhere: np.float32 Wolfe constants and np.int64 maxls work
    # and give the same search as Python numbers.
    phi = SCALAR_FUNCTIONS["mt1"]
    ref = scalar_search_wolfe(phi, 0.0, -0.5, c1=1e-3, c2=0.1, maxls=30, alpha0=10.0)
    res = scalar_search_wolfe(phi, np.float64(0.0), np.float32(-0.5), c1=np.float32(1e-3),
                              c2=np.float32(0.1), maxls=np.int64(30), alpha0=np.float32(10.0))
    assert res.status == ref.status == 0
    # c1, c2 differ from 1e-3, 0.1 by float32 rounding only: same steps to 1e-6.
    np.testing.assert_allclose(res.info.trial_steps, ref.info.trial_steps, rtol=1e-6)


def test_ascent_direction_gives_status_3_without_evaluation():
    calls = []
    res = scalar_search_wolfe(lambda a: calls.append(a) or (a, 1.0), 0.0, 1.0)
    assert res.status == 3 and res.alpha == 0.0 and calls == []
    assert res.message == LINESEARCH_MESSAGES[3]


def test_nan_trial_points_are_backtracked():
    # phi = (a - 1)^2 on a < 1.5 and NaN beyond: a first trial of 100 must shrink.
    def phi(a):
        return ((a - 1.0) ** 2, 2.0 * (a - 1.0)) if a < 1.5 else (math.nan, math.nan)

    res = scalar_search_wolfe(phi, 1.0, -2.0, alpha0=100.0)
    assert res.status == 0 and res.alpha < 1.5
    assert _wolfe_holds(phi, res.alpha, 1e-4, 0.9)
    assert any(a >= 1.5 for a in res.info.trial_steps)


def test_failure_never_returns_nan():
    res = scalar_search_wolfe(lambda a: (math.nan, math.nan), 1.0, -1.0, maxls=5)
    assert res.status == 1 and res.nfev == 5
    assert (res.alpha, res.phi, res.dphi) == (0.0, 1.0, -1.0)
    assert res.info.decrease_violation == math.inf


def test_budget_exhaustion_gives_status_1():
    # A linear decrease never meets the curvature condition: bracketing runs out.
    res = scalar_search_wolfe(lambda a: (-a, -1.0), 0.0, -1.0, maxls=4)
    assert res.status == 1 and res.alpha == 0.0 and res.nfev == 4
    steps = res.info.trial_steps
    assert all(b > a for a, b in zip(steps, steps[1:]))  # extrapolation grows the step


def test_vector_line_search_on_backends(xp):
    problem = chained_rosenbrock(6)
    fun = problem.fun(xp)
    x = xp.asarray(problem.x0)
    f, g = fun(x)
    d = -g
    res = line_search(fun, x, float(f), g, d, alpha0=1e-3)
    assert res.status == 0, res.message
    assert_wolfe(fun, x, d, res.alpha, 1e-4, 0.9)
    assert_axpy(res.x, x, res.alpha, d, xp)  # the accepted point is x + alpha d
    f_new, g_new = fun(res.x)
    assert float(f_new) == res.f and bool(xp.all(g_new == res.g))
    assert res.dphi == float(res.g @ d) and res.dphi0 == float(g @ d)


def test_vector_line_search_same_steps_on_every_backend(xp):
    # Decisions are made on host floats: the trial steps match NumPy's to 1e-12.
    problem = extended_rosenbrock(8)
    out = {}
    for name, ns in (("here", xp), ("numpy", backend.namespace("numpy"))):
        fun = problem.fun(ns)
        x = ns.asarray(problem.x0)
        f, g = fun(x)
        out[name] = line_search(fun, x, float(f), g, -g, alpha0=0.01).info.trial_steps
    np.testing.assert_allclose(out["here"], out["numpy"], rtol=1e-12)


def test_vector_line_search_failure_returns_start(np_xp):
    x = np_xp.asarray([1.0, 2.0])
    fun = lambda z: (float(z @ z), 2.0 * z)  # noqa: E731
    f, g = fun(x)
    res = line_search(fun, x, f, g, g)  # ascent direction
    assert res.status == 3 and res.alpha == 0.0 and res.x is x and res.g is g and res.f == f


def test_vector_line_search_rejects_bad_gradient_shape(np_xp):
    x = np_xp.asarray([1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        line_search(lambda z: (1.0, np_xp.zeros(3)), x, 5.0, x, -x)
    with pytest.raises(TypeError, match=r"^fun must return a pair \(loss, gradient\).*, got float"):
        line_search(lambda z: 1.0, x, 5.0, x, -x)


def test_failed_search_offers_its_lowest_sufficient_decrease_trial_as_fallback():
    # phi = (a - 1)^2 - 1 but phi' reported 10x too steep (an inexact derivative): the
    # curvature test |phi'| <= c2 |phi'(0)| holds only very near a = 1, which the zoom
    # cannot hit in 4 trials. The lowest trial with sufficient decrease is the fallback.
    def phi(a):
        return (a - 1.0) ** 2 - 1.0, 20.0 * (a - 1.0) - 0.5

    res = scalar_search_wolfe(phi, 0.0, -20.5, alpha0=2.5, c2=0.1, maxls=4)
    assert res.status != 0 and res.alpha == 0.0
    values = dict(zip(res.info.trial_steps, res.info.values))
    good = {a: v for a, v in values.items() if v <= 0.0 - 1e-4 * a * 20.5}
    assert good and res.fallback is not None
    assert res.fallback[0] == min(good, key=good.get) and res.fallback[1] == min(good.values())
    assert len(res.info.values) == len(res.info.trial_steps) == res.nfev


def test_failed_search_without_decrease_has_no_fallback():
    res = scalar_search_wolfe(lambda a: (a * a + 1.0, 2.0 * a), 1.0, -1.0, alpha0=1e3, maxls=3)
    assert res.status == 1 and res.fallback is None
    assert all(v > 1.0 for v in res.info.values)


def test_vector_fallback_carries_the_trial_point_and_its_gradient():
    x0 = np.array([0.0])

    def fun(x):  # the same inexact slope as above, as a function of x
        return float((x[0] - 1.0) ** 2 - 1.0), np.array([20.0 * (x[0] - 1.0) - 0.5])
    f0, g0 = fun(x0)
    res = line_search(fun, x0, f0, g0, np.array([1.0]), alpha0=2.5, c2=0.1, maxls=4)
    assert res.status != 0 and res.fallback is not None and res.fallback.status == 0
    fb = res.fallback
    assert fb.x.tolist() == [fb.alpha] and (fb.f, fb.g.tolist()) == (fun(fb.x)[0],
                                                                    fun(fb.x)[1].tolist())
    assert fb.f <= f0 + 1e-4 * fb.alpha * fb.dphi0


@pytest.mark.parametrize("far_gradient",
                         [[1e308, 1e308], [math.inf, -math.inf], [math.nan, 1.0]],
                         ids=["overflows", "inf-inf", "nan"])
def test_non_finite_trial_slopes_raise_no_warning_and_touch_no_warning_state(
        far_gradient, monkeypatch):
    # phi'(alpha) = g @ d would overflow or be invalid at the first (too long) trial; the
    # search must backtrack from it without a RuntimeWarning, and without switching
    # warnings off (process-wide state, not thread-safe).
    def fun(z):
        if float(np.max(np.abs(z))) > 2.0:
            return math.inf, np.array(far_gradient)
        return float(z @ z), 2.0 * z

    def no_catch(*args, **kwargs):
        raise AssertionError("the line search must not change the warning filters")

    x0 = np.array([1.0, 1.0])
    f0, g0 = fun(x0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monkeypatch.setattr(warnings, "catch_warnings", no_catch)
        res = line_search(fun, x0, f0, g0, -g0, alpha0=10.0)
    assert caught == [] and res.status == 0 and res.info.trial_steps[0] == 10.0
    assert res.info.values[0] == math.inf and res.f < f0
