r"""A kit for testing code against rso_ref: assertions, reference problems, strategies, port checks.

:mod:`rso_ref.testing.assertions`
    :func:`assert_close` and the default tolerances per dtype, :data:`RTOL` and
    :data:`ATOL`.
:mod:`rso_ref.testing.problems`
    The reference problem set for unconstrained minimisation (Moré-Garbow-Hillstrom,
    ill-conditioned quadratics, least squares and logistic regression with known
    optima), analytic gradients, starting points and minima.
:mod:`rso_ref.testing.more_wild`
    The 53 Moré-Wild benchmark problems (SciPy's ``BenchDFO``), with SciPy's variant of
    Heart8ls on request.
:mod:`rso_ref.testing.smooth_unbounded`
    The functions, starts and cases of SciPy's ``BenchSmoothUnbounded`` benchmark.
:mod:`rso_ref.testing.peer_cases`
    The peer suite: the cases of SciPy's, optax's and torch's L-BFGS tests and
    benchmarks, with their origins and expected outcomes, for
    :mod:`rso_ref.benchmarks.peer_suite` and the tests.
:mod:`rso_ref.testing.strategies`
    hypothesis strategies (the ``testing`` extra) of what property tests against rso_ref
    draw: arrays, parameter lists and gradient sequences with entries drawn by
    hypothesis, SPD quadratics and convex problems with known optima, the reference
    problems, valid and invalid groupings, MLP cases, ``rso_step`` options and optimizer
    hyperparameters. Every strategy is also an attribute of this package
    (``rso_ref.testing.param_lists``).
:mod:`rso_ref.testing.ports`
    :func:`check_port`: a port against the reference on cases of a golden kind (or the
    L-BFGS two-loop alone, ``"lbfgs_direction"``) drawn by hypothesis (the ``testing``
    extra), the minimal failing case written as a fixture.
:func:`settings_profiles`
    Registers hypothesis settings profiles for suites that use the kit, among them
    ``"rso_ref-jax"`` (no deadline: JAX compiles on the first call of each shape).

Names from :mod:`~rso_ref.testing.strategies` and :mod:`~rso_ref.testing.ports` are
loaded on first use (they bring in the golden fixtures, the data sets and the models,
which a test that only needs :func:`assert_close` should not pay for); ``dir()`` lists
them.
"""
from __future__ import annotations

import importlib
from typing import Any

from .assertions import ATOL, RTOL, assert_close, atol_for, rtol_for

#: Public strategies of :mod:`rso_ref.testing.strategies`, loaded on first use.
_STRATEGY_NAMES = (
    "arrays", "param_lists", "gradient_sequences", "spd_quadratics", "convex_problems",
    "reference_problems", "partitions", "groupings", "invalid_groupings", "group_weights",
    "mlp_cases", "rso_options", "optimizer_cases", "MLPCase", "CONVEX_KINDS",
)

#: Names loaded on first use: name -> submodule (None: the submodule itself).
_LAZY = {"check_port": "ports", "CheckReport": "ports", "CHECK_KINDS": "ports",
         "strategies": None, "ports": None, **{n: "strategies" for n in _STRATEGY_NAMES}}

__all__ = ["RTOL", "ATOL", "assert_close", "rtol_for", "atol_for", "settings_profiles",
           "JAX_PROFILE",
           "check_port", "CheckReport", "CHECK_KINDS", "strategies", *_STRATEGY_NAMES]

#: Name of the hypothesis profile for JAX (and other compiling) backends.
JAX_PROFILE = "rso_ref-jax"


def settings_profiles(load: str | None = None) -> list[str]:
    """Register hypothesis settings profiles for suites that use this kit.

    ``"rso_ref-jax"``
        ``deadline=None``: JAX (like ``torch.compile``) compiles each operation for each
        new shape on its first call, which takes seconds and trips hypothesis's default
        200 ms deadline on examples that are not slow at all;
        ``HealthCheck.too_slow`` is suppressed for the same reason. Everything else is
        the current default profile's.
    ``"rso_ref-ci"``
        The JAX profile with ``derandomize=True`` and ``database=None``: the same
        examples on every run of a CI job, nothing written to disk.

    Parameters
    ----------
    load : str, optional
        A profile to load once registered (one of the names above).

    Returns
    -------
    list of str
        The registered names.

    Raises
    ------
    ImportError
        Without hypothesis.
    ValueError
        If ``load`` is not one of them.

    Examples
    --------
    In a ``conftest.py``:

    >>> from rso_ref.testing import settings_profiles
    >>> settings_profiles()
    ['rso_ref-jax', 'rso_ref-ci']

    then ``pytest --hypothesis-profile=rso_ref-jax``, or
    ``settings_profiles(load="rso_ref-jax")``.
    """
    from .strategies import _require_hypothesis

    hypothesis = _require_hypothesis("settings_profiles")
    settings, health = hypothesis.settings, hypothesis.HealthCheck
    suppressed = list(settings.default.suppress_health_check) + [health.too_slow]
    settings.register_profile(JAX_PROFILE, deadline=None, suppress_health_check=suppressed)
    settings.register_profile("rso_ref-ci", settings.get_profile(JAX_PROFILE),
                              derandomize=True, database=None)
    names = [JAX_PROFILE, "rso_ref-ci"]
    if load is not None:
        if load not in names:
            raise ValueError(f"load must be one of {names}, got {load!r}")
        settings.load_profile(load)
    return names


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
    return module if _LAZY[name] is None else getattr(module, name)


def __dir__() -> list[str]:
    """The public names, the lazy ones included (and the submodules already loaded)."""
    loaded = {n for n in globals() if not n.startswith("_")} - {"Any", "annotations", "importlib"}
    return sorted(set(__all__) | loaded | set(_LAZY))
