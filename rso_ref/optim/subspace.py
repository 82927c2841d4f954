r"""SGD restricted to Hessian subspaces: Dom-SGD, Bulk-SGD and their interpolation.

The *dominant subspace* is spanned by the top-``k`` Hessian eigenvectors (``k`` is
usually the number of classes, Gur-Ari et al. 2018); the *bulk* is its orthogonal
complement. Bulk-SGD steps only in the bulk, Dom-SGD only in the dominant subspace
(M. Song, K. Ahn and C. Yun, "Does SGD really happen in tiny subspaces?", ICLR 2025,
arXiv:2405.16002), and the interpolated method weighs the two parts (D. Zakarin and
S. P. Singh, "Accelerating Neural Network Training Along Sharp and Flat Directions",
arXiv:2505.11972, 2025).
"""
from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Callable, ClassVar, Sequence

from .. import tree
from ..backend import array_namespace, device
from ..hessian import as_matvec
from ..lanczos import top_eigenpairs
from ..validation import check_callable, check_int, check_positive, check_real
from .base import begin_step, store_checked
from .contract import Needs, Optimizer, StepInfo

__all__ = ["InterpolatedSGD", "DomSGD", "BulkSGD"]

_KEYS = ("count", "basis", "eigenvalues", "n_matvec")

HVP = Callable[[list, list], list]


@dataclass(frozen=True)
class _SubspaceSGD(Optimizer):
    r"""The step shared by :class:`InterpolatedSGD`, :class:`DomSGD` and :class:`BulkSGD`.

    Subclasses provide the weights ``a`` (dominant part) and ``b`` (bulk part), as
    fields or as class constants.
    """

    _: KW_ONLY
    lr: float
    k: int
    every: int = 1
    tol: float = 1e-6
    seed: int = 0

    needs: ClassVar[Needs] = Needs.HVP
    a: ClassVar[float]
    b: ClassVar[float]

    def __post_init__(self):
        store_checked(self, lr=check_positive(self.lr, "lr"),
                      k=check_int(self.k, "k", minimum=1),
                      every=check_int(self.every, "every", minimum=1),
                      tol=check_positive(self.tol, "tol"), seed=check_int(self.seed, "seed"))

    def init(self, params: Sequence) -> dict:
        """Fresh state: no eigenvectors yet (they are computed at the first step).

        Raises
        ------
        TypeError
            If ``params`` is not a list of arrays.
        """
        tree.check_params(params)
        return {"count": 0, "basis": [], "eigenvalues": [], "n_matvec": 0}

    def step_with_info(self, params: Sequence, grads: Sequence, state: dict, *,
                       hvp_fn: HVP) -> tuple[list, dict, StepInfo]:
        """One step; recomputes the top-``k`` eigenvectors when ``count % every == 0``.

        ``hvp_fn(params, v) -> H v`` (lists like ``params``) is required, even on the
        steps that reuse the eigenvectors. The :class:`~rso_ref.optim.contract.StepInfo`
        counts the Hessian-vector products of the step in ``hvp_calls``.

        Raises
        ------
        TypeError
            If ``hvp_fn`` is not callable or returns something other than a list of
            arrays.
        ValueError
            If ``k`` exceeds the number of parameters, or ``hvp_fn`` returns arrays not
            shaped like ``params``.
        NonFiniteError
            If ``grads`` holds NaN or inf, or ``hvp_fn`` returns NaN or inf (checked on
            its first product of each eigen-solve).
        """
        params, grads = begin_step(params, grads, state, _KEYS)
        check_callable(hvp_fn, "hvp_fn")
        new_state = dict(state, count=state["count"] + 1)
        if self.a == self.b:
            return tree.axpy(-self.lr, tree.scale(grads, self.a), params), new_state, StepInfo()
        hvp_calls = 0
        if state["count"] % self.every == 0 or not state["basis"]:
            dim = sum(math.prod(p.shape) for p in params)
            matvec = as_matvec(lambda v: hvp_fn(params, v), params, name="hvp_fn(params, v)")
            res = top_eigenpairs(matvec, dim, self.k, tol=self.tol, seed=self.seed,
                                 xp=array_namespace(*params), dtype=params[0].dtype,
                                 device=device(params[0]))
            hvp_calls = res.n_matvec
            new_state.update(basis=[res.eigenvectors], eigenvalues=[res.eigenvalues],
                             n_matvec=state["n_matvec"] + hvp_calls)
        U = new_state["basis"][0]
        xp = array_namespace(U, *grads)
        g = tree.flatten(grads)
        direction = self.b * g + (self.a - self.b) * xp.matmul(U, xp.matmul(g, U))
        new_params = tree.axpy(-self.lr, tree.unflatten(direction, params), params)
        return new_params, new_state, StepInfo(hvp_calls=hvp_calls)


