r"""SGD restricted to Hessian subspaces: Dom-SGD, Bulk-SGD and their interpolation.

The *dominant subspace* is spanned by the top-``k`` Hessian eigenvectors (``k`` is
usually the number of classes, Gur-Ari et al. 2018); the *bulk* is its orthogonal
complement. Bulk-SGD steps only in the bulk, Dom-SGD only in the dominant subspace
(Song, Ahn and Yun 2024), and the interpolated method weighs the two parts (the
Bulk-SGD study summarised in ``shared/papers/bulk-sgd-abstract.txt``, whose title and
arXiv id that file omits).
"""
from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Callable, Sequence

from .. import tree
from ..backend import array_namespace
from ..hessian import as_matvec
from ..lanczos import top_eigenpairs
from .base import check_real, begin_step, check_positive, check_positive_int

__all__ = ["InterpolatedSGD", "DomSGD", "BulkSGD"]

_KEYS = ("count", "basis", "eigenvalues", "n_matvec")


@dataclass(frozen=True)
class InterpolatedSGD:
    r"""SGD with separate weights on the dominant and bulk parts of the gradient.

    Parameters
    ----------
    a, b : float
        Weights :math:`a` of the dominant part and :math:`b` of the bulk part:
        ``(1, 1)`` is SGD, ``(1, 0)`` Dom-SGD, ``(0, 1)`` Bulk-SGD.
    lr : float
        Learning rate :math:`\eta > 0`.
    k : int
        Dimension of the dominant subspace; the papers take the number of classes.
    every : int, default 1
        Recompute the eigenvectors every ``every`` steps (at steps 0, every, 2·every, ...).
    tol : float, default 1e-6
        Lanczos tolerance (:func:`rso_ref.lanczos.top_eigenpairs`).
    seed : int, default 0
        Seed of the Lanczos start vector.

    Attributes
    ----------
    state : dict
        ``{"count": int, "basis": [U] or [], "eigenvalues": [λ] or [], "n_matvec": int}``:
        steps taken, the orthonormal eigenvectors :math:`U` (shape ``(dim, k)``, flat
        parameter order of :func:`rso_ref.tree.flatten`) and eigenvalues (descending)
        of the last solve, and the Hessian-vector products spent so far.

    Notes
    -----
    With :math:`P = U U^T` the projector on the top-``k`` eigenvectors of the Hessian
    :math:`H(\theta_s)` of the fixed batch behind ``hvp_fn``, computed at the last
    recompute step :math:`s`:

    .. math::

        \theta_{t+1} = \theta_t - \eta\,\big(a\,P g_t + b\,(I - P)\,g_t\big)
                     = \theta_t - \eta\,\big(b\,g_t + (a - b)\,U (U^T g_t)\big).

    The second form is the one computed; for :math:`a = b` no eigenvectors are needed
    and none are computed (the step is SGD scaled by :math:`a`).

    ``step`` takes ``hvp_fn(params, v) -> H v`` (lists like ``params``), the curvature
    of the fixed batch, for example
    ``lambda p, v: hessian.hvp(model.loss, p, v, X_fixed, y_fixed)`` or, on any
    backend, ``lambda p, v: hessian.fd_hvp(lambda q: model.value_and_grad(q, X, y), p, v)``.

    References
    ----------
    .. [1] G. Gur-Ari, D. A. Roberts and E. Dyer, "Gradient descent happens in a tiny
       subspace" (2018). https://arxiv.org/abs/1812.04754
    .. [2] M. Song, K. Ahn and C. Yun, "Does SGD really happen in tiny subspaces?"
       (2024). https://arxiv.org/abs/2405.16002

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag([3.0, 2.0, 1.0])
    >>> opt = BulkSGD(lr=0.1, k=1)
    >>> params = [np.ones(3)]
    >>> state = opt.init(params)
    >>> params, state = opt.step(params, [A @ params[0]], state,
    ...                          hvp_fn=lambda p, v: [A @ v[0]])
    >>> np.round(params[0], 12).tolist()
    [1.0, 0.8, 0.9]
    """

    a: float
    b: float
    _: KW_ONLY
    lr: float
    k: int
    every: int = 1
    tol: float = 1e-6
    seed: int = 0

    def __post_init__(self):
        check_real(self.a, "a")
        check_real(self.b, "b")
        check_positive(self.lr, "lr")
        check_positive_int(self.k, "k")
        check_positive_int(self.every, "every")
        check_positive(self.tol, "tol")

    def init(self, params: Sequence) -> dict:
        """Fresh state: no eigenvectors yet (they are computed at the first step)."""
        return {"count": 0, "basis": [], "eigenvalues": [], "n_matvec": 0}

    def step(self, params: Sequence, grads: Sequence, state: dict, *,
             hvp_fn: Callable[[list, list], list] | None = None) -> tuple[list, dict]:
        """One step; recomputes the top-``k`` eigenvectors when ``count % every == 0``.

        Raises
        ------
        ValueError
            If the eigenvectors are due and ``hvp_fn`` is missing, or ``k`` exceeds the
            number of parameters.
        """
        params, grads = begin_step(params, grads, state, _KEYS)
        new_state = dict(state, count=state["count"] + 1)
        if self.a == self.b:
            return tree.axpy(-self.lr, tree.scale(grads, self.a), params), new_state
        if state["count"] % self.every == 0 or not state["basis"]:
            if hvp_fn is None:
                raise ValueError("hvp_fn is required to compute the Hessian eigenvectors "
                                 f"(step {state['count']}, every={self.every})")
            dim = sum(math.prod(p.shape) for p in params)
            res = top_eigenpairs(as_matvec(lambda v: hvp_fn(params, v), params), dim, self.k,
                                 tol=self.tol, seed=self.seed, xp=array_namespace(*params),
                                 dtype=params[0].dtype)
            new_state.update(basis=[res.eigenvectors], eigenvalues=[res.eigenvalues],
                             n_matvec=state["n_matvec"] + res.n_matvec)
        U = new_state["basis"][0]
        xp = array_namespace(U, *grads)
        g = tree.flatten(grads)
        direction = self.b * g + (self.a - self.b) * xp.matmul(U, xp.matmul(g, U))
        return tree.axpy(-self.lr, tree.unflatten(direction, params), params), new_state


def DomSGD(*, lr: float, k: int, every: int = 1, tol: float = 1e-6,
           seed: int = 0) -> InterpolatedSGD:
    r"""Dom-SGD: steps in the top-``k`` Hessian eigenspace only, :math:`\theta \leftarrow
    \theta - \eta P g` (:class:`InterpolatedSGD` with ``a=1, b=0``)."""
    return InterpolatedSGD(1.0, 0.0, lr=lr, k=k, every=every, tol=tol, seed=seed)


def BulkSGD(*, lr: float, k: int, every: int = 1, tol: float = 1e-6,
            seed: int = 0) -> InterpolatedSGD:
    r"""Bulk-SGD: steps orthogonal to the top-``k`` Hessian eigenspace,
    :math:`\theta \leftarrow \theta - \eta (I - P) g` (:class:`InterpolatedSGD` with
    ``a=0, b=1``)."""
    return InterpolatedSGD(0.0, 1.0, lr=lr, k=k, every=every, tol=tol, seed=seed)
