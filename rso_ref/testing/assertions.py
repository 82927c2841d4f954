r"""Assertions for tests of rso_ref and of ports cross-checked against it.

:func:`assert_close` follows the conventions of ``torch.testing.assert_close``. It walks
``actual`` and ``desired`` together (arrays, Python and NumPy scalars, and nested
lists/tuples and dicts of them, such as parameter lists or optimizer states), checks each
pair of leaves for namespace, device, dtype and shape, and only then compares values with
the elementwise rule

.. math::

    |a - d| \le \mathrm{atol} + \mathrm{rtol}\,|d|

Infinities are close only to the same infinity; NaN is close to NaN in the same place only
with ``equal_nan=True``. A failure names the worst leaf (the largest
:math:`|a - d| / (\mathrm{atol} + \mathrm{rtol}|d|)`), its path in the nesting, the index
of its worst entry, the actual and the desired value there and their errors.

The default tolerances (:data:`RTOL`, :data:`ATOL`, :func:`rtol_for`, :func:`atol_for`) and
the rule choosing them are tabled once, in the Notes of :func:`assert_close`.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..backend import array_namespace, backend_name, device, to_numpy

__all__ = ["ATOL", "RTOL", "assert_close", "atol_for", "rtol_for"]

# Default tolerances by dtype name. float64 and float32 are the library's own: its
# identities (two formulas, two backends or two summation orders for one quantity) are held
# to 1e-10 in float64 (about 10^6 ulps of slack for round-off accumulated over a few
# thousand operations) and 5e-4 in float32 (about 4000 ulps), purely relatively: an
# absolute floor belongs to the scale of the quantity, which a dtype does not know
# (torch's float64 atol 1e-7 would swamp rtol 1e-10 wherever |desired| < 1e3), so tests of
# values near 0 pass an atol scaled to their data. float16 and bfloat16 arrive only from
# ports, and take torch.testing's defaults: about one ulp relative (eps 9.8e-4 and 7.8e-3)
# and atol 1e-5 for results that cancel to about 0. A complex dtype takes the entry of its
# real parts. Integers and bool are exact (not in the tables: 0 and 0).
#: Default relative tolerance, keyed by dtype name.
RTOL = {"float64": 1e-10, "float32": 5e-4, "float16": 1e-3, "bfloat16": 1.6e-2,
        "complex128": 1e-10, "complex64": 5e-4}
#: Default absolute tolerance, keyed by dtype name (see :data:`RTOL`).
ATOL = {"float64": 0.0, "float32": 0.0, "float16": 1e-5, "bfloat16": 1e-5,
        "complex128": 0.0, "complex64": 0.0}

_PYTHON_DTYPE = ((bool, "bool"), (numbers.Integral, "int64"), (numbers.Real, "float64"),
                 (numbers.Complex, "complex128"))


def _is_python(x: Any) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, np.generic)


def _dtype_name(x: Any) -> str:
    """The dtype name of an array or scalar (``float64`` for a Python float, ...)."""
    if _is_python(x):
        return next(name for kind, name in _PYTHON_DTYPE if isinstance(x, kind))
    dtype = getattr(x, "dtype", None)
    if dtype is None or isinstance(x, (str, bytes)):
        raise TypeError(f"x must be an array or a number, got {type(x).__name__}")
    return getattr(dtype, "name", None) or str(dtype).rsplit(".", 1)[-1]


def _kind(name: str) -> str:
    """``bool``, ``int``, ``complex`` or ``float`` (the default, for unknown names)."""
    for kind, prefixes in (("bool", ("bool",)), ("int", ("int", "uint")),
                           ("complex", ("complex",))):
        if name.startswith(prefixes):
            return kind
    return "float"


def _defaults(name: str) -> tuple[float, float]:
    """(rtol, atol) for a dtype name: the tables, 0 for integers and bool, else float64's."""
    if name in RTOL:
        return RTOL[name], ATOL[name]
    if _kind(name) in ("bool", "int"):
        return 0.0, 0.0
    return RTOL["float64"], ATOL["float64"]


def rtol_for(x: Any) -> float:
    """The default relative tolerance for the dtype of ``x`` (table in :func:`assert_close`).

    Parameters
    ----------
    x : array or scalar
        Anything with a ``dtype`` (arrays, NumPy scalars), or a Python number (a float
        counts as float64, a complex as complex128, an int or bool is exact).

    Returns
    -------
    float
        ``RTOL[dtype name]``; 0 for integer and bool dtypes; float64's entry for other
        dtypes without one.

    Raises
    ------
    TypeError
        If ``x`` is neither a number nor has a ``dtype`` (None, a string).
    """
    return _defaults(_dtype_name(x))[0]


