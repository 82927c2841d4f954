r"""Assertions for tests of rso_ref and of ports cross-checked against it.

:func:`assert_close` walks ``actual`` and ``desired`` together (arrays, Python and NumPy
scalars, and nested lists/tuples of them, such as parameter lists or a list of steps of
parameter lists), checks each pair of array leaves for namespace, device, dtype and shape,
and only then compares values with the elementwise rule

.. math::

    |a - d| \le \mathrm{atol} + \mathrm{rtol}\,|d|

(NaN equal to NaN in the same place). A failure names the worst leaf (the largest
:math:`|a - d| / (\mathrm{atol} + \mathrm{rtol}|d|)`), its path in the nesting, the index
of its worst entry, both values there and their relative error.

:data:`RTOL` holds the default relative tolerances keyed by dtype: float64 identities
are held to ``1e-10`` (about 10^6 ulps of slack for round-off accumulated over a few
thousand operations), float32 to ``5e-4``.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..backend import array_namespace, backend_name, device, to_numpy

__all__ = ["RTOL", "assert_close", "rtol_for"]

#: Default relative tolerance for exact identities, keyed by dtype name.
RTOL = {"float64": 1e-10, "float32": 5e-4}


def rtol_for(x: Any) -> float:
    """The :data:`RTOL` entry for the dtype of ``x`` (float64's for Python numbers).

    Parameters
    ----------
    x : array or scalar
        Anything with a ``dtype`` (arrays, NumPy scalars); Python numbers count as float64.

    Returns
    -------
    float
        ``RTOL[dtype name]``, float64's entry for dtypes without one.
    """
    name = str(getattr(x, "dtype", "float64")).rsplit(".", 1)[-1]
    return RTOL.get(name, RTOL["float64"])


def _is_scalar(x: Any) -> bool:
    return isinstance(x, (numbers.Number, np.generic))


def _leaves(actual: Any, desired: Any, path: str, out: list) -> None:
    """Pair up the leaves of two nestings as ``(path, actual, desired)``; structural
    differences raise AssertionError naming the path."""
    here = path or "top level"
    a_seq, d_seq = isinstance(actual, (list, tuple)), isinstance(desired, (list, tuple))
    if a_seq or d_seq:
        if not (a_seq and d_seq):
            raise AssertionError(f"at {here}: one of actual, desired is a list and the other "
                                 f"not ({type(actual).__name__} vs {type(desired).__name__})")
        if len(actual) != len(desired):
            raise AssertionError(f"at {here}: {len(actual)} items != {len(desired)} items")
        for i, (a, d) in enumerate(zip(actual, desired)):
            _leaves(a, d, f"{path}[{i}]", out)
        return
    if _is_scalar(actual) != _is_scalar(desired):
        raise AssertionError(f"at {here}: a scalar is compared with an array "
                             f"({type(actual).__name__} vs {type(desired).__name__})")
    out.append((path, actual, desired))


def _check_kind(path: str, actual: Any, desired: Any) -> None:
    """Namespace, device, dtype of two array leaves."""
    here = path or "top level"
    xa, xd = array_namespace(actual), array_namespace(desired)
    if backend_name(xa) != backend_name(xd):
        raise AssertionError(f"at {here}: namespace {backend_name(xa)} != {backend_name(xd)}")
    if device(actual) != device(desired):
        raise AssertionError(f"at {here}: device {device(actual)!r} != {device(desired)!r}")
    if actual.dtype != desired.dtype:
        raise AssertionError(f"at {here}: dtype {actual.dtype} != {desired.dtype}")


def _wide(value: Any) -> Any:
    """A scalar as a Python complex (complex dtypes) or float: no integer wraparound."""
    return complex(value) if np.iscomplexobj(value) else float(value)


def _tolerance(value: Any, name: str) -> float:
    """A tolerance as a float: a real number (not a bool or string), finite and >= 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return value


def _violation(a: np.ndarray, d: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """``|a - d| / (atol + rtol |d|)`` entrywise (> 1 fails; inf where the bound is 0 and
    the values differ; 0 where both are the same NaN or infinity)."""
    a64, d64 = a.astype(np.complex128 if np.iscomplexobj(a) else np.float64), \
        d.astype(np.complex128 if np.iscomplexobj(d) else np.float64)
    same = (a64 == d64) | (np.isnan(a64) & np.isnan(d64))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(a64 - d64) / (atol + rtol * np.abs(d64))
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    return np.where(same, 0.0, ratio)


def assert_close(actual: Any, desired: Any, *, rtol: float | None = None, atol: float = 0.0,
                 err_msg: str = "", check_namespace: bool = True) -> None:
    """Assert ``actual`` equals ``desired`` to ``rtol``/``atol`` after checking their kind.

    Parameters
    ----------
    actual, desired : array, scalar, or nested list/tuple of them
        Compared leaf by leaf; lists must have the same lengths, and a scalar (Python or
        NumPy) is compared only with a scalar.
    rtol : float, optional
        Relative tolerance; default from :data:`RTOL` by each leaf's desired dtype.
    atol : float, default 0
        Absolute tolerance.
    err_msg : str, default ""
        Prefixed to the failure message.
    check_namespace : bool, default True
        Require array leaves to share namespace, device and dtype (so that a result is
        checked to live on the device of the expected array). With False, ``desired``
        may be a host NumPy array for a device ``actual``.

    Raises
    ------
    AssertionError
        On the first structural or kind mismatch, or naming the worst leaf, its path, its
        worst entry's index, both values and their relative error (differences of
        integers are taken in float64: no wraparound).
    TypeError
        ``rtol``/``atol`` not a real number, ``err_msg`` not a str, ``actual`` or
        ``desired`` None.
    ValueError
        ``rtol``/``atol`` negative or not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from rso_ref.testing import assert_close
    >>> assert_close([np.ones(2), [np.zeros(1)]], [np.ones(2), [np.zeros(1)]])
    """
    rtol = None if rtol is None else _tolerance(rtol, "rtol")
    atol = _tolerance(atol, "atol")
    if not isinstance(err_msg, str):
        raise TypeError(f"err_msg must be a str, got {type(err_msg).__name__}")
    for name, value in (("actual", actual), ("desired", desired)):
        if value is None:
            raise TypeError(f"{name} must be an array, a number or a list of them, got None")
    prefix = f"{err_msg}: " if err_msg else ""
    pairs: list = []
    try:
        _leaves(actual, desired, "", pairs)
        worst = None
        mismatched = total = 0
        for path, a, d in pairs:
            scalar = _is_scalar(d)
            if check_namespace and not scalar:
                _check_kind(path, a, d)
            a_host, d_host = np.asarray(a if scalar else to_numpy(a)), \
                np.asarray(d if scalar else to_numpy(d))
            if a_host.shape != d_host.shape:
                raise AssertionError(f"at {path or 'top level'}: shape {a_host.shape} != "
                                     f"{d_host.shape}")
            tol = rtol_for(d) if rtol is None else rtol
            ratio = _violation(a_host, d_host, tol, atol)
            mismatched += int(np.count_nonzero(ratio > 1.0))
            total += ratio.size
            if ratio.size and (worst is None or ratio.max() > worst[0]):
                worst = (float(ratio.max()), path, a_host, d_host, ratio, tol)
    except AssertionError as exc:
        raise AssertionError(f"{prefix}{exc}") from None
    if worst is None or worst[0] <= 1.0:
        return
    _, path, a_host, d_host, ratio, tol = worst
    index = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.ndim else ()
    a_val, d_val = a_host[index], d_host[index]
    # the difference in float64 (complex128): integers must not wrap around (uint8 0 - 255)
    a_num, d_num = _wide(a_val), _wide(d_val)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = abs(a_num - d_num) / abs(d_num) if d_num != 0 else float("inf")
    raise AssertionError(
        f"{prefix}not close (rtol={tol:g}, atol={atol:g}): {mismatched} of {total} entries "
        f"differ; worst at leaf {path or '(the only one)'} index {tuple(int(i) for i in index)}: "
        f"actual {a_val.item()!r} vs desired {d_val.item()!r}, relative error {rel:.3e}")
