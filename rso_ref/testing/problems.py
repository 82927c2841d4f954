r"""Reference problems for unconstrained minimisation, written once against an array namespace.

Each :class:`Problem` gives ``value(x, xp)`` (array-API calls only, so that
``xp=rso_ref.autodiff.namespace()`` lets autograd differentiate it) and an analytic
``grad(x, xp)``; :meth:`Problem.fun` joins them into the ``fun(x) -> (f, g)`` oracle of
:func:`rso_ref.lbfgs.minimize`. Most are from Moré, Garbow and Hillstrom [1]_ (their
number in brackets); least-squares ones are :math:`f = \sum_i r_i(x)^2` with
:math:`\nabla f = 2 J^\top r`.

References
----------
.. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained optimization
       software", ACM Trans. Math. Softw. 7(1), 17-41, 1981, doi:10.1145/355934.355936.
.. [2] M. Jamil and X.-S. Yang, "A literature survey of benchmark functions for global
       optimization problems", Int. J. Math. Model. Numer. Optim. 4(2), 150-194, 2013,
       doi:10.1504/IJMMNO.2013.055204 (Himmelblau, Matyas, Zakharov).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import backend
from ..data.convex import spd_matrix


@dataclass(frozen=True)
class Problem:
    """A named test problem: start point, objective, gradient and known minimum.

    It follows the protocol of :class:`rso_ref.data.convex.ConvexProblem` (what
    :func:`rso_ref.testing.strategies.convex_problems` draws): ``name``, ``x0``,
    ``dim``, ``value_and_grad(x) -> (float, array)``, ``x_star`` and ``f_star``, so that
    one test minimises either, ``minimize(p.value_and_grad, p.x0)``.

    Attributes
    ----------
    name : str
    x0 : numpy.ndarray, shape (n,)
        Host float64 start point.
    value : callable
        ``value(x, xp) -> 0-d array`` (array-API calls only).
    grad : callable
        ``grad(x, xp) -> array`` like ``x``.
    x_star : numpy.ndarray or None
        The minimiser reached from ``x0`` when it is unique and known.
    f_star : float
        The (global) minimum value from the literature.
    """

    name: str
    x0: np.ndarray
    value: Callable
    grad: Callable
    x_star: np.ndarray | None
    f_star: float

    @property
    def dim(self) -> int:
        """Number of unknowns."""
        return int(self.x0.shape[0])

    def fun(self, xp) -> Callable[[Any], tuple[Any, Any]]:
        """The oracle ``x -> (f, g)`` on namespace ``xp`` (``f`` a 0-d array).

        Parameters
        ----------
        xp : module
            The array namespace to compute with (e.g. the autograd namespace).

        Returns
        -------
        callable
            ``x -> (value(x, xp), grad(x, xp))``.
        """
        return lambda x: (self.value(x, xp), self.grad(x, xp))

    def value_and_grad(self, x: Any) -> tuple[float, Any]:
        """The objective and its gradient at ``x``, on the namespace of ``x``.

        Parameters
        ----------
        x : array, shape (n,)

        Returns
        -------
        value : float
        grad : array, shape (n,)
            In the namespace, device and dtype of ``x``.
        """
        xp = backend.array_namespace(x)
        return float(self.value(x, xp)), self.grad(x, xp)


def _const(xp, x, host):
    """A host constant as an array of ``x``'s dtype on ``xp``."""
    # x's device; an autograd ArrayBox (tests differentiating these problems) has none: host
    return xp.asarray(np.asarray(host, dtype=np.float64), dtype=x.dtype,
                      device=getattr(x, "device", None))


def _vec(xp, x, *items):
    """Stack 0-d arrays and Python floats into a 1-D array of ``x``'s dtype."""
    return xp.stack([xp.asarray(v, dtype=x.dtype) if isinstance(v, (int, float)) else v
                     for v in items])


def _interleave(xp, a, b):
    """``[a0, b0, a1, b1, ...]`` without item assignment."""
    return xp.reshape(xp.stack([a, b], axis=1), (-1,))


def _least_squares(name, x0, residual, jacobian, x_star, f_star) -> Problem:
    """A problem ``f = sum r^2`` from its residual and Jacobian functions."""
    def value(x, xp):
        r = residual(x, xp)
        return xp.sum(r * r)

    def grad(x, xp):
        return 2.0 * (residual(x, xp) @ jacobian(x, xp))

    return Problem(name, np.asarray(x0, dtype=np.float64), value, grad,
                   None if x_star is None else np.asarray(x_star, dtype=np.float64), f_star)


# --- extended and chained Rosenbrock [21] ---------------------------------------------

