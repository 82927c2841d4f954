r"""RMSprop (Tieleman & Hinton), optionally centered and with momentum, torch.optim semantics."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .. import tree
from ..validation import check_flag, check_fraction, check_nonnegative, check_positive
from .base import begin_step, store_checked
from .contract import Optimizer, StepInfo

__all__ = ["RMSprop"]

_KEYS = ("count", "nu", "mu", "momentum_buffer")


@dataclass(frozen=True)
class RMSprop(Optimizer):
    r"""RMSprop, as torch.optim.RMSprop.

    Parameters
    ----------
    lr : float, default 1e-2
        Learning rate :math:`\eta > 0` (torch's default).
    alpha : float, default 0.99
        Decay :math:`\alpha \in [0, 1)` of the moving averages.
    eps : float, default 1e-8
        :math:`\epsilon > 0`, added to the root.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda \ge 0`, added to the gradient.
    momentum : float, default 0
        Momentum :math:`\mu \ge 0` applied to the preconditioned gradient.
    centered : bool, default False
        Divide by an estimate of the gradient's standard deviation instead of its RMS.

    Attributes
    ----------
    state : dict
        ``{"count": int, "nu": list v_t, "mu": list m_t, "momentum_buffer": list b_t}``;
        ``mu`` is empty unless ``centered`` and ``momentum_buffer`` empty unless
        ``momentum > 0``.

    Notes
    -----
    For step :math:`t = 1, 2, \dots` with gradient :math:`g_t` at :math:`\theta_{t-1}`
    (elementwise; :math:`v_0 = m_0 = b_0 = 0`):

    .. math::

        \tilde g_t &= g_t + \lambda \theta_{t-1} \\
        v_t &= \alpha v_{t-1} + (1 - \alpha) \tilde g_t^2 \\
        m_t &= \alpha m_{t-1} + (1 - \alpha) \tilde g_t \quad \text{(centered only)} \\
        d_t &= \frac{\tilde g_t}{\sqrt{v_t - m_t^2} + \epsilon}
            \quad (\text{not centered: } \sqrt{v_t}) \\
        b_t &= \mu b_{t-1} + d_t, \qquad
        \theta_t = \theta_{t-1} - \eta\, b_t \quad (\mu = 0:\ \theta_t = \theta_{t-1} - \eta d_t)

    .. warning::

        :math:`\epsilon` is outside the root (torch); TensorFlow/Keras and optax's
        ``eps_in_sqrt=True`` default put it inside, :math:`\sqrt{v_t + \epsilon}`.
        There is no bias correction, so early steps are large when :math:`\alpha` is
        close to 1. The centered form comes from Graves (2013, §4.2), who also puts
        :math:`\epsilon` inside the root and folds :math:`\eta` into the momentum
        buffer (:math:`b_t = \mu b_{t-1} - \eta d_t`), equal to the rule above only
        for a constant :math:`\eta`.

    References
    ----------
    .. [1] T. Tieleman, G. Hinton, "Lecture 6.5 — RMSprop", COURSERA: Neural Networks
       for Machine Learning, 2012.
    .. [2] A. Graves, "Generating Sequences With Recurrent Neural Networks", 2013,
       https://arxiv.org/abs/1308.0850

    Examples
    --------
    >>> import numpy as np
    >>> opt = RMSprop(lr=0.01, alpha=0.75)
    >>> params = [np.array([1.0])]
    >>> params, state = opt.step(params, [np.array([2.0])], opt.init(params))
    >>> np.round(params[0], 6).tolist()  # 1 - 0.01 * 2 / sqrt(0.25 * 4)
    [0.98]
    """

    lr: float = 1e-2
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum: float = 0.0
    centered: bool = False

    def __post_init__(self):
        store_checked(self, lr=check_positive(self.lr, "lr"),
                      alpha=check_fraction(self.alpha, "alpha"),
                      eps=check_positive(self.eps, "eps"),
                      weight_decay=check_nonnegative(self.weight_decay, "weight_decay"),
                      momentum=check_nonnegative(self.momentum, "momentum"),
                      centered=check_flag(self.centered, "centered"))

    def init(self, params: Sequence) -> dict:
        tree.check_params(params)
        return {"count": 0, "nu": tree.zeros_like(params),
                "mu": tree.zeros_like(params) if self.centered else [],
                "momentum_buffer": tree.zeros_like(params) if self.momentum > 0 else []}

    def step_with_info(self, params: Sequence, grads: Sequence, state: dict
                       ) -> tuple[list, dict, StepInfo]:
        like = ("nu",) + (("mu",) if self.centered else ()) \
            + (("momentum_buffer",) if self.momentum > 0 else ())
        params, grads = begin_step(params, grads, state, _KEYS, like=like)
        if self.weight_decay:
            grads = tree.axpy(self.weight_decay, params, grads)
        nu = tree.update_moment(grads, state["nu"], self.alpha, order=2)
        mu = tree.update_moment(grads, state["mu"], self.alpha, order=1) if self.centered else []
        variance = tree.sub(nu, tree.mul(mu, mu)) if self.centered else nu
        direction = tree.div_sqrt(grads, variance, self.eps)
        buffers = state["momentum_buffer"]
        if self.momentum > 0:
            buffers = tree.axpy(self.momentum, buffers, direction)
            direction = buffers
        new_params = tree.axpy(-self.lr, direction, params)
        return new_params, {"count": state["count"] + 1, "nu": nu, "mu": mu,
                            "momentum_buffer": buffers}, StepInfo()
