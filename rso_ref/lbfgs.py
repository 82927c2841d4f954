r"""Limited-memory BFGS: the two-loop recursion, the curvature memory and ``minimize``.

L-BFGS keeps the last :math:`m` curvature pairs :math:`s_i = x_{i+1} - x_i`,
:math:`y_i = \nabla f_{i+1} - \nabla f_i` and steps along :math:`d_k = -H_k \nabla
f_k`, where :math:`H_k` is the BFGS inverse-Hessian approximation built from those
pairs on top of :math:`H_k^0 = \gamma_k I` (N&W [1]_ §7.2; Liu and Nocedal [2]_). The
step length comes from the strong-Wolfe line search of :mod:`rso_ref.linesearch`, which keeps
:math:`s_k^\top y_k > 0` and so :math:`H_k` positive definite.

Conventions follow SciPy's ``minimize(method="L-BFGS-B")`` [3]_ without bounds (stopping
tests, defaults, ``nfev`` counting the evaluation at ``x0``) so results can be
compared with it; see :func:`minimize` for where and why this module differs.

Storage: the pairs live in two contiguous ``(m, n)`` arrays used as ring buffers (one
row per pair), with :math:`\rho_i = 1/(y_i^\top s_i)` in an ``(m,)`` array, so an
iteration allocates no history and the two-loop recursion streams rows of one block.
Rows are written with :func:`rso_ref.backend.put`: in place where arrays are writeable
(NumPy, CuPy, torch, array_api_strict), a functional update on JAX, whose arrays are
immutable.

Host and device. The iteration is driven from the host (its line search branches on
values), so it cannot run inside ``jax.jit`` (:func:`minimize` says so and what to
compile instead). Its array work is written once, as pure functions that JAX compiles
(:func:`rso_ref.backend.fused`): per iteration, the direction :math:`-H_k g` with
:math:`g^\top d` and :math:`\max|d|`; per trial, :math:`x + \alpha d`, and
:math:`(f, \max|g|, g^\top d)`; per step, the pair :math:`(s, y)`, its curvature test
and its masked write into the ring (the memory's buffers donated, so :math:`O(n)`, not
:math:`O(mn)`). So a JAX iteration costs about five dispatches and three transfers of a
few floats besides the oracle; on every other backend the same functions run operation
by operation, as before. Compiled code may contract ``a * b + c`` into a fused
multiply-add (XLA on the CPU does), one rounding instead of two: iterates on JAX then
differ from NumPy's in the last bits.

The pieces of one iteration, :class:`History` (the memory) and
:func:`line_search_with_reset` (the line search with its retry after a memory reset), are
public so that the full-batch optimizer :class:`rso_ref.optim.LBFGS` runs exactly the
iteration of :func:`minimize`.

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

import inspect
import math
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .backend import (array_namespace, check_concrete, committed, compiles, device, fused,
                      namespace, put, to_numpy)
from . import pytree, tree
from .backend.results import optimize_result
from .linesearch import (LineSearchResult, check_wolfe_constants, evaluate_array_oracle,
                         line_search)
from .objective import FlatLayout, ScalarObjective
from .validation import check_callable, check_int, check_nonnegative, check_positive

if TYPE_CHECKING:
    from .backend.results import OptimizeResult

__all__ = [
    "STATUS_MESSAGES",
    "StepRecord",
    "two_loop",
    "inverse_hessian",
    "InverseHessianProduct",
    "History",
    "line_search_with_reset",
    "line_model_decrease",
    "flat_search",
    "minimize",
]

#: Every way :func:`minimize` can stop: reason -> (status, message). Status 0 is
#: convergence (``"ftol_flat"``: a line search failed in the resolution of ``f``,
#: :func:`flat_search`; see :func:`minimize`, Notes), 1 a limit, 2 no further progress
#: possible, 99 a stop asked by the callback (SciPy's code for a callback that raised
#: :class:`StopIteration`).
STATUS_MESSAGES = {
    "gtol": (0, "converged: the inf-norm of the gradient is <= gtol"),
    "ftol": (0, "converged: the relative reduction of f is <= ftol"),
    "maxiter": (1, "stopped: maxiter iterations done"),
    "maxfun": (1, "stopped: maxfun evaluations of fun done"),
    "ftol_flat": (0, "converged: f is flat to within ftol (relative) along the search"),
    "linesearch": (2, "stopped: no strong-Wolfe step found, even along -g after a memory reset"),
    "nonfinite_x0": (2, "stopped: f or its gradient is NaN or inf at x0"),
    "callback": (99, "stopped: the callback raised StopIteration"),
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
    array, shape (n,)
        :math:`r = H_k q`.

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
    return _recursion(grad, s_hist, y_hist, rho, order, gamma, xp, _matmul)


def _matmul(a: Any, b: Any) -> Any:
    return a @ b


def _recursion(q: Any, s_hist: Any, y_hist: Any, rho: Any, order: Sequence, gamma: Any,
               xp: ModuleType, inner: Callable[[Any, Any], Any]) -> Any:
    """The two loops of :func:`two_loop`, with the inner product ``inner``."""
    q = xp.asarray(q, copy=True)
    coeffs = []
    for i in reversed(order):
        a = rho[i] * inner(s_hist[i, :], q)
        q -= a * y_hist[i, :]
        coeffs.append(a)
    q *= gamma  # r = H^0 q (N&W eq. 7.20 scaling chosen by the caller)
    for i, a in zip(order, reversed(coeffs)):
        b = rho[i] * inner(y_hist[i, :], q)
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

    Parameters
    ----------
    s_hist, y_hist : array, shape (m, n)
        Curvature pairs, one per row.
    rho : array, shape (m,)
        :math:`\rho_i = 1 / (y_i^\top s_i)` for the rows.
    order : sequence of int
        Rows holding valid pairs, oldest first.
    gamma : float, default 1.0
        Scale of :math:`H_k^0 = \gamma I`.
    xp : module, optional
        Namespace of the arrays.

    Returns
    -------
    array, shape (n, n)
        :math:`H_k`.
    """
    xp = array_namespace(s_hist, y_hist) if xp is None else xp
    n = s_hist.shape[1]
    eye = xp.eye(n, dtype=s_hist.dtype, device=device(s_hist))
    h = gamma * eye
    for i in order:
        s, y = s_hist[i, :], y_hist[i, :]
        v = eye - rho[i] * (y[:, None] * s[None, :])
        h = xp.matrix_transpose(v) @ h @ v + rho[i] * (s[:, None] * s[None, :])
    return h


