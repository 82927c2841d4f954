r"""LARS: SGD with momentum and a layer-wise local learning rate (You et al. 2017)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .. import tree
from ..validation import check_nonnegative, check_positive
from .base import begin_step, store_checked
from .contract import Optimizer, StepInfo

__all__ = ["LARS"]

_KEYS = ("count", "momentum_buffer")


@dataclass(frozen=True)
class LARS(Optimizer):
    r"""Layer-wise Adaptive Rate Scaling (LARS), Algorithm 1 of You, Gitman & Ginsburg.

    Parameters
    ----------
    lr : float
        Global learning rate :math:`\gamma > 0`.
    momentum : float, default 0.9
        Momentum :math:`m \ge 0`.
    weight_decay : float, default 0
        Weight decay :math:`\beta \ge 0`.
    trust_coefficient : float, default 1e-3
        Trust coefficient :math:`\eta > 0` (the paper's value).

    Attributes
    ----------
    state : dict
        ``{"count": int, "momentum_buffer": list v_t}``.

    Notes
    -----
    For each parameter array (layer) :math:`\ell` with gradient :math:`g_t^{\ell}` at
    :math:`w_t^{\ell}` and :math:`v_0 = 0`:

    .. math::

        \lambda^{\ell} &= \frac{\eta\, \|w_t^{\ell}\|}
                               {\|g_t^{\ell}\| + \beta \|w_t^{\ell}\|} \\
        v_{t+1}^{\ell} &= m\, v_t^{\ell} + \gamma\, \lambda^{\ell}
            \left(g_t^{\ell} + \beta w_t^{\ell}\right) \\
        w_{t+1}^{\ell} &= w_t^{\ell} - v_{t+1}^{\ell}

    (paper, §3 and Algorithm 1), Frobenius norms over the whole
    array; :math:`\lambda^{\ell} = 1` when :math:`\|w_t^{\ell}\| = 0` or the denominator
    is 0 (:func:`rso_ref.tree.trust_ratio`).

    .. warning::

        The denominator is the paper's :math:`\|g\| + \beta\|w\|`; optax's ``lars``
        instead divides by the norm of the decayed gradient,
        :math:`\|g + \beta w\|`, which differs when :math:`\beta > 0`. The learning rate
        sits inside the momentum buffer, as in the paper and optax; implementations
        built on torch.optim.SGD-style momentum apply it after the buffer, which is the
        same only for a constant :math:`\gamma`. The fallback :math:`\lambda = 1` is a
        convention of implementations, not of the paper. Many implementations skip the
        trust ratio and decay for biases and normalisation layers; here every array is
        treated alike.

    References
    ----------
    .. [1] Y. You, I. Gitman, B. Ginsburg, "Large Batch Training of Convolutional
       Networks", 2017, https://arxiv.org/abs/1708.03888

    Examples
    --------
    >>> import numpy as np
    >>> opt = LARS(lr=1.0, trust_coefficient=0.1)
    >>> params = [np.array([3.0, 4.0])]
    >>> params, state = opt.step(params, [np.array([0.0, 10.0])], opt.init(params))
    >>> params[0].tolist()  # local lr 0.1 * 5 / 10 = 0.05
    [3.0, 3.5]
    """

    lr: float
    momentum: float = 0.9
    weight_decay: float = 0.0
    trust_coefficient: float = 1e-3

    def __post_init__(self):
        store_checked(self, lr=check_positive(self.lr, "lr"),
                      momentum=check_nonnegative(self.momentum, "momentum"),
                      weight_decay=check_nonnegative(self.weight_decay, "weight_decay"),
                      trust_coefficient=check_positive(self.trust_coefficient,
                                                       "trust_coefficient"))

    def init(self, params: Sequence) -> dict:
        tree.check_params(params)
        return {"count": 0, "momentum_buffer": tree.zeros_like(params)}

    def step_with_info(self, params: Sequence, grads: Sequence, state: dict
                       ) -> tuple[list, dict, StepInfo]:
        params, grads = begin_step(params, grads, state, _KEYS, like=("momentum_buffer",))
        local_lr = tree.trust_ratio(params, grads, coefficient=self.trust_coefficient,
                                    weight_decay=self.weight_decay)
        direction = tree.axpy(self.weight_decay, params, grads) if self.weight_decay else grads
        scaled = tree.scale_leaves(direction, [self.lr * ratio for ratio in local_lr])
        buffers = tree.axpy(self.momentum, state["momentum_buffer"], scaled)
        new_params = tree.sub(params, buffers)
        return new_params, {"count": state["count"] + 1, "momentum_buffer": buffers}, StepInfo()
