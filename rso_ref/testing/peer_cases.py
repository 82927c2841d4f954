r"""The peer suite: minimisation cases that other libraries' tests and benchmarks run.

Each :class:`PeerCase` is a problem, a start, the options of the run and the outcome
expected, taken from a test or benchmark of SciPy, optax or PyTorch (its ``origin``
names the file and the test). :mod:`rso_ref.benchmarks.peer_suite` runs every case with
:func:`scipy.optimize.minimize` (``method="L-BFGS-B"``, no bounds) and with
:func:`rso_ref.lbfgs.minimize` side by side; the tests ``tests/test_more_wild.py``,
``tests/test_smooth_unbounded.py`` and ``tests/test_scipy_lbfgsb_cases.py`` assert the
outcomes. Only the facts of each case (function, start, options, expected outcome) come
from the peers; the code here is this library's own.

The suites:

``more_wild``
    SciPy's ``BenchDFO`` (``benchmarks/benchmarks/optimize.py``): the 53 problems of
    :mod:`rso_ref.testing.more_wild` from their standard starts, function values only,
    plus SciPy's variant of Heart8ls at both scales.
``smooth_unbounded``
    SciPy's ``BenchSmoothUnbounded``: the cases of
    :data:`rso_ref.testing.smooth_unbounded.CASES`, each from its 10 starts and in each
    of its gradient modes.
``scipy_lbfgsb``
    The unconstrained L-BFGS-B cases of ``scipy/optimize/tests/test_optimize.py``,
    ``test_lbfgsb_hessinv.py`` and ``test_lbfgsb_setulb.py``.
``optax``
    The problems of optax's ``optax/_src/lbfgs_test.py`` (``_get_problem``,
    ``_setup_parabola``) from the starts of its tests.
``torch``
    The L-BFGS cases of PyTorch's ``test/test_optim.py`` (``TestOptim.test_lbfgs``:
    ``_test_basic_cases`` and the Rosenbrock start of ``_test_rosenbrock_sparse``).

Host NumPy float64 throughout (the peers' torch tests run in float32; these cases are
about the algorithm, not the dtype).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import more_wild, smooth_unbounded

__all__ = ["PeerCase", "SUITES", "more_wild_cases", "smooth_unbounded_cases",
           "scipy_lbfgsb_cases", "optax_cases", "torch_cases", "all_cases", "MaxEnt",
           "ReusedGradient", "overwriting_quadratic", "stop_after", "himmelblau", "matyas",
           "eggholder", "zakharov", "linear_least_squares"]

#: The suites, in the order :func:`all_cases` lists them.
SUITES = ("more_wild", "smooth_unbounded", "scipy_lbfgsb", "optax", "torch")


@dataclass(frozen=True)
class PeerCase:
    r"""One minimisation run, as a peer library's test or benchmark makes it.

    Attributes
    ----------
    suite : str
        One of :data:`SUITES`.
    name : str
        Unique within the suite; usable as a pytest id.
    origin : str
        The peer's file and test (or benchmark) the case comes from.
    make : callable
        ``make() -> (fun, jac)``: a fresh objective (stateful ones, such as a reused
        gradient buffer, start anew) and its ``jac``: ``True`` (``fun`` returns
        ``(f, g)``), ``None`` (``fun`` returns ``f``: SciPy's L-BFGS-B forward
        differences with the absolute step ``eps``, ``jac=None`` of
        :func:`rso_ref.lbfgs.minimize`), ``"2-point"``/``"3-point"``, or a callable
        gradient.
    x0 : numpy.ndarray
        The start, of any shape (SciPy gets it flattened).
    options : dict
        Options named as SciPy's L-BFGS-B names them (``maxcor``, ``ftol``, ``gtol``,
        ``maxiter``, ``maxfun``, ``maxls``, ``eps``); :func:`rso_ref.lbfgs.minimize`
        takes the same names as keywords.
    tol : float or None
        ``tol`` of both calls.
    args : tuple or object
        ``args`` of both calls (a lone non-tuple object is passed as it is, to check
        that both wrap it).
    callback : callable or None
        ``callback() -> cb``: a fresh callback for each run.
    expect_status : int or None
        The status :func:`rso_ref.lbfgs.minimize` must return (SciPy's codes: 0
        converged, 1 a limit, 2 failure, 99 the callback stopped the run); ``None``
        when the peer's test does not pin it.
    compare_f : bool
        Whether the final value must be no worse than SciPy's (runs stopped by a limit
        or a callback after a fixed number of steps are not compared).
    f_star : float or None
        The known minimum value reached from this start, where there is one.
    """

    suite: str
    name: str
    origin: str
    make: Callable[[], tuple[Callable[..., Any], Any]] = field(repr=False)
    x0: np.ndarray = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    tol: float | None = None
    args: Any = ()
    callback: Callable[[], Callable[..., Any]] | None = field(default=None, repr=False)
    expect_status: int | None = 0
    compare_f: bool = True
    f_star: float | None = None

    @property
    def id(self) -> str:
        """``"<suite>/<name>"``, unique over :func:`all_cases`."""
        return f"{self.suite}/{self.name}"


def _fixed(fun: Callable[..., Any], jac: Any) -> Callable[[], tuple[Callable[..., Any], Any]]:
    """A ``make`` for a stateless objective."""
    return lambda: (fun, jac)


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


# --- SciPy BenchDFO ---------------------------------------------------------------------

_BENCH = "scipy benchmarks/benchmarks/optimize.py"


def more_wild_cases() -> list[PeerCase]:
    r"""Return SciPy's ``BenchDFO`` runs of L-BFGS-B: 53 problems and SciPy's Heart8ls twice.

    ``BenchDFO.run_cutest`` minimises :math:`f = \sum_i F_i(x)^2` from the standard
    start with no gradient and default options, so SciPy uses forward differences; the
    peer run is ``jac=None``. SciPy's ``calfun`` turns a NaN value into ``inf``; the
    problems here return NaN (both solvers backtrack from either).

    Returns
    -------
    list of PeerCase
        Names ``p<NN>-<function>`` (``p51-heart8ls-scipy`` and ``p52-heart8ls-scipy``
        for SciPy's variant), expected status 0.
    """
    cases = []
    for p in more_wild.problems() + [more_wild.problem(k, heart8ls="scipy") for k in (51, 52)]:
        suffix = "-scipy" if p.variant == "scipy" else ""
        cases.append(PeerCase(
            "more_wild", f"p{p.number:02d}-{_slug(p.name)}{suffix}",
            f"{_BENCH}::BenchDFO (problem {p.number}: {p.name}, n={p.n}, m={p.m}, s={p.s}"
            f"{', SciPy dfovec.py variant' if suffix else ''})",
            _fixed(p.value, None), p.x0))
    return cases


# --- SciPy BenchSmoothUnbounded ---------------------------------------------------------

def smooth_unbounded_cases(count: int = 10, seed: int = 0) -> list[PeerCase]:
    """Return SciPy's ``BenchSmoothUnbounded`` runs of L-BFGS-B.

    Parameters
    ----------
    count : int, default 10
        Starts per case (the benchmark runs 10).
    seed : int, default 0
        Seed of the starts (:func:`rso_ref.testing.smooth_unbounded.starts`; not SciPy's
        numbers, which come from the unseeded global generator).

    Returns
    -------
    list of PeerCase
        One per case, gradient mode and start, named ``<case>-<mode>-<k>``, with the
        case's ``tol`` and the function's known minimum as ``f_star``.
    """
    cases = []
    for bench in smooth_unbounded.CASES:
        problem = smooth_unbounded.problem(bench.problem)
        points = smooth_unbounded.starts(problem, count=count, seed=seed)
        for mode in bench.options["jac"]:
            jac = None if mode == "none" else problem.grad
            for k, x0 in enumerate(points):
                cases.append(PeerCase(
                    "smooth_unbounded", f"{bench.name}-{mode}-{k}",
                    f"{_BENCH}::BenchSmoothUnbounded.run_{bench.name}",
                    _fixed(problem.value, jac), x0, tol=bench.options["tol"],
                    f_star=problem.f_star))
    return cases


# --- SciPy's L-BFGS-B tests ---------------------------------------------------------------

_TEST_OPTIMIZE = "scipy/optimize/tests/test_optimize.py"
_ROSEN = smooth_unbounded.problem("rosenbrock")
rosen, rosen_der = _ROSEN.value_fn, _ROSEN.grad_fn


def _rosen_and_der(x: np.ndarray) -> tuple[float, np.ndarray]:
    return rosen(x), rosen_der(x)


class MaxEnt:
    r"""The entropy-maximisation problem of SciPy's ``CheckOptimize`` tests.

    :math:`f(x) = \log \sum_i e^{(Fx)_i} - K^\top x` with the 5x3 feature matrix ``F``
    and ``K = (1, 0.3, 0.5)`` of the machine-translation example of Berger et al.
    (Comput. Linguist. 22(1), 1996), from :math:`x_0 = 0`; the minimiser is
    :attr:`SOLUTION`. It counts its calls and keeps every point it was called at.

    Attributes
    ----------
    fcalls, gcalls : int
        Calls of :meth:`func` and :meth:`grad`.
    trace : list of numpy.ndarray
        Copies of the points :meth:`func` was called at.
    """

    F = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 1], [1, 0, 0], [1, 0, 0]], dtype=np.float64)
    K = np.array([1.0, 0.3, 0.5])
    SOLUTION = np.array([0.0, -0.524869316, 0.487525860])

    def __init__(self) -> None:
        self.fcalls, self.gcalls, self.trace = 0, 0, []

    @classmethod
    def value(cls, x: np.ndarray) -> float:
        """:math:`f(x)` without counting.

        Parameters
        ----------
        x : numpy.ndarray, shape (3,)
            The point.

        Returns
        -------
        float
            :math:`f(x)`.
        """
        z = cls.F @ x
        top = z.max()
        return float(top + np.log(np.exp(z - top).sum()) - cls.K @ x)

    def func(self, x: np.ndarray) -> float:
        """:math:`f(x)`, counted and traced.

        Parameters
        ----------
        x : numpy.ndarray, shape (3,)
            The point.

        Returns
        -------
        float
            :math:`f(x)`.
        """
        self.fcalls += 1
        self.trace.append(np.array(x, copy=True))
        return self.value(x)

    def grad(self, x: np.ndarray) -> np.ndarray:
        r""":math:`\nabla f(x) = F^\top p - K` with :math:`p = \mathrm{softmax}(Fx)`, counted.

        Parameters
        ----------
        x : numpy.ndarray, shape (3,)
            The point.

        Returns
        -------
        numpy.ndarray, shape (3,)
            The gradient.
        """
        self.gcalls += 1
        z = self.F @ x
        p = np.exp(z - z.max())
        return self.F.T @ (p / p.sum()) - self.K

    def func_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(func(x), grad(x))``, both counted.

        Parameters
        ----------
        x : numpy.ndarray, shape (3,)
            The point.

        Returns
        -------
        tuple of (float, numpy.ndarray)
            The value and the gradient.
        """
        return self.func(x), self.grad(x)


def _maxent(jac: str) -> Callable[[], tuple[Callable[..., Any], Any]]:
    def make():
        m = MaxEnt()
        if jac == "grad":
            return m.func, m.grad
        if jac == "funjac":
            return m.func_and_grad, True
        return m.func, None if jac == "none" else jac
    return make


class ReusedGradient:
    """Rosenbrock that returns one gradient buffer, overwritten at every call.

    As ``torch`` hands back ``param.grad``: a solver that keeps the returned array
    without copying it sees its stored gradient change under it.

    Parameters
    ----------
    n : int
        Dimension.
    """

    def __init__(self, n: int) -> None:
        self.buffer = np.zeros(n)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Rosenbrock's value, and its gradient written into :attr:`buffer`.

        Parameters
        ----------
        x : numpy.ndarray, shape (n,)
            The point.

        Returns
        -------
        tuple of (float, numpy.ndarray)
            The value and :attr:`buffer` (the same array at every call).
        """
        self.buffer[...] = rosen_der(x)
        return rosen(x), self.buffer


def overwriting_quadratic(x: np.ndarray) -> float:
    r""":math:`\sum_i (x_i - i)^2`, computed in place in ``x`` (SciPy's gh-13740 case).

    Parameters
    ----------
    x : numpy.ndarray
        The point; overwritten.

    Returns
    -------
    float
        The value, 0 at :math:`x_i = i`.
    """
    x -= np.arange(x.size)
    x *= x
    return float(np.sum(x))


def stop_after(calls: int, form: str) -> Callable[[], Callable[..., Any]]:
    """A callback factory whose callback raises :class:`StopIteration` at its ``calls``-th call.

    Parameters
    ----------
    calls : int
        The call that raises.
    form : {"x", "intermediate_result", "callable"}
        ``"x"``: ``cb(xk, *args)``; ``"intermediate_result"``: a function of the one
        keyword parameter ``intermediate_result``; ``"callable"``: an instance whose
        ``__call__`` takes ``intermediate_result`` (the three forms of SciPy's
        ``test_callback_stopiteration``).

    Returns
    -------
    callable
        ``factory() -> cb``, a fresh counter each time.
    """
    def factory():
        count = [0]

        def tick():
            count[0] += 1
            if count[0] == calls:
                raise StopIteration

        if form == "x":
            return lambda xk, *args: tick()
        if form == "intermediate_result":
            def cb(*, intermediate_result):
                tick()
            return cb

        class Callback:
            def __call__(self, intermediate_result):
                tick()
        return Callback()
    return factory


def _nan(x: np.ndarray) -> float:
    return float("nan")


def _one(x: np.ndarray) -> np.ndarray:
    return np.array([1.0])


def _nan_after_two() -> tuple[Callable[..., Any], Any]:
    """SciPy's ``func2`` of ``test_nan_values``: random values, then NaN from the 3rd call."""
    rng, count = np.random.default_rng(123122), [0]

    def func2(x):
        count[0] += 1
        return float("nan") if count[0] > 2 else float(rng.random())
    return func2, None


def _tol_func(z: np.ndarray) -> float:
    return float(z[0] ** 2 * z[1] ** 2 + z[0] ** 4 + 1.0)


def _tol_grad(z: np.ndarray) -> np.ndarray:
    return np.array([2 * z[0] * z[1] ** 2 + 4 * z[0] ** 3, 2 * z[0] ** 2 * z[1]])


def _scaled(scale: float) -> tuple[Callable[..., Any], Callable[..., Any]]:
    return (lambda x: scale * float((x[0] - 1.0) ** 2),
            lambda x: np.array([scale * (x[0] - 1.0)]))


def _quartic(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x ** 4, 4.0 * x ** 3   # a size-1 array value, as in SciPy's test


def _float32_grad(x: np.ndarray) -> tuple[Any, np.ndarray]:
    x = x.astype(np.float32)
    return np.sum(x ** 2), 2 * x


#: The quadratic of ``test_lbfgsb_hessinv.py::test_2``: :math:`x^\top H_0^{-1} x` with the
#: non-symmetric :math:`H_0 = [[3, 0], [1, 2]]`.
HESSINV_H0 = np.array([[3.0, 0.0], [1.0, 2.0]])


def _hessinv_quadratic(x: np.ndarray) -> float:
    return float(x @ np.linalg.solve(HESSINV_H0, x))


def _sum_of_squares(x: np.ndarray) -> float:
    return float(np.sum(x ** 2))


def _square(x: np.ndarray) -> np.ndarray:
    return x * x   # a size-1 array value


def _coerce_y(x: np.ndarray, c: np.ndarray) -> float:
    return float(np.sum((x - c) ** 2))


def _coerce_dy(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    return 2.0 * (x - c)


def _no_increase(x: np.ndarray) -> np.ndarray:
    return (x - 1.0) ** 2


def _bad_grad(x: np.ndarray) -> np.ndarray:
    return 2.0 * (x - 1.0) * (-1.0) - 2.0   # deliberately wrong: line searches fail


#: The coefficients of ``test_minimize_coerce_args_param``.
COERCE_C = np.array([3.0, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5])


def scipy_lbfgsb_cases() -> list[PeerCase]:
    """The unconstrained L-BFGS-B cases of SciPy's optimize tests, as peer runs.

    Cases that check more than the outcome (counts, traces, memory of callback
    arguments, ``hess_inv``) have the rest of their checks in
    ``tests/test_scipy_lbfgsb_cases.py``. Left out: bound-constrained tests
    (``TestLBFGSBBounds``, ``test_equal_bounds``, ``test_all_bounds_equal*``,
    ``test_minimize_does_not_mutate_bounds``, ``test_lbfgsb_setulb.py::
    test_setulb_floatround``), ``fmin_l_bfgs_b`` API tests (no such function here),
    ``TestWorkers`` (no ``workers`` option) and ``test_minimize_l_bfgs_b_maxfun_interruption``
    (its ``maxfun`` comes from a first SciPy run; it is in the test module).

    Returns
    -------
    list of PeerCase
        Named after the SciPy test they come from.
    """
    simple = f"{_TEST_OPTIMIZE}::TestOptimizeSimple"
    x0 = np.zeros(3)
    maxent_f = MaxEnt.value(MaxEnt.SOLUTION)
    cases = [
        PeerCase("scipy_lbfgsb", "maxent-grad", f"{simple}::test_minimize_l_bfgs_b (jac=grad)",
                 _maxent("grad"), x0, {"maxiter": 1000}, f_star=maxent_f),
        PeerCase("scipy_lbfgsb", "maxent-fd", f"{simple}::test_minimize_l_bfgs_b (no jac) and "
                 "::test_l_bfgs_b_numjac", _maxent("none"), x0, {"maxiter": 1000}, f_star=maxent_f),
        PeerCase("scipy_lbfgsb", "maxent-3-point", f"{simple}::test_minimize_l_bfgs_b "
                 "(jac='3-point')", _maxent("3-point"), x0, {"maxiter": 1000}, f_star=maxent_f),
        PeerCase("scipy_lbfgsb", "maxent-funjac", f"{simple}::test_l_bfgs_b_funjac",
                 _maxent("funjac"), x0, {"maxiter": 1000}, f_star=maxent_f),
    ]
    for ftol in (1e-1, 1e-4, 1e-7, 1e-10):
        cases.append(PeerCase("scipy_lbfgsb", f"maxent-ftol-{ftol:g}",
                              f"{simple}::test_minimize_l_bfgs_b_ftol", _maxent("grad"), x0,
                              {"maxiter": 1000, "ftol": ftol}))
    cases += [
        PeerCase("scipy_lbfgsb", "rosen-maxiter-5", f"{simple}::test_l_bfgs_b_maxiter (gh7854)",
                 _fixed(rosen, None), np.zeros(2), {"maxiter": 5}, expect_status=1,
                 compare_f=False),
        PeerCase("scipy_lbfgsb", "rosen-maxls-1", f"{simple}::test_minimize_l_bfgs_maxls",
                 _fixed(rosen, rosen_der), np.array([-1.2, 1.0]), {"maxls": 1},
                 expect_status=2, compare_f=False),
        PeerCase("scipy_lbfgsb", "tol-1e-10", f"{simple}::test_minimize_tol_parameter",
                 _fixed(_tol_func, _tol_grad), np.array([2.0, 2.0]), tol=1e-10, f_star=1.0),
        PeerCase("scipy_lbfgsb", "tol-1", f"{simple}::test_minimize_tol_parameter",
                 _fixed(_tol_func, _tol_grad), np.array([2.0, 2.0]), tol=1.0),
        PeerCase("scipy_lbfgsb", "rosen10-respect-maxiter-4", f"{simple}::test_respect_maxiter",
                 _fixed(rosen, rosen_der), np.zeros(10), {"maxiter": 4}, expect_status=1,
                 compare_f=False),
        PeerCase("scipy_lbfgsb", "callback-copies-array",
                 f"{simple}::test_minimize_callback_copies_array",
                 _fixed(_rosen_and_der, True), np.zeros(10), {"maxiter": 5},
                 callback=lambda: (lambda x: None), expect_status=1, compare_f=False),
        PeerCase("scipy_lbfgsb", "no-increase-bad-grad", f"{simple}::test_no_increase",
                 _fixed(_no_increase, _bad_grad), np.array([2.0]), {"maxiter": 20},
                 expect_status=None),
        PeerCase("scipy_lbfgsb", "x-overwritten", f"{_TEST_OPTIMIZE}::"
                 "test_x_overwritten_user_function (gh13740)", _fixed(overwriting_quadratic, None),
                 np.full(5, 1.5), f_star=0.0),
        PeerCase("scipy_lbfgsb", "reused-gradient-buffer", "rso_ref issue 22 (a fun returning "
                 "one gradient buffer it overwrites, like torch's .grad)",
                 lambda: (ReusedGradient(5), True), np.zeros(5), f_star=0.0),
        PeerCase("scipy_lbfgsb", "x0-scalar", f"{_TEST_OPTIMIZE}::test_minimize_with_scalar "
                 "(without its bounds)", _fixed(_sum_of_squares, None), np.array(17.0),
                 f_star=0.0),
        PeerCase("scipy_lbfgsb", "x0-len-1-array-f", f"{_TEST_OPTIMIZE}::"
                 "test_result_x_shape_when_len_x_is_one", _fixed(_square, None), np.array([0.1]),
                 f_star=0.0),
        PeerCase("scipy_lbfgsb", "args-lone-array", f"{simple}::test_minimize_coerce_args_param "
                 "(gh-3503; BFGS there)", _fixed(_coerce_y, _coerce_dy),
                 np.random.default_rng(1234).standard_normal(COERCE_C.size), args=COERCE_C,
                 f_star=0.0),
        PeerCase("scipy_lbfgsb", "float32-gradient", "scipy/optimize/tests/test_lbfgsb_setulb.py"
                 "::test_gh_issue18730", _fixed(_float32_grad, True), np.array([1.0, 1.0]),
                 f_star=0.0),
        PeerCase("scipy_lbfgsb", "hessinv-quartic", "scipy/optimize/tests/test_lbfgsb_hessinv.py"
                 "::test_1 (gtol=1e-8, maxcor=20)", _fixed(_quartic, True), np.array(20.0),
                 {"gtol": 1e-8, "maxcor": 20}, f_star=0.0),
        PeerCase("scipy_lbfgsb", "hessinv-quadratic", "scipy/optimize/tests/test_lbfgsb_hessinv.py"
                 "::test_2", _fixed(_hessinv_quadratic, None), np.array([10.0, 20.0]),
                 f_star=0.0),
        PeerCase("scipy_lbfgsb", "rosen-maxcor-3", "option maxcor (varied by "
                 "test_lbfgsb_hessinv.py::test_1)", _fixed(_rosen_and_der, True), np.zeros(6),
                 {"maxcor": 3}, f_star=0.0),
    ]
    for scale in (1.0, 1e50):
        cases.append(PeerCase("scipy_lbfgsb", f"initial-step-scale-{scale:g}",
                              f"{simple}::test_initial_step_scaling",
                              lambda scale=scale: _scaled(scale), np.array([-1.0]), f_star=0.0))
    for form in ("x", "intermediate_result", "callable"):
        cases.append(PeerCase("scipy_lbfgsb", f"callback-stopiteration-{form}",
                              f"{simple}::test_callback_stopiteration",
                              _fixed(rosen, rosen_der), np.full(5, 1.1),
                              callback=stop_after(5, form), expect_status=99, compare_f=False))
    for jac, label in ((_one, "grad"), (None, "fd")):
        cases.append(PeerCase("scipy_lbfgsb", f"nan-at-x0-{label}", f"{simple}::test_nan_values "
                              "(func)", _fixed(_nan, jac), np.array([1.0]), {"maxiter": 20},
                              expect_status=2, compare_f=False))
        cases.append(PeerCase("scipy_lbfgsb", f"nan-after-two-calls-{label}",
                              f"{simple}::test_nan_values (func2)",
                              (lambda jac=jac: (_nan_after_two()[0], jac)), np.array([1.0]),
                              {"maxiter": 20}, expect_status=2, compare_f=False))
    return cases


# --- optax ---------------------------------------------------------------------------------

_OPTAX = "optax/_src/lbfgs_test.py"


def himmelblau(p: np.ndarray) -> tuple[float, np.ndarray]:
    r"""Evaluate Himmelblau's function and its gradient.

    .. math::

        f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2

    Parameters
    ----------
    p : numpy.ndarray, shape (2,)
        The point :math:`(x, y)`.

    Returns
    -------
    tuple of (float, numpy.ndarray)
        The value and the gradient.
    """
    x, y = p
    a, b = x * x + y - 11.0, x + y * y - 7.0
    return float(a * a + b * b), np.array([4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b])


def matyas(p: np.ndarray) -> tuple[float, np.ndarray]:
    r"""Matyas' function :math:`0.26 (x^2 + y^2) - 0.48 x y` and its gradient.

    Parameters
    ----------
    p : numpy.ndarray, shape (2,)
        The point :math:`(x, y)`.

    Returns
    -------
    tuple of (float, numpy.ndarray)
        The value and the gradient.
    """
    x, y = p
    return (float(0.26 * (x * x + y * y) - 0.48 * x * y),
            np.array([0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x]))


def eggholder(p: np.ndarray) -> tuple[float, np.ndarray]:
    r"""The egg-holder function and its gradient (where :math:`|\cdot|` is smooth).

    .. math::

        f(x, y) = -(y + 47) \sin\sqrt{|x/2 + y + 47|} - x \sin\sqrt{|x - y - 47|}

    Parameters
    ----------
    p : numpy.ndarray, shape (2,)
        The point :math:`(x, y)`.

    Returns
    -------
    tuple of (float, numpy.ndarray)
        The value and the gradient.
    """
    x, y = p
    a, b = x / 2.0 + y + 47.0, x - y - 47.0
    ra, rb = np.sqrt(abs(a)), np.sqrt(abs(b))
    da, db = np.sign(a) / (2.0 * ra), np.sign(b) / (2.0 * rb)   # d sqrt|a| / da
    value = -(y + 47.0) * np.sin(ra) - x * np.sin(rb)
    gx = -(y + 47.0) * np.cos(ra) * da / 2.0 - np.sin(rb) - x * np.cos(rb) * db
    gy = -np.sin(ra) - (y + 47.0) * np.cos(ra) * da + x * np.cos(rb) * db
    return float(value), np.array([gx, gy])


def zakharov(x: np.ndarray) -> tuple[float, np.ndarray]:
    r"""Evaluate Zakharov's function and its gradient.

    .. math::

        f(x) = \|x\|^2 + s^2 + s^4, \qquad s = \tfrac12 \sum_i i x_i

    Parameters
    ----------
    x : numpy.ndarray, shape (n,)
        The point.

    Returns
    -------
    tuple of (float, numpy.ndarray)
        The value and the gradient.
    """
    i = np.arange(1, x.size + 1, dtype=np.float64)
    s = 0.5 * (i @ x)
    return float(x @ x + s ** 2 + s ** 4), 2.0 * x + (2.0 * s + 4.0 * s ** 3) * 0.5 * i


def _steep(x: np.ndarray) -> tuple[float, np.ndarray]:
    # mean((1e4 I x)^2) over the n = 2 entries
    return float(np.mean((1e4 * x) ** 2)), 1e8 * x


_PARABOLA_TARGET = np.array([1.0, -1.0, 1.0])


def _parabola(x: np.ndarray) -> tuple[float, np.ndarray]:
    d = x - _PARABOLA_TARGET
    return float(d @ d), 2.0 * d


def optax_cases() -> list[PeerCase]:
    """The problems of optax's L-BFGS tests, from their tests' starts.

    ``test_against_scipy`` expects the minimum (eggholder: the local minimum SciPy's
    BFGS reaches from the same start, about -66.84); ``test_minimize_bad_initialization``
    Himmelblau's minimum 0 from ``(92, 0.001)``; ``test_steep_objective`` 0.

    Returns
    -------
    list of PeerCase
        With analytic gradients (optax differentiates with JAX).
    """
    against = f"{_OPTAX}::LBFGSTest::test_against_scipy"
    return [
        PeerCase("optax", "rosenbrock", f"{against} (rosenbrock)", _fixed(_rosen_and_der, True),
                 np.zeros(2), f_star=0.0),
        PeerCase("optax", "himmelblau", f"{against} (himmelblau)", _fixed(himmelblau, True),
                 np.ones(2), f_star=0.0),
        PeerCase("optax", "matyas", f"{against} (matyas)", _fixed(matyas, True),
                 np.full(2, 6.0), f_star=0.0),
        PeerCase("optax", "eggholder", f"{against} (eggholder)", _fixed(eggholder, True),
                 np.full(2, 6.0)),
        PeerCase("optax", "zakharov", f"{against} (zakharov)", _fixed(zakharov, True),
                 np.array([600.0, 700.0, 200.0, 100.0, 90.0, 1e3]), f_star=0.0),
        PeerCase("optax", "himmelblau-bad-init",
                 f"{_OPTAX}::LBFGSTest::test_minimize_bad_initialization",
                 _fixed(himmelblau, True), np.array([92.0, 0.001]), f_star=0.0),
        PeerCase("optax", "steep", f"{_OPTAX}::LBFGSTest::test_steep_objective",
                 _fixed(_steep, True), np.ones(2), f_star=0.0),
        PeerCase("optax", "parabola", f"{_OPTAX}::_setup_parabola (float64)",
                 _fixed(_parabola, True), np.array([-1.0, 10.0, 1.0]), f_star=0.0),
    ]


# --- PyTorch -------------------------------------------------------------------------------

_TORCH = "pytorch test/test_optim.py::TestOptim"


def linear_least_squares(seed: int = 0) -> tuple[Callable[..., Any], np.ndarray]:
    r"""The objective of torch's ``_test_basic_cases``: :math:`\|W v + b\|^2`.

    ``W`` (10x5) and ``b`` (10) are the parameters and ``v`` (5) a fixed input, all
    standard normal. They travel as one ``(10, 6)`` array ``P = [W | b]``, so the case
    also checks that a 2-D start keeps its shape.

    Parameters
    ----------
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng` for ``W``, ``b`` and ``v``.

    Returns
    -------
    fun : callable
        ``fun(P) -> (f, g)`` with ``g`` of shape ``(10, 6)``.
    P0 : numpy.ndarray, shape (10, 6)
        The start.
    """
    rng = np.random.default_rng(seed)
    weight, bias, v = rng.standard_normal((10, 5)), rng.standard_normal(10), \
        rng.standard_normal(5)
    v1 = np.append(v, 1.0)   # [W | b] @ [v; 1] = W v + b

    def fun(p):
        r = p @ v1
        return float(r @ r), 2.0 * np.outer(r, v1)
    return fun, np.column_stack([weight, bias])


def torch_cases() -> list[PeerCase]:
    """The problems of torch's L-BFGS tests.

    ``test_lbfgs`` runs ``_test_basic_cases`` with ``LBFGS([weight, bias])`` and with
    ``line_search_fn="strong_wolfe"`` and asks for a lower loss after 200 steps (the
    minimum is 0: ``b`` can cancel ``W v``); the Rosenbrock cases start at
    ``(1.5, 1.5)``, as ``_test_rosenbrock_sparse`` and ``test/optim/test.py`` do.

    Returns
    -------
    list of PeerCase
        With analytic gradients (torch's closures call ``backward``).
    """
    fun, p0 = linear_least_squares()
    return [
        PeerCase("torch", "basic-cases", f"{_TORCH}::test_lbfgs (_test_basic_cases, "
                 "strong_wolfe)", _fixed(fun, True), p0, f_star=0.0),
        PeerCase("torch", "rosenbrock-1.5", f"{_TORCH}::_test_rosenbrock_sparse start; "
                 "test/optim/test.py", _fixed(_rosen_and_der, True), np.array([1.5, 1.5]),
                 f_star=0.0),
    ]


def all_cases(smooth_count: int = 10) -> list[PeerCase]:
    """Every case of the peer suite, suite by suite in the order of :data:`SUITES`.

    Parameters
    ----------
    smooth_count : int, default 10
        Starts per ``BenchSmoothUnbounded`` case.

    Returns
    -------
    list of PeerCase
        New case objects.
    """
    return (more_wild_cases() + smooth_unbounded_cases(smooth_count) + scipy_lbfgsb_cases()
            + optax_cases() + torch_cases())
