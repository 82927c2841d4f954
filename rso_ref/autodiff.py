r"""autograd as the gradient oracle for forward code written against the array API.

Forward passes in :mod:`rso_ref.nn` take a keyword ``xp`` and call only array-API
functions on it. :func:`namespace` returns an array-API-like namespace whose functions
are those of ``autograd.numpy`` [1]_, so the *same* forward code, called with
``xp=namespace()``, is traced by autograd. The hand-written backward passes are then
tested against

* :func:`value_and_grad`: reverse-mode gradients from autograd (NumPy only), and
* :func:`check_grads`: a random projection of the Jacobian against central differences,
  as in autograd's ``test_util`` [1]_ (written here from the idea, not the code):

.. math::

    \langle u, J(x)\,v\rangle \approx
    \Big\langle u, \frac{f(x + \varepsilon v) - f(x - \varepsilon v)}{2\varepsilon}\Big\rangle
    = \langle u, J v\rangle + O(\varepsilon^2),

with :math:`u, v` random unit-variance directions drawn on the host.

The namespace is an explicit list of names: every name it exposes is differentiable in
reverse mode *and* forward mode (so forward-over-reverse Hessian-vector products,
``autograd.make_jvp(autograd.grad(f))``, work), or is not differentiable by nature
(comparisons, creation functions, dtypes). Array-API names that ``autograd.numpy``
lacks or cannot differentiate as the standard calls them (``asarray`` of a traced
array, ``astype``, ``clip``, ``concat``, ``stack``, ``permute_dims``,
``matrix_transpose``, ``take``, ``take_along_axis``, ``vecdot``, ``var``/``std`` with
``correction``) are added here, and ``erf`` (needed by the exact GELU, absent from the
standard, see :func:`rso_ref.backend.erf`) is defined with its own derivative rules
because ``autograd.scipy.special.erf`` has no forward-mode rule.

:func:`jvp`, :func:`vjp` and :func:`hvp` are exact on three backends, each by its own
automatic differentiation, chosen from the namespace of ``params``: NumPy arrays by
autograd (``fun`` receives :func:`namespace`), torch tensors by ``torch.func``
(``torch.func.jvp`` of ``torch.func.grad``; ``fun`` receives the array-API namespace
of torch, outputs are detached) and JAX arrays by ``jax.jvp`` of ``jax.grad`` (``fun``
receives ``jax.numpy``). torch and JAX are imported only when their arrays arrive.
Other namespaces (array_api_strict, CuPy) have no autodiff here: they raise
``TypeError`` pointing to :func:`rso_ref.hessian.fd_hvp`.

References
----------
.. [1] D. Maclaurin, D. Duvenaud, M. Johnson, J. Townsend, "Autograd: effortless
   gradients in NumPy", ICML AutoML workshop (2015); https://github.com/HIPS/autograd
"""
from __future__ import annotations

import collections
import functools
import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Sequence

import autograd
import autograd.numpy as anp
import numpy as np
import scipy.special
from autograd.extend import Box, defjvp, defvjp, primitive

from . import backend, tree
from .validation import check_callable, check_choice, check_positive

__all__ = ["namespace", "is_autograd_namespace", "value_and_grad", "jvp", "vjp", "hvp",
           "HVP_MODES", "EXACT_BACKENDS", "has_exact_derivatives", "check_grads"]

#: How :func:`hvp` nests the two modes of differentiation.
HVP_MODES = ("forward-over-reverse", "reverse-over-reverse")

#: Backends whose arrays :func:`jvp`, :func:`vjp` and :func:`hvp` differentiate exactly.
EXACT_BACKENDS = ("numpy", "torch", "jax")

