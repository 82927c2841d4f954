r"""1-D and 2-D convolution layers as im2col plus one matrix product.

Conventions (torch's, [1]_): inputs ``(N, C, L)`` / ``(N, C, H, W)``; weights
``(out_channels, in_channels, k)`` / ``(out_channels, in_channels, kh, kw)``; bias
``(out_channels,)``; parameters ordered ``[W, b]``; *cross-correlation* (the kernel is
not flipped); zero padding of ``padding`` on both sides of every spatial axis.

Notes
-----
With the windows :math:`V` of the padded input (:func:`rso_ref.backend.sliding_windows`)
laid out as the im2col matrix :math:`X_{col} \in \mathbb{R}^{C K \times N O}`
(rows: input channel and kernel offset; columns: sample and output position, the
output position fastest), the weight as :math:`W_{mat} \in \mathbb{R}^{F \times CK}`
and the upstream gradient as :math:`G \in \mathbb{R}^{F \times NO}`:

.. math::

    Z = W_{mat} X_{col} + b \mathbf 1^\top, \qquad
    \frac{\partial L}{\partial W_{mat}} = G X_{col}^\top, \qquad
    \frac{\partial L}{\partial b} = G \mathbf 1, \qquad
    \frac{\partial L}{\partial X_{col}} = W_{mat}^\top G,

and :math:`\partial L/\partial x` is col2im of :math:`\partial L/\partial X_{col}`
(:func:`rso_ref.backend.sliding_windows_adjoint`). Output size per axis:
:math:`O_i = \lfloor (S_i + 2p_i - K_i)/s_i \rfloor + 1`.

The layout puts the contraction axis :math:`CK` first and the long axis :math:`NO`
last, so the forward product is one contiguous GEMM, the im2col copy runs along
contiguous input rows, and col2im reads contiguous rows of :math:`W_{mat}^\top G`.
The output comes back as a transposed *view* ``(F, N, *O) -> (N, F, *O)``: NumPy and
torch keep that memory order through elementwise layers, and the next convolution's
im2col and this layer's backward reshape then move data less.

References
----------
.. [1] torch.nn.Conv2d documentation, https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html
.. [2] K. Chellapilla, S. Puri, P. Simard, "High performance convolutional neural
   networks for document processing", IWFHR (2006); https://inria.hal.science/inria-00112631
"""
from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Sequence

from ..backend import array_namespace, sliding_windows, sliding_windows_adjoint

__all__ = ["conv1d_fwd", "conv1d_bwd", "conv2d_fwd", "conv2d_bwd"]


def _check(W: Any, b: Any, X: Any, d: int) -> None:
    if W.ndim != 2 + d:
        raise ValueError(
            f"W must have shape (out_channels, in_channels{', k' if d == 1 else ', kh, kw'}), "
            f"got {tuple(W.shape)}"
        )
    if tuple(b.shape) != (W.shape[0],):
        raise ValueError(f"b must have shape ({W.shape[0]},) to match W, got {tuple(b.shape)}")
    layout = "(N, C, L)" if d == 1 else "(N, C, H, W)"
    if X.ndim != 2 + d or X.shape[1] != W.shape[1]:
        raise ValueError(
            f"X must have shape {layout} with C = {W.shape[1]} input channels (from W of "
            f"shape {tuple(W.shape)}), got {tuple(X.shape)}"
        )


