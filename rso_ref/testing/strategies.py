r"""Hypothesis strategies for property tests against rso_ref: problems, models, groupings, options.

A project that tests its own optimizer, model or port against rso_ref draws its cases
here instead of rebuilding them. Each public function below returns a `hypothesis`_
``SearchStrategy``:

=========================  ==========================================================
:func:`spd_quadratics`     :math:`\tfrac12 x^\top A x - b^\top x`, SPD :math:`A` of a set
                           condition number, with :math:`x^\star` and :math:`f^\star`
:func:`convex_problems`    those quadratics, least squares and logistic regression
                           (:mod:`rso_ref.data.convex`), each with its optimum
:func:`reference_problems` the reference problem set (:mod:`rso_ref.testing.problems`)
:func:`arrays`             one array of a shape, entries drawn by hypothesis
:func:`param_lists`        lists of parameter arrays
:func:`gradient_sequences` sequences of gradients shaped like a parameter list
:func:`partitions`         partitions of ``range(n)`` into index lists
:func:`groupings`          every form of ``groups=`` that :func:`rso_ref.rso.rso_step`
                           accepts
:func:`invalid_groupings`  ``groups=`` values that it rejects
:func:`group_weights`      RSO group weights :math:`w`
:func:`mlp_cases`          an MLP with parameters and a batch (:class:`MLPCase`)
:func:`rso_options`        keyword options of :func:`~rso_ref.rso.rso_step`
:func:`optimizer_cases`    ``(name, hyperparameters)`` of
                           :data:`rso_ref.optim.registry.OPTIMIZERS`
=========================  ==========================================================

:func:`spd_quadratic` is the builder behind :func:`spd_quadratics`, callable without
hypothesis.

Conventions: the entries of arrays (parameters, gradients, inputs, targets, directions,
linear terms) are drawn by hypothesis itself, one float at a time, as
``hypothesis.extra.numpy.arrays`` draws them: a failing case shrinks each entry towards
0 and then towards simple values such as 1, independently of every other array, so two
arrays of a case are equal only when the failure needs them equal. ``elements=`` (a
strategy of floats) and ``scale=`` choose the entries. Only structured objects whose
entries hypothesis cannot draw meaningfully come from ``numpy.random.default_rng`` of a
drawn seed: the SPD matrices with a prescribed spectrum (:func:`spd_quadratics`,
:func:`convex_problems`, whose data also fix the optimum they certify) and the
initial weights of :func:`mlp_cases` (the initializer's per-layer scale); each says so.
Host arrays are then moved with ``xp.asarray`` (:func:`rso_ref.backend.asarray`), so
every backend sees the same numbers, and a namespace whose creation functions default
to a device (a test-side device wrapper) gets its arrays there. ``xp=None`` means
NumPy; ``device`` is a device of ``xp`` (default: where ``xp.asarray`` puts arrays);
``dtype`` is ``"float64"`` (default) or ``"float32"``. Weights, options and
hyperparameters are host values (Python numbers, strings, lists). Each strategy's
``repr`` is its call (``param_lists(shapes=[(2, 3)])``).

hypothesis is an optional dependency (the ``testing`` extra): this module imports
without it, and calling any strategy then raises :class:`ImportError` saying to
``pip install 'rso_ref[testing]'``.

.. _hypothesis: https://hypothesis.readthedocs.io

Examples
--------
>>> from hypothesis import given, settings
>>> from rso_ref.lbfgs import minimize
>>> @settings(max_examples=5, deadline=None)
... @given(spd_quadratics(n=(2, 6), cond=(1.0, 1e3)))
... def test_lbfgs_finds_the_minimiser(q):
...     res = minimize(q.value_and_grad, 0.0 * q.x_star, gtol=1e-10)
...     assert abs(res.fun - q.f_star) <= 1e-8 * abs(q.f_star)
>>> test_lbfgs_finds_the_minimiser()
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Sequence

import numpy as np

from .. import backend, tree
from ..data.convex import (ConvexProblem, Quadratic, least_squares, logistic_regression,
                           spd_quadratic)
from ..nn.activations import ACTIVATIONS
from ..nn.losses import LOSSES
from ..nn.mlp import MLP
from ..optim.registry import OPTIMIZERS
from ..rso import W0_CHOICES
from ..validation import check_choice, check_int, check_real
from .problems import Problem, all_problems

__all__ = [
    "Quadratic", "spd_quadratic", "spd_quadratics", "convex_problems", "reference_problems",
    "arrays", "param_lists", "gradient_sequences", "partitions", "groupings",
    "invalid_groupings", "group_weights",
    "MLPCase", "mlp_cases", "rso_options", "optimizer_cases", "CONVEX_KINDS",
]

_INSTALL = "{} needs hypothesis: pip install 'rso_ref[testing]'"

#: Range of the drawn seeds of ``numpy.random.default_rng``.
_SEEDS = (0, 2**32 - 1)

#: The kinds of :func:`convex_problems`.
CONVEX_KINDS = ("quadratic", "least_squares", "logistic_regression")

#: Constructor arguments :func:`optimizer_cases` leaves at their defaults: the model
#: structure of RSO (draw ``groups`` with :func:`groupings` for a given model) and its
#: Wolfe constants and line-search budget (a constrained pair; drawn nowhere).
_LEFT_AT_DEFAULT = ("groups", "layers", "blocks", "c1", "c2", "maxls")


def _require_hypothesis(user: str) -> ModuleType:
    """The hypothesis package, or :class:`ImportError` telling how to install it."""
    try:
        import hypothesis
        import hypothesis.strategies  # noqa: F401 - the submodule the callers use
    except ImportError:
        raise ImportError(_INSTALL.format(user)) from None
    return hypothesis


def _st(user: str) -> ModuleType:
    return _require_hypothesis(user).strategies


def _log_uniform(st: Any, low: float, high: float) -> Any:
    """``10**u`` for ``u`` uniform in ``[log10 low, log10 high]`` (shrinks to ``low``)."""
    return st.floats(math.log10(low), math.log10(high)).map(lambda u: float(10.0 ** u))


def _seeds(st: Any) -> Any:
    return st.integers(*_SEEDS)


def _int_strategy(st: Any, value: Any, name: str, minimum: int) -> Any:
    """An int (fixed), an inclusive ``(low, high)`` pair, or a strategy, as a strategy."""
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int, a (low, high) pair or a strategy, "
                             f"got {value!r}")
        low = check_int(value[0], f"{name}[0]", minimum)
        return st.integers(low, check_int(value[1], f"{name}[1]", low))
    return st.just(check_int(value, name, minimum))


def _check_cond(cond: Any, name: str = "cond") -> float:
    cond = check_real(cond, name)
    if cond < 1.0:
        raise ValueError(f"{name} must be >= 1, got {cond!r}")
    return cond


def _cond_strategy(st: Any, value: Any) -> Any:
    """A condition number (fixed), a ``(low, high)`` pair drawn log-uniformly, or a strategy."""
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"cond must be a number, a (low, high) pair or a strategy, "
                             f"got {value!r}")
        low = _check_cond(value[0], "cond[0]")
        high = _check_cond(value[1], "cond[1]")
        if high < low:
            raise ValueError(f"cond[1] must be >= cond[0], got {value!r}")
        return _log_uniform(st, low, high)
    return st.just(_check_cond(value))


def _placement(xp: ModuleType | None, dtype: Any, device: Any) -> Callable[[Any], Any]:
    """``move(host_array)``: the array on ``xp`` (NumPy by default), ``device``, in the
    checked floating ``dtype`` (float64 by default)."""
    xp = backend.namespace("numpy") if xp is None else xp
    dtype = backend.resolve_dtype(xp, dtype, device=device)
    return lambda host: backend.asarray(host, xp=xp, dtype=dtype, device=device)


def _selection(value: Any, name: str, choices: Sequence[str]) -> list[str]:
    """``None`` (every choice), one choice, or a non-empty sequence of choices."""
    if value is None:
        return list(choices)
    if isinstance(value, str):
        return [check_choice(value, name, choices)]
    picked = [check_choice(v, f"{name}[{i}]", choices) for i, v in enumerate(value)]
    if not picked:
        raise ValueError(f"{name} must name at least one of {tuple(choices)}")
    return picked


def _shown(value: Any) -> Any:
    """An argument as a strategy's repr shows it: a namespace by its name."""
    return getattr(value, "__name__", value) if isinstance(value, ModuleType) else value


