r"""Limited-memory BFGS: the two-loop recursion, ``minimize`` and a full-batch optimizer.

L-BFGS keeps the last :math:`m` curvature pairs :math:`s_i = x_{i+1} - x_i`,
:math:`y_i = \nabla f_{i+1} - \nabla f_i` and steps along :math:`d_k = -H_k \nabla
f_k`, where :math:`H_k` is the BFGS inverse-Hessian approximation built from those
pairs on top of :math:`H_k^0 = \gamma_k I` (N&W §7.2). The step length comes from the
strong-Wolfe line search of :mod:`rso_ref.linesearch`, which keeps
:math:`s_k^\top y_k > 0` and so :math:`H_k` positive definite.

Conventions follow SciPy's ``minimize(method="L-BFGS-B")`` without bounds (stopping
tests, defaults, ``nfev`` counting the evaluation at ``x0``) so results can be
compared with it; see :func:`minimize` for where and why this module differs.

Storage: the pairs live in two contiguous ``(m, n)`` arrays used as ring buffers (one
row per pair), with :math:`\rho_i = 1/(y_i^\top s_i)` in an ``(m,)`` array, so an
iteration allocates no history and the two-loop recursion streams rows of one block.

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006,
       §7.2 (Algorithms 7.4, 7.5; eqs. 7.19, 7.20), doi:10.1007/978-0-387-40065-5.
.. [2] D. C. Liu and J. Nocedal, "On the limited memory BFGS method for large scale
       optimization", Math. Program. 45, 503-528, 1989, doi:10.1007/BF01589116.
.. [3] R. H. Byrd, P. Lu, J. Nocedal and C. Zhu, "A limited memory algorithm for bound
       constrained optimization", SIAM J. Sci. Comput. 16(5), 1190-1208, 1995,
       doi:10.1137/0916069 (L-BFGS-B, SciPy's reference).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, ClassVar, Sequence

from . import tree
from .backend import array_namespace
from .linesearch import LineSearchResult, check_wolfe_constants, evaluate, line_search

__all__ = [
    "STATUS_MESSAGES",
    "LBFGSResult",
    "StepRecord",
    "Iterate",
    "two_loop",
    "inverse_hessian",
    "minimize",
    "LBFGS",
]

#: Every way :func:`minimize` can stop: reason -> (status, message). Status 0 is
#: convergence, 1 a limit, 2 no further progress possible, 3 a stop asked by the callback.
STATUS_MESSAGES = {
    "gtol": (0, "converged: the inf-norm of the gradient is <= gtol"),
    "ftol": (0, "converged: the relative reduction of f is <= ftol"),
    "maxiter": (1, "stopped: maxiter iterations done"),
    "maxfun": (1, "stopped: maxfun evaluations of fun done"),
    "linesearch": (2, "stopped: no strong-Wolfe step found, even along -g after a memory reset"),
    "callback": (3, "stopped: the callback returned True"),
}


@dataclass(frozen=True)
class StepRecord:
    r"""One accepted L-BFGS step (host floats only, cheap to keep for every iteration).

    Attributes
    ----------
    nit : int
        Iteration number (1 for the first step).
    alpha : float
        Accepted step length: :math:`x_{k+1} = x_k + \alpha d_k`.
    f_prev, f : float
        :math:`f(x_k)` and :math:`f(x_{k+1})`.
    dphi0, dphi : float
        :math:`\nabla f_k^\top d_k` and :math:`\nabla f_{k+1}^\top d_k`.
    nfev : int
        Calls of ``fun`` made by this iteration (both line searches when the memory
        was reset).
    stored : bool
        Whether the pair :math:`(s_k, y_k)` entered the memory (see :func:`minimize`).
    """

    nit: int
    alpha: float
    f_prev: float
    f: float
    dphi0: float
    dphi: float
    nfev: int
    stored: bool


@dataclass(frozen=True)
class Iterate:
    r"""What the callback of :func:`minimize` receives after each accepted step.

    Attributes
    ----------
    x, fun, jac : array, float, array
        :math:`x_{k+1}`, :math:`f(x_{k+1})`, :math:`\nabla f(x_{k+1})`.
    nit, nfev : int
        Iterations and evaluations so far.
    x_prev, direction : array
        :math:`x_k` and :math:`d_k`, so that :math:`x_{k+1} = x_k + \alpha d_k`.
    step : StepRecord
    """

    x: Any
    fun: float
    jac: Any
    nit: int
    nfev: int
    x_prev: Any
    direction: Any
    step: StepRecord


@dataclass(frozen=True)
class LBFGSResult:
    """Outcome of :func:`minimize` (SciPy ``OptimizeResult`` field names).

    Attributes
    ----------
    x : array, shape (n,)
        Last accepted iterate, on the backend of ``x0``; always finite.
    fun : float
        :math:`f(x)`.
    jac : array, shape (n,)
        :math:`\\nabla f(x)`.
    nit : int
        Accepted steps.
    nfev : int
        Calls of ``fun``, the one at ``x0`` included.
    status : int
        0 converged, 1 iteration/evaluation limit, 2 no progress possible,
        3 stopped by the callback (:data:`STATUS_MESSAGES`).
    success : bool
        ``status == 0``.
    message : str
    trace : tuple of StepRecord
        One record per accepted step.
    """

    x: Any
    fun: float
    jac: Any
    nit: int
    nfev: int
    status: int
    success: bool
    message: str
    trace: tuple


def two_loop(grad: Any, s_hist: Any, y_hist: Any, rho: Any, order: Sequence[int],
             gamma: float = 1.0, *, xp: ModuleType | None = None):
    r"""Return :math:`H_k\, q` by the L-BFGS two-loop recursion (N&W Algorithm 7.4).

    Parameters
    ----------
    grad : array, shape (n,)
        The vector :math:`q` to multiply (usually :math:`\nabla f_k`).
    s_hist, y_hist : array, shape (m, n)
        Curvature pairs, one per row.
    rho : array, shape (m,)
        :math:`\rho_i = 1 / (y_i^\top s_i)` for the rows.
    order : sequence of int
        Rows holding valid pairs, oldest first (ring-buffer order).
    gamma : float, default 1.0
        Scale of :math:`H_k^0 = \gamma I`.
    xp : module, optional
        Namespace of the arrays.

    Returns
    -------
    r : array, shape (n,)
        :math:`H_k q`.

    Notes
    -----
    With pairs :math:`i = k-\ell, \dots, k-1` (:math:`\ell` = ``len(order)``):

    .. math::

        &\text{for } i = k-1, \dots, k-\ell:\quad
            a_i = \rho_i s_i^\top q,\quad q \leftarrow q - a_i y_i \\
        &r \leftarrow \gamma q \\
        &\text{for } i = k-\ell, \dots, k-1:\quad
            b = \rho_i y_i^\top r,\quad r \leftarrow r + (a_i - b) s_i

    It costs :math:`4\ell n` multiply-adds and two working vectors; the scalars
    :math:`a_i, b` stay on the device (no host transfer).
    """
    xp = array_namespace(grad, s_hist, y_hist) if xp is None else xp
    q = xp.asarray(grad, copy=True)
    coeffs = []
    for i in reversed(order):
        a = rho[i] * (s_hist[i, :] @ q)
        q -= a * y_hist[i, :]
        coeffs.append(a)
    q *= gamma  # r = H^0 q (N&W eq. 7.20 scaling chosen by the caller)
    for i, a in zip(order, reversed(coeffs)):
        b = rho[i] * (y_hist[i, :] @ q)
        q += (a - b) * s_hist[i, :]
    return q


def inverse_hessian(s_hist: Any, y_hist: Any, rho: Any, order: Sequence[int],
                    gamma: float = 1.0, *, xp: ModuleType | None = None):
    r"""Dense :math:`H_k` from the BFGS update recursion (N&W eq. 7.19), for tests.

    Starting from :math:`H = \gamma I`, each pair, oldest first, applies

    .. math::

        H \leftarrow V_i^\top H V_i + \rho_i s_i s_i^\top, \qquad
        V_i = I - \rho_i y_i s_i^\top,

    whose unrolled product is eq. (7.19). :math:`O(\ell n^3)`: small ``n`` only.
    Arguments are those of :func:`two_loop`; returns an ``(n, n)`` array.
    """
    xp = array_namespace(s_hist, y_hist) if xp is None else xp
    n = s_hist.shape[1]
    eye = xp.eye(n, dtype=s_hist.dtype)
    h = gamma * eye
    for i in order:
        s, y = s_hist[i, :], y_hist[i, :]
        v = eye - rho[i] * (y[:, None] * s[None, :])
        h = xp.matrix_transpose(v) @ h @ v + rho[i] * (s[:, None] * s[None, :])
    return h


class _History:
    r"""The ring buffer of curvature pairs, with :math:`\gamma_k` (N&W eq. 7.20).

    A pair is stored only when :math:`s^\top y > \epsilon\, y^\top y` with
    :math:`\epsilon` the machine epsilon of the dtype (2.2e-16 in float64): then
    :math:`\gamma = s^\top y / y^\top y > \epsilon` and every :math:`\rho_i > 0`, so
    :math:`H_k` stays positive definite.
    """

    def __init__(self, s_hist: Any, y_hist: Any, rho: Any, head: int, size: int, gamma: float,
                 xp: ModuleType):
        self.s_hist, self.y_hist, self.rho = s_hist, y_hist, rho
        self.head, self.size, self.gamma, self.xp = head, size, gamma, xp
        self.eps = float(xp.finfo(s_hist.dtype).eps)

    @classmethod
    def empty(cls, m: int, like: Any, xp: ModuleType) -> "_History":
        n = like.shape[0]
        zeros = lambda shape: xp.zeros(shape, dtype=like.dtype, device=like.device)  # noqa: E731
        return cls(zeros((m, n)), zeros((m, n)), zeros((m,)), 0, 0, 1.0, xp)

    def order(self) -> list[int]:
        m = self.s_hist.shape[0]
        return [(self.head - self.size + j) % m for j in range(self.size)]

    def reset(self) -> None:
        self.head, self.size, self.gamma = 0, 0, 1.0

    def direction(self, g: Any):
        r""":math:`d = -H_k g` (steepest descent :math:`-g` while the memory is empty)."""
        if self.size == 0:
            return -g
        return -two_loop(g, self.s_hist, self.y_hist, self.rho, self.order(), self.gamma,
                         xp=self.xp)

    def push(self, s: Any, y: Any) -> bool:
        """Store the pair in the oldest slot if it passes the curvature test."""
        sy, yy = float(s @ y), float(y @ y)
        if not sy > self.eps * yy:
            return False
        m = self.s_hist.shape[0]
        self.s_hist[self.head, :] = s
        self.y_hist[self.head, :] = y
        self.rho[self.head] = 1.0 / sy
        self.head = (self.head + 1) % m
        self.size = min(self.size + 1, m)
        self.gamma = sy / yy  # N&W eq. (7.20)
        return True


def _search(fun: Callable, x: Any, f: float, g: Any, history: _History, *, scale: float,
            c1: float, c2: float, maxls: int, budget: int, xp: ModuleType
            ) -> tuple[LineSearchResult, Any, int]:
    r"""One L-BFGS iteration's line search, retried once along :math:`-g` after a reset.

    The first trial step is ``scale`` (1 in :func:`minimize`), or ``scale / ||d||_2``
    while the memory is empty, so that the unscaled steepest-descent step has length
    ``scale`` (L-BFGS-B's first step [3]_). If the search fails with a non-empty memory,
    the memory is cleared and the search is repeated along :math:`-g`, as L-BFGS-B does.
    At most ``budget`` calls of ``fun`` in all. Returns (result, direction, calls).
    """
    used = 0
    while True:
        d = history.direction(g)
        dphi0 = float(g @ d)
        alpha0 = scale
        if history.size == 0:
            length = math.sqrt(float(d @ d))
            alpha0 = scale / length if length > 0.0 else scale
            alpha0 = alpha0 if math.isfinite(alpha0) else scale
        ls = line_search(fun, x, f, g, d, alpha0=alpha0, c1=c1, c2=c2,
                         maxls=min(maxls, budget - used), dphi0=dphi0, xp=xp)
        used += ls.nfev
        if ls.status == 0 or history.size == 0 or used >= budget:
            return ls, d, used
        history.reset()


def _check_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_tol(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not (value >= 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return value


def _check_x0(x0: Any) -> ModuleType:
    try:
        xp = array_namespace(x0)
    except TypeError as exc:
        raise TypeError(f"x0 must be an array of a supported backend: {exc}") from exc
    if x0.ndim != 1 or x0.shape[0] < 1:
        raise ValueError(f"x0 must be a non-empty 1-D array, got shape {tuple(x0.shape)}")
    if not xp.isdtype(x0.dtype, "real floating"):
        raise TypeError(f"x0 must have a real floating dtype, got {x0.dtype}")
    return xp


def _inf_norm(v: Any, xp: ModuleType) -> float:
    return float(xp.max(xp.abs(v)))


def minimize(fun: Callable[[Any], tuple[Any, Any]], x0: Any, *, m: int = 10, gtol: float = 1e-5,
             ftol: float = 2.2e-9, maxiter: int = 15000, maxfun: int = 15000, maxls: int = 20,
             c1: float = 1e-4, c2: float = 0.9,
             callback: Callable[[Iterate], Any] | None = None) -> LBFGSResult:
    r"""Minimise a smooth function by L-BFGS with a strong-Wolfe line search.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)``: the value (float or 0-d array) and gradient (an array of
        ``x``'s namespace and shape).
    x0 : array, shape (n,)
        Start point, real floating, any supported backend; iterates stay on it.
    m : int, default 10
        Number of curvature pairs kept (SciPy's ``maxcor``).
    gtol : float, default 1e-5
        Stop when :math:`\|\nabla f_k\|_\infty \le` ``gtol`` (SciPy's projected-gradient
        test without bounds).
    ftol : float, default 2.2e-9
        Stop when :math:`(f_k - f_{k+1}) / \max(|f_k|, |f_{k+1}|, 1) \le` ``ftol``
        (L-BFGS-B's ``factr * eps`` test, SciPy's default value).
    maxiter, maxfun : int, default 15000
        Limits on iterations and on calls of ``fun`` (SciPy's defaults).
    maxls : int, default 20
        Most calls of ``fun`` per line search.
    c1, c2 : float, default 1e-4, 0.9
        Wolfe constants, :math:`0 < c_1 < c_2 < 1`.
    callback : callable, optional
        Called as ``callback(Iterate)`` after every accepted step; returning ``True``
        stops the run with status 3.

    Returns
    -------
    LBFGSResult

    Raises
    ------
    TypeError
        ``x0`` not a real floating array of a supported backend; ``fun`` returning
        something other than ``(f, g)`` with ``g`` in ``x0``'s namespace.
    ValueError
        Bad ``m``/``maxiter``/``maxfun``/``maxls`` (positive ints), negative or
        non-finite tolerances, Wolfe constants outside :math:`0 < c_1 < c_2 < 1`,
        ``x0`` not 1-D, a gradient of the wrong shape, or NaN/inf in ``f`` or ``g``
        at ``x0``.

    Notes
    -----
    Iteration :math:`k` (N&W Algorithm 7.5):

    .. math::

        d_k = -H_k \nabla f_k, \qquad x_{k+1} = x_k + \alpha_k d_k, \qquad
        H_k^0 = \gamma_k I,\ \gamma_k = \frac{s_{k-1}^\top y_{k-1}}{y_{k-1}^\top y_{k-1}}
        \ \text{(eq. 7.20)},

    with :math:`\alpha_k` satisfying the strong Wolfe conditions. The first trial step
    is 1, except while the memory is empty (first iteration, or after a reset), where it
    is :math:`1/\|d_k\|_2` as in L-BFGS-B. A failed line search clears the memory and is
    retried along :math:`-\nabla f_k`; a second failure stops with status 2 at the last
    accepted iterate. Trial points where ``f`` or ``g`` is NaN/inf are backtracked from
    inside the line search.

    ``gtol=0`` and ``ftol=0`` are allowed: the run then goes on until ``maxiter`` (or
    ``maxfun``) unless the gradient is exactly zero, ``f`` stops decreasing, or no
    strong-Wolfe step can be found (status 2). RSO uses this to run exactly ``K``
    meta-iterations.

    .. warning::
       Differences from SciPy's L-BFGS-B: the line search is N&W's bracketing and zoom
       with :math:`c_1 = 10^{-4}` (L-BFGS-B uses Moré-Thuente's ``dcsrch`` with
       :math:`c_1 = 10^{-3}` and *accepts* a step on its warnings, so not every
       L-BFGS-B step satisfies the strong Wolfe conditions; here every one does). A
       pair is skipped when :math:`s^\top y \le \epsilon\, y^\top y`, whereas L-BFGS-B
       skips when :math:`s^\top y \le \epsilon\,(-\nabla f_k^\top s)`.

    Examples
    --------
    >>> import numpy as np
    >>> fun = lambda x: (float((x[0] - 1) ** 2 + 10 * (x[1] + 2) ** 2),
    ...                  np.array([2 * (x[0] - 1), 20 * (x[1] + 2)]))
    >>> res = minimize(fun, np.zeros(2))
    >>> res.success, np.round(res.x, 6).tolist()
    (True, [1.0, -2.0])
    """
    _check_int(m, "m")
    _check_int(maxiter, "maxiter")
    _check_int(maxfun, "maxfun")
    _check_int(maxls, "maxls")
    gtol, ftol = _check_tol(gtol, "gtol"), _check_tol(ftol, "ftol")
    c1, c2 = check_wolfe_constants(c1, c2)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {callback!r}")
    xp = _check_x0(x0)

    x = xp.asarray(x0, copy=True)
    f, g = evaluate(fun, x, xp=xp, where="at x0")
    if not (math.isfinite(f) and bool(xp.all(xp.isfinite(g)))):
        raise ValueError(f"fun returned a non-finite value or gradient at x0 (f={f})")
    nfev, nit = 1, 0
    history = _History.empty(m, x, xp)
    trace: list[StepRecord] = []
    reason = "gtol" if _inf_norm(g, xp) <= gtol else None

    while reason is None:
        if nit >= maxiter:
            reason = "maxiter"
            break
        if nfev >= maxfun:
            reason = "maxfun"
            break
        ls, d, used = _search(fun, x, f, g, history, scale=1.0, c1=c1, c2=c2, maxls=maxls,
                              budget=maxfun - nfev, xp=xp)
        nfev += used
        if ls.status != 0:
            reason = "maxfun" if nfev >= maxfun and ls.status == 1 else "linesearch"
            break
        stored = history.push(ls.x - x, ls.g - g)
        nit += 1
        step = StepRecord(nit, ls.alpha, f, ls.f, ls.dphi0, ls.dphi, used, stored)
        trace.append(step)
        x_prev, f_prev = x, f
        x, f, g = ls.x, ls.f, ls.g
        if _inf_norm(g, xp) <= gtol:
            reason = "gtol"
        elif f_prev - f <= ftol * max(abs(f_prev), abs(f), 1.0):
            reason = "ftol"
        if callback is not None and callback(Iterate(x, f, g, nit, nfev, x_prev, d, step)) is True \
                and reason is None:
            reason = "callback"

    status, message = STATUS_MESSAGES[reason]
    if reason == "linesearch":
        message = f"{message} ({ls.message})"
    return LBFGSResult(x=x, fun=f, jac=g, nit=nit, nfev=nfev, status=status,
                       success=status == 0, message=message, trace=tuple(trace))


@dataclass(frozen=True)
class LBFGS:
    r"""Full-batch L-BFGS as an optimizer with the library's ``init``/``step`` shape.

    Each :meth:`step` is one L-BFGS iteration of :func:`minimize` on the flattened
    parameters (:func:`rso_ref.tree.flatten`): direction :math:`d = -H g` by
    :func:`two_loop`, a strong-Wolfe line search using ``value_and_grad``, and the
    new curvature pair pushed into the memory.

    Parameters
    ----------
    m : int, default 10
        Curvature pairs kept.
    lr : float, default 1.0
        First trial step of each line search (divided by :math:`\|d\|_2` while the
        memory is empty), as ``lr`` in ``torch.optim.LBFGS``.
    max_linesearch : int, default 20
        Most oracle calls per line search (a reset retry may use as many again).
    c1, c2 : float, default 1e-4, 0.9
        Wolfe constants.

    Attributes
    ----------
    state : dict
        Returned by :meth:`init` and :meth:`step`, with the fixed keys

        ``"count"`` (int): steps taken; ``"s"``, ``"y"`` (array ``(m, n)``): the
        curvature pairs, one per row (ring buffer); ``"rho"`` (array ``(m,)``):
        :math:`1/(s_i^\top y_i)`; ``"head"`` (int): row the next pair goes to;
        ``"size"`` (int): valid rows; ``"gamma"`` (float): :math:`\gamma` of eq. 7.20;
        ``"nfev"`` (int): oracle calls made by all steps; ``"loss"`` (float): loss at the
        params returned by the last step (NaN before the first); ``"status"`` (int): the
        last line search's status (:data:`rso_ref.linesearch.LINESEARCH_MESSAGES`;
        nonzero means the params were left unchanged).

    Notes
    -----
    :meth:`step` is pure: it copies the ``(m, n)`` history before writing the new pair,
    so a state can be reused (at the cost of one copy of the history per step).

    Examples
    --------
    >>> import numpy as np
    >>> fn = lambda p: (float(p[0] @ p[0]), [2.0 * p[0]])
    >>> opt = LBFGS(m=5)
    >>> params = [np.array([3.0, -4.0])]
    >>> state = opt.init(params)
    >>> for _ in range(2):
    ...     params, state = opt.step(params, fn(params)[1], state, value_and_grad=fn)
    >>> bool(state["loss"] < 1e-20), state["count"]
    (True, 2)
    """

    m: int = 10
    lr: float = 1.0
    max_linesearch: int = 20
    c1: float = 1e-4
    c2: float = 0.9
    #: The training loop passes ``value_and_grad`` (and ``loss``) to :meth:`step`.
    needs_oracle: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_int(self.m, "m")
        _check_int(self.max_linesearch, "max_linesearch")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) \
                or not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")
        check_wolfe_constants(self.c1, self.c2)

    def init(self, params: Sequence) -> dict:
        """Empty history for ``params`` (a list of arrays of one namespace)."""
        flat = tree.flatten(list(params))
        xp = array_namespace(flat)
        history = _History.empty(self.m, flat, xp)
        return {"count": 0, "s": history.s_hist, "y": history.y_hist, "rho": history.rho,
                "head": 0, "size": 0, "gamma": 1.0, "nfev": 0, "loss": math.nan, "status": 0}

    def step(self, params: Sequence, grads: Sequence, state: dict, *,
             value_and_grad: Callable[[list], tuple[Any, list]], loss: float | None = None
             ) -> tuple[list, dict]:
        r"""One L-BFGS iteration.

        Parameters
        ----------
        params, grads : list of arrays
            Current parameters and :math:`\nabla L` there.
        state : dict
            From :meth:`init` or a previous :meth:`step`.
        value_and_grad : callable
            ``value_and_grad(params) -> (loss, grads)``, used by the line search.
        loss : float, optional
            :math:`L` at ``params``; when omitted it is computed by one extra call.

        Returns
        -------
        params, state
        """
        params, grads = list(params), list(grads)
        tree.check_like(grads, params)
        x, g = tree.flatten(params), tree.flatten(grads)
        xp = array_namespace(x, g)
        if tuple(state["s"].shape) != (self.m, x.shape[0]):
            raise ValueError(f"state holds a history of shape {tuple(state['s'].shape)}, "
                             f"expected {(self.m, x.shape[0])}")
        calls = 0
        if loss is None:
            loss, _ = value_and_grad(params)
            calls += 1
        loss = float(loss)
        if not math.isfinite(loss):
            raise ValueError(f"loss must be finite at params, got {loss}")

        def fun(v: Any) -> tuple[Any, Any]:
            value, grad_list = value_and_grad(tree.unflatten(v, params))
            return value, tree.flatten(list(grad_list))

        history = _History(xp.asarray(state["s"], copy=True), xp.asarray(state["y"], copy=True),
                           xp.asarray(state["rho"], copy=True), int(state["head"]),
                           int(state["size"]), float(state["gamma"]), xp)
        ls, _, used = _search(fun, x, loss, g, history, scale=float(self.lr), c1=self.c1,
                              c2=self.c2, maxls=self.max_linesearch,
                              budget=2 * self.max_linesearch, xp=xp)
        if ls.status == 0:
            history.push(ls.x - x, ls.g - g)
            params = tree.unflatten(ls.x, params)
        new_state = {"count": int(state["count"]) + 1, "s": history.s_hist,
                     "y": history.y_hist, "rho": history.rho, "head": history.head,
                     "size": history.size, "gamma": history.gamma,
                     "nfev": int(state["nfev"]) + calls + used, "loss": ls.f,
                     "status": ls.status}
        return params, new_state
