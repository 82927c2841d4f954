r"""A SciPy-style objective (``fun``, ``jac``, ``args``) as a flat value-and-gradient oracle.

:func:`rso_ref.lbfgs.minimize` iterates on flat vectors and calls one oracle
``x -> (f, g)``. Users of ``scipy.optimize.minimize`` describe their objective
differently: ``fun(x, *args)`` on an ``x`` of any shape, and a ``jac`` that is ``True``
(``fun`` returns ``(f, g)``), a callable ``jac(x, *args)``, or a finite-difference
scheme (``None``, ``"2-point"``, ``"3-point"``). :class:`ScalarObjective` turns each of
these into the flat oracle, and counts what it costs the way SciPy does: ``nfev``
calls of ``fun`` (finite-difference calls included), ``njev`` gradient evaluations.

Pytrees. ``x0`` may also be a pytree of arrays (a dict of weight matrices, say;
:mod:`rso_ref.pytree`). :class:`FlatLayout` says where each leaf sits in the flat
iterate (the raveled leaves, concatenated in leaf order): ``fun`` gets ``x`` in that
structure and returns its gradient in it.

Aliasing. ``fun`` is always handed a fresh copy of the iterate, and the gradient it
returns is copied, so a ``fun`` that writes into its argument, or returns one gradient
buffer that it overwrites on every call (as torch's ``.grad`` is), cannot change the
iterates or the curvature pairs that the solver keeps (SciPy's
``test_x_overwritten_user_function``). Immutable arrays (JAX's) are not copied
(:func:`rso_ref.backend.private_copy`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from . import pytree
from .backend import array_namespace, backend_name, private_copy
from .numdiff import FD_METHODS, approx_gradient
from .validation import check_callable, check_pair

__all__ = ["JAC_CHOICES", "FlatLayout", "ScalarObjective"]

#: The values ``jac`` may take besides a callable.
JAC_CHOICES = (True, None, "2-point", "3-point")


def _scalar(value: Any) -> Any:
    """A size-1 array returned as ``f`` becomes 0-d (SciPy accepts both); else unchanged."""
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0 and math.prod(shape) == 1:
        return value.reshape(())
    return value


@dataclass(frozen=True)
class FlatLayout:
    r"""Where each entry of the flat iterate sits in the ``x`` that ``fun`` sees.

    ``x`` is one array of any shape (``treedef`` None) or a pytree of arrays with leaves
    :math:`x_1, \dots, x_n`; the flat iterate is

    .. math::

        x_{\text{flat}} = [\operatorname{vec} x_1; \dots; \operatorname{vec} x_n]

    (C order, leaves in :func:`rso_ref.pytree.flatten` order).

    Attributes
    ----------
    xp : module
        The namespace of the iterates.
    shapes : tuple of tuple of int
        The shape of each leaf (of ``x0`` itself when ``treedef`` is None).
    treedef : rso_ref.pytree.TreeDef or None
        The structure of ``x0``; None when it is one array.
    """

    xp: ModuleType
    shapes: tuple
    treedef: pytree.TreeDef | None = None

    @property
    def size(self) -> int:
        r""":math:`\sum_i \operatorname{size}(x_i)`, the length of the flat iterate."""
        return sum(math.prod(shape) for shape in self.shapes)

    def shaped(self, x_flat: Any) -> Any:
        """Return ``x_flat`` in the shape, or the structure, of ``x0``.

        Parameters
        ----------
        x_flat : array, shape (size,)
            A flat vector.

        Returns
        -------
        array or pytree of arrays
            Views of ``x_flat``: one array of ``x0``'s shape, or ``x0``'s structure
            with each leaf of its shape (all in ``x_flat``'s dtype).
        """
        xp = self.xp
        if self.treedef is None:
            return xp.reshape(x_flat, self.shapes[0])
        pieces, start = [], 0
        for shape in self.shapes:
            stop = start + math.prod(shape)
            pieces.append(xp.reshape(x_flat[start:stop], shape))
            start = stop
        return pytree.unflatten(self.treedef, pieces)

    def flat_gradient(self, g: Any, name: str) -> Any:
        """Return the gradient pytree ``g`` as one flat vector (a new array).

        Parameters
        ----------
        g : pytree of arrays
            The gradient returned for a pytree ``x``, of its structure and leaf shapes.
        name : str
            Who returned it, for error messages (``"fun"``, ``"jac"``).

        Returns
        -------
        array, shape (size,)
            The raveled leaves, concatenated (their dtypes promoted).

        Raises
        ------
        TypeError
            If a leaf of ``g`` is not an array (its path named).
        ValueError
            If ``g`` does not have the structure of ``x0``, a leaf has another shape
            than ``x0``'s (its path named), or the leaves mix namespaces or devices.
        """
        leaves = pytree.flatten_like(g, self.treedef, f"{name}'s gradient", "x0")
        for leaf, shape, path in zip(leaves, self.shapes, self.treedef.paths):
            if tuple(leaf.shape) != shape:
                raise ValueError(f"{name} returned a gradient of shape {tuple(leaf.shape)} at "
                                 f"{path!r} for an x0 leaf of shape {shape}")
        xp = array_namespace(leaves, names=[f"{name}'s gradient"])
        return xp.concat([xp.reshape(leaf, (-1,)) for leaf in leaves])


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
    layout : FlatLayout
        How the flat iterate maps to the ``x`` that ``fun`` expects (``x0``'s shape or
        pytree structure), and the namespace of the iterates.
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

    def __init__(self, fun: Callable, jac: Any, args: tuple, layout: FlatLayout, *,
                 eps: float, finite_diff_rel_step: float | None):
        check_callable(fun, "fun")
        if not callable(jac) and not any(jac is c or (isinstance(c, str) and jac == c)
                                         for c in JAC_CHOICES):
            raise ValueError(f"jac must be True, None, '2-point', '3-point' or a callable, "
                             f"got {jac!r}")
        if not isinstance(args, tuple):
            args = (args,)  # SciPy's rule: a lone extra argument is wrapped
        self.fun, self.jac, self.args, self.layout = fun, jac, args, layout
        self.eps, self.rel_step = eps, finite_diff_rel_step
        self.nfev = self.njev = 0
        method = self._method()
        self.cost = 1 if method is None else 1 + FD_METHODS[method] * layout.size

    @property
    def estimated(self) -> bool:
        """Whether the gradient is a finite-difference estimate (``jac`` not True/callable)."""
        return self._method() is not None

    def _method(self) -> str | None:
        if self.jac is None:
            return "2-point"
        return self.jac if isinstance(self.jac, str) else None

    def _shaped(self, x_flat: Any) -> Any:
        return self.layout.shaped(private_copy(x_flat, self.layout.xp))

    def _flat_gradient(self, g: Any, name: str) -> Any:
        if self.layout.treedef is not None:
            return self.layout.flat_gradient(g, name)
        shape = getattr(g, "shape", None)
        if shape is None:
            return g  # not an array: linesearch.evaluate_array_oracle names the problem
        x_shape = self.layout.shapes[0]
        if tuple(shape) != x_shape:
            raise ValueError(f"{name} returned a gradient of shape {tuple(shape)} for x of "
                             f"shape {x_shape}")
        try:
            xp = array_namespace(g)
        except TypeError:
            # NumPy arithmetic on a 0-d array gives a NumPy scalar (x of shape ()): an
            # array for NumPy iterates; anything else is left to evaluate_array_oracle.
            if backend_name(self.layout.xp) != "numpy" or not hasattr(g, "dtype"):
                return g
            xp = self.layout.xp
        return xp.reshape(private_copy(g, xp), (-1,))

    def value(self, x_flat: Any) -> Any:
        """``f`` at ``x_flat``: one call of ``fun``, counted in :attr:`nfev`.

        Parameters
        ----------
        x_flat : array, shape (n,)
            The point, flat; ``fun`` gets a copy in the shape (or structure) of ``x0``.

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
