r"""Muon: momentum orthogonalised by a Newton–Schulz iteration (Jordan et al. 2024).

:func:`newton_schulz` maps a matrix :math:`G = U \Sigma V^\top` to approximately
:math:`U V^\top` using matrix products only; :class:`Muon` applies it to the momentum
of every parameter with two or more dimensions and updates the others with AdamW.
"""
from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Any, Sequence

from .. import tree
from ..backend import array_namespace, check_array
from ..validation import (check_betas, check_flag, check_fraction, check_int,
                          check_nonnegative, check_positive, check_real)
from .adam import AdamW
from .base import begin_step, check_state_like, store_checked
from .contract import Optimizer, StepInfo

__all__ = ["Muon", "newton_schulz", "NS_COEFFICIENTS"]

#: Quintic Newton–Schulz coefficients (a, b, c) of Jordan et al. (2024).
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)

_KEYS = ("count", "momentum_buffer", "mu", "nu")


def newton_schulz(matrix: Any, steps: int = 5, *,
                  coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
                  eps: float = 1e-7) -> Any:
    r"""Approximate the orthogonal polar factor :math:`U V^\top` of a matrix.

    Parameters
    ----------
    matrix : array, shape (rows, cols)
        :math:`G = U \Sigma V^\top` (thin SVD).
    steps : int, default 5
        Number of iterations :math:`k \ge 1`.
    coefficients : (float, float, float), default (3.4445, -4.7750, 2.0315)
        :math:`(a, b, c)` of the odd quintic :math:`p(x) = a x + b x^3 + c x^5`.
    eps : float, default 1e-7
        Added to the Frobenius norm before normalising (the reference value; it keeps
        a zero matrix at zero).

    Returns
    -------
    array, shape (rows, cols)
        :math:`X_k = U\, p^{\circ k}\!\big(\Sigma / (\|G\|_F + \epsilon)\big)\, V^\top`.

    Raises
    ------
    TypeError
        If ``matrix`` is not an array, ``steps`` not an int or a coefficient not a real
        number.
    ValueError
        If ``matrix`` is not 2-D, ``steps < 1``, ``coefficients`` not a triple or
        ``eps < 0``.

    Notes
    -----
    With :math:`X_0 = G / (\|G\|_F + \epsilon)` (so every singular value is at most 1)
    and, after transposing a tall matrix so that :math:`X X^\top` is the smaller Gram
    matrix,

    .. math::

        A_j = X_j X_j^\top, \qquad X_{j+1} = a X_j + (b A_j + c A_j^2)\, X_j ,

    each step applies :math:`p` to every singular value and keeps the singular
    vectors. The coefficients trade exactness for speed: :math:`p'(0) = a` is large,
    so small singular values grow fast, but the fixed point is not 1. Iterating the
    scalar map shows that five steps send every normalised singular value
    :math:`\sigma / \|G\|_F \in [2\cdot 10^{-3}, 1]` into :math:`[0.68, 1.21]`; smaller
    ones stay below that band.

    References
    ----------
    .. [1] K. Jordan, Y. Jin, V. Boza, J. You, F. Cesista, L. Newhouse, J. Bernstein,
       "Muon: An optimizer for hidden layers in neural networks", 2024,
       https://kellerjordan.github.io/posts/muon/
    .. [2] J. Bernstein, L. Newhouse, "Old Optimizer, New Norm: An Anthology", 2024,
       https://arxiv.org/abs/2409.20325

    Examples
    --------
    >>> import numpy as np
    >>> x = newton_schulz(np.diag([3.0, 1.0]))
    >>> bool(np.all((np.diag(x) > 0.68) & (np.diag(x) < 1.21)))
    True
    """
    check_array(matrix, "matrix")
    xp = array_namespace(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {tuple(matrix.shape)}")
    check_int(steps, "steps", minimum=1)
    if not isinstance(coefficients, (tuple, list)) or len(coefficients) != 3:
        raise ValueError(f"coefficients must be a triple (a, b, c), got {coefficients!r}")
    a, b, c = (check_real(v, f"coefficients[{i}]") for i, v in enumerate(coefficients))
    eps = check_nonnegative(eps, "eps")
    tall = matrix.shape[0] > matrix.shape[1]
    x = xp.matrix_transpose(matrix) if tall else matrix
    x = x / (xp.sqrt(xp.sum(x * x)) + eps)
    for _ in range(steps):
        gram = x @ xp.matrix_transpose(x)
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return xp.matrix_transpose(x) if tall else x


def _orthogonalised(update: Any, steps: int) -> Any:
    """Newton–Schulz on ``update`` viewed as (shape[0], rest), scaled by max(1, rows/cols)^0.5."""
    xp = array_namespace(update)
    rows = update.shape[0]
    cols = math.prod(update.shape[1:])
    ortho = newton_schulz(xp.reshape(update, (rows, cols)), steps)
    return xp.reshape(ortho, tuple(update.shape)) * max(1.0, rows / cols) ** 0.5


@dataclass(frozen=True)
class Muon(Optimizer):
    r"""Muon for arrays with two or more dimensions, AdamW for the rest.

    Parameters
    ----------
    lr : float, default 0.02
        Learning rate :math:`\eta > 0` of the orthogonalised updates.
    momentum : float, default 0.95
        Momentum :math:`\mu \in [0, 1)`.
    weight_decay : float, default 0
        Decoupled decay :math:`\lambda \ge 0` of the matrix parameters.
    nesterov : bool, default True
        Orthogonalise the Nesterov look-ahead instead of the buffer.
    ns_steps : int, default 5
        Newton–Schulz iterations :math:`k` (:func:`newton_schulz`).
    adam_lr, adam_betas, adam_eps, adam_weight_decay : default 3e-4, (0.9, 0.95), 1e-10, 0
        :class:`AdamW` hyperparameters for parameters with fewer than two dimensions
        (biases, gains, scalars); the values of the reference implementation.

    Attributes
    ----------
    state : dict
        ``{"count": int t, "momentum_buffer": list, "mu": list, "nu": list}``:
        ``momentum_buffer`` holds :math:`M_t` for the parameters with ``ndim >= 2`` in
        their order, ``mu``/``nu`` the AdamW moments of the others in their order.

    Notes
    -----
    For a parameter :math:`W` with gradient :math:`G_t`, viewed as a matrix of shape
    :math:`(n, m)` = ``(shape[0], prod(shape[1:]))``, and :math:`M_0 = 0`:

    .. math::

        M_t &= \mu M_{t-1} + (1 - \mu) G_t \\
        D_t &= \mu M_t + (1 - \mu) G_t \quad (\text{without Nesterov: } D_t = M_t) \\
        W_t &= (1 - \eta\lambda) W_{t-1} - \eta \sqrt{\max(1, n/m)}\;
            \operatorname{NS}_k(D_t)

    where :math:`\operatorname{NS}_k` is :func:`newton_schulz` with :math:`k` steps.

    .. warning::

        Conventions vary between Muon implementations. The momentum here is the
        exponential average of the current reference code; the earlier form
        :math:`M_t = \mu M_{t-1} + G_t`, :math:`D_t = G_t + \mu M_t` differs only by a
        scale, which the normalisation inside :func:`newton_schulz` removes (up to
        its ``eps``). The shape factor :math:`\sqrt{\max(1, n/m)}` is the reference
        code's; Moonlight (Liu et al. 2025, arXiv:2502.16982) uses
        :math:`0.2\sqrt{\max(n, m)}` to match AdamW's update RMS. Arrays with more than
        two dimensions (convolution kernels) are flattened to ``(shape[0], -1)`` and the
        factor uses that matrix's shape (the reference code uses the last two
        dimensions of the kernel). Embeddings and output layers, which the reference
        code sends to AdamW, are orthogonalised here: route them yourself if needed.

    References
    ----------
    .. [1] K. Jordan, Y. Jin, V. Boza, J. You, F. Cesista, L. Newhouse, J. Bernstein,
       "Muon: An optimizer for hidden layers in neural networks", 2024,
       https://kellerjordan.github.io/posts/muon/

    Examples
    --------
    >>> import numpy as np
    >>> opt = Muon(lr=0.1)
    >>> params = [np.zeros((2, 2)), np.zeros(2)]
    >>> grads = [np.diag([4.0, 1.0]), np.array([1.0, -1.0])]
    >>> params, state = opt.step(params, grads, opt.init(params))
    >>> len(state["momentum_buffer"]), len(state["mu"])
    (1, 1)
    """

    lr: float = 0.02
    momentum: float = 0.95
    weight_decay: float = 0.0
    _: KW_ONLY
    nesterov: bool = True
    ns_steps: int = 5
    adam_lr: float = 3e-4
    adam_betas: tuple[float, float] = (0.9, 0.95)
    adam_eps: float = 1e-10
    adam_weight_decay: float = 0.0

    def __post_init__(self):
        store_checked(self, lr=check_positive(self.lr, "lr"),
                      momentum=check_fraction(self.momentum, "momentum"),
                      weight_decay=check_nonnegative(self.weight_decay, "weight_decay"),
                      nesterov=check_flag(self.nesterov, "nesterov"),
                      ns_steps=check_int(self.ns_steps, "ns_steps", minimum=1),
                      adam_lr=check_positive(self.adam_lr, "adam_lr"),
                      adam_betas=check_betas(self.adam_betas, "adam_betas"),
                      adam_eps=check_positive(self.adam_eps, "adam_eps"),
                      adam_weight_decay=check_nonnegative(self.adam_weight_decay,
                                                          "adam_weight_decay"))

    def _adamw(self) -> AdamW:
        return AdamW(lr=self.adam_lr, betas=self.adam_betas, eps=self.adam_eps,
                     weight_decay=self.adam_weight_decay)

    def init(self, params: Sequence) -> dict:
        tree.check_params(params)
        matrices = [p for p in params if p.ndim >= 2]
        others = [p for p in params if p.ndim < 2]
        return {"count": 0, "momentum_buffer": tree.zeros_like(matrices),
                "mu": tree.zeros_like(others), "nu": tree.zeros_like(others)}

    def step_with_info(self, params: Sequence, grads: Sequence, state: dict
                       ) -> tuple[list, dict, StepInfo]:
        params, grads = begin_step(params, grads, state, _KEYS)
        is_matrix = [p.ndim >= 2 for p in params]
        mat_p = [p for p, m in zip(params, is_matrix) if m]
        mat_g = [g for g, m in zip(grads, is_matrix) if m]
        vec_p = [p for p, m in zip(params, is_matrix) if not m]
        vec_g = [g for g, m in zip(grads, is_matrix) if not m]
        check_state_like(state, "momentum_buffer", mat_p, "the params with ndim >= 2")
        for key in ("mu", "nu"):
            check_state_like(state, key, vec_p, "the params with ndim < 2")

        buffers = tree.update_moment(mat_g, state["momentum_buffer"], self.momentum)
        # Nesterov look-ahead mu*M_t + (1 - mu)*G_t is the same moving-average step again.
        lookahead = tree.update_moment(mat_g, buffers, self.momentum) if self.nesterov \
            else buffers
        ortho = [_orthogonalised(d, self.ns_steps) for d in lookahead]
        if self.weight_decay:
            mat_p = tree.scale(mat_p, 1.0 - self.lr * self.weight_decay)
        mat_p = tree.axpy(-self.lr, ortho, mat_p)

        adam_state = {"count": state["count"], "mu": state["mu"], "nu": state["nu"],
                      "nu_max": []}
        vec_p, adam_state = self._adamw().step(vec_p, vec_g, adam_state)

        mat_iter, vec_iter = iter(mat_p), iter(vec_p)
        new_params = [next(mat_iter) if m else next(vec_iter) for m in is_matrix]
        return new_params, {"count": state["count"] + 1, "momentum_buffer": buffers,
                            "mu": adam_state["mu"], "nu": adam_state["nu"]}, StepInfo()
