r"""The one contract every optimizer of :mod:`rso_ref.optim` follows.

.. code-block:: python

    opt = Adam(lr=1e-3)                      # hyperparameters checked and frozen here
    state = opt.init(params)                 # plain data: numbers and lists of arrays
    params, state = opt.step(params, grads, state, **oracles)
    params, state, info = opt.step_with_info(params, grads, state, **oracles)

An optimizer **declares** what a step needs in the class attribute :attr:`Optimizer.needs`
(a :class:`Needs`), and the keyword oracles it takes follow from it:

========================  =====================================================
``needs``                 keywords of ``step`` / ``step_with_info``
========================  =====================================================
``Needs.GRADIENT``        none: the gradient ``grads`` at ``params`` is enough
``Needs.VALUE_AND_GRAD``  ``value_and_grad`` (required), ``loss`` (optional);
                          ``meta_value_and_grad`` when :attr:`Optimizer.takes_meta_oracle`
``Needs.HVP``             ``hvp_fn(params, v) -> H v`` (required)
========================  =====================================================

**Pytrees.** ``params`` and ``grads`` may be any pytree of arrays (nested dicts,
lists, tuples, namedtuples, JAX-registered nodes; :mod:`rso_ref.pytree`), and the
oracles then take and return that structure; the new ``params`` come back in it. This
is done once, here: :class:`Optimizer` wraps each subclass's ``init`` and
``step_with_info`` so that they see the leaves as a list (a plain list of arrays
passes through unchanged), and the state holds flat lists in leaf order.

A step's diagnostics come back as a :class:`StepInfo` record, never through state keys:
:func:`rso_ref.train.train` reads only ``needs``, ``takes_meta_oracle`` and the
:class:`StepInfo` of each step.

Non-finite numbers met during a step (a NaN gradient, a NaN loss at the trial points
of a meta-solve that cannot be recovered from) raise
:class:`rso_ref.validation.NonFiniteError`; ``train`` turns it into
``status="diverged"`` with the last finite parameters.
"""
from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from .. import pytree

__all__ = ["Needs", "StepInfo", "Optimizer"]


class Needs(enum.Enum):
    """What one optimizer step needs besides ``params``, ``grads`` and ``state``."""

    #: The gradient at ``params`` only (SGD, Adam, ...).
    GRADIENT = "gradient"
    #: A loss-and-gradient oracle ``value_and_grad(params) -> (loss, grads)`` (RSO, L-BFGS).
    VALUE_AND_GRAD = "value_and_grad"
    #: A Hessian-vector product ``hvp_fn(params, v) -> H v`` (Dom-/Bulk-SGD).
    HVP = "hvp"


@dataclass(frozen=True)
class StepInfo:
    """Diagnostics of one optimizer step.

    Attributes
    ----------
    oracle_calls : int
        Calls of ``value_and_grad`` (or ``meta_value_and_grad``) made inside the step;
        the gradient handed to the step is not counted. Each is a forward and a
        backward pass.
    hvp_calls : int
        Hessian-vector products computed inside the step.
    w : tuple of float or None
        RSO's group weights used by the step; None for optimizers without them.
    iterations : int or None
        Inner iterations done (RSO's meta L-BFGS iterations); None where there are none.
    loss_after : float or None
        The loss at the returned parameters when the step computed it (RSO's
        :math:`f(w^*)`, L-BFGS's accepted line-search value); None otherwise.
    status : int
        0 when the step did what it was asked; otherwise the inner solver's status
        code (see each optimizer).
    message : str
        Human-readable form of ``status``.
    """

    oracle_calls: int = 0
    hvp_calls: int = 0
    w: tuple[float, ...] | None = None
    iterations: int | None = None
    loss_after: float | None = None
    status: int = 0
    message: str = ""


#: How each keyword oracle of a step is turned into an oracle of leaf lists.
_LIFT_ORACLE: dict[str, Callable] = {
    "value_and_grad": pytree.flat_oracle,
    "meta_value_and_grad": pytree.flat_oracle,
    "hvp_fn": pytree.flat_hvp,
}


def _init_on_trees(init: Callable) -> Callable:
    """``init`` of a subclass, taking a pytree: it gets the leaves as a list."""
    @functools.wraps(init)
    def tree_init(self: Any, params: Any) -> dict:
        leaves, treedef = pytree.flatten(params, "params")
        return init(self, leaves, **_paths_for(self, treedef))
    return tree_init


def _paths_for(optimizer: Any, treedef: pytree.TreeDef) -> dict:
    """``{"leaf_paths": ...}`` for an optimizer that takes them, else nothing."""
    return {"leaf_paths": treedef.paths} if optimizer.takes_leaf_paths else {}


