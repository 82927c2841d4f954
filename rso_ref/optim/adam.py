r"""Adam (L2 penalty in the gradient) and AdamW (decoupled weight decay), torch.optim semantics.

:func:`adam_direction` (bias-corrected :math:`\hat m / (\sqrt{\hat v} + \epsilon)`) is
shared with :class:`~rso_ref.optim.LAMB` and with the AdamW part of
:class:`~rso_ref.optim.Muon`.
"""
from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Sequence

from .. import tree
from ..validation import check_betas, check_flag, check_nonnegative, check_positive
from .base import begin_step, store_checked
from .contract import Optimizer, StepInfo

__all__ = ["Adam", "AdamW", "adam_direction"]

_KEYS = ("count", "mu", "nu", "nu_max")


def adam_direction(mu: Sequence, nu: Sequence, betas: tuple[float, float], eps: float,
                   count: int) -> list:
    r"""The Adam direction :math:`\hat m_t / (\sqrt{\hat v_t} + \epsilon)` after ``count`` steps.

    .. math::

        \hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad
        \hat v_t = \frac{v_t}{1 - \beta_2^t}

    (Kingma & Ba 2015, Algorithm 1), with :math:`m_t` = ``mu``, :math:`v_t` = ``nu``,
    :math:`(\beta_1, \beta_2)` = ``betas`` and :math:`t` = ``count`` :math:`\ge 1`.
    """
    beta1, beta2 = betas
    return tree.div_sqrt(tree.bias_correction(mu, beta1, count),
                         tree.bias_correction(nu, beta2, count), eps)


@dataclass(frozen=True)
class _AdamFamily(Optimizer):
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    _: KW_ONLY
    amsgrad: bool = False

    #: True for AdamW: decay multiplies the parameters instead of entering the gradient.
    decoupled: ClassVar[bool] = False

    def __post_init__(self):
        store_checked(self, lr=check_positive(self.lr, "lr"), betas=check_betas(self.betas),
                      eps=check_positive(self.eps, "eps"),
                      weight_decay=check_nonnegative(self.weight_decay, "weight_decay"),
                      amsgrad=check_flag(self.amsgrad, "amsgrad"))

    def init(self, params: Sequence) -> dict:
        tree.check_params(params)
        return {"count": 0, "mu": tree.zeros_like(params), "nu": tree.zeros_like(params),
                "nu_max": tree.zeros_like(params) if self.amsgrad else []}

    def step_with_info(self, params: Sequence, grads: Sequence, state: dict
                       ) -> tuple[list, dict, StepInfo]:
        like = ("mu", "nu", "nu_max") if self.amsgrad else ("mu", "nu")
        params, grads = begin_step(params, grads, state, _KEYS, like=like)
        if self.weight_decay and self.decoupled:
            params = tree.scale(params, 1.0 - self.lr * self.weight_decay)
        elif self.weight_decay:
            grads = tree.axpy(self.weight_decay, params, grads)
        beta1, beta2 = self.betas
        count = state["count"] + 1
        mu = tree.update_moment(grads, state["mu"], beta1, order=1)
        nu = tree.update_moment(grads, state["nu"], beta2, order=2)
        nu_max = tree.maximum(state["nu_max"], nu) if self.amsgrad else []
        direction = adam_direction(mu, nu_max if self.amsgrad else nu, self.betas, self.eps, count)
        new_params = tree.axpy(-self.lr, direction, params)
        return new_params, {"count": count, "mu": mu, "nu": nu, "nu_max": nu_max}, StepInfo()


