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
:math:`\theta' = \theta - \eta \sum_i w_i^{*} g_i` (paper [1]_ §2.2, Algorithm 1, lines
1–8; L-BFGS as in [2]_).
Each evaluation of ``f`` *and* its gradient needs a forward and a backward pass at
:math:`\theta'(w)`; the paper's "one forward pass per meta iteration" (§2.3) is not
enough for L-BFGS (see the warning in :func:`rso_step`).

The optimizer form with the library's ``init``/``step`` contract is
:class:`rso_ref.optim.RSO`. The weights :math:`w` are host data: float64 NumPy arrays
of shape ``(L,)`` made through :func:`rso_ref.backend.namespace` (this module imports
no array library itself), whatever the backend of the parameters.

References
----------
.. [1] "Recursive Subspace Optimization" (2025), §2–3, https://fractalthoughtengine.com/
       portfolio/2025/06/30/recursive-subspace-paper.html (no arXiv id); the method was
       first described in A. Charneski, "Recursive Subspace and Quadratic Quasi-Newton
       Optimization" (2017), http://blog.simiacryptus.com/2017/12/optimization-research.html.
.. [2] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006,
       ch. 7 (L-BFGS), doi:10.1007/978-0-387-40065-5.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Sequence

from . import pytree, tree
from .backend import (array_namespace, check_concrete, committed, fused, keep_zero_d, namespace,
                      to_numpy)
from .lbfgs import STATUS_MESSAGES, minimize
from .validation import (NonFiniteError, check_callable, check_finite_loss, check_flag, check_pair,
                         check_int, check_positive)

__all__ = [
    "RSOStepResult", "rso_step", "meta_objective", "group_directions", "apply_weights",
    "check_group_spec", "check_w0", "resolve_groups", "initial_weights", "host_weights", "evaluate_oracle", "W0_CHOICES",
    "DEFAULT_META_ITERS", "META_FTOL",
]

Oracle = Callable[[list], tuple]

#: :math:`K`, the meta L-BFGS iterations per step, when not given (:func:`rso_step`,
#: :class:`rso_ref.optim.RSO`, the experiment harness).
DEFAULT_META_ITERS = 5

#: Relative decrease of f per meta iteration at the rounding level of float64 (4 ulps).
META_FTOL = 4 * sys.float_info.epsilon

#: Accepted values of ``w0``.
W0_CHOICES = ("uniform", "ones", "previous")


@dataclass(frozen=True)
class RSOStepResult:
    """Outcome of one RSO step.

    Attributes
    ----------
    params : list of arrays or pytree of arrays
        :math:`\\theta' = \\theta - \\eta \\sum_i w_i d_i` for the returned ``w``, in
        the structure of the ``params`` given to :func:`rso_step`.
    w : numpy.ndarray, shape (L,), float64
        Final group weights (a host array whatever the backend of ``params``).
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
    grad_norms : numpy.ndarray, shape (L,), float64
        :math:`\\|g_i\\|` per group (host).
    meta_status : int
        Status of the meta L-BFGS run (see :data:`rso_ref.lbfgs.STATUS_MESSAGES`).
    meta_message : str
        Its text (the message of ``meta_status``).
    safeguarded : bool
        True when the safeguard replaced the meta-solution by the gradient step.
    """

    params: list
    w: Any
    loss_before: float
    loss_after: float
    nfev: int
    nit: int
    grad_norms: Any
    meta_status: int
    meta_message: str
    safeguarded: bool


def check_group_spec(groups: Any) -> None:
    """Check the part of a grouping specification that needs no model or parameters.

    A string must be ``"layer"``, ``"block"`` or ``"uniform:N"`` with ``N >= 1``; index
    lists and the structure a string needs are checked by :func:`resolve_groups`. Lets
    an optimizer refuse ``groups="layers"`` when it is built.

    Parameters
    ----------
    groups : object
        A grouping specification; anything but a string passes here.

    Raises
    ------
    ValueError
        For an unknown string specification or a bad ``N``.
    """
    if not isinstance(groups, str) or groups in ("layer", "block"):
        return
    if groups.startswith("uniform:"):
        size_text = groups.split(":", 1)[1]
        if not size_text.isdigit() or int(size_text) < 1:
            raise ValueError(f"groups={groups!r}: N in 'uniform:N' must be a positive integer")
        return
    raise ValueError(f"groups must be None, 'layer', 'block', 'uniform:N' or a list of "
                     f"lists of indices or key paths, got {groups!r}")


