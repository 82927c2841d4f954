r"""A port of the golden kinds to PyTorch (float64), written from the fixtures' conventions.

This module is an *example of a port*: everything a port of RSO to another framework
has to get right, written in torch and checked against :mod:`rso_ref` by the golden
fixtures and by the differential check::

    rso-ref golden verify --port examples/ports/torch_port.py
    rso-ref golden check --port examples/ports/torch_port.py:rso_step --kind rso_step

Its functions are named after the fixture kinds (signatures in
``rso_ref/golden_fixtures/SCHEMA.md``), so the module itself is an argument of
:func:`rso_ref.golden.verify_all`:

``mlp``
    Batch-mean loss and gradients of the MLP by ``torch.autograd``.
``hvp``
    Exact Hessian-vector products by double backward, :math:`\nabla_\theta \langle
    \nabla L(\theta), v \rangle`.
``rso_meta``, ``rso_step``
    Algorithm 1 of the RSO paper on the port's *own* torch oracle, built from the stored
    batch ``X, y`` and model spec ``activation, loss`` (the NumPy ``value_and_grad``
    handed to a port is ignored).
``optim``
    ``torch.optim.SGD``, ``Adam``, ``AdamW`` and ``RMSprop`` fed the stored gradients;
    LAMB, LARS and Muon have no ``torch.optim`` class and raise
    :class:`NotImplementedError` (reported as SKIP).

Everything is torch except one component: the meta-solve of ``rso_step`` is
:func:`rso_ref.lbfgs.minimize` run on torch tensors. The fixtures pin that exact
L-BFGS with its strong-Wolfe line search (SCHEMA.md, "L-BFGS"); ``torch.optim.LBFGS``
takes another first trial step and other stopping tests, so after K iterations its ``w``
is a different point (``examples/07_verifying_a_port.py`` shows by how much), far outside
the kind's 1e-8. ``minimize`` is array-API code, so it runs on the port's tensors
unchanged.

Model and loss (SCHEMA.md, "MLP" and "Losses"): ``params = [W1, b1, ..., WL, bL]``,
dense layers :math:`Y = X W + b` with ``W`` of shape ``(fan_in, fan_out)`` (the
transpose of ``nn.Linear.weight``), ``relu``/``tanh``/exact ``gelu`` between layers and
none on the logits;

.. math::

    L_{\mathrm{ce}} = -\frac1n \sum_i \log \mathrm{softmax}(z_i)_{y_i}, \qquad
    L_{\mathrm{mse}} = \frac{1}{2n} \sum_i \sum_j (z_{ij} - t_{ij})^2 .

Inputs arrive as read-only NumPy arrays (or as tensors of another backend when verified
with ``like=``); they are copied into fresh float64 tensors and never written. The
global default dtype of torch is left alone: every tensor is made float64 explicitly.

References
----------
.. [1] "Recursive Subspace Optimization" (2025), Algorithm 1,
       https://fractalthoughtengine.com/portfolio/2025/06/30/recursive-subspace-paper.html
.. [2] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006,
       Algorithm 7.5 (L-BFGS) and Algorithms 3.5-3.6 (strong-Wolfe line search).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from rso_ref.lbfgs import minimize
from rso_ref.rso import META_FTOL

__all__ = ["mlp", "hvp", "rso_meta", "rso_step", "optim"]

F64 = torch.float64

#: Activation name -> torch function (exact GELU, x * Phi(x), not the tanh form).
ACTIVATIONS: dict[str, Callable] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "gelu": lambda z: F.gelu(z, approximate="none"),
}

#: Optimizer name of the ``optim`` fixtures -> torch.optim class (same hyperparameter names).
OPTIMIZERS: dict[str, type] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
}

Oracle = Callable[[list], tuple]


def _tensor(x: Any, dtype: torch.dtype = F64) -> torch.Tensor:
    """A fresh tensor of ``dtype`` holding ``x`` (NumPy array, tensor or anything with
    ``__array__``); never a view of the caller's (possibly read-only) memory."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(dtype=dtype, device="cpu", copy=True)
    return torch.tensor(np.asarray(x), dtype=dtype)


def _targets(y: Any, loss: str) -> torch.Tensor:
    """Class labels as int64 for cross-entropy, float64 targets for MSE."""
    return _tensor(y, torch.int64 if loss == "cross_entropy" else F64)


def _host(tensors: Sequence[torch.Tensor]) -> list[np.ndarray]:
    return [t.detach().numpy().copy() for t in tensors]


