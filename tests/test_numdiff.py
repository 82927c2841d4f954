"""Finite-difference gradients (rso_ref.numdiff): SciPy's step rules, counts, devices."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

from rso_ref import backend
from rso_ref.numdiff import FD_METHODS, approx_gradient, default_relative_step, difference_steps
from rso_ref.testing import assert_close

_X = np.array([1.5, -2.0, 0.0, 3e-3, -7e4])


def _f(x):
    return float(np.sum(np.sin(x) * x ** 2) + x[0] * x[1])


def _scipy_derivative():
    # The reference for the step rules; a private module, so the comparison skips
    # (visibly) if SciPy moves it.
    numdiff = pytest.importorskip("scipy.optimize._numdiff")
    return numdiff.approx_derivative


@pytest.mark.portable
@pytest.mark.parametrize("method", sorted(FD_METHODS))
@pytest.mark.parametrize("rel_step", [None, 1e-6])
def test_relative_steps_give_scipys_approx_derivative_bit_for_bit(method, rel_step):
    # Same steps, same differences, same division: equal to the last bit.
    desired = _scipy_derivative()(_f, _X, method=method, rel_step=rel_step)
    g, _ = approx_gradient(_f, _X, method=method, rel_step=rel_step)
    assert np.array_equal(g, desired)


@pytest.mark.portable
def test_absolute_step_gives_scipys_approx_fprime_bit_for_bit():
    # jac=None in L-BFGS-B: forward differences with the absolute step eps.
    g, nfev = approx_gradient(_f, _X, abs_step=1e-8, f0=_f(_X))
    assert np.array_equal(g, scipy.optimize.approx_fprime(_X, _f, 1e-8))
    assert nfev == _X.size  # f0 given: one call per coordinate


@pytest.mark.parametrize("method,calls", [("2-point", 6), ("3-point", 10)])
def test_calls_are_counted(method, calls):
    seen = []
    _, nfev = approx_gradient(lambda z: seen.append(1) or _f(z), _X, method=method)
    assert nfev == len(seen) == calls  # 1 + n forward (f0 not given), 2n central


def test_a_step_that_does_not_move_x_falls_back_to_the_default():
    x = np.array([1.0, 1e30])
    h = difference_steps(x, "2-point", abs_step=1e-8)
    r = default_relative_step("2-point", float(np.finfo(np.float64).eps))
    assert h[0] == 1e-8  # moves 1.0
    assert h[1] == r * 1e30 and x[1] + h[1] != x[1]  # 1e-8 would not move 1e30


def test_bad_method_is_named():
    with pytest.raises(ValueError, match="method"):
        approx_gradient(_f, _X, method="5-point")


@pytest.mark.parametrize("method", sorted(FD_METHODS))
def test_gradient_is_right_and_lives_on_the_device_of_x(method, xp, on_device):
    x = xp.asarray([0.5, -1.0, 2.0], dtype=xp.float64)

    def f(z):
        return float(xp.sum(z ** 3) - z[0] * z[2])
    g, _ = approx_gradient(f, x, method=method)
    on_device(g)
    desired = xp.asarray([3 * 0.25 - 2.0, 3.0, 12.0 - 0.5], dtype=xp.float64)
    # Truncation h f''/2 with h ~ 1.5e-8 |x| (forward; f'' <= 12) is ~2e-7; central
    # differences leave h^2 f'''/6 with h ~ 6e-6: ~4e-11, plus rounding eps|f|/h.
    tol = 3e-7 if method == "2-point" else 1e-9
    assert_close(g, desired, rtol=0, atol=tol)
    assert backend.backend_name(backend.array_namespace(g)) == backend.backend_name(xp)
