r"""A port of the golden kinds to JAX (float64), written from the fixtures' conventions.

An *example of a port*, checked against :mod:`rso_ref` by the golden fixtures and by
the differential check::

    rso-ref golden verify --port examples/ports/jax_port.py
    rso-ref golden check --port examples/ports/jax_port.py:rso_step --kind rso_step

Its functions are named after the fixture kinds (signatures in
``rso_ref/golden_fixtures/SCHEMA.md``), so the module is an argument of
:func:`rso_ref.golden.verify_all`:

``mlp``
    Batch-mean loss and gradients by ``jax.value_and_grad``.
``hvp``
    Exact Hessian-vector products, forward over reverse:
    :math:`\nabla^2 L(\theta)\, v = \frac{d}{dt} \nabla L(\theta + t v)\big|_{t=0}`
    (``jax.jvp`` of ``jax.grad``).
``rso_meta``, ``rso_step``
    Algorithm 1 of the RSO paper on the port's own ``jax.jit``-compiled oracle built
    from the stored batch ``X, y`` and model spec ``activation, loss`` (the NumPy
    ``value_and_grad`` handed to a port is ignored). The meta-objective
    :math:`f(w) = L(\theta - \eta \sum_i w_i d_i)` is itself a compiled JAX function and
    its gradient comes from ``jax.value_and_grad`` with respect to :math:`w`; by the
    chain rule that is the fixtures' :math:`\partial f/\partial w_i = -\eta \langle
    \nabla L(\theta'(w)), d_i \rangle`, so this port checks the formula rather than
    restating it.

There is no ``optim`` here (optax is not a dependency) and no ``lbfgs`` or ``eigen``:
a module is verified on the kinds it defines.

**64-bit mode.** JAX computes in float32 unless ``jax_enable_x64`` is on; importing
this module turns it on (``jax.config.update("jax_enable_x64", True)``) for the whole
process, because the fixtures are float64 and their tolerances (1e-10, 1e-8) are far
below float32 rounding. Import it before any JAX array is created.

Everything is JAX except one component: the meta-solve of ``rso_step`` is
:func:`rso_ref.lbfgs.minimize` run on JAX arrays. The fixtures pin that exact L-BFGS
with its strong-Wolfe line search (SCHEMA.md, "L-BFGS"); ``minimize`` is array-API
code and runs on JAX arrays unchanged. It drives the meta-solve from the host (the line
search branches on values of :math:`f`), calling the compiled :math:`f` once per trial.

Model and loss (SCHEMA.md, "MLP" and "Losses"): ``params = [W1, b1, ..., WL, bL]``,
dense layers :math:`Y = X W + b` with ``W`` of shape ``(fan_in, fan_out)``,
``relu``/``tanh``/exact ``gelu`` between layers and none on the logits;

.. math::

    L_{\mathrm{ce}} = -\frac1n \sum_i \log \mathrm{softmax}(z_i)_{y_i}, \qquad
    L_{\mathrm{mse}} = \frac{1}{2n} \sum_i \sum_j (z_{ij} - t_{ij})^2 .

References
----------
.. [1] "Recursive Subspace Optimization" (2025), Algorithm 1,
       https://fractalthoughtengine.com/portfolio/2025/06/30/recursive-subspace-paper.html
.. [2] B. A. Pearlmutter, "Fast exact multiplication by the Hessian", *Neural
       Computation* 6(1), 1994 (Hessian-vector products by forward-over-reverse).
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable, Sequence

import jax

jax.config.update("jax_enable_x64", True)  # before any array exists: the fixtures are float64

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from rso_ref.lbfgs import minimize  # noqa: E402
from rso_ref.rso import META_FTOL  # noqa: E402

__all__ = ["mlp", "hvp", "rso_meta", "rso_step"]

#: Activation name -> JAX function (exact GELU, x * Phi(x), not the tanh form).
ACTIVATIONS: dict[str, Callable] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "gelu": partial(jax.nn.gelu, approximate=False),
}

LOSSES = ("cross_entropy", "mse")

Groups = tuple  # tuple of tuples of parameter indices (hashable: a static jit argument)


def _array(x: Any, dtype: Any = jnp.float64) -> jax.Array:
    """A fresh JAX array of ``dtype`` holding ``x`` (read-only NumPy input is only read)."""
    return jnp.array(np.asarray(x), dtype=dtype)


def _batch(X: Any, y: Any, loss: str) -> tuple[jax.Array, jax.Array]:
    """``X`` as float64; labels as int64 for cross-entropy, float64 targets for MSE."""
    return _array(X), _array(y, jnp.int64 if loss == "cross_entropy" else jnp.float64)


def _check_spec(activation: str, loss: str) -> None:
    if activation not in ACTIVATIONS:
        raise NotImplementedError(f"activation {activation!r} is not ported to JAX")
    if loss not in LOSSES:
        raise NotImplementedError(f"loss {loss!r} is not ported to JAX")


def batch_loss(params: Sequence[jax.Array], X: jax.Array, y: jax.Array, activation: str,
               loss: str) -> jax.Array:
    r"""Batch-mean loss of the MLP ``params = [W1, b1, ..., WL, bL]`` on ``(X, y)``.

    :math:`H_l = \mathrm{act}(H_{l-1} W_l + b_l)` for hidden layers, logits
    :math:`z = H_{L-1} W_L + b_L`; cross-entropy with integer labels or
    :math:`\frac{1}{2n}\sum_{ij} (z_{ij} - t_{ij})^2`. ``activation`` and ``loss`` are
    checked by the callers (:class:`NotImplementedError` for names not ported).
    """
    act = ACTIVATIONS[activation]
    h = X
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]  # (n, fan_in) @ (fan_in, fan_out) + (fan_out,)
        if i + 2 < len(params):
            h = act(h)
    if loss == "cross_entropy":
        log_p = jax.nn.log_softmax(h, axis=1)
        return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))
    return 0.5 * jnp.sum((h - y) ** 2) / h.shape[0]  # half the sum over outputs, batch mean


_SPEC = ("activation", "loss")

#: (loss, grads) of the MLP, compiled once per shape and model spec.
_value_and_grad = jax.jit(jax.value_and_grad(batch_loss), static_argnames=_SPEC)


@partial(jax.jit, static_argnames=_SPEC)
def _hvp(params: list, X: jax.Array, y: jax.Array, v: list, activation: str,
         loss: str) -> list:
    grad = jax.grad(batch_loss)
    return jax.jvp(lambda p: grad(p, X, y, activation, loss), (params,), (v,))[1]


def _host(arrays: Sequence[jax.Array]) -> list[np.ndarray]:
    return [np.array(a) for a in arrays]


def mlp(params: Sequence[Any], X: Any, y: Any, *, activation: str, loss: str
        ) -> tuple[float, list[np.ndarray]]:
    """Batch-mean loss and its gradients (``mlp`` kind)."""
    _check_spec(activation, loss)
    value, grads = _value_and_grad([_array(p) for p in params], *_batch(X, y, loss),
                                   activation=activation, loss=loss)
    return float(value), _host(grads)


def hvp(params: Sequence[Any], X: Any, y: Any, v: Sequence[Any], *, activation: str,
        loss: str) -> list[np.ndarray]:
    r"""Exact :math:`\nabla^2 L(\theta)\, v`, ``jax.jvp`` of ``jax.grad`` (``hvp`` kind)."""
    _check_spec(activation, loss)
    return _host(_hvp([_array(p) for p in params], *_batch(X, y, loss),
                      [_array(vi) for vi in v], activation=activation, loss=loss))


# ----------------------------------------------------------------- RSO, Algorithm 1 ----

def directions(grads: Sequence[jax.Array], groups: Groups, normalize: bool) -> list:
    r"""Per-group directions: :math:`d_i = g_i`, or :math:`g_i / \|g_i\|_F` with
    ``normalize`` (norm over all arrays of the group; a zero group gives :math:`d_i = 0`).
    """
    out = list(grads)
    if normalize:
        for group in groups:
            norm = math.sqrt(sum(float(jnp.vdot(grads[j], grads[j])) for j in group))
            for j in group:
                out[j] = (1.0 / norm if norm > 0.0 else 0.0) * grads[j]
    return out


def _theta_prime(w: jax.Array, theta: list, d: list, lr: jax.Array, groups: Groups) -> list:
    r""":math:`\theta'(w) = \theta - \eta \sum_i w_i d_i` (arrays in no group unchanged)."""
    out = list(theta)
    for i, group in enumerate(groups):
        for j in group:
            out[j] = theta[j] - (lr * w[i]) * d[j]
    return out


@partial(jax.jit, static_argnames=("groups",) + _SPEC)
def _meta_value_and_grad(w: jax.Array, theta: list, d: list, lr: jax.Array, X: jax.Array,
                         y: jax.Array, groups: Groups, activation: str, loss: str
                         ) -> tuple[jax.Array, jax.Array]:
    """``(f(w), ∇f(w))``: ``jax.value_and_grad`` of ``w -> L(θ'(w))``."""
    return jax.value_and_grad(
        lambda u: batch_loss(_theta_prime(u, theta, d, lr, groups), X, y, activation, loss))(w)


def _setup(params: Sequence[Any], groups: Sequence[Sequence[int]], normalize: bool, lr: float,
           X: Any, y: Any, activation: str, loss: str) -> tuple:
    """Loss and directions at ``params`` and the meta-objective ``f(w) -> (float, ∇f)``."""
    _check_spec(activation, loss)
    theta, (X, y) = [_array(p) for p in params], _batch(X, y, loss)
    groups = tuple(tuple(int(j) for j in g) for g in groups)
    value, grads = _value_and_grad(theta, X, y, activation=activation, loss=loss)
    d = directions(grads, groups, normalize)
    eta = jnp.asarray(lr, dtype=jnp.float64)

    def f(w: jax.Array) -> tuple[float, jax.Array]:
        f_w, grad_w = _meta_value_and_grad(jnp.asarray(w, dtype=jnp.float64), theta, d, eta,
                                           X, y, groups=groups, activation=activation,
                                           loss=loss)
        return float(f_w), grad_w

    return float(value), theta, d, groups, f


def rso_meta(value_and_grad: Callable, params: Sequence[Any], w: Any, *, lr: float,
             groups: Sequence[Sequence[int]], normalize: bool, X: Any, y: Any,
             activation: str, loss: str) -> tuple[float, np.ndarray]:
    """``(f(w), ∇f(w))`` of the meta-objective, directions from the gradient at ``params``
    (``rso_meta`` kind); the NumPy ``value_and_grad`` is not used."""
    del value_and_grad
    f = _setup(params, groups, normalize, lr, X, y, activation, loss)[-1]
    value, grad_w = f(_array(w))
    return value, np.array(grad_w)


def _start(w0: Any, n_groups: int) -> jax.Array:
    """``"uniform"`` (and ``"previous"``, stateless here as in the reference port): 1/L;
    ``"ones"``: the gradient step; explicit weights as given."""
    if isinstance(w0, str):
        if w0 == "ones":
            return jnp.ones(n_groups, dtype=jnp.float64)
        if w0 in ("uniform", "previous"):
            return jnp.full(n_groups, 1.0 / n_groups, dtype=jnp.float64)
        raise ValueError(f"w0 must be 'uniform', 'ones', 'previous' or weights, got {w0!r}")
    return _array(w0)


def no_progress_left(intermediate_result) -> None:
    r"""The meta-solve's early stop, as in :func:`rso_ref.rso_step`: after an iteration
    that decreased :math:`f` by no more than ``META_FTOL`` :math:`\cdot |f|`
    (:math:`4\epsilon`, rounding level), the remaining iterations could not make progress.

    Passed as ``callback`` to :func:`rso_ref.lbfgs.minimize` (raising
    :class:`StopIteration` stops the run, SciPy's rule).
    """
    f = float(intermediate_result.fun)
    if intermediate_result.step.f_prev - f <= META_FTOL * abs(f):
        raise StopIteration


def rso_step(value_and_grad: Callable, params: Sequence[Any], *, lr: float,
             groups: Sequence[Sequence[int]], meta_iters: int, w0: Any, normalize: bool,
             safeguard: bool, m: int, c1: float, c2: float, maxls: int, X: Any, y: Any,
             activation: str, loss: str) -> dict:
    r"""One RSO step (Algorithm 1) on the port's compiled JAX oracle (``rso_step`` kind).

    :math:`K` = ``meta_iters`` L-BFGS iterations on :math:`f(w)` from :math:`w_0` with
    ``gtol = ftol = 0``, at most :math:`K(\text{maxls} + 1) + 1` evaluations and the
    rounding-level stop of :func:`no_progress_left` (``K = 0``: :math:`w_0` as is, one evaluation); with ``safeguard`` the gradient step
    :math:`w = \mathbf 1` replaces the result when its loss is strictly lower (not
    evaluated when ``w0 = "ones"``). ``nfev`` counts every evaluation of :math:`f`.

    Returns
    -------
    dict
        ``params``, ``w``, ``loss_before``, ``loss_after``, ``nfev``, ``nit``,
        ``safeguarded``.
    """
    del value_and_grad
    loss_before, theta, d, groups, objective = _setup(params, groups, normalize, lr, X, y,
                                                      activation, loss)
    nfev = 0

    def f(w: jax.Array) -> tuple[float, jax.Array]:
        nonlocal nfev
        nfev += 1
        return objective(w)

    w = _start(w0, len(groups))
    if meta_iters == 0:
        f_w, nit = f(w)[0], 0
    else:
        res = minimize(f, w, m=m, gtol=0.0, ftol=0.0, maxiter=meta_iters,
                       maxfun=meta_iters * (maxls + 1) + 1, maxls=maxls, c1=c1, c2=c2,
                       callback=no_progress_left)
        w, f_w, nit = res.x, float(res.fun), int(res.nit)
    safeguarded = False
    if safeguard and not (isinstance(w0, str) and w0 == "ones"):
        ones = jnp.ones(len(groups), dtype=jnp.float64)
        f_ones = f(ones)[0]
        if f_ones < f_w:
            w, f_w, safeguarded = ones, f_ones, True
    new = _theta_prime(w, theta, d, jnp.asarray(lr, dtype=jnp.float64), groups)
    return {"params": _host(new), "w": np.array(w), "loss_before": loss_before,
            "loss_after": f_w, "nfev": nfev, "nit": nit, "safeguarded": safeguarded}
