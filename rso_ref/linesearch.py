r"""Strong-Wolfe line search: bracketing and zoom with safeguarded interpolation.

Along a descent direction :math:`d` from :math:`x` the search looks at the scalar
function :math:`\phi(\alpha) = f(x + \alpha d)` with :math:`\phi'(\alpha) = \nabla
f(x + \alpha d)^\top d` and returns a step :math:`\alpha > 0` satisfying the *strong
Wolfe conditions* (N&W [1]_ eq. 3.7, p. 34)

.. math::

    \phi(\alpha) \le \phi(0) + c_1\, \alpha\, \phi'(0)
    \quad\text{(sufficient decrease)}, \qquad
    |\phi'(\alpha)| \le c_2\, |\phi'(0)| \quad\text{(curvature)},

with :math:`0 < c_1 < c_2 < 1`. The work is split as in SciPy and optax: a scalar core
(:func:`scalar_search_wolfe`) that only sees :math:`\alpha \mapsto (\phi, \phi')` as
Python floats, and a thin vector wrapper (:func:`line_search`) that builds
:math:`\phi` from ``fun(x) -> (f, g)`` on any array-API backend. All branching is done
on host floats, so every backend takes the same decisions for the same numbers.

Algorithm (N&W Algorithms 3.5 and 3.6, pp. 60-61):

* **Bracketing.** Trial steps :math:`\alpha_1 < \alpha_2 < \dots` grow until one
  violates sufficient decrease, does not decrease :math:`\phi` below the previous
  trial, or has :math:`\phi' \ge 0`; an interval containing strong-Wolfe points is
  then known and *zoom* takes over. Growth uses the minimiser of the cubic through the
  last two trials, kept in :math:`[\alpha_i + 1.1\,\Delta, \alpha_i + 4\,\Delta]`
  (:math:`\Delta = \alpha_i - \alpha_{i-1}`; the extrapolation bounds of Moré and
  Thuente [2]_).
* **Zoom.** Between :math:`\alpha_{lo}` (best sufficient-decrease point so far) and
  :math:`\alpha_{hi}`, the next trial is the minimiser of the cubic Hermite
  interpolant of both ends (N&W eq. 3.59); if it is undefined or closer than
  :data:`INTERPOLATION_MARGIN` times the interval width to an end, the minimiser of the
  quadratic through :math:`\phi(\alpha_{lo}), \phi'(\alpha_{lo}), \phi(\alpha_{hi})`
  (N&W eq. 3.57 generalised) is tried with the same safeguard, and bisection otherwise;
  bisection is also forced when two trials have not cut the bracket below
  :data:`BISECTION_SHRINK` of its width.
* **Non-finite trials.** A trial whose :math:`\phi` or :math:`\phi'` is NaN or
  :math:`\pm\infty` is treated as a step that is too long: it becomes
  :math:`\alpha_{hi}` and the next trial bisects towards :math:`\alpha_{lo}`
  (backtracking). No interpolation ever uses a non-finite value.

A search that cannot find a strong-Wolfe step (evaluation budget spent, no
representable point left in the bracket, or not a descent direction) returns a
nonzero ``status`` and the *starting* point (:math:`\alpha = 0`): never NaN.

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006,
       §3.1 and §3.5, doi:10.1007/978-0-387-40065-5.
.. [2] J. J. Moré and D. J. Thuente, "Line search algorithms with guaranteed sufficient
       decrease", ACM Trans. Math. Softw. 20(3), 286-307, 1994, doi:10.1145/192115.192132.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from .backend import (array_namespace, backend_name, compiles, device, fused, placement,
                      to_numpy)
from .validation import (NonFiniteError, check_finite_loss, check_int, check_pair, check_positive,
                         check_real)

__all__ = [
    "LINESEARCH_MESSAGES",
    "EXTRAPOLATION_BOUNDS",
    "INTERPOLATION_MARGIN",
    "BISECTION_SHRINK",
    "LineSearchInfo",
    "ScalarSearchResult",
    "LineSearchResult",
    "check_wolfe_constants",
    "evaluate_array_oracle",
    "scalar_search_wolfe",
    "line_search",
]

#: Status codes of a line search and their meaning (the one table of texts).
LINESEARCH_MESSAGES = {
    0: "the strong Wolfe conditions hold at the returned step",
    1: "maxls evaluations were spent without finding a strong-Wolfe step",
    2: "no representable step is left in the bracket (rounding errors prevent progress)",
    3: "not a descent direction: phi'(0) >= 0",
}

#: Extrapolation keeps the next trial in ``[a + lo * D, a + hi * D]`` with ``D`` the last
#: increase of the step (``xtrapl = 1.1`` and ``xtrapu = 4``; Moré and Thuente 1994, §4).
EXTRAPOLATION_BOUNDS = (1.1, 4.0)

#: An interpolated zoom trial must lie at least this fraction of the bracket width away
#: from both ends, so each trial cuts the bracket by at least 10% (else bisection).
INTERPOLATION_MARGIN = 0.1

#: When two zoom trials have not cut the bracket below this fraction of its width, the
#: next trial bisects it (the ``p66`` rule of Moré and Thuente 1994, §4), so the bracket
#: shrinks geometrically even when interpolation keeps landing next to the same end.
BISECTION_SHRINK = 0.66


@dataclass(frozen=True)
class LineSearchInfo:
    r"""Diagnostics of one line search.

    The two violations are signed: positive by how much the condition fails at the last
    trial, :math:`\le 0` when it holds.

    Attributes
    ----------
    trial_steps : tuple of float
        Every trial step length :math:`\alpha` in the order evaluated.
    decrease_violation : float
        :math:`\phi(\alpha) - \phi(0) - c_1 \alpha \phi'(0)` at the last trial:
        :math:`\le 0` when sufficient decrease holds, positive when it fails; ``inf``
        for a non-finite trial or when no trial was made.
    curvature_violation : float
        :math:`|\phi'(\alpha)| - c_2 |\phi'(0)|` at the last trial: :math:`\le 0` when
        the curvature condition holds, positive when it fails; ``inf`` as above.
    values : tuple of float
        :math:`\phi` at every trial, in the order of ``trial_steps`` (NaN or inf as
        returned).
    """

    trial_steps: tuple
    decrease_violation: float
    curvature_violation: float
    values: tuple = ()


class _Status:
    """``success`` and ``message`` of a result with a ``status`` key of LINESEARCH_MESSAGES."""

    status: int

    @property
    def success(self) -> bool:
        return self.status == 0

    @property
    def message(self) -> str:
        return LINESEARCH_MESSAGES[self.status]


@dataclass(frozen=True)
class ScalarSearchResult(_Status):
    r"""Outcome of :func:`scalar_search_wolfe`.

    Attributes
    ----------
    alpha, phi, dphi : float
        Accepted step and :math:`\phi, \phi'` there; ``0.0, phi0, dphi0`` on failure.
    nfev : int
        Evaluations of :math:`\phi` made.
    status : int
        Key of :data:`LINESEARCH_MESSAGES` (0 = success).
    info : LineSearchInfo
        The trials and the Wolfe violations at the last one.
    fallback : tuple of float or None
        On failure (status 1 or 2), ``(alpha, phi, dphi)`` of the lowest trial that
        satisfied sufficient decrease, when one with :math:`\alpha > 0` was found;
        ``None`` otherwise. A caller with inexact gradients may take it (L-BFGS-B takes
        its search's point on a warning).
    """

    alpha: float
    phi: float
    dphi: float
    nfev: int
    status: int
    info: LineSearchInfo
    fallback: tuple | None = None


@dataclass(frozen=True)
class LineSearchResult(_Status):
    r"""Outcome of :func:`line_search` (vector form).

    Attributes
    ----------
    alpha : float
        Accepted step, ``0.0`` on failure.
    x : array, shape (n,)
        :math:`x + \alpha d` (the start ``x`` itself on failure).
    f : float
        :math:`f` at ``x``.
    g : array, shape (n,)
        :math:`\nabla f` at ``x``.
    dphi0, dphi : float
        :math:`\phi'(0) = g_0^\top d` and :math:`\phi'(\alpha) = g^\top d`.
    nfev : int
        Calls of ``fun`` made.
    status : int
        Key of :data:`LINESEARCH_MESSAGES` (0 = success).
    info : LineSearchInfo
        The trials and the Wolfe violations at the last one (of the whole search, also
        in ``fallback``).
    fallback : LineSearchResult or None
        On failure, the lowest trial that satisfied sufficient decrease (as a result of
        status 0 whose ``nfev`` counts the whole search;
        :attr:`ScalarSearchResult.fallback`), else ``None``.
    g_inf : float
        :math:`\|g\|_\infty` at ``x`` for an accepted step (the search computes it to
        form :math:`\phi'` safely; L-BFGS's ``gtol`` test reuses it), NaN on failure.
    """

    alpha: float
    x: Any
    f: float
    g: Any
    dphi0: float
    dphi: float
    nfev: int
    status: int
    info: LineSearchInfo
    fallback: "LineSearchResult | None" = None
    g_inf: float = math.nan


def check_wolfe_constants(c1: Any, c2: Any) -> tuple[float, float]:
    """Return the Wolfe constants ``(c1, c2)`` as floats, checked.

    Parameters
    ----------
    c1 : float
        Sufficient-decrease constant :math:`c_1`.
    c2 : float
        Curvature constant :math:`c_2`.

    Returns
    -------
    c1 : float
        :math:`c_1` as a Python float.
    c2 : float
        :math:`c_2` as a Python float.

    Raises
    ------
    TypeError
        Unless both are real numbers (:func:`rso_ref.validation.check_real`).
    ValueError
        Unless :math:`0 < c_1 < c_2 < 1`.
    """
    c1, c2 = check_real(c1, "c1"), check_real(c2, "c2")
    if not 0.0 < c1 < c2 < 1.0:
        raise ValueError(f"c1 and c2 (the Wolfe constants) must satisfy 0 < c1 < c2 < 1, "
                         f"got c1={c1}, c2={c2}")
    return c1, c2


def _cubicmin(a: float, fa: float, da: float, b: float, fb: float, db: float) -> float | None:
    r"""Minimiser of the cubic with values ``fa, fb`` and slopes ``da, db`` at ``a, b``.

    N&W eq. (3.59), p. 59: with :math:`d_1 = \phi'_a + \phi'_b - 3\frac{\phi_a -
    \phi_b}{a - b}` and :math:`d_2 = \operatorname{sign}(b - a)\sqrt{d_1^2 -
    \phi'_a\phi'_b}`, the minimiser is :math:`b - (b - a)\frac{\phi'_b + d_2 -
    d_1}{\phi'_b - \phi'_a + 2 d_2}`. ``None`` when the cubic has no local minimiser
    or the formula is not finite.
    """
    if a == b:
        return None
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    radicand = d1 * d1 - da * db
    if not radicand >= 0.0:  # also catches NaN
        return None
    d2 = math.copysign(math.sqrt(radicand), b - a)
    denom = db - da + 2.0 * d2
    if denom == 0.0:
        return None
    t = b - (b - a) * (db + d2 - d1) / denom
    return t if math.isfinite(t) else None


def _quadmin(a: float, fa: float, da: float, b: float, fb: float) -> float | None:
    r"""Minimiser of the quadratic with value ``fa`` and slope ``da`` at ``a``, ``fb`` at ``b``.

    :math:`q(t) = \phi_a + \phi'_a (t - a) + C (t - a)^2` with
    :math:`C = (\phi_b - \phi_a - \phi'_a (b - a)) / (b - a)^2`; the minimiser
    :math:`a - \phi'_a / (2C)` exists only for :math:`C > 0`.
    """
    width = b - a
    if width == 0.0:
        return None
    curvature = (fb - fa - da * width) / (width * width)
    if not curvature > 0.0:
        return None
    t = a - da / (2.0 * curvature)
    return t if math.isfinite(t) else None


def _inside(t: float | None, a: float, b: float, margin: float) -> bool:
    """True when ``t`` lies in the bracket ``[a, b]`` (either order) shrunk by ``margin``."""
    if t is None:
        return False
    lo, hi = min(a, b), max(a, b)
    pad = margin * (hi - lo)
    return lo + pad <= t <= hi - pad


def _zoom_trial(lo: tuple, hi: tuple) -> float:
    """Next zoom trial: safeguarded cubic, then quadratic, then bisection (N&W §3.5)."""
    a, fa, da = lo
    b, fb, db = hi
    if math.isfinite(fb) and math.isfinite(db):
        t = _cubicmin(a, fa, da, b, fb, db)
        if _inside(t, a, b, INTERPOLATION_MARGIN):
            return t
        t = _quadmin(a, fa, da, b, fb)
        if _inside(t, a, b, INTERPOLATION_MARGIN):
            return t
    return a + 0.5 * (b - a)


def _extrapolation_trial(prev: tuple, cur: tuple) -> float:
    """Next bracketing trial beyond ``cur``: cubic minimiser clipped to the Moré-Thuente range."""
    step = cur[0] - prev[0]
    low = cur[0] + EXTRAPOLATION_BOUNDS[0] * step
    high = cur[0] + EXTRAPOLATION_BOUNDS[1] * step
    t = _cubicmin(*prev, *cur)
    if t is None or not t > cur[0]:
        return high
    return min(max(t, low), high)


def scalar_search_wolfe(phi: Callable[[float], tuple[float, float]], phi0: float, dphi0: float, *,
                        alpha0: float = 1.0, c1: float = 1e-4, c2: float = 0.9,
                        maxls: int = 20) -> ScalarSearchResult:
    r"""Find a step satisfying the strong Wolfe conditions for a scalar function.

    Parameters
    ----------
    phi : callable
        ``phi(alpha) -> (phi, dphi)``: :math:`\phi(\alpha)` and :math:`\phi'(\alpha)`
        as floats. Non-finite values mark a step as too long.
    phi0, dphi0 : float
        :math:`\phi(0)` and :math:`\phi'(0)`, finite.
    alpha0 : float, default 1.0
        First trial step, positive and finite.
    c1, c2 : float, default 1e-4, 0.9
        Wolfe constants, :math:`0 < c_1 < c_2 < 1` (N&W p. 34 recommends these values
        for quasi-Newton methods).
    maxls : int, default 20
        Most evaluations of ``phi`` allowed.

    Returns
    -------
    ScalarSearchResult
        ``status`` 0 and the accepted step, or a nonzero status with ``alpha = 0``.

    Raises
    ------
    TypeError
        If an argument is not a number of its kind (``maxls`` an int, the others real).
    ValueError
        On Wolfe constants outside :math:`0 < c_1 < c_2 < 1`, a non-positive ``maxls``
        or ``alpha0``, or non-finite ``alpha0``/``phi0``/``dphi0``.

    Notes
    -----
    Bracketing is N&W Algorithm 3.5 and the zoom is Algorithm 3.6 (pp. 60-61); the
    accepted step is always the last one evaluated. See the module docstring for the
    interpolation rules and their constants.

    Examples
    --------
    >>> res = scalar_search_wolfe(lambda a: ((a - 3.0) ** 2, 2.0 * (a - 3.0)), 9.0, -6.0, c2=0.5)
    >>> res.status, res.alpha
    (0, 3.0)
    """
    c1, c2 = check_wolfe_constants(c1, c2)
    maxls = check_int(maxls, "maxls", minimum=1)
    alpha0 = check_positive(alpha0, "alpha0")
    phi0, dphi0 = check_real(phi0, "phi0"), check_real(dphi0, "dphi0")

    trial_steps: list[float] = []
    violations = [math.inf, math.inf]  # of sufficient decrease and curvature at the last trial
    values: list[float] = []

    def evaluate_at(alpha: float) -> tuple[float, float, float]:
        value, slope = phi(alpha)
        value, slope = float(value), float(slope)
        trial_steps.append(alpha)
        values.append(value)
        if math.isfinite(value) and math.isfinite(slope):
            violations[0] = value - phi0 - c1 * alpha * dphi0
            violations[1] = abs(slope) - c2 * abs(dphi0)
        else:
            violations[0] = violations[1] = math.inf
        return alpha, value, slope

    def done(status: int, point: tuple) -> ScalarSearchResult:
        info = LineSearchInfo(tuple(trial_steps), violations[0], violations[1], tuple(values))
        fallback = point if status in (1, 2) and point[0] > 0.0 else None
        if status != 0:
            point = (0.0, phi0, dphi0)
        return ScalarSearchResult(point[0], point[1], point[2], len(trial_steps), status, info,
                                  fallback)

    def too_long(point: tuple, lo_value: float) -> bool:
        # Non-finite, no sufficient decrease (N&W eq. 3.6a), or worse than lo. N&W write
        # phi >= phi_lo; a tie is left to the slope here, because near a flat minimum
        # rounding makes phi values equal while phi' still tells where the minimum is.
        _, value, slope = point
        return not (math.isfinite(value) and math.isfinite(slope)) \
            or violations[0] > 0.0 or value > lo_value

    if not dphi0 < 0.0:
        return done(3, (0.0, phi0, dphi0))

    # Bracketing phase (N&W Algorithm 3.5).
    prev = (0.0, phi0, dphi0)
    alpha = alpha0
    lo = hi = None
    while len(trial_steps) < maxls:
        cur = evaluate_at(alpha)
        if too_long(cur, prev[1]):
            lo, hi = prev, cur
            break
        if violations[1] <= 0.0:
            return done(0, cur)
        if cur[2] >= 0.0:
            lo, hi = cur, prev
            break
        prev, alpha = cur, _extrapolation_trial(prev, cur)
    if lo is None:
        return done(1, prev)

    # Zoom phase (N&W Algorithm 3.6); lo always satisfies sufficient decrease.
    widths = [math.inf, math.inf]  # bracket widths one and two trials ago
    while len(trial_steps) < maxls:
        width = abs(hi[0] - lo[0])
        if width > BISECTION_SHRINK * widths[0]:
            alpha = lo[0] + 0.5 * (hi[0] - lo[0])  # interpolation stalls at one end
        else:
            alpha = _zoom_trial(lo, hi)
        widths = [widths[1], width]
        if alpha == lo[0] or alpha == hi[0]:
            return done(2, lo)
        cur = evaluate_at(alpha)
        if too_long(cur, lo[1]):
            hi = cur
            continue
        if violations[1] <= 0.0:
            return done(0, cur)
        if cur[2] * (hi[0] - lo[0]) >= 0.0:
            hi = lo
        lo = cur
    return done(1, lo)


def evaluate_array_oracle(fun: Callable, x: Any, *, xp: ModuleType, where: str,
                          name: str = "fun", finite: bool = False,
                          defer_value: bool = False) -> tuple[Any, Any]:
    """Call ``fun(x) -> (value, gradient)`` once and check what it returned.

    The oracle of one array (a flat vector in :mod:`rso_ref.lbfgs`); the oracle of a
    parameter list is :func:`rso_ref.rso.evaluate_oracle`. The value must be a real
    scalar (a Python or NumPy number or a 0-d array,
    :func:`rso_ref.validation.check_finite_loss`) and the gradient an array of ``x``'s
    namespace and shape with a real floating dtype. With ``finite=False`` NaN and inf
    are let through (a line search backtracks from them); with ``finite=True`` they
    raise.

    Parameters
    ----------
    fun : callable
        The oracle, ``fun(x) -> (value, gradient)``.
    x : array
        Where to call it.
    xp : module
        The namespace of ``x``.
    where : str
        The point, for messages (e.g. ``"at x0"``).
    name : str, default "fun"
        The oracle's name, for messages.
    finite : bool, default False
        Whether NaN and inf raise.
    defer_value : bool, default False
        With ``finite=False``, return a value that is a 0-d real floating JAX array as
        it is, for the caller to bring to the host together with other numbers (one
        transfer instead of two); anything else is converted as usual.

    Returns
    -------
    value : float
        The value as a Python float (or the 0-d array, see ``defer_value``).
    gradient : array
        The gradient, unchanged.

    Raises
    ------
    TypeError
        ``fun`` returned no pair, a value that is not a real scalar, or a gradient that
        is not an array of ``x``'s namespace with a real floating dtype.
    ValueError
        The gradient's shape or device is not ``x``'s.
    rso_ref.validation.NonFiniteError
        ``finite=True`` and the value or the gradient holds NaN or inf.
    """
    value, g = check_pair(fun(x), name, where)
    if defer_value and not finite and compiles(xp) and _zero_d_real_array(value, xp):
        f = value
    else:
        try:
            f = check_finite_loss(value, name, where)
        except NonFiniteError:
            if finite:
                raise
            f = float(value)  # a real scalar, NaN or inf: the line search backtracks
    if not _beside(g, x, xp):  # the common case costs one namespace lookup
        try:
            g_xp = array_namespace(g)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} returned a gradient that is not an array {where}: "
                            f"{exc}") from exc
        if backend_name(g_xp) != backend_name(xp):
            raise TypeError(f"{name} returned a gradient of namespace {backend_name(g_xp)} for x "
                            f"of namespace {backend_name(xp)} {where}")
        if placement(g) != placement(x):
            raise ValueError(f"{name} returned a gradient on device {device(g)} for x on device "
                             f"{device(x)} {where}")
    if not xp.isdtype(g.dtype, "real floating"):
        raise TypeError(f"{name} returned a gradient of dtype {g.dtype} {where}; "
                        f"a real floating dtype is needed")
    if tuple(g.shape) != tuple(x.shape):
        raise ValueError(f"{name} returned a gradient of shape {tuple(g.shape)} for x of shape "
                         f"{tuple(x.shape)} {where}")
    if finite and not bool(xp.all(xp.isfinite(g))):
        raise NonFiniteError(f"{name} returned a non-finite gradient {where}")
    return f, g


def _beside(g: Any, x: Any, xp: ModuleType) -> bool:
    """Whether ``g`` is an array of namespace ``xp`` on the device of ``x``."""
    if getattr(g, "shape", None) is None:  # array_namespace would skip None and numbers
        return False
    try:
        return array_namespace(g, x) is xp
    except (TypeError, ValueError):
        return False


def _zero_d_real_array(value: Any, xp: ModuleType) -> bool:
    """Whether ``value`` is a 0-d real floating array of namespace ``xp``."""
    if getattr(value, "shape", None) != ():
        return False
    try:
        return array_namespace(value) is xp and xp.isdtype(value.dtype, "real floating")
    except (TypeError, ValueError):
        return False


def _slope_along(d: Any, xp: ModuleType,
                 d_max: float) -> Callable[[Any, Any], tuple[float, float, float]]:
    r"""``slope(g, f) -> (g^T d, max|g|, f)`` as floats, with no floating-point warning on the way.

    A trial gradient that holds NaN or inf, or whose product with ``d`` overflows, is the
    non-finite case the core backtracks from, not an error; computed naively it makes
    NumPy warn ("overflow"/"invalid value encountered in matmul"). Instead of silencing
    warnings (process-wide state), the product is only formed when it cannot overflow:
    :math:`|g^\top d| \le n \max|g| \max|d|`. A gradient with NaN or inf gives NaN; a
    product that could overflow is formed from ``g`` and ``d`` scaled to
    :math:`\max|\cdot| = 1` and scaled back on the host, ``±inf`` when it exceeds the
    dtype's range (as the plain product would). The common case computes ``g @ d``
    itself, after one reduction :math:`\max|g|`. On JAX, which never warns, both
    reductions run as one compiled program (:func:`rso_ref.backend.fused`) and come to
    the host in one transfer with the value ``f`` (a 0-d array there,
    :func:`evaluate_array_oracle` with ``defer_value``); the host then decides as above.
    """
    limit = float(xp.finfo(d.dtype).max)
    if not math.isfinite(d_max):
        # a non-finite direction: every slope is non-finite
        return lambda g, f: (math.nan, float(xp.max(xp.abs(g))), float(f))
    bound = math.prod(d.shape) * d_max  # |g @ d| <= bound * max|g|
    together = compiles(xp)

    def slope(g: Any, f: Any) -> tuple[float, float, float]:
        if together:
            f, g_max, product = to_numpy(_value_max_and_product(xp, f, g, d)).tolist()
        else:
            g_max, product = float(xp.max(xp.abs(g))), None
        if not math.isfinite(g_max):
            return math.nan, g_max, f  # NaN or inf in g (max propagates NaN)
        if g_max * bound <= limit:
            return (float(g @ d) if product is None else product), g_max, f
        value = float((g / g_max) @ (d / d_max)) * g_max * d_max
        return (value if abs(value) <= limit else math.copysign(math.inf, value)), g_max, f

    return slope


@fused()
def _value_max_and_product(xp: ModuleType, f: Any, g: Any, d: Any) -> Any:
    r""":math:`(f, \max_i |g_i|, g^\top d)`, ``f`` in ``g``'s dtype."""
    return xp.stack([xp.astype(xp.asarray(f), g.dtype), xp.max(xp.abs(g)), g @ d])


@fused()
def _trial_point(xp: ModuleType, x: Any, d: Any, alpha: float) -> Any:
    r""":math:`x + \alpha d`."""
    return x + alpha * d


def line_search(fun: Callable, x: Any, f: float, g: Any, d: Any, *, alpha0: float = 1.0,
                c1: float = 1e-4, c2: float = 0.9, maxls: int = 20, dphi0: float | None = None,
                d_max: float | None = None, xp: ModuleType | None = None,
                name: str = "fun") -> LineSearchResult:
    r"""Strong-Wolfe line search along ``d`` from ``x`` (vector wrapper of the scalar core).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)`` with ``g`` an array like ``x``.
    x : array, shape (n,)
        Start point.
    f : float
        :math:`f(x)`.
    g : array, shape (n,)
        :math:`\nabla f(x)`.
    d : array, shape (n,)
        Search direction; must be a descent direction (:math:`g^\top d < 0`).
    alpha0 : float, default 1.0
        First trial step.
    c1, c2 : float, default 1e-4, 0.9
        Wolfe constants, :math:`0 < c_1 < c_2 < 1`.
    maxls : int, default 20
        Most calls of ``fun``.
    dphi0 : float, optional
        :math:`g^\top d` when the caller already has it.
    d_max : float, optional
        :math:`\max_i |d_i|` when the caller already has it.
    xp : module, optional
        Namespace of ``x``.
    name : str, default "fun"
        Name of ``fun`` in error messages (:func:`evaluate_array_oracle` checks every
        call).

    Returns
    -------
    LineSearchResult
        On failure ``status != 0`` and the result holds ``x, f, g`` unchanged.

    Notes
    -----
    :math:`\phi(\alpha) = f(x + \alpha d)`, :math:`\phi'(\alpha) = \nabla f(x + \alpha
    d)^\top d`; one call of ``fun`` per trial. A gradient with a NaN or inf makes
    :math:`\phi'` non-finite, so such trials are backtracked from like NaN values of
    ``f``.

    Examples
    --------
    >>> import numpy as np
    >>> fun = lambda z: (float(z @ z), 2.0 * z)
    >>> x = np.array([1.0, -2.0]); f, g = fun(x)
    >>> res = line_search(fun, x, f, g, -g, alpha0=0.5)
    >>> res.status, res.alpha, res.x.tolist()
    (0, 0.5, [0.0, 0.0])
    """
    xp = array_namespace(x, g, d) if xp is None else xp
    if dphi0 is None:
        dphi0 = float(g @ d)
    if d_max is None:
        d_max = float(xp.max(xp.abs(d)))
    last: dict[str, Any] = {}
    kept: dict[float, tuple] = {}  # lowest sufficient-decrease trial: alpha -> (x, f, g, max|g|)
    slope_along_d = _slope_along(d, xp, d_max)

    def phi(alpha: float) -> tuple[float, float]:
        x_trial = _trial_point(xp, x, d, alpha)
        f_trial, g_trial = evaluate_array_oracle(
            fun, x_trial, xp=xp, where=f"at line-search step {alpha!r}", name=name,
            defer_value=True)
        slope, g_max, f_trial = slope_along_d(g_trial, f_trial)
        last.update(x=x_trial, f=f_trial, g=g_trial, g_inf=g_max)
        # The core's own tests for a new lowest point (sufficient decrease, not above it):
        if math.isfinite(f_trial) and math.isfinite(slope) \
                and f_trial - f - c1 * alpha * dphi0 <= 0.0 \
                and all(f_trial <= point[1] for point in kept.values()):
            kept.clear()
            kept[alpha] = (x_trial, f_trial, g_trial, g_max)
        return f_trial, slope

    core = scalar_search_wolfe(phi, f, dphi0, alpha0=alpha0, c1=c1, c2=c2, maxls=maxls)
    if core.status == 0:  # the accepted step is always the last one evaluated
        return LineSearchResult(core.alpha, last["x"], last["f"], last["g"], dphi0, core.dphi,
                                core.nfev, 0, core.info, g_inf=last["g_inf"])
    fallback = None
    if core.fallback is not None and core.fallback[0] in kept:
        x_lo, f_lo, g_lo, g_max_lo = kept[core.fallback[0]]
        fallback = LineSearchResult(core.fallback[0], x_lo, f_lo, g_lo, dphi0, core.fallback[2],
                                    core.nfev, 0, core.info, g_inf=g_max_lo)
    return LineSearchResult(0.0, x, f, g, dphi0, dphi0, core.nfev, core.status, core.info,
                            fallback)