# Names whose autograd.numpy function already has the array-API signature and, when
# differentiable, both a VJP and a JVP rule (checked in tests/test_autodiff.py).
_PASSTHROUGH = (
    # elementwise
    "abs", "add", "subtract", "multiply", "divide", "negative", "pow", "square", "sqrt",
    "exp", "expm1", "log", "log1p", "logaddexp", "tanh", "sinh", "cosh", "sin", "cos", "atan2",
    "maximum", "minimum", "where",
    # comparisons and tests (not differentiable by nature)
    "greater", "greater_equal", "less", "less_equal", "equal", "not_equal",
    "logical_and", "logical_or", "logical_not", "isfinite", "isnan", "isinf",
    # reductions
    "sum", "prod", "mean", "max", "min", "argmax", "argmin", "any", "all",
    # shapes
    "reshape", "expand_dims", "squeeze", "broadcast_to", "moveaxis", "tile", "repeat",
    "tril", "triu",
    # linear algebra
    "matmul", "tensordot", "outer",
    # creation
    "zeros", "ones", "zeros_like", "ones_like", "full", "full_like", "empty", "empty_like",
    "eye", "arange", "linspace",
    # dtype utilities and constants
    "finfo", "iinfo", "result_type", "can_cast", "isdtype", "e", "pi", "inf", "nan", "newaxis",
)
# NumPy's own dtypes (autograd.numpy wraps the integer ones in tracing subclasses).
_DTYPES = {name: getattr(np, name) for name in ("float32", "float64", "int32", "int64", "bool")}

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@primitive
def _erf(x):
    return scipy.special.erf(x)


# d/dx erf(x) = 2/sqrt(pi) exp(-x^2) (Abramowitz & Stegun 7.1.19).
defvjp(_erf, lambda ans, x: lambda g: g * (_TWO_OVER_SQRT_PI * anp.exp(-x * x)))
defjvp(_erf, lambda g, ans, x: g * (_TWO_OVER_SQRT_PI * anp.exp(-x * x)))


@primitive
def _cast(x, dtype):
    return np.asarray(x).astype(dtype)


# A cast is linear: the cotangent goes back in the input's dtype, the tangent forward
# in the output's.
defvjp(_cast, lambda ans, x, dtype: lambda g: _cast(g, anp.result_type(x)))
defjvp(_cast, lambda g, ans, x, dtype: _cast(g, dtype))


def _asarray(obj, /, *, dtype=None, device=None, copy=None):
    if isinstance(obj, Box):
        return obj if dtype is None or anp.result_type(obj) == dtype else _cast(obj, dtype)
    return np.asarray(obj, dtype=dtype, copy=copy)


def _astype(x, dtype, /, *, copy=True, device=None):
    return _cast(x, dtype)


def _concat(arrays, /, *, axis=0):
    if axis is None:
        arrays = [anp.reshape(a, (-1,)) for a in arrays]
        axis = 0
    return anp.concatenate(list(arrays), axis=axis)


def _stack(arrays, /, *, axis=0):
    return anp.stack(list(arrays), axis=axis)


def _permute_dims(x, /, axes):
    return anp.transpose(x, tuple(axes))


def _matrix_transpose(x, /):
    return anp.swapaxes(x, -1, -2)


def _take(x, indices, /, *, axis=None):
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take needs axis for arrays with more than one dimension")
        axis = 0
    axis = axis % x.ndim
    return x[(slice(None),) * axis + (np.asarray(indices),)]


def _take_along_axis(x, indices, /, *, axis=-1):
    axis = axis % x.ndim
    index = []
    for d in range(x.ndim):
        if d == axis:
            index.append(np.asarray(indices))
        else:
            shape = [1] * x.ndim
            shape[d] = x.shape[d]
            index.append(np.arange(x.shape[d]).reshape(shape))
    return x[tuple(index)]


def _clip(x, /, min=None, max=None):
    # autograd's rule takes the bounds positionally (numpy's a_min, a_max).
    return anp.clip(x, min, max)


def _vecdot(x1, x2, /, *, axis=-1):
    return anp.sum(x1 * x2, axis=axis)


def _var(x, /, *, axis=None, correction=0.0, keepdims=False):
    return anp.var(x, axis=axis, ddof=correction, keepdims=keepdims)


def _std(x, /, *, axis=None, correction=0.0, keepdims=False):
    return anp.sqrt(_var(x, axis=axis, correction=correction, keepdims=keepdims))


_ADDED = {
    "asarray": _asarray,
    "astype": _astype,
    "concat": _concat,
    "stack": _stack,
    "permute_dims": _permute_dims,
    "matrix_transpose": _matrix_transpose,
    "take": _take,
    "take_along_axis": _take_along_axis,
    "clip": _clip,
    "vecdot": _vecdot,
    "var": _var,
    "std": _std,
    "erf": _erf,
}