def _named(st: Any, public: str, draw_fn: Callable | None = None, strategy: Any = None,
           **shown: Any) -> Any:
    """A strategy whose repr is the public call, ``public(arg=value, ...)`` (the arguments
    in ``shown`` that are not None), drawing with ``draw_fn(draw)`` or from ``strategy``.

    hypothesis names a composite strategy after its function; the public strategies are
    built from inner functions, which would show as ``draw_params()``.
    """
    def named(draw: Callable, **_: Any) -> Any:
        return draw_fn(draw) if draw_fn is not None else draw(strategy)

    named.__name__ = named.__qualname__ = public
    return st.composite(named)(**{k: _shown(v) for k, v in shown.items() if v is not None})


#: Default entries of drawn arrays, before ``scale``: finite floats in [-1, 1] without
#: subnormals, shrinking towards 0 and then towards simple values such as 1.
_ELEMENT_BOUND = 1.0
#: Default entries smaller than this in magnitude are drawn as 0: their products with
#: weights underflow to subnormals, which XLA on CPU flushes to zero, so two correct
#: backends would disagree at a ReLU kink (hypothesis found X = 6.9e-308 doing that).
_ELEMENT_TINY = 1e-150


def _elements(st: Any, elements: Any, scale: Any) -> Any:
    """Strategy of host entries: ``elements`` (default floats in [-1, 1]) times ``scale``."""
    if elements is None:
        elements = st.floats(-_ELEMENT_BOUND, _ELEMENT_BOUND, allow_subnormal=False).map(
            lambda v: 0.0 if abs(v) < _ELEMENT_TINY else v)
    elif not isinstance(elements, st.SearchStrategy):
        raise TypeError(f"elements must be a hypothesis strategy of floats, got {elements!r}")
    scale = check_real(scale, "scale")
    if not scale > 0.0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    return elements if scale == 1.0 else elements.map(lambda v: float(v) * scale)