def _conv_fwd(params: Sequence[Any], X: Any, stride: Any, padding: Any, d: int,
              xp: ModuleType | None) -> tuple[Any, Any]:
    W, b = params
    xp = array_namespace(X, W, b) if xp is None else xp
    _check(W, b, X, d)
    n, c = X.shape[0], X.shape[1]
    window = tuple(W.shape[2:])
    V = sliding_windows(X, window, stride, padding=padding, xp=xp)  # (N, C, *O, *K)
    out = tuple(V.shape[2:2 + d])
    # (N, C, *O, *K) -> (C, *K, N, *O) -> (C K, N O): the one im2col copy.
    to_cols = (1, *range(2 + d, 2 + 2 * d), 0, *range(2, 2 + d))
    cols = xp.reshape(xp.permute_dims(V, to_cols), (c * math.prod(window), n * math.prod(out)))
    f = W.shape[0]
    Z = xp.matmul(xp.reshape(W, (f, cols.shape[0])), cols)
    Z += xp.reshape(b, (f, 1))  # in place on the fresh product (autograd rebinds instead)
    Y = xp.permute_dims(xp.reshape(Z, (f, n) + out), (1, 0, *range(2, 2 + d)))
    return Y, (cols, tuple(X.shape))


def _conv_bwd(params: Sequence[Any], cache: Any, dY: Any, stride: Any, padding: Any, d: int,
              xp: ModuleType | None, input_grad: bool) -> tuple[Any, list]:
    W, _ = params
    cols, x_shape = cache
    xp = array_namespace(dY, W) if xp is None else xp
    f, c = W.shape[0], W.shape[1]
    n, out, window = dY.shape[0], tuple(dY.shape[2:]), tuple(W.shape[2:])
    # (N, F, *O) -> (F, N O); a view when dY has this layer's output memory order.
    G = xp.reshape(xp.permute_dims(dY, (1, 0, *range(2, 2 + d))), (f, n * math.prod(out)))
    W_mat = xp.reshape(W, (f, cols.shape[0]))
    dW = xp.reshape(xp.matmul(G, xp.matrix_transpose(cols)), tuple(W.shape))
    db = xp.sum(G, axis=1)
    if not input_grad:
        return None, [dW, db]
    dcols = xp.matmul(xp.matrix_transpose(W_mat), G)  # (C K, N O)
    # (C, *K, N, *O) -> (N, C, *O, *K), the layout of sliding_windows.
    from_cols = (1 + d, 0, *range(2 + d, 2 + 2 * d), *range(1, 1 + d))
    dV = xp.permute_dims(xp.reshape(dcols, (c,) + window + (n,) + out), from_cols)
    return sliding_windows_adjoint(dV, x_shape, stride, padding=padding, xp=xp), [dW, db]


