r"""Batch normalisation of Ioffe and Szegedy [1]_: forward/backward pair and running statistics.

For an input :math:`X` of shape ``(N, C, *S)``, each channel :math:`c` is normalised
over its :math:`M = N\prod_i S_i` entries of the batch, then scaled and shifted:

.. math::

    \mu_c = \frac1M \sum_{n,s} X_{ncs}, \qquad
    \sigma_c^2 = \frac1M \sum_{n,s} (X_{ncs} - \mu_c)^2, \qquad
    \hat X_{ncs} = \frac{X_{ncs} - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}, \qquad
    Y_{ncs} = \gamma_c \hat X_{ncs} + \beta_c

(Algorithm 1 of [1]_, training mode; :math:`\sigma^2` is the biased variance). In
evaluation mode the batch statistics are replaced by the running ones,
:math:`\hat X = (X - \bar\mu)/\sqrt{\bar\sigma^2 + \epsilon}`, and the layer is an
affine map of :math:`X` (Algorithm 2 of [1]_). After a training-mode forward pass the
running statistics move towards the batch's with momentum :math:`m` (torch's
convention, ``BatchNorm2d(momentum=0.1)``):

.. math::

    \bar\mu \leftarrow (1 - m)\,\bar\mu + m\,\mu, \qquad
    \bar\sigma^2 \leftarrow (1 - m)\,\bar\sigma^2 + m\,\frac{M}{M - 1}\,\sigma^2,

the running variance taking the *unbiased* batch variance, as torch does, while the
normalisation uses the biased one. They start at :math:`\bar\mu = 0`,
:math:`\bar\sigma^2 = 1`. Parameters are ``[gamma, beta]``, each of shape ``(C,)``.

Where the running statistics live and when they update
------------------------------------------------------
The layer functions are pure: :func:`batch_norm_fwd` reads running statistics (only
in evaluation mode) and returns the batch's in its cache; :func:`batch_norm_update`
returns new running statistics from a cache. A model with batch normalisation
(:class:`rso_ref.nn.ResNet` with ``norm="batch"``) holds them, one ``(mean, var)``
pair per layer, created by its ``init`` in the namespace, device and dtype of the
parameters (``init`` resets them), and a ``training`` flag (True; its
``evaluating()`` context switches to the running statistics).

They update **once per training step**, from the batch statistics of the step's
gradient evaluation at the current parameters :math:`\theta_t`:
:func:`rso_ref.train.train` asks for it with ``value_and_grad(..., update_stats=True)``
on that one call. Every other evaluation leaves them untouched: RSO's meta-solve, which
evaluates the loss of the same minibatch at several trial points
:math:`\theta_t - \eta\sum_i w_i g_i` (each in training mode, so the meta-objective is
the training loss the step minimises), the meta batch, the divergence check after the
last step and the evaluation of a test split (evaluation mode). For SGD, Adam and
every optimizer with one gradient per step this is exactly torch's behaviour (one
training-mode forward per step, which updates the buffers). For RSO it is *not* what a
torch module would do unguarded: torch updates the buffers on every training-mode
forward, so a meta-solve with :math:`K` L-BFGS iterations (about 9 forwards per step
here) would pull the running statistics towards those of trial points that are never
taken, about 9 momentum updates per step instead of one. Here RSO's running statistics
are those of the same schedule as SGD's: the parameters the run actually visits.

A run cannot be resumed from a checkpoint (the checkpoint holds parameters and the
optimizer state, not the running statistics): :func:`rso_ref.train.train` refuses
``checkpoint_dir`` for such a model.

Notes
-----
Backward in training mode, with :math:`\hat G = \partial L/\partial \hat X = G \odot
\gamma` and the means :math:`\langle\cdot\rangle_c` over a channel's :math:`M`
entries (the statistics depend on :math:`X`):

.. math::

    \frac{\partial L}{\partial \beta_c} = \sum_{n,s} G_{ncs}, \qquad
    \frac{\partial L}{\partial \gamma_c} = \sum_{n,s} G_{ncs}\hat X_{ncs}, \qquad
    \frac{\partial L}{\partial X} = \frac{1}{\sqrt{\sigma^2 + \epsilon}}\Big(\hat G
        - \langle \hat G\rangle_c - \hat X \langle \hat G \odot \hat X\rangle_c\Big);

in evaluation mode the statistics are constants and
:math:`\partial L/\partial X = \hat G / \sqrt{\bar\sigma^2 + \epsilon}`.

References
----------
.. [1] S. Ioffe, C. Szegedy, "Batch normalization: accelerating deep network training
   by reducing internal covariate shift", ICML (2015); arXiv:1502.03167.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple, Sequence

from ..backend import array_namespace
from ..validation import check_positive

__all__ = ["batch_norm_fwd", "batch_norm_bwd", "batch_norm_update", "BatchNormCache",
           "BATCH_NORM_EPS", "BATCH_NORM_MOMENTUM"]

#: :math:`\epsilon` added to the variance (torch's ``BatchNorm2d`` default).
BATCH_NORM_EPS = 1e-5
#: Momentum :math:`m` of the running statistics (torch's ``BatchNorm2d`` default).
BATCH_NORM_MOMENTUM = 0.1


class BatchNormCache(NamedTuple):
    r"""What :func:`batch_norm_bwd` and :func:`batch_norm_update` need from a forward pass.

    Attributes
    ----------
    X_hat : array, shape (N, C, \*S)
        :math:`\hat X`.
    inv_std : array, shape (C,)
        :math:`1/\sqrt{\sigma^2 + \epsilon}` (the running variance's in evaluation mode).
    mean : array of shape (C,), or None
        The batch's :math:`\mu`; None in evaluation mode.
    var : array of shape (C,), or None
        The batch's biased :math:`\sigma^2`; None in evaluation mode.
    count : int
        :math:`M`, the entries per channel.
    training : bool
        The mode of the forward pass.
    """

    X_hat: Any
    inv_std: Any
    mean: Any
    var: Any
    count: int
    training: bool


def _check(params: Sequence[Any], x_shape: tuple[int, ...], eps: Any) -> int:
    check_positive(eps, "eps")
    if len(x_shape) < 2:
        raise ValueError(f"X must have shape (N, C, *spatial), got {x_shape}")
    channels = x_shape[1]
    if len(params) != 2 or any(tuple(p.shape) != (channels,) for p in params):
        raise ValueError(f"params must be [gamma, beta] of shape ({channels},) each, got "
                         f"{[tuple(p.shape) for p in params]}")
    return channels


def _per_channel(v: Any, ndim: int, xp: ModuleType) -> Any:
    """``v`` of shape ``(C,)`` reshaped to broadcast over ``(N, C, *S)``."""
    return xp.reshape(v, (1, v.shape[0]) + (1,) * (ndim - 2))


def _axes(ndim: int) -> tuple[int, ...]:
    """The axes a channel's statistics run over: batch and spatial."""
    return (0,) + tuple(range(2, ndim))


def batch_norm_fwd(params: Sequence[Any], X: Any, *, running: Sequence[Any] | None = None,
                   training: bool = True, eps: float = BATCH_NORM_EPS,
                   xp: ModuleType | None = None) -> tuple[Any, BatchNormCache]:
    r"""Batch normalisation ``gamma * (X - mean) / sqrt(var + eps) + beta`` (module docstring).

    Parameters
    ----------
    params : list of arrays
        ``[gamma, beta]``, each of shape ``(C,)``.
    X : array, shape (N, C, \*S)
        The input (no spatial axis or more).
    running : (array, array), optional
        The running ``(mean, var)``, each of shape ``(C,)``; required when ``training``
        is False, unused otherwise (the update is :func:`batch_norm_update`'s).
    training : bool, default True
        True: normalise by the batch's statistics; False: by ``running``.
    eps : float, default :data:`BATCH_NORM_EPS`
        :math:`\epsilon > 0`.
    xp : module, optional
        Namespace; found from ``X`` and ``params`` when omitted.

    Returns
    -------
    Y : array, shape (N, C, \*S)
        The output.
    cache : BatchNormCache
        :math:`\hat X`, :math:`1/\sqrt{\sigma^2 + \epsilon}` per channel and, in training
        mode, the batch's mean and biased variance.

    Raises
    ------
    ValueError
        If ``X`` has fewer than 2 axes, ``params`` is not two arrays of shape ``(C,)``,
        ``eps`` is not positive, ``running`` is missing or misshapen in evaluation mode,
        or a training batch has a single value per channel (:math:`M = 1`: its unbiased
        variance is undefined, torch raises too).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(16.0).reshape(2, 2, 2, 2)
    >>> Y, cache = batch_norm_fwd([np.ones(2), np.zeros(2)], X)
    >>> [round(float(Y[:, c].mean()), 12) for c in range(2)], cache.count
    ([0.0, 0.0], 8)
    """
    xp = array_namespace(X, *params) if xp is None else xp
    x_shape = tuple(X.shape)
    channels = _check(params, x_shape, eps)
    gamma, beta = params
    ndim = len(x_shape)
    count = x_shape[0]
    for s in x_shape[2:]:
        count *= s
    if training:
        if count < 2:
            raise ValueError(f"batch normalisation in training mode needs more than one value "
                             f"per channel, got X of shape {x_shape}")
        axes = _axes(ndim)
        mean = xp.mean(X, axis=axes)
        centred = X - _per_channel(mean, ndim, xp)
        var = xp.mean(centred * centred, axis=axes)
    else:
        if running is None or len(running) != 2 or any(
                tuple(r.shape) != (channels,) for r in running):
            raise ValueError(f"running must be (mean, var) of shape ({channels},) each in "
                             f"evaluation mode, got {running!r}")
        centred = X - _per_channel(running[0], ndim, xp)
        var = running[1]
    inv_std = 1.0 / xp.sqrt(var + eps)
    X_hat = centred * _per_channel(inv_std, ndim, xp)
    Y = _per_channel(gamma, ndim, xp) * X_hat + _per_channel(beta, ndim, xp)
    return Y, BatchNormCache(X_hat, inv_std, mean if training else None,
                             var if training else None, count, bool(training))


def batch_norm_bwd(params: Sequence[Any], cache: BatchNormCache, dY: Any, *,
                   xp: ModuleType | None = None, input_grad: bool = True) -> tuple[Any, list]:
    r"""Backward pass of :func:`batch_norm_fwd` in the mode of its forward pass (Notes).

    Parameters
    ----------
    params : list of arrays
        ``[gamma, beta]``, as given to the forward pass.
    cache : BatchNormCache
        From :func:`batch_norm_fwd` (it holds the mode and :math:`\epsilon` enters only
        through :math:`1/\sqrt{\sigma^2 + \epsilon}`).
    dY : array, shape (N, C, \*S)
        :math:`\partial L/\partial Y`.
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
    """
    xp = array_namespace(dY, *params) if xp is None else xp
    X_hat, inv_std = cache.X_hat, cache.inv_std
    ndim = X_hat.ndim
    axes = _axes(ndim)
    d_gamma = xp.sum(dY * X_hat, axis=axes)
    d_beta = xp.sum(dY, axis=axes)
    if not input_grad:
        return None, [d_gamma, d_beta]
    G_hat = dY * _per_channel(params[0], ndim, xp)
    if cache.training:
        G_hat = (G_hat - xp.mean(G_hat, axis=axes, keepdims=True)
                 - X_hat * xp.mean(G_hat * X_hat, axis=axes, keepdims=True))
    return G_hat * _per_channel(inv_std, ndim, xp), [d_gamma, d_beta]


def batch_norm_update(running: Sequence[Any], cache: BatchNormCache, *,
                      momentum: float = BATCH_NORM_MOMENTUM) -> tuple[Any, Any]:
    r"""New running ``(mean, var)`` after a training-mode forward pass (module docstring).

    .. math::

        \bar\mu \leftarrow (1 - m)\bar\mu + m\mu, \qquad
        \bar\sigma^2 \leftarrow (1 - m)\bar\sigma^2 + m\frac{M}{M-1}\sigma^2

    Parameters
    ----------
    running : (array, array)
        The current running mean and variance, each of shape ``(C,)``.
    cache : BatchNormCache
        From a training-mode :func:`batch_norm_fwd`.
    momentum : float, default :data:`BATCH_NORM_MOMENTUM`
        :math:`m \in (0, 1]`.

    Returns
    -------
    (array, array)
        The new running mean and variance (new arrays; ``running`` is not changed).

    Raises
    ------
    ValueError
        If ``cache`` is from an evaluation-mode pass or ``momentum`` is not in (0, 1].
    """
    momentum = check_positive(momentum, "momentum")
    if momentum > 1:
        raise ValueError(f"momentum must be in (0, 1], got {momentum!r}")
    if not cache.training:
        raise ValueError("the running statistics update from a training-mode forward pass; "
                         "this cache is from evaluation mode")
    unbiased = cache.var * (cache.count / (cache.count - 1))
    mean, var = running
    return ((1.0 - momentum) * mean + momentum * cache.mean,
            (1.0 - momentum) * var + momentum * unbiased)