class InverseHessianProduct:
    r"""The L-BFGS inverse-Hessian approximation :math:`H_k` as a linear operator.

    What :func:`minimize` returns as ``hess_inv`` (SciPy's ``LbfgsInvHessProduct``
    behaviour): a product :math:`H_k v` costs one :func:`two_loop` recursion,
    :meth:`todense` builds the matrix by eq. 7.19 (:func:`inverse_hessian`).

    Parameters
    ----------
    s_hist, y_hist : array, shape (l, n)
        The stored pairs, oldest first (copies: the operator never changes).
    rho : array, shape (l,)
        :math:`1/(y_i^\top s_i)`.
    gamma : float
        :math:`\gamma` of :math:`H^0 = \gamma I` (eq. 7.20; 1 with no pair).
    xp : module
        Namespace of the arrays.

    Attributes
    ----------
    shape : tuple of int
        ``(n, n)``.
    dtype
        The dtype of the pairs.

    Notes
    -----
    :math:`H_k` is symmetric positive definite (every stored pair has
    :math:`s^\top y > 0`), so ``H.T`` is ``H``. With no stored pair it is the identity.
    """

    def __init__(self, s_hist: Any, y_hist: Any, rho: Any, gamma: float, xp: ModuleType):
        self.s_hist, self.y_hist, self.rho, self.gamma, self.xp = s_hist, y_hist, rho, gamma, xp
        n = s_hist.shape[1]
        self.shape, self.dtype = (n, n), s_hist.dtype

    @classmethod
    def from_history(cls, history: "History") -> "InverseHessianProduct":
        """The operator of the pairs ``history`` holds now (copied, oldest first).

        Parameters
        ----------
        history : History
            The memory.

        Returns
        -------
        InverseHessianProduct
            :math:`H_k` of those pairs and of ``history.gamma``.
        """
        xp, order = history.xp, history.order()
        n = history.s_hist.shape[1]
        if not order:
            empty = xp.zeros((0, n), dtype=history.s_hist.dtype, device=device(history.s_hist))
            return cls(empty, empty, xp.zeros((0,), dtype=empty.dtype, device=device(empty)),
                       1.0, xp)
        rows = lambda a: xp.stack([a[i, ...] for i in order])  # noqa: E731
        return cls(rows(history.s_hist), rows(history.y_hist), rows(history.rho),
                   history.gamma, xp)

    @property
    def T(self) -> "InverseHessianProduct":  # noqa: N802 - the linear-operator name
        """The transpose: ``self`` (:math:`H_k` is symmetric)."""
        return self

    def matvec(self, v: Any):
        """:math:`H_k v` by one two-loop recursion.

        Parameters
        ----------
        v : array, shape (n,) or (n, 1)
            The vector, of the operator's namespace and device.

        Returns
        -------
        array, shape of ``v``
            :math:`H_k v`.

        Raises
        ------
        ValueError
            If ``v`` has another shape.
        """
        if tuple(v.shape) == (self.shape[0], 1):
            return self.xp.reshape(self.matvec(self.xp.reshape(v, (-1,))), (-1, 1))
        if tuple(v.shape) != (self.shape[0],):
            raise ValueError(f"v must have shape ({self.shape[0]},), got {tuple(v.shape)}")
        return two_loop(v, self.s_hist, self.y_hist, self.rho, range(self.s_hist.shape[0]),
                        self.gamma, xp=self.xp)

    def matmat(self, v: Any):
        """:math:`H_k V`, column by column.

        Parameters
        ----------
        v : array, shape (n, k)
            The matrix :math:`V`.

        Returns
        -------
        array, shape (n, k)
            :math:`H_k V`.

        Raises
        ------
        ValueError
            If ``v`` is not ``(n, k)``.
        """
        if v.ndim != 2 or v.shape[0] != self.shape[0]:
            raise ValueError(f"V must have shape ({self.shape[0]}, k), got {tuple(v.shape)}")
        return self.xp.stack([self.matvec(v[:, j]) for j in range(v.shape[1])], axis=1)

    def dot(self, v: Any):
        """:meth:`matvec` for a vector (or an ``(n, 1)`` column), :meth:`matmat` otherwise.

        Parameters
        ----------
        v : array, shape (n,), (n, 1) or (n, k)
            The vector or matrix.

        Returns
        -------
        array
            :math:`H_k v`, of the shape of ``v``.
        """
        return self.matvec(v) if v.ndim == 1 or tuple(v.shape) == (self.shape[0], 1) \
            else self.matmat(v)

    __matmul__ = dot
    __call__ = dot

    def todense(self):
        r"""The dense matrix, by eq. 7.19 (:func:`inverse_hessian`; :math:`O(\ell n^3)`).

        Returns
        -------
        array, shape (n, n)
            :math:`H_k`.
        """
        return inverse_hessian(self.s_hist, self.y_hist, self.rho, range(self.s_hist.shape[0]),
                               self.gamma, xp=self.xp)

    def __repr__(self) -> str:
        return (f"<{self.shape[0]}x{self.shape[1]} InverseHessianProduct of "
                f"{self.s_hist.shape[0]} pairs, dtype={self.dtype}>")


