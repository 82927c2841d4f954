r"""The smooth unconstrained problems of SciPy's ``BenchSmoothUnbounded`` benchmark.

SciPy's asv benchmark ``optimize.BenchSmoothUnbounded`` minimises seven small smooth
functions from ten random starts each, drawn uniformly from a box. This module gives each
function with its analytic gradient, its start box and a known minimum, as host NumPy
float64 (:class:`SmoothProblem`), and the benchmark's cases (:data:`CASES`): which
function, which ``tol``, and whether SciPy runs the minimiser with finite differences
only or also with the analytic gradient.

The functions, with :math:`x \in \mathbb{R}^d`:

.. math::

    \begin{aligned}
    \text{rosenbrock}:&\quad \sum_{i=1}^{d-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2,
        && d = 3,\ [-3, 3]^3 \\
    \text{simple\_quadratic}:&\quad x^\top x, && d = 3,\ [-2, 2]^3 \\
    \text{asymmetric\_quadratic}:&\quad x^\top x + x_1, && d = 3,\ [-2, 2]^3 \\
    \text{sin\_1d}:&\quad \sin x_1, && d = 1,\ [-2, 2] \\
    \text{booth}:&\quad (x_1 + 2 x_2 - 7)^2 + (2 x_1 + x_2 - 5)^2, && d = 2,\ [0, 10]^2 \\
    \text{beale}:&\quad \sum_{k=1}^{3} (c_k - x_1 + x_1 x_2^k)^2,\ c = (1.5, 2.25, 2.625),
        && d = 2,\ [0, 10]^2 \\
    \text{lennard\_jones}:&\quad \sum_{a < b} 4 (r_{ab}^{-12} - r_{ab}^{-6}),
        && d = 12,\ [-2, 2]^{12}
    \end{aligned}

where :math:`r_{ab}` is the distance between atoms :math:`a` and :math:`b` of the four
whose coordinates are :math:`x` (``x.reshape(4, 3)``), in units
:math:`\varepsilon = \sigma = 1`.

Rosenbrock is the function of :func:`scipy.optimize.rosen` (this module imports NumPy
only; the tests check it against SciPy's).

References
----------
.. [1] SciPy developers, ``benchmarks/benchmarks/optimize.py`` (``BenchSmoothUnbounded``)
       and ``benchmarks/benchmarks/test_functions.py``, https://github.com/scipy/scipy.
.. [2] H. H. Rosenbrock, "An automatic method for finding the greatest or least value of
       a function", Comput. J. 3(3), 175-184, 1960, doi:10.1093/comjnl/3.3.175.
.. [3] M. Jamil and X.-S. Yang, "A literature survey of benchmark functions for global
       optimization problems", Int. J. Math. Model. Numer. Optim. 4(2), 150-194, 2013,
       doi:10.1504/IJMMNO.2013.055204 (Booth, Beale).
.. [4] J. E. Jones, "On the determination of molecular fields. II. From the equation of
       state of a gas", Proc. R. Soc. Lond. A 106(738), 463-477, 1924,
       doi:10.1098/rspa.1924.0082.

Examples
--------
>>> from rso_ref.testing.smooth_unbounded import problem
>>> booth = problem("booth")
>>> booth.value([1.0, 3.0]), booth.grad([1.0, 3.0]).tolist()
(0.0, [0.0, 0.0])
>>> [x.shape for x in booth.starts(seed=0, count=2)]
[(2,), (2,)]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import numpy as np

__all__ = ["BenchCase", "CASES", "SmoothProblem", "problem", "problems", "starts"]


@dataclass(frozen=True)
class SmoothProblem:
    r"""A smooth test function with its gradient, start box and known minimum.

    Attributes
    ----------
    name : str
        The function ("rosenbrock", "booth", ...).
    dim : int
        Number of variables :math:`d`.
    low, high : float
        The start box :math:`[\mathrm{low}, \mathrm{high}]^d` that the benchmark draws
        its starts from, uniformly.
    value_fn : callable
        ``value_fn(x) -> float`` on a float64 array of shape ``(dim,)``.
    grad_fn : callable
        ``grad_fn(x) -> numpy.ndarray`` of shape ``(dim,)``, the analytic gradient.
    x_star : numpy.ndarray, shape (dim,)
        A minimiser (the global one where the function has one).
    f_star : float
        The minimum value :math:`f(x^\star)`.
    """

    name: str
    dim: int
    low: float
    high: float
    value_fn: Callable[[np.ndarray], float] = field(repr=False, compare=False)
    grad_fn: Callable[[np.ndarray], np.ndarray] = field(repr=False, compare=False)
    x_star: np.ndarray = field(repr=False, compare=False)
    f_star: float = field(repr=False, compare=False)

    def _point(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.dim,):
            raise ValueError(f"x has shape {x.shape}; {self.name} takes shape ({self.dim},)")
        return x

    def value(self, x: Any) -> float:
        """The function value.

        Parameters
        ----------
        x : array_like, shape (dim,)
            The point.

        Returns
        -------
        float
            :math:`f(x)`.

        Raises
        ------
        ValueError
            If ``x`` is not of shape ``(dim,)``.
        """
        return float(self.value_fn(self._point(x)))

    def grad(self, x: Any) -> np.ndarray:
        r"""The analytic gradient.

        Parameters
        ----------
        x : array_like, shape (dim,)
            The point.

        Returns
        -------
        numpy.ndarray, shape (dim,)
            :math:`\nabla f(x)` in float64.

        Raises
        ------
        ValueError
            If ``x`` is not of shape ``(dim,)``.
        """
        return np.asarray(self.grad_fn(self._point(x)), dtype=np.float64)

    def value_and_grad(self, x: Any) -> tuple[float, np.ndarray]:
        r"""The value and the gradient together, the ``fun(x) -> (f, g)`` oracle.

        Parameters
        ----------
        x : array_like, shape (dim,)
            The point.

        Returns
        -------
        value : float
            :math:`f(x)`.
        grad : numpy.ndarray, shape (dim,)
            :math:`\nabla f(x)`.
        """
        return self.value(x), self.grad(x)

    def starts(self, seed: int, count: int = 10) -> list[np.ndarray]:
        r"""Start points drawn as the benchmark does, uniformly from the start box.

        Parameters
        ----------
        seed : int
            Seed of :func:`numpy.random.default_rng`.
        count : int, optional
            Number of starts; the benchmark runs 10.

        Returns
        -------
        list of numpy.ndarray
            ``count`` new float64 arrays of shape ``(dim,)`` in
            :math:`[\mathrm{low}, \mathrm{high})^d`, the same for the same ``seed``.

        Notes
        -----
        SciPy's benchmark draws each start with ``np.random.uniform(low, high, dim)``
        from NumPy's unseeded global generator, one start after the other, so its exact
        points cannot be reproduced. These have the same distribution and the same
        order of draws (start ``k`` is the ``k``-th draw of ``dim`` numbers), from a
        seeded :func:`numpy.random.default_rng`: reproducible, but not SciPy's numbers.
        """
        rng = np.random.default_rng(seed)
        return [rng.uniform(self.low, self.high, self.dim) for _ in range(count)]


# --- the functions ----------------------------------------------------------------------

def _rosenbrock(x: np.ndarray) -> float:
    """Rosenbrock, chained form (scipy.optimize.rosen)."""
    head, tail = x[:-1], x[1:]
    return float(np.sum(100.0 * (tail - head ** 2) ** 2 + (1.0 - head) ** 2))


def _rosenbrock_grad(x: np.ndarray) -> np.ndarray:
    head, tail = x[:-1], x[1:]
    bend = tail - head ** 2
    g = np.zeros_like(x)
    g[:-1] = -400.0 * head * bend - 2.0 * (1.0 - head)
    g[1:] += 200.0 * bend
    return g


def _simple_quadratic(x: np.ndarray) -> float:
    """Simple quadratic x.x."""
    return float(x @ x)


def _simple_quadratic_grad(x: np.ndarray) -> np.ndarray:
    return 2.0 * x


def _asymmetric_quadratic(x: np.ndarray) -> float:
    """Asymmetric quadratic x.x + x_1."""
    return float(x @ x + x[0])


def _asymmetric_quadratic_grad(x: np.ndarray) -> np.ndarray:
    g = 2.0 * x
    g[0] += 1.0
    return g


def _sin_1d(x: np.ndarray) -> float:
    """One-dimensional sine."""
    return float(np.sin(x[0]))


def _sin_1d_grad(x: np.ndarray) -> np.ndarray:
    return np.cos(x)


def _booth_parts(x: np.ndarray) -> tuple[float, float]:
    return x[0] + 2.0 * x[1] - 7.0, 2.0 * x[0] + x[1] - 5.0


def _booth(x: np.ndarray) -> float:
    """Booth."""
    a, b = _booth_parts(x)
    return float(a * a + b * b)


def _booth_grad(x: np.ndarray) -> np.ndarray:
    a, b = _booth_parts(x)
    return np.array([2.0 * a + 4.0 * b, 4.0 * a + 2.0 * b])


#: Beale's constants c_k, k = 1, 2, 3.
_BEALE_C = np.array([1.5, 2.25, 2.625])
_BEALE_K = np.array([1.0, 2.0, 3.0])


def _beale_residuals(x: np.ndarray) -> np.ndarray:
    # r_k = c_k - x1 + x1 x2^k = c_k - x1 (1 - x2^k)
    return _BEALE_C - x[0] * (1.0 - x[1] ** _BEALE_K)


def _beale(x: np.ndarray) -> float:
    """Beale."""
    r = _beale_residuals(x)
    return float(r @ r)


def _beale_grad(x: np.ndarray) -> np.ndarray:
    r = _beale_residuals(x)
    # dr_k/dx1 = x2^k - 1, dr_k/dx2 = k x1 x2^(k-1)
    jac = np.stack([x[1] ** _BEALE_K - 1.0, _BEALE_K * x[0] * x[1] ** (_BEALE_K - 1.0)])
    return 2.0 * (jac @ r)


def _lj_pairs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair differences [a, b, :], inverse squared distances [a, b] (0 for a = b) and the
    a < b mask."""
    atoms = x.reshape(-1, 3)  # [atom, xyz]
    diff = atoms[:, None, :] - atoms[None, :, :]
    upper = np.triu(np.ones((len(atoms), len(atoms)), dtype=bool), k=1)
    pairs = upper | upper.T
    r2 = np.where(pairs, np.sum(diff ** 2, axis=-1), 1.0)
    return diff, np.where(pairs, 1.0 / r2, 0.0), upper