def _host_array(shape: tuple, entries: Any) -> Any:
    """Strategy of one host float64 array of ``shape``, each entry drawn by ``entries``."""
    from hypothesis.extra.numpy import arrays as numpy_arrays

    return numpy_arrays(np.float64, tuple(shape), elements=entries)


# ------------------------------------------------------------------------ problems ----

def spd_quadratics(n: Any = (1, 8), cond: Any = (1.0, 1e4), *, xp: ModuleType | None = None,
                   dtype: Any = None, device: Any = None) -> Any:
    r"""Strategy of :class:`Quadratic` problems (:func:`spd_quadratic` of a drawn seed).

    ``A`` and ``b`` come from ``numpy.random.default_rng`` of a drawn seed, not from
    entries that hypothesis draws: ``A`` must have the prescribed spectrum (a Haar-random
    rotation of it), and ``b`` and the certified ``x_star`` come with it from
    :func:`spd_quadratic`. A failing case shrinks towards small ``n``, small
    :math:`\kappa` and seed 0.

    Parameters
    ----------
    n : int, (low, high) or strategy of int, default (1, 8)
        The dimension: fixed, drawn from the inclusive range, or drawn by the strategy.
    cond : float, (low, high) or strategy of float, default (1, 1e4)
        The condition number :math:`\kappa \ge 1`: fixed, drawn log-uniformly from the
        range, or drawn by the strategy. A drawn ``n = 1`` has :math:`\kappa = 1`.
    xp, dtype, device : optional
        Namespace, floating dtype and device of the arrays (module conventions).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of :class:`Quadratic`.

    Raises
    ------
    TypeError, ValueError
        For a bad ``n``, ``cond`` (range) or ``dtype``, named.
    """
    st = _st("spd_quadratics")
    sizes, conds = _int_strategy(st, n, "n", 1), _cond_strategy(st, cond)
    _placement(xp, dtype, device)

    def draw_quadratic(draw: Callable) -> Quadratic:
        size = draw(sizes)
        kappa = draw(conds) if size > 1 else 1.0
        return spd_quadratic(size, kappa, draw(_seeds(st)), xp=xp, dtype=dtype, device=device)

    return _named(st, "spd_quadratics", draw_quadratic, n=n, cond=cond, xp=xp, dtype=dtype,
                  device=device)


def convex_problems(kinds: Any = None, *, xp: ModuleType | None = None, dtype: Any = None,
                    device: Any = None) -> Any:
    r"""Strategy of strongly convex problems with a known optimum.

    Every one is a :class:`~rso_ref.data.convex.ConvexProblem` (``x0``, ``value_and_grad``,
    ``A``, ``b``, ``x_star``, ``f_star``, ``mu``, ``L``, ``cond``: the protocol of
    :func:`reference_problems` too) with :math:`d` = 1-6 unknowns and condition number
    :math:`\kappa` log-uniform in :math:`[1, 10^3]` (1 when :math:`d = 1`). Their data
    come from ``numpy.random.default_rng`` of a drawn seed (the builders prescribe the
    spectrum and certify the optimum of what they draw):

    ``"quadratic"``
        :func:`spd_quadratic`.
    ``"least_squares"``
        :func:`rso_ref.data.convex.least_squares` with :math:`d` to :math:`d + 10`
        rows, largest curvature ``L`` log-uniform in [0.1, 10], ``noise`` in [0, 1].
    ``"logistic_regression"``
        :func:`rso_ref.data.convex.logistic_regression` with :math:`d + 10` to
        :math:`d + 30` examples (few examples all of one label would leave
        :math:`\nabla f(0) = 0`, which that builder refuses to certify), ``lam``
        log-uniform in [1e-3, 1], ``top`` in [0.1, 10], ``signal`` in [0, 4].

    Parameters
    ----------
    kinds : str or sequence of str, optional
        Kinds to draw from (:data:`CONVEX_KINDS`; default all).
    xp, dtype, device : optional
        Namespace, floating dtype and device of the arrays (module conventions).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of :class:`~rso_ref.data.convex.ConvexProblem`.
    """
    st = _st("convex_problems")
    chosen = _selection(kinds, "kinds", CONVEX_KINDS)
    _placement(xp, dtype, device)
    place = {"xp": xp, "dtype": dtype, "device": device}

    def draw_problem(draw: Callable) -> ConvexProblem:
        kind = draw(st.sampled_from(chosen))
        d = draw(st.integers(1, 6))
        cond = draw(_log_uniform(st, 1.0, 1e3)) if d > 1 else 1.0
        seed = draw(_seeds(st))
        if kind == "quadratic":
            return spd_quadratic(d, cond, seed, **place)
        if kind == "least_squares":
            return least_squares(draw(st.integers(d, d + 10)), d, cond=cond,
                                 L=draw(_log_uniform(st, 0.1, 10.0)),
                                 noise=draw(st.floats(0.0, 1.0)), seed=seed, **place)
        return logistic_regression(draw(st.integers(d + 10, d + 30)), d, cond=cond,
                                   lam=draw(_log_uniform(st, 1e-3, 1.0)),
                                   top=draw(_log_uniform(st, 0.1, 10.0)),
                                   signal=draw(st.floats(0.0, 4.0)), seed=seed, **place)

    return _named(st, "convex_problems", draw_problem, kinds=kinds, xp=xp, dtype=dtype,
                  device=device)