class History:
    r"""The L-BFGS memory: a ring buffer of curvature pairs and :math:`\gamma_k` (N&W eq. 7.20).

    Parameters
    ----------
    s_hist, y_hist : array, shape (m, n)
        Pair storage, one pair per row; updated by :meth:`push`, in place where the
        namespace's arrays are writeable, otherwise (JAX) replaced by a functional
        update whose compiled program reuses their buffers (donated: the arrays given
        here are deleted by the first push), so never share them with the caller.
    rho : array, shape (m,)
        :math:`\rho_i = 1/(s_i^\top y_i)` per row; updated like ``s_hist``.
    head : int
        Row the next pair goes to.
    size : int
        Number of valid rows, :math:`\le m`.
    gamma : float
        :math:`\gamma` of :math:`H^0 = \gamma I` (1 while the memory is empty).
    xp : module
        Namespace of the arrays.

    Notes
    -----
    A pair is stored only when :math:`s^\top y > \epsilon\, y^\top y` with
    :math:`\epsilon` the machine epsilon of the dtype (2.2e-16 in float64): then
    :math:`\gamma = s^\top y / y^\top y > \epsilon` and every :math:`\rho_i > 0`, so
    :math:`H_k` stays positive definite.

    Rows that hold no pair have :math:`\rho_i = 0` (:meth:`empty` makes them so and
    :meth:`reset` clears ``rho``). On JAX the recursion runs as one compiled program
    (:func:`rso_ref.backend.fused`) over all ``m`` rows in ring order, whose length
    cannot depend on ``size``: a row with :math:`\rho_i = 0` has :math:`a_i = b = 0` and
    leaves :math:`q` unchanged, so it acts as a mask and the result is the recursion over
    the valid rows. Elsewhere only the valid rows are visited.
    """

    def __init__(self, s_hist: Any, y_hist: Any, rho: Any, head: int, size: int, gamma: float,
                 xp: ModuleType):
        self.s_hist, self.y_hist, self.rho = s_hist, y_hist, rho
        self.head, self.size, self.gamma, self.xp = head, size, gamma, xp
        self.eps = float(xp.finfo(s_hist.dtype).eps)

    @classmethod
    def empty(cls, m: int, like: Any, xp: ModuleType) -> "History":
        r"""Return an empty memory of ``m`` pairs for vectors like ``like``.

        Parameters
        ----------
        m : int
            The number of pairs kept.
        like : array, shape (n,)
            A vector of the namespace, dtype and device of the iterates.
        xp : module
            Its namespace.

        Returns
        -------
        History
            Zero ``(m, n)`` histories, ``size = 0`` and :math:`\gamma = 1`.
        """
        n = like.shape[0]
        zeros = lambda shape: xp.zeros(shape, dtype=like.dtype, device=device(like))  # noqa: E731
        return cls(zeros((m, n)), zeros((m, n)), zeros((m,)), 0, 0, 1.0, xp)

    def order(self) -> list[int]:
        """Return the rows holding valid pairs, oldest first.

        Returns
        -------
        list of int
            Row indices into ``s_hist`` and ``y_hist``.
        """
        m = self.s_hist.shape[0]
        return [(self.head - self.size + j) % m for j in range(self.size)]

    def reset(self) -> None:
        """Forget every pair (``s_hist``/``y_hist`` keep their contents, ``rho`` is zeroed)."""
        self.head, self.size, self.gamma = 0, 0, 1.0
        self.rho = self.xp.zeros_like(self.rho)

    def direction(self, g: Any):
        r"""Return the L-BFGS direction :math:`d = -H_k g` (:math:`-g` while the memory is empty).

        Parameters
        ----------
        g : array, shape (n,)
            The gradient :math:`g = \nabla f_k`.

        Returns
        -------
        array, shape (n,)
            :math:`d`, by :func:`two_loop`.
        """
        if self.size == 0:
            return -g
        if compiles(self.xp):
            return _masked_direction(self.xp, g, self.s_hist, self.y_hist, self.rho,
                                     self.gamma, self.head)
        return -two_loop(g, self.s_hist, self.y_hist, self.rho, self.order(), self.gamma,
                         xp=self.xp)

    def push(self, s: Any, y: Any) -> bool:
        r"""Store a pair in the oldest slot if it passes the curvature test.

        The pair is kept when :math:`s^\top y > \varepsilon\, y^\top y` (machine epsilon of
        the dtype); it then sets :math:`\rho = 1/(s^\top y)` and
        :math:`\gamma = s^\top y / y^\top y` (N&W eq. 7.20).

        Parameters
        ----------
        s : array, shape (n,)
            The step :math:`s_k = x_{k+1} - x_k`.
        y : array, shape (n,)
            The gradient change :math:`y_k = \nabla f_{k+1} - \nabla f_k`.

        Returns
        -------
        bool
            Whether the pair was stored.
        """
        sy, yy = to_numpy(_pair_products(self.xp, s, y)).tolist()
        return self._store(s, y, sy, yy)

    def push_step(self, x_new: Any, x: Any, g_new: Any, g: Any) -> bool:
        r"""Form :math:`s = x_{k+1} - x_k`, :math:`y = g_{k+1} - g_k` and :meth:`push` them.

        Parameters
        ----------
        x_new, x : array, shape (n,)
            :math:`x_{k+1}` and :math:`x_k`.
        g_new, g : array, shape (n,)
            :math:`\nabla f_{k+1}` and :math:`\nabla f_k`.

        Returns
        -------
        bool
            Whether the pair was stored.
        """
        if compiles(self.xp):  # one program: the pair, its test, the masked row write
            self.s_hist, self.y_hist, self.rho, summary = _step_pair_stored(
                self.xp, self.s_hist, self.y_hist, self.rho, x_new, x, g_new, g, self.head,
                self.eps)
            sy, yy, kept = to_numpy(summary).tolist()
            return bool(kept) and self._advance(sy, yy)
        s, y, products = _step_pair(self.xp, x_new, x, g_new, g)
        sy, yy = to_numpy(products).tolist()
        return self._store(s, y, sy, yy)

    def direction_summary(self, g: Any) -> tuple[Any, list[float]]:
        r"""Return :math:`d = -H_k g` with :math:`g^\top d` and :math:`\max_i |d_i|` (floats).

        While the memory is empty, :math:`d^\top d` is appended (the first step's length
        is :math:`1/\|d\|_2`). The floats come to the host in one transfer; on JAX the
        direction and its summary are one compiled program.

        Parameters
        ----------
        g : array, shape (n,)
            The gradient.

        Returns
        -------
        d : array, shape (n,)
            :meth:`direction`.
        summary : list of float
            ``[g @ d, max|d|]``, and ``d @ d`` when ``size == 0``.
        """
        if compiles(self.xp) and self.size > 0:
            d, summary = _masked_direction_summary(self.xp, g, self.s_hist, self.y_hist,
                                                   self.rho, self.gamma, self.head)
        else:
            d = self.direction(g)
            summary = _direction_summary(self.xp, g, d, self.size == 0)
        return d, to_numpy(summary).tolist()

    def _store(self, s: Any, y: Any, sy: float, yy: float) -> bool:
        if not sy > self.eps * yy:
            return False
        self.s_hist, self.y_hist, self.rho = _stored(self.xp, self.s_hist, self.y_hist, self.rho,
                                                     s, y, 1.0 / sy, self.head)
        return self._advance(sy, yy)

    def _advance(self, sy: float, yy: float) -> bool:
        r"""After a pair went into row ``head``: move the ring on and set :math:`\gamma`."""
        m = self.s_hist.shape[0]
        self.head = (self.head + 1) % m
        self.size = min(self.size + 1, m)
        self.gamma = sy / yy  # N&W eq. (7.20)
        return True


