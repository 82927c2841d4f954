r"""Hypothesis strategies for property tests against rso_ref: problems, models, groupings, options.

A project that tests its own optimizer, model or port against rso_ref draws its cases
here instead of rebuilding them. Each public function below returns a `hypothesis`_
``SearchStrategy``:

=========================  ==========================================================
:func:`spd_quadratics`     :math:`\tfrac12 x^\top A x - b^\top x`, SPD :math:`A` of a set
                           condition number, with :math:`x^\star` and :math:`f^\star`
:func:`convex_problems`    those quadratics, least squares and logistic regression
                           (:mod:`rso_ref.data.convex`), each with its optimum
:func:`problems`           the reference problem set (:mod:`rso_ref.testing.problems`)
:func:`param_lists`        lists of parameter arrays
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

Conventions: every array is drawn on the host from ``numpy.random.default_rng`` of a
drawn seed and then moved with ``xp.asarray`` (:func:`rso_ref.backend.asarray`), so a
case shrinks towards small sizes and seed 0, every backend sees the same numbers, and a
namespace whose creation functions default to a device (a test-side device wrapper)
gets its arrays there. ``xp=None`` means NumPy; ``device`` is a device of ``xp``
(default: where ``xp.asarray`` puts arrays); ``dtype`` is ``"float64"`` (default) or
``"float32"``. Weights, options and hyperparameters are host values (Python numbers,
strings, lists).

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
from ..golden.cases import mlp_params
from ..nn.activations import ACTIVATIONS
from ..nn.losses import LOSSES
from ..nn.mlp import MLP
from ..optim.registry import OPTIMIZERS
from ..rso import W0_CHOICES
from ..validation import check_choice, check_int, check_real
from .problems import Problem, all_problems

__all__ = [
    "Quadratic", "spd_quadratic", "spd_quadratics", "convex_problems", "problems",
    "param_lists", "partitions", "groupings", "invalid_groupings", "group_weights",
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


# ------------------------------------------------------------------------ problems ----

def spd_quadratics(n: Any = (1, 8), cond: Any = (1.0, 1e4), *, xp: ModuleType | None = None,
                   dtype: Any = None, device: Any = None) -> Any:
    r"""Strategy of :class:`Quadratic` problems (:func:`spd_quadratic` of a drawn seed).

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

    @st.composite
    def draw_quadratic(draw: Callable) -> Quadratic:
        size = draw(sizes)
        kappa = draw(conds) if size > 1 else 1.0
        return spd_quadratic(size, kappa, draw(_seeds(st)), xp=xp, dtype=dtype, device=device)

    return draw_quadratic()


