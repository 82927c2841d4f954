r"""Parameter-free layers: ReLU, tanh, GELU and flatten, each a forward/backward pair.

Every layer is ``<name>_fwd(X, *, xp=None) -> (Y, cache)`` and
``<name>_bwd(cache, dY, *, xp=None) -> dX`` (the shared layer contract of
:mod:`rso_ref.nn`). The backward pass returns the vector-Jacobian product
:math:`\partial L/\partial X` given :math:`\partial L/\partial Y`; all activations act
elementwise, so it is the product of ``dY`` with the derivative below.

Forward code calls only array-API functions on ``xp`` (plus :func:`rso_ref.backend.erf`),
so ``xp=rso_ref.autodiff.namespace()`` traces it with autograd.

Notes
-----
.. math::

    \operatorname{relu}(x) = x\,[x > 0], \qquad
    \operatorname{relu}'(x) = [x > 0] \quad (\text{0 at } x = 0),

    \tanh'(x) = 1 - \tanh^2(x),

    \operatorname{gelu}(x) = x\,\Phi(x) = \tfrac{x}{2}\big(1 + \operatorname{erf}(x/\sqrt2)\big),
    \qquad \operatorname{gelu}'(x) = \Phi(x) + x\,\varphi(x),
    \quad \varphi(x) = e^{-x^2/2}/\sqrt{2\pi}.

GELU is the *exact* (erf) form of Hendrycks & Gimpel [1]_, torch's default
``approximate="none"``, not the tanh approximation.

References
----------
.. [1] D. Hendrycks, K. Gimpel, "Gaussian Error Linear Units (GELUs)", arXiv:1606.08415
   (2016).
"""
from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Callable

from ..backend import array_namespace, erf
from ..validation import check_choice