def _problem_named(name: str) -> Problem:
    """A fresh copy of the reference problem ``name`` (a test may not share arrays)."""
    return next(p for p in all_problems() if p.name == name)


def reference_problems(names: Any = None) -> Any:
    r"""Strategy of problems of the reference set (:func:`rso_ref.testing.problems.all_problems`).

    Each is a :class:`~rso_ref.testing.problems.Problem` (``x0``, ``value_and_grad``,
    ``value``, ``grad``, ``x_star``, ``f_star``), built afresh for every example: the
    protocol of :func:`convex_problems` too, so one test takes either (minimise
    ``problem.value_and_grad`` from ``problem.x0``). Problems are written for any
    namespace: ``value_and_grad`` follows its argument's, ``problem.fun(xp)`` is the
    oracle on ``xp``.

    (Named ``reference_problems`` so as not to clash with the module
    :mod:`rso_ref.testing.problems` it draws from.)

    Parameters
    ----------
    names : str or sequence of str, optional
        Names of the problems to draw from (``problem.name``; default all of them).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of :class:`~rso_ref.testing.problems.Problem`.
    """
    st = _st("reference_problems")
    chosen = _selection(names, "names", [p.name for p in all_problems()])
    return _named(st, "reference_problems", strategy=st.sampled_from(chosen).map(_problem_named),
                  names=names)


# ------------------------------------------------------------ parameters, groupings ----

def _check_shapes(shapes: Any) -> list[tuple[int, ...]]:
    if isinstance(shapes, str) or not isinstance(shapes, Sequence):
        raise TypeError(f"shapes must be a sequence of shapes, got {shapes!r}")
    return [_check_shape(shape, f"shapes[{i}]") for i, shape in enumerate(shapes)]


def _check_shape(shape: Any, name: str) -> tuple[int, ...]:
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of ints, got {shape!r}")
    return tuple(check_int(s, f"{name}[{j}]") for j, s in enumerate(shape))


def arrays(shape: Any, *, elements: Any = None, scale: float = 1.0, dtype: Any = None,
           xp: ModuleType | None = None, device: Any = None) -> Any:
    r"""Strategy of one array whose entries hypothesis draws.

    The host array comes from ``hypothesis.extra.numpy.arrays`` (float64), so a failing
    example shrinks entry by entry towards 0 and then towards simple values such as 1;
    it is then moved to ``xp``/``device`` in ``dtype``.

    Parameters
    ----------
    shape : tuple of int, or strategy of them
        The shape, fixed or drawn.
    elements : strategy of float, optional
        Draws each entry. Default: finite floats in [-1, 1], no subnormals, and 0 for any
        entry below 1e-150 in magnitude (its products would underflow).
    scale : float, default 1.0
        Factor on every entry (``scale=1e-3`` for small gradients, say), > 0.
    dtype, xp, device : optional
        Floating dtype, namespace and device of the array (module conventions).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of arrays.

    Raises
    ------
    TypeError, ValueError
        For a bad ``shape``, ``elements``, ``scale`` or ``dtype``, named.

    Examples
    --------
    >>> from hypothesis import strategies as st
    >>> arrays((2, 3), elements=st.floats(0.0, 10.0), scale=0.5)
    arrays(elements=floats(min_value=0.0, max_value=10.0), scale=0.5, shape=(2, 3))
    """
    st = _st("arrays")
    shapes = shape if isinstance(shape, st.SearchStrategy) else st.just(
        _check_shape(shape, "shape"))
    entries = _elements(st, elements, scale)
    move = _placement(xp, dtype, device)

    def draw_array(draw: Callable) -> Any:
        return move(draw(_host_array(draw(shapes), entries)))

    return _named(st, "arrays", draw_array, shape=shape, elements=elements,
                  scale=None if scale == 1.0 else scale, dtype=dtype, xp=xp, device=device)


