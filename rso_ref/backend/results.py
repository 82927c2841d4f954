r"""SciPy's result record, for solvers on the device path.

:func:`rso_ref.lbfgs.minimize` returns :class:`scipy.optimize.OptimizeResult` (a ``dict``
with attribute access), so that code written for ``scipy.optimize.minimize`` reads its
results unchanged (``res.x``, ``res["x"]``, ``res.njev``). SciPy is imported when the
first result is built, not when the device path is imported: ``import rso_ref.optim``
loads no SciPy (``tests/test_import_rules.py``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for annotations only: SciPy loads with the first result
    from scipy.optimize import OptimizeResult

__all__ = ["optimize_result"]


def optimize_result(**fields: Any) -> OptimizeResult:
    r"""Return ``scipy.optimize.OptimizeResult(**fields)``.

    Parameters
    ----------
    **fields
        The result's entries (``x``, ``fun``, ``jac``, ``nit``, ``nfev``, ...), stored
        as given: arrays stay on their backend and device.

    Returns
    -------
    scipy.optimize.OptimizeResult
        A ``dict`` of ``fields`` whose keys are also attributes.
    """
    from scipy.optimize import OptimizeResult  # noqa: F811 - the runtime import

    return OptimizeResult(**fields)