def atol_for(x: Any) -> float:
    """The default absolute tolerance for the dtype of ``x`` (see :func:`rtol_for`).

    Parameters
    ----------
    x : array or scalar
        As for :func:`rtol_for`.

    Returns
    -------
    float
        ``ATOL[dtype name]``; 0 for integer and bool dtypes; float64's entry for other
        dtypes without one.

    Raises
    ------
    TypeError
        If ``x`` is neither a number nor has a ``dtype`` (None, a string).
    """
    return _defaults(_dtype_name(x))[1]


def _is_scalar(x: Any) -> bool:
    return isinstance(x, (numbers.Number, np.generic))


def _describe(x: Any) -> str:
    shape = getattr(x, "shape", None)
    return type(x).__name__ if shape is None or _is_scalar(x) else \
        f"{type(x).__name__} of shape {tuple(shape)}"


def _leaves(actual: Any, desired: Any, path: str, out: list) -> None:
    """Pair up the leaves of two nestings as ``(path, actual, desired)``; structural
    differences raise AssertionError naming the path."""
    here = path or "top level"
    a_map, d_map = isinstance(actual, Mapping), isinstance(desired, Mapping)
    if a_map or d_map:
        if not (a_map and d_map):
            raise AssertionError(f"at {here}: one of actual, desired is a dict and the other "
                                 f"not (actual {type(actual).__name__}, desired "
                                 f"{type(desired).__name__})")
        a_keys, d_keys = set(actual), set(desired)
        if a_keys != d_keys:
            def listed(keys):
                return ", ".join(sorted(map(repr, keys))) or "none"
            raise AssertionError(f"at {here}: keys differ: actual only {listed(a_keys - d_keys)}"
                                 f"; desired only {listed(d_keys - a_keys)}")
        for key in sorted(desired, key=repr):
            _leaves(actual[key], desired[key], f"{path}[{key!r}]", out)
        return
    a_seq, d_seq = isinstance(actual, (list, tuple)), isinstance(desired, (list, tuple))
    if a_seq or d_seq:
        if not (a_seq and d_seq):
            raise AssertionError(f"at {here}: one of actual, desired is a list and the other "
                                 f"not (actual {type(actual).__name__}, desired "
                                 f"{type(desired).__name__})")
        if len(actual) != len(desired):
            raise AssertionError(f"at {here}: actual has {len(actual)} items, desired "
                                 f"{len(desired)}")
        for i, (a, d) in enumerate(zip(actual, desired)):
            _leaves(a, d, f"{path}[{i}]", out)
        return
    for name, value in (("actual", actual), ("desired", desired)):
        if value is None:
            raise AssertionError(f"at {here}: {name} is None")
    # a scalar equals a 0-d array, as in NumPy; never an array of another shape
    for scalar, other in ((actual, desired), (desired, actual)):
        if _is_scalar(scalar) and not _is_scalar(other) and \
                tuple(getattr(other, "shape", (None,))) != ():
            raise AssertionError(f"at {here}: a scalar is compared with an array (actual "
                                 f"{_describe(actual)}, desired {_describe(desired)})")
    out.append((path, actual, desired))


def _namespace(x: Any) -> str:
    return "numpy" if isinstance(x, np.generic) else backend_name(array_namespace(x))


def _device(x: Any) -> Any:
    return "cpu" if isinstance(x, np.generic) else device(x)


def _check_kind(here: str, actual: Any, desired: Any, flags: dict) -> None:
    """Namespace, device and dtype of two leaves (Python scalars have no namespace or
    device; their dtype is weak: only its kind, float, int, complex or bool, must match)."""
    a_py, d_py = _is_python(actual), _is_python(desired)
    if not (a_py or d_py):
        na, nd = _namespace(actual), _namespace(desired)
        if flags["check_namespace"] and na != nd:
            raise AssertionError(f"at {here}: namespace: actual {na} != desired {nd}")
        # devices of two libraries are not comparable: checked within one namespace
        if flags["check_device"] and na == nd and _device(actual) != _device(desired):
            raise AssertionError(f"at {here}: device: actual {_device(actual)!r} != "
                                 f"desired {_device(desired)!r}")
    if flags["check_dtype"]:
        ta, td = _dtype_name(actual), _dtype_name(desired)
        if (_kind(ta) != _kind(td)) if (a_py or d_py) else (ta != td):
            ta, td = (f"Python {type(x).__name__}" if py else t
                      for x, py, t in ((actual, a_py, ta), (desired, d_py, td)))
            weak = " (a Python number matches any dtype of its kind)" if a_py or d_py else ""
            raise AssertionError(f"at {here}: dtype: actual {ta} != desired {td}{weak}")


