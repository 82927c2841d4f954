"""What the tests may expect of a compiled ``x + a * d``: NumPy's rounding, or one rounding less.

Where :func:`rso_ref.backend.compiles` (JAX), the library's pure pieces run as one XLA
program, and XLA's CPU backend contracts ``x + a * d`` into a fused multiply-add: one
rounding instead of two. The result then differs from the eager ``x + a * d`` by at most
the rounding of the product and of the sum, :math:`|r - n| \\le \\epsilon (|a d| + |n|)`
elementwise (:math:`\\epsilon` the dtype's machine epsilon). Everywhere else the two are
the same operations and must agree bit for bit.
"""
import numpy as np

from rso_ref import backend


def assert_axpy(result, x, alpha, d, xp):
    """Assert ``result == x + alpha * d`` as computed eagerly, up to one FMA where compiled.

    ``x - s * d`` is ``x + (-s) * d`` bit for bit (negation is exact): pass ``alpha=-s``.
    """
    naive = backend.to_numpy(x + alpha * d)
    got = backend.to_numpy(result)
    if not backend.compiles(xp):
        np.testing.assert_array_equal(got, naive)
        return
    product = np.abs(alpha * backend.to_numpy(d))
    eps = np.finfo(naive.dtype).eps
    bound = eps * (product + np.abs(naive))
    assert np.all(np.abs(got - naive) <= bound), np.max(np.abs(got - naive) - bound)