def _step_on_trees(step_with_info: Callable) -> Callable:
    """``step_with_info`` of a subclass, taking pytrees: it gets leaf lists and oracles of
    leaf lists (:data:`_LIFT_ORACLE`), and its new params go back into the structure."""
    @functools.wraps(step_with_info)
    def tree_step(self: Any, params: Any, grads: Any, state: dict,
                  **oracles: Any) -> tuple[Any, dict, StepInfo]:
        leaves, treedef = pytree.flatten(params, "params")
        grad_leaves = pytree.flatten_like(grads, treedef, "grads", "params")
        lifted = {key: _LIFT_ORACLE[key](value, treedef, key) if key in _LIFT_ORACLE else value
                  for key, value in oracles.items()}
        new_leaves, new_state, info = step_with_info(self, leaves, grad_leaves, state, **lifted,
                                                     **_paths_for(self, treedef))
        return pytree.unflatten(treedef, new_leaves), new_state, info
    return tree_step


class Optimizer:
    """Base of every optimizer: declares :attr:`needs` and derives :meth:`step`.

    Subclasses are frozen dataclasses of hyperparameters (checked in ``__post_init__``
    with :mod:`rso_ref.validation`) that implement :meth:`init` and
    :meth:`step_with_info` on lists of arrays. The base class wraps the two when the
    subclass is defined so that they take pytrees (see the module docstring).
    """

    #: What a step needs (see :class:`Needs`).
    needs: ClassVar[Needs] = Needs.GRADIENT
    #: Whether ``step`` also takes ``meta_value_and_grad`` (an oracle on a meta batch).
    takes_meta_oracle: ClassVar[bool] = False
    #: Whether ``init`` and ``step_with_info`` take ``leaf_paths``, the key path of each
    #: leaf of ``params`` (:func:`rso_ref.pytree.leaf_paths`), e.g. to resolve groups
    #: named by key path; the pytree wrapper passes it.
    takes_leaf_paths: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        for name, on_trees in (("init", _init_on_trees), ("step_with_info", _step_on_trees)):
            if name in vars(cls):
                setattr(cls, name, on_trees(vars(cls)[name]))

    def init(self, params: Any) -> dict:
        """Return a fresh state for ``params``.

        Parameters
        ----------
        params : list of arrays or pytree of arrays
            The parameters the optimizer will update (any one backend and device); a
            pytree (:mod:`rso_ref.pytree`) is taken as its list of leaves.

        Returns
        -------
        dict
            Plain data (numbers and lists of arrays shaped like the leaves of
            ``params``, in leaf order, on their device), with the keys listed under the
            optimizer's Attributes; the step count starts at 0.

        Raises
        ------
        TypeError
            If ``params`` is None or has a leaf that is not an array (its path is named,
            as ``params[0][1]``: nested Python lists of numbers are trees of numbers).
        """
        raise NotImplementedError

    def step_with_info(self, params: Any, grads: Any, state: dict,
                       **oracles: Any) -> tuple[Any, dict, StepInfo]:
        r"""Take one step and report its diagnostics.

        Parameters
        ----------
        params : list of arrays or pytree of arrays
            Current parameters :math:`\theta_{t-1}`.
        grads : list of arrays or pytree of arrays
            The gradient at ``params``, of its structure and shapes.
        state : dict
            The state returned by :meth:`init` or by the previous step.
        **oracles : callable or float
            The keyword oracles that :attr:`needs` declares (see the module docstring):
            none for :attr:`Needs.GRADIENT`; ``value_and_grad`` (and optionally
            ``loss``, ``meta_value_and_grad``) for :attr:`Needs.VALUE_AND_GRAD`;
            ``hvp_fn`` for :attr:`Needs.HVP`. They take and return pytrees of the
            structure of ``params``.

        Returns
        -------
        params : list of arrays or pytree of arrays
            :math:`\theta_t` in the structure of ``params``, new arrays of the dtypes of
            ``params`` (a gradient of another dtype is cast to its parameter's, as
            torch.optim's in-place update keeps the parameter's dtype); the inputs are
            left untouched.
        state : dict
            The new state (a new dict).
        info : StepInfo
            The step's oracle calls, weights, iterations and status.

        Raises
        ------
        TypeError
            If ``params`` or ``grads`` is None or has a leaf that is not an array (its
            path named), or ``state`` is not a state of this optimizer
            (:func:`rso_ref.optim.base.begin_step`).
        ValueError
            If ``grads`` does not have the structure of ``params`` (the first differing
            path named), or it or a list of ``state`` does not match ``params``.
        rso_ref.validation.NonFiniteError
            If ``grads`` holds NaN or inf.
        """
        raise NotImplementedError

    def step(self, params: Any, grads: Any, state: dict,
             **oracles: Any) -> tuple[Any, dict]:
        """Take one step: :meth:`step_with_info` without the info.

        Parameters
        ----------
        params : list of arrays or pytree of arrays
            Current parameters.
        grads : list of arrays or pytree of arrays
            The gradient at ``params``, of its structure.
        state : dict
            The state returned by :meth:`init` or by the previous step.
        **oracles : callable or float
            As in :meth:`step_with_info`.

        Returns
        -------
        params : list of arrays or pytree of arrays
            The new parameters, in the structure of ``params``.
        state : dict
            The new state.
        """
        new_params, new_state, _ = self.step_with_info(params, grads, state, **oracles)
        return new_params, new_state