@fused()
def _masked_direction(xp: ModuleType, g: Any, s_hist: Any, y_hist: Any, rho: Any, gamma: Any,
                      head: Any) -> Any:
    """:math:`-H_k g` over all rows in ring order, oldest first (see :class:`History`, Notes).

    The inner products are ``sum(a * b)``: XLA's CPU backend streams a row through a fused
    product and sum about twice as fast as through its dot of a dynamically indexed row
    (3.4 against 6.2 ms for the ten pairs at n = 1e5; NumPy's BLAS takes 2.3 ms).
    """
    m = s_hist.shape[0]
    return -_recursion(g, s_hist, y_hist, rho, [(head + j) % m for j in range(m)], gamma, xp,
                       lambda a, b: xp.sum(a * b))


@fused()
def _pair_products(xp: ModuleType, s: Any, y: Any) -> Any:
    r""":math:`(s^\top y, y^\top y)`."""
    return xp.stack([s @ y, y @ y])


@fused()
def _step_pair(xp: ModuleType, x_new: Any, x: Any, g_new: Any, g: Any) -> tuple:
    r""":math:`s = x_{k+1} - x_k`, :math:`y = g_{k+1} - g_k` and :math:`(s^\top y, y^\top y)`."""
    s, y = x_new - x, g_new - g
    return s, y, _pair_products(xp, s, y)


@fused()
def _masked_direction_summary(xp: ModuleType, g: Any, s_hist: Any, y_hist: Any, rho: Any,
                              gamma: Any, head: Any) -> tuple:
    """:func:`_masked_direction` and its :func:`_direction_summary`, one program."""
    d = _masked_direction(xp, g, s_hist, y_hist, rho, gamma, head)
    return d, _direction_summary(xp, g, d, False)


@fused(donate_argnames=("s_hist", "y_hist", "rho"))
def _step_pair_stored(xp: ModuleType, s_hist: Any, y_hist: Any, rho: Any, x_new: Any, x: Any,
                      g_new: Any, g: Any, row: Any, eps: Any) -> tuple:
    r"""The pair of a step, written into ``row`` if :math:`s^\top y > \epsilon\, y^\top y`.

    A masked write (the row gets its old contents back when the test fails), so that the
    program does not depend on the test; returns the memory and
    :math:`(s^\top y, y^\top y, \text{kept})`.
    """
    s, y, products = _step_pair(xp, x_new, x, g_new, g)
    sy, yy = products[0], products[1]
    keep = sy > eps * yy
    s_hist, y_hist, rho = _stored(xp, s_hist, y_hist, rho, xp.where(keep, s, s_hist[row, :]),
                                  xp.where(keep, y, y_hist[row, :]),
                                  xp.where(keep, 1.0 / sy, rho[row]), row)
    return s_hist, y_hist, rho, xp.stack([sy, yy, xp.astype(keep, sy.dtype)])


@fused(donate_argnames=("s_hist", "y_hist", "rho"))
def _stored(xp: ModuleType, s_hist: Any, y_hist: Any, rho: Any, s: Any, y: Any, rho_value: Any,
            row: Any) -> tuple:
    """The memory with the pair in ``row``: in place on NumPy, one program on JAX."""
    return (put(s_hist, (row, slice(None)), s), put(y_hist, (row, slice(None)), y),
            put(rho, row, rho_value))


def line_search_with_reset(fun: Callable, x: Any, f: float, g: Any, history: History, *,
                           scale: float, c1: float, c2: float, maxls: int, budget: int,
                           xp: ModuleType, name: str = "fun", flat_tol: float | None = None,
                           accept_fallback: bool = False) -> tuple[LineSearchResult, Any, int]:
    r"""The line search of one L-BFGS iteration, retried once along :math:`-g` after a reset.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)`` on flat vectors.
    x : array, shape (n,)
        Current point.
    f : float
        :math:`f(x)`.
    g : array, shape (n,)
        :math:`\nabla f(x)`.
    history : History
        The memory; cleared (:meth:`History.reset`) when the first search fails.
    scale : float
        First trial step (1 in :func:`minimize`), or ``scale / ||d||_2`` while the
        memory is empty, so that the steepest-descent step has length ``scale``
        (L-BFGS-B's first step, ref. [3] of the module).
    c1, c2 : float
        Wolfe constants (already checked).
    maxls : int
        Most calls of ``fun`` per line search.
    budget : int
        Most calls of ``fun`` in all (both searches).
    xp : module
        Namespace of ``x``.
    name : str, default "fun"
        Name of ``fun`` in error messages.
    flat_tol : float, optional
        When given, a failed first search that is flat to this resolution
        (:func:`flat_search`) is not retried: along :math:`-g` the decrease ``f`` can
        still show is below the resolution as well, while the retry's first step (of
        length ``scale``) lands far from :math:`x`.
    accept_fallback : bool, default False
        Take a failed search's lowest sufficient-decrease trial
        (:attr:`rso_ref.linesearch.LineSearchResult.fallback`) as the step instead of
        retrying: for gradients that are estimates (finite differences), whose error
        can keep the curvature condition from ever holding.

    Returns
    -------
    result : LineSearchResult
        The last search; ``status != 0`` when no strong-Wolfe step was found.
    direction : array, shape (n,)
        The direction of ``result``.
    calls : int
        Calls of ``fun`` made.

    Notes
    -----
    If the search fails with a non-empty memory, the memory is cleared and the search is
    repeated along :math:`-g`, as L-BFGS-B does.
    """
    used = 0
    while True:
        first = history.size == 0
        d, (dphi0, d_max, *squared_length) = history.direction_summary(g)
        alpha0 = scale
        if first:
            length = math.sqrt(squared_length[0])
            alpha0 = scale / length if length > 0.0 else scale
            alpha0 = alpha0 if math.isfinite(alpha0) else scale
        ls = line_search(fun, x, f, g, d, alpha0=alpha0, c1=c1, c2=c2,
                         maxls=min(maxls, budget - used), dphi0=dphi0, d_max=d_max, xp=xp,
                         name=name)
        used += ls.nfev
        if ls.status != 0 and accept_fallback and ls.fallback is not None:
            return ls.fallback, d, used
        if ls.status == 0 or history.size == 0 or used >= budget \
                or (flat_tol is not None and flat_search(ls, f, flat_tol)):
            return ls, d, used
        history.reset()