def _lennard_jones(x: np.ndarray) -> float:
    """Lennard-Jones energy, epsilon = sigma = 1."""
    _, inv_r2, upper = _lj_pairs(x)
    inv6 = inv_r2[upper] ** 3
    return float(np.sum(4.0 * (inv6 * inv6 - inv6)))


def _lennard_jones_grad(x: np.ndarray) -> np.ndarray:
    diff, inv_r2, _ = _lj_pairs(x)
    inv6 = inv_r2 ** 3
    # V(r) = 4 (r^-12 - r^-6), V'(r)/r = -24 (2 r^-14 - r^-8) = -24 r^-6 (2 r^-6 - 1) / r^2;
    # the gradient on atom a is sum_b V'(r_ab)/r_ab (x_a - x_b)
    scale = -24.0 * inv6 * (2.0 * inv6 - 1.0) * inv_r2  # [a, b], 0 for a = b
    return np.sum(scale[:, :, None] * diff, axis=1).reshape(-1)


def _tetrahedron() -> np.ndarray:
    """A regular tetrahedron of edge 2^(1/6), the 4-atom Lennard-Jones minimiser."""
    corners = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0],
                        [-1.0, -1.0, 1.0]])  # edge 2 sqrt(2)
    return (corners * 2.0 ** (1 / 6) / (2.0 * np.sqrt(2.0))).reshape(-1)