def _pair_tolerances(actual: Any, desired: Any, rtol: float | None,
                     atol: float | None) -> tuple[float, float]:
    if rtol is not None and atol is not None:
        return rtol, atol
    if rtol is not None:
        return rtol, 0.0
    a_py, d_py = _is_python(actual), _is_python(desired)
    names = [_dtype_name(x) for x, py in ((actual, a_py), (desired, d_py))
             if not py or (a_py and d_py)]
    table = [_defaults(name) for name in names]
    default_rtol, default_atol = max(t[0] for t in table), max(t[1] for t in table)
    return default_rtol, default_atol if atol is None else atol


def _host(x: Any) -> np.ndarray:
    """A host NumPy copy; bfloat16 (which torch cannot hand to NumPy) goes via float32,
    exactly."""
    if _is_scalar(x):
        return np.asarray(x)
    if _dtype_name(x) == "bfloat16":
        xp = array_namespace(x)
        x = xp.astype(x, xp.float32)
    return np.asarray(to_numpy(x))


def _tolerance(value: Any, name: str) -> float | None:
    """A tolerance as a float: a real number (not a bool or string), finite and >= 0."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return value


def _wide(a: np.ndarray) -> np.ndarray:
    return a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)


def _violation(a: np.ndarray, d: np.ndarray, rtol: float, atol: float,
               equal_nan: bool) -> np.ndarray:
    """``|a - d| / (atol + rtol |d|)`` entrywise (> 1 fails; inf where the bound is 0 and
    the values differ; 0 where they are equal, or both NaN with ``equal_nan``)."""
    exact = all(x.dtype == object or _kind(x.dtype.name) in ("bool", "int") for x in (a, d))
    if exact:   # integers compared as integers: no rounding of int64 beyond 2**53
        same = np.asarray(a == d, dtype=bool)
        if rtol == 0.0 and atol == 0.0:
            return np.where(same, 0.0, np.inf)
    a64, d64 = _wide(a), _wide(d)
    if not exact:
        same = a64 == d64
        if equal_nan:
            same |= np.isnan(a64) & np.isnan(d64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.abs(a64 - d64) / (atol + rtol * np.abs(d64))
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    return np.where(same, 0.0, ratio)


def _errors(a_val: Any, d_val: Any) -> tuple[Any, float]:
    """Absolute and relative error of two scalars, integers exactly (no wraparound)."""
    a_num, d_num = a_val.item(), d_val.item()
    if not all(isinstance(v, numbers.Integral) for v in (a_num, d_num)):
        a_num, d_num = (complex(v) if isinstance(v, complex) else float(v)
                        for v in (a_num, d_num))
    diff = abs(a_num - d_num)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = diff / abs(d_num) if d_num != 0 else float("inf")
    return diff, rel


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def assert_close(actual: Any, desired: Any, *, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_dtype: bool = True,
                 check_device: bool = True, check_namespace: bool = True,
                 err_msg: str = "") -> None:
    """Assert ``actual`` equals ``desired`` to ``rtol``/``atol`` after checking their kind.

    Parameters
    ----------
    actual, desired : array, scalar, or nested list/tuple/dict of them
        Compared leaf by leaf; lists must have the same lengths, dicts the same keys (a
        list and a tuple are interchangeable). A scalar (Python or NumPy) equals a 0-d
        array, as in NumPy, and is never compared with an array of another shape.
    rtol : float, optional
        Relative tolerance. Default by each pair's dtype (Notes): 1e-10 for float64,
        5e-4 for float32, 1e-3 for float16, 1.6e-2 for bfloat16, 0 (exact) for integers
        and bool.
    atol : float, optional
        Absolute tolerance. If ``rtol`` is given and ``atol`` is not, 0 (a purely
        relative test); if neither is given, by each pair's dtype (Notes): 0 for float64
        and float32, 1e-5 for float16 and bfloat16, 0 for integers and bool.
    equal_nan : bool, default False
        Count NaN in the same place on both sides as equal.
    check_dtype : bool, default True
        Require the same dtype (a Python number matches any dtype of its kind: float,
        complex, integer, bool). With False, values are compared in a wide common type.
    check_device : bool, default True
        Require array leaves of one namespace to be on the same device; devices of two
        namespaces (``check_namespace=False``) are not comparable and are not compared.
        With False, leaves on two devices are compared on the host.
    check_namespace : bool, default True
        Require array leaves to share a namespace. With False, ``desired`` may be a host
        NumPy array for an ``actual`` of another library (on any device).
    err_msg : str, default ""
        Prefixed to the failure message.

    Raises
    ------
    AssertionError
        On the first structural or kind mismatch (saying which side is which), or naming
        the worst leaf, its path, its worst entry's index, the actual and the desired
        value there and their absolute and relative error (integers are compared
        exactly, as integers: no wraparound, no rounding).
    TypeError
        ``rtol``/``atol`` not a real number, a flag not a bool, ``err_msg`` not a str,
        ``actual`` or ``desired`` None.
    ValueError
        ``rtol``/``atol`` negative or not finite.

    Notes
    -----
    Default tolerances, keyed by dtype (:data:`RTOL`, ``ATOL``; :func:`rtol_for`):

    =========================  ==========  ========
    dtype                      rtol        atol
    =========================  ==========  ========
    float64, complex128        ``1e-10``   ``0``
    float32, complex64         ``5e-4``    ``0``
    float16                    ``1e-3``    ``1e-5``
    bfloat16                   ``1.6e-2``  ``1e-5``
    integers, bool             ``0``       ``0``
    other floating dtypes      ``1e-10``   ``0``
    =========================  ==========  ========

    Which tolerances a pair of leaves gets:

    * neither ``rtol`` nor ``atol`` given: both from the table, by the dtype the pair is
      compared in: the common dtype; a Python scalar takes the dtype of the other side
      (Python scalars are weakly typed, as in NumPy); when the dtypes differ
      (``check_dtype=False``) the looser entry of the two. Python ``float``, ``complex``,
      ``int`` and ``bool`` on both sides count as float64, complex128, an integer, bool;
    * only ``rtol`` given: ``atol = 0``, a purely relative test (the library's own suite
      passes ``rtol`` alone and relies on this);
    * only ``atol`` given: ``rtol`` from the table;
    * both given: those, for every leaf (integers included, as in torch.testing).

    float64 and float32 hold the library's own identities and have no absolute floor; a
    test of values near 0 passes an ``atol`` scaled to its data.

    Examples
    --------
    >>> import numpy as np
    >>> from rso_ref.testing import assert_close
    >>> assert_close([np.ones(2), {"m": np.zeros(1)}], [np.ones(2), {"m": np.zeros(1)}])
    >>> assert_close(np.float32(1.0001), 1.0)    # float32's default rtol 5e-4
    """
    rtol, atol = _tolerance(rtol, "rtol"), _tolerance(atol, "atol")
    flags = {name: _check_flag(value, name) for name, value in (
        ("equal_nan", equal_nan), ("check_dtype", check_dtype),
        ("check_device", check_device), ("check_namespace", check_namespace))}
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
            here = path or "top level"
            _check_kind(here, a, d, flags)
            a_host, d_host = _host(a), _host(d)
            if a_host.shape != d_host.shape:
                raise AssertionError(f"at {here}: shape: actual {a_host.shape} != desired "
                                     f"{d_host.shape}")
            tols = _pair_tolerances(a, d, rtol, atol)
            ratio = _violation(a_host, d_host, *tols, flags["equal_nan"])
            mismatched += int(np.count_nonzero(ratio > 1.0))
            total += ratio.size
            if ratio.size and (worst is None or ratio.max() > worst[0]):
                worst = (float(ratio.max()), path, a_host, d_host, ratio, tols)
    except AssertionError as exc:
        raise AssertionError(f"{prefix}{exc}") from None
    if worst is None or worst[0] <= 1.0:
        return
    _, path, a_host, d_host, ratio, (tol, tol_abs) = worst
    index = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.ndim else ()
    a_val, d_val = a_host[index], d_host[index]
    diff, rel = _errors(a_val, d_val)
    both_nan = np.isnan(_wide(a_host)).any() and np.isnan(_wide(d_host)).any()
    nan_hint = " (NaN is not equal to NaN unless equal_nan=True)" \
        if both_nan and not flags["equal_nan"] else ""
    raise AssertionError(
        f"{prefix}not close (rtol={tol:g}, atol={tol_abs:g}): {mismatched} of {total} entries "
        f"differ; worst at leaf {path or '(the only one)'} index {tuple(int(i) for i in index)}: "
        f"actual {a_val.item()!r} vs desired {d_val.item()!r}, relative error {rel:.3e}, "
        f"absolute error {diff:.3e}{nan_hint}")