def batch_loss(params: Sequence[torch.Tensor], X: torch.Tensor, y: torch.Tensor, *,
               activation: str, loss: str) -> torch.Tensor:
    r"""Batch-mean loss of the MLP ``params = [W1, b1, ..., WL, bL]`` on ``(X, y)``.

    :math:`H_l = \mathrm{act}(H_{l-1} W_l + b_l)` for hidden layers, logits
    :math:`z = H_{L-1} W_L + b_L`; cross-entropy with integer labels or
    :math:`\frac{1}{2n}\sum_{ij} (z_{ij} - t_{ij})^2`.

    Raises
    ------
    NotImplementedError
        For an activation or loss this port does not have.
    """
    if activation not in ACTIVATIONS:
        raise NotImplementedError(f"activation {activation!r} is not ported to torch")
    act = ACTIVATIONS[activation]
    h = X
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]  # (n, fan_in) @ (fan_in, fan_out) + (fan_out,)
        if i + 2 < len(params):
            h = act(h)
    if loss == "cross_entropy":
        return F.cross_entropy(h, y)  # mean over the batch of -log softmax(z_i)[y_i]
    if loss == "mse":
        return 0.5 * torch.sum((h - y) ** 2) / h.shape[0]  # half the sum over outputs
    raise NotImplementedError(f"loss {loss!r} is not ported to torch")


def _leaves(params: Sequence[Any]) -> list[torch.Tensor]:
    return [_tensor(p).requires_grad_(True) for p in params]


def model_oracle(X: Any, y: Any, *, activation: str, loss: str) -> Oracle:
    """``value_and_grad(params) -> (float, list of float64 tensors)`` of the MLP on the
    batch ``(X, y)``, gradients by ``torch.autograd``."""
    X, y = _tensor(X), _targets(y, loss)

    def value_and_grad(params: Sequence[torch.Tensor]) -> tuple[float, list]:
        leaves = [p.detach().requires_grad_(True) for p in params]
        value = batch_loss(leaves, X, y, activation=activation, loss=loss)
        return float(value.detach()), list(torch.autograd.grad(value, leaves))

    return value_and_grad


def mlp(params: Sequence[Any], X: Any, y: Any, *, activation: str, loss: str
        ) -> tuple[float, list[np.ndarray]]:
    """Batch-mean loss and its gradients (``mlp`` kind)."""
    value, grads = model_oracle(X, y, activation=activation, loss=loss)(
        [_tensor(p) for p in params])
    return value, _host(grads)


def hvp(params: Sequence[Any], X: Any, y: Any, v: Sequence[Any], *, activation: str,
        loss: str) -> list[np.ndarray]:
    r"""Exact :math:`\nabla^2 L(\theta)\, v` by double backward (``hvp`` kind)."""
    leaves = _leaves(params)
    value = batch_loss(leaves, _tensor(X), _targets(y, loss), activation=activation,
                       loss=loss)
    grads = torch.autograd.grad(value, leaves, create_graph=True)
    dot = sum(torch.sum(g * _tensor(vi)) for g, vi in zip(grads, v))
    return _host(torch.autograd.grad(dot, leaves))


# ----------------------------------------------------------------- RSO, Algorithm 1 ----

def directions(grads: Sequence[torch.Tensor], groups: Sequence[Sequence[int]],
               normalize: bool) -> list[torch.Tensor]:
    r"""Per-group directions: :math:`d_i = g_i`, or :math:`g_i / \|g_i\|_F` with
    ``normalize`` (the Frobenius norm over all arrays of the group; a zero group gives
    :math:`d_i = 0`). Arrays in no group keep their gradient (never used)."""
    out = list(grads)
    if not normalize:
        return out
    for group in groups:
        norm = math.sqrt(sum(float(torch.sum(grads[j] * grads[j])) for j in group))
        factor = 1.0 / norm if norm > 0.0 else 0.0
        for j in group:
            out[j] = factor * grads[j]
    return out


def moved(theta: Sequence[torch.Tensor], d: Sequence[torch.Tensor],
          groups: Sequence[Sequence[int]], lr: float, w: Any) -> list[torch.Tensor]:
    r""":math:`\theta'(w) = \theta - \eta \sum_i w_i d_i` (arrays in no group unchanged)."""
    out = list(theta)
    for group, wi in zip(groups, w):
        step = lr * float(wi)
        for j in group:
            out[j] = theta[j] - step * d[j]
    return out


def meta_objective(oracle: Oracle, theta: Sequence[torch.Tensor],
                   d: Sequence[torch.Tensor], groups: Sequence[Sequence[int]], lr: float
                   ) -> Callable[[Any], tuple[float, torch.Tensor]]:
    r"""``f(w) -> (f, ∇f)`` with :math:`f(w) = L(\theta'(w))` and
    :math:`\partial f / \partial w_i = -\eta \langle \nabla L(\theta'(w)), d_i \rangle`
    summed over the arrays of group :math:`i`; one oracle call per evaluation."""

    def f(w: Any) -> tuple[float, torch.Tensor]:
        value, grads = oracle(moved(theta, d, groups, lr, w))
        dots = [sum(float(torch.sum(grads[j] * d[j])) for j in group) for group in groups]
        return value, -lr * torch.tensor(dots, dtype=F64)

    return f


def initial_weights(w0: Any, n_groups: int) -> torch.Tensor:
    """``"uniform"``: 1/L each; ``"ones"``: the gradient step; explicit weights as given.

    ``"previous"`` (a warm start from the last step's weights) is uniform here: the port
    is called once per step and keeps no state between calls, exactly like the
    reference port of the fixtures.
    """
    if isinstance(w0, str):
        if w0 == "ones":
            return torch.ones(n_groups, dtype=F64)
        if w0 in ("uniform", "previous"):
            return torch.full((n_groups,), 1.0 / n_groups, dtype=F64)
        raise ValueError(f"w0 must be 'uniform', 'ones', 'previous' or weights, got {w0!r}")
    return _tensor(w0)


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


