"""rso_ref: a framework-agnostic reference implementation of Recursive Subspace Optimization.

The same code runs on NumPy, CuPy, torch and array_api_strict arrays (see
:mod:`rso_ref.backend`). Main entry points:

* :func:`rso_ref.minimize`: L-BFGS with a strong-Wolfe line search (scipy conventions).
* :mod:`rso_ref.tree`: parameter lists as vectors.
"""
from . import backend, tree

__version__ = "0.1.0"

__all__ = ["backend", "tree", "__version__"]