def resolve_groups(groups: Any, n_params: int, *, layers: Sequence | None = None,
                   blocks: Sequence | None = None,
                   paths: Sequence[str] | None = None) -> list[list[int]]:
    """Turn a grouping specification into validated lists of parameter indices.

    Parameters
    ----------
    groups : None, "layer", "block", "uniform:N", or list of lists of int or str
        ``None`` gives one group per parameter array. ``"layer"`` and ``"block"`` take
        the model's ``layers()`` / ``blocks()``; ``"uniform:N"`` merges consecutive
        layers into groups of ``N`` (the paper's three groupings, §4.5). In a list of
        groups, an entry is a leaf index or a key path (a string): the path of a leaf,
        or of a subtree, which stands for all its leaves (``[["dense1"], ["dense2/w",
        "dense2/b"]]``).
    n_params : int
        Number of parameter arrays (leaves).
    layers, blocks : list of lists of int, optional
        The model structure, needed by the string specifications.
    paths : sequence of str, optional
        The key path of each parameter array, in leaf order
        (:func:`rso_ref.pytree.leaf_paths`); default those of a list, ``"0"``, ``"1"``,
        and so on.

    Returns
    -------
    list of lists of int
        The groups: disjoint, non-empty lists of indices into the leaves.

    Raises
    ------
    ValueError
        Unknown specification, missing structure, empty/overlapping groups, indices
        out of range, a key path that names no leaf (the path is named).
    TypeError
        A group that is not a list, an entry neither an int nor a string.
    """
    check_group_spec(groups)
    if groups is None:
        return [[j] for j in range(n_params)]
    if not isinstance(groups, str):
        if paths is None:
            paths = [str(j) for j in range(n_params)]
        return tree.validate_groups(_indices_of_paths(groups, paths), n_params)
    structure = blocks if groups == "block" else layers
    if structure is None:
        needed = "blocks()" if groups == "block" else "layers()"
        raise ValueError(f"groups={groups!r} needs the model's {needed}")
    if groups.startswith("uniform:"):
        structure = tree.uniform_groups(structure, int(groups.split(":", 1)[1]))
    return tree.validate_groups(structure, n_params)


def _indices_of_paths(groups: Any, paths: Sequence[str]) -> Any:
    """``groups`` with each key-path entry replaced by the indices of the leaves it names
    (the leaf of that path, or every leaf under it); everything else is left to
    :func:`rso_ref.tree.validate_groups`."""
    if isinstance(groups, str) or not isinstance(groups, (list, tuple)):
        return groups
    resolved = []
    for gi, group in enumerate(groups):
        if isinstance(group, str):
            raise TypeError(f"groups[{gi}] must be a list of indices or key paths, got "
                            f"{group!r}; write [{group!r}] for the group of that path")
        if not isinstance(group, (list, tuple)):
            resolved.append(group)
            continue
        members = []
        for entry in group:
            if not isinstance(entry, str):
                members.append(entry)
                continue
            named = [j for j, path in enumerate(paths)
                     if path == entry or path.startswith(entry + "/")]
            if not named:
                raise ValueError(f"groups[{gi}] names {entry!r}, which is no leaf or subtree "
                                 f"of params (its leaves: {', '.join(paths)})")
            members.extend(named)
        resolved.append(members)
    return resolved


def _host() -> ModuleType:
    """The host namespace of the weights ``w`` (array-API NumPy)."""
    return namespace("numpy")