@functools.cache
def namespace() -> ModuleType:
    r"""Return the array-API-like namespace over ``autograd.numpy``.

    Forward code called with ``xp=namespace()`` can be differentiated by autograd in
    reverse mode (``autograd.grad``, ``make_vjp``), forward mode (``make_jvp``) and
    both nested (``make_hvp``; ``make_jvp(grad(f))``). Only the names listed in this
    module exist on it; any other raises ``AttributeError``, so a forward pass never
    silently falls back to a function autograd cannot differentiate.

    Returns
    -------
    xp : module
        The same object on every call (compare with :func:`is_autograd_namespace`).

    Examples
    --------
    >>> import autograd, numpy as np
    >>> xp = namespace()
    >>> autograd.grad(lambda w: xp.sum(xp.tanh(w)))(np.zeros(2))
    array([1., 1.])
    """
    ns = ModuleType("rso_ref.autodiff.xp", "Array-API-like namespace over autograd.numpy.")
    for name in _PASSTHROUGH:
        setattr(ns, name, getattr(anp, name))
    for name, obj in {**_DTYPES, **_ADDED}.items():
        setattr(ns, name, obj)
    return ns


def is_autograd_namespace(xp: Any) -> bool:
    """Tell whether ``xp`` is the namespace of :func:`namespace`.

    Parameters
    ----------
    xp : object
        A namespace.

    Returns
    -------
    bool
        True for the autograd namespace.
    """
    return xp is namespace()


def _check_numpy_tree(items: Sequence, name: str, *, exact_elsewhere: bool = False) -> None:
    for j, item in enumerate(items):
        if item is None or isinstance(item, (bool, int, float, np.ndarray, np.generic)):
            continue
        if isinstance(item, (list, tuple)):
            _check_numpy_tree(item, f"{name}[{j}]", exact_elsewhere=exact_elsewhere)
            continue
        hint = ("; torch and JAX arrays use their own autodiff, other backends "
                "rso_ref.hessian.fd_hvp" if exact_elsewhere
                else " (move it with rso_ref.backend.to_numpy)")
        raise TypeError(
            f"{name}[{j}] is a {type(item).__module__}.{type(item).__name__}; autograd "
            f"differentiates NumPy arrays only{hint}"
        )


def value_and_grad(loss_fn: Callable[..., Any], params: Sequence, *args: Any
                   ) -> tuple[float, list[np.ndarray]]:
    r"""Loss and its gradient with respect to ``params``, by autograd.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params, *args, xp=...)`` returning a scalar (0-d array), written with
        array-API calls on ``xp`` (it receives :func:`namespace`).
    params : list of numpy.ndarray
        Point of differentiation.
    *args
        Further arguments of ``loss_fn`` (data, labels), held constant; NumPy arrays or
        Python scalars.

    Returns
    -------
    loss : float
        :math:`L(\theta)`.
    grads : list of numpy.ndarray
        :math:`\partial L / \partial \theta_j`, one per entry of ``params``.

    Raises
    ------
    TypeError
        If ``params`` is not a list/tuple, or an entry of ``params`` or ``args`` is an
        array of another library (torch, CuPy, array_api_strict).
    """
    check_callable(loss_fn, "loss_fn")
    if not isinstance(params, (list, tuple)):
        raise TypeError(f"params must be a list of numpy arrays, got {type(params).__name__}")
    _check_numpy_tree(params, "params")
    _check_numpy_tree(args, "args")
    xp = namespace()
    value, grads = autograd.value_and_grad(lambda p: loss_fn(p, *args, xp=xp))(list(params))
    return float(value), [np.asarray(g) for g in grads]


@dataclass(frozen=True)
class _Engine:
    """One backend's automatic differentiation, on functions of a list of arrays.

    ``grad(f)`` maps ``params -> grads``; ``jvp(f, params, v) -> (value, tangent)``;
    ``vjp(f, params) -> (value, pullback)`` with ``pullback(u) -> list``; ``xp`` is the
    namespace the traced function receives; ``out`` turns a list of results into plain
    arrays of the backend (no autodiff history); ``compiled(fun, mode, params, v, args)``,
    where the backend compiles, returns :func:`hvp`'s product from a cached compiled
    function, or None to run it eagerly.
    """

    xp: ModuleType
    grad: Callable
    jvp: Callable
    vjp: Callable
    out: Callable
    compiled: Callable | None = None


def _autograd_engine() -> _Engine:
    def pull(f, p):
        pullback, value = autograd.make_vjp(f)(p)
        return value, pullback

    return _Engine(namespace(), autograd.grad,
                   lambda f, p, t: autograd.make_jvp(f)(p)(t), pull,
                   lambda items: [np.asarray(o) for o in items])


