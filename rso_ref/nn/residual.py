r"""Basic residual block of He et al. [1]_, optionally group-normalised, as a forward/backward pair.

.. math::

    Y = \operatorname{relu}\big(N_2\operatorname{conv}_2(\operatorname{relu}(
        N_1\operatorname{conv}_1(X))) + S(X)\big),
    \qquad S(X) = \begin{cases} X & \text{identity skip} \\
                                N_s\operatorname{conv}_{1\times 1}(X) & \text{projection}
                  \end{cases}

``conv_1`` has stride ``stride`` and ``conv_2`` stride 1, both with "same" zero padding
``k // 2`` (odd square kernels, usually 3x3); the projection (option B of [1]_) is a
1x1 convolution with stride ``stride`` and no padding, needed when the block changes
the channel count or the resolution. Without normalisation (``norm_groups=None``, the
default) every :math:`N` is the identity and parameters are ``[W1, b1, W2, b2]`` for an
identity skip and ``[W1, b1, W2, b2, Ws, bs]`` with a projection. With
``norm_groups=G`` every :math:`N` is a group normalisation with ``G`` groups and its own
scale and shift (:mod:`rso_ref.nn.norm`, torch-vision's ``BasicBlock`` order with
GroupNorm in place of BatchNorm), and each convolution's ``[W, b]`` is followed by its
``[gamma, beta]``: ``[W1, b1, g1, be1, W2, b2, g2, be2]`` (+ ``[Ws, bs, gs, bes]``).

The block is written once, for any normalisation after each convolution (a forward
``(params, H) -> (H, cache)`` and a backward ``(params, cache, dH) -> (dH, dparams)``
per unit, or none); :func:`residual_fwd` / :func:`residual_bwd` instantiate it with
group normalisation or none, :mod:`rso_ref.nn.residual_bn` with batch normalisation.

Notes
-----
Backward, with :math:`A = \operatorname{relu}(N_1\operatorname{conv}_1 X)` and
:math:`G_S = \partial L/\partial(N_2\operatorname{conv}_2 A + S(X))
= G \odot [\,\cdot > 0]`:

.. math::

    \frac{\partial L}{\partial X} = \operatorname{conv}_1^\top N_1^\top\!\big(
        \operatorname{conv}_2^\top N_2^\top(G_S) \odot [A > 0]\big) + S^\top(G_S).

.. warning::
   torch-vision's ``BasicBlock`` puts batch normalisation after each convolution and has
   no conv biases; this block keeps the biases, and normalises (if at all) with group
   normalisation, which has no running statistics to keep in sync between training,
   RSO's meta evaluations and evaluation (:mod:`rso_ref.nn.norm`); the batch-normalised
   block is :mod:`rso_ref.nn.residual_bn`'s.

References
----------
.. [1] K. He, X. Zhang, S. Ren, J. Sun, "Deep residual learning for image recognition",
   CVPR (2016); arXiv:1512.03385.
"""
from __future__ import annotations

from functools import partial
from types import ModuleType
from typing import Any, Callable, Sequence

from ..backend import array_namespace
from ..validation import check_int
from .activations import relu_bwd, relu_fwd
from .conv import conv2d_bwd, conv2d_fwd
from .norm import group_norm_bwd, group_norm_fwd

__all__ = ["residual_fwd", "residual_bwd"]

#: A normalisation's forward pass, ``(params, H) -> (normalised H, cache)``.
_NormFwd = Callable[[Sequence[Any], Any], tuple[Any, Any]]
#: A normalisation's backward pass, ``(params, cache, dH) -> (dH, dparams)``.
_NormBwd = Callable[[Sequence[Any], Any, Any], tuple[Any, list]]


def _units(params: Sequence[Any], size: int, expected: str) -> list[list]:
    """``params`` cut into its 2 or 3 units (first, second, projection) of ``size`` arrays."""
    if len(params) not in (2 * size, 3 * size):
        raise ValueError(f"params must be {expected}, got {len(params)} arrays")
    params = list(params)
    return [params[i:i + size] for i in range(0, len(params), size)]


def _unit_fwd(unit: list, X: Any, stride: int, padding: int, norm: _NormFwd | None,
              xp: ModuleType) -> tuple[Any, Any, Any]:
    """Convolution ``unit[:2]``, then ``norm`` with ``unit[2:]``.

    Returns ``(H, conv cache, norm cache)``, the last None without ``norm``.
    """
    H, conv_cache = conv2d_fwd(unit[:2], X, stride=stride, padding=padding, xp=xp)
    if norm is None:
        return H, conv_cache, None
    H, norm_cache = norm(unit[2:], H)
    return H, conv_cache, norm_cache


def _unit_bwd(unit: list, conv_cache: Any, norm_cache: Any, dH: Any, stride: int,
              padding: int, norm: _NormBwd | None, xp: ModuleType,
              input_grad: bool) -> tuple[Any, list]:
    """Backward pass of :func:`_unit_fwd`: ``(dX or None, dparams like unit)``."""
    d_norm: list = []
    if norm is not None:
        dH, d_norm = norm(unit[2:], norm_cache, dH)
    dX, d_conv = conv2d_bwd(unit[:2], conv_cache, dH, stride=stride, padding=padding, xp=xp,
                            input_grad=input_grad)
    return dX, d_conv + d_norm


def _check_block(units: list[list], stride: int) -> None:
    """Odd kernels, and an identity skip only where it keeps the shape."""
    first, second = units[:2]
    k1, k2 = first[0].shape[-1], second[0].shape[-1]
    if k1 % 2 == 0 or k2 % 2 == 0:
        raise ValueError(f"W1 and W2 must have odd kernels (same padding), got {k1}, {k2}")
    if len(units) == 2 and (stride != 1 or first[0].shape[1] != second[0].shape[0]):
        raise ValueError(
            f"an identity skip needs stride 1 and in_channels == out_channels, got stride "
            f"{stride} and {first[0].shape[1]} -> {second[0].shape[0]}; add a projection "
            "to params"
        )