def host_weights(values: Any, n_groups: int | None, name: str = "w0") -> Any:
    """Return ``values`` as a fresh host float64 array.

    Parameters
    ----------
    values : array or sequence of float
        A sequence of numbers or a 1-D array of any backend.
    n_groups : int or None
        The required length; None accepts any length.
    name : str, default "w0"
        The argument's name, for error messages.

    Returns
    -------
    numpy.ndarray, shape (n_groups,), float64
        A copy on the host.

    Raises
    ------
    ValueError
        If the shape is wrong, or an entry is not finite (``name`` is named).
    """
    hx = _host()
    try:
        w = hx.asarray(to_numpy(values) if hasattr(values, "shape") else values,
                       dtype=hx.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D sequence of real weights, got {values!r}") from exc
    wrong_length = n_groups is not None and w.shape[:1] != (n_groups,)
    if w.ndim != 1 or wrong_length or not bool(hx.all(hx.isfinite(w))):
        expected = f"({n_groups},)" if n_groups is not None else "(L,)"
        raise ValueError(f"{name} must be a finite array of shape {expected}, got {values!r}")
    return w


def check_w0(w0: Any) -> str | tuple[float, ...]:
    """Return a valid ``w0``.

    Parameters
    ----------
    w0 : str or array or sequence of float
        One of :data:`W0_CHOICES`, or explicit weights (any 1-D real sequence or array
        of finite numbers).

    Returns
    -------
    str or tuple of float
        The string as given, or the weights as a tuple of Python floats.

    Raises
    ------
    ValueError
        For an unknown string, or weights that are not a finite 1-D real array.
    """
    if isinstance(w0, str):
        if w0 not in W0_CHOICES:
            raise ValueError(f"w0 must be one of {W0_CHOICES} or an array, got {w0!r}")
        return w0
    return tuple(float(v) for v in host_weights(w0, None, "w0"))


def initial_weights(w0: Any, n_groups: int, previous: Any = None) -> Any:
    """Starting weights of the meta-solve, a host float64 array of shape ``(n_groups,)``.

    ``"uniform"``: :math:`w_i = 1/L` (Algorithm 1, line 2); ``"ones"``: the plain
    gradient step :math:`\\theta - \\eta g`; ``"previous"``: the last step's weights
    ``previous`` (a warm start, as the MindsEye RecursiveSubspace optimizer does),
    uniform on the first step (``previous=None``); or explicit weights of length ``L``.

    Parameters
    ----------
    w0 : {"uniform", "ones", "previous"} or array or sequence of float
        The choice (checked by :func:`check_w0`).
    n_groups : int
        :math:`L`.
    previous : array, optional
        The last step's weights, for ``"previous"``.

    Returns
    -------
    numpy.ndarray, shape (n_groups,), float64
        :math:`w_0` (host).
    """
    hx = _host()
    if isinstance(w0, str):
        check_w0(w0)
        if w0 == "ones":
            return hx.ones(n_groups, dtype=hx.float64)
        if w0 == "previous" and previous is not None:
            return host_weights(previous, n_groups, "previous_w")
        return hx.full(n_groups, 1.0 / n_groups, dtype=hx.float64)
    return host_weights(w0, n_groups, "w0")


def evaluate_oracle(oracle: Oracle, params: list, name: str, where: str) -> tuple[Any, list]:
    """Call ``oracle(params)`` and check that it returned ``(loss, grads)``.

    Parameters
    ----------
    oracle : callable
        ``oracle(params) -> (loss, grads)``.
    params : list of arrays
        Where to evaluate it.
    name : str
        The oracle's argument name, for error messages.
    where : str
        Where it was called (e.g. ``"at params"``), for error messages.

    Returns
    -------
    loss : scalar
        The loss as the oracle returned it.
    grads : list of arrays
        The gradients, shaped like ``params``.

    Raises
    ------
    TypeError
        If the oracle does not return a pair ``(loss, grads)`` whose ``grads`` is a list
        of arrays (``name`` is named).
    ValueError
        If ``grads`` does not match ``params``.
    """
    loss, grads = check_pair(oracle(params), name, where)
    try:
        tree.check_params(grads, f"{name}'s grads")
    except TypeError as exc:
        raise TypeError(f"{exc}, {where}") from None
    grads = list(grads)
    tree.check_like(grads, params)
    return loss, grads


def group_directions(grads: Sequence, groups: list[list[int]], normalize: bool = False
                     ) -> tuple[list, Any]:
    r"""Return the per-group directions :math:`d_i` and the group gradient norms.

    .. math::

        d_i = g_i \quad\text{(Algorithm 1)}, \qquad\text{or}\qquad
        d_i = g_i / \|g_i\| \quad\text{with normalize},

    a zero group gradient giving a zero direction.

    Parameters
    ----------
    grads : list of arrays
        The gradient :math:`\nabla L(\theta)`.
    groups : list of lists of int
        Validated groups (:func:`resolve_groups`).
    normalize : bool, default False
        Use unit directions.

    Returns
    -------
    directions : list of arrays
        Shaped like ``grads``; entries in no group are the gradient itself and are never
        used.
    norms : numpy.ndarray, shape (L,), float64
        :math:`\|g_i\|` per group (host).
    """
    check_flag(normalize, "normalize")
    grads = list(grads)
    hx = _host()
    norms = hx.asarray([math.sqrt(v) for v in tree.group_vdots(grads, grads, groups)],
                       dtype=hx.float64)
    if not normalize:
        return list(grads), norms
    directions = list(grads)
    for group, nrm in zip(groups, norms):
        # a Python float: a NumPy scalar times a device array would pull it to the host
        factor = 1.0 / float(nrm) if nrm > 0 else 0.0
        for j in group:
            directions[j] = factor * grads[j]
    return directions, norms


def apply_weights(params: list, directions: list, groups: list[list[int]], lr: float,
                  w: Any) -> list:
    r"""Return the parameters moved by the weighted group directions.

    .. math::

        \theta' = \theta - \eta \sum_{i=1}^{L} w_i d_i,

    where :math:`d_i` is nonzero only on the arrays of group :math:`G_i`; arrays in no
    group are left unchanged.

    Parameters
    ----------
    params : list of arrays
        :math:`\theta`.
    directions : list of arrays
        The directions :math:`d_i`, shaped like ``params`` (:func:`group_directions`).
    groups : list of lists of int
        Validated groups (:func:`resolve_groups`).
    lr : float
        :math:`\eta`.
    w : array or sequence of float
        The ``L`` weights (a host array or Python floats).

    Returns
    -------
    list of arrays
        :math:`\theta'`, new arrays where a group moved them, ``params``' own elsewhere.
    """
    params = list(params)
    return _apply(array_namespace(params[0]), params, list(directions),
                  tuple(tuple(g) for g in groups), lr, w)


def _apply(xp: ModuleType, params: list, directions: list, groups: tuple, lr: float,
           w: Any) -> list:
    """:func:`apply_weights` with its arguments prepared (the meta-objective's per-call form)."""
    steps = tuple(lr * float(wi) for wi in w)  # host floats: weakly typed, the params' dtype
    return keep_zero_d(_moved(xp, params, directions, groups, steps))  # 0-d stays 0-d (NumPy)


@fused(static_argnames=("groups",))
def _moved(xp: ModuleType, params: list, directions: list, groups: tuple, steps: tuple) -> list:
    """:func:`apply_weights`' arithmetic, one program on JAX (``backend.fused``)."""
    out = list(params)
    for group, step in zip(groups, steps):
        for j in group:
            out[j] = params[j] - step * directions[j]
    return out


def meta_objective(value_and_grad: Oracle, params: Sequence, directions: Sequence,
                   groups: list[list[int]], lr: float) -> Callable[[Any], tuple]:
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
    callable
        ``f(w) -> (float, host float64 array of shape (L,))``, ``w`` of shape ``(L,)``.
        Values are not checked for finiteness (a trial point of a line search may
        overshoot; :func:`rso_step` checks :math:`f(w_0)` and the solution). Its first
        call checks that the oracle's gradients live on the device of ``params`` (a
        ``ValueError`` naming both devices); an oracle that keeps its device is not
        checked again.
    """
    check_callable(value_and_grad, "value_and_grad")
    lr = check_positive(lr, "lr")
    params, directions = list(params), list(directions)
    tree.check_like(directions, params, "directions", "params")
    hx = _host()
    xp = array_namespace(params[0])
    fixed_groups = tuple(tuple(g) for g in groups)
    devices_checked = False

    def f(w: Any) -> tuple[float, Any]:
        nonlocal devices_checked
        trial = _apply(xp, params, directions, fixed_groups, lr, w)
        value, new_grads = evaluate_oracle(value_and_grad, trial, "value_and_grad",
                                           "in the meta-objective")
        if not devices_checked:
            array_namespace(params, new_grads, names=["params", "value_and_grad's grads"])
            devices_checked = True
        value, dots = tree.value_and_group_vdots(value, new_grads, directions, groups)
        return value, -lr * hx.asarray(dots, dtype=hx.float64)

    return f


def rso_step(value_and_grad: Oracle, params: Sequence, *, lr: float, groups: Any = None,
             meta_iters: int = DEFAULT_META_ITERS, w0: Any = "uniform", normalize: bool = False,
             safeguard: bool = False, meta_value_and_grad: Oracle | None = None,
             previous_w: Any = None, loss: float | None = None,
             grads: Sequence | None = None, layers: Sequence | None = None,
             blocks: Sequence | None = None, m: int = 10, c1: float = 1e-4, c2: float = 0.9,
             maxls: int = 20) -> RSOStepResult:
    r"""One RSO update (Algorithm 1 of the RSO paper), literally.

    Parameters
    ----------
    value_and_grad : callable
        ``value_and_grad(params) -> (loss, grads)``: any loss/gradient oracle over a
        list of arrays (one namespace), or over a pytree of arrays of the structure of
        ``params`` (then ``grads`` is of that structure too). Called once at
        :math:`\theta` unless ``loss`` and ``grads`` are given.
    params : list of arrays or pytree of arrays
        :math:`\theta`, ordered as the oracle expects: a list, a bare array, or nested
        dicts/lists/tuples/namedtuples of arrays (and JAX-registered nodes when JAX is
        imported; :mod:`rso_ref.pytree`). The step works on its leaves, in
        :func:`rso_ref.pytree.flatten` order.
    lr : float
        :math:`\eta > 0`.
    groups : None, "layer", "block", "uniform:N" or list of lists of int or str
        The partition :math:`\theta_1, \dots, \theta_L` (see :func:`resolve_groups`):
        a group lists leaf indices or key paths naming a leaf or a whole subtree, as
        ``[["dense1"], ["dense2/w", "dense2/b"]]`` (:func:`rso_ref.pytree.leaf_paths`).
        Parameters in no group are not updated.
    meta_iters : int, default :data:`DEFAULT_META_ITERS` (5)
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
        Oracle for ``f`` (e.g. on a smaller meta batch), over the structure of
        ``params`` like ``value_and_grad``; defaults to ``value_and_grad``.
    previous_w : array, optional
        Weights of the previous step (for ``w0="previous"``).
    loss : float, optional
        :math:`L(\theta)` when already computed. Give ``loss`` and ``grads`` together
        or neither (one without the other raises ``ValueError``); with both,
        ``value_and_grad`` is not called at :math:`\theta`.
    grads : list of arrays or pytree of arrays, optional
        :math:`\nabla L(\theta)` when already computed, with ``loss``, of the structure
        of ``params``.
    layers, blocks : list of lists of int, optional
        Model structure for string ``groups``.
    m : int, default 10
        Memory of the meta L-BFGS (:func:`rso_ref.lbfgs.minimize`).
    c1, c2 : float, default 1e-4, 0.9
        Wolfe constants of its line search, :math:`0 < c_1 < c_2 < 1`.
    maxls : int, default 20
        Most oracle calls per line search.

    Returns
    -------
    RSOStepResult
        The new parameters :math:`\theta'` (in the structure of ``params``), the
        weights :math:`w^*`, the loss before and after, the oracle calls and iterations
        of the meta-solve, the group gradient norms and the meta-solve's status.

    Raises
    ------
    NonFiniteError
        If the loss or a gradient entry at :math:`\theta` is NaN or inf (with any
        ``meta_iters``, 0 included), or :math:`f(w_0)` or :math:`\nabla f(w_0)` is: the
        step would otherwise return non-finite parameters or fail inside the meta-solve.
    TypeError
        If ``params`` or ``grads`` is None or has a leaf that is not an array (its path
        is named), if ``value_and_grad`` does not return a pair ``(loss, grads)`` with
        a scalar loss and arrays in the structure of ``params``, or
        ``lr``/``meta_iters`` are not numbers.
    ValueError
        Bad ``lr``, ``meta_iters``, ``groups`` (a key path naming no leaf), ``w0`` or
        gradient shapes; ``params`` without leaves; ``grads`` (given, or returned by
        an oracle) not of the structure of ``params`` (both and the first differing
        path named); ``loss`` without ``grads`` or ``grads`` without ``loss``; ``params`` on
        two devices, or gradients (given, or returned by either oracle) on another
        device than ``params`` (both devices and the argument are named).

    Notes
    -----
    With :math:`G = [d_1, \dots, d_L]` (directions as columns of the flattened
    parameter space) the meta-objective and its gradient are

    .. math::

        f(w) = L(\theta - \eta G w), \qquad \nabla f(w) = -\eta\, G^\top \nabla L(\theta - \eta G w).

    For a quadratic :math:`L(\theta) = \tfrac12 \theta^\top A \theta - b^\top \theta`
    the minimiser solves :math:`(G^\top A G)\, w^{*} = G^\top \nabla L(\theta) / \eta`;
    with one group RSO is an exact line search along :math:`-g`.

    ``rso_step`` is driven from the host, on every backend. The meta-solve is L-BFGS on
    the :math:`L` weights :math:`w`: its line search branches on the values
    :math:`f(w)` and :math:`\partial f/\partial w` (Wolfe tests, bracketing, zoom) and
    the number of oracle calls depends on them, so each call's loss and :math:`L` group
    inner products come to the host as floats (:math:`w` itself is a host array) and the
    step cannot be traced into one compiled program without becoming a fixed-length
    masked loop; called inside ``jax.jit`` it raises a ``TypeError`` saying so. The oracle
    may be compiled: a ``jax.jit``-compiled ``value_and_grad`` is taken as is, arrays stay
    on the parameters' device, and the loss and the :math:`L` inner products cross in one
    transfer per call. Per oracle call the host adds forming :math:`\theta'(w)` and the
    inner products (on JAX one compiled program each, :func:`rso_ref.backend.fused`;
    elsewhere two array operations per parameter array each), the checks of the oracle's
    output and the L-BFGS work on :math:`w`. Measured by ``rso-ref bench rso-host`` (an
    MLP 64-64-10, batch 64, float64, grouped by layer, ``K = 5``, one thread, best of 41
    repeats, three runs), host time per oracle call: NumPy 0.16-0.17 ms, torch on the CPU
    0.27-0.29 ms, JAX with a jitted oracle 0.25-0.33 ms (0.75 ms or more before its pieces
    were compiled: eager JAX dispatches each operation in 50-80 µs). The cost does not grow
    with the batch, so it is amortised once an oracle call takes a few milliseconds.

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
    check_callable(value_and_grad, "value_and_grad")
    if meta_value_and_grad is not None:
        check_callable(meta_value_and_grad, "meta_value_and_grad")
    lr = check_positive(lr, "lr")
    meta_iters = check_int(meta_iters, "meta_iters")
    check_flag(normalize, "normalize")
    check_flag(safeguard, "safeguard")
    params, structure = pytree.flatten(params, "params")  # a list of arrays as is
    if not params:
        raise ValueError("params must hold at least one array")
    check_concrete(params, [f"params leaf {path!r}" for path in structure.paths], "rso_step",
                   "Compile the oracle instead and call rso_step eagerly: "
                   "rso_step(jax.jit(value_and_grad), params, ...) takes it as is, and the "
                   "step's own array work runs as compiled pieces (rso_ref.backend.fused).")
    xp = array_namespace(params, names=["params"])  # one namespace, one device
    params = committed(xp, params)  # JAX: one placement, so each piece compiles once
    groups = resolve_groups(groups, len(params), layers=layers, blocks=blocks,
                            paths=structure.paths)
    value_and_grad = pytree.flat_oracle(value_and_grad, structure, "value_and_grad")
    meta_value_and_grad = pytree.flat_oracle(meta_value_and_grad, structure,
                                             "meta_value_and_grad")
    meta_oracle = value_and_grad if meta_value_and_grad is None else meta_value_and_grad

    if grads is None:
        if loss is not None:
            raise ValueError("loss was given without grads; pass both or neither")
        loss, grads = evaluate_oracle(value_and_grad, params, "value_and_grad", "at params")
    elif loss is None:
        raise ValueError("grads was given without loss; pass both or neither")
    else:
        grads = pytree.flatten_like(grads, structure, "grads", "params")
    grads = list(grads)
    tree.check_like(grads, params)
    array_namespace(params, grads, names=["params", "grads"])
    loss_before = check_finite_loss(loss, "value_and_grad", "at params")

    directions, grad_norms = group_directions(grads, groups, normalize)
    if not tree.all_finite(grads):  # a NaN or inf entry must not reach the parameters
        raise NonFiniteError("grads contains NaN or inf entries at params "
                             f"(group gradient norms {grad_norms.tolist()})")
    objective = meta_objective(meta_oracle, params, directions, groups, lr)
    calls = 0
    objective_values: list = []  # f at w0, then after each meta iteration
    hx = _host()

    def counted(w: Any) -> tuple[float, Any]:
        nonlocal calls
        calls += 1
        value, grad_w = objective(w)
        if not objective_values:  # f(w0): the meta-solve cannot start from a non-finite point
            check_finite_loss(value, "value_and_grad" if meta_value_and_grad is None
                              else "meta_value_and_grad", "at w0 of the meta-solve")
            if not bool(hx.all(hx.isfinite(grad_w))):
                raise NonFiniteError("the meta-gradient is not finite at w0 of the meta-solve "
                                     f"(w0 = {w.tolist()})")
            objective_values.append(value)
        return value, grad_w

    def no_progress_left(intermediate_result) -> None:
        # Scale-aware stop (invariant to rescaling L or lr): the decrease of f observed in
        # the last meta iteration was at the rounding level of f, META_FTOL * |f|. Only an
        # observed decrease is used: extrapolations and gradient tests relative to w0 stop
        # too early on non-convex f, where a tiny step can be followed by fast progress.
        previous, value = objective_values[-1], float(intermediate_result.fun)
        objective_values.append(value)
        if previous - value <= META_FTOL * abs(value):
            raise StopIteration

    start = initial_weights(w0, len(groups), previous_w)
    if meta_iters == 0:
        f_start, _ = counted(start)
        w, f_w, nit, status, message = start, f_start, 0, 0, "meta_iters=0: w0 used as is"
    else:
        result = minimize(counted, start, m=m, gtol=0.0, ftol=0.0, maxiter=meta_iters,
                          maxfun=max(1, meta_iters * (maxls + 1) + 1), maxls=maxls, c1=c1, c2=c2,
                          callback=no_progress_left)
        # minimize accepts finite points only, so f_w is finite.
        w, f_w, nit = hx.asarray(result.x, dtype=hx.float64), float(result.fun), int(result.nit)
        status, message = int(result.status), str(result.message)
        if status == STATUS_MESSAGES["callback"][0]:
            status, message = 0, "meta-solve converged: no progress left above rounding level"

    safeguarded = False
    if safeguard and not (isinstance(w0, str) and w0 == "ones"):
        ones = hx.ones(len(groups), dtype=hx.float64)
        f_gd, _ = counted(ones)
        if f_gd < f_w:
            w, f_w, safeguarded = ones, f_gd, True

    return RSOStepResult(
        params=pytree.unflatten(structure, apply_weights(params, directions, groups, lr, w)),
        w=w, loss_before=loss_before,
        loss_after=f_w, nfev=calls, nit=nit, grad_norms=grad_norms, meta_status=status,
        meta_message=message, safeguarded=safeguarded)