def problems() -> list[SmoothProblem]:
    r"""The seven functions of ``BenchSmoothUnbounded``.

    Returns
    -------
    list of SmoothProblem
        New objects on each call: rosenbrock (:math:`f^\star = 0` at :math:`(1, 1, 1)`),
        simple_quadratic (0 at 0), asymmetric_quadratic (:math:`-1/4` at
        :math:`(-1/2, 0, 0)`), sin_1d (:math:`-1` at :math:`-\pi/2`, and at
        :math:`3\pi/2`, where starts above :math:`\pi/2` go), booth (0 at :math:`(1, 3)`),
        beale (0 at :math:`(3, 1/2)`) and lennard_jones (:math:`-6` at a regular
        tetrahedron of edge :math:`2^{1/6}`).
    """
    return [
        SmoothProblem("rosenbrock", 3, -3.0, 3.0, _rosenbrock, _rosenbrock_grad,
                      np.ones(3), 0.0),
        SmoothProblem("simple_quadratic", 3, -2.0, 2.0, _simple_quadratic,
                      _simple_quadratic_grad, np.zeros(3), 0.0),
        SmoothProblem("asymmetric_quadratic", 3, -2.0, 2.0, _asymmetric_quadratic,
                      _asymmetric_quadratic_grad, np.array([-0.5, 0.0, 0.0]), -0.25),
        SmoothProblem("sin_1d", 1, -2.0, 2.0, _sin_1d, _sin_1d_grad,
                      np.array([-np.pi / 2.0]), -1.0),
        SmoothProblem("booth", 2, 0.0, 10.0, _booth, _booth_grad, np.array([1.0, 3.0]), 0.0),
        SmoothProblem("beale", 2, 0.0, 10.0, _beale, _beale_grad, np.array([3.0, 0.5]), 0.0),
        SmoothProblem("lennard_jones", 12, -2.0, 2.0, _lennard_jones, _lennard_jones_grad,
                      _tetrahedron(), -6.0),
    ]