@fused(static_argnames=("with_length",))
def _direction_summary(xp: ModuleType, g: Any, d: Any, with_length: bool) -> Any:
    r""":math:`(g^\top d, \max_i |d_i|)`, and :math:`d^\top d` ``with_length``; one transfer."""
    parts = [g @ d, xp.max(xp.abs(d))]
    if with_length:
        parts.append(d @ d)
    return xp.stack(parts)


def _as_start(x0: Any) -> tuple[Any, FlatLayout]:
    """``x0`` as a flat copy, and the layout that gives ``fun`` its shape or structure.

    An array of a supported backend is raveled as is. A pytree of arrays (one namespace
    and device) is raveled leaf by leaf and concatenated in :func:`rso_ref.pytree.flatten`
    order, in the ``xp.result_type`` of its leaves. A list, tuple or number of Python
    numbers is a NumPy float64 array.
    """
    try:
        leaves, treedef = pytree.flatten(x0, "x0")
    except TypeError as exc:
        if not isinstance(x0, (list, tuple, int, float)) or isinstance(x0, bool):
            raise TypeError(f"x0 must be an array of a supported backend, a pytree of arrays, "
                            f"a list or a real number: {exc}") from exc
        try:
            x0 = namespace("numpy").asarray(x0, dtype=namespace("numpy").float64)
        except (TypeError, ValueError) as exc2:
            raise TypeError(f"x0 must be an array of real numbers: {exc2}") from exc2
        leaves, treedef = [x0], None
    if not leaves:
        raise ValueError("x0 must have at least one element, got a pytree without arrays")
    check_concrete(leaves, ["x0"] if treedef is None or treedef.kind == "leaf" else
                   [f"x0 leaf {path!r}" for path in treedef.paths], "minimize",
                   "Compile fun instead and call minimize eagerly: "
                   "minimize(jax.jit(jax.value_and_grad(f)), x0) takes it as is, and the "
                   "iteration's own array work runs as compiled pieces (rso_ref.backend.fused).")
    xp = array_namespace(leaves, names=["x0"])
    shapes = tuple(tuple(leaf.shape) for leaf in leaves)
    if sum(math.prod(shape) for shape in shapes) < 1:
        raise ValueError(f"x0 must have at least one element, got shape "
                         f"{shapes[0] if len(shapes) == 1 else shapes}")
    if treedef is None or treedef.kind == "leaf":
        if not xp.isdtype(x0.dtype, "real floating"):
            raise TypeError(f"x0 must have a real floating dtype, got {x0.dtype}")
        flat = xp.reshape(xp.asarray(x0, copy=True), (-1,))
        return committed(xp, [flat])[0], FlatLayout(xp, shapes)  # one placement: one program
    for leaf, path in zip(leaves, treedef.paths):
        if not xp.isdtype(leaf.dtype, "real floating"):
            raise TypeError(f"x0 leaf {path!r} must have a real floating dtype, got {leaf.dtype}")
    dtype = xp.result_type(*leaves)
    flat = tree.flatten([xp.astype(leaf, dtype) for leaf in leaves])
    return committed(xp, [flat])[0], FlatLayout(xp, shapes, treedef)


def flat_search(ls: LineSearchResult, f: float, tol: float) -> bool:
    r"""Whether a failed line search ran into the resolution of ``f``.

    True when its last (shortest) trial lies within ``tol`` of :math:`f(x)`, and no trial
    lies more than ``tol`` below it: along this direction ``f`` cannot be lowered by
    more than ``tol``, at least not by this search. :func:`minimize` uses
    :math:`\text{tol} = \text{ftol}\cdot\max(|f|, 1)`, the reduction L-BFGS-B's
    ``ftol`` test calls no progress.

    Parameters
    ----------
    ls : LineSearchResult
        A search that failed.
    f : float
        :math:`f` at its start.
    tol : float
        The resolution, :math:`\ge 0`.

    Returns
    -------
    bool
        False also when no trial was made or the last one was NaN or inf.
    """
    values = ls.info.values
    return bool(values) and abs(values[-1] - f) <= tol and not any(v < f - tol for v in values)


def _inf_norm(v: Any, xp: ModuleType) -> float:
    return float(xp.max(xp.abs(v)))


def line_model_decrease(alpha: float, dphi0: float, dphi: float) -> float:
    r"""Decrease of :math:`f` that an exact line search along :math:`d` would have given.

    The quadratic model :math:`q(t) = \phi(0) + \phi'(0)\, t + \tfrac12 \kappa t^2` with
    the secant curvature :math:`\kappa = (\phi'(\alpha) - \phi'(0)) / \alpha` of the
    accepted step has its minimum at :math:`t^* = -\phi'(0)/\kappa`, where it lies

    .. math::

        D^* = \frac{\phi'(0)^2}{2\kappa} = \frac{\alpha\, \phi'(0)^2}{2\,(\phi'(\alpha) - \phi'(0))}

    below :math:`\phi(0)` (exact when :math:`f` is quadratic). A strong-Wolfe step has
    :math:`\phi'(\alpha) \ge -c_2 |\phi'(0)| > \phi'(0)`, so :math:`\kappa > 0`;
    ``inf`` is returned otherwise.

    Parameters
    ----------
    alpha : float
        The accepted step :math:`\alpha`.
    dphi0 : float
        :math:`\phi'(0)`.
    dphi : float
        :math:`\phi'(\alpha)`.

    Returns
    -------
    float
        :math:`D^*`, or ``inf``.
    """
    kappa = (dphi - dphi0) / alpha
    return dphi0 * dphi0 / (2.0 * kappa) if kappa > 0.0 else math.inf


