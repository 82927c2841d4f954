r"""What every first-order optimizer of :mod:`rso_ref.optim` shares.

An optimizer is a frozen dataclass of hyperparameters with two pure methods,

.. code-block:: python

    state = opt.init(params)                       # dict with fixed keys
    params, state = opt.step(params, grads, state)

``params`` and ``grads`` are lists of arrays of one namespace (:mod:`rso_ref.tree`).
The state is plain data: a ``"count"`` (int, steps taken) and lists of arrays, so it
can be written with :mod:`rso_ref.checkpoint` (``.npz`` + JSON, no pickle). A list that
an option leaves unused (say the momentum buffer when ``momentum=0``) is empty, so that
the keys of the state depend on the class alone.

This module holds the hyperparameter checks (each error names the argument) and
:func:`begin_step`, the input checks run at the top of every ``step``.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from .. import tree
from ..backend import array_namespace

__all__ = [
    "check_real",
    "check_positive",
    "check_nonnegative",
    "check_decay",
    "check_betas",
    "check_flag",
    "check_positive_int",
    "begin_step",
]


def check_real(value: Any, name: str) -> float:
    """Return ``value`` as a float; TypeError/ValueError naming ``name`` unless real and finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float; ``ValueError`` naming ``name`` unless ``value > 0``."""
    if check_real(value, name) <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


def check_nonnegative(value: Any, name: str) -> float:
    """Return ``value`` as a float; ``ValueError`` naming ``name`` unless ``value >= 0``."""
    if check_real(value, name) < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def check_decay(value: Any, name: str) -> float:
    """Return ``value`` as a float; ``ValueError`` naming ``name`` unless ``0 <= value < 1``."""
    if not 0.0 <= check_real(value, name) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


def check_betas(betas: Any, name: str = "betas") -> tuple[float, float]:
    """Return ``betas`` as a tuple of two floats, each in ``[0, 1)``."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {betas!r}")
    return (check_decay(betas[0], f"{name}[0]"), check_decay(betas[1], f"{name}[1]"))


def check_flag(value: Any, name: str) -> bool:
    """Return ``value``; ``TypeError`` naming ``name`` unless it is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value``; ``ValueError`` naming ``name`` unless it is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def begin_step(params: Sequence, grads: Sequence, state: Any,
               keys: Sequence[str]) -> tuple[list, list]:
    """Check the arguments of ``step`` and return ``params`` and ``grads`` as lists.

    Raises
    ------
    ValueError
        If ``grads`` does not match ``params`` (count or shapes), if they mix
        namespaces or devices, or if ``state`` lacks one of ``keys`` or has extra ones.
    TypeError
        If ``state`` is not a dict, or ``state["count"]`` is not a non-negative int.
    """
    params, grads = list(params), list(grads)
    tree.check_like(grads, params)
    if params:
        array_namespace(*params, *grads)
    if not isinstance(state, dict):
        raise TypeError(f"state must be the dict returned by init, got {type(state).__name__}")
    if set(state) != set(keys):
        raise ValueError(f"state must have keys {sorted(keys)}, got {sorted(state)}")
    count = state["count"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise TypeError(f"state['count'] must be a non-negative int, got {count!r}")
    return params, grads