def rso_meta(value_and_grad: Oracle, params: Sequence[Any], w: Any, *, lr: float,
             groups: Sequence[Sequence[int]], normalize: bool, X: Any, y: Any,
             activation: str, loss: str) -> tuple[float, np.ndarray]:
    r"""``(f(w), ∇f(w))`` of the meta-objective, directions from the gradient at
    ``params`` (``rso_meta`` kind). ``value_and_grad`` (NumPy) is not used: the port's
    torch oracle on ``X, y`` replaces it."""
    del value_and_grad
    oracle = model_oracle(X, y, activation=activation, loss=loss)
    theta = [_tensor(p) for p in params]
    d = directions(oracle(theta)[1], groups, normalize)
    value, grad_w = meta_objective(oracle, theta, d, groups, lr)(_tensor(w))
    return value, grad_w.numpy()


def rso_step(value_and_grad: Oracle, params: Sequence[Any], *, lr: float,
             groups: Sequence[Sequence[int]], meta_iters: int, w0: Any, normalize: bool,
             safeguard: bool, m: int, c1: float, c2: float, maxls: int, X: Any, y: Any,
             activation: str, loss: str) -> dict:
    r"""One RSO step (Algorithm 1) on the port's torch oracle (``rso_step`` kind).

    With :math:`g = \nabla L(\theta)` and directions :math:`d_i` (:func:`directions`),
    :math:`K` = ``meta_iters`` L-BFGS iterations on :math:`f(w) = L(\theta - \eta
    \sum_i w_i d_i)` from :math:`w_0` (:func:`initial_weights`), with ``gtol = ftol =
    0``, at most :math:`K(\text{maxls} + 1) + 1` evaluations and the rounding-level
    stop of :func:`no_progress_left`; ``K = 0`` takes
    :math:`w_0` as is (one evaluation). With ``safeguard`` the gradient step
    :math:`w = \mathbf 1` replaces the result when its loss is strictly lower (not
    evaluated when ``w0 = "ones"``). ``nfev`` counts every evaluation of :math:`f`
    (the gradient at :math:`\theta` excluded).

    Returns
    -------
    dict
        ``params`` (new parameters, NumPy), ``w``, ``loss_before``
        :math:`L(\theta)`, ``loss_after`` :math:`f(w)`, ``nfev``, ``nit`` (accepted
        meta-iterations) and ``safeguarded``.
    """
    del value_and_grad
    oracle = model_oracle(X, y, activation=activation, loss=loss)
    theta = [_tensor(p) for p in params]
    loss_before, grads = oracle(theta)
    d = directions(grads, groups, normalize)
    objective = meta_objective(oracle, theta, d, groups, lr)
    nfev = 0

    def f(w: torch.Tensor) -> tuple[float, torch.Tensor]:
        nonlocal nfev
        nfev += 1
        return objective(w)

    n = len(groups)
    start = initial_weights(w0, n)
    if meta_iters == 0:
        w, f_w, nit = start, f(start)[0], 0
    else:
        res = minimize(f, start, m=m, gtol=0.0, ftol=0.0, maxiter=meta_iters,
                       maxfun=meta_iters * (maxls + 1) + 1, maxls=maxls, c1=c1, c2=c2,
                       callback=no_progress_left)
        w, f_w, nit = res.x, float(res.fun), int(res.nit)
    safeguarded = False
    if safeguard and not (isinstance(w0, str) and w0 == "ones"):
        ones = torch.ones(n, dtype=F64)
        f_ones = f(ones)[0]
        if f_ones < f_w:
            w, f_w, safeguarded = ones, f_ones, True
    return {"params": _host(moved(theta, d, groups, lr, w)), "w": w.numpy().copy(),
            "loss_before": loss_before, "loss_after": f_w, "nfev": nfev, "nit": nit,
            "safeguarded": safeguarded}


# --------------------------------------------------------------------- optimizers ----

def optim(name: str, params: Sequence[Any], grads: Sequence[Sequence[Any]], **hyper: Any
          ) -> list[list[np.ndarray]]:
    """Parameters after each step of ``torch.optim`` optimizer ``name`` fed the stored
    gradient sequence (``optim`` kind); hyperparameters keep torch.optim's names.

    Raises
    ------
    NotImplementedError
        For ``lamb``, ``lars``, ``muon`` and ``rso``: torch.optim has no such class.
    """
    if name not in OPTIMIZERS:
        raise NotImplementedError(f"torch.optim has no {name!r} optimizer")
    hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in hyper.items()}
    tensors = [_tensor(p) for p in params]
    opt = OPTIMIZERS[name](tensors, **hyper)
    out = []
    for step_grads in grads:
        for p, g in zip(tensors, step_grads):
            p.grad = _tensor(g)
        opt.step()
        out.append(_host(tensors))
    return out