def _torch_engine(xp: ModuleType) -> _Engine:
    import torch.func  # a host module: torch is imported only when its tensors arrive

    def pull(f, p):
        value, pullback = torch.func.vjp(f, p)
        return value, lambda u: pullback(u)[0]

    return _Engine(xp, torch.func.grad,
                   lambda f, p, t: torch.func.jvp(f, (p,), (t,)), pull,
                   lambda items: [o.detach() for o in items])


def _jax_engine(xp: ModuleType) -> _Engine:
    import jax  # a host module: JAX is imported only when its arrays arrive

    def pull(f, p):
        value, pullback = jax.vjp(f, p)
        return value, lambda u: pullback(u)[0]

    return _Engine(xp, jax.grad, lambda f, p, t: jax.jvp(f, (p,), (t,)), pull, list,
                   functools.partial(_jax_compiled_hvp, xp))


@functools.lru_cache(maxsize=32)
def _jax_jitted_product(fun: Callable, mode: str, xp: ModuleType) -> Callable:
    """``jax.jit`` of the product of :func:`hvp` for one ``fun`` (cached by ``fun``)."""
    import jax

    return jax.jit(_product(_jax_engine(xp), fun, mode))


#: (fun, mode) pairs that did not trace under jax.jit (they need concrete values).
_JAX_EAGER: set = set()
#: The most recent (fun, mode) pairs seen once: a pair is compiled on its second call,
#: so a fresh lambda per call (which would recompile every time) always runs eagerly.
_JAX_SEEN: collections.OrderedDict = collections.OrderedDict()
_JAX_SEEN_MAX = 32


def _jax_compiled_hvp(xp: ModuleType, fun: Callable, mode: str, params: list, v: list,
                      args: tuple) -> list | None:
    """H v by the jitted product, or None where it cannot be used (then eager).

    Compiled from the second call with the same hashable ``fun`` (a model's bound
    ``loss``) when every extra argument is a JAX array: Lanczos then pays one trace per
    batch shape instead of the eager cost of every product (an MLP 64-32-10, batch 64:
    ~0.2 ms jitted, ~25 ms eager). A ``fun`` that needs concrete values (Python control
    flow on them) runs eagerly from then on.
    """
    import jax

    key = (fun, mode)
    try:
        if key in _JAX_EAGER or not args or not all(isinstance(a, jax.Array) for a in args):
            return None
        if key not in _JAX_SEEN:
            _JAX_SEEN[key] = None
            if len(_JAX_SEEN) > _JAX_SEEN_MAX:
                _JAX_SEEN.popitem(last=False)
            return None
        product = _jax_jitted_product(fun, mode, xp)
    except TypeError:  # an unhashable fun cannot key the cache
        return None
    try:
        return list(product(params, v, *args))
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
            jax.errors.TracerIntegerConversionError):
        _JAX_EAGER.add(key)
        return None


def has_exact_derivatives(xp: ModuleType) -> bool:
    """Tell whether :func:`jvp`, :func:`vjp` and :func:`hvp` differentiate arrays of ``xp`` exactly.

    Parameters
    ----------
    xp : module
        A namespace.

    Returns
    -------
    bool
        True for a backend of :data:`EXACT_BACKENDS`; False for array_api_strict and CuPy.
    """
    return backend.backend_name(xp) in EXACT_BACKENDS


def _engine(**trees: Sequence) -> _Engine:
    """The autodiff of the namespace shared by the named lists of arrays (``params=...``)."""
    for name, items in trees.items():
        if not isinstance(items, (list, tuple)):
            raise TypeError(f"{name} must be a list of arrays, got {type(items).__name__}")
    try:
        xp = backend.array_namespace(*trees.values(), names=list(trees))
    except TypeError:  # not arrays at all: the per-entry check below names the culprit
        xp = None
    name = None if xp is None else backend.backend_name(xp)
    if name == "torch":
        return _torch_engine(xp)
    if name == "jax":
        return _jax_engine(xp)
    for tree_name, items in trees.items():
        _check_numpy_tree(items, tree_name, exact_elsewhere=True)
    return _autograd_engine()