def param_lists(shapes: Any = None, *, elements: Any = None, scale: float = 1.0,
                dtype: Any = None, xp: ModuleType | None = None, device: Any = None) -> Any:
    r"""Strategy of parameter lists: arrays whose entries hypothesis draws (:func:`arrays`).

    Parameters
    ----------
    shapes : sequence of tuples, or strategy of them, optional
        The shapes of the arrays, fixed or drawn. Default: 1-4 arrays of 0-3 dimensions
        with sides 1-4 (``hypothesis.extra.numpy.array_shapes``; 0-d arrays, scalar
        parameters such as a learned temperature, included).
    elements : strategy of float, optional
        Draws each entry. Default: finite floats in [-1, 1], no subnormals, and 0 for any
        entry below 1e-150 in magnitude (its products would underflow).
    scale : float, default 1.0
        Factor on every entry, > 0.
    dtype, xp, device : optional
        Floating dtype, namespace and device of the arrays (module conventions).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of lists of arrays.
    """
    st = _st("param_lists")
    shown = shapes
    if shapes is None:
        from hypothesis.extra.numpy import array_shapes

        shapes = st.lists(array_shapes(min_dims=0, max_dims=3, max_side=4), min_size=1,
                          max_size=4)
    elif not isinstance(shapes, st.SearchStrategy):
        shapes = st.just(_check_shapes(shapes))
    entries = _elements(st, elements, scale)
    move = _placement(xp, dtype, device)

    def draw_params(draw: Callable) -> list:
        return [move(draw(_host_array(s, entries))) for s in draw(shapes)]

    return _named(st, "param_lists", draw_params, shapes=shown, elements=elements,
                  scale=None if scale == 1.0 else scale, dtype=dtype, xp=xp, device=device)


def gradient_sequences(like: Any, steps: Any = (1, 6), *, elements: Any = None,
                       scale: float = 1.0, dtype: Any = None, xp: ModuleType | None = None,
                       device: Any = None) -> Any:
    r"""Strategy of gradient sequences for a parameter list: ``T`` lists shaped like ``like``.

    What an optimizer test feeds to ``step`` ``T`` times. Every entry of every gradient is
    drawn by hypothesis independently of the parameters, so a minimal failing example has
    ``grads != params`` whenever the failure needs it (a weight-decay term applied to the
    wrong one, say) instead of both shrinking to the same array.

    Parameters
    ----------
    like : array or list of arrays
        The parameters (or one array): the gradients take their shapes and, unless
        ``xp``, ``device`` or ``dtype`` is given, their namespace, device and dtype.
    steps : int, (low, high) or strategy of int, default (1, 6)
        The length ``T`` of the sequence, at least 1.
    elements : strategy of float, optional
        Draws each entry. Default: finite floats in [-1, 1], no subnormals, and 0 for any
        entry below 1e-150 in magnitude (its products would underflow).
    scale : float, default 1.0
        Factor on every entry, > 0.
    dtype, xp, device : optional
        Floating dtype, namespace and device (default those of ``like``).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of lists of ``T`` lists of arrays (of ``T`` arrays when ``like`` is one array).

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> params = [np.zeros((2, 3)), np.zeros(3)]
    >>> @settings(max_examples=5)
    ... @given(gradient_sequences(params, steps=3))
    ... def test_three_steps(grads):
    ...     assert len(grads) == 3 and [g.shape for g in grads[0]] == [(2, 3), (3,)]
    >>> test_three_steps()
    """
    st = _st("gradient_sequences")
    single = not isinstance(like, (list, tuple))
    leaves = [like] if single else list(like)
    if not leaves:
        raise ValueError("like must hold at least one array")
    try:
        shapes = [tuple(int(d) for d in leaf.shape) for leaf in leaves]
        if xp is None:
            xp = backend.array_namespace(*leaves)
            device = backend.device(leaves[0]) if device is None else device
            dtype = leaves[0].dtype if dtype is None else dtype
    except (AttributeError, TypeError) as exc:
        raise TypeError(f"like must be an array or a list of arrays: {exc}") from None
    lengths = _int_strategy(st, steps, "steps", 1)
    entries = _elements(st, elements, scale)
    move = _placement(xp, dtype, device)

    def draw_sequence(draw: Callable) -> list:
        seq = [[move(draw(_host_array(s, entries))) for s in shapes]
               for _ in range(draw(lengths))]
        return [g[0] for g in seq] if single else seq

    return _named(st, "gradient_sequences", draw_sequence, like=shapes,
                  steps=steps, elements=elements, scale=None if scale == 1.0 else scale)