def _stop_requested(callback: Callable, *args: Any, **kwargs: Any) -> bool:
    """Call ``callback(*args, **kwargs)`` under the one stop rule of rso_ref's callbacks.

    SciPy's rule, used by :func:`minimize` and :func:`rso_ref.train.train`: a callback
    returns None, and raises :class:`StopIteration` to stop the run (True is returned
    then). A callback that returns anything else raises ``TypeError``: an old
    ``return True`` meant "stop" in some libraries, and is neither ignored nor obeyed.
    """
    try:
        returned = callback(*args, **kwargs)
    except StopIteration:
        return True
    if returned is not None:
        raise TypeError(f"callback returned {returned!r}; a callback must return None and "
                        f"raise StopIteration to stop the run (SciPy's rule)")
    return False


def _callback_caller(callback: Callable | None) -> Callable[[OptimizeResult], bool] | None:
    """Call ``callback`` the way SciPy does: by keyword with the record, or with ``x``;
    the caller returns whether it asked to stop (:func:`_stop_requested`)."""
    if callback is None:
        return None
    check_callable(callback, "callback")
    try:
        parameters = set(inspect.signature(callback).parameters)
    except (TypeError, ValueError):  # a builtin without a signature: the x form
        parameters = set()
    if parameters == {"intermediate_result"}:
        return lambda record: _stop_requested(callback, intermediate_result=record)
    return lambda record: _stop_requested(callback, record.x)


def _iteration_limit(maxiter: Any) -> int:
    """``maxiter`` as an int: an integer as is, a finite real rounded up (SciPy's test)."""
    if isinstance(maxiter, (int, bool)) or hasattr(maxiter, "__index__"):
        return check_int(maxiter, "maxiter", minimum=1)
    value = check_positive(maxiter, "maxiter")
    if not math.isfinite(value):
        raise ValueError(f"maxiter must be finite, got {maxiter!r}")
    return math.ceil(value)


def _tolerance(value: Any, tol: Any, default: float, name: str) -> float:
    if value is not None:
        return check_nonnegative(value, name)
    return default if tol is None else check_nonnegative(tol, "tol")


