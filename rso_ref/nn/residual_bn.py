r"""Basic residual block of He et al. [1]_ with batch normalisation, as a forward/backward pair.

.. math::

    Y = \operatorname{relu}\big(B_2\operatorname{conv}_2(\operatorname{relu}(
        B_1\operatorname{conv}_1(X))) + S(X)\big),
    \qquad S(X) = \begin{cases} X & \text{identity skip} \\
                                B_s\operatorname{conv}_{1\times 1}(X) & \text{projection}
                  \end{cases}

the block of :mod:`rso_ref.nn.residual` (its one implementation: same convolutions,
strides, padding and backward, see its Notes) with every :math:`N` a batch normalisation
(:mod:`rso_ref.nn.batch_norm`): torch-vision's ``BasicBlock``, except that the
convolutions keep their biases (under a training-mode batch normalisation a bias
shifts the batch mean by itself and its gradient is zero up to rounding). Parameters
are ``[W1, b1, g1, be1, W2, b2, g2, be2]`` (+ ``[Ws, bs, gs, bes]`` with a projection).

The forward pass takes the mode and, in evaluation mode, the running ``(mean, var)``
of each normalisation; its cache holds each normalisation's
:class:`~rso_ref.nn.batch_norm.BatchNormCache` in ``norms`` (first, second,
projection), from which a model updates the running statistics
(:func:`~rso_ref.nn.batch_norm.batch_norm_update`).

References
----------
.. [1] K. He, X. Zhang, S. Ren, J. Sun, "Deep residual learning for image recognition",
   CVPR (2016); arXiv:1512.03385.
"""
from __future__ import annotations

from functools import partial
from types import ModuleType
from typing import Any, NamedTuple, Sequence

from ..backend import array_namespace
from .batch_norm import batch_norm_bwd, batch_norm_fwd
from .residual import _block_bwd, _block_fwd, _check_block, _units

__all__ = ["bn_residual_fwd", "bn_residual_bwd", "BNResidualCache"]


class BNResidualCache(NamedTuple):
    """What :func:`bn_residual_bwd` needs; ``norms`` are the normalisations' caches."""

    convs: tuple
    relus: tuple
    norms: tuple


def _bn_units(params: Sequence[Any]) -> list[list]:
    """``params`` cut into its units ``[W, b, gamma, beta]`` (first, second, projection)."""
    return _units(params, 4, "[W1, b1, g1, be1, W2, b2, g2, be2] or those and "
                             "[Ws, bs, gs, bes]")


def bn_residual_fwd(params: Sequence[Any], X: Any, *, stride: int = 1,
                    running: Sequence[Any] | None = None, training: bool = True,
                    xp: ModuleType | None = None) -> tuple[Any, BNResidualCache]:
    r"""Residual block ``relu(B2 conv2(relu(B1 conv1(X))) + skip(X))`` (module docstring).

    Parameters
    ----------
    params : list of arrays
        ``[W1, b1, g1, be1, W2, b2, g2, be2]`` (identity skip) or with
        ``[Ws, bs, gs, bes]`` appended (projection); ``W1`` of shape ``(F, C, k, k)``,
        ``W2`` ``(F, F, k, k)``, ``Ws`` ``(F, C, 1, 1)``, the rest ``(F,)``.
    X : array, shape (N, C, H, W)
        The input.
    stride : int, default 1
        Stride of ``conv1`` and of the projection.
    running : list of (array, array), optional
        Running ``(mean, var)`` of each normalisation (first, second, projection);
        required in evaluation mode.
    training : bool, default True
        Batch statistics (True) or the running ones (False).
    xp : module, optional
        Namespace; found from ``X`` and ``params`` when omitted.

    Returns
    -------
    Y : array, shape (N, F, OH, OW)
        The block's output.
    cache : BNResidualCache
        What :func:`bn_residual_bwd` needs, and the normalisations' caches.

    Raises
    ------
    ValueError
        If ``params`` has the wrong length or shapes (kernels must be odd), an identity
        skip is asked to change the channel count or the resolution, or ``running`` is
        missing in evaluation mode.
    """
    units = _bn_units(params)
    xp = array_namespace(X, *params) if xp is None else xp
    _check_block(units, stride)
    if not training and (running is None or len(running) != len(units)):
        raise ValueError(f"running must hold the (mean, var) of each of the {len(units)} "
                         f"normalisations in evaluation mode, got {running!r}")
    norms = [partial(batch_norm_fwd, running=None if training else running[i],
                     training=training, xp=xp) for i in range(len(units))]
    Y, cache = _block_fwd(units, X, stride, norms, xp)
    return Y, BNResidualCache(*cache)


def bn_residual_bwd(params: Sequence[Any], cache: BNResidualCache, dY: Any, *, stride: int = 1,
                    xp: ModuleType | None = None, input_grad: bool = True) -> tuple[Any, list]:
    r"""Backward pass of :func:`bn_residual_fwd` (same ``stride``; the mode is the cache's).

    Parameters
    ----------
    params : list of arrays
        As given to :func:`bn_residual_fwd`.
    cache : BNResidualCache
        From :func:`bn_residual_fwd`.
    dY : array, shape (N, F, OH, OW)
        :math:`\partial L/\partial Y`.
    stride : int, default 1
        As in the forward pass.
    xp : module, optional
        Namespace; found from ``dY`` and ``params`` when omitted.
    input_grad : bool, default True
        Compute :math:`\partial L/\partial X`.

    Returns
    -------
    dX : array of the input's shape, or None
        :math:`\partial L/\partial X`; None when ``input_grad`` is False.
    dparams : list of arrays
        Shaped like ``params``.
    """
    units = _bn_units(params)
    xp = array_namespace(dY, *params) if xp is None else xp
    return _block_bwd(units, cache, dY, stride, [partial(batch_norm_bwd, xp=xp)] * len(units),
                      xp, input_grad)
