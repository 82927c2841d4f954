r"""RSO as an optimizer of the :mod:`rso_ref.optim` contract (Algorithm 1 is :mod:`rso_ref.rso`)."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from .. import tree
from ..backend import check_concrete
from ..linesearch import check_wolfe_constants
from ..rso import (DEFAULT_META_ITERS, Oracle, apply_weights, check_group_spec, check_w0,
                   evaluate_oracle, group_directions, resolve_groups, rso_step)
from ..validation import check_flag, check_int, check_positive
from .base import begin_step, store_checked
from .contract import Needs, Optimizer, StepInfo

__all__ = ["RSO"]

_KEYS = ("count", "w")

#: The options :class:`RSO` shares with :func:`rso_step` take their defaults from its
#: signature, so that each default is written once.
_STEP_DEFAULTS = {name: parameter.default
                  for name, parameter in inspect.signature(rso_step).parameters.items()}


@dataclass(frozen=True)
class RSO(Optimizer):
    r"""RSO as an optimizer with the library's ``init``/``step`` contract.

    .. math::

        \theta_{t+1} = \theta_t - \eta \sum_i w_i^{(t)} g_i^{(t)}, \qquad
        w^{(t)} = \text{K L-BFGS iterations on }
            f_t(w) = L\big(\theta_t - \eta \textstyle\sum_i w_i g_i^{(t)}\big)

    Parameters
    ----------
    lr : float
        :math:`\eta > 0`.
    groups : None, "layer", "block", "uniform:N" or list of lists of int or str
        The partition of the parameters, as in :func:`rso_ref.rso.rso_step` (with
        pytree params, a group may name leaves by key path, ``[["dense1"], ["dense2"]]``).
        A string is checked here (:func:`rso_ref.rso.check_group_spec`); the structure it needs
        and the indices by :meth:`init`, so that an RSO can be built for validation
        before the model.
    meta_iters : int, default :data:`rso_ref.rso.DEFAULT_META_ITERS`
        :math:`K`, L-BFGS iterations on :math:`f_t` per solve.
    w0 : {"uniform", "ones", "previous"} or array, default "uniform"
        Start of each meta-solve; ``"previous"`` starts from the last solve's weights.
    normalize : bool, default False
        Use unit directions :math:`g_i / \|g_i\|`.
    safeguard : bool, default False
        Never return a point worse than the plain gradient step (:math:`w = \mathbf 1`).
    meta_every : int, default 1
        Re-solve ``w`` every ``meta_every`` steps; in between, reuse the last ``w``
        (no meta evaluations). Reduces the cost by about that factor.
    warmup_steps : int, default 0
        Plain SGD steps (:math:`w = \mathbf 1`) before switching to RSO (§2.3, "Warm-up").
    layers, blocks : list of lists of int, optional
        Model structure for string ``groups`` (e.g. ``model.layers()``).
    m : int, default 10
        Memory of the meta L-BFGS (:func:`rso_ref.lbfgs.minimize` through
        :func:`rso_ref.rso.rso_step`).
    c1, c2 : float, default 1e-4, 0.9
        Wolfe constants of its line search, :math:`0 < c_1 < c_2 < 1`.
    maxls : int, default 20
        Most oracle calls per line search.

    Attributes
    ----------
    needs : Needs.VALUE_AND_GRAD
        ``step`` takes ``value_and_grad`` (required), ``loss`` and
        ``meta_value_and_grad`` (``takes_meta_oracle`` is True).
    state : dict
        ``{"count": int, "w": tuple of float or None}``: steps taken and the weights of
        the last meta-solve (the start for ``w0="previous"`` and the weights reused
        between solves; None before the first solve).

    Notes
    -----
    Each step's :class:`~rso_ref.optim.contract.StepInfo` holds ``oracle_calls`` (meta
    evaluations, plus one when ``loss`` was not given), ``w`` (the weights the step
    used: ones in warm-up), ``iterations`` (meta L-BFGS iterations), ``loss_after``
    (:math:`f(w^*)`, on the meta batch when ``meta_value_and_grad`` is given) and the
    meta-solve's ``status``/``message``. A NaN or inf in ``grads``, in the loss at
    :math:`\theta` or at the start of the meta-solve raises
    :class:`~rso_ref.validation.NonFiniteError`, in warm-up and reuse steps too.

    Examples
    --------
    >>> import numpy as np
    >>> oracle = lambda p: (float(p[0] @ p[0]), [2.0 * p[0]])
    >>> opt = RSO(lr=0.1, meta_iters=3)
    >>> params = [np.array([3.0, -4.0])]
    >>> state = opt.init(params)
    >>> loss, grads = oracle(params)
    >>> params, state, info = opt.step_with_info(params, grads, state,
    ...                                          value_and_grad=oracle, loss=loss)
    >>> bool(info.loss_after < 1e-20), info.w   # exact line search: w = 1 / (2 lr)
    (True, (5.0,))
    """

    lr: float
    groups: Any = _STEP_DEFAULTS["groups"]
    meta_iters: int = DEFAULT_META_ITERS
    w0: Any = _STEP_DEFAULTS["w0"]
    normalize: bool = _STEP_DEFAULTS["normalize"]
    safeguard: bool = _STEP_DEFAULTS["safeguard"]
    meta_every: int = 1
    warmup_steps: int = 0
    layers: Any = None
    blocks: Any = None
    m: int = _STEP_DEFAULTS["m"]
    c1: float = _STEP_DEFAULTS["c1"]
    c2: float = _STEP_DEFAULTS["c2"]
    maxls: int = _STEP_DEFAULTS["maxls"]

    needs: ClassVar[Needs] = Needs.VALUE_AND_GRAD
    takes_meta_oracle: ClassVar[bool] = True

    def __post_init__(self):
        c1, c2 = check_wolfe_constants(self.c1, self.c2)
        store_checked(self, lr=check_positive(self.lr, "lr"),
                      meta_iters=check_int(self.meta_iters, "meta_iters"),
                      normalize=check_flag(self.normalize, "normalize"),
                      safeguard=check_flag(self.safeguard, "safeguard"),
                      meta_every=check_int(self.meta_every, "meta_every", minimum=1),
                      warmup_steps=check_int(self.warmup_steps, "warmup_steps"),
                      m=check_int(self.m, "m", minimum=1), c1=c1, c2=c2,
                      maxls=check_int(self.maxls, "maxls", minimum=1))
        check_group_spec(self.groups)
        store_checked(self, w0=check_w0(self.w0))

    takes_leaf_paths = True

    def _groups(self, n_params: int, leaf_paths: Sequence[str] | None) -> list[list[int]]:
        return resolve_groups(self.groups, n_params, layers=self.layers, blocks=self.blocks,
                              paths=leaf_paths)

    def init(self, params: Sequence, *, leaf_paths: Sequence[str] | None = None) -> dict:
        """Return a fresh state for ``params``, checking that ``groups`` fits them.

        Parameters
        ----------
        params : list of arrays
            The parameters RSO will update.
        leaf_paths : sequence of str, optional
            The key path of each array (passed by the pytree wrapper, so that ``groups``
            may name leaves by key path); default ``"0"``, ``"1"``, ...

        Returns
        -------
        dict
            ``{"count": 0, "w": None}``.

        Raises
        ------
        TypeError
            If ``params`` is not a list of arrays.
        ValueError
            If ``groups`` (with ``layers``/``blocks``) does not partition ``params``.
        """
        tree.check_params(params)
        self._groups(len(params), leaf_paths)
        return {"count": 0, "w": None}

    def step_with_info(self, params: Sequence, grads: Sequence, state: dict, *,
                       value_and_grad: Oracle, loss: float | None = None,
                       meta_value_and_grad: Oracle | None = None,
                       leaf_paths: Sequence[str] | None = None
                       ) -> tuple[list, dict, StepInfo]:
        r"""Take one RSO step from the gradient ``grads`` at ``params``.

        .. math::

            \theta_{t+1} = \theta_t - \eta \sum_i w_i^{(t)} g_i^{(t)},

        with :math:`w^{(t)}` from the meta-solve (:func:`rso_ref.rso.rso_step`), the ones
        vector in warm-up, or the last solve's weights between solves.

        Parameters
        ----------
        params : list of arrays
            :math:`\theta_t`.
        grads : list of arrays
            :math:`\nabla L(\theta_t)`, shaped like ``params``.
        state : dict
            From :meth:`init` or the previous step.
        value_and_grad : callable
            ``value_and_grad(params) -> (loss, grads)``; defines the meta-objective.
        loss : float, optional
            :math:`L(\theta_t)` when known; without it one extra oracle call computes it
            (counted in ``StepInfo.oracle_calls``).
        meta_value_and_grad : callable, optional
            An oracle for the meta-objective on another batch (a meta batch).
        leaf_paths : sequence of str, optional
            As in :meth:`init`.

        Returns
        -------
        params : list of arrays
            :math:`\theta_{t+1}` (new arrays).
        state : dict
            ``{"count": count + 1, "w": weights used}``.
        info : StepInfo
            Oracle calls, the weights, the meta L-BFGS iterations, :math:`f(w^*)` and the
            meta-solve's status.

        Raises
        ------
        NonFiniteError
            If ``grads``, the loss at ``params`` or the meta-objective at its start is
            NaN or inf.
        """
        check_concrete(list(params), [f"params[{j}]" for j in range(len(params))], "RSO.step",
                       "Compile value_and_grad instead and step eagerly (see rso_ref.rso_step).")
        params, grads = begin_step(params, grads, state, _KEYS)
        groups = self._groups(len(params), leaf_paths)
        count = state["count"]
        if count < self.warmup_steps:
            w = (1.0,) * len(groups)
            new_params = apply_weights(params, grads, groups, self.lr, w)
            return new_params, {"count": count + 1, "w": None}, \
                StepInfo(w=w, iterations=0, message="warm-up: plain gradient step")
        if state["w"] is not None and (count - self.warmup_steps) % self.meta_every != 0:
            w = tuple(float(v) for v in state["w"])
            directions, _ = group_directions(grads, groups, self.normalize)
            new_params = apply_weights(params, directions, groups, self.lr, w)
            return new_params, {"count": count + 1, "w": w}, \
                StepInfo(w=w, iterations=0, message="w of the last meta-solve reused")
        extra = 0
        if loss is None:
            loss, _ = evaluate_oracle(value_and_grad, params, "value_and_grad", "at params")
            extra = 1
        result = rso_step(value_and_grad, params, lr=self.lr, groups=groups,
                          meta_iters=self.meta_iters, w0=self.w0, normalize=self.normalize,
                          safeguard=self.safeguard, meta_value_and_grad=meta_value_and_grad,
                          previous_w=state["w"], loss=loss, grads=grads, m=self.m,
                          c1=self.c1, c2=self.c2, maxls=self.maxls)
        w = tuple(float(v) for v in result.w)
        return result.params, {"count": count + 1, "w": w}, StepInfo(
            oracle_calls=result.nfev + extra, w=w, iterations=result.nit,
            loss_after=result.loss_after, status=result.meta_status,
            message=result.meta_message)
