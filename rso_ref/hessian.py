r"""Curvature of a loss: Hessian-vector products, their Gauss–Newton split, and metrics.

Products (parameter trees in, parameter trees out):

* :func:`hvp` — exact :math:`H v` of a scalar loss written in array-API calls, by
  the autodiff of the arrays' backend (forward-over-reverse by default): autograd on
  NumPy, ``torch.func`` on torch, ``jax.jvp`` of ``jax.grad`` on JAX.
* :func:`fd_hvp` — central difference of two gradients, for any gradient oracle on
  any backend; the product to use on array_api_strict and CuPy, which have no autodiff
  (:func:`rso_ref.autodiff.has_exact_derivatives` tells which applies).
* :func:`ggn_vp` and :func:`functional_hvp` — the two terms of the Gauss–Newton
  decomposition of the Hessian of a loss :math:`\ell(z(\theta))` on model outputs
  :math:`z` (softmax cross-entropy or MSE): :math:`H = G + F` [1]_, [2]_.

Metrics on a flat symmetric operator (see :func:`as_matvec`):

* :func:`sharpness` — the largest Hessian eigenvalue :math:`\lambda_1`;
* :func:`dominant_alignment` — :math:`\chi = \|P g\| / \|g\|` for the projector
  :math:`P` on the top-``k`` eigenvectors (the "dominant subspace" [3]_);
* :func:`subspace_energy_share` — :math:`\|P M P\|_F^2 / \|M\|_F^2`, the share of a
  curvature matrix's Frobenius energy inside the dominant subspace [4]_.

Eigenpairs come from :func:`rso_ref.lanczos.top_eigenpairs`.

This module is on the device path and imports no array or autodiff library: the exact
products (:func:`hvp`, :func:`ggn_vp`, :func:`functional_hvp`) load the host module
:mod:`rso_ref.autodiff` (autograd, and torch or JAX when their arrays arrive) when first
called, so ``import rso_ref.hessian`` (and :mod:`rso_ref.optim`, which uses
:func:`as_matvec`) does not.

References
----------
.. [1] N. N. Schraudolph, "Fast curvature matrix-vector products for second-order
   gradient descent", Neural Computation 14(7), 1723-1738 (2002).
   https://doi.org/10.1162/08997660260028683
.. [2] S. P. Singh, G. Bachmann and T. Hofmann, "Analytic insights into structure and
   rank of neural network Hessian maps", NeurIPS (2021). https://arxiv.org/abs/2106.16225
.. [3] G. Gur-Ari, D. A. Roberts and E. Dyer, "Gradient descent happens in a tiny
   subspace" (2018). https://arxiv.org/abs/1812.04754
.. [4] M. Song, K. Ahn and C. Yun, "Does SGD really happen in tiny subspaces?" (2024).
   https://arxiv.org/abs/2405.16002
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Sequence

from . import backend, tree
from .lanczos import top_eigenpairs
from .validation import (NonFiniteError, check_callable, check_choice, check_int,
                         check_positive)

__all__ = [
    "hvp",
    "fd_hvp",
    "ggn_vp",
    "functional_hvp",
    "output_grad",
    "output_hvp",
    "as_matvec",
    "sharpness",
    "dominant_alignment",
    "subspace_energy_share",
    "LOSSES",
]

#: Output losses whose derivatives in the logits/outputs ``z`` are known in closed form.
LOSSES = ("cross_entropy", "mse")


def _check_pair(params: Sequence, v: Sequence) -> None:
    if not isinstance(params, (list, tuple)) or not params:
        raise TypeError(f"params must be a non-empty list of arrays, got {type(params).__name__}")
    if not isinstance(v, (list, tuple)):
        raise TypeError(f"v must be a list of arrays like params, got {type(v).__name__}")
    tree.check_like(v, params, "v", "params")


def hvp(loss_fn: Callable[..., Any], params: Sequence, v: Sequence, *args: Any,
        mode: str = "forward-over-reverse") -> list:
    r"""Exact Hessian-vector product :math:`\nabla^2 L(\theta)\, v` by the arrays' autodiff.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params, *args, xp=...) -> scalar`` written with array-API calls on
        ``xp`` (the models' ``loss`` is); it is traced with the ``xp`` of the backend's
        autodiff: ``rso_ref.autodiff.namespace()`` (autograd) for NumPy arrays, the
        array-API namespace of torch under ``torch.func``, ``jax.numpy`` under JAX.
    params : list of arrays
        The point :math:`\theta`: NumPy, torch or JAX arrays.
    v : list of arrays
        Direction, shaped like ``params``, of the same backend and device.
    *args
        Passed to ``loss_fn`` unchanged (e.g. ``X, y``, on the device of ``params``).
    mode : {"forward-over-reverse", "reverse-over-reverse"}
        Forward-mode derivative of the gradient (cheaper: about 2x a gradient on an
        MLP) or reverse-mode gradient of :math:`\langle \nabla L, v\rangle` [5]_.

    Returns
    -------
    list of arrays
        :math:`H v`, shaped like ``params``, on their backend and device (torch
        tensors detached).

    Raises
    ------
    TypeError
        If the arrays are not lists, or belong to a backend without autodiff here
        (array_api_strict, CuPy: use :func:`fd_hvp` with a gradient oracle).
    ValueError
        If ``v`` does not match ``params`` or ``mode`` is unknown.

    Notes
    -----
    .. math::

        H v = \frac{d}{dt}\nabla L(\theta + t v)\Big|_{t=0}
            = \nabla_\theta \langle \nabla L(\theta), v\rangle .

    On torch the forward-over-reverse product is ``torch.func.jvp`` of
    ``torch.func.grad``, on JAX ``jax.jvp`` of ``jax.grad``: no graph outlives the call.
    On JAX a loss that comes back (a model's bound ``loss``, as Lanczos calls it) is
    compiled by ``jax.jit`` from its second call (:func:`rso_ref.autodiff.hvp`).

    References
    ----------
    .. [5] B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural
       Computation 6(1), 147-160 (1994). https://doi.org/10.1162/neco.1994.6.1.147
    """
    from . import autodiff  # a host module (autodiff libraries): loaded on the first exact HVP

    check_callable(loss_fn, "loss_fn")
    _check_pair(params, v)
    return autodiff.hvp(loss_fn, params, v, *args, mode=mode)


def fd_hvp(value_and_grad: Callable[[list], tuple[Any, list]], params: Sequence, v: Sequence, *,
           eps: float | None = None) -> list:
    r"""Hessian-vector product by a central difference of gradients (any backend).

    Parameters
    ----------
    value_and_grad : callable
        ``value_and_grad(params) -> (loss, grads)`` with ``grads`` shaped like ``params``.
    params, v : list of arrays
        The point and the direction, from one namespace.
    eps : float, optional
        Step :math:`\varepsilon` along ``v``; default as in Notes.

    Returns
    -------
    list of arrays
        The approximation of :math:`H v` (zeros when ``v`` is zero).

    Raises
    ------
    ValueError
        If ``v`` does not match ``params`` or ``eps`` is not positive and finite.

    Notes
    -----
    .. math::

        H v \approx \frac{g(\theta + \varepsilon v) - g(\theta - \varepsilon v)}{2\varepsilon},
        \qquad
        \varepsilon = u^{1/3}\,\frac{1 + \|\theta\|}{\|v\|},

    with :math:`u` the unit round-off of the dtype. The truncation error is
    :math:`\tfrac{\varepsilon^2}{6}\,\nabla^3 L[v, v, \cdot\,] = O(\varepsilon^2)`;
    rounding in the gradients adds :math:`O(u\,\|g\| / \varepsilon)`. The step
    :math:`\delta = \varepsilon\|v\|` taken in parameter space balances the two at
    :math:`\delta \propto u^{1/3}` (Nocedal and Wright, *Numerical Optimization*,
    2nd ed., §8.1), scaled by :math:`1 + \|\theta\|` so that it is
    relative for large parameters and absolute near zero. In float64
    :math:`\delta \approx 6\cdot 10^{-6}\,(1 + \|\theta\|)`, for a relative error
    of about :math:`10^{-10}` on a smooth model.

    .. warning::

        The step assumes a smooth loss. Piecewise-linear activations (ReLU) have kinks
        that a step of :math:`\delta \approx 5\cdot 10^{-3}\,(1 + \|\theta\|)`
        (float32) crosses: on a 6-16-3 MLP and 16 samples the float32 product of the
        ReLU network was off by 5x its norm (tanh: :math:`5\cdot 10^{-5}`; float64:
        :math:`10^{-10}` for both). Use float64, or an exact :func:`hvp` (NumPy, torch,
        JAX), for curvature of ReLU networks; Lanczos on such a float32 product stops
        with its asymmetry error.
    """
    check_callable(value_and_grad, "value_and_grad")
    tree.check_like(v, params, "v", "params")
    xp = backend.array_namespace(params, v, names=["params", "v"])
    v_norm = tree.norm(v)
    if v_norm == 0.0:
        return tree.zeros_like(params)
    if eps is None:
        unit = float(xp.finfo(params[0].dtype).eps)
        eps = unit ** (1.0 / 3.0) * (1.0 + tree.norm(params)) / v_norm
    else:
        eps = check_positive(eps, "eps")
    _, g_plus = value_and_grad(tree.axpy(eps, v, params))
    _, g_minus = value_and_grad(tree.axpy(-eps, v, params))
    return tree.scale(tree.sub(g_plus, g_minus), 1.0 / (2.0 * eps))


def _softmax(z: Any, xp: ModuleType) -> Any:
    e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


def output_grad(z: Any, y: Any, loss: str) -> Any:
    r"""Gradient :math:`\partial \ell / \partial z` of a batch-mean loss on outputs ``z``.

    Cross-entropy (integer labels ``y``): :math:`(p_i - e_{y_i}) / n` with
    :math:`p_i = \operatorname{softmax}(z_i)`. MSE (targets ``y`` shaped like ``z``, or
    integer labels taken as one-hot rows),
    :math:`\ell = \frac{1}{2n}\sum_i \|z_i - y_i\|^2`: :math:`(z_i - y_i) / n`.
    These are the conventions of :mod:`rso_ref.nn.losses`.

    Parameters
    ----------
    z : array, shape (n, C)
        Model outputs (logits for cross-entropy).
    y : array
        Integer labels ``(n,)``, or targets ``(n, C)`` for MSE.
    loss : {"cross_entropy", "mse"}
        The batch-mean loss.

    Returns
    -------
    array, shape (n, C)
        :math:`\partial \ell / \partial z`.
    """
    check_choice(loss, "loss", LOSSES)
    xp = backend.array_namespace(z)
    n = z.shape[0]
    if loss == "mse" and not xp.isdtype(y.dtype, "integral"):
        return (z - y) / n
    onehot = backend.one_hot(y, z.shape[1], dtype=z.dtype, xp=xp)
    if loss == "mse":
        return (z - onehot) / n
    return (_softmax(z, xp) - onehot) / n


def output_hvp(z: Any, y: Any, w: Any, loss: str) -> Any:
    r"""Product of the output Hessian :math:`\nabla_z^2 \ell` with ``w`` (shaped like ``z``).

    Cross-entropy: :math:`(\operatorname{diag}(p_i) - p_i p_i^T)\, w_i / n` per sample
    (positive semidefinite, so the GGN is too). MSE: :math:`w_i / n`.

    Parameters
    ----------
    z : array, shape (n, C)
        Model outputs.
    y : array
        Integer labels ``(n,)``, or targets ``(n, C)`` for MSE.
    w : array, shape (n, C)
        The vector to multiply.
    loss : {"cross_entropy", "mse"}
        The batch-mean loss.

    Returns
    -------
    array, shape (n, C)
        :math:`(\nabla_z^2 \ell)\, w`.
    """
    check_choice(loss, "loss", LOSSES)
    xp = backend.array_namespace(z, w)
    n = z.shape[0]
    if loss == "mse":
        return w / n
    p = _softmax(z, xp)
    return (p * w - p * xp.sum(p * w, axis=1, keepdims=True)) / n


def ggn_vp(forward: Callable[..., Any], params: Sequence, v: Sequence, X: Any, y: Any, *,
           loss: str = "cross_entropy") -> list:
    r"""Generalised Gauss–Newton product :math:`G v = J^T (\nabla_z^2 \ell)\, J v`.

    Parameters
    ----------
    forward : callable
        ``forward(params, X, xp=...) -> z`` of shape ``(n, C)`` (logits or outputs),
        written with array-API calls; traced by the arrays' autodiff as in :func:`hvp`.
    params, v : list of arrays
        Point and direction: NumPy, torch or JAX arrays.
    X : array
        Inputs of the batch (same backend and device).
    y : array
        Integer labels ``(n,)`` (cross-entropy) or targets ``(n, C)`` (MSE).
    loss : {"cross_entropy", "mse"}
        Batch-mean loss on ``z`` (see :func:`output_grad` for the conventions).

    Returns
    -------
    list of arrays
        :math:`G v`, on the backend and device of ``params``.

    Notes
    -----
    With :math:`J = \partial z / \partial\theta` (all samples stacked), the Hessian of
    :math:`L(\theta) = \ell(z(\theta))` splits as [1]_, [2]_

    .. math::

        H = \underbrace{J^T \nabla_z^2 \ell\, J}_{G}
          + \underbrace{\textstyle\sum_{i,c} \frac{\partial \ell}{\partial z_{ic}}
            \nabla_\theta^2 z_{ic}}_{F}.

    :math:`J v` is one forward-mode pass, :math:`J^T u` one reverse-mode pass.

    References
    ----------
    .. [1] N. N. Schraudolph, "Fast curvature matrix-vector products for second-order
       gradient descent", Neural Computation 14(7), 1723-1738 (2002).
       https://doi.org/10.1162/08997660260028683
    .. [2] S. P. Singh, G. Bachmann and T. Hofmann, "Analytic insights into structure and
       rank of neural network Hessian maps", NeurIPS (2021).
       https://arxiv.org/abs/2106.16225
    """
    from . import autodiff  # a host module, as in hvp

    check_callable(forward, "forward")
    check_choice(loss, "loss", LOSSES)
    _check_pair(params, v)
    z, pullback = autodiff.vjp(lambda p, *, xp: forward(p, X, xp=xp), params)
    _, jv = autodiff.jvp(lambda p, *, xp: forward(p, X, xp=xp), params, v)
    return pullback(output_hvp(z, y, jv, loss))


def functional_hvp(forward: Callable[..., Any], params: Sequence, v: Sequence, X: Any, y: Any, *,
                   loss: str = "cross_entropy") -> list:
    r"""Functional-Hessian product, the second term of the Gauss–Newton split.

    .. math::

        F v = \sum_{i,c} \frac{\partial\ell}{\partial z_{ic}}\, \nabla_\theta^2 z_{ic}\, v,

    computed as the exact Hessian-vector product of
    :math:`\theta \mapsto \langle c, z(\theta)\rangle` with the output gradient
    :math:`c = \partial\ell/\partial z` frozen at the current point, so that
    ``ggn_vp + functional_hvp`` equals :func:`hvp` of the loss to rounding.

    Parameters
    ----------
    forward : callable
        ``forward(params, X, xp=...) -> z`` of shape ``(n, C)``, as in :func:`ggn_vp`.
    params, v : list of arrays
        Point and direction: NumPy, torch or JAX arrays.
    X : array
        Inputs of the batch.
    y : array
        Integer labels ``(n,)`` (cross-entropy) or targets ``(n, C)`` (MSE).
    loss : {"cross_entropy", "mse"}
        Batch-mean loss on ``z``.

    Returns
    -------
    list of arrays
        :math:`F v`, on the backend and device of ``params``.
    """
    check_callable(forward, "forward")
    check_choice(loss, "loss", LOSSES)
    _check_pair(params, v)
    c = output_grad(forward(list(params), X, xp=backend.array_namespace(*params, X)), y, loss)
    return hvp(lambda p, *, xp: xp.sum(c * forward(p, X, xp=xp)), params, v)


def as_matvec(product: Callable[[list], list], like: Sequence, *,
              name: str = "product") -> Callable[[Any], Any]:
    """Turn a product on parameter trees into one on flat vectors (for Lanczos).

    Every output of ``product`` is checked to be a list of arrays shaped like ``like``
    (Python structure only, no device sync), and the first one to be finite (one
    reduction per operator, not per product): a NaN or a wrong type would otherwise
    surface deep inside the eigensolver.

    Parameters
    ----------
    product : callable
        ``product(v_tree) -> tree``, e.g. a Hessian-vector product.
    like : list of arrays
        The parameter tree whose shapes the flat vectors follow.
    name : str, default "product"
        How error messages name ``product`` (e.g. ``"hvp_fn(params, v)"``).

    Returns
    -------
    callable
        ``matvec(v)``: a 1-D array of length ``sum(p.size for p in like)`` to
        ``flatten(product(unflatten(v, like)))``.

    Raises
    ------
    TypeError
        If ``product`` is not callable; when called, if ``product`` returns something
        other than a list of arrays.
    ValueError
        When called, if ``product`` returns arrays not shaped like ``like``.
    rso_ref.validation.NonFiniteError
        When called, if the first output of ``product`` holds NaN or inf.
    """
    check_callable(product, "product")
    like = list(like)
    checked_finite = False

    def matvec(vector: Any) -> Any:
        nonlocal checked_finite
        out = product(tree.unflatten(vector, like))
        tree.check_params(out, f"the output of {name}")
        tree.check_like(out, like, f"the output of {name}", "params")
        if not checked_finite:
            if not tree.all_finite(out):
                raise NonFiniteError(f"{name} returned NaN or inf entries")
            checked_finite = True
        return tree.flatten(out)

    return matvec


def sharpness(matvec: Callable[[Any], Any], dim: int, *, tol: float = 1e-8, seed: int = 0,
              xp: ModuleType | None = None, dtype: Any = None) -> float:
    r"""The largest eigenvalue :math:`\lambda_1` of a symmetric operator (the sharpness).

    .. math::

        \lambda_1 = \max_{\|v\| = 1} v^\top A v,

    by Lanczos (:func:`rso_ref.lanczos.top_eigenpairs` with ``k = 1``).

    Parameters
    ----------
    matvec : callable
        ``matvec(v) -> A v`` on 1-D arrays of shape ``(dim,)``.
    dim : int
        Operator dimension.
    tol : float, default 1e-8
        Lanczos tolerance.
    seed : int, default 0
        Seed of the start vector.
    xp : module, optional
        Namespace of the vectors (default NumPy).
    dtype : dtype, optional
        Their dtype (default float64).

    Returns
    -------
    float
        :math:`\lambda_1`.

    Raises
    ------
    RuntimeError
        If Lanczos does not converge.
    """
    res = top_eigenpairs(matvec, dim, 1, tol=tol, seed=seed, xp=xp, dtype=dtype)
    if not res.converged:
        raise RuntimeError(f"Lanczos did not converge after {res.n_matvec} products")
    return float(res.eigenvalues[0])


def _check_basis(eigvecs: Any, dim: int | None = None) -> int:
    if getattr(eigvecs, "ndim", None) != 2:
        raise ValueError(
            f"eigvecs must be a (dim, k) array, got shape {getattr(eigvecs, 'shape', None)}"
        )
    if dim is not None and eigvecs.shape[0] != dim:
        raise ValueError(f"eigvecs has {eigvecs.shape[0]} rows but the vector has {dim} entries")
    return eigvecs.shape[0]


def dominant_alignment(g: Any, eigvecs: Any) -> float:
    r"""Share :math:`\chi = \|P g\| / \|g\|` of a gradient inside a subspace.

    Parameters
    ----------
    g : array, shape (dim,)
        Flat gradient (``tree.flatten(grads)``).
    eigvecs : array, shape (dim, k)
        Orthonormal columns :math:`U` spanning the subspace; :math:`P = U U^T`.

    Returns
    -------
    float
        :math:`\chi = \|U^T g\| / \|g\| \in [0, 1]`.

    Raises
    ------
    ValueError
        If the shapes disagree or ``g`` is zero.
    """
    xp = backend.array_namespace(g, eigvecs)
    if getattr(g, "ndim", None) != 1:
        raise ValueError(f"g must be a 1-D array, got shape {getattr(g, 'shape', None)}")
    _check_basis(eigvecs, g.shape[0])
    g_norm = float(xp.linalg.vector_norm(g))
    if g_norm == 0.0:
        raise ValueError("g is zero: the alignment is undefined")
    return float(xp.linalg.vector_norm(xp.matmul(g, eigvecs))) / g_norm


def subspace_energy_share(matvec: Callable[[Any], Any], eigvecs: Any, *,
                          n_samples: int | None = None, seed: int = 0) -> float:
    r"""Share of a symmetric matrix's Frobenius energy inside a subspace.

    Parameters
    ----------
    matvec : callable
        ``matvec(v) -> M v`` on flat vectors (e.g. :func:`as_matvec` of
        :func:`ggn_vp` or :func:`functional_hvp`).
    eigvecs : array, shape (dim, k)
        Orthonormal columns :math:`U`, :math:`P = U U^T` (typically the top-``k``
        Hessian eigenvectors).
    n_samples : int, optional
        ``None``: :math:`\|M\|_F^2` exactly, from ``dim`` products with the unit vectors.
        Otherwise Hutchinson's estimate :math:`\|M\|_F^2 \approx \frac{1}{s}\sum_{i}
        \|M z_i\|^2` with ``n_samples`` Rademacher vectors (unbiased).
    seed : int, default 0
        Seed of the Rademacher draws.

    Returns
    -------
    float
        :math:`\|P M P\|_F^2 / \|M\|_F^2 = \|U^T M U\|_F^2 / \|M\|_F^2`, in
        :math:`[0, 1]` when the denominator is exact.

    Notes
    -----
    The Frobenius norm is used rather than the trace share
    :math:`\operatorname{tr}(P M)/\operatorname{tr}(M)` because the functional Hessian is
    indefinite with a trace near zero, which makes the trace share unbounded. The
    numerator costs ``k`` products.
    """
    check_callable(matvec, "matvec")
    xp = backend.array_namespace(eigvecs)
    dim = _check_basis(eigvecs)
    if n_samples is not None:
        n_samples = check_int(n_samples, "n_samples", minimum=1)
    k = eigvecs.shape[1]
    MU = xp.stack([matvec(eigvecs[:, i]) for i in range(k)], axis=1)
    inside = float(xp.sum(xp.matmul(xp.matrix_transpose(eigvecs), MU) ** 2))
    if n_samples is None:
        total = 0.0
        for i in range(dim):
            # on the device of eigvecs, one at a time; a functional update (immutable JAX)
            unit = backend.put(xp.zeros_like(eigvecs[:, 0]), i, 1.0)
            total += float(xp.sum(matvec(unit) ** 2))
    else:
        gen = backend.rng(seed)
        total = 0.0
        for _ in range(n_samples):
            signs = gen.choice([-1.0, 1.0], size=dim)
            z = backend.asarray(signs, like=eigvecs, dtype=eigvecs.dtype)
            total += float(xp.sum(matvec(z) ** 2)) / n_samples
    if total == 0.0:
        raise ValueError("matvec is the zero operator: the energy share is undefined")
    return inside / total
