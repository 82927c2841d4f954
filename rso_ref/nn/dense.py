r"""Fully connected (dense, affine) layer as a forward/backward pair.

Conventions (shared by all of :mod:`rso_ref.nn`): the weight has shape
``(in_features, out_features)``, the layer computes :math:`Y = XW + b` on a batch of
rows, and its parameters are ordered ``[W, b]``.

.. warning::
   torch's ``nn.Linear`` stores the weight transposed, ``(out_features, in_features)``,
   and computes :math:`X W^\top + b`; load ``W.T`` into it (and read ``weight.grad.T``
   back) when comparing.

Notes
-----
With :math:`X \in \mathbb{R}^{n\times p}`, :math:`W \in \mathbb{R}^{p\times q}`,
:math:`b \in \mathbb{R}^q` and upstream gradient :math:`G = \partial L/\partial Y`:

.. math::

    Y = XW + \mathbf{1} b^\top, \qquad
    \frac{\partial L}{\partial W} = X^\top G, \qquad
    \frac{\partial L}{\partial b} = G^\top \mathbf{1}, \qquad
    \frac{\partial L}{\partial X} = G W^\top.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Sequence

from ..backend import array_namespace

__all__ = ["dense_fwd", "dense_bwd"]


def dense_fwd(params: Sequence[Any], X: Any, *, xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""Affine map :math:`Y = XW + b`.

    Parameters
    ----------
    params : [W, b]
        ``W`` of shape ``(p, q)``, ``b`` of shape ``(q,)``.
    X : array, shape (n, p)
        The input.
    xp : module, optional
        Namespace; found from ``X`` and ``params`` when omitted.

    Returns
    -------
    Y : array, shape (n, q)
        :math:`XW + b`.
    cache : array
        ``X``, needed for :math:`\partial L/\partial W`.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D or its feature count differs from ``W.shape[0]``.
    """
    W, b = params
    xp = array_namespace(X, W, b) if xp is None else xp
    if X.ndim != 2 or X.shape[1] != W.shape[0]:
        raise ValueError(
            f"X must have shape (n, {W.shape[0]}) to match W of shape {tuple(W.shape)}, "
            f"got {tuple(X.shape)}"
        )
    return xp.matmul(X, W) + b, X


def dense_bwd(params: Sequence[Any], cache: Any, dY: Any, *, xp: ModuleType | None = None,
              input_grad: bool = True) -> tuple[Any, list]:
    r"""Backward pass of :func:`dense_fwd`.

    Parameters
    ----------
    params : [W, b]
        The layer's weight and bias, as given to :func:`dense_fwd`.
    cache : array
        The input ``X`` returned as cache by :func:`dense_fwd`.
    dY : array, shape (n, q)
        :math:`\partial L/\partial Y`.
    xp : module, optional
        Namespace; found from ``dY`` and ``params`` when omitted.
    input_grad : bool, default True
        Compute :math:`\partial L/\partial X`. A first layer does not need it; skipping
        it saves one ``(n, q) x (q, p)`` product.

    Returns
    -------
    dX : array of shape (n, p), or None
        :math:`\partial L/\partial X = dY\, W^\top`; None when ``input_grad`` is False.
    dparams : [dW, db]
        :math:`X^\top dY` and the column sums of :math:`dY`.
    """
    W, _ = params
    X = cache
    xp = array_namespace(X, dY) if xp is None else xp
    dW = xp.matmul(xp.matrix_transpose(X), dY)
    db = xp.sum(dY, axis=0)
    dX = xp.matmul(dY, xp.matrix_transpose(W)) if input_grad else None
    return dX, [dW, db]