@dataclass(frozen=True)
class InterpolatedSGD(_SubspaceSGD):
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
    needs : Needs.HVP
        ``step`` takes the keyword ``hvp_fn(params, v) -> H v``.
    state : dict
        ``{"count": int, "basis": [U] or [], "eigenvalues": [λ] or [], "n_matvec": int}``:
        steps taken, the orthonormal eigenvectors :math:`U` (shape ``(dim, k)``, flat
        parameter order of :func:`rso_ref.tree.flatten`) and eigenvalues (descending)
        of the last solve, and the Hessian-vector products spent so far (those of one
        step are its ``StepInfo.hvp_calls``).

    Notes
    -----
    With :math:`P = U U^T` the projector on the top-``k`` eigenvectors of the Hessian
    :math:`H(\theta_s)` of the batch behind ``hvp_fn``, computed at the last recompute
    step :math:`s`:

    .. math::

        \theta_{t+1} = \theta_t - \eta\,\big(a\,P g_t + b\,(I - P)\,g_t\big)
                     = \theta_t - \eta\,\big(b\,g_t + (a - b)\,U (U^T g_t)\big).

    The second form is the one computed; for :math:`a = b` no eigenvectors are needed
    and none are computed (the step is SGD scaled by :math:`a`).

    ``hvp_fn(params, v) -> H v`` (lists like ``params``) is the curvature of a batch,
    for example ``lambda p, v: hessian.hvp(model.loss, p, v, X, y)`` on NumPy or, on
    any backend, ``lambda p, v: hessian.fd_hvp(lambda q: model.value_and_grad(q, X, y),
    p, v)``; :func:`rso_ref.train.train` passes the one of each minibatch.

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
    >>> opt = InterpolatedSGD(0.5, 1.0, lr=0.1, k=1)
    >>> params = [np.ones(3)]
    >>> params, state = opt.step(params, [A @ params[0]], opt.init(params),
    ...                          hvp_fn=lambda p, v: [A @ v[0]])
    >>> np.round(params[0], 12).tolist()   # 1 - 0.1 * (0.5 * 3, 2, 1)
    [0.85, 0.8, 0.9]
    """

    a: float
    b: float

    def __post_init__(self):
        store_checked(self, a=check_real(self.a, "a"), b=check_real(self.b, "b"))
        super().__post_init__()


@dataclass(frozen=True)
class DomSGD(_SubspaceSGD):
    r"""Dom-SGD: steps in the top-``k`` Hessian eigenspace only.

    .. math::

        \theta \leftarrow \theta - \eta P g

    is the step of :class:`InterpolatedSGD` with ``a=1, b=0``, with the same state.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta > 0`.
    k : int
        Dimension of the dominant subspace.
    every : int, default 1
        Recompute the eigenvectors every ``every`` steps.
    tol : float, default 1e-6
        Lanczos tolerance.
    seed : int, default 0
        Seed of the Lanczos start vector.

    Examples
    --------
    The two steps split the gradient step :math:`\eta g = (0.3, 0.2, 0.1)` between
    the top eigenvector :math:`e_1` and the rest:

    >>> import numpy as np
    >>> A = np.diag([3.0, 2.0, 1.0])
    >>> params = [np.ones(3)]
    >>> for opt in (DomSGD(lr=0.1, k=1), BulkSGD(lr=0.1, k=1)):
    ...     new, _ = opt.step(params, [A @ params[0]], opt.init(params),
    ...                       hvp_fn=lambda p, v: [A @ v[0]])
    ...     print(np.round(params[0] - new[0], 12).tolist())
    [0.3, 0.0, 0.0]
    [0.0, 0.2, 0.1]
    """

    a: ClassVar[float] = 1.0
    b: ClassVar[float] = 0.0


@dataclass(frozen=True)
class BulkSGD(_SubspaceSGD):
    r"""Bulk-SGD: steps orthogonal to the top-``k`` Hessian eigenspace.

    .. math::

        \theta \leftarrow \theta - \eta (I - P) g

    is the step of :class:`InterpolatedSGD` with ``a=0, b=1``, with the same state.
    :class:`DomSGD` has an example of both.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta > 0`.
    k : int
        Dimension of the dominant subspace.
    every : int, default 1
        Recompute the eigenvectors every ``every`` steps.
    tol : float, default 1e-6
        Lanczos tolerance.
    seed : int, default 0
        Seed of the Lanczos start vector.
    """

    a: ClassVar[float] = 0.0
    b: ClassVar[float] = 1.0
