r"""A kit for testing code against rso_ref: assertions, reference problems, strategies, port checks.

:mod:`rso_ref.testing.assertions`
    :func:`assert_close` and the default tolerances :data:`RTOL`.
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
    draw: SPD quadratics and convex problems with known optima, the reference problems,
    parameter lists, valid and invalid groupings, MLP cases, ``rso_step`` options and
    optimizer hyperparameters.
:mod:`rso_ref.testing.ports`
    :func:`check_port`: a port against the reference on cases of a golden kind drawn by
    hypothesis (the ``testing`` extra), the minimal failing case written as a fixture.
"""
from __future__ import annotations

import importlib
from typing import Any

from .assertions import RTOL, assert_close, rtol_for

__all__ = ["RTOL", "assert_close", "rtol_for", "check_port", "CheckReport", "strategies"]

#: Names loaded on first use: strategies and ports bring in golden, the data sets and the
#: models, which a test that only needs assert_close should not pay for.
_LAZY = {"check_port": "ports", "CheckReport": "ports", "strategies": None}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
    return module if _LAZY[name] is None else getattr(module, name)
