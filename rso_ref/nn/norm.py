r"""Group normalisation of Wu and He [1]_ as a forward/backward pair, with affine scale and shift.

For an input :math:`X` of shape ``(N, C, *S)`` split into ``groups`` :math:`G` groups of
:math:`C/G` consecutive channels, each sample :math:`n` and group :math:`g` is
normalised over its :math:`M = (C/G)\prod_i S_i` entries, then scaled and shifted per
channel:

.. math::

    \mu_{ng} = \frac1M \sum_{j \in (g)} X_{nj}, \qquad
    \sigma_{ng}^2 = \frac1M \sum_{j \in (g)} (X_{nj} - \mu_{ng})^2, \qquad
    \hat X_{nj} = \frac{X_{nj} - \mu_{ng}}{\sqrt{\sigma_{ng}^2 + \epsilon}}, \qquad
    Y_{ncs} = \gamma_c \hat X_{ncs} + \beta_c

(eq. 1-3 of [1]_; :math:`\sigma^2` is the biased variance, as in torch's
``GroupNorm``). Parameters are ``[gamma, beta]``, each of shape ``(C,)``; a model
initialises :math:`\gamma = 1`, :math:`\beta = 0`.

Why group normalisation and not batch normalisation: the statistics are per sample,
so the layer has no running state and computes the same function in training and in
evaluation. RSO evaluates the loss of the same minibatch at several points
:math:`\theta - \eta\sum_i w_i g_i` in its meta-solve; with group normalisation each of
those evaluations is a pure function of :math:`w` (batch normalisation in training mode
is one too, but its running averages would be updated by every meta evaluation, or
need a separate path that does not update them, and evaluation would use other
statistics than training). Nothing has to be kept in sync between a step, its
meta-solve and the evaluation of the test split.

Notes
-----
Backward, with :math:`\hat G = \partial L/\partial \hat X = G \odot \gamma` and the
means :math:`\langle\cdot\rangle_g` over a sample's group:

.. math::

    \frac{\partial L}{\partial \beta_c} = \sum_{n,s} G_{ncs}, \qquad
    \frac{\partial L}{\partial \gamma_c} = \sum_{n,s} G_{ncs}\hat X_{ncs}, \qquad
    \frac{\partial L}{\partial X} = \frac{1}{\sqrt{\sigma^2 + \epsilon}}\Big(\hat G
        - \langle \hat G\rangle_g - \hat X \langle \hat G \odot \hat X\rangle_g\Big).

References
----------
.. [1] Y. Wu, K. He, "Group normalization", ECCV (2018); arXiv:1803.08494.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Sequence

from ..backend import array_namespace
from ..validation import check_int, check_positive

__all__ = ["group_norm_fwd", "group_norm_bwd", "GROUP_NORM_EPS"]

#: :math:`\epsilon` added to the variance (torch's ``GroupNorm`` default).
GROUP_NORM_EPS = 1e-5


def _grouped_shape(x_shape: tuple[int, ...], groups: int) -> tuple[int, ...]:
    """``(N, G, C/G, *S)``: the shape that puts each group on its own axis."""
    return (x_shape[0], groups, x_shape[1] // groups) + tuple(x_shape[2:])


def _check(params: Sequence[Any], x_shape: tuple[int, ...], groups: Any, eps: Any) -> int:
    groups = check_int(groups, "groups", minimum=1)
    check_positive(eps, "eps")
    if len(x_shape) < 3:
        raise ValueError(f"X must have shape (N, C, *spatial), got {x_shape}")
    channels = x_shape[1]
    if channels % groups:
        raise ValueError(f"groups must divide the {channels} channels of X, got groups={groups}")
    if len(params) != 2 or any(tuple(p.shape) != (channels,) for p in params):
        raise ValueError(f"params must be [gamma, beta] of shape ({channels},) each, got "
                         f"{[tuple(p.shape) for p in params]}")
    return groups


def _per_channel(v: Any, ndim: int, xp: ModuleType) -> Any:
    """``v`` of shape ``(C,)`` reshaped to broadcast over ``(N, C, *S)``."""
    return xp.reshape(v, (1, v.shape[0]) + (1,) * (ndim - 2))


def group_norm_fwd(params: Sequence[Any], X: Any, *, groups: int,
                   eps: float = GROUP_NORM_EPS,
                   xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""Group normalisation ``gamma * (X - mean) / sqrt(var + eps) + beta`` (module docstring).

    Parameters
    ----------
    params : list of arrays
        ``[gamma, beta]``, each of shape ``(C,)``.
    X : array, shape (N, C, \*S)
        The input (one spatial axis or more).
    groups : int
        :math:`G`, the number of channel groups; must divide ``C``. ``groups=1`` is
        layer normalisation over ``(C, *S)``, ``groups=C`` instance normalisation.
    eps : float, default :data:`GROUP_NORM_EPS`
        :math:`\epsilon > 0`.
    xp : module, optional
        Namespace; found from ``X`` and ``params`` when omitted.

    Returns
    -------
    Y : array, shape (N, C, \*S)
        The output.
    cache : tuple
        What :func:`group_norm_bwd` needs: :math:`\hat X` and
        :math:`1/\sqrt{\sigma^2 + \epsilon}` per sample and group.

    Raises
    ------
    ValueError
        If ``X`` has fewer than 3 axes, ``groups`` does not divide its channels,
        ``params`` is not two arrays of shape ``(C,)``, or ``eps`` is not positive.
    TypeError
        If ``groups`` is not an int.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(16.0).reshape(1, 4, 2, 2)
    >>> Y, _ = group_norm_fwd([np.ones(4), np.zeros(4)], X, groups=2)
    >>> bool(abs(Y[0, :2].mean()) < 1e-12), round(float(Y[0, :2].std()), 4)
    (True, 1.0)
    """
    xp = array_namespace(X, *params) if xp is None else xp
    x_shape = tuple(X.shape)
    groups = _check(params, x_shape, groups, eps)
    gamma, beta = params
    Xg = xp.reshape(X, _grouped_shape(x_shape, groups))
    axes = tuple(range(2, Xg.ndim))
    centred = Xg - xp.mean(Xg, axis=axes, keepdims=True)
    inv_std = 1.0 / xp.sqrt(xp.mean(centred * centred, axis=axes, keepdims=True) + eps)
    X_hat = xp.reshape(centred * inv_std, x_shape)
    Y = _per_channel(gamma, len(x_shape), xp) * X_hat + _per_channel(beta, len(x_shape), xp)
    return Y, (X_hat, inv_std, groups)


