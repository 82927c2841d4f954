r"""The 53 smooth benchmark problems of Moré and Wild [1]_ (SciPy's ``BenchDFO``).

Each problem is a nonlinear least-squares vector function
:math:`F : \mathbb{R}^n \to \mathbb{R}^m` from Moré, Garbow and Hillstrom [2]_ (problems
1-18) or CUTEr [3]_ (19-22), minimised as the sum of squares

.. math::

    f(x) = \sum_{i=1}^{m} F_i(x)^2

from :math:`x_0 = 10^{s} x_s`, with :math:`x_s` the standard start of the function. The
set is the table :data:`TABLE` of 53 rows :math:`(n_{prob}, n, m, s)`: 22 functions, some
in several sizes and at two start scales. It is the ``smooth`` variant of the set; the
noisy and nonsmooth variants of [1]_ are not provided.

Everything here is host NumPy in float64: a catalogue for tests and benchmarks of
unconstrained minimisers, not part of the device path.

.. warning::

    Two conventions of the distributed benchmark codes differ from MGH [2]_ or from
    SciPy's port of them, and this module follows the codes of [1]_ (BenDFO):

    - the starts of Watson (:math:`x_s = (1/2, \dots, 1/2)`, MGH: 0) and Osborne 1
      (:math:`x_{s,3} = 1`, MGH: -1) are those of Moré and Wild (and of SciPy's port),
      not of MGH;
    - the last term of Heart8ls' eighth residual is :math:`-x_2 x_8 (x_8^2 - 3 x_6^2)`
      (1-based), the mirror image of the last term of the seventh residual, as in
      BenDFO's ``fortran/dfovec.f`` and ``py/dfovec.py``. SciPy's port
      (``benchmarks/benchmarks/cutest/dfovec.py``, read at SciPy commit 3dbf660) has
      ``x[6]`` where those codes have ``x[5]`` in that term (0-based:
      ``- x[1]*x[7]*(x[7]**2 - 3.0*x[6]**2)``), so SciPy's ``BenchDFO`` problems 51 and
      52 minimise another function. ``problem(51, heart8ls="scipy")`` gives SciPy's
      variant, for comparisons with SciPy's benchmark.

    SciPy's port also takes :math:`\theta = 0` for the helical valley at
    :math:`x_1 = x_2 = 0`, where BenDFO's Fortran takes :math:`\theta = 1/4`; no start
    of the set lies there.

References
----------
.. [1] J. J. Moré and S. M. Wild, "Benchmarking derivative-free optimization algorithms",
       SIAM J. Optim. 20(1), 172-191, 2009, doi:10.1137/080724083. Codes and data:
       https://github.com/POptUS/BenDFO.
.. [2] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained optimization
       software", ACM Trans. Math. Softw. 7(1), 17-41, 1981, doi:10.1145/355934.355936.
.. [3] N. I. M. Gould, D. Orban and Ph. L. Toint, "CUTEr and SifDec: a constrained and
       unconstrained testing environment, revisited", ACM Trans. Math. Softw. 29(4),
       373-394, 2003, doi:10.1145/962437.962439.

Examples
--------
>>> from rso_ref.testing.more_wild import problem
>>> p = problem(6)
>>> p.name, p.n, p.m, p.x0.tolist()
('Rosenbrock', 2, 2, [-1.2, 1.0])
>>> round(p.value(p.x0), 10)
24.2
>>> h = problem(51, heart8ls="scipy")
>>> h.name, h.variant, h.value(h.x0) == problem(51).value(h.x0)
('Heart8ls', 'scipy', False)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

__all__ = ["DFOProblem", "HEART8LS_VARIANTS", "TABLE", "problem", "problems"]

#: The benchmark set, one row ``(nprob, n, m, s)`` per problem, in the order of [1]_:
#: function number, number of variables, number of residuals, and the start scale
#: ``x0 = 10**s * xs``. Data from Moré & Wild (2009), as distributed with their codes
#: (BenDFO ``data/dfo.dat``) and in SciPy's ``benchmarks/benchmarks/cutest/dfo.txt``.
TABLE: tuple[tuple[int, int, int, int], ...] = (
    (1, 9, 45, 0), (1, 9, 45, 1),
    (2, 7, 35, 0), (2, 7, 35, 1),
    (3, 7, 35, 0), (3, 7, 35, 1),
    (4, 2, 2, 0), (4, 2, 2, 1),
    (5, 3, 3, 0), (5, 3, 3, 1),
    (6, 4, 4, 0), (6, 4, 4, 1),
    (7, 2, 2, 0), (7, 2, 2, 1),
    (8, 3, 15, 0), (8, 3, 15, 1),
    (9, 4, 11, 0),
    (10, 3, 16, 0),
    (11, 6, 31, 0), (11, 6, 31, 1),
    (11, 9, 31, 0), (11, 9, 31, 1),
    (11, 12, 31, 0), (11, 12, 31, 1),
    (12, 3, 10, 0),
    (13, 2, 10, 0),
    (14, 4, 20, 0), (14, 4, 20, 1),
    (15, 6, 6, 0), (15, 7, 7, 0), (15, 8, 8, 0), (15, 9, 9, 0), (15, 10, 10, 0),
    (15, 11, 11, 0),
    (16, 10, 10, 0),
    (17, 5, 33, 0),
    (18, 11, 65, 0), (18, 11, 65, 1),
    (19, 8, 8, 0), (19, 10, 12, 0), (19, 11, 14, 0), (19, 12, 16, 0),
    (20, 5, 5, 0), (20, 6, 6, 0), (20, 8, 8, 0),
    (21, 5, 5, 0), (21, 5, 5, 1), (21, 8, 8, 0), (21, 10, 10, 0), (21, 12, 12, 0),
    (21, 12, 12, 1),
    (22, 8, 8, 0), (22, 8, 8, 1),
)


# --- measured data of the data-fitting problems (MGH 1981) ----------------------------

_BARD_Y = np.array([0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96,
                    1.34, 2.10, 4.39])
_KOWALIK_OSBORNE_U = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714,
                               0.0625])
_KOWALIK_OSBORNE_Y = np.array([0.1957, 0.1947, 0.1735, 0.16, 0.0844, 0.0627, 0.0456, 0.0342,
                               0.0323, 0.0235, 0.0246])
_MEYER_Y = np.array([34780.0, 28610.0, 23650.0, 19630.0, 16370.0, 13720.0, 11540.0, 9744.0,
                     8261.0, 7030.0, 6005.0, 5147.0, 4427.0, 3820.0, 3307.0, 2872.0])
_OSBORNE1_Y = np.array([0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.85, 0.818, 0.784,
                        0.751, 0.718, 0.685, 0.658, 0.628, 0.603, 0.58, 0.558, 0.538, 0.522,
                        0.506, 0.49, 0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.42,
                        0.414, 0.411, 0.406])
_OSBORNE2_Y = np.array([1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725,
                        0.746, 0.679, 0.608, 0.655, 0.616, 0.606, 0.602, 0.626, 0.651, 0.724,
                        0.649, 0.649, 0.694, 0.644, 0.624, 0.661, 0.612, 0.558, 0.533, 0.495,
                        0.5, 0.423, 0.395, 0.375, 0.372, 0.391, 0.396, 0.405, 0.428, 0.429,
                        0.523, 0.562, 0.607, 0.653, 0.672, 0.708, 0.633, 0.668, 0.645, 0.632,
                        0.591, 0.559, 0.597, 0.625, 0.739, 0.71, 0.729, 0.72, 0.636, 0.581,
                        0.428, 0.292, 0.162, 0.098, 0.054])


def _index(count: int) -> np.ndarray:
    """The 1-based indices ``1, ..., count`` as float64 (the papers' ``i``)."""
    return np.arange(1, count + 1, dtype=np.float64)


# --- the 22 residual functions F(x; m) -------------------------------------------------

def _linear_full_rank(x: np.ndarray, m: int) -> np.ndarray:
    """Linear function - full rank (MGH 32)."""
    # F_i = x_i - (2/m) sum_j x_j - 1 for i <= n, and the same without x_i for i > n
    r = np.full(m, -(2.0 * x.sum() / m + 1.0))
    r[:x.size] += x
    return r


def _linear_rank_one(x: np.ndarray, m: int) -> np.ndarray:
    """Linear function - rank 1 (MGH 33)."""
    # F_i = i * sum_j j x_j - 1
    return _index(m) * (_index(x.size) @ x) - 1.0


def _linear_rank_one_zero(x: np.ndarray, m: int) -> np.ndarray:
    """Linear function - rank 1 with zero columns and rows (MGH 34)."""
    # F_i = (i - 1) * sum_{j=2}^{n-1} j x_j - 1 for i < m, F_m = -1
    inner = _index(x.size)[1:-1] @ x[1:-1]
    r = np.arange(m, dtype=np.float64) * inner - 1.0
    r[-1] = -1.0
    return r


def _rosenbrock(x: np.ndarray, m: int) -> np.ndarray:
    """Rosenbrock (MGH 1)."""
    return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def _helical_valley(x: np.ndarray, m: int) -> np.ndarray:
    """Helical valley (MGH 7)."""
    # theta = atan(x2/x1)/(2 pi), + 1/2 for x1 < 0; on x1 = 0 the original Fortran code of
    # Moré and Wild takes theta = sign(x2)/4 with sign(0) = +1.
    if x[0] > 0.0:
        theta = np.arctan(x[1] / x[0]) / (2.0 * np.pi)
    elif x[0] < 0.0:
        theta = np.arctan(x[1] / x[0]) / (2.0 * np.pi) + 0.5
    else:
        theta = 0.25 if x[1] >= 0.0 else -0.25
    return np.array([10.0 * (x[2] - 10.0 * theta), 10.0 * (np.hypot(x[0], x[1]) - 1.0), x[2]])


def _powell_singular(x: np.ndarray, m: int) -> np.ndarray:
    """Powell singular (MGH 13)."""
    return np.array([x[0] + 10.0 * x[1], np.sqrt(5.0) * (x[2] - x[3]), (x[1] - 2.0 * x[2]) ** 2,
                     np.sqrt(10.0) * (x[0] - x[3]) ** 2])


def _freudenstein_roth(x: np.ndarray, m: int) -> np.ndarray:
    """Freudenstein and Roth (MGH 2)."""
    a, b = x
    return np.array([-13.0 + a + ((5.0 - b) * b - 2.0) * b,
                     -29.0 + a + ((b + 1.0) * b - 14.0) * b])


def _bard(x: np.ndarray, m: int) -> np.ndarray:
    """Bard (MGH 8)."""
    # F_i = y_i - (x1 + u_i / (v_i x2 + w_i x3)), u_i = i, v_i = 16 - i, w_i = min(u_i, v_i)
    u = _index(15)
    v = 16.0 - u
    w = np.minimum(u, v)
    return _BARD_Y - (x[0] + u / (v * x[1] + w * x[2]))


def _kowalik_osborne(x: np.ndarray, m: int) -> np.ndarray:
    """Kowalik and Osborne (MGH 15)."""
    # F_i = y_i - x1 (u_i^2 + u_i x2) / (u_i^2 + u_i x3 + x4)
    u = _KOWALIK_OSBORNE_U
    return _KOWALIK_OSBORNE_Y - x[0] * u * (u + x[1]) / (u * (u + x[2]) + x[3])


def _meyer(x: np.ndarray, m: int) -> np.ndarray:
    """Meyer (MGH 10)."""
    # F_i = x1 exp(x2 / (t_i + x3)) - y_i, t_i = 45 + 5 i
    t = 45.0 + 5.0 * _index(16)
    return x[0] * np.exp(x[1] / (t + x[2])) - _MEYER_Y


def _watson(x: np.ndarray, m: int) -> np.ndarray:
    """Watson (MGH 20)."""
    # F_i = sum_{j=2}^n (j-1) x_j t_i^(j-2) - (sum_{j=1}^n x_j t_i^(j-1))^2 - 1, t_i = i/29,
    # i = 1..29; F_30 = x1, F_31 = x2 - x1^2 - 1
    n = x.size
    powers = (_index(29) / 29.0)[:, None] ** np.arange(n)  # [i, j] = t_i^j
    slope = powers[:, :n - 1] @ (np.arange(1, n) * x[1:])
    level = powers @ x
    return np.concatenate([slope - level ** 2 - 1.0, [x[0], x[1] - x[0] ** 2 - 1.0]])


def _box_3d(x: np.ndarray, m: int) -> np.ndarray:
    """Box three-dimensional (MGH 12)."""
    # F_i = exp(-t_i x1) - exp(-t_i x2) - x3 (exp(-t_i) - exp(-10 t_i)), t_i = i/10
    i = _index(m)
    t = i / 10.0
    return np.exp(-t * x[0]) - np.exp(-t * x[1]) - x[2] * (np.exp(-t) - np.exp(-i))


def _jennrich_sampson(x: np.ndarray, m: int) -> np.ndarray:
    """Jennrich and Sampson (MGH 6)."""
    i = _index(m)
    return 2.0 + 2.0 * i - (np.exp(i * x[0]) + np.exp(i * x[1]))


def _brown_dennis(x: np.ndarray, m: int) -> np.ndarray:
    """Brown and Dennis (MGH 16)."""
    # F_i = (x1 + t_i x2 - exp(t_i))^2 + (x3 + x4 sin(t_i) - cos(t_i))^2, t_i = i/5
    t = _index(m) / 5.0
    return (x[0] + t * x[1] - np.exp(t)) ** 2 + (x[2] + x[3] * np.sin(t) - np.cos(t)) ** 2


def _chebyquad(x: np.ndarray, m: int) -> np.ndarray:
    """Chebyquad (MGH 35)."""
    # F_i = (1/n) sum_j T_i(x_j) - int_0^1 T_i, with T_i the Chebyshev polynomial shifted to
    # [0, 1]; the integral is 0 for odd i and -1/(i^2 - 1) for even i.
    y = 2.0 * x - 1.0
    previous, current = np.ones_like(y), y
    means = np.empty(m)
    for i in range(m):
        means[i] = current.mean()
        previous, current = current, 2.0 * y * current - previous
    i = _index(m)
    even = i % 2 == 0
    means[even] += 1.0 / (i[even] ** 2 - 1.0)
    return means


def _brown_almost_linear(x: np.ndarray, m: int) -> np.ndarray:
    """Brown almost-linear (MGH 27)."""
    # F_i = x_i + sum_j x_j - (n + 1) for i < n, F_n = prod_j x_j - 1
    n = x.size
    return np.concatenate([x[:-1] + (x.sum() - (n + 1.0)), [np.prod(x) - 1.0]])


def _osborne1(x: np.ndarray, m: int) -> np.ndarray:
    """Osborne 1 (MGH 17)."""
    # F_i = y_i - (x1 + x2 exp(-t_i x4) + x3 exp(-t_i x5)), t_i = 10 (i - 1)
    t = 10.0 * np.arange(33, dtype=np.float64)
    return _OSBORNE1_Y - (x[0] + x[1] * np.exp(-t * x[3]) + x[2] * np.exp(-t * x[4]))


def _osborne2(x: np.ndarray, m: int) -> np.ndarray:
    """Osborne 2 (MGH 19)."""
    # F_i = y_i - (x1 exp(-t_i x5) + x2 exp(-(t_i - x9)^2 x6) + x3 exp(-(t_i - x10)^2 x7)
    #              + x4 exp(-(t_i - x11)^2 x8)),  t_i = (i - 1)/10
    t = np.arange(65, dtype=np.float64) / 10.0
    bumps = np.exp(-x[5:8] * (t[:, None] - x[8:11]) ** 2)  # [i, k]
    return _OSBORNE2_Y - (x[0] * np.exp(-x[4] * t) + bumps @ x[1:4])


def _bdqrtic(x: np.ndarray, m: int) -> np.ndarray:
    """Bdqrtic (CUTEr BDQRTIC), m = 2 (n - 4)."""
    # F_i = 3 - 4 x_i and F_{n-4+i} = x_i^2 + 2 x_{i+1}^2 + 3 x_{i+2}^2 + 4 x_{i+3}^2
    # + 5 x_n^2, i = 1..n-4
    k = x.size - 4
    sq = x ** 2
    quartic = sq[:k] + 2.0 * sq[1:k + 1] + 3.0 * sq[2:k + 2] + 4.0 * sq[3:k + 3] + 5.0 * sq[-1]
    return np.concatenate([3.0 - 4.0 * x[:k], quartic])


def _cube(x: np.ndarray, m: int) -> np.ndarray:
    """Cube (CUTEr CUBE)."""
    # F_1 = x1 - 1, F_i = 10 (x_i - x_{i-1}^3)
    return np.concatenate([[x[0] - 1.0], 10.0 * (x[1:] - x[:-1] ** 3)])


def _mancino(x: np.ndarray, m: int) -> np.ndarray:
    """Mancino (CUTEr MANCINO)."""
    # F_i = 1400 x_i + (i - 50)^3 + sum_j v_ij (sin^5(log v_ij) + cos^5(log v_ij)),
    # v_ij = sqrt(x_i^2 + i/j)
    i = _index(x.size)
    v = np.sqrt(x[:, None] ** 2 + i[:, None] / i[None, :])
    log_v = np.log(v)
    waves = v * (np.sin(log_v) ** 5 + np.cos(log_v) ** 5)
    return 1400.0 * x + (i - 50.0) ** 3 + waves.sum(axis=1)


def _heart8ls(x: np.ndarray, m: int, *, scipy_variant: bool = False) -> np.ndarray:
    """Heart8ls (CUTEr HEART8LS): the dipole model of the heart, 8 equations.

    ``scipy_variant=True`` puts ``v`` (``x[6]``) for ``u`` (``x[5]``) in the last term of
    the eighth residual, as SciPy's ``benchmarks/benchmarks/cutest/dfovec.py`` does.
    """
    a, b, c, d, t, u, v, w = x
    last = v if scipy_variant else u  # the mirror of the seventh residual's last term: u
    return np.array([
        a + b + 0.69,
        c + d + 0.044,
        t * a + u * b - v * c - w * d + 1.57,
        v * a + w * b + t * c + u * d + 1.31,
        a * (t * t - v * v) - 2.0 * c * t * v + b * (u * u - w * w) - 2.0 * d * u * w + 2.65,
        c * (t * t - v * v) + 2.0 * a * t * v + d * (u * u - w * w) + 2.0 * b * u * w - 2.0,
        (a * t * (t * t - 3.0 * v * v) + c * v * (v * v - 3.0 * t * t)
         + b * u * (u * u - 3.0 * w * w) + d * w * (w * w - 3.0 * u * u) + 12.6),
        (c * t * (t * t - 3.0 * v * v) - a * v * (v * v - 3.0 * t * t)
         + d * u * (u * u - 3.0 * w * w) - b * w * (w * w - 3.0 * last * last) - 9.48),
    ])


def _heart8ls_scipy(x: np.ndarray, m: int) -> np.ndarray:
    """Heart8ls as SciPy's benchmark port writes it (see the module's warning)."""
    return _heart8ls(x, m, scipy_variant=True)


# --- standard starting points xs(n) -----------------------------------------------------

def _fixed(*values: float) -> Callable[[int], np.ndarray]:
    """A start that does not depend on n."""
    return lambda n: np.array(values, dtype=np.float64)


def _constant(value: float) -> Callable[[int], np.ndarray]:
    """The start ``(value, ..., value)``."""
    return lambda n: np.full(n, value, dtype=np.float64)


def _chebyquad_start(n: int) -> np.ndarray:
    """x_j = j / (n + 1)."""
    return _index(n) / (n + 1.0)


def _mancino_start(n: int) -> np.ndarray:
    """x_i = -8.710996e-4 ((i - 50)^3 + sum_j v_ij (...)) with v_ij = sqrt(i/j), i.e. a
    multiple of F(0)."""
    return -8.710996e-4 * _mancino(np.zeros(n), n)


class _Function(NamedTuple):
    name: str
    residuals: Callable[[np.ndarray, int], np.ndarray]
    start: Callable[[int], np.ndarray]


#: nprob -> (standard name, F(x, m), xs(n))
_FUNCTIONS: dict[int, _Function] = {
    1: _Function("Linear function - full rank", _linear_full_rank, _constant(1.0)),
    2: _Function("Linear function - rank 1", _linear_rank_one, _constant(1.0)),
    3: _Function("Linear function - rank 1 with zero columns and rows", _linear_rank_one_zero,
                 _constant(1.0)),
    4: _Function("Rosenbrock", _rosenbrock, _fixed(-1.2, 1.0)),
    5: _Function("Helical valley", _helical_valley, _fixed(-1.0, 0.0, 0.0)),
    6: _Function("Powell singular", _powell_singular, _fixed(3.0, -1.0, 0.0, 1.0)),
    7: _Function("Freudenstein and Roth", _freudenstein_roth, _fixed(0.5, -2.0)),
    8: _Function("Bard", _bard, _fixed(1.0, 1.0, 1.0)),
    9: _Function("Kowalik and Osborne", _kowalik_osborne, _fixed(0.25, 0.39, 0.415, 0.39)),
    10: _Function("Meyer", _meyer, _fixed(0.02, 4000.0, 250.0)),
    11: _Function("Watson", _watson, _constant(0.5)),
    12: _Function("Box three-dimensional", _box_3d, _fixed(0.0, 10.0, 20.0)),
    13: _Function("Jennrich and Sampson", _jennrich_sampson, _fixed(0.3, 0.4)),
    14: _Function("Brown and Dennis", _brown_dennis, _fixed(25.0, 5.0, -5.0, -1.0)),
    15: _Function("Chebyquad", _chebyquad, _chebyquad_start),
    16: _Function("Brown almost-linear", _brown_almost_linear, _constant(0.5)),
    17: _Function("Osborne 1", _osborne1, _fixed(0.5, 1.5, 1.0, 0.01, 0.02)),
    18: _Function("Osborne 2", _osborne2,
                  _fixed(1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5)),
    19: _Function("Bdqrtic", _bdqrtic, _constant(1.0)),
    20: _Function("Cube", _cube, _constant(0.5)),
    21: _Function("Mancino", _mancino, _mancino_start),
    22: _Function("Heart8ls", _heart8ls,
                  _fixed(-0.3, -0.39, 0.3, -0.344, -1.2, 2.69, 1.59, -1.5)),
}


@dataclass(frozen=True)
class DFOProblem:
    r"""One row of the Moré-Wild benchmark: a least-squares function, its size and start.

    Build them with :func:`problem` or :func:`problems`.

    Attributes
    ----------
    number : int
        The row of :data:`TABLE`, 0 to 52 (SciPy's ``BenchDFO`` problem number).
    nprob : int
        The function, 1 to 22.
    name : str
        The function's standard name ("Rosenbrock", "Osborne 2", ...).
    n : int
        Number of variables.
    m : int
        Number of residuals.
    s : int
        Start scale: ``x0 = 10**s * xs``.
    x0 : numpy.ndarray, shape (n,)
        The start :math:`10^s x_s`, float64, this problem's own array.
    variant : str
        ``"bendfo"``, or ``"scipy"`` for SciPy's Heart8ls (``heart8ls="scipy"`` of
        :func:`problem`; only problems 51 and 52 have it).

    Notes
    -----
    The objective is the sum of squares of the residuals,

    .. math::

        f(x) = \sum_{i=1}^{m} F_i(x)^2 .
    """

    number: int
    nprob: int
    name: str
    n: int
    m: int
    s: int
    x0: np.ndarray = field(repr=False, compare=False)
    variant: str = "bendfo"

    def residuals(self, x: np.ndarray) -> np.ndarray:
        r"""The residual vector :math:`F(x)`.

        Parameters
        ----------
        x : array_like, shape (n,)
            The point.

        Returns
        -------
        numpy.ndarray, shape (m,)
            :math:`F(x)` in float64.

        Raises
        ------
        ValueError
            If ``x`` is not of shape ``(n,)``.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.n,):
            raise ValueError(f"x has shape {x.shape}; problem {self.number} ({self.name}) "
                             f"takes shape ({self.n},)")
        if self.variant == "scipy":
            return _heart8ls_scipy(x, self.m)
        return _FUNCTIONS[self.nprob].residuals(x, self.m)

    def value(self, x: np.ndarray) -> float:
        r"""The objective :math:`f(x) = \sum_i F_i(x)^2`.

        Parameters
        ----------
        x : array_like, shape (n,)
            The point.

        Returns
        -------
        float
            :math:`f(x)`.
        """
        r = self.residuals(x)
        return float(r @ r)


#: The values of ``heart8ls``: BenDFO's equations (the default) or SciPy's port.
HEART8LS_VARIANTS = ("bendfo", "scipy")


def _check_variant(heart8ls: str) -> str:
    if heart8ls not in HEART8LS_VARIANTS:
        raise ValueError(f"heart8ls must be one of {HEART8LS_VARIANTS}, got {heart8ls!r}")
    return heart8ls


def problem(number: int, *, heart8ls: str = "bendfo") -> DFOProblem:
    """The benchmark problem in row ``number`` of :data:`TABLE`.

    Parameters
    ----------
    number : int
        0 to 52.
    heart8ls : {"bendfo", "scipy"}, default "bendfo"
        Which Heart8ls (rows 51 and 52) to build: the equations of BenDFO's codes, or
        SciPy's port of them with ``x[6]`` for ``x[5]`` in the last term of the eighth
        residual (see the module's warning). Other rows are the same either way.

    Returns
    -------
    DFOProblem
        The problem, with a fresh start array; its ``variant`` is ``"scipy"`` only for
        SciPy's Heart8ls.

    Raises
    ------
    ValueError
        If ``number`` is not an integer from 0 to 52, or ``heart8ls`` is not a variant.
    """
    if isinstance(number, bool) or not isinstance(number, (int, np.integer)) \
            or not 0 <= number < len(TABLE):
        raise ValueError(f"number must be an integer from 0 to {len(TABLE) - 1}, got {number!r}")
    _check_variant(heart8ls)
    number = int(number)
    nprob, n, m, s = TABLE[number]
    function = _FUNCTIONS[nprob]
    x0 = 10.0 ** s * function.start(n)
    variant = "scipy" if heart8ls == "scipy" and nprob == 22 else "bendfo"
    return DFOProblem(number, nprob, function.name, n, m, s, x0, variant)


def problems(*, heart8ls: str = "bendfo") -> list[DFOProblem]:
    """All 53 benchmark problems, in the order of :data:`TABLE`.

    Parameters
    ----------
    heart8ls : {"bendfo", "scipy"}, default "bendfo"
        Which Heart8ls to put in rows 51 and 52 (see :func:`problem`).

    Returns
    -------
    list of DFOProblem
        A new list of new problems on each call (no start array is shared).

    Raises
    ------
    ValueError
        If ``heart8ls`` is not a variant.
    """
    _check_variant(heart8ls)
    return [problem(number, heart8ls=heart8ls) for number in range(len(TABLE))]