def jvp(fun: Callable[..., Any], params: Sequence, v: Sequence) -> tuple[Any, Any]:
    r"""Value and Jacobian-vector product :math:`J(\theta)\, v` of ``fun``, by forward mode.

    Parameters
    ----------
    fun : callable
        ``fun(params, *, xp) -> array`` written with array-API calls on ``xp`` (it
        receives the namespace of the backend's autodiff, see the module docstring).
    params, v : list of arrays
        The point :math:`\theta` and the tangent, shaped alike; NumPy, torch or JAX.

    Returns
    -------
    value : array
        ``fun(params)``, on the backend of ``params``.
    tangent : array
        :math:`J v`, shaped like ``value``.

    Raises
    ------
    TypeError
        If the arrays belong to a backend without autodiff here (array_api_strict, CuPy).
    """
    check_callable(fun, "fun")
    engine = _engine(params=params, v=v)
    value, tangent = engine.jvp(lambda p: fun(p, xp=engine.xp), list(params), list(v))
    return tuple(engine.out([value, tangent]))


def vjp(fun: Callable[..., Any], params: Sequence) -> tuple[Any, Callable[[Any], list]]:
    r"""Value of ``fun`` and its pullback :math:`u \mapsto J(\theta)^\top u`, by reverse mode.

    ``fun`` and ``params`` as in :func:`jvp`. The pullback takes a cotangent shaped like
    the value and returns a list of arrays of the backend of ``params``, shaped like it.

    Parameters
    ----------
    fun : callable
        ``fun(params, *, xp) -> array``, as in :func:`jvp`.
    params : list of arrays
        The point :math:`\theta`; NumPy, torch or JAX.

    Returns
    -------
    value : array
        ``fun(params)``.
    pullback : callable
        :math:`u \mapsto J(\theta)^\top u`: a cotangent shaped like ``value`` to a list of
        arrays shaped like ``params``.
    """
    check_callable(fun, "fun")
    return _pullback(fun, params, _engine(params=params))


def _pullback(fun: Callable[..., Any], params: Sequence, engine: _Engine
              ) -> tuple[Any, Callable[[Any], list]]:
    value, pullback = engine.vjp(lambda p: fun(p, xp=engine.xp), list(params))
    return engine.out([value])[0], lambda u: engine.out(pullback(u))


def _product(engine: _Engine, fun: Callable[..., Any], mode: str) -> Callable:
    """``(params, v, *args) -> H v`` of ``fun(params, *args, xp=...)`` by ``engine``."""
    xp = engine.xp

    def product(params: list, v: list, *args: Any) -> Any:
        grad_fn = engine.grad(lambda p: fun(p, *args, xp=xp))
        if mode == "forward-over-reverse":
            return engine.jvp(grad_fn, params, v)[1]
        return engine.grad(lambda p: sum(xp.sum(a * b) for a, b in zip(grad_fn(p), v)))(params)

    return product


def hvp(fun: Callable[..., Any], params: Sequence, v: Sequence, *args: Any,
        mode: str = "forward-over-reverse") -> list:
    r"""Exact Hessian-vector product :math:`\nabla^2 f(\theta)\, v` of a scalar ``fun``.

    Parameters
    ----------
    fun : callable
        ``fun(params, *args, xp) -> scalar`` (0-d array) written with array-API calls on
        ``xp`` (it receives the namespace of the backend's autodiff).
    params, v : list of arrays
        The point and the direction, shaped alike; NumPy (autograd), torch
        (``torch.func``) or JAX arrays.
    *args
        Further arguments of ``fun`` (data, labels), held constant. On JAX, when they
        are all JAX arrays and ``fun`` is hashable (a model's bound ``loss``), the
        product is compiled by ``jax.jit`` once per ``fun`` and shapes and reused (it
        then runs without ``fun``'s value checks, which need concrete values); a
        ``fun`` that cannot be traced runs eagerly.
    mode : {"forward-over-reverse", "reverse-over-reverse"}
        Forward-mode derivative of the gradient (about 2x a gradient on an MLP) or
        reverse-mode gradient of :math:`\langle \nabla f, v\rangle`.

    Returns
    -------
    list of arrays
        :math:`H v`, shaped like ``params``, on the backend and device of ``params``.

    Raises
    ------
    TypeError
        If the arrays belong to a backend without autodiff here (array_api_strict, CuPy).
    ValueError
        If ``mode`` is unknown.

    Notes
    -----
    .. math::

        H v = \frac{d}{dt}\nabla f(\theta + t v)\Big|_{t=0}
            = \nabla_\theta \langle \nabla f(\theta), v\rangle

    (Pearlmutter, Neural Computation 6(1), 1994). :func:`rso_ref.hessian.hvp` is the
    entry point for losses of the form ``loss(params, *args, xp=...)``.
    """
    check_callable(fun, "fun")
    check_choice(mode, "mode", HVP_MODES)
    engine = _engine(params=params, v=v)
    params, v = list(params), list(v)
    if engine.compiled is not None:
        out = engine.compiled(fun, mode, params, v, args)
        if out is not None:
            return out
    return engine.out(_product(engine, fun, mode)(params, v, *args))