def partitions(n_params: int) -> Any:
    """Strategy of partitions of ``range(n_params)``: lists of non-empty, sorted index lists.

    Indices are shuffled and cut at drawn places, so groups are of any size and in any
    order; shrinks towards one group ``[[0, 1, ..., n_params - 1]]``.

    Parameters
    ----------
    n_params : int
        The number of parameter arrays, at least 1.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of lists of lists of int.
    """
    st = _st("partitions")
    n = check_int(n_params, "n_params", 1)

    def draw_partition(draw: Callable) -> list[list[int]]:
        order = draw(st.permutations(range(n)))
        cuts = draw(st.lists(st.booleans(), min_size=n - 1, max_size=n - 1))
        groups, current = [], [order[0]]
        for index, cut in zip(order[1:], cuts):
            if cut:
                groups.append(sorted(current))
                current = []
            current.append(index)
        return groups + [sorted(current)]

    return _named(st, "partitions", draw_partition, n_params=n)


def _structure(value: Any, name: str, n: int) -> list[list[int]]:
    try:
        return tree.validate_groups(value, n)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name} is not a grouping of {n} params: {exc}") from None


def groupings(n_params: int, *, layers: Sequence | None = None,
              blocks: Sequence | None = None) -> Any:
    """Strategy of ``groups=`` values that :func:`rso_ref.rso.rso_step` accepts.

    ``None`` (one group per array) and explicit :func:`partitions`; with ``layers``
    also ``"layer"`` and ``"uniform:N"`` (``N`` from 1 to one more than the number of
    layers), with ``blocks`` also ``"block"``. Pass the same ``layers``/``blocks`` to
    ``rso_step`` (e.g. ``model.layers()``, ``model.blocks()``).

    Parameters
    ----------
    n_params : int
        The number of parameter arrays, at least 1.
    layers, blocks : list of lists of int, optional
        The model's structure, for the string forms.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of None, lists of lists of int, and strings.

    Raises
    ------
    TypeError, ValueError
        For a bad ``n_params``, or ``layers``/``blocks`` that are not groupings of
        ``n_params`` arrays.
    """
    st = _st("groupings")
    n = check_int(n_params, "n_params", 1)
    forms = [st.none(), partitions(n)]
    if layers is not None:
        count = len(_structure(layers, "layers", n))
        forms += [st.just("layer"), st.integers(1, count + 1).map(lambda k: f"uniform:{k}")]
    if blocks is not None:
        _structure(blocks, "blocks", n)
        forms.append(st.just("block"))
    return _named(st, "groupings", strategy=st.one_of(*forms), n_params=n, layers=layers,
                  blocks=blocks)


def invalid_groupings(n_params: int) -> Any:
    """Strategy of ``groups=`` values that :func:`rso_ref.rso.rso_step` rejects.

    Rejected for any model with ``n_params`` parameter arrays; each raises
    :class:`ValueError` or :class:`TypeError` whose message starts with ``groups``: no
    group (``[]``); a partition with an empty group inserted, an index repeated (in
    another group or its own), an index out of range (``n_params`` and above, or
    negative), or a non-integer index (float, string, bool, None); an unknown string
    (``"layers"``, ``"uniform:0"``, ...); a value of the wrong type (a number, a flat
    list of indices). Strings that need a model structure (``"layer"``, ``"block"``) are
    valid forms and not drawn.

    Parameters
    ----------
    n_params : int
        The number of parameter arrays, at least 1.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of invalid ``groups`` values.
    """
    st = _st("invalid_groupings")
    n = check_int(n_params, "n_params", 1)
    valid = partitions(n)

    @st.composite
    def with_member(draw: Callable, member: Any) -> list:
        """A partition with ``member`` (drawn) added to one of its groups."""
        groups = draw(valid)
        at = draw(st.integers(0, len(groups) - 1))
        groups[at] = groups[at] + [draw(member)]
        return groups

    @st.composite
    def with_empty_group(draw: Callable) -> list:
        groups = draw(valid)
        groups.insert(draw(st.integers(0, len(groups))), [])
        return groups

    out_of_range = st.one_of(st.integers(n, n + 10), st.integers(-10, -1))
    non_integer = st.sampled_from([0.0, 1.5, "0", None, True, False])
    bad_strings = st.sampled_from(["", "layers", "blocks", "uniform", "uniform:",
                                   "uniform:0", "uniform:-1", "uniform:1.5", "all"])
    wrong_types = st.sampled_from([0, 1.5, True, list(range(n))])
    invalid = st.one_of(st.just([]), with_empty_group(), with_member(st.integers(0, n - 1)),
                        with_member(out_of_range), with_member(non_integer), bad_strings,
                        wrong_types.map(lambda v: list(v) if isinstance(v, list) else v))
    return _named(st, "invalid_groupings", strategy=invalid, n_params=n)