def _ext_rosen_value(x, xp):
    odd, even = x[0::2], x[1::2]
    return xp.sum(100.0 * (even - odd * odd) ** 2 + (1.0 - odd) ** 2)


def _ext_rosen_grad(x, xp):
    odd, even = x[0::2], x[1::2]
    t = even - odd * odd
    return _interleave(xp, -400.0 * odd * t - 2.0 * (1.0 - odd), 200.0 * t)


def extended_rosenbrock(n: int = 10) -> Problem:
    """MGH [21]: n/2 uncoupled 2-D Rosenbrock valleys; x0 = (-1.2, 1, ...), f* = 0 at 1."""
    x0 = np.tile([-1.2, 1.0], n // 2)
    return Problem(f"extended_rosenbrock_{n}", x0, _ext_rosen_value, _ext_rosen_grad,
                   np.ones(n), 0.0)


def _chained_rosen_value(x, xp):
    a, b = x[:-1], x[1:]
    return xp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def _chained_rosen_grad(x, xp):
    a, b = x[:-1], x[1:]
    t = b - a * a
    zero = xp.zeros((1,), dtype=x.dtype)
    return xp.concat([-400.0 * a * t - 2.0 * (1.0 - a), zero]) + xp.concat([zero, 200.0 * t])


def chained_rosenbrock(n: int = 10) -> Problem:
    """Chained (generalised) Rosenbrock, SciPy's ``rosen``; f* = 0 at 1."""
    x0 = np.tile([-1.2, 1.0], n // 2)
    return Problem(f"chained_rosenbrock_{n}", x0, _chained_rosen_value, _chained_rosen_grad,
                   np.ones(n), 0.0)


# --- extended Powell singular [22] ----------------------------------------------------

def _powell_parts(x):
    return x[0::4], x[1::4], x[2::4], x[3::4]


def _powell_value(x, xp):
    a, b, c, d = _powell_parts(x)
    return xp.sum((a + 10.0 * b) ** 2 + 5.0 * (c - d) ** 2 + (b - 2.0 * c) ** 4
                  + 10.0 * (a - d) ** 4)


def _powell_grad(x, xp):
    a, b, c, d = _powell_parts(x)
    u, v, w, z = a + 10.0 * b, c - d, b - 2.0 * c, a - d
    ga = 2.0 * u + 40.0 * z ** 3
    gb = 20.0 * u + 4.0 * w ** 3
    gc = 10.0 * v - 8.0 * w ** 3
    gd = -10.0 * v - 40.0 * z ** 3
    return xp.reshape(xp.stack([ga, gb, gc, gd], axis=1), (-1,))


def powell_singular(n: int = 8) -> Problem:
    """MGH [22], extended Powell singular; singular Hessian at x* = 0, f* = 0."""
    return Problem(f"powell_singular_{n}", np.tile([3.0, -1.0, 0.0, 1.0], n // 4),
                   _powell_value, _powell_grad, np.zeros(n), 0.0)


# --- Wood [14] --------------------------------------------------------------------------

def _wood_value(x, xp):
    x1, x2, x3, x4 = x[0], x[1], x[2], x[3]
    return (100.0 * (x1 * x1 - x2) ** 2 + (x1 - 1.0) ** 2 + (x3 - 1.0) ** 2
            + 90.0 * (x3 * x3 - x4) ** 2 + 10.1 * ((x2 - 1.0) ** 2 + (x4 - 1.0) ** 2)
            + 19.8 * (x2 - 1.0) * (x4 - 1.0))


def _wood_grad(x, xp):
    x1, x2, x3, x4 = x[0], x[1], x[2], x[3]
    return _vec(xp, x,
                400.0 * x1 * (x1 * x1 - x2) + 2.0 * (x1 - 1.0),
                -200.0 * (x1 * x1 - x2) + 20.2 * (x2 - 1.0) + 19.8 * (x4 - 1.0),
                360.0 * x3 * (x3 * x3 - x4) + 2.0 * (x3 - 1.0),
                -180.0 * (x3 * x3 - x4) + 20.2 * (x4 - 1.0) + 19.8 * (x2 - 1.0))


def wood() -> Problem:
    """MGH [14]; x0 = (-3, -1, -3, -1), f* = 0 at 1."""
    return Problem("wood", np.array([-3.0, -1.0, -3.0, -1.0]), _wood_value, _wood_grad,
                   np.ones(4), 0.0)


# --- small least-squares problems from MGH ----------------------------------------------

def beale() -> Problem:
    """MGH [5]; x0 = (1, 1), f* = 0 at (3, 0.5)."""
    y = (1.5, 2.25, 2.625)

    def residual(x, xp):
        return _vec(xp, x, *[y[i] - x[0] * (1.0 - x[1] ** (i + 1)) for i in range(3)])

    def jacobian(x, xp):
        rows = [_vec(xp, x, -(1.0 - x[1] ** (i + 1)), (i + 1) * x[0] * x[1] ** i)
                for i in range(3)]
        return xp.stack(rows)

    return _least_squares("beale", [1.0, 1.0], residual, jacobian, [3.0, 0.5], 0.0)


def helical_valley() -> Problem:
    """MGH [7], with theta = atan2(x2, x1) / (2 pi); x0 = (-1, 0, 0), f* = 0 at (1, 0, 0)."""
    def residual(x, xp):
        theta = xp.atan2(x[1], x[0]) / (2.0 * math.pi)
        radius = xp.sqrt(x[0] * x[0] + x[1] * x[1])
        return _vec(xp, x, 10.0 * (x[2] - 10.0 * theta), 10.0 * (radius - 1.0), x[2])

    def jacobian(x, xp):
        r2 = x[0] * x[0] + x[1] * x[1]
        radius = xp.sqrt(r2)
        c = 100.0 / (2.0 * math.pi * r2)
        return xp.stack([_vec(xp, x, c * x[1], -c * x[0], 10.0),
                         _vec(xp, x, 10.0 * x[0] / radius, 10.0 * x[1] / radius, 0.0),
                         _vec(xp, x, 0.0, 0.0, 1.0)])

    return _least_squares("helical_valley", [-1.0, 0.0, 0.0], residual, jacobian,
                          [1.0, 0.0, 0.0], 0.0)


def brown_badly_scaled() -> Problem:
    """MGH [4]; x0 = (1, 1), f* = 0 at (1e6, 2e-6)."""
    def residual(x, xp):
        return _vec(xp, x, x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2.0)

    def jacobian(x, xp):
        return xp.stack([_vec(xp, x, 1.0, 0.0), _vec(xp, x, 0.0, 1.0), _vec(xp, x, x[1], x[0])])

    return _least_squares("brown_badly_scaled", [1.0, 1.0], residual, jacobian, None, 0.0)


def powell_badly_scaled() -> Problem:
    """MGH [3]; x0 = (0, 1), f* = 0 at (1.098e-5, 9.106)."""
    def residual(x, xp):
        return _vec(xp, x, 1e4 * x[0] * x[1] - 1.0, xp.exp(-x[0]) + xp.exp(-x[1]) - 1.0001)

    def jacobian(x, xp):
        return xp.stack([_vec(xp, x, 1e4 * x[1], 1e4 * x[0]),
                         _vec(xp, x, -xp.exp(-x[0]), -xp.exp(-x[1]))])

    return _least_squares("powell_badly_scaled", [0.0, 1.0], residual, jacobian, None, 0.0)


def freudenstein_roth() -> Problem:
    """MGH [2]; x0 = (0.5, -2); f* = 0 at (5, 4) (local minimum 48.9842 nearby)."""
    def residual(x, xp):
        return _vec(xp, x, -13.0 + x[0] + ((5.0 - x[1]) * x[1] - 2.0) * x[1],
                    -29.0 + x[0] + ((x[1] + 1.0) * x[1] - 14.0) * x[1])

    def jacobian(x, xp):
        return xp.stack([_vec(xp, x, 1.0, 10.0 * x[1] - 3.0 * x[1] ** 2 - 2.0),
                         _vec(xp, x, 1.0, 3.0 * x[1] ** 2 + 2.0 * x[1] - 14.0)])

    return _least_squares("freudenstein_roth", [0.5, -2.0], residual, jacobian, None, 0.0)


def jennrich_sampson() -> Problem:
    """MGH [6] with m = 10; x0 = (0.3, 0.4), f* = 124.362 at x1 = x2 = 0.2578."""
    i = np.arange(1.0, 11.0)

    def residual(x, xp):
        k = _const(xp, x, i)
        return 2.0 + 2.0 * k - (xp.exp(k * x[0]) + xp.exp(k * x[1]))

    def jacobian(x, xp):
        k = _const(xp, x, i)
        return xp.stack([-k * xp.exp(k * x[0]), -k * xp.exp(k * x[1])], axis=1)

    return _least_squares("jennrich_sampson", [0.3, 0.4], residual, jacobian, None, 124.36218236)


def box_3d() -> Problem:
    """MGH [12] with m = 10; x0 = (0, 10, 20), f* = 0 (at (1, 10, 1) among others)."""
    t_host = 0.1 * np.arange(1.0, 11.0)
    c_host = np.exp(-t_host) - np.exp(-10.0 * t_host)

    def residual(x, xp):
        t, c = _const(xp, x, t_host), _const(xp, x, c_host)
        return xp.exp(-t * x[0]) - xp.exp(-t * x[1]) - x[2] * c

    def jacobian(x, xp):
        t, c = _const(xp, x, t_host), _const(xp, x, c_host)
        return xp.stack([-t * xp.exp(-t * x[0]), t * xp.exp(-t * x[1]), -c], axis=1)

    return _least_squares("box_3d", [0.0, 10.0, 20.0], residual, jacobian, None, 0.0)


def watson(n: int = 6) -> Problem:
    """MGH [20] with 31 residuals; x0 = 0, f* = 2.28767e-3 for n = 6."""
    t = np.arange(1.0, 30.0) / 29.0
    powers = t[:, None] ** np.arange(n)[None, :]                     # t_i^(j-1)
    slopes = np.zeros((29, n))
    slopes[:, 1:] = np.arange(1.0, n)[None, :] * powers[:, :-1]     # (j-1) t_i^(j-2)

    def residual(x, xp):
        p, q = _const(xp, x, powers), _const(xp, x, slopes)
        u = p @ x
        return xp.concat([q @ x - u * u - 1.0, _vec(xp, x, x[0], x[1] - x[0] * x[0] - 1.0)])

    def jacobian(x, xp):
        p, q = _const(xp, x, powers), _const(xp, x, slopes)
        u = p @ x
        e = _const(xp, x, np.eye(n)[:2])
        extra = xp.stack([e[0, :], e[1, :] - 2.0 * x[0] * e[0, :]])
        return xp.concat([q - 2.0 * u[:, None] * p, extra], axis=0)

    return _least_squares(f"watson_{n}", np.zeros(n), residual, jacobian, None, 2.28767005e-3)


# --- problems with closed-form gradients ----------------------------------------------

def _trig_value(x, xp):
    n = x.shape[0]
    i = xp.asarray(np.arange(1.0, n + 1.0), dtype=x.dtype)
    r = n - xp.sum(xp.cos(x)) + i * (1.0 - xp.cos(x)) - xp.sin(x)
    return xp.sum(r * r)


def _trig_grad(x, xp):
    n = x.shape[0]
    i = xp.asarray(np.arange(1.0, n + 1.0), dtype=x.dtype)
    r = n - xp.sum(xp.cos(x)) + i * (1.0 - xp.cos(x)) - xp.sin(x)
    # J_ij = sin x_j + delta_ij (i sin x_i - cos x_i)
    return 2.0 * (xp.sin(x) * xp.sum(r) + r * (i * xp.sin(x) - xp.cos(x)))


def trigonometric(n: int = 10) -> Problem:
    """MGH [26]; x0 = 1/n, f* = 0."""
    return Problem(f"trigonometric_{n}", np.full(n, 1.0 / n), _trig_value, _trig_grad, None, 0.0)


def _vardim_parts(x, xp):
    j = xp.asarray(np.arange(1.0, x.shape[0] + 1.0), dtype=x.dtype)
    return j, xp.sum(j * (x - 1.0))


def _vardim_value(x, xp):
    _, s = _vardim_parts(x, xp)
    return xp.sum((x - 1.0) ** 2) + s ** 2 + s ** 4


def _vardim_grad(x, xp):
    j, s = _vardim_parts(x, xp)
    return 2.0 * (x - 1.0) + (2.0 * s + 4.0 * s ** 3) * j


def variably_dimensioned(n: int = 10) -> Problem:
    """MGH [25]; x0_j = 1 - j/n, f* = 0 at 1."""
    return Problem(f"variably_dimensioned_{n}", 1.0 - np.arange(1.0, n + 1.0) / n,
                   _vardim_value, _vardim_grad, np.ones(n), 0.0)


_PENALTY_A = 1e-5


def _penalty_value(x, xp):
    return _PENALTY_A * xp.sum((x - 1.0) ** 2) + (xp.sum(x * x) - 0.25) ** 2


def _penalty_grad(x, xp):
    return 2.0 * _PENALTY_A * (x - 1.0) + 4.0 * (xp.sum(x * x) - 0.25) * x


def penalty_1(n: int = 4) -> Problem:
    """MGH [23]; x0_j = j, f* = 2.24997e-5 for n = 4."""
    return Problem(f"penalty_1_{n}", np.arange(1.0, n + 1.0), _penalty_value, _penalty_grad,
                   None, 2.24997e-5)


def quadratic(n: int = 20, cond: float = 1e4, seed: int = 0) -> Problem:
    r"""``0.5 x'Ax - b'x`` with ``A`` from :func:`~rso_ref.data.convex.spd_matrix`
    (eigenvalues log-spaced in [1, cond]), ``b = A x_star`` for a Gaussian ``x_star``;
    starts at 0."""
    rng = np.random.default_rng(seed)
    a_host = spd_matrix(n, cond, rng)
    x_star = rng.standard_normal(n)
    b_host = a_host @ x_star

    def value(x, xp):
        a, b = _const(xp, x, a_host), _const(xp, x, b_host)
        return 0.5 * (x @ (a @ x)) - b @ x

    def grad(x, xp):
        a, b = _const(xp, x, a_host), _const(xp, x, b_host)
        return a @ x - b

    return Problem(f"quadratic_cond{cond:.0e}", np.zeros(n), value, grad, x_star,
                   float(-0.5 * b_host @ x_star))


def himmelblau() -> Problem:
    """Himmelblau [2]; four minima with f* = 0; from (0, 0) L-BFGS reaches (3, 2)."""
    def value(x, xp):
        return (x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2

    def grad(x, xp):
        u, v = x[0] ** 2 + x[1] - 11.0, x[0] + x[1] ** 2 - 7.0
        return _vec(xp, x, 4.0 * x[0] * u + 2.0 * v, 2.0 * u + 4.0 * x[1] * v)

    return Problem("himmelblau", np.array([0.0, 0.0]), value, grad, None, 0.0)


def matyas() -> Problem:
    """Matyas [2]; f* = 0 at 0."""
    def value(x, xp):
        return 0.26 * (x[0] ** 2 + x[1] ** 2) - 0.48 * x[0] * x[1]

    def grad(x, xp):
        return _vec(xp, x, 0.52 * x[0] - 0.48 * x[1], 0.52 * x[1] - 0.48 * x[0])

    return Problem("matyas", np.array([6.0, -4.0]), value, grad, np.zeros(2), 0.0)


def _zakharov_parts(x, xp):
    w = xp.asarray(0.5 * np.arange(1.0, x.shape[0] + 1.0), dtype=x.dtype)
    return w, xp.sum(w * x)


def _zakharov_value(x, xp):
    _, s = _zakharov_parts(x, xp)
    return xp.sum(x * x) + s ** 2 + s ** 4


def _zakharov_grad(x, xp):
    w, s = _zakharov_parts(x, xp)
    return 2.0 * x + (2.0 * s + 4.0 * s ** 3) * w


def zakharov(n: int = 5) -> Problem:
    """Zakharov [2]; f* = 0 at 0."""
    return Problem(f"zakharov_{n}", np.linspace(-1.0, 2.0, n), _zakharov_value, _zakharov_grad,
                   np.zeros(n), 0.0)


def all_problems() -> list[Problem]:
    """The reference set (small sizes, for tests)."""
    return [
        extended_rosenbrock(10), chained_rosenbrock(10), powell_singular(8), wood(), beale(),
        helical_valley(), brown_badly_scaled(), powell_badly_scaled(), freudenstein_roth(),
        jennrich_sampson(), box_3d(), watson(6), trigonometric(10), variably_dimensioned(10),
        penalty_1(4), quadratic(20, 1e4), quadratic(20, 1e8), himmelblau(), matyas(),
        zakharov(5),
    ]


def assert_wolfe(fun, x, d, alpha, c1, c2, *, rtol=0.0):
    r"""Assert the strong Wolfe conditions for step ``alpha`` along ``d`` from ``x`` (definition).

    Re-evaluates ``fun`` at ``x`` and ``x + alpha d`` and checks
    :math:`f(x + \alpha d) \le f(x) + c_1 \alpha \nabla f(x)^\top d` and
    :math:`|\nabla f(x + \alpha d)^\top d| \le c_2 |\nabla f(x)^\top d|`
    (``rtol`` loosens both right-hand sides by ``rtol`` times their magnitude).
    """
    f0, g0 = fun(x)
    f1, g1 = fun(x + alpha * d)
    f0, f1 = float(f0), float(f1)
    dphi0, dphi1 = float(g0 @ d), float(g1 @ d)
    assert alpha > 0 and dphi0 < 0, f"not a descent step: alpha={alpha}, dphi0={dphi0}"
    bound = f0 + c1 * alpha * dphi0
    assert f1 <= bound + rtol * abs(bound), f"sufficient decrease fails: {f1} > {bound}"
    assert abs(dphi1) <= c2 * abs(dphi0) * (1 + rtol), \
        f"curvature fails: |{dphi1}| > {c2} * |{dphi0}|"