def check_grads(fun: Callable[..., Any], x: Sequence, vjp: Callable[..., Sequence] | None = None,
                *, eps: float = 1e-6, rtol: float = 1e-6, seed: int = 0) -> tuple[float, float]:
    r"""Check a derivative of ``fun`` at ``x`` along random directions.

    Compares :math:`\langle \bar u, v\rangle` with :math:`\bar u = J(x)^\top u` from
    ``vjp`` (or from autograd when ``vjp`` is None) against the central difference
    :math:`\langle u, (f(x+\varepsilon v) - f(x-\varepsilon v)) / 2\varepsilon\rangle`.

    Parameters
    ----------
    fun : callable
        ``fun(x, *, xp) -> array`` written with array-API calls on ``xp``; it receives
        the namespace of ``x``, or :func:`namespace` when ``vjp`` is None.
    x : list of arrays
        Point of evaluation (any backend when ``vjp`` is given; NumPy otherwise).
    vjp : callable, optional
        ``vjp(x, u) -> list`` returning :math:`J(x)^\top u` shaped like ``x`` (for
        example a hand-written backward pass). Default: autograd's VJP of ``fun``
        traced with :func:`namespace`.
    eps : float, default 1e-6
        Finite-difference step. Central differences err by :math:`O(\varepsilon^2)`
        (truncation) plus :math:`O(\delta/\varepsilon)` (round-off, :math:`\delta
        \approx 10^{-16}` in float64): about 1e-10 relative at ``eps=1e-6``.
    rtol : float, default 1e-6
        Allowed relative disagreement, generous over that 1e-10 so that mildly curved
        functions (GELU, softmax) pass while a wrong derivative (off by O(1)) fails.
    seed : int, default 0
        Seed of the host generator drawing ``u`` and ``v``.

    Returns
    -------
    analytic : float
        :math:`\langle u, J v\rangle` from ``vjp``.
    numeric : float
        The central-difference estimate.

    Raises
    ------
    AssertionError
        If ``|analytic - numeric| > rtol * max(|analytic|, |numeric|)``.
    TypeError, ValueError
        If ``fun`` or ``vjp`` is not callable or ``eps``/``rtol`` is not a positive real.
    """
    check_callable(fun, "fun")
    if vjp is not None:
        check_callable(vjp, "vjp")
    eps, rtol = check_positive(eps, "eps"), check_positive(rtol, "rtol")
    x = list(x)
    if vjp is None:
        _check_numpy_tree(x, "x")
    xp = namespace() if vjp is None else backend.array_namespace(*x)
    gen = backend.rng(seed)
    # Host draws, put on the namespace and device of the array each direction pairs with.
    v = [backend.asarray(gen.standard_normal(tuple(xi.shape)), like=xi, dtype=xi.dtype)
         for xi in x]
    y = fun(x, xp=xp)
    u = backend.asarray(gen.standard_normal(tuple(y.shape)), like=x[0], dtype=y.dtype)
    cotangent = _pullback(fun, x, _autograd_engine())[1](u) if vjp is None else list(vjp(x, u))
    analytic = tree.vdot(cotangent, v)
    difference = fun(tree.axpy(eps, v, x), xp=xp) - fun(tree.axpy(-eps, v, x), xp=xp)
    numeric = float(xp.sum(u * difference)) / (2.0 * eps)
    if abs(analytic - numeric) > rtol * max(abs(analytic), abs(numeric)):
        raise AssertionError(
            f"<u, J v> mismatch: analytic {analytic!r} vs central difference {numeric!r} "
            f"(relative error {abs(analytic - numeric) / max(abs(analytic), abs(numeric)):.3e}, "
            f"rtol {rtol:g}, eps {eps:g})"
        )
    return analytic, numeric