def group_weights(n_groups: int) -> Any:
    """Strategy of RSO weights :math:`w`: lists of ``n_groups`` floats in [-1, 2] (host).

    Parameters
    ----------
    n_groups : int
        The number of groups :math:`L`, at least 1.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of lists of floats.
    """
    st = _st("group_weights")
    n = check_int(n_groups, "n_groups", 1)
    return _named(st, "group_weights", strategy=st.lists(st.floats(-1.0, 2.0), min_size=n,
                                                         max_size=n), n_groups=n)


# -------------------------------------------------------------------------- models ----

@dataclass(frozen=True)
class MLPCase:
    """A drawn MLP with its parameters and one batch.

    Attributes
    ----------
    model : rso_ref.nn.MLP
        ``sizes``, ``activation`` and ``loss_kind`` as drawn.
    params : list of arrays
        ``[W1, b1, ..., WL, bL]`` on the case's namespace and device.
    X : array, shape (n, sizes[0])
        Standard normal rows.
    y : array
        Integer labels of shape ``(n,)`` for cross-entropy (the device's index dtype),
        float targets of shape ``(n, sizes[-1])`` for MSE.
    """

    model: MLP
    params: list
    X: Any
    y: Any

    def value_and_grad(self, params: Sequence) -> tuple[float, list]:
        """The oracle of this batch: ``model.value_and_grad(params, X, y)``.

        Parameters
        ----------
        params : list of arrays
            Parameters shaped as :attr:`params`.

        Returns
        -------
        loss : float
            The batch-mean loss.
        grads : list of arrays
            Its gradient, like ``params``.
        """
        return self.model.value_and_grad(list(params), self.X, self.y)


def mlp_cases(*, xp: ModuleType | None = None, dtype: Any = None, device: Any = None) -> Any:
    r"""Strategy of :class:`MLPCase`.

    MLPs with 1-4 hidden layers of widths 1-6 (input 2-6, output 2-5 units), every
    activation of :data:`rso_ref.nn.activations.ACTIVATIONS` and loss of
    :data:`rso_ref.nn.losses.LOSSES`, a batch of 2-8 rows with entries in [-2, 2],
    labels or targets in [-2, 2], and biases in [-0.1, 0.1], all drawn by hypothesis
    (:func:`arrays`; they shrink towards 0 independently of each other). The weights are
    :meth:`~rso_ref.nn.MLP.init` of a drawn seed: their scale per layer is the
    initializer's, which entries drawn one by one would not keep.

    Parameters
    ----------
    xp, dtype, device : optional
        Namespace, floating dtype and device of the arrays (module conventions).
        Labels take the device's index dtype.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of :class:`MLPCase`.
    """
    st = _st("mlp_cases")
    move = _placement(xp, dtype, device)
    label_xp = backend.namespace("numpy") if xp is None else xp
    label_dtype = backend.index_dtype(label_xp, device)
    data, bias = _elements(st, None, 2.0), _elements(st, None, 0.1)

    def draw_case(draw: Callable) -> MLPCase:
        hidden = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
        sizes = (draw(st.integers(2, 6)), *hidden, draw(st.integers(2, 5)))
        activation = draw(st.sampled_from(sorted(ACTIVATIONS)))
        loss = draw(st.sampled_from(sorted(LOSSES)))
        seed, batch = draw(_seeds(st)), draw(st.integers(2, 8))
        model = MLP(sizes, activation=activation, loss=loss)
        params = [move(p) if p.ndim == 2 else move(draw(_host_array(p.shape, bias)))
                  for p in model.init(seed=seed)]
        X = move(draw(_host_array((batch, sizes[0]), data)))
        if loss == "cross_entropy":
            labels = draw(st.lists(st.integers(0, sizes[-1] - 1), min_size=batch,
                                   max_size=batch))
            y = label_xp.asarray(np.asarray(labels, dtype=np.int64), dtype=label_dtype,
                                 device=device)
        else:
            y = move(draw(_host_array((batch, sizes[-1]), data)))
        return MLPCase(model, params, X, y)

    return _named(st, "mlp_cases", draw_case, xp=xp, dtype=dtype, device=device)


# ------------------------------------------------------------------------- options ----

def _rso_option_strategies(st: Any, n_groups: int | None) -> dict:
    w0 = st.sampled_from(W0_CHOICES)
    if n_groups is not None:
        w0 = st.one_of(w0, group_weights(n_groups))
    return {"lr": _log_uniform(st, 1e-3, 10.0), "meta_iters": st.integers(0, 10), "w0": w0,
            "normalize": st.booleans(), "safeguard": st.booleans(), "m": st.integers(1, 10)}


