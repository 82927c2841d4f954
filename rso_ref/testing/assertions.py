r"""Assertions for tests of rso_ref and of ports cross-checked against it.

:func:`assert_close` checks, in this order, the namespace, device, dtype and shape of
``actual`` against ``desired`` and only then the values (lists of arrays item by item),
with the elementwise rule

.. math::

    |a - d| \le \mathrm{atol} + \mathrm{rtol}\,|d|.

:data:`RTOL` holds the default relative tolerances keyed by dtype: float64 identities
are held to ``1e-10`` (about 10^6 ulps of slack for round-off accumulated over a few
thousand operations), float32 to ``5e-4``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import array_namespace, backend_name, device, to_numpy

__all__ = ["RTOL", "assert_close", "rtol_for"]

#: Default relative tolerance for exact identities, keyed by dtype name.
RTOL = {"float64": 1e-10, "float32": 5e-4}


def rtol_for(x: Any) -> float:
    """The :data:`RTOL` entry for the dtype of array ``x``."""
    name = str(x.dtype).rsplit(".", 1)[-1]
    return RTOL.get(name, RTOL["float64"])


def assert_close(actual: Any, desired: Any, *, rtol: float | None = None, atol: float = 0.0,
                 err_msg: str = "", check_namespace: bool = True) -> None:
    """Assert ``actual`` equals ``desired`` to ``rtol``/``atol`` after checking type.

    Parameters
    ----------
    actual, desired : array, or list/tuple of arrays
        Lists (parameter lists) must have the same length and are compared item by
        item. ``desired`` may be a NumPy array when ``check_namespace=False``.
    rtol : float, optional
        Relative tolerance; default from :data:`RTOL` by ``desired``'s dtype.
    atol : float, default 0
    err_msg : str
        Prefixed to the failure message.
    check_namespace : bool, default True
        Require both arrays to share a namespace, device and dtype (so that a result
        is checked to live on the device of the expected array).
    """
    prefix = f"{err_msg}: " if err_msg else ""
    if isinstance(actual, (list, tuple)) or isinstance(desired, (list, tuple)):
        if not (isinstance(actual, (list, tuple)) and isinstance(desired, (list, tuple))):
            raise AssertionError(f"{prefix}one of actual, desired is a list and the other not")
        if len(actual) != len(desired):
            raise AssertionError(f"{prefix}{len(actual)} arrays != {len(desired)} arrays")
        for i, (a, d) in enumerate(zip(actual, desired)):
            assert_close(a, d, rtol=rtol, atol=atol, err_msg=f"{prefix}item {i}",
                         check_namespace=check_namespace)
        return
    if check_namespace:
        xa, xd = array_namespace(actual), array_namespace(desired)
        if backend_name(xa) != backend_name(xd):
            raise AssertionError(f"{prefix}namespace {backend_name(xa)} != {backend_name(xd)}")
        if device(actual) != device(desired):
            raise AssertionError(f"{prefix}device {device(actual)!r} != {device(desired)!r}")
        if actual.dtype != desired.dtype:
            raise AssertionError(f"{prefix}dtype {actual.dtype} != {desired.dtype}")
    a, d = to_numpy(actual), to_numpy(desired)
    if a.shape != d.shape:
        raise AssertionError(f"{prefix}shape {a.shape} != {d.shape}")
    if rtol is None:
        rtol = rtol_for(desired) if hasattr(desired, "dtype") else RTOL["float64"]
    np.testing.assert_allclose(a, d, rtol=rtol, atol=atol, err_msg=err_msg)
