r"""Pure array functions that a backend may compile into one program.

The host-driven solvers (:func:`rso_ref.lbfgs.minimize`, :func:`rso_ref.rso.rso_step`)
spend their own time, between oracle calls, in short runs of array operations: the
L-BFGS two-loop recursion, the trial point :math:`x + \alpha d`, the inner products a
line search needs, the trial parameters :math:`\theta - \eta \sum_i w_i d_i` and the
group inner products of RSO. Each such run is written once, as a pure function of
arrays with array-API calls, and decorated with :func:`fused`:

* on JAX, the call runs ``jax.jit`` of the function: a run of 10-40 operations, each
  dispatched eagerly in about 30 µs, becomes one compiled program (one dispatch of a
  few µs, compiled once per shape and dtype; later calls reuse it);
* on every other backend the function runs as written, operation by operation, so that
  NumPy's (and CuPy's, torch's, array_api_strict's) numbers and costs do not change.

What stays on the host is what the algorithms branch on (values of :math:`f`, slopes,
curvature tests), which each fused function returns as small arrays to be read in one
transfer. Such a function must be pure (no Python side effects, no branch on array
values, arguments that select code paths named as static) so that both ways of
running it compute the same thing.
"""
from __future__ import annotations

import functools
import inspect
from types import ModuleType
from typing import Any, Callable, Sequence

import array_api_compat

from .core import _check_namespace

__all__ = ["fused", "compiles", "committed"]


def compiles(xp: ModuleType) -> bool:
    """Tell whether :func:`fused` functions are compiled for namespace ``xp`` (JAX's).

    Parameters
    ----------
    xp : module
        An array namespace.

    Returns
    -------
    bool
        True for JAX.

    Raises
    ------
    TypeError
        If ``xp`` is not an array namespace (a string, an array).
    """
    _check_namespace(xp)
    return array_api_compat.is_jax_namespace(xp)


class _Fused:
    """A pure function ``fn(xp, *args)`` run as written, or compiled where :func:`compiles`."""

    def __init__(self, fn: Callable, static_argnames: Sequence[str],
                 donate_argnames: Sequence[str]):
        functools.update_wrapper(self, fn)
        self._fn = fn
        self._static, self._donate = tuple(static_argnames), tuple(donate_argnames)
        self._compiled: Callable | None = None

    def __call__(self, xp: ModuleType, *args: Any, **kwargs: Any) -> Any:
        if not array_api_compat.is_jax_namespace(xp):
            return self._fn(xp, *args, **kwargs)
        if self._compiled is None:
            import jax  # only reached with JAX arrays, so JAX is installed

            # jax.jit infers positions from names only when given no static_argnums
            names = list(inspect.signature(self._fn).parameters)
            static = (0, *(names.index(name) for name in self._static))
            self._compiled = jax.jit(self._fn, static_argnums=static, static_argnames=self._static,
                                     donate_argnums=tuple(names.index(n) for n in self._donate))
        return self._compiled(xp, *args, **kwargs)


def fused(*, static_argnames: Sequence[str] = (),
          donate_argnames: Sequence[str] = ()) -> Callable[[Callable], Callable]:
    """Decorate a pure function ``fn(xp, *arrays, ...)`` to be compiled where the backend can.

    Parameters
    ----------
    static_argnames : sequence of str, default ()
        Arguments that select code (ints, tuples of ints, flags): each distinct value
        compiles its own program on JAX. Everything else is traced: arrays, and Python
        floats (weakly typed, as in eager arithmetic, so a float times a float32 array
        stays float32 in both ways of running).
    donate_argnames : sequence of str, default ()
        Array arguments whose buffers the compiled program may reuse for its outputs
        (JAX's donation): the caller must not use them after the call. Ignored where
        the function runs as written.

    Returns
    -------
    callable
        The decorator. The decorated function is called as ``fn(xp, *args)`` with the
        namespace of its arrays first.

    Raises
    ------
    TypeError
        If ``static_argnames`` or ``donate_argnames`` is a string or holds a non-string
        (a single name goes in a tuple: ``("groups",)``).
    ValueError
        When decorating, if a name is not a parameter of the function or is its first
        parameter (the namespace, always static).
    """
    names = {"static_argnames": static_argnames, "donate_argnames": donate_argnames}
    for label, value in names.items():
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{label} must be a sequence of parameter names, got {value!r}"
                            f"{'; wrap one name in a tuple' if isinstance(value, str) else ''}")

    def decorate(fn: Callable) -> Callable:
        parameters = list(inspect.signature(fn).parameters)
        for label, value in names.items():
            for name in value:
                if name not in parameters[1:]:
                    raise ValueError(f"{label} names {name!r}, which is not a parameter of "
                                     f"{fn.__qualname__} after the namespace {parameters[:1]}")
        return _Fused(fn, static_argnames, donate_argnames)

    return decorate


def committed(xp: ModuleType, arrays: Sequence) -> list:
    """Return ``arrays`` placed explicitly on their devices where :func:`compiles` (JAX).

    JAX compiles a program once per placement of its arguments, and an array made by
    ``jnp.asarray`` is *uncommitted* (placed by default) while the outputs of compiled
    programs are committed: a solver whose first iterate is uncommitted would compile its
    pieces, and the user's compiled oracle, twice. Committing the arrays it starts from
    (``jax.device_put`` onto their own placement, a no-op for committed ones) keeps one
    program per shape. Elsewhere the arrays are returned as they are.

    Parameters
    ----------
    xp : module
        The namespace of ``arrays``.
    arrays : sequence of arrays
        The arrays a run starts from.

    Returns
    -------
    list
        The arrays, committed on JAX.

    Raises
    ------
    TypeError
        If ``xp`` is not an array namespace or ``arrays`` is not a list or tuple.
    """
    _check_namespace(xp)
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"arrays must be a list or tuple of arrays, got {type(arrays).__name__}")
    if not array_api_compat.is_jax_namespace(xp):
        return list(arrays)
    import jax

    return [x if x.committed else jax.device_put(x, x.sharding) for x in arrays]