def rso_options(n_groups: int | None = None) -> Any:
    r"""Strategy of keyword dicts for :func:`rso_ref.rso.rso_step`.

    ``lr`` log-uniform over four decades (1e-3 to 10), ``meta_iters`` :math:`K` = 0-10,
    ``w0`` every one of :data:`rso_ref.rso.W0_CHOICES` (and, given ``n_groups``,
    explicit :func:`group_weights`), ``normalize``, ``safeguard``, L-BFGS memory ``m`` =
    1-10. ``groups`` is not among them: draw it with :func:`groupings`.

    Parameters
    ----------
    n_groups : int, optional
        The number of groups :math:`L` of the step, for explicit ``w0``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of dicts with keys ``lr``, ``meta_iters``, ``w0``, ``normalize``, ``safeguard``,
        ``m``.
    """
    st = _st("rso_options")
    if n_groups is not None:
        check_int(n_groups, "n_groups", 1)
    return _named(st, "rso_options",
                  strategy=st.fixed_dictionaries(_rso_option_strategies(st, n_groups)),
                  n_groups=n_groups)


def _hyperparameters(st: Any, name: str) -> dict:
    """Hyperparameter -> strategy of its values, for optimizer ``name``."""
    fraction = st.floats(0.0, 0.99)
    decay = _log_uniform(st, 1e-4, 0.1)
    betas = st.tuples(st.floats(0.5, 0.99), st.floats(0.9, 0.9999))
    eps = _log_uniform(st, 1e-10, 1e-4)
    table = {"lr": _log_uniform(st, 1e-4, 1.0), "adam_lr": _log_uniform(st, 1e-4, 1e-1),
             "momentum": fraction, "dampening": fraction, "alpha": st.floats(0.5, 0.99),
             "betas": betas, "adam_betas": betas, "eps": eps, "adam_eps": eps,
             "weight_decay": decay, "adam_weight_decay": decay, "trust_coefficient": decay,
             "nesterov": st.booleans(), "amsgrad": st.booleans(), "centered": st.booleans(),
             "ns_steps": st.integers(1, 6)}
    if name == "rso":
        table.update(_rso_option_strategies(st, None), meta_every=st.integers(1, 3),
                     warmup_steps=st.integers(0, 2))
    return table


def optimizer_cases(name: Any = None) -> Any:
    r"""Strategy of ``(name, hyperparameters)`` for :data:`rso_ref.optim.registry.OPTIMIZERS`.

    ``OPTIMIZERS[name](**hyperparameters)`` is a valid optimizer. Each hyperparameter
    without a default is drawn; each other one is left out (its default) or drawn:
    learning rates log-uniform in [1e-4, 1] (Muon's ``adam_lr`` [1e-4, 0.1]; RSO's as
    :func:`rso_options`), momenta and dampening in [0, 0.99], RMSprop's ``alpha`` in
    [0.5, 0.99], ``betas`` in [0.5, 0.99] x [0.9, 0.9999], ``eps`` log-uniform in
    [1e-10, 1e-4], weight decays and the LARS trust coefficient in [1e-4, 0.1], flags,
    Newton-Schulz steps 1-6, RSO's options of :func:`rso_options` (named ``w0``) with
    ``meta_every`` 1-3 and ``warmup_steps`` 0-2. SGD with ``nesterov=True`` gets
    momentum > 0 and no dampening (the form's condition). RSO's ``groups``, ``layers``,
    ``blocks``, ``c1``, ``c2`` and ``maxls`` are left at their defaults.

    Parameters
    ----------
    name : str or sequence of str, optional
        The optimizer(s) to draw from (keys of ``OPTIMIZERS``; default all).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of pairs ``(name, dict)``.
    """
    st = _st("optimizer_cases")
    names = _selection(name, "name", sorted(OPTIMIZERS))
    tables = {key: _hyperparameters(st, key) for key in names}

    def draw_case(draw: Callable) -> tuple[str, dict]:
        key = draw(st.sampled_from(names))
        hyper = {}
        for arg, param in inspect.signature(OPTIMIZERS[key]).parameters.items():
            if arg in _LEFT_AT_DEFAULT:
                continue
            if param.default is inspect.Parameter.empty or draw(st.booleans()):
                hyper[arg] = draw(tables[key][arg])
        if key == "sgd" and hyper.get("nesterov"):
            hyper.pop("dampening", None)
            if not hyper.get("momentum"):
                hyper["momentum"] = draw(st.floats(0.01, 0.99))
        return key, hyper

    return _named(st, "optimizer_cases", draw_case, name=name)
