r"""Pooling layers over 1 or 2 spatial axes: max, average and global average.

Inputs are ``(N, C, L)`` or ``(N, C, H, W)``; the number of spatial axes is read from
``X.ndim``. Windows have size ``kernel_size`` and step ``stride`` (default: the kernel
size, non-overlapping windows as in torch); there is no padding, and a trailing part
of the input that does not fill a window is dropped (floor mode, torch's default).

Notes
-----
With the windows :math:`V[n, c, o, k]` of :func:`rso_ref.backend.sliding_windows`:

.. math::

    \text{max}: \; Y[n, c, o] = \max_k V[n, c, o, k], \qquad
    \frac{\partial L}{\partial V[n, c, o, k]} = G[n, c, o]\,[k = k^*(n, c, o)],

    \text{avg}: \; Y[n, c, o] = \frac{1}{|K|}\sum_k V[n, c, o, k], \qquad
    \frac{\partial L}{\partial V[n, c, o, k]} = \frac{G[n, c, o]}{|K|},

followed by the window transpose (:func:`rso_ref.backend.sliding_windows_adjoint`),
which adds up the contributions of overlapping windows.

.. warning::
   Ties in max pooling. :math:`k^*` is the *first* maximal offset of the window in
   row-major order (rows, then columns), so the whole gradient goes to one input, as
   in torch's CPU kernels; autograd's ``max`` splits it evenly among tied entries
   instead, and the two differ (only) when a window holds equal maxima, e.g. ReLU
   zeros. A window holding NaN gives a NaN output and sends its gradient to its last
   entry (torch: to its first NaN); the models refuse NaN inputs.

Both forward passes are elementwise maxima/sums of strided slices of ``X`` (views on
NumPy, CuPy and torch), one per kernel offset, and are traceable by autograd.
"""
from __future__ import annotations

import itertools
import math
from types import ModuleType
from typing import Any

from ..backend import array_namespace, sliding_windows, sliding_windows_adjoint

__all__ = [
    "max_pool_fwd",
    "max_pool_bwd",
    "avg_pool_fwd",
    "avg_pool_bwd",
    "global_avg_pool_fwd",
    "global_avg_pool_bwd",
]


def _windows(X: Any, kernel_size: Any, stride: Any, xp: ModuleType) -> Any:
    if X.ndim not in (3, 4):
        raise ValueError(f"X must have shape (N, C, L) or (N, C, H, W), got {tuple(X.shape)}")
    return sliding_windows(X, kernel_size, kernel_size if stride is None else stride, xp=xp)


def _offsets(V: Any, d: int) -> list[tuple]:
    """Index tuples ``(..., k_1, ..., k_d)`` of every kernel offset, row-major."""
    return [(Ellipsis,) + k for k in itertools.product(*(range(s) for s in V.shape[-d:]))]


def _fold(parts: list, x_shape: tuple, kernel_size: Any, stride: Any, xp: ModuleType,
          masks: list | None = None) -> Any:
    """Window gradients, one ``(N, C, *O)`` array per kernel offset, back to the input."""
    return sliding_windows_adjoint(parts, x_shape, kernel_size if stride is None else stride,
                                   window=kernel_size, masks=masks, xp=xp)


