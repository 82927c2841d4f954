r"""A kit for testing code against rso_ref: assertions, reference problems, strategies, port checks.

:mod:`rso_ref.testing.assertions`
    :func:`assert_close` and the default tolerances :data:`RTOL`.
:mod:`rso_ref.testing.problems`
    The reference problem set for unconstrained minimisation (Moré-Garbow-Hillstrom,
    ill-conditioned quadratics, least squares and logistic regression with known
    optima), analytic gradients, starting points and minima.
"""
from __future__ import annotations

from .assertions import RTOL, assert_close, rtol_for

__all__ = ["RTOL", "assert_close", "rtol_for"]