def _block_fwd(units: list[list], X: Any, stride: int, norms: Sequence[_NormFwd] | None,
               xp: ModuleType) -> tuple[Any, tuple[tuple, tuple, tuple]]:
    """The block of :func:`residual_fwd` with ``norms[i]`` (None: none) after convolution ``i``.

    Returns ``Y`` and the cache ``(conv caches, relu caches, norm caches)``, unit order.
    ``units`` must have passed :func:`_check_block`.
    """
    first, second = units[:2]
    k1, k2 = first[0].shape[-1], second[0].shape[-1]
    norms = [None] * len(units) if norms is None else norms
    H, conv1, norm1 = _unit_fwd(first, X, stride, k1 // 2, norms[0], xp)
    A, relu1 = relu_fwd(H, xp=xp)
    H, conv2, norm2 = _unit_fwd(second, A, 1, k2 // 2, norms[1], xp)
    convs, norm_caches = [conv1, conv2], [norm1, norm2]
    if len(units) == 2:
        S = X
    else:
        S, conv_s, norm_s = _unit_fwd(units[2], X, stride, 0, norms[2], xp)
        convs.append(conv_s)
        norm_caches.append(norm_s)
    Y, relu2 = relu_fwd(H + S, xp=xp)
    return Y, (tuple(convs), (relu1, relu2), tuple(norm_caches))


def _block_bwd(units: list[list], cache: Any, dY: Any, stride: int,
               norms: Sequence[_NormBwd] | None, xp: ModuleType,
               input_grad: bool) -> tuple[Any, list]:
    """Backward pass of :func:`_block_fwd`, ``norms[i]`` the backward of its ``norms[i]``."""
    convs, relus, norm_caches = cache
    norms = [None] * len(units) if norms is None else norms
    first, second = units[:2]
    dS = relu_bwd(relus[1], dY, xp=xp)
    dA, d_second = _unit_bwd(second, convs[1], norm_caches[1], dS, 1, second[0].shape[-1] // 2,
                             norms[1], xp, True)
    dH = relu_bwd(relus[0], dA, xp=xp)
    dX, d_first = _unit_bwd(first, convs[0], norm_caches[0], dH, stride,
                            first[0].shape[-1] // 2, norms[0], xp, input_grad)
    dparams = d_first + d_second
    if len(units) == 2:
        dX_skip = dS
    else:
        dX_skip, d_projection = _unit_bwd(units[2], convs[2], norm_caches[2], dS, stride, 0,
                                          norms[2], xp, input_grad)
        dparams += d_projection
    return (dX + dX_skip if input_grad else None), dparams


def _group_units(params: Sequence[Any], norm_groups: int | None) -> list[list]:
    """Units of ``params``: ``[W, b]`` each, or ``[W, b, g, be]`` with ``norm_groups``."""
    size = 2 if norm_groups is None else 4
    if norm_groups is not None:
        check_int(norm_groups, "norm_groups", minimum=1)
    names = ["W1, b1, W2, b2", "Ws, bs"] if size == 2 else [
        "W1, b1, g1, be1, W2, b2, g2, be2", "Ws, bs, gs, bes"]
    return _units(params, size,
                  f"[{names[0]}] or [{names[0]}, {names[1]}] (norm_groups={norm_groups})")


def residual_fwd(params: Sequence[Any], X: Any, *, stride: int = 1,
                 norm_groups: int | None = None,
                 xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""Residual block ``relu(N2 conv2(relu(N1 conv1(X))) + skip(X))`` (module docstring).

    Parameters
    ----------
    params : list of arrays
        ``[W1, b1, W2, b2]`` (identity skip) or ``[W1, b1, W2, b2, Ws, bs]``
        (projection); ``W1`` of shape ``(F, C, k, k)``, ``W2`` of shape ``(F, F, k, k)``,
        ``Ws`` of shape ``(F, C, 1, 1)``. With ``norm_groups``, each ``[W, b]`` is
        followed by its normalisation's ``[gamma, beta]`` of shape ``(F,)`` each.
    X : array, shape (N, C, H, W)
        The input.
    stride : int, default 1
        Stride of ``conv1`` and of the projection.
    norm_groups : int, optional
        Groups of the group normalisation after each convolution (must divide ``F``);
        None: no normalisation.
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
        If ``params`` has the wrong length or shapes (kernels must be odd), an
        identity skip is asked to change the channel count or the resolution, or
        ``norm_groups`` does not divide ``F``.
    """
    units = _group_units(params, norm_groups)
    xp = array_namespace(X, *params) if xp is None else xp
    norms = None if norm_groups is None else [
        partial(group_norm_fwd, groups=norm_groups, xp=xp)] * len(units)
    _check_block(units, stride)
    return _block_fwd(units, X, stride, norms, xp)


def residual_bwd(params: Sequence[Any], cache: Any, dY: Any, *, stride: int = 1,
                 norm_groups: int | None = None, xp: ModuleType | None = None,
                 input_grad: bool = True) -> tuple[Any, list]:
    r"""Backward pass of :func:`residual_fwd` (same ``stride`` and ``norm_groups``).

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
    norm_groups : int, optional
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
    units = _group_units(params, norm_groups)
    xp = array_namespace(dY, *params) if xp is None else xp
    norms = None if norm_groups is None else [
        partial(group_norm_bwd, groups=norm_groups, xp=xp)] * len(units)
    return _block_bwd(units, cache, dY, stride, norms, xp, input_grad)