__all__ = [
    "relu_fwd",
    "relu_bwd",
    "tanh_fwd",
    "tanh_bwd",
    "gelu_fwd",
    "gelu_bwd",
    "flatten_fwd",
    "flatten_bwd",
    "ACTIVATIONS",
    "get_activation",
]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def relu_fwd(X: Any, *, xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""ReLU :math:`Y = X \odot [X > 0]`; the cache is the 0/1 mask in ``X``'s dtype.

    The mask is computed once and reused by :func:`relu_bwd` (a multiply, no ``where``).

    Parameters
    ----------
    X : array
        Pre-activations, any shape.
    xp : module, optional
        Namespace; found from ``X`` when omitted.

    Returns
    -------
    Y : array
        The activations, shaped like ``X``.
    cache : array
        What the backward pass needs.
    """
    xp = array_namespace(X) if xp is None else xp
    mask = xp.astype(X > 0.0, X.dtype)
    return X * mask, mask


def relu_bwd(cache: Any, dY: Any, *, xp: ModuleType | None = None) -> Any:
    r"""ReLU backward :math:`dX = dY \odot [X > 0]`.

    Parameters
    ----------
    cache : array
        From the forward pass.
    dY : array
        :math:`\partial L/\partial Y`.
    xp : module, optional
        Namespace; found from ``dY`` when omitted.

    Returns
    -------
    array
        :math:`dX = \partial L/\partial X`, shaped like ``X``.
    """
    return dY * cache


def tanh_fwd(X: Any, *, xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""Hyperbolic tangent :math:`Y = \tanh X`; the cache is ``Y``.

    Parameters
    ----------
    X : array
        Pre-activations, any shape.
    xp : module, optional
        Namespace; found from ``X`` when omitted.

    Returns
    -------
    Y : array
        The activations, shaped like ``X``.
    cache : array
        What the backward pass needs.
    """
    xp = array_namespace(X) if xp is None else xp
    Y = xp.tanh(X)
    return Y, Y


def tanh_bwd(cache: Any, dY: Any, *, xp: ModuleType | None = None) -> Any:
    r"""Hyperbolic tangent backward :math:`dX = dY \odot (1 - Y^2)`.

    Parameters
    ----------
    cache : array
        From the forward pass.
    dY : array
        :math:`\partial L/\partial Y`.
    xp : module, optional
        Namespace; found from ``dY`` when omitted.

    Returns
    -------
    array
        :math:`dX = \partial L/\partial X`, shaped like ``X``.
    """
    return dY * (1.0 - cache * cache)


def gelu_fwd(X: Any, *, xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""Exact GELU, :math:`Y = X\,\Phi(X)` with :math:`\Phi` the standard normal CDF.

    The cache is ``(X, Φ(X))``.

    Parameters
    ----------
    X : array
        Pre-activations, any shape.
    xp : module, optional
        Namespace; found from ``X`` when omitted.

    Returns
    -------
    Y : array
        The activations, shaped like ``X``.
    cache : tuple
        What the backward pass needs.
    """
    xp = array_namespace(X) if xp is None else xp
    cdf = 0.5 * (1.0 + erf(X * _INV_SQRT2, xp=xp))
    return X * cdf, (X, cdf)


def gelu_bwd(cache: Any, dY: Any, *, xp: ModuleType | None = None) -> Any:
    r"""GELU backward :math:`dX = dY \odot (\Phi(X) + X\varphi(X))`.

    Parameters
    ----------
    cache : tuple
        From the forward pass.
    dY : array
        :math:`\partial L/\partial Y`.
    xp : module, optional
        Namespace; found from ``dY`` when omitted.

    Returns
    -------
    array
        :math:`dX = \partial L/\partial X`, shaped like ``X``.
    """
    X, cdf = cache
    xp = array_namespace(X) if xp is None else xp
    pdf = _INV_SQRT_2PI * xp.exp(-0.5 * (X * X))
    return dY * (cdf + X * pdf)


def flatten_fwd(X: Any, *, xp: ModuleType | None = None) -> tuple[Any, Any]:
    r"""Flatten all but the batch axis: ``(n, d1, d2, ...) -> (n, d1*d2*...)``.

    The cache is the input shape.

    Parameters
    ----------
    X : array, shape (n, d1, d2, ...)
        The input.
    xp : module, optional
        Namespace; found from ``X`` when omitted.

    Returns
    -------
    Y : array, shape (n, d1*d2*...)
        The flattened input.
    cache : tuple of int
        The input shape.
    """
    xp = array_namespace(X) if xp is None else xp
    if X.ndim < 1:
        raise ValueError(f"X must have a batch axis, got a {X.ndim}-d array")
    shape = tuple(X.shape)
    return xp.reshape(X, (shape[0], math.prod(shape[1:]))), shape


def flatten_bwd(cache: Any, dY: Any, *, xp: ModuleType | None = None) -> Any:
    r"""Flatten backward: reshape ``dY`` back to the input shape.

    Parameters
    ----------
    cache : tuple of int
        The input shape, from :func:`flatten_fwd`.
    dY : array, shape (n, d1*d2*...)
        :math:`\partial L/\partial Y`.
    xp : module, optional
        Namespace; found from ``dY`` when omitted.

    Returns
    -------
    array
        ``dY`` reshaped to the input shape.
    """
    xp = array_namespace(dY) if xp is None else xp
    return xp.reshape(dY, cache)


#: Activation name -> (forward, backward).
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "relu": (relu_fwd, relu_bwd),
    "tanh": (tanh_fwd, tanh_bwd),
    "gelu": (gelu_fwd, gelu_bwd),
}


def get_activation(name: str) -> tuple[Callable, Callable]:
    """Return the ``(forward, backward)`` pair of activation ``name``.

    Parameters
    ----------
    name : str
        One of :data:`ACTIVATIONS`.

    Returns
    -------
    forward : callable
        The forward pass (:func:`relu_fwd`, ...).
    backward : callable
        Its backward pass (:func:`relu_bwd`, ...).

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`ACTIVATIONS`, naming the argument ``activation``.
    """
    return ACTIVATIONS[check_choice(name, "activation", sorted(ACTIVATIONS))]
