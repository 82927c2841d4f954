"""Argument checks shared by the data loaders: each error names the argument."""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def check_int(value: Any, name: str, minimum: int) -> int:
    """Return ``value`` if it is an int ``>= minimum`` (``TypeError``, ``ValueError`` if not)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def check_number(value: Any, name: str, minimum: float, *, strict: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real ``>= minimum`` (``>`` if ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    relation = ">" if strict else ">="
    if not math.isfinite(value) or (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be a finite number {relation} {minimum:g}, got {value!r}")
    return float(value)


def check_fraction(value: Any, name: str) -> float:
    """Return ``value`` as a float if it lies in ``[0, 1)``."""
    value = check_number(value, name, 0.0)
    if value >= 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")
    return value