def conv1d_fwd(params: Sequence[Any], X: Any, *, stride: Any = 1, padding: Any = 0,
               xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""1-D convolution (cross-correlation) of ``(N, C, L)`` inputs.

    Parameters
    ----------
    params : [W, b]
        ``W`` of shape ``(F, C, k)``, ``b`` of shape ``(F,)``.
    X : array, shape (N, C, L)
        The input.
    stride : int, default 1
        Step between output positions.
    padding : int, default 0
        Zeros added at both ends.
    xp : module, optional
        Namespace; found from ``X`` and ``params`` when omitted.

    Returns
    -------
    Y : array, shape (N, F, O)
        :math:`Y[n, f, o] = b_f + \sum_{c, j} W[f, c, j]\,\tilde X[n, c, o s + j]` with
        :math:`O = \lfloor (L + 2p - k)/s \rfloor + 1`.
    cache : tuple
        The im2col matrix ``(C k, N O)`` and the input shape.

    Raises
    ------
    ValueError
        If ``W``, ``b`` or ``X`` has the wrong shape (the channel count of ``X`` must
        be ``W.shape[1]``), or the kernel is longer than the padded input.
    """
    return _conv_fwd(params, X, stride, padding, 1, xp)


def conv1d_bwd(params: Sequence[Any], cache: Any, dY: Any, *, stride: Any = 1, padding: Any = 0,
               xp: ModuleType | None = None, input_grad: bool = True) -> tuple[Any, list]:
    r"""Backward pass of :func:`conv1d_fwd` (same ``stride`` and ``padding``).

    Parameters
    ----------
    params : [W, b]
        The layer's weight and bias, as given to :func:`conv1d_fwd`.
    cache : tuple
        From :func:`conv1d_fwd`.
    dY : array, shape (N, F, O)
        :math:`\partial L/\partial Y`.
    stride : int, default 1
        As in the forward pass.
    padding : int, default 0
        As in the forward pass.
    xp : module, optional
        Namespace; found from ``dY`` and ``params`` when omitted.
    input_grad : bool, default True
        Compute :math:`\partial L/\partial X` (a first layer does not need it; skipping
        it saves a GEMM and the col2im).

    Returns
    -------
    dX : array of shape (N, C, L), or None
        :math:`\partial L/\partial X`; None when ``input_grad`` is False.
    dparams : [dW, db]
        :math:`\partial L/\partial W` and :math:`\partial L/\partial b`.
    """
    return _conv_bwd(params, cache, dY, stride, padding, 1, xp, input_grad)


def conv2d_fwd(params: Sequence[Any], X: Any, *, stride: Any = 1, padding: Any = 0,
               xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""2-D convolution (cross-correlation) of ``(N, C, H, W)`` inputs.

    Parameters
    ----------
    params : [W, b]
        ``W`` of shape ``(F, C, kh, kw)``, ``b`` of shape ``(F,)``.
    X : array, shape (N, C, H, W)
        The input.
    stride : int or (int, int), default 1
        Step between output positions, per axis.
    padding : int or (int, int), default 0
        Zeros added on both sides of each spatial axis.
    xp : module, optional
        Namespace; found from ``X`` and ``params`` when omitted.

    Returns
    -------
    Y : array, shape (N, F, OH, OW)
        :math:`Y[n, f, i, j] = b_f + \sum_{c, u, v} W[f, c, u, v]\,
        \tilde X[n, c, i s_h + u, j s_w + v]`.
    cache : tuple
        The im2col matrix ``(C kh kw, N OH OW)`` and the input shape.

    Raises
    ------
    ValueError
        As :func:`conv1d_fwd`.

    Examples
    --------
    >>> import numpy as np
    >>> W, b = np.ones((1, 1, 2, 2)), np.zeros(1)
    >>> conv2d_fwd([W, b], np.arange(9.0).reshape(1, 1, 3, 3))[0][0, 0]
    array([[ 8., 12.],
           [20., 24.]])
    """
    return _conv_fwd(params, X, stride, padding, 2, xp)


def conv2d_bwd(params: Sequence[Any], cache: Any, dY: Any, *, stride: Any = 1, padding: Any = 0,
               xp: ModuleType | None = None, input_grad: bool = True) -> tuple[Any, list]:
    r"""Backward pass of :func:`conv2d_fwd` (same ``stride`` and ``padding``).

    Parameters as :func:`conv1d_bwd`, with ``dY`` of shape ``(N, F, OH, OW)``; returns
    ``dX`` of shape ``(N, C, H, W)`` (or None) and ``[dW, db]``.

    Parameters
    ----------
    params : [W, b]
        The layer's weight and bias, as given to :func:`conv2d_fwd`.
    cache : tuple
        From :func:`conv2d_fwd`.
    dY : array, shape (N, F, OH, OW)
        :math:`\partial L/\partial Y`.
    stride : int or (int, int), default 1
        As in the forward pass.
    padding : int or (int, int), default 0
        As in the forward pass.
    xp : module, optional
        Namespace; found from ``dY`` and ``params`` when omitted.
    input_grad : bool, default True
        Compute :math:`\partial L/\partial X`.

    Returns
    -------
    dX : array of shape (N, C, H, W), or None
        :math:`\partial L/\partial X`; None when ``input_grad`` is False.
    dparams : [dW, db]
        :math:`\partial L/\partial W` and :math:`\partial L/\partial b`.
    """
    return _conv_bwd(params, cache, dY, stride, padding, 2, xp, input_grad)