def convex_problems(kinds: Any = None, *, xp: ModuleType | None = None, dtype: Any = None,
                    device: Any = None) -> Any:
    r"""Strategy of strongly convex problems with a known optimum.

    Every one is a :class:`~rso_ref.data.convex.ConvexProblem` (``A``, ``b``, ``x_star``,
    ``f_star``, ``mu``, ``L``, ``cond``, ``value_and_grad``) with :math:`d` = 1-6
    unknowns and condition number :math:`\kappa` log-uniform in :math:`[1, 10^3]`
    (1 when :math:`d = 1`):

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
    kinds = _selection(kinds, "kinds", CONVEX_KINDS)
    _placement(xp, dtype, device)
    place = {"xp": xp, "dtype": dtype, "device": device}

    @st.composite
    def draw_problem(draw: Callable) -> ConvexProblem:
        kind = draw(st.sampled_from(kinds))
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

    return draw_problem()


def _problem_named(name: str) -> Problem:
    """A fresh copy of the reference problem ``name`` (a test may not share arrays)."""
    return next(p for p in all_problems() if p.name == name)


def problems(names: Any = None) -> Any:
    r"""Strategy of problems of the reference set (:func:`rso_ref.testing.problems.all_problems`).

    Each is a :class:`~rso_ref.testing.problems.Problem` (``x0``, ``value``, ``grad``,
    ``x_star``, ``f_star``), built afresh for every example. Problems are written for
    any namespace: minimise ``problem.fun(xp)`` from ``xp.asarray(problem.x0)``.

    Parameters
    ----------
    names : str or sequence of str, optional
        Names of the problems to draw from (``problem.name``; default all of them).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of :class:`~rso_ref.testing.problems.Problem`.
    """
    st = _st("problems")
    names = _selection(names, "names", [p.name for p in all_problems()])
    return st.sampled_from(names).map(_problem_named)


# ------------------------------------------------------------ parameters, groupings ----

def _check_shapes(shapes: Any) -> list[tuple[int, ...]]:
    if isinstance(shapes, str) or not isinstance(shapes, Sequence):
        raise TypeError(f"shapes must be a sequence of shapes, got {shapes!r}")
    checked = []
    for i, shape in enumerate(shapes):
        if not isinstance(shape, (tuple, list)):
            raise TypeError(f"shapes[{i}] must be a tuple of ints, got {shape!r}")
        checked.append(tuple(check_int(s, f"shapes[{i}][{j}]") for j, s in enumerate(shape)))
    return checked


def param_lists(shapes: Any = None, *, dtype: Any = None, xp: ModuleType | None = None,
                device: Any = None) -> Any:
    r"""Strategy of parameter lists: arrays of standard normal entries.

    Parameters
    ----------
    shapes : sequence of tuples, or strategy of them, optional
        The shapes of the arrays, fixed or drawn. Default: 1-4 arrays of 0-3 dimensions
        with sides 1-4 (``hypothesis.extra.numpy.array_shapes``; 0-d arrays, scalar
        parameters such as a learned temperature, included).
    dtype, xp, device : optional
        Floating dtype, namespace and device of the arrays (module conventions).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of lists of arrays.
    """
    st = _st("param_lists")
    if shapes is None:
        from hypothesis.extra.numpy import array_shapes

        shapes = st.lists(array_shapes(min_dims=0, max_dims=3, max_side=4), min_size=1,
                          max_size=4)
    elif not isinstance(shapes, st.SearchStrategy):
        shapes = st.just(_check_shapes(shapes))
    move = _placement(xp, dtype, device)

    @st.composite
    def draw_params(draw: Callable) -> list:
        drawn = draw(shapes)
        gen = np.random.default_rng(draw(_seeds(st)))
        return [move(np.asarray(gen.standard_normal(tuple(s)))) for s in drawn]

    return draw_params()


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

    @st.composite
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

    return draw_partition()


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
    return st.one_of(*forms)


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
    return st.one_of(st.just([]), with_empty_group(), with_member(st.integers(0, n - 1)),
                     with_member(out_of_range), with_member(non_integer), bad_strings,
                     wrong_types.map(lambda v: list(v) if isinstance(v, list) else v))


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
    return st.lists(st.floats(-1.0, 2.0), min_size=n, max_size=n)


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
    :data:`rso_ref.nn.losses.LOSSES`, a batch of 2-8 standard normal rows, parameters
    from :func:`rso_ref.golden.cases.mlp_params` (:meth:`~rso_ref.nn.MLP.init` with
    N(0, 0.1²) biases: a zero bias hides bugs), uniform labels or standard normal targets.

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

    @st.composite
    def draw_case(draw: Callable) -> MLPCase:
        hidden = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
        sizes = (draw(st.integers(2, 6)), *hidden, draw(st.integers(2, 5)))
        activation = draw(st.sampled_from(sorted(ACTIVATIONS)))
        loss = draw(st.sampled_from(sorted(LOSSES)))
        seed, batch = draw(_seeds(st)), draw(st.integers(2, 8))
        gen = np.random.default_rng(seed)
        X = gen.standard_normal((batch, sizes[0]))
        if loss == "cross_entropy":
            y = label_xp.asarray(gen.integers(0, sizes[-1], batch), dtype=label_dtype,
                                 device=device)
        else:
            y = move(gen.standard_normal((batch, sizes[-1])))
        params = [move(p) for p in mlp_params(sizes, activation, seed)]
        return MLPCase(MLP(sizes, activation=activation, loss=loss), params, move(X), y)

    return draw_case()


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
    return st.fixed_dictionaries(_rso_option_strategies(st, n_groups))


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

    @st.composite
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

    return draw_case()
