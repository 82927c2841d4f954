"""What several claims share: the exact meta-solve's K and the number formats of the pages."""
from __future__ import annotations

import math
import re
from typing import Sequence

__all__ = ["EXACT_K", "DIGITS_TRAIN_ROWS", "DIGITS_TEST_ROWS", "DIGITS_FEATURES",
           "DIGITS_CLASSES", "fmt_ci", "fmt_g",
           "number_word", "seed_range", "superscript", "fmt_pow10", "fmt_set", "fmt_e",
           "fmt_range", "fmt_box", "fraction_word", "ordinal"]

#: Meta L-BFGS iterations standing in for an exact meta-solve ("exact" below). On the
#: 4-dimensional convex meta-problems L-BFGS reaches the minimiser to round-off well
#: before this (checked against the closed form in the tests).
EXACT_K = 40

#: The digits as :func:`rso_ref.data.load_digits` splits them (seed 0): training rows
#: (1797 images, a fifth held out), features and classes (k). The prose renders from
#: these and the tests check them against the loaded data.
DIGITS_TRAIN_ROWS, DIGITS_FEATURES, DIGITS_CLASSES = 1438, 64, 10
#: The held-out fifth of the digits (test rows).
DIGITS_TEST_ROWS = 359


def fmt_ci(values: Sequence[float], digits: int = 3) -> str:
    """``estimate [lo, hi]`` of an ``(estimate, lo, hi)`` triple, ``digits`` decimals."""
    est, lo, hi = values[0], values[1], values[2]
    return f"{est:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def fmt_g(value: float) -> str:
    """Three significant digits."""
    return f"{value:.3g}"


_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


_FRACTIONS = {2: "half", 3: "third", 4: "quarter"}


def fraction_word(n: int) -> str:
    """The word for ``1/n`` (``quarter``) up to a quarter, ``1/n`` above."""
    return _FRACTIONS.get(n, f"1/{n}")


def ordinal(n: int) -> str:
    """``10th``, ``1st``, ``2nd``, ``3rd``, ``11th``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def number_word(n: int) -> str:
    """``n`` in words up to ten (prose: "four coefficient blocks"), digits above."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else str(n)


def seed_range(seeds: Sequence[int]) -> str:
    """Consecutive seeds as ``first-last`` (``0-4``)."""
    return f"{seeds[0]}-{seeds[-1]}"


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def superscript(n: int) -> str:
    """``n`` in superscript digits (``4`` -> ``⁴``), for exponents typed into prose."""
    return str(n).translate(_SUPERSCRIPTS)


def fmt_pow10(value: float) -> str:
    """A power of ten as prose writes it: ``10``, ``10²``, ``10³`` (other values: ``:g``)."""
    exponent = round(math.log10(value)) if value > 0 else None
    if exponent is None or 10.0 ** exponent != value:
        return f"{value:g}"
    return "10" if exponent == 1 else f"10{superscript(exponent)}"


def fmt_set(values: Sequence[float], fmt=fmt_pow10) -> str:
    """``{a, b, c}`` with each value formatted by ``fmt`` (default :func:`fmt_pow10`)."""
    return "{" + ", ".join(fmt(v) for v in values) + "}"


def fmt_e(value: float) -> str:
    """``:g``, but below 0.01 in exponent form without the exponent's leading zero, as the
    prose writes rates and tolerances: ``1e-5``, ``2.2e-9``, ``1e-3``, ``0.05``."""
    text = f"{value:g}"
    if "e" not in text and 0 < abs(value) < 0.01:
        mantissa, exponent = f"{value:e}".split("e")
        text = f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m[1] == "-" else "") + m[2], text)


def fmt_range(values: Sequence[int]) -> str:
    """``1…6`` for three or more consecutive integers, else ``1, 3``."""
    values = sorted(values)
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}…{values[-1]}"
    return ", ".join(str(v) for v in values)


def fmt_box(box: Sequence[float], dim: int) -> str:
    """``[−2, 4]⁴``: the interval ``box`` to the power ``dim``, with prose minus signs."""
    lo, hi = (f"{v:g}".replace("-", "−") for v in box)
    return f"[{lo}, {hi}]{superscript(dim)}"
