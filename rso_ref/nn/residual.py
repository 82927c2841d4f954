r"""Basic residual block of He et al. [1]_ (without batch normalisation) as a forward/backward pair.

.. math::

    Y = \operatorname{relu}\big(\operatorname{conv}_2(\operatorname{relu}(\operatorname{conv}_1(X)))
        + S(X)\big),
    \qquad S(X) = \begin{cases} X & \text{identity skip} \\
                                \operatorname{conv}_{1\times 1}(X) & \text{projection}
                  \end{cases}

``conv_1`` has stride ``stride`` and ``conv_2`` stride 1, both with "same" zero padding
``k // 2`` (odd square kernels, usually 3x3); the projection (option B of [1]_) is a
1x1 convolution with stride ``stride`` and no padding, needed when the block changes
the channel count or the resolution. Parameters are ``[W1, b1, W2, b2]`` for an
identity skip and ``[W1, b1, W2, b2, Ws, bs]`` with a projection.

Notes
-----
Backward, with :math:`A = \operatorname{relu}(\operatorname{conv}_1 X)` and
:math:`G_S = \partial L/\partial(\operatorname{conv}_2 A + S(X))
= G \odot [\,\cdot > 0]`:

.. math::

    \frac{\partial L}{\partial X} = \operatorname{conv}_1^\top\!\big(
        \operatorname{conv}_2^\top(G_S) \odot [A > 0]\big) + S^\top(G_S).

.. warning::
   torch-vision's ``BasicBlock`` puts batch normalisation after each convolution and has
   no conv biases; this block has biases and no normalisation (a reference model has
   no running statistics to keep in sync between training and evaluation).

References
----------
.. [1] K. He, X. Zhang, S. Ren, J. Sun, "Deep residual learning for image recognition",
   CVPR (2016); arXiv:1512.03385.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Sequence

from ..backend import array_namespace
from .activations import relu_bwd, relu_fwd
from .conv import conv2d_bwd, conv2d_fwd

__all__ = ["residual_fwd", "residual_bwd"]


def _split(params: Sequence[Any]) -> tuple[list, list, list | None]:
    if len(params) not in (4, 6):
        raise ValueError(
            f"params must be [W1, b1, W2, b2] or [W1, b1, W2, b2, Ws, bs], got {len(params)} arrays"
        )
    params = list(params)
    return params[0:2], params[2:4], params[4:6] if len(params) == 6 else None


def residual_fwd(params: Sequence[Any], X: Any, *, stride: int = 1,
                 xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""Residual block ``relu(conv2(relu(conv1(X))) + skip(X))``.

    Parameters
    ----------
    params : list of arrays
        ``[W1, b1, W2, b2]`` (identity skip) or ``[W1, b1, W2, b2, Ws, bs]``
        (projection); ``W1`` of shape ``(F, C, k, k)``, ``W2`` of shape ``(F, F, k, k)``,
        ``Ws`` of shape ``(F, C, 1, 1)``.
    X : array, shape (N, C, H, W)
        The input.
    stride : int, default 1
        Stride of ``conv1`` and of the projection.
    xp : module, optional
        Namespace; found from ``X`` and ``params`` when omitted.

    Returns
    -------
    Y : array, shape (N, F, OH, OW)
        The block's output.
    cache : tuple
        What :func:`residual_bwd` needs.

    Raises
    ------
    ValueError
        If ``params`` has the wrong length or shapes (kernels must be odd), or an
        identity skip is asked to change the channel count or the resolution.
    """
    first, second, projection = _split(params)
    xp = array_namespace(X, *params) if xp is None else xp
    k = first[0].shape[-1]
    if k % 2 == 0 or second[0].shape[-1] % 2 == 0:
        raise ValueError(f"W1 and W2 must have odd kernels (same padding), got {k}, "
                         f"{second[0].shape[-1]}")
    if projection is None and (stride != 1 or first[0].shape[1] != second[0].shape[0]):
        raise ValueError(
            f"an identity skip needs stride 1 and in_channels == out_channels, got stride "
            f"{stride} and {first[0].shape[1]} -> {second[0].shape[0]}; add a projection "
            "[Ws, bs] to params"
        )
    H, conv1_cache = conv2d_fwd(first, X, stride=stride, padding=k // 2, xp=xp)
    A, relu1_cache = relu_fwd(H, xp=xp)
    H, conv2_cache = conv2d_fwd(second, A, padding=second[0].shape[-1] // 2, xp=xp)
    skip_cache = None
    if projection is None:
        S = X
    else:
        S, skip_cache = conv2d_fwd(projection, X, stride=stride, xp=xp)
    Y, relu2_cache = relu_fwd(H + S, xp=xp)
    return Y, (conv1_cache, relu1_cache, conv2_cache, skip_cache, relu2_cache)


def residual_bwd(params: Sequence[Any], cache: Any, dY: Any, *, stride: int = 1,
                 xp: ModuleType | None = None, input_grad: bool = True) -> tuple[Any, list]:
    r"""Backward pass of :func:`residual_fwd` (same ``stride``).

    Parameters
    ----------
    params : list of arrays
        As given to :func:`residual_fwd`.
    cache : tuple
        From :func:`residual_fwd`.
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
    first, second, projection = _split(params)
    xp = array_namespace(dY, *params) if xp is None else xp
    conv1_cache, relu1_cache, conv2_cache, skip_cache, relu2_cache = cache
    dS = relu_bwd(relu2_cache, dY, xp=xp)
    dA, d_second = conv2d_bwd(second, conv2_cache, dS, padding=second[0].shape[-1] // 2, xp=xp)
    dH = relu_bwd(relu1_cache, dA, xp=xp)
    dX, d_first = conv2d_bwd(first, conv1_cache, dH, stride=stride,
                             padding=first[0].shape[-1] // 2, xp=xp, input_grad=input_grad)
    dparams = d_first + d_second
    if projection is not None:
        dX_skip, d_projection = conv2d_bwd(projection, skip_cache, dS, stride=stride, xp=xp,
                                           input_grad=input_grad)
        dparams += d_projection
    else:
        dX_skip = dS
    return (dX + dX_skip if input_grad else None), dparams