def group_norm_bwd(params: Sequence[Any], cache: Any, dY: Any, *, groups: int,
                   xp: ModuleType | None = None, input_grad: bool = True) -> tuple[Any, list]:
    r"""Backward pass of :func:`group_norm_fwd` (Notes of the module docstring).

    Parameters
    ----------
    params : list of arrays
        ``[gamma, beta]``, as given to the forward pass.
    cache : tuple
        From :func:`group_norm_fwd`.
    dY : array, shape (N, C, \*S)
        :math:`\partial L/\partial Y`.
    groups : int
        As in the forward pass (the cache holds it; the keyword is the layer protocol's,
        which hands the forward's keywords to the backward pass). :math:`\epsilon`
        enters only through :math:`1/\sqrt{\sigma^2 + \epsilon}`, which the cache holds.
    xp : module, optional
        Namespace; found from ``dY`` and ``params`` when omitted.
    input_grad : bool, default True
        Compute :math:`\partial L/\partial X`.

    Returns
    -------
    dX : array of the input's shape, or None
        :math:`\partial L/\partial X`; None when ``input_grad`` is False.
    dparams : list of arrays
        ``[dgamma, dbeta]``, each of shape ``(C,)``.

    Raises
    ------
    ValueError
        If ``groups`` differs from the forward pass's.
    """
    xp = array_namespace(dY, *params) if xp is None else xp
    X_hat, inv_std, cached_groups = cache
    if groups != cached_groups:
        raise ValueError(f"groups must be the forward pass's {cached_groups}, got {groups}")
    x_shape = tuple(X_hat.shape)
    gamma = params[0]
    sum_axes = (0,) + tuple(range(2, len(x_shape)))
    d_gamma = xp.sum(dY * X_hat, axis=sum_axes)
    d_beta = xp.sum(dY, axis=sum_axes)
    if not input_grad:
        return None, [d_gamma, d_beta]
    grouped = _grouped_shape(x_shape, groups)
    G_hat = xp.reshape(dY * _per_channel(gamma, len(x_shape), xp), grouped)
    Xh = xp.reshape(X_hat, grouped)
    axes = tuple(range(2, len(grouped)))
    dX = inv_std * (G_hat - xp.mean(G_hat, axis=axes, keepdims=True)
                    - Xh * xp.mean(G_hat * Xh, axis=axes, keepdims=True))
    return xp.reshape(dX, x_shape), [d_gamma, d_beta]