def minimize(fun: Callable[..., Any], x0: Any, args: tuple = (), *, jac: Any = True,
             callback: Callable | None = None, tol: float | None = None, m: int = 10,
             maxcor: int | None = None, gtol: float | None = None, ftol: float | None = None,
             maxiter: int = 15000, maxfun: int = 15000, maxls: int = 20, c1: float = 1e-4,
             c2: float = 0.9, eps: float = 1e-8,
             finite_diff_rel_step: float | None = None) -> OptimizeResult:
    r"""Minimise a smooth function by L-BFGS with a strong-Wolfe line search.

    The interface is ``scipy.optimize.minimize(method="L-BFGS-B")``'s without bounds
    (see the warning below for the one default that differs, ``jac``).

    Parameters
    ----------
    fun : callable
        ``fun(x, *args)``: with ``jac=True`` it returns ``(f, g)``, the value (a real
        scalar: float, 0-d or size-1 array) and the gradient (an array of ``x``'s
        namespace and shape, real floating; for a pytree ``x0``, a pytree of its
        structure and leaf shapes); otherwise it returns ``f`` only. It always
        gets a fresh copy of the iterate, and the gradient it returns is copied, so it
        may write into its argument or reuse one gradient buffer.
    x0 : array_like or pytree of arrays
        Start point of any shape: an array of any supported backend (real floating;
        iterates stay on its backend and device), or a list, tuple or number (taken as
        a NumPy float64 array). ``x``, ``jac`` and the callback's ``x`` have its shape.
        Or a pytree of arrays of one namespace and device (a dict of a weight matrix and
        a bias, say; :mod:`rso_ref.pytree`): the iterate is the concatenation of its
        raveled leaves, in the ``xp.result_type`` of the leaves (float32 and float64
        leaves iterate in float64), and ``fun``, ``jac``, the callback, ``x`` and
        ``jac`` of the result have its structure and leaf shapes, every leaf in that
        dtype. A list whose entries are arrays is such a pytree.
    args : tuple, optional
        Extra arguments of ``fun`` and ``jac`` (a lone non-tuple value is wrapped).
    jac : {True, None, "2-point", "3-point"} or callable, default True
        ``True``: ``fun`` returns ``(f, g)``. A callable: ``jac(x, *args) -> g``.
        ``None``: forward differences with the absolute step ``eps`` (SciPy's L-BFGS-B
        default). ``"2-point"``/``"3-point"``: forward/central differences with the
        relative step ``finite_diff_rel_step`` (:mod:`rso_ref.numdiff`).
    callback : callable, optional
        Called after every accepted step, as ``callback(intermediate_result=res)`` when
        its only parameter is named ``intermediate_result`` (``res`` an
        ``OptimizeResult`` with ``x, fun, jac, nit, nfev`` and this module's extras
        ``x_prev``, ``direction``, ``step``, a :class:`StepRecord`), else as
        ``callback(x)`` with a copy of the iterate. Raising :class:`StopIteration`
        stops the run with status 99 (SciPy's rule, the one of every callback in
        rso_ref); the callback returns None, anything else raises ``TypeError``.
    tol : float, optional
        Sets both ``gtol`` and ``ftol`` where they are not given (SciPy's ``tol``).
    m : int, default 10
        Number of curvature pairs kept; ``maxcor`` is SciPy's name for it.
    maxcor : int, optional
        Same as ``m`` (give one of them).
    gtol : float, default 1e-5
        Stop when :math:`\|\nabla f_k\|_\infty \le` ``gtol`` (SciPy's projected-gradient
        test without bounds).
    ftol : float, default 2.2e-9
        Stop when :math:`(f_k - f_{k+1}) / \max(|f_k|, |f_{k+1}|, 1) \le` ``ftol``
        (L-BFGS-B's ``factr * eps`` test, SciPy's default value) and an exact line search
        along :math:`d_k` would not have done better (see Notes).
    maxiter : int, default 15000
        Most iterations. A real number is accepted and rounded up (SciPy stops when
        ``nit >= maxiter``, so ``100.1`` allows 101).
    maxfun : int, default 15000
        Most calls of ``fun`` (finite-difference calls included, as in SciPy). A line
        search is never started that could exceed it.
    maxls : int, default 20
        Most trial points per line search.
    c1, c2 : float, default 1e-4, 0.9
        Wolfe constants, :math:`0 < c_1 < c_2 < 1`.
    eps : float, default 1e-8
        Absolute step of the forward differences of ``jac=None``.
    finite_diff_rel_step : float, optional
        Relative step of ``jac="2-point"``/``"3-point"`` (default :math:`\sqrt\epsilon`
        / :math:`\epsilon^{1/3}`).

    Returns
    -------
    scipy.optimize.OptimizeResult
        SciPy's result record (a ``dict`` whose keys are also attributes:
        ``res.x`` or ``res["x"]``) with

        x : array, shape of ``x0``, or pytree of arrays
            Last accepted iterate, on the backend and device of ``x0``, in its shape
            or structure.
        fun : float
            :math:`f(x)`.
        jac : array, shape of ``x0``, or pytree of arrays
            :math:`\nabla f(x)` (the finite-difference estimate with a difference
            scheme), in the shape or structure of ``x0``.
        nit : int
            Accepted steps.
        nfev : int
            Calls of ``fun``, the one at ``x0`` and finite-difference calls included.
        njev : int
            Gradient evaluations (calls of ``fun`` with ``jac=True``, of ``jac`` when it
            is callable, finite-difference gradients otherwise).
        status : int
            0 converged, 1 iteration/evaluation limit, 2 no progress possible (or
            ``f``/``g`` not finite at ``x0``), 99 the callback raised
            :class:`StopIteration` (:data:`STATUS_MESSAGES`).
        success : bool
            ``status == 0``.
        message : str
            The text of :data:`STATUS_MESSAGES` for the reason of the stop.
        hess_inv : InverseHessianProduct
            :math:`H_k` of the last memory as a linear operator of flat vectors
            (``hess_inv @ v``, ``hess_inv.todense()``), also for a pytree ``x0``: ``v``
            is then the concatenation of raveled leaves in
            :func:`rso_ref.pytree.flatten` order.
        trace : tuple of StepRecord
            One record per accepted step.

        SciPy is imported when the result is built (the first call), never when this
        module is imported.

    Raises
    ------
    TypeError
        An option of the wrong type (``m``, ``maxiter``, ``maxfun``, ``maxls`` not ints;
        tolerances or Wolfe constants not real numbers; ``callback`` not callable);
        ``x0`` neither a real floating array of a supported backend, nor a pytree of
        real floating arrays (a bad leaf's path is named), nor a list or number;
        ``fun`` not returning a pair with ``jac=True``, ``f`` not a real scalar (``None``,
        a string, a list, an array of more than one element), or ``g`` not an array of
        ``x0``'s namespace with a real floating dtype; a ``callback`` that returns
        something other than None (SciPy ignores it; raise :class:`StopIteration` to
        stop).
    ValueError
        ``m``/``maxiter``/``maxfun``/``maxls`` below 1, ``m`` and ``maxcor`` both given
        and different, negative or non-finite tolerances, Wolfe constants outside
        :math:`0 < c_1 < c_2 < 1`, an unknown ``jac``, an empty ``x0``, a gradient of
        the wrong shape (or, for a pytree ``x0``, not of its structure), leaves of
        ``x0`` on two devices.

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
    retried along :math:`-\nabla f_k`; a second failure stops at the last accepted
    iterate with status 2. With a finite-difference ``jac`` a failed search whose trials
    include points of sufficient decrease takes the lowest of them as the step instead
    (no reset): the gradient's error can keep the curvature condition from ever
    holding, and L-BFGS-B likewise takes its search's point on a warning; such a step
    satisfies sufficient decrease only. Except where the failed search ran into the resolution of
    ``f`` (:func:`flat_search`): its shortest trial within :math:`\tau =
    \text{ftol}\cdot\max(|f_k|, 1)` of :math:`f_k` and none lower than
    :math:`f_k - \tau`. Any step this search could still accept would pass L-BFGS-B's
    reduction test (a decrease of at most :math:`\tau`), so the run stops as converged by
    that test (status 0, reason ``"ftol_flat"``),
    without the retry along :math:`-\nabla f_k` (whose first step, of length 1, lands far
    away). That is how a run on finite-difference gradients ends at the minimum, where
    their error (about :math:`\sqrt\epsilon` relative) leaves :math:`-\hat g` no
    descent direction; L-BFGS-B ends such runs by accepting its search's point on a
    warning and then stopping by its ftol test. A search whose trials are NaN, or lie
    far above :math:`f_k` at its shortest step (a wrong gradient), stays a failure, as in
    SciPy. With ``ftol=0`` (RSO) a failed search stays status 2.
    Trial points where ``f`` or ``g`` is NaN/inf are backtracked from inside the line
    search. NaN or inf in ``f`` or ``g`` at ``x0`` returns at once
    with status 2 and a message naming it (SciPy's behaviour; the library's own
    optimizers raise :class:`rso_ref.validation.NonFiniteError` instead).

    The ``ftol`` test. L-BFGS-B stops at the first step whose reduction
    :math:`\Delta_k = f_k - f_{k+1}` is at most ``ftol`` times
    :math:`s_k = \max(|f_k|, |f_{k+1}|, 1)`. Here such a step stops the run only if
    also :math:`\Delta_k \le 0` or the decrease :math:`D^*_k` of an exact line search
    along :math:`d_k`
    (:func:`line_model_decrease`, from numbers the line search already has) is at most
    ``ftol`` :math:`s_k`. So a step that the Wolfe conditions accept far from the line
    minimum (with :math:`c_2 = 0.9` a step may get as little as 19% of :math:`D^*` on a
    quadratic) does not pass for convergence. On ill-conditioned quadratics (condition
    number :math:`10^4`-:math:`10^8`) L-BFGS decreases :math:`f` by only a few ``ftol``
    per iteration for hundreds of iterations, and the one-step test stopped on such a
    step at values up to :math:`2 \cdot 10^{-6}` relative above SciPy's, whose stop is
    as much a matter of chance (both solvers need the same evaluations to reach a given
    accuracy). The refinement costs no evaluation and changes no stop on the reference
    problems of the tests. Once a step has passed L-BFGS-B's test, a later stop by a
    limit or a failed line search is reported as ``ftol`` convergence (``f`` has only
    decreased since), so a run never reports less than L-BFGS-B's test would. With an
    ``ftol`` near the rounding of ``f`` (say 1e-15) the run may go on in rounding noise
    until such a stop. With ``ftol=0`` (RSO) the test is :math:`\Delta_k \le 0`, which
    always stops, as before.

    ``gtol=0`` and ``ftol=0`` are allowed: the run then goes on until ``maxiter`` (or
    ``maxfun``) unless the gradient is exactly zero, ``f`` stops decreasing, or no
    strong-Wolfe step can be found (status 2). RSO uses this to run exactly ``K``
    meta-iterations.

    Bounds are out of scope: for box constraints use
    ``scipy.optimize.minimize(method="L-BFGS-B", bounds=...)``.

    .. warning::
       ``jac`` defaults to ``True`` (``fun`` returns ``(f, g)``, the library's oracle
       convention), where SciPy's default ``None`` means finite differences: pass
       ``jac=None`` for a ``fun`` that returns ``f`` only. Differences from SciPy's
       L-BFGS-B: the line search is N&W's bracketing and zoom
       with :math:`c_1 = 10^{-4}` (L-BFGS-B uses Moré-Thuente's ``dcsrch`` with
       :math:`c_1 = 10^{-3}` and *accepts* a step on its warnings, so not every
       L-BFGS-B step satisfies the strong Wolfe conditions; here every one does with
       an exact gradient, see Notes for finite differences). A
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
    >>> res["nfev"] == res.njev
    True
    >>> from scipy.optimize import rosen
    >>> res = minimize(rosen, [-1.2, 1.0], jac="3-point")
    >>> res.success, np.round(res.x, 4).tolist()
    (True, [1.0, 1.0])
    """
    if maxcor is not None:
        maxcor = check_int(maxcor, "maxcor", minimum=1)
        if m != 10 and m != maxcor:
            raise ValueError(f"m and maxcor name the same option; got m={m}, maxcor={maxcor}")
        m = maxcor
    m, maxiter = check_int(m, "m", minimum=1), _iteration_limit(maxiter)
    maxfun, maxls = check_int(maxfun, "maxfun", minimum=1), check_int(maxls, "maxls", minimum=1)
    gtol = _tolerance(gtol, tol, 1e-5, "gtol")
    ftol = _tolerance(ftol, tol, 2.2e-9, "ftol")
    eps = check_positive(eps, "eps")
    if finite_diff_rel_step is not None:
        finite_diff_rel_step = check_positive(finite_diff_rel_step, "finite_diff_rel_step")
    c1, c2 = check_wolfe_constants(c1, c2)
    notify = _callback_caller(callback)
    x, layout = _as_start(x0)  # a flat copy of x0
    xp = layout.xp
    objective = ScalarObjective(fun, jac, args, layout, eps=eps,
                                finite_diff_rel_step=finite_diff_rel_step)
    shaped = layout.shaped  # a flat vector in x0's shape or pytree structure

    f, g = evaluate_array_oracle(objective, x, xp=xp, where="at x0")
    nit = 0
    history = History.empty(m, x, xp)
    trace: list[StepRecord] = []
    if not (math.isfinite(f) and bool(xp.all(xp.isfinite(g)))):
        reason = "nonfinite_x0"
    else:
        reason = "gtol" if _inf_norm(g, xp) <= gtol else None
    passed = False  # L-BFGS-B's ftol test held at some step

    while reason is None:
        if nit >= maxiter:
            reason = "maxiter"
            break
        budget = (maxfun - objective.nfev) // objective.cost
        if budget < 1:
            reason = "maxfun"
            break
        flat_tol = ftol * max(abs(f), 1.0) if ftol > 0.0 else None
        ls, d, used = line_search_with_reset(objective, x, f, g, history, scale=1.0, c1=c1,
                                             c2=c2, maxls=maxls, budget=budget, xp=xp,
                                             flat_tol=flat_tol,
                                             accept_fallback=objective.estimated)
        if ls.status != 0:
            reason = "maxfun" if used >= budget and ls.status == 1 else "linesearch"
            if flat_tol is not None and flat_search(ls, f, flat_tol):
                reason = "ftol_flat"  # the search ran into the resolution of f
            break
        stored = history.push_step(ls.x, x, ls.g, g)
        nit += 1
        step = StepRecord(nit, ls.alpha, f, ls.f, ls.dphi0, ls.dphi, used, stored)
        trace.append(step)
        x_prev, f_prev = x, f
        x, f, g = ls.x, ls.f, ls.g
        tol_f = ftol * max(abs(f_prev), abs(f), 1.0)
        small = f_prev - f <= tol_f
        passed = passed or small
        if ls.g_inf <= gtol:
            reason = "gtol"
        elif small and (f_prev <= f or
                        line_model_decrease(ls.alpha, ls.dphi0, ls.dphi) <= tol_f):
            reason = "ftol"
        if notify is not None and notify(optimize_result(
                x=shaped(xp.asarray(x, copy=True)), fun=f, jac=shaped(xp.asarray(g, copy=True)),
                nit=nit, nfev=objective.nfev, x_prev=shaped(x_prev), direction=shaped(d),
                step=step)):
            reason = "callback"

    if passed and reason in ("maxiter", "maxfun", "linesearch"):
        reason = "ftol"  # L-BFGS-B's test stopped at a step f has only decreased from since
    status, message = STATUS_MESSAGES[reason]
    if reason == "linesearch":
        message = f"{message} ({ls.message})"
    return optimize_result(x=shaped(x), fun=f, jac=shaped(g), nit=nit, nfev=objective.nfev,
                           njev=objective.njev, status=status, success=status == 0,
                           message=message, hess_inv=InverseHessianProduct.from_history(history),
                           trace=tuple(trace))
