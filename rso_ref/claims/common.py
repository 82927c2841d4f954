"""What several claims share: the exact meta-solve's K and the number formats of the pages."""
from __future__ import annotations

from typing import Sequence

__all__ = ["EXACT_K", "DIGITS_TRAIN_ROWS", "DIGITS_FEATURES", "DIGITS_CLASSES", "fmt_ci", "fmt_g",
           "number_word", "seed_range"]

#: Meta L-BFGS iterations standing in for an exact meta-solve ("exact" below). On the
#: 4-dimensional convex meta-problems L-BFGS reaches the minimiser to round-off well
#: before this (checked against the closed form in the tests).
EXACT_K = 40

#: The digits as :func:`rso_ref.data.load_digits` splits them (seed 0): training rows
#: (1797 images, a fifth held out), features and classes (k). The prose renders from
#: these and the tests check them against the loaded data.
DIGITS_TRAIN_ROWS, DIGITS_FEATURES, DIGITS_CLASSES = 1438, 64, 10


def fmt_ci(values: Sequence[float], digits: int = 3) -> str:
    """``estimate [lo, hi]`` of an ``(estimate, lo, hi)`` triple, ``digits`` decimals."""
    est, lo, hi = values[0], values[1], values[2]
    return f"{est:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def fmt_g(value: float) -> str:
    """Three significant digits."""
    return f"{value:.3g}"


_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def number_word(n: int) -> str:
    """``n`` in words up to ten (prose: "four coefficient blocks"), digits above."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else str(n)


def seed_range(seeds: Sequence[int]) -> str:
    """Consecutive seeds as ``first-last`` (``0-4``)."""
    return f"{seeds[0]}-{seeds[-1]}"
