r"""Recursive Subspace Optimization (RSO): Algorithm 1 of the RSO paper, exact and inspectable.

Given parameters :math:`\theta` split into groups :math:`\theta_1, \dots, \theta_L`
(layers or blocks), one RSO step computes the group gradients
:math:`g_i = \nabla_{\theta_i} L(\theta)` once, then chooses the weights
:math:`w \in \mathbb{R}^L` of their combination by running ``K`` iterations of L-BFGS
on the *meta-objective*

.. math::

    f(w) = L\Big(\theta - \eta \sum_{i=1}^{L} w_i\, g_i\Big), \qquad
    \frac{\partial f}{\partial w_i} = -\eta\, \big\langle \nabla_{\theta_i} L(\theta'(w)),\, g_i \big\rangle,

starting from :math:`w = (1/L, \dots, 1/L)`, and returns
:math:`\theta' = \theta - \eta \sum_i w_i^{*} g_i` (paper §2.2, Algorithm 1, lines 1–8).
Each evaluation of ``f`` *and* its gradient needs a forward and a backward pass at
:math:`\theta'(w)`; the paper's "one forward pass per meta iteration" (§2.3) is not
enough for L-BFGS (see the warning in :func:`rso_step`).

References
----------
.. [1] "Recursive Subspace Optimization", ``shared/papers/rso-paper.txt``, §2–3.
.. [2] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006,
       ch. 7 (L-BFGS), doi:10.1007/978-0-387-40065-5.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from . import tree
from .backend import array_namespace, to_numpy
from .lbfgs import minimize

__all__ = [
    "RSOStepResult", "rso_step", "meta_objective", "group_directions", "resolve_groups", "initial_weights", "RSO",
    "W0_CHOICES",
]

Oracle = Callable[[list], tuple]

#: Relative decrease of f per meta iteration at the rounding level of float64 (4 ulps).
META_FTOL = 4 * float(np.finfo(np.float64).eps)

#: Accepted values of ``w0``.
W0_CHOICES = ("uniform", "ones", "previous")


@dataclass(frozen=True)
class RSOStepResult:
    """Outcome of one RSO step.

    Attributes
    ----------
    params : list of arrays
        :math:`\\theta' = \\theta - \\eta \\sum_i w_i d_i` for the returned ``w``.
    w : numpy.ndarray, shape (L,), float64
        Final group weights.
    loss_before : float
        :math:`L(\\theta)` (on the step's batch).
    loss_after : float
        :math:`f(w) = L(\\theta')` on the batch the meta-objective uses (the step's
        batch unless ``meta_value_and_grad`` was given).
    nfev : int
        Oracle calls made by the meta-optimisation (line-search trials and the
        safeguard's evaluation included; the gradient at :math:`\\theta` excluded).
    nit : int
        L-BFGS iterations done on ``f`` (at most ``meta_iters``).
    grad_norms : numpy.ndarray, shape (L,)
        :math:`\\|g_i\\|` per group.
    meta_status : int
        Status of the meta L-BFGS run (see :data:`rso_ref.lbfgs.STATUS_MESSAGES`).
    meta_message : str
    safeguarded : bool
        True when the safeguard replaced the meta-solution by the gradient step.
    """

    params: list
    w: np.ndarray
    loss_before: float
    loss_after: float
    nfev: int
    nit: int
    grad_norms: np.ndarray
    meta_status: int
    meta_message: str
    safeguarded: bool


def resolve_groups(groups: Any, n_params: int, *, layers: Sequence | None = None,
                   blocks: Sequence | None = None) -> list[list[int]]:
    """Turn a grouping specification into validated lists of parameter indices.

    Parameters
    ----------
    groups : None, "layer", "block", "uniform:N", or list of lists of int
        ``None`` gives one group per parameter array. ``"layer"`` and ``"block"`` take
        the model's ``layers()`` / ``blocks()``; ``"uniform:N"`` merges consecutive
        layers into groups of ``N`` (the paper's three groupings, §4.5).
    n_params : int
        Length of the params list.
    layers, blocks : list of lists of int, optional
        The model structure, needed by the string specifications.

    Raises
    ------
    ValueError
        Unknown specification, missing structure, empty/overlapping groups, indices
        out of range.
    """
    if groups is None:
        return [[j] for j in range(n_params)]
    if isinstance(groups, str):
        if groups.startswith("uniform:"):
            size_text = groups.split(":", 1)[1]
            if not size_text.isdigit() or int(size_text) < 1:
                raise ValueError(f"groups={groups!r}: N in 'uniform:N' must be a positive integer")
            if layers is None:
                raise ValueError(f"groups={groups!r} needs the model's layers()")
            return tree.validate_groups(tree.uniform_groups(layers, int(size_text)), n_params)
        if groups == "layer":
            if layers is None:
                raise ValueError("groups='layer' needs the model's layers()")
            return tree.validate_groups(layers, n_params)
        if groups == "block":
            if blocks is None:
                raise ValueError("groups='block' needs the model's blocks()")
            return tree.validate_groups(blocks, n_params)
        raise ValueError(f"groups must be None, 'layer', 'block', 'uniform:N' or a list of "
                         f"index lists, got {groups!r}")
    return tree.validate_groups(groups, n_params)


def initial_weights(w0: Any, n_groups: int, previous: np.ndarray | None = None) -> np.ndarray:
    """Starting weights of the meta-solve.

    ``"uniform"``: :math:`w_i = 1/L` (Algorithm 1, line 2); ``"ones"``: the plain
    gradient step :math:`\\theta - \\eta g`; ``"previous"``: the last step's weights
    (a warm start, as the MindsEye RecursiveSubspace optimizer does), uniform on the
    first step; or an explicit array of length ``L``.
    """
    if isinstance(w0, str):
        if w0 not in W0_CHOICES:
            raise ValueError(f"w0 must be one of {W0_CHOICES} or an array, got {w0!r}")
        if w0 == "ones":
            return np.ones(n_groups)
        if w0 == "previous" and previous is not None:
            previous = np.asarray(to_numpy(previous), dtype=np.float64)  # host, any backend
            if previous.shape != (n_groups,):
                raise ValueError(f"previous weights have shape {previous.shape}, expected ({n_groups},)")
            return previous.copy()
        return np.full(n_groups, 1.0 / n_groups)
    w = np.asarray(w0, dtype=np.float64)
    if w.shape != (n_groups,) or not np.all(np.isfinite(w)):
        raise ValueError(f"w0 must be a finite array of shape ({n_groups},), got {w!r}")
    return w.copy()


def _check_lr(lr: float) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not lr > 0 \
            or not math.isfinite(lr):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    return float(lr)


def _check_loss(loss: Any, where: str) -> float:
    value = float(loss)
    if not math.isfinite(value):
        raise ValueError(f"the loss oracle returned a non-finite loss ({value}) {where}")
    return value


def group_directions(grads: Sequence, groups: list[list[int]], normalize: bool = False
                     ) -> tuple[list, np.ndarray]:
    r"""Per-group directions :math:`d_i` and the group gradient norms :math:`\|g_i\|`.

    :math:`d_i = g_i` (Algorithm 1), or :math:`d_i = g_i / \|g_i\|` with ``normalize``
    (a zero group gradient gives a zero direction). Returns ``(directions, norms)`` where
    ``directions`` is a params-shaped list (entries in no group are the gradient itself
    and are never used) and ``norms`` a float64 array of shape ``(L,)``.
    """
    grads = list(grads)
    norms = np.array([math.sqrt(v) for v in tree.group_vdots(grads, grads, groups)])
    if not normalize:
        return list(grads), norms
    directions = list(grads)
    for group, nrm in zip(groups, norms):
        factor = 1.0 / nrm if nrm > 0 else 0.0
        for j in group:
            directions[j] = factor * grads[j]
    return directions, norms


def _apply(params: list, directions: list, groups: list[list[int]], lr: float, w) -> list:
    r""":math:`\theta - \eta \sum_i w_i d_i` (indices in no group are left unchanged)."""
    out = list(params)
    for group, wi in zip(groups, w):
        step = lr * float(wi)
        for j in group:
            out[j] = params[j] - step * directions[j]
    return out


def meta_objective(value_and_grad: Oracle, params: Sequence, directions: Sequence,
                   groups: list[list[int]], lr: float) -> Callable[[np.ndarray], tuple]:
    r"""The meta-objective of Algorithm 1 (line 3) and its gradient, as one callable.

    .. math::

        f(w) = L\Big(\theta - \eta \sum_i w_i d_i\Big), \qquad
        \frac{\partial f}{\partial w_i} = -\eta \,\langle \nabla L(\theta'), d_i \rangle_{G_i}

    where :math:`d_i` is the direction of group :math:`G_i` (the group gradient
    :math:`g_i`, or :math:`g_i/\|g_i\|`) and the inner product runs over the group's
    parameter arrays. One call of the returned function is one oracle call at
    :math:`\theta'(w)` (a forward and a backward pass).

    Parameters
    ----------
    value_and_grad : callable
        ``value_and_grad(params) -> (loss, grads)``.
    params, directions : list of arrays
        :math:`\theta` and the directions (same shapes).
    groups : list of lists of int
        Validated groups (:func:`resolve_groups`).
    lr : float
        :math:`\eta`.

    Returns
    -------
    f : callable
        ``f(w) -> (float, numpy.ndarray of shape (L,))``, ``w`` a 1-D float64 array.
    """
    params, directions = list(params), list(directions)

    def f(w: np.ndarray) -> tuple[float, np.ndarray]:
        value, new_grads = value_and_grad(_apply(params, directions, groups, lr, w))
        new_grads = list(new_grads)
        tree.check_like(new_grads, params)
        dots = tree.group_vdots(new_grads, directions, groups)
        return float(value), -lr * np.asarray(dots, dtype=np.float64)

    return f


def rso_step(value_and_grad: Oracle, params: Sequence, *, lr: float, groups: Any = None,
             meta_iters: int = 5, w0: Any = "uniform", normalize: bool = False,
             safeguard: bool = False, meta_value_and_grad: Oracle | None = None,
             previous_w: np.ndarray | None = None, loss: float | None = None,
             grads: Sequence | None = None, layers: Sequence | None = None,
             blocks: Sequence | None = None, m: int = 10, c1: float = 1e-4, c2: float = 0.9,
             maxls: int = 20) -> RSOStepResult:
    r"""One RSO update (Algorithm 1 of the RSO paper), literally.

    Parameters
    ----------
    value_and_grad : callable
        ``value_and_grad(params) -> (loss, grads)``: any loss/gradient oracle over a
        list of arrays (one namespace). Called once at :math:`\theta` unless ``loss``
        and ``grads`` are given.
    params : list of arrays
        :math:`\theta`, ordered as the oracle expects.
    lr : float
        :math:`\eta > 0`.
    groups : None, "layer", "block", "uniform:N" or list of lists of int
        The partition :math:`\theta_1, \dots, \theta_L` (see :func:`resolve_groups`).
        Parameters in no group are not updated.
    meta_iters : int, default 5
        :math:`K`, L-BFGS iterations on ``f``. The meta-solve runs ``K`` iterations
        unless it truly cannot make progress: its line search fails, or the last
        iteration decreased ``f`` by no more than :data:`META_FTOL` times :math:`|f|`
        (the rounding level). The test is relative, so it does not depend on the scale
        of ``L`` or ``lr``: scipy-style absolute tolerances stop the meta-solve at
        ``w0`` once gradients are small, and RSO silently becomes a gradient step of
        size ``lr/L``.
    w0 : {"uniform", "ones", "previous"} or array, default "uniform"
        Start of the meta-solve (:func:`initial_weights`); ``"previous"`` uses
        ``previous_w``.
    normalize : bool, default False
        Use unit directions :math:`d_i = g_i / \|g_i\|` instead of :math:`g_i`.
    safeguard : bool, default False
        Also evaluate the plain gradient step (:math:`w = \mathbf{1}`) and return it
        when it is better than the meta-solution, so that the returned loss is never
        above the gradient step's. Costs one oracle call unless ``w0="ones"`` (then the
        meta-solve can only decrease ``f`` from it).
    meta_value_and_grad : callable, optional
        Oracle for ``f`` (e.g. on a smaller meta batch); defaults to ``value_and_grad``.
    previous_w : array, optional
        Weights of the previous step (for ``w0="previous"``).
    loss, grads : optional
        :math:`L(\theta)` and :math:`\nabla L(\theta)` when already computed.
    layers, blocks : list of lists of int, optional
        Model structure for string ``groups``.
    m, c1, c2, maxls
        Passed to :func:`rso_ref.lbfgs.minimize` (memory, Wolfe constants, line-search
        trials).

    Returns
    -------
    RSOStepResult

    Notes
    -----
    With :math:`G = [d_1, \dots, d_L]` (directions as columns of the flattened
    parameter space) the meta-objective and its gradient are

    .. math::

        f(w) = L(\theta - \eta G w), \qquad \nabla f(w) = -\eta\, G^\top \nabla L(\theta - \eta G w).

    For a quadratic :math:`L(\theta) = \tfrac12 \theta^\top A \theta - b^\top \theta`
    the minimiser solves :math:`(G^\top A G)\, w^{*} = G^\top \nabla L(\theta) / \eta`;
    with one group RSO is an exact line search along :math:`-g`.

    .. warning::
       The paper counts "one forward pass per meta iteration" (§2.3) and
       "K additional forward passes". L-BFGS needs :math:`\nabla f`, i.e. a backward
       pass at every trial point, and its line search may try several points per
       iteration. ``nfev`` reports the oracle calls actually made.

    .. warning::
       Algorithm 1 initialises :math:`w = 1/L`, so before the meta-solve moves ``w``
       the step is :math:`\eta/L` times the gradient, not the gradient step.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag([1.0, 10.0]); b = np.array([1.0, 1.0])
    >>> oracle = lambda p: (0.5 * p[0] @ A @ p[0] - b @ p[0], [A @ p[0] - b])
    >>> res = rso_step(oracle, [np.zeros(2)], lr=0.1, meta_iters=5)
    >>> bool(res.loss_after < res.loss_before)
    True
    """
    lr = _check_lr(lr)
    if isinstance(meta_iters, bool) or not isinstance(meta_iters, int) or meta_iters < 0:
        raise ValueError(f"meta_iters must be a non-negative int, got {meta_iters!r}")
    params = list(params)
    if not params:
        raise ValueError("params must hold at least one array")
    array_namespace(*params)  # one namespace, one device
    groups = resolve_groups(groups, len(params), layers=layers, blocks=blocks)
    meta_oracle = value_and_grad if meta_value_and_grad is None else meta_value_and_grad

    if grads is None:
        loss, grads = value_and_grad(params)
    elif loss is None:
        raise ValueError("grads was given without loss")
    grads = list(grads)
    tree.check_like(grads, params)
    loss_before = _check_loss(loss, "at params")

    directions, grad_norms = group_directions(grads, groups, normalize)
    objective = meta_objective(meta_oracle, params, directions, groups, lr)
    calls = 0
    objective_values: list = []  # f at w0, then after each meta iteration

    def counted(w: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal calls
        calls += 1
        value, grad_w = objective(w)
        if not objective_values:
            objective_values.append(float(value))
        return value, grad_w

    def no_progress_left(it) -> bool:
        # Scale-aware stop (invariant to rescaling L or lr): the decrease of f observed in
        # the last meta iteration was at the rounding level of f, META_FTOL * |f|. Only an
        # observed decrease is used: extrapolations and gradient tests relative to w0 stop
        # too early on non-convex f, where a tiny step can be followed by fast progress.
        previous = objective_values[-1]
        objective_values.append(float(it.fun))
        return previous - float(it.fun) <= META_FTOL * abs(float(it.fun))

    start = initial_weights(w0, len(groups), previous_w)
    if meta_iters == 0:
        f_start, _ = counted(start)
        w, f_w, nit, status, message = start, f_start, 0, 0, "meta_iters=0: w0 used as is"
    else:
        result = minimize(counted, start, m=m, gtol=0.0, ftol=0.0, maxiter=meta_iters,
                          maxfun=max(1, meta_iters * (maxls + 1) + 1), maxls=maxls, c1=c1, c2=c2,
                          callback=no_progress_left)
        w, f_w, nit = np.asarray(result.x, dtype=np.float64), float(result.fun), int(result.nit)
        status, message = int(result.status), str(result.message)
        if status == 3:
            status, message = 0, "meta-solve converged: no progress left above rounding level"
    _check_loss(f_w, "at the meta-solution")

    safeguarded = False
    if safeguard and not (isinstance(w0, str) and w0 == "ones"):
        ones = np.ones(len(groups))
        f_gd, _ = counted(ones)
        if f_gd < f_w:
            w, f_w, safeguarded = ones, f_gd, True

    return RSOStepResult(
        params=_apply(params, directions, groups, lr, w), w=w, loss_before=loss_before,
        loss_after=f_w, nfev=calls, nit=nit, grad_norms=grad_norms, meta_status=status,
        meta_message=message, safeguarded=safeguarded)


@dataclass(frozen=True)
class RSO:
    r"""RSO as an optimizer with the library's ``init``/``step`` shape.

    .. math::

        \theta_{t+1} = \theta_t - \eta \sum_i w_i^{(t)} g_i^{(t)}, \qquad
        w^{(t)} = \text{K L-BFGS iterations on } f_t(w) = L(\theta_t - \eta \textstyle\sum_i w_i g_i^{(t)})

    Parameters
    ----------
    lr : float
        :math:`\eta`.
    groups, meta_iters, w0, normalize, safeguard
        As in :func:`rso_step`.
    meta_every : int, default 1
        Re-solve ``w`` every ``meta_every`` steps; in between, reuse the last ``w``
        (no meta evaluations). Reduces the cost by about that factor.
    warmup_steps : int, default 0
        Plain SGD steps (:math:`w = \mathbf 1`) before switching to RSO (§2.3, "Warm-up").
    layers, blocks : list of lists of int, optional
        Model structure for string ``groups`` (e.g. ``model.layers()``).

    Attributes
    ----------
    state : dict
        ``{"count": int, "w": ndarray (L,) or None, "nfev": int (meta oracle calls so far),
        "last_nit": int}``.
    """

    lr: float
    groups: Any = None
    meta_iters: int = 5
    w0: Any = "uniform"
    normalize: bool = False
    safeguard: bool = False
    meta_every: int = 1
    warmup_steps: int = 0
    layers: Any = None
    blocks: Any = None
    #: The training loop passes ``value_and_grad`` (and ``loss``) to :meth:`step`.
    needs_oracle: ClassVar[bool] = True

    def __post_init__(self):
        _check_lr(self.lr)
        for name in ("meta_every",):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) \
                or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be a non-negative int, got {self.warmup_steps!r}")
        if isinstance(self.meta_iters, bool) or not isinstance(self.meta_iters, int) \
                or self.meta_iters < 0:
            raise ValueError(f"meta_iters must be a non-negative int, got {self.meta_iters!r}")
        if isinstance(self.w0, str) and self.w0 not in W0_CHOICES:
            raise ValueError(f"w0 must be one of {W0_CHOICES} or an array, got {self.w0!r}")

    def init(self, params: Sequence) -> dict:
        """Fresh state for ``params``."""
        resolve_groups(self.groups, len(params), layers=self.layers, blocks=self.blocks)
        return {"count": 0, "w": None, "nfev": 0, "last_nit": 0}

    def step(self, params: Sequence, grads: Sequence, state: dict, *, value_and_grad: Oracle,
             loss: float | None = None, meta_value_and_grad: Oracle | None = None
             ) -> tuple[list, dict]:
        """One step from the gradient ``grads`` at ``params``.

        ``value_and_grad`` (and optionally ``meta_value_and_grad``, e.g. on a meta batch)
        define the meta-objective. ``loss`` is :math:`L(\\theta)` when known; without it
        one extra oracle call computes it (counted in ``state["nfev"]``).
        """
        groups = resolve_groups(self.groups, len(params), layers=self.layers, blocks=self.blocks)
        params, grads = list(params), list(grads)
        tree.check_like(grads, params)
        count = state["count"]
        n_groups = len(groups)
        if count < self.warmup_steps:
            w = np.ones(n_groups)
            new_params = _apply(params, grads, groups, self.lr, w)
            return new_params, {**state, "count": count + 1}
        reuse = state["w"] is not None and (count - self.warmup_steps) % self.meta_every != 0
        if reuse:
            directions, _ = group_directions(grads, groups, self.normalize)
            new_params = _apply(params, directions, groups, self.lr, state["w"])
            return new_params, {**state, "count": count + 1, "last_nit": 0}
        if loss is None:
            loss, _ = value_and_grad(params)
            extra = 1
        else:
            extra = 0
        result = rso_step(value_and_grad, params, lr=self.lr, groups=groups,
                          meta_iters=self.meta_iters, w0=self.w0, normalize=self.normalize,
                          safeguard=self.safeguard, meta_value_and_grad=meta_value_and_grad,
                          previous_w=state["w"], loss=loss, grads=grads)
        return result.params, {"count": count + 1, "w": result.w,
                               "nfev": state["nfev"] + result.nfev + extra,
                               "last_nit": result.nit}