@dataclass(frozen=True)
class Adam(_AdamFamily):
    r"""Adam with an optional L2 penalty, as torch.optim.Adam.

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate :math:`\eta > 0`.
    betas : (float, float), default (0.9, 0.999)
        Decay rates :math:`(\beta_1, \beta_2)`, each in :math:`[0, 1)`.
    eps : float, default 1e-8
        :math:`\epsilon > 0`, added to :math:`\sqrt{\hat v_t}`.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda \ge 0`, added to the gradient.
    amsgrad : bool, default False
        Use the running maximum of :math:`v_t` (Reddi et al. 2018).

    Attributes
    ----------
    state : dict
        ``{"count": int t, "mu": list m_t, "nu": list v_t, "nu_max": list}``
        (``nu_max`` holds :math:`\max_{s \le t} v_s`, and is empty unless ``amsgrad``).

    Notes
    -----
    For step :math:`t = 1, 2, \dots` with gradient :math:`g_t` at :math:`\theta_{t-1}`
    (all operations elementwise):

    .. math::

        \tilde g_t &= g_t + \lambda \theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) \tilde g_t \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2) \tilde g_t^2
            \quad (\text{AMSGrad: } v_t \leftarrow \max(v_{t-1}^{\max}, v_t)) \\
        \theta_t &= \theta_{t-1} - \eta\,
            \frac{m_t / (1 - \beta_1^t)}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}

    with :math:`m_0 = v_0 = 0`.

    .. warning::

        :math:`\epsilon` sits outside the square root of the *bias-corrected*
        :math:`\hat v_t` (torch; Kingma & Ba, Algorithm 1). Kingma & Ba §2 also give an
        "efficient" form with :math:`\hat\epsilon` added to :math:`\sqrt{v_t}` before
        correction, and optax's ``eps_root`` puts a term inside the root; these differ
        early in training when :math:`v_t` is small. TensorFlow's default
        :math:`\epsilon` is 1e-7. Here ``weight_decay`` is an L2 penalty, which Adam then
        rescales; for decoupled decay use :class:`AdamW`.

    References
    ----------
    .. [1] D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
       https://arxiv.org/abs/1412.6980
    .. [2] S. J. Reddi, S. Kale, S. Kumar, "On the Convergence of Adam and Beyond",
       ICLR 2018, https://arxiv.org/abs/1904.09237

    Examples
    --------
    >>> import numpy as np
    >>> opt = Adam(lr=0.1)
    >>> params = [np.array([1.0, -2.0])]
    >>> params, state = opt.step(params, [np.array([3.0, -0.5])], opt.init(params))
    >>> np.round(params[0], 6).tolist()  # the first step moves each entry by about lr
    [0.9, -1.9]
    """


@dataclass(frozen=True)
class AdamW(_AdamFamily):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW.

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate :math:`\eta > 0`.
    betas : (float, float), default (0.9, 0.999)
        Decay rates :math:`(\beta_1, \beta_2)`, each in :math:`[0, 1)`.
    eps : float, default 1e-8
        :math:`\epsilon > 0`, added to :math:`\sqrt{\hat v_t}`.
    weight_decay : float, default 1e-2
        Decoupled decay :math:`\lambda \ge 0` (torch's default).
    amsgrad : bool, default False
        Use the running maximum of :math:`v_t`.

    Attributes
    ----------
    state : dict
        Same keys as :class:`Adam`: ``{"count", "mu", "nu", "nu_max"}``.

    Notes
    -----
    The moments are those of :class:`Adam` with :math:`\tilde g_t = g_t` (no penalty in
    the gradient); the decay shrinks the parameters first:

    .. math::

        \theta_t = (1 - \eta\lambda)\, \theta_{t-1} - \eta\,
            \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.

    .. warning::

        The decay is multiplied by the learning rate, :math:`(1 - \eta\lambda)`, as in
        torch and optax. Loshchilov & Hutter (Algorithm 2) decay by
        :math:`\eta_t \lambda` with :math:`\eta_t` only the *schedule multiplier*, so
        their :math:`\lambda` corresponds to ``weight_decay * lr`` here.

    References
    ----------
    .. [1] I. Loshchilov, F. Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
       https://arxiv.org/abs/1711.05101

    Examples
    --------
    >>> import numpy as np
    >>> opt = AdamW(lr=0.1, weight_decay=0.5)
    >>> params = [np.array([1.0, -2.0])]
    >>> params, state = opt.step(params, [np.array([3.0, -0.5])], opt.init(params))
    >>> np.round(params[0], 6).tolist()  # 0.95 * theta - 0.1 * sign(g)
    [0.85, -1.8]
    """

    weight_decay: float = 1e-2
    decoupled: ClassVar[bool] = True
