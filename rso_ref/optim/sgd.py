r"""Stochastic gradient descent: momentum, dampening, weight decay, Nesterov (torch.optim.SGD)."""
from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Sequence

from .. import tree
from ..validation import check_flag, check_nonnegative, check_positive
from .base import begin_step, store_checked
from .contract import Optimizer, StepInfo

__all__ = ["SGD"]


@dataclass(frozen=True)
class SGD(Optimizer):
    r"""SGD with (heavy-ball or Nesterov) momentum, with torch.optim.SGD semantics.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta > 0`.
    momentum : float, default 0
        Momentum factor :math:`\mu \ge 0`; 0 gives plain gradient descent.
    dampening : float, default 0
        Dampening :math:`\tau \in [0, 1]` of the gradient added to the buffer.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda \ge 0`, added to the gradient.
    nesterov : bool, default False
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.

    Attributes
    ----------
    state : dict
        ``{"count": int, "momentum_buffer": list of arrays}``: steps taken and the
        buffers :math:`b` (empty list when ``momentum == 0``).

    Notes
    -----
    For step :math:`t = 1, 2, \dots` with gradient :math:`g_t` at :math:`\theta_{t-1}`:

    .. math::

        \tilde g_t &= g_t + \lambda \theta_{t-1} \\
        b_t &= \begin{cases} \tilde g_1 & t = 1 \\
                \mu b_{t-1} + (1 - \tau)\, \tilde g_t & t > 1 \end{cases} \\
        d_t &= \begin{cases} \tilde g_t + \mu b_t & \text{Nesterov} \\
                b_t & \text{otherwise} \end{cases} \\
        \theta_t &= \theta_{t-1} - \eta\, d_t

    (with :math:`\mu = 0`, :math:`d_t = \tilde g_t`).

    .. warning::

        The first buffer is the gradient itself, undamped (torch's rule); a
        zero-initialised buffer would give :math:`(1 - \tau) g_1` instead. The
        Nesterov form is Sutskever et al.'s rewritten in terms of the gradient at the
        current point, as in torch; optax's ``sgd(nesterov=True)`` is the same rule.
        Other texts scale the gradient by :math:`\eta` inside the buffer
        (:math:`b_t = \mu b_{t-1} + \eta g_t`), which differs when :math:`\eta` changes.

    References
    ----------
    .. [1] I. Sutskever, J. Martens, G. Dahl, G. Hinton, "On the importance of
       initialization and momentum in deep learning", ICML 2013,
       https://proceedings.mlr.press/v28/sutskever13.html
    .. [2] PyTorch documentation, ``torch.optim.SGD`` (the pseudo-code followed here).

    Examples
    --------
    >>> import numpy as np
    >>> opt = SGD(lr=0.1, momentum=0.9)
    >>> params = [np.array([1.0, -2.0])]
    >>> state = opt.init(params)
    >>> params, state = opt.step(params, [np.array([1.0, 1.0])], state)
    >>> params[0].tolist(), state["count"]
    ([0.9, -2.1], 1)
    """

    lr: float
    momentum: float = 0.0
    dampening: float = 0.0
    weight_decay: float = 0.0
    _: KW_ONLY
    nesterov: bool = False

    def __post_init__(self):
        store_checked(self, lr=check_positive(self.lr, "lr"),
                      momentum=check_nonnegative(self.momentum, "momentum"),
                      dampening=check_nonnegative(self.dampening, "dampening"),
                      weight_decay=check_nonnegative(self.weight_decay, "weight_decay"))
        if self.dampening > 1.0:
            raise ValueError(f"dampening must be in [0, 1], got {self.dampening!r}")
        if check_flag(self.nesterov, "nesterov") and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening == 0, got "
                             f"momentum={self.momentum!r}, dampening={self.dampening!r}")

    def init(self, params: Sequence) -> dict:
        tree.check_params(params)
        buffers = tree.zeros_like(params) if self.momentum > 0 else []
        return {"count": 0, "momentum_buffer": buffers}

    def step_with_info(self, params: Sequence, grads: Sequence, state: dict
                       ) -> tuple[list, dict, StepInfo]:
        like = ("momentum_buffer",) if self.momentum > 0 else ()
        params, grads = begin_step(params, grads, state, ("count", "momentum_buffer"), like=like)
        if self.weight_decay:
            grads = tree.axpy(self.weight_decay, params, grads)
        buffers = state["momentum_buffer"]
        if self.momentum > 0:
            if state["count"] == 0:
                buffers = tree.copy(grads)  # the state must not alias the caller's arrays
            else:
                buffers = tree.axpy(1.0 - self.dampening, grads, tree.scale(buffers, self.momentum))
            direction = tree.axpy(self.momentum, buffers, grads) if self.nesterov else buffers
        else:
            direction = grads
        new_params = tree.axpy(-self.lr, direction, params)
        return new_params, {"count": state["count"] + 1, "momentum_buffer": list(buffers)}, \
            StepInfo()