def max_pool_fwd(X: Any, *, kernel_size: Any = 2, stride: Any = None,
                 xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""Max pooling over windows of size ``kernel_size``.

    Parameters
    ----------
    X : array, shape (N, C, L) or (N, C, H, W)
        The input.
    kernel_size : int or tuple of int, default 2
        Window size per spatial axis.
    stride : int or tuple of int, optional
        Default ``kernel_size``.
    xp : module, optional
        Namespace; found from ``X`` when omitted.

    Returns
    -------
    Y : array, shape ``(N, C, *O)``
        :math:`O_i = \lfloor (S_i - K_i)/s_i \rfloor + 1`.
    cache : tuple
        The windows of ``X`` (a view on NumPy/CuPy/torch), ``Y`` and the input shape.

    Raises
    ------
    ValueError
        If ``X`` is not 3-D or 4-D, or the kernel is larger than the input.
    """
    xp = array_namespace(X) if xp is None else xp
    V = _windows(X, kernel_size, stride, xp)
    first, *rest = _offsets(V, X.ndim - 2)
    Y = V[first]
    for offset in rest:
        Y = xp.maximum(Y, V[offset])
    return Y, (V, Y, tuple(X.shape))


def max_pool_bwd(cache: Any, dY: Any, *, kernel_size: Any = 2, stride: Any = None,
                 xp: ModuleType | None = None) -> Any:
    r"""Backward pass of :func:`max_pool_fwd`: each window's gradient goes to its first maximum.

    Parameters
    ----------
    cache : tuple
        From the forward pass.
    dY : array, shape ``(N, C, *O)``
        :math:`\partial L/\partial Y`.
    kernel_size : int or tuple of int, default 2
        As in the forward pass.
    stride : int or tuple of int, optional
        As in the forward pass.
    xp : module, optional
        Namespace; found from ``dY`` when omitted.

    Returns
    -------
    array
        :math:`\partial L/\partial X`, shaped like the input.
    """
    V, Y, x_shape = cache
    xp = array_namespace(dY) if xp is None else xp
    offsets = _offsets(V, len(x_shape) - 2)
    free, hits = None, []  # free: windows whose maximum has not been claimed yet
    for j, offset in enumerate(offsets):
        if free is None:
            hit = V[offset] == Y
        elif j == len(offsets) - 1:
            hit = free  # not claimed by an earlier offset: the maximum is here
        else:
            hit = xp.logical_and(V[offset] == Y, free)
        if j < len(offsets) - 1:
            miss = xp.logical_not(hit)
            free = miss if free is None else xp.logical_and(free, miss)
        hits.append(hit)
    return _fold([dY] * len(offsets), x_shape, kernel_size, stride, xp, masks=hits)


def avg_pool_fwd(X: Any, *, kernel_size: Any = 2, stride: Any = None,
                 xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""Average pooling over windows of size ``kernel_size``.

    .. math::

        Y[n, c, o] = \frac{1}{|K|} \sum_{k \in K} X[n, c, o s + k]

    Parameters
    ----------
    X : array, shape (N, C, L) or (N, C, H, W)
        The input.
    kernel_size : int or tuple of int, default 2
        Window size per spatial axis.
    stride : int or tuple of int, optional
        Default ``kernel_size``.
    xp : module, optional
        Namespace; found from ``X`` when omitted.

    Returns
    -------
    Y : array, shape ``(N, C, *O)``
        The window means.
    cache : tuple
        The windows of ``X`` (used for their shape only) and the input shape.
    """
    xp = array_namespace(X) if xp is None else xp
    V = _windows(X, kernel_size, stride, xp)
    offsets = _offsets(V, X.ndim - 2)
    total = V[offsets[0]]
    for offset in offsets[1:]:
        total = total + V[offset]
    return total / len(offsets), (V, tuple(X.shape))


def avg_pool_bwd(cache: Any, dY: Any, *, kernel_size: Any = 2, stride: Any = None,
                 xp: ModuleType | None = None) -> Any:
    r"""Backward pass of :func:`avg_pool_fwd`: :math:`G/|K|` to every entry of each window.

    Parameters
    ----------
    cache : tuple
        From the forward pass.
    dY : array, shape ``(N, C, *O)``
        :math:`\partial L/\partial Y`.
    kernel_size : int or tuple of int, default 2
        As in the forward pass.
    stride : int or tuple of int, optional
        As in the forward pass.
    xp : module, optional
        Namespace; found from ``dY`` when omitted.

    Returns
    -------
    array
        :math:`\partial L/\partial X`, shaped like the input.
    """
    V, x_shape = cache
    xp = array_namespace(dY) if xp is None else xp
    count = math.prod(V.shape[len(x_shape):])
    return _fold([dY / count] * count, x_shape, kernel_size, stride, xp)


def global_avg_pool_fwd(X: Any, *, xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""Average over all spatial axes: ``(N, C, *S) -> (N, C)``.

    .. math::

        Y[n, c] = \frac{1}{\prod_i S_i} \sum_{s} X[n, c, s]

    Parameters
    ----------
    X : array, shape ``(N, C, *S)``
        The input.
    xp : module, optional
        Namespace; found from ``X`` when omitted.

    Returns
    -------
    Y : array, shape (N, C)
        The means.
    cache : tuple of int
        The input shape.
    """
    xp = array_namespace(X) if xp is None else xp
    if X.ndim not in (3, 4):
        raise ValueError(f"X must have shape (N, C, L) or (N, C, H, W), got {tuple(X.shape)}")
    return xp.mean(X, axis=tuple(range(2, X.ndim))), tuple(X.shape)


def global_avg_pool_bwd(cache: Any, dY: Any, *, xp: ModuleType | None = None) -> Any:
    r"""Backward pass of :func:`global_avg_pool_fwd`: :math:`G/\prod_i S_i` at every position.

    Parameters
    ----------
    cache : tuple of int
        The input shape, from :func:`global_avg_pool_fwd`.
    dY : array, shape (N, C)
        :math:`\partial L/\partial Y`.
    xp : module, optional
        Namespace; found from ``dY`` when omitted.

    Returns
    -------
    array, shape ``(N, C, *S)``
        :math:`\partial L/\partial X`.
    """
    xp = array_namespace(dY) if xp is None else xp
    x_shape = cache
    spread = xp.reshape(dY / math.prod(x_shape[2:]), tuple(x_shape[:2]) + (1,) * (len(x_shape) - 2))
    return xp.broadcast_to(spread, x_shape)
