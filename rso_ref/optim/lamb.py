r"""LAMB: Adam moments with a layer-wise trust ratio (You et al. 2020)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .. import tree
from ..validation import check_betas, check_nonnegative, check_positive
from .adam import adam_direction
from .base import begin_step, store_checked
from .contract import Optimizer, StepInfo

__all__ = ["LAMB"]

_KEYS = ("count", "mu", "nu")


@dataclass(frozen=True)
class LAMB(Optimizer):
    r"""Layer-wise Adaptive Moments for Batch training (LAMB), Algorithm 2 of You et al.

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate :math:`\eta > 0`.
    betas : (float, float), default (0.9, 0.999)
        Decay rates :math:`(\beta_1, \beta_2)`, each in :math:`[0, 1)`.
    eps : float, default 1e-6
        :math:`\epsilon > 0`, added to :math:`\sqrt{\hat v_t}` (the paper's value).
    weight_decay : float, default 0
        :math:`\lambda \ge 0`, added to the Adam direction before the trust ratio.

    Attributes
    ----------
    state : dict
        ``{"count": int t, "mu": list m_t, "nu": list v_t}``.

    Notes
    -----
    For step :math:`t` and each parameter array (layer) :math:`\ell`, with
    :math:`m_t, v_t` the Adam moments of :math:`g_t` (see :class:`Adam`):

    .. math::

        r_t^{\ell} &= \frac{m_t^{\ell} / (1 - \beta_1^t)}
                          {\sqrt{v_t^{\ell} / (1 - \beta_2^t)} + \epsilon} \\
        u_t^{\ell} &= r_t^{\ell} + \lambda \theta_{t-1}^{\ell} \\
        \theta_t^{\ell} &= \theta_{t-1}^{\ell} - \eta\,
            \frac{\phi(\|\theta_{t-1}^{\ell}\|)}{\|u_t^{\ell}\|}\, u_t^{\ell}

    with Frobenius norms over the whole array, :math:`\phi(z) = z`, and the ratio
    replaced by 1 when :math:`\|\theta_{t-1}^{\ell}\| = 0` or :math:`\|u_t^{\ell}\| = 0`
    (:func:`rso_ref.tree.trust_ratio`).

    .. warning::

        Variants differ. Algorithm 2 of the paper's final version has bias
        correction (earlier versions and some implementations drop it); :math:`\phi`
        may clip :math:`\|\theta\|` to :math:`[\gamma_l, \gamma_u]` (here: identity);
        the fallback ratio for zero norms is not in the paper; implementations often
        exclude biases and normalisation layers from decay and trust ratio (here:
        every array is treated alike).

    References
    ----------
    .. [1] Y. You, J. Li, S. Reddi, J. Hseu, S. Kumar, S. Bhojanapalli, X. Song,
       J. Demmel, K. Keutzer, C.-J. Hsieh, "Large Batch Optimization for Deep
       Learning: Training BERT in 76 minutes", ICLR 2020,
       https://arxiv.org/abs/1904.00962

    Examples
    --------
    >>> import numpy as np
    >>> opt = LAMB(lr=0.1)
    >>> params = [np.array([3.0, 4.0])]
    >>> params, state = opt.step(params, [np.array([1.0, 1.0])], opt.init(params))
    >>> np.round(params[0], 6).tolist()  # update (1, 1) rescaled to norm 0.1 * ||theta|| = 0.5
    [2.646447, 3.646447]
    """

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-6
    weight_decay: float = 0.0

    def __post_init__(self):
        store_checked(self, lr=check_positive(self.lr, "lr"), betas=check_betas(self.betas),
                      eps=check_positive(self.eps, "eps"),
                      weight_decay=check_nonnegative(self.weight_decay, "weight_decay"))

    def init(self, params: Sequence) -> dict:
        tree.check_params(params)
        return {"count": 0, "mu": tree.zeros_like(params), "nu": tree.zeros_like(params)}

    def step_with_info(self, params: Sequence, grads: Sequence, state: dict
                       ) -> tuple[list, dict, StepInfo]:
        params, grads = begin_step(params, grads, state, _KEYS, like=("mu", "nu"))
        beta1, beta2 = self.betas
        count = state["count"] + 1
        mu = tree.update_moment(grads, state["mu"], beta1, order=1)
        nu = tree.update_moment(grads, state["nu"], beta2, order=2)
        update = adam_direction(mu, nu, self.betas, self.eps, count)
        if self.weight_decay:
            update = tree.axpy(self.weight_decay, params, update)
        ratios = tree.trust_ratio(params, update)  # phi(||theta||) / ||u||, Algorithm 2
        new_params = tree.axpy(-self.lr, tree.scale_leaves(update, ratios), params)
        return new_params, {"count": count, "mu": mu, "nu": nu}, StepInfo()
