r"""The reference implementation of every port signature, written with :mod:`rso_ref`.

These functions *are* the contract a port implements: :func:`rso_ref.golden.write` runs
them to produce the stored outputs, and ``verify(reference_ports()[kind], kind)`` must
pass with zero error. Each takes host NumPy inputs (lists of arrays in the parameter
order ``[W1, b1, ..., WL, bL]``) and returns host values; a port in another framework
converts at its boundary. The functions are named after the kinds, so this module is
itself a valid argument of :func:`rso_ref.golden.verify_all`.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import optim as _optim
from ..hessian import as_matvec
from ..hessian import hvp as _hvp
from ..lanczos import top_eigenpairs
from ..lbfgs import minimize
from ..nn.mlp import MLP
from ..rso import group_directions, meta_objective
from ..rso import rso_step as _rso_step

__all__ = ["lbfgs", "rso_meta", "rso_step", "optim", "mlp", "hvp", "eigen",
           "reference_ports"]

#: Optimizer names of the ``optim`` fixtures -> classes of :mod:`rso_ref.optim`.
OPTIMIZERS = {"sgd": _optim.SGD, "adam": _optim.Adam, "adamw": _optim.AdamW,
              "rmsprop": _optim.RMSprop, "lamb": _optim.LAMB, "lars": _optim.LARS,
              "muon": _optim.Muon}


def lbfgs(fun: Callable, x0: np.ndarray, *, m: int, gtol: float, ftol: float, maxiter: int,
          maxls: int, c1: float, c2: float) -> dict:
    """L-BFGS iterates: rows ``k = 0..nit`` of ``x``, ``f``, ``g`` and cumulative ``nfev``."""
    rows = {"x": [np.array(x0, dtype=np.float64)], "f": [], "g": [], "nfev": [1]}
    f0, g0 = fun(rows["x"][0])
    rows["f"].append(float(f0))
    rows["g"].append(np.asarray(g0, dtype=np.float64))

    def record(it) -> None:
        rows["x"].append(np.asarray(it.x, dtype=np.float64))
        rows["f"].append(float(it.fun))
        rows["g"].append(np.asarray(it.jac, dtype=np.float64))
        rows["nfev"].append(int(it.nfev))

    minimize(fun, rows["x"][0], m=m, gtol=gtol, ftol=ftol, maxiter=maxiter, maxfun=15000,
             maxls=maxls, c1=c1, c2=c2, callback=record)
    return {"x": np.stack(rows["x"]), "f": np.array(rows["f"]), "g": np.stack(rows["g"]),
            "nfev": np.array(rows["nfev"], dtype=np.int64)}


def rso_meta(value_and_grad: Callable, params: list, w: np.ndarray, *, lr: float,
             groups: list, normalize: bool) -> tuple[float, np.ndarray]:
    r"""``(f(w), ∇f(w))`` of the RSO meta-objective (gradient taken at ``params``)."""
    _, grads = value_and_grad(params)
    directions, _ = group_directions(grads, groups, normalize)
    return meta_objective(value_and_grad, params, directions, groups, lr)(np.asarray(w))


def rso_step(value_and_grad: Callable, params: list, *, lr: float, groups: list,
                  meta_iters: int, w0: str, normalize: bool, safeguard: bool, m: int,
                  c1: float, c2: float, maxls: int) -> dict:
    """One RSO step: new ``params``, ``w`` and the optional diagnostics."""
    res = _rso_step(value_and_grad, params, lr=lr, groups=groups, meta_iters=meta_iters, w0=w0,
                   normalize=normalize, safeguard=safeguard, m=m, c1=c1, c2=c2, maxls=maxls)
    return {"params": [np.asarray(p) for p in res.params], "w": res.w,
            "loss_before": res.loss_before, "loss_after": res.loss_after, "nfev": res.nfev,
            "nit": res.nit, "safeguarded": res.safeguarded}


def optim(name: str, params: list, grads: list, **hyper: Any) -> list:
    """Params after each step of optimizer ``name`` fed the gradient sequence ``grads``."""
    hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in hyper.items()}
    opt = OPTIMIZERS[name](**hyper)
    state, out = opt.init(params), []
    for g in grads:
        params, state = opt.step(params, g, state)
        out.append([np.asarray(p) for p in params])
    return out


def _model(params: list, activation: str, loss: str) -> MLP:
    sizes = (int(params[0].shape[0]),) + tuple(int(p.shape[1]) for p in params[0::2])
    return MLP(sizes, activation=activation, loss=loss)


def mlp(params: list, X: np.ndarray, y: np.ndarray, *, activation: str, loss: str
        ) -> tuple[float, list]:
    """Batch-mean loss and its gradients (hand-written backward passes)."""
    return _model(params, activation, loss).value_and_grad(list(params), X, y)


def hvp(params: list, X: np.ndarray, y: np.ndarray, v: list, *, activation: str,
        loss: str) -> list:
    """Exact :math:`\\nabla^2 L\\, v` by autograd (forward over reverse)."""
    model = _model(params, activation, loss)
    return _hvp(model.loss, list(params), list(v), X, y)


def eigen(params: list, X: np.ndarray, y: np.ndarray, k: int, *, activation: str, loss: str
          ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest Hessian eigenvalues and unit eigenvectors (columns, flat params order)."""
    model = _model(params, activation, loss)
    params = list(params)
    matvec = as_matvec(lambda v: _hvp(model.loss, params, v, X, y), params)
    dim = sum(int(p.size) for p in params)
    res = top_eigenpairs(matvec, dim, k, tol=1e-12, seed=0)
    if not res.converged:
        raise RuntimeError("Lanczos did not converge on the eigen fixture")
    return np.asarray(res.eigenvalues), np.asarray(res.eigenvectors)


def reference_ports() -> dict[str, Callable]:
    """Kind -> reference implementation (the mapping :func:`verify_all` accepts)."""
    return {"lbfgs": lbfgs, "rso_meta": rso_meta, "rso_step": rso_step, "optim": optim,
            "mlp": mlp, "hvp": hvp, "eigen": eigen}
