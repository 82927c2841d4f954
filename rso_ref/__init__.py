"""rso_ref: a framework-agnostic reference implementation of Recursive Subspace Optimization.

The same code runs on NumPy, CuPy, torch and array_api_strict arrays (see
:mod:`rso_ref.backend`). Main entry points:

* :func:`rso_ref.rso_step` (:mod:`rso_ref.rso`) / :class:`rso_ref.RSO`
  (:mod:`rso_ref.optim`): Algorithm 1 of the RSO paper, as a function and as an optimizer.
* :func:`rso_ref.minimize`: L-BFGS with a strong-Wolfe line search (scipy conventions).
* :mod:`rso_ref.optim`: baseline optimizers; :mod:`rso_ref.nn`: models;
  :mod:`rso_ref.data`: data sets; :mod:`rso_ref.hessian`, :mod:`rso_ref.lanczos`:
  curvature; :mod:`rso_ref.train`: the training loop.
"""
from . import backend, tree
from .lbfgs import minimize
from .optim import LBFGS, RSO
from .rso import RSOStepResult, rso_step

__version__ = "0.1.0"

__all__ = [
    "backend", "tree", "minimize", "LBFGS", "rso_step", "RSO", "RSOStepResult",
    "__version__",
]
