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
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

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


class Optimizer:
    """Base of every optimizer: declares :attr:`needs` and derives :meth:`step`.

    Subclasses are frozen dataclasses of hyperparameters (checked in ``__post_init__``
    with :mod:`rso_ref.validation`) that implement :meth:`init` and
    :meth:`step_with_info`.
    """

    #: What a step needs (see :class:`Needs`).
    needs: ClassVar[Needs] = Needs.GRADIENT
    #: Whether ``step`` also takes ``meta_value_and_grad`` (an oracle on a meta batch).
    takes_meta_oracle: ClassVar[bool] = False

    def init(self, params: Sequence) -> dict:
        """Return a fresh state for ``params``.

        Parameters
        ----------
        params : list of arrays
            The parameters the optimizer will update (any one backend and device).

        Returns
        -------
        dict
            Plain data (numbers and lists of arrays shaped like ``params``, on their
            device), with the keys listed under the optimizer's Attributes; the step
            count starts at 0.

        Raises
        ------
        TypeError
            If ``params`` is not a list (or tuple) of arrays: ``None``, a bare array
            (wrap it: ``[x]``), nested Python lists (:func:`rso_ref.tree.check_params`).
        """
        raise NotImplementedError

    def step_with_info(self, params: Sequence, grads: Sequence, state: dict,
                       **oracles: Any) -> tuple[list, dict, StepInfo]:
        r"""Take one step and report its diagnostics.

        Parameters
        ----------
        params : list of arrays
            Current parameters :math:`\theta_{t-1}`.
        grads : list of arrays
            The gradient at ``params``, shaped like it.
        state : dict
            The state returned by :meth:`init` or by the previous step.
        **oracles : callable or float
            The keyword oracles that :attr:`needs` declares (see the module docstring):
            none for :attr:`Needs.GRADIENT`; ``value_and_grad`` (and optionally
            ``loss``, ``meta_value_and_grad``) for :attr:`Needs.VALUE_AND_GRAD`;
            ``hvp_fn`` for :attr:`Needs.HVP`.

        Returns
        -------
        params : list of arrays
            :math:`\theta_t`, new arrays of the dtypes of ``params`` (a gradient of
            another dtype is cast to its parameter's, as torch.optim's in-place update
            keeps the parameter's dtype); the inputs are left untouched.
        state : dict
            The new state (a new dict).
        info : StepInfo
            The step's oracle calls, weights, iterations and status.

        Raises
        ------
        TypeError
            If ``params`` or ``grads`` is not a list of arrays, or ``state`` is not a
            state of this optimizer (:func:`rso_ref.optim.base.begin_step`).
        ValueError
            If ``grads`` or a list of ``state`` does not match ``params``.
        rso_ref.validation.NonFiniteError
            If ``grads`` holds NaN or inf.
        """
        raise NotImplementedError

    def step(self, params: Sequence, grads: Sequence, state: dict,
             **oracles: Any) -> tuple[list, dict]:
        """Take one step: :meth:`step_with_info` without the info.

        Parameters
        ----------
        params : list of arrays
            Current parameters.
        grads : list of arrays
            The gradient at ``params``.
        state : dict
            The state returned by :meth:`init` or by the previous step.
        **oracles : callable or float
            As in :meth:`step_with_info`.

        Returns
        -------
        params : list of arrays
            The new parameters.
        state : dict
            The new state.
        """
        new_params, new_state, _ = self.step_with_info(params, grads, state, **oracles)
        return new_params, new_state
