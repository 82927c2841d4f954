r"""Argument checks shared by every public entry point of :mod:`rso_ref`.

One rule everywhere: a hyperparameter is accepted when it is a real number of the
right range, whatever its Python type (``0.1``, ``np.float32(0.1)``,
``fractions.Fraction(1, 10)``; :class:`numbers.Real` and :class:`numbers.Integral`
decide), and is returned as a plain Python ``float`` or ``int``. ``bool`` is never a
number here. A value of the wrong *type* raises :class:`TypeError`, a value of the
right type but the wrong *range* raises :class:`ValueError`; both messages start with
the argument's name, so that a user reading one line knows what to change.

:class:`NonFiniteError` is the one exception for numbers that became NaN or inf at run
time (a loss, a gradient, the parameters after a step). It is a :class:`ValueError`,
and :func:`rso_ref.train.train` turns it into ``status="diverged"`` with the last finite
parameters, instead of losing the run.

This module imports no array library: it is used on the device path (``optim``,
``rso``, ``lbfgs``, ...) as well as on the host.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

__all__ = [
    "NonFiniteError",
    "check_real",
    "check_positive",
    "check_nonnegative",
    "check_fraction",
    "check_betas",
    "check_flag",
    "check_int",
    "check_choice",
    "check_callable",
    "check_pair",
    "check_finite_loss",
]


class NonFiniteError(ValueError):
    """A loss, gradient or parameter value became NaN or infinite during a computation."""


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_real(value: Any, name: str) -> float:
    """Return ``value`` as a Python float.

    Raises
    ------
    TypeError
        Unless ``value`` is a real number (``bool`` is not).
    ValueError
        If ``value`` is NaN or infinite.
    """
    if not _is_real(value):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float; ``ValueError`` naming ``name`` unless ``value > 0``."""
    value = check_real(value, name)
    if value <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def check_nonnegative(value: Any, name: str) -> float:
    """Return ``value`` as a float; ``ValueError`` naming ``name`` unless ``value >= 0``."""
    value = check_real(value, name)
    if value < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def check_fraction(value: Any, name: str) -> float:
    """Return ``value`` as a float; ``ValueError`` naming ``name`` unless ``0 <= value < 1``.

    The range of decay rates (momentum, :math:`\\beta_1`, :math:`\\beta_2`) and of split
    fractions.
    """
    value = check_real(value, name)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value


def check_betas(betas: Any, name: str = "betas") -> tuple[float, float]:
    """Return ``betas`` as a pair of floats, each in ``[0, 1)``."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {betas!r}")
    return (check_fraction(betas[0], f"{name}[0]"), check_fraction(betas[1], f"{name}[1]"))


def check_flag(value: Any, name: str) -> bool:
    """Return ``value``; ``TypeError`` naming ``name`` unless it is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def check_int(value: Any, name: str, minimum: int = 0, maximum: int | None = None) -> int:
    """Return ``value`` as a Python int in ``[minimum, maximum]``.

    Any :class:`numbers.Integral` is accepted (``5``, ``np.int64(5)``), ``bool`` and
    floats (``5.0``) are not.

    Raises
    ------
    TypeError
        Unless ``value`` is an integer.
    ValueError
        If it lies outside ``[minimum, maximum]``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
        raise ValueError(f"{name} must be an int {bound}, got {value}")
    return value


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """Return ``value``; ``ValueError`` naming ``name`` and the choices unless it is one."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_callable(value: Any, name: str) -> Callable:
    """Return ``value``; ``TypeError`` naming ``name`` unless it is callable."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value


def check_pair(value: Any, name: str, where: str = "") -> tuple[Any, Any]:
    """Return what the oracle ``name`` returned as a pair ``(loss, gradient)``.

    A tuple or list of two items is a pair; anything else (a lone loss, a loss array,
    a triple) raises :class:`TypeError` naming ``name`` and the point ``where``.
    """
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        suffix = f" {where}" if where else ""
        raise TypeError(f"{name} must return a pair (loss, gradient){suffix}, "
                        f"got {type(value).__name__}")
    return value[0], value[1]


def check_finite_loss(value: Any, name: str, where: str = "") -> float:
    """Return a loss returned by an oracle as a Python float.

    ``value`` may be any real scalar: a Python or NumPy number, or a 0-d array of any
    namespace (converted with ``float``). ``name`` names the oracle (``"fun"``,
    ``"value_and_grad"``) and ``where`` the point (``"at x0"``).

    Raises
    ------
    TypeError
        If ``value`` is not a real scalar (``None``, a string, a list, an array with
        more than one element).
    NonFiniteError
        If it is NaN or infinite.
    """
    suffix = f" {where}" if where else ""
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise TypeError(f"{name} must return a real scalar loss{suffix}, got {value!r}")
    shape = getattr(value, "shape", ())
    if tuple(shape) != ():
        raise TypeError(f"{name} must return a real scalar loss{suffix}, "
                        f"got an array of shape {tuple(shape)}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must return a real scalar loss{suffix}, "
                        f"got {type(value).__name__}") from None
    if not math.isfinite(number):
        raise NonFiniteError(f"{name} returned a non-finite loss ({number}){suffix}")
    return number