def problem(name: str) -> SmoothProblem:
    """The function called ``name``.

    Parameters
    ----------
    name : str
        One of the names of :func:`problems`.

    Returns
    -------
    SmoothProblem
        A new problem object.

    Raises
    ------
    ValueError
        If there is no function of that name.
    """
    return _named(name)


def _named(name: str) -> SmoothProblem:
    found = {p.name: p for p in problems()}
    if name not in found:
        raise ValueError(f"no smooth problem named {name!r}; the names are {sorted(found)}")
    return found[name]


def starts(problem: SmoothProblem | str, count: int = 10, seed: int = 0) -> list[np.ndarray]:
    r"""The benchmark's starting points for ``problem``: :meth:`SmoothProblem.starts`.

    Parameters
    ----------
    problem : SmoothProblem or str
        The function, or its name.
    count : int, default 10
        Number of starts (``BenchSmoothUnbounded`` runs 10).
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    list of numpy.ndarray
        ``count`` points drawn uniformly from the problem's start box; reproducible for a
        given ``seed``, with SciPy's distribution but not SciPy's numbers (SciPy draws
        from the unseeded global generator).

    Examples
    --------
    >>> first = starts("beale", count=3, seed=1)
    >>> [x.shape for x in first], all(0.0 <= v < 10.0 for x in first for v in x)
    ([(2,), (2,), (2,)], True)
    >>> all((a == b).all() for a, b in zip(first, starts("beale", count=3, seed=1)))
    True
    """
    if isinstance(problem, str):
        problem = _named(problem)
    return problem.starts(seed, count)


class BenchCase(NamedTuple):
    """One case of ``BenchSmoothUnbounded``: a function and how SciPy minimises it.

    Attributes
    ----------
    name : str
        SciPy's case name ("rosenbrock_tight", "LJ", ...).
    problem : str
        The :class:`SmoothProblem` name.
    options : dict
        ``"tol"``: the ``tol`` SciPy passes to ``minimize`` (1e-4 unless the case sets
        another); ``"jac"``: the gradient modes SciPy runs from each start, in its order:
        ``"none"`` (no ``jac`` given: L-BFGS-B's forward differences with the absolute
        step ``eps = 1e-8``, which is ``jac=None`` of :func:`rso_ref.lbfgs.minimize`)
        and, for the cases with a gradient, ``"analytic"`` (``jac`` = the analytic
        gradient). SciPy reports the mean over the runs of both modes under the one
        method name.
    """

    name: str
    problem: str
    options: dict[str, Any]


_BOTH = ("none", "analytic")

#: The cases of SciPy's ``BenchSmoothUnbounded`` (``benchmarks/benchmarks/optimize.py``,
#: ``run_<name>`` methods), in its order. Each runs from 10 starts. "rosenbrock_slow" is
#: "rosenbrock_nograd" with a sleep in every evaluation (to time the solver's own
#: overhead); the sleep is not reproduced, so here the two cases are the same runs.
CASES: tuple[BenchCase, ...] = (
    BenchCase("rosenbrock_slow", "rosenbrock", {"tol": 1e-4, "jac": ("none",)}),
    BenchCase("rosenbrock_nograd", "rosenbrock", {"tol": 1e-4, "jac": ("none",)}),
    BenchCase("rosenbrock", "rosenbrock", {"tol": 1e-4, "jac": _BOTH}),
    BenchCase("rosenbrock_tight", "rosenbrock", {"tol": 1e-8, "jac": _BOTH}),
    BenchCase("simple_quadratic", "simple_quadratic", {"tol": 1e-4, "jac": _BOTH}),
    BenchCase("asymmetric_quadratic", "asymmetric_quadratic", {"tol": 1e-4, "jac": _BOTH}),
    BenchCase("sin_1d", "sin_1d", {"tol": 1e-4, "jac": _BOTH}),
    BenchCase("booth", "booth", {"tol": 1e-4, "jac": _BOTH}),
    BenchCase("beale", "beale", {"tol": 1e-4, "jac": _BOTH}),
    BenchCase("LJ", "lennard_jones", {"tol": 1e-4, "jac": _BOTH}),
)
