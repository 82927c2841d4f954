r"""A SciPy-style objective (``fun``, ``jac``, ``args``) as a flat value-and-gradient oracle.

:func:`rso_ref.lbfgs.minimize` iterates on flat vectors and calls one oracle
``x -> (f, g)``. Users of ``scipy.optimize.minimize`` describe their objective
differently: ``fun(x, *args)`` on an ``x`` of any shape, and a ``jac`` that is ``True``
(``fun`` returns ``(f, g)``), a callable ``jac(x, *args)``, or a finite-difference
scheme (``None``, ``"2-point"``, ``"3-point"``). :class:`ScalarObjective` turns each of
these into the flat oracle, and counts what it costs the way SciPy does: ``nfev``
calls of ``fun`` (finite-difference calls included), ``njev`` gradient evaluations.

Aliasing. ``fun`` is always handed a fresh copy of the iterate, and the gradient it
returns is copied, so a ``fun`` that writes into its argument, or returns one gradient
buffer that it overwrites on every call (as torch's ``.grad`` is), cannot change the
iterates or the curvature pairs that the solver keeps (SciPy's
``test_x_overwritten_user_function``).
"""
from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Callable

from .backend import array_namespace, backend_name
from .numdiff import FD_METHODS, approx_gradient
from .validation import check_callable, check_pair

__all__ = ["JAC_CHOICES", "ScalarObjective"]

#: The values ``jac`` may take besides a callable.
JAC_CHOICES = (True, None, "2-point", "3-point")


def _scalar(value: Any) -> Any:
    """A size-1 array returned as ``f`` becomes 0-d (SciPy accepts both); else unchanged."""
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0 and math.prod(shape) == 1:
        return value.reshape(())
    return value


class ScalarObjective:
    r"""``fun``/``jac``/``args`` as the oracle ``x_flat -> (f, g_flat)``.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args)``: returns ``(f, g)`` when ``jac is True``, else ``f``.
    jac : {True, None, "2-point", "3-point"} or callable
        How the gradient is obtained. ``None`` is SciPy L-BFGS-B's default: forward
        differences with the absolute step ``eps``; ``"2-point"``/``"3-point"`` use the
        relative step ``finite_diff_rel_step`` (:mod:`rso_ref.numdiff`).
    args : tuple
        Extra arguments of ``fun`` and ``jac``.
    shape : tuple of int
        The shape of ``x`` that ``fun`` expects (the shape of ``x0``).
    xp : module
        The namespace of the iterates.
    eps : float
        Absolute finite-difference step for ``jac=None``.
    finite_diff_rel_step : float, optional
        Relative step for ``"2-point"``/``"3-point"`` (``None``: the default of
        :func:`rso_ref.numdiff.default_relative_step`).

    Attributes
    ----------
    nfev : int
        Calls of ``fun`` so far.
    njev : int
        Gradient evaluations so far (calls of the oracle, or of ``jac``).
    cost : int
        Calls of ``fun`` per call of the oracle: 1, or :math:`n + 1` / :math:`2n + 1`
        with forward / central differences.
    """

    def __init__(self, fun: Callable, jac: Any, args: tuple, shape: tuple, xp: ModuleType, *,
                 eps: float, finite_diff_rel_step: float | None):
        check_callable(fun, "fun")
        if not callable(jac) and not any(jac is c or (isinstance(c, str) and jac == c)
                                         for c in JAC_CHOICES):
            raise ValueError(f"jac must be True, None, '2-point', '3-point' or a callable, "
                             f"got {jac!r}")
        if not isinstance(args, tuple):
            args = (args,)  # SciPy's rule: a lone extra argument is wrapped
        self.fun, self.jac, self.args, self.shape, self.xp = fun, jac, args, tuple(shape), xp
        self.eps, self.rel_step = eps, finite_diff_rel_step
        self.nfev = self.njev = 0
        n = math.prod(self.shape)
        method = self._method()
        self.cost = 1 if method is None else 1 + FD_METHODS[method] * n

    @property
    def estimated(self) -> bool:
        """Whether the gradient is a finite-difference estimate (``jac`` not True/callable)."""
        return self._method() is not None

    def _method(self) -> str | None:
        if self.jac is None:
            return "2-point"
        return self.jac if isinstance(self.jac, str) else None

    def _shaped(self, x_flat: Any) -> Any:
        return self.xp.reshape(self.xp.asarray(x_flat, copy=True), self.shape)

    def _flat_gradient(self, g: Any, name: str) -> Any:
        shape = getattr(g, "shape", None)
        if shape is None:
            return g  # not an array: linesearch.evaluate_array_oracle names the problem
        if tuple(shape) != self.shape:
            raise ValueError(f"{name} returned a gradient of shape {tuple(shape)} for x of "
                             f"shape {self.shape}")
        try:
            xp = array_namespace(g)
        except TypeError:
            # NumPy arithmetic on a 0-d array gives a NumPy scalar (x of shape ()): an
            # array for NumPy iterates; anything else is left to evaluate_array_oracle.
            if backend_name(self.xp) != "numpy" or not hasattr(g, "dtype"):
                return g
            xp = self.xp
        return xp.reshape(xp.asarray(g, copy=True), (-1,))

    def value(self, x_flat: Any) -> Any:
        """``f`` at ``x_flat``: one call of ``fun``, counted in :attr:`nfev`.

        Parameters
        ----------
        x_flat : array, shape (n,)
            The point, flat; ``fun`` gets a copy in the shape of ``x0``.

        Returns
        -------
        object
            What ``fun`` returned, a size-1 array made 0-d (checked by the caller).
        """
        self.nfev += 1
        return _scalar(self.fun(self._shaped(x_flat), *self.args))

    def __call__(self, x_flat: Any) -> tuple[Any, Any]:
        """``(f, g)`` at ``x_flat``, ``g`` flat and never shared with ``fun``."""
        self.njev += 1
        if self.jac is True:
            self.nfev += 1
            out = self.fun(self._shaped(x_flat), *self.args)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise TypeError(
                    "fun must return a pair (f, g) with jac=True (the default), got "
                    f"{type(out).__name__}; for a fun that returns f only pass jac=None, "
                    "'2-point', '3-point' or a callable")
            f, g = check_pair(out, "fun")
            return _scalar(f), self._flat_gradient(g, "fun")
        f = self.value(x_flat)
        if callable(self.jac):
            return f, self._flat_gradient(self.jac(self._shaped(x_flat), *self.args), "jac")
        try:
            f0 = float(f)
        except (TypeError, ValueError):
            return f, None  # linesearch.evaluate_array_oracle rejects it, with its name
        method = self._method()
        g, _ = approx_gradient(  # self.value counts the calls in nfev
            lambda z: float(self.value(z)), x_flat,
            method=method, f0=f0, abs_step=self.eps if self.jac is None else None,
            rel_step=None if self.jac is None else self.rel_step)
        return f, g
