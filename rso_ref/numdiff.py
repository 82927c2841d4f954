r"""Finite-difference gradients of a scalar function, on any array-API backend.

For a function :math:`f:\mathbb R^n \to \mathbb R` known only by its values, the
forward (``"2-point"``) and central (``"3-point"``) differences

.. math::

    \hat g_i = \frac{f(x + h_i e_i) - f(x)}{(x_i + h_i) - x_i}, \qquad
    \hat g_i = \frac{f(x + h_i e_i) - f(x - h_i e_i)}{(x_i + h_i) - (x_i - h_i)}

cost :math:`n` and :math:`2n` evaluations and have truncation errors
:math:`O(h)` and :math:`O(h^2)`; with rounding error :math:`\epsilon |f|/h` in the
numerator, the best relative steps are about :math:`\sqrt\epsilon` and
:math:`\epsilon^{1/3}` (N&W [1]_ §8.1). The denominators use the step actually taken,
:math:`(x_i + h_i) - x_i`, not :math:`h_i`, which removes the representation error of
:math:`x_i + h_i` (N&W p. 196).

Step rules follow SciPy's ``approx_derivative`` [2]_ so that a user switching from
``scipy.optimize.minimize`` gets the same gradients: a relative step :math:`r` gives
:math:`h_i = r\, \mathrm{sign}(x_i)\, \max(1, |x_i|)` by default and
:math:`h_i = r\, \mathrm{sign}(x_i)\, |x_i|` when the caller chose :math:`r`
(:math:`\mathrm{sign}(0) = +1`); an absolute step is used as given. Any :math:`h_i` that
does not change :math:`x_i` in floating point falls back to the default relative step.

Every array is created on the namespace, dtype and device of ``x``; the values of
:math:`f` are host floats, and the differences cross to the device once per gradient.

References
----------
.. [1] J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006,
       §8.1, doi:10.1007/978-0-387-40065-5.
.. [2] SciPy, ``scipy.optimize.approx_derivative`` (scipy/optimize/_numdiff.py), the
       conventions for default and user-chosen steps.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

from .backend import array_namespace, device, put
from .validation import check_choice

__all__ = ["FD_METHODS", "default_relative_step", "difference_steps", "approx_gradient"]

#: The finite-difference schemes and the number of evaluations of ``f`` each needs per
#: coordinate (the value at ``x`` itself, needed by ``"2-point"``, is not counted).
FD_METHODS = {"2-point": 1, "3-point": 2}


def default_relative_step(method: str, eps: float) -> float:
    r"""The relative step that balances truncation and rounding error.

    Parameters
    ----------
    method : {"2-point", "3-point"}
        The scheme.
    eps : float
        Machine epsilon of the dtype of ``x``.

    Returns
    -------
    float
        :math:`\sqrt\epsilon` for ``"2-point"``, :math:`\epsilon^{1/3}` for ``"3-point"``.
    """
    check_choice(method, "method", tuple(FD_METHODS))
    return eps ** 0.5 if method == "2-point" else eps ** (1.0 / 3.0)


def difference_steps(x: Any, method: str, *, abs_step: float | None = None,
                     rel_step: float | None = None, xp: ModuleType | None = None):
    r"""The steps :math:`h_i` for each coordinate of ``x`` (module docstring's rules).

    Parameters
    ----------
    x : array, shape (n,)
        The point, real floating.
    method : {"2-point", "3-point"}
        The scheme.
    abs_step : float, optional
        An absolute step :math:`h` for every coordinate (SciPy's L-BFGS-B ``eps``).
    rel_step : float, optional
        A relative step :math:`r`; ignored when ``abs_step`` is given.
    xp : module, optional
        Namespace of ``x``.

    Returns
    -------
    array, shape (n,)
        :math:`h`, on the namespace, dtype and device of ``x``; every :math:`h_i` moves
        :math:`x_i`.
    """
    xp = array_namespace(x) if xp is None else xp
    sign = xp.where(x >= 0, xp.ones_like(x), -xp.ones_like(x))
    rstep = default_relative_step(method, float(xp.finfo(x.dtype).eps))
    default = rstep * sign * xp.maximum(xp.ones_like(x), xp.abs(x))
    if abs_step is not None:
        h = abs_step * xp.ones_like(x)
    elif rel_step is not None:
        h = rel_step * sign * xp.abs(x)
    else:
        return default
    return xp.where((x + h) - x == 0, default, h)


def approx_gradient(fun: Callable[[Any], float], x: Any, *, method: str = "2-point",
                    f0: float | None = None, abs_step: float | None = None,
                    rel_step: float | None = None) -> tuple[Any, int]:
    r"""Finite-difference gradient of ``fun`` at ``x``.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float``, called on arrays like ``x``.
    x : array, shape (n,)
        The point, real floating, any backend.
    method : {"2-point", "3-point"}, default "2-point"
        Forward or central differences.
    f0 : float, optional
        :math:`f(x)` when the caller has it (``"2-point"`` then needs only :math:`n`
        calls).
    abs_step, rel_step : float, optional
        Step rules of :func:`difference_steps`.

    Returns
    -------
    gradient : array, shape (n,)
        :math:`\hat g` on the namespace, dtype and device of ``x``.
    nfev : int
        Calls of ``fun`` made.

    Examples
    --------
    >>> import numpy as np
    >>> g, nfev = approx_gradient(lambda z: float(z @ z), np.array([1.0, -2.0]), method="3-point")
    >>> np.round(g, 8).tolist(), nfev
    ([2.0, -4.0], 4)
    """
    xp = array_namespace(x)
    h = difference_steps(x, method, abs_step=abs_step, rel_step=rel_step, xp=xp)
    n, nfev = x.shape[0], 0

    def at(i: int, step: Any) -> float:
        nonlocal nfev
        nfev += 1
        return float(fun(put(xp.asarray(x, copy=True), i, x[i] + step)))

    if method == "2-point":
        if f0 is None:
            f0 = float(fun(x))
            nfev += 1
        diffs = [at(i, h[i]) - f0 for i in range(n)]
        span = (x + h) - x
    else:
        check_choice(method, "method", tuple(FD_METHODS))
        diffs = [at(i, h[i]) - at(i, -h[i]) for i in range(n)]
        span = (x + h) - (x - h)
    numer = xp.asarray(diffs, dtype=x.dtype, device=device(x))
    return numer / span, nfev
