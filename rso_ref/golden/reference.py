r"""The reference implementation of every port signature, written with :mod:`rso_ref`.

These functions *are* the contract a port implements: :func:`rso_ref.golden.write` runs
them to produce the stored outputs, and ``verify(reference_ports()[kind], kind)`` must
pass with zero error. Each takes arrays of one namespace and device (lists in the
parameter order ``[W1, b1, ..., WL, bL]``; host NumPy for the fixtures) and returns its
arrays there (weights ``w`` and scalars on the host), so that
``verify(reference_ports()[kind], kind, like=x)`` runs the reference itself on the
namespace and device of ``x``. ``hvp`` and ``eigen`` need an exact Hessian-vector
product: NumPy, torch and JAX arrays (:func:`rso_ref.hessian.hvp`); on array_api_strict
and CuPy they raise ``TypeError`` (an approximate product would not meet the fixtures'
1e-10). A port in another framework converts at its boundary. The functions are named
after the kinds, so this module is itself a valid argument of
:func:`rso_ref.golden.verify_all`.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .. import backend
from ..optim import registry
from ..hessian import as_matvec
from ..hessian import hvp as _hvp
from ..lanczos import top_eigenpairs
from ..lbfgs import minimize
from ..nn.mlp import MLP
from ..rso import group_directions, meta_objective
from ..rso import rso_step as _rso_step
from .kinds import eigenvector_signs

__all__ = ["lbfgs", "rso_meta", "rso_step", "optim", "mlp", "hvp", "eigen",
           "reference_ports"]

#: Optimizer names of the ``optim`` fixtures -> classes of :mod:`rso_ref.optim`.
OPTIMIZERS = dict(registry.OPTIMIZERS)


def lbfgs(fun: Callable, x0: Any, *, m: int, gtol: float, ftol: float, maxiter: int,
          maxls: int, c1: float, c2: float) -> dict:
    """L-BFGS iterates: rows ``k = 0..nit`` of ``x``, ``f``, ``g`` and cumulative ``nfev``.

    ``x`` and ``g`` are stacked on the namespace and device of ``x0``; ``f`` and ``nfev``
    are host arrays.
    """
    f0, g0 = fun(x0)
    rows = {"x": [x0], "f": [float(f0)], "g": [g0], "nfev": [1]}

    def record(intermediate_result) -> None:
        rows["x"].append(intermediate_result.x)
        rows["f"].append(float(intermediate_result.fun))
        rows["g"].append(intermediate_result.jac)
        rows["nfev"].append(int(intermediate_result.nfev))

    minimize(fun, x0, m=m, gtol=gtol, ftol=ftol, maxiter=maxiter, maxfun=15000,
             maxls=maxls, c1=c1, c2=c2, callback=record)
    xp = backend.array_namespace(x0)
    return {"x": xp.stack(rows["x"]), "f": np.array(rows["f"]), "g": xp.stack(rows["g"]),
            "nfev": np.array(rows["nfev"], dtype=np.int64)}


def rso_meta(value_and_grad: Callable, params: list, w: np.ndarray, *, lr: float,
             groups: list, normalize: bool, **model: Any) -> tuple[float, np.ndarray]:
    r"""``(f(w), ∇f(w))`` of the RSO meta-objective (gradient taken at ``params``).

    The reference evaluates the model through ``value_and_grad``; the model keywords
    (``X``, ``y``, ``activation``, ``loss``) that let a port build its own oracle are
    accepted and not needed.
    """
    _, grads = value_and_grad(params)
    directions, _ = group_directions(grads, groups, normalize)
    return meta_objective(value_and_grad, params, directions, groups, lr)(np.asarray(w))


def rso_step(value_and_grad: Callable, params: list, *, lr: float, groups: list,
             meta_iters: int, w0: Any, normalize: bool, safeguard: bool, m: int,
             c1: float, c2: float, maxls: int, **model: Any) -> dict:
    """One RSO step: new ``params``, ``w`` and the optional diagnostics.

    Like :func:`rso_meta`, it uses ``value_and_grad`` and ignores the model keywords.
    """
    res = _rso_step(value_and_grad, params, lr=lr, groups=groups, meta_iters=meta_iters, w0=w0,
                   normalize=normalize, safeguard=safeguard, m=m, c1=c1, c2=c2, maxls=maxls)
    return {"params": list(res.params), "w": res.w,
            "loss_before": res.loss_before, "loss_after": res.loss_after, "nfev": res.nfev,
            "nit": res.nit, "safeguarded": res.safeguarded}


def optim_loss(params: list) -> tuple[Any, list]:
    r"""The loss of the ``optim`` kind's RSO meta-solves and its gradient.

    .. math::

        L(\theta) = \sum_j \operatorname{sum}\big(\tfrac12 \theta_j^2
        + \tfrac14 \theta_j^4\big), \qquad \nabla_{\theta_j} L = \theta_j + \theta_j^3.

    The stored gradients stay the step's directions :math:`g_i`; this smooth,
    non-quadratic :math:`L` only gives the meta-objective
    :math:`f(w) = L(\theta - \eta \sum_i w_i g_i)` something to minimise.
    """
    xp = backend.array_namespace(params)
    loss = sum(float(xp.sum(0.5 * p * p + 0.25 * p ** 4)) for p in params)
    return loss, [p + p ** 3 for p in params]


def optim(name: str, params: list, grads: list, **hyper: Any) -> list:
    """Params after each step of optimizer ``name`` fed the gradient sequence ``grads``.

    RSO (``name == "rso"``) takes its meta-objective's values from :func:`optim_loss`
    (and evaluates it once at ``params`` for the step's loss).
    """
    hyper = {k: tuple(v) if isinstance(v, list) and k != "groups" else v
             for k, v in hyper.items()}
    opt = OPTIMIZERS[name](**hyper)
    oracle = {"value_and_grad": optim_loss} if name == "rso" else {}
    state, out = opt.init(params), []
    for g in grads:
        params, state = opt.step(params, g, state, **oracle)
        out.append(list(params))
    return out


def _model(params: list, activation: str, loss: str) -> MLP:
    sizes = (int(params[0].shape[0]),) + tuple(int(p.shape[1]) for p in params[0::2])
    return MLP(sizes, activation=activation, loss=loss)


def mlp(params: list, X: Any, y: Any, *, activation: str, loss: str
        ) -> tuple[float, list]:
    """Batch-mean loss and its gradients (hand-written backward passes)."""
    return _model(params, activation, loss).value_and_grad(list(params), X, y)


def hvp(params: list, X: Any, y: Any, v: list, *, activation: str,
        loss: str) -> list:
    """Exact :math:`\\nabla^2 L\\, v` by autograd (forward over reverse)."""
    model = _model(params, activation, loss)
    return _hvp(model.loss, list(params), list(v), X, y)


def eigen(params: list, X: Any, y: Any, k: int, *, activation: str, loss: str
          ) -> tuple[Any, Any]:
    """The ``k`` largest Hessian eigenvalues and unit eigenvectors (columns, flat params order).

    Each column is returned in the sign convention of the fixtures: its entry of largest
    magnitude is positive (:func:`rso_ref.golden.kinds.eigenvector_signs`).
    """
    model = _model(params, activation, loss)
    params = list(params)
    matvec = as_matvec(lambda v: _hvp(model.loss, params, v, X, y), params)
    dim = sum(math.prod(p.shape) for p in params)
    res = top_eigenpairs(matvec, dim, k, tol=1e-12, seed=0, xp=backend.array_namespace(*params),
                         dtype=params[0].dtype, device=backend.device(params[0]))
    if not res.converged:
        raise RuntimeError("Lanczos did not converge on the eigen fixture")
    vectors = res.eigenvectors
    host = backend.to_numpy(vectors)
    signs = eigenvector_signs(host).astype(host.dtype)  # flipping a sign is exact
    return res.eigenvalues, vectors * backend.asarray(signs, like=vectors)


def reference_ports() -> dict[str, Callable]:
    """Kind -> reference implementation (the mapping :func:`verify_all` accepts).

    Returns
    -------
    dict of str to callable
        One function per kind of :data:`rso_ref.golden.kinds.KINDS`.
    """
    return {"lbfgs": lbfgs, "rso_meta": rso_meta, "rso_step": rso_step, "optim": optim,
            "mlp": mlp, "hvp": hvp, "eigen": eigen}
