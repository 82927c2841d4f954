r"""Bulk-SGD claims: the verdict rules and the pure functions on the runs' numbers.

Experiments: :mod:`rso_ref.claims.bulk_sgd`; pages: :mod:`rso_ref.claims.bulk_sgd_pages`;
figures: :mod:`rso_ref.claims.bulk_sgd_figures`.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

__all__ = ["LOSS_LABEL", "METHODS", "DOM_STALL_FRACTION", "BULK_KEEPS_FRACTION",
           "B_EFFECT_FACTOR", "ENERGY_MAJORITY", "ALIGNMENT_FACTOR", "ALIGNMENT_SKIP",
           "INTERPOLATION_LR_DIVISOR", "GRADIENTS_PER_PRODUCT", "decrease_ratios",
           "is_stable", "index_of",
           "best_cells", "main_effects", "share_reading", "graded_verdict", "alignment_verdict",
           "stability_verdict", "energy_verdict"]

#: Page names of the losses.
LOSS_LABEL = {"cross_entropy": "cross-entropy", "mse": "MSE"}
#: The interpolated methods a P g + b (I - P) g named in the paper: (a, b).
METHODS = {"SGD": (1.0, 1.0), "Dom-SGD": (1.0, 0.0), "Bulk-SGD": (0.0, 1.0)}
#: Claim 2 criteria: Dom's loss decrease at most this fraction of SGD's ...
DOM_STALL_FRACTION = 0.25
#: ... and Bulk's at least this fraction of SGD's, for every seed and loss.
BULK_KEEPS_FRACTION = 0.5
#: Claim 1 criterion of *holds-under-conditions*: the lower CI end of mean chi is at least
#: this multiple of the random-subspace value sqrt(k/d).
ALIGNMENT_FACTOR = 5
#: Claim 1 reads the probes after the first 1/ALIGNMENT_SKIP of the warm-up.
ALIGNMENT_SKIP = 4
#: Claim 4 runs at the largest stable full-batch SGD rate divided by this.
INTERPOLATION_LR_DIVISOR = 2
#: Gradients per Hessian-vector product (a central difference of two gradients,
#: :func:`rso_ref.hessian.fd_hvp`).
GRADIENTS_PER_PRODUCT = 2
#: Claim 4 criterion: the main effect of b on log10 loss is at least this multiple of a's.
B_EFFECT_FACTOR = 3.0
#: Claim 5 criterion: "largely concentrated" = mean share of H and of G at least this.
ENERGY_MAJORITY = 0.5


def decrease_ratios(runs: dict) -> dict:
    """Loss decrease of Dom and Bulk over the run, as fractions of SGD's."""
    drop = {m: r["loss"][0] - r["loss"][-1] for m, r in runs.items()}
    return {"Dom-SGD": drop["Dom-SGD"] / drop["SGD"], "Bulk-SGD": drop["Bulk-SGD"] / drop["SGD"],
            "drop": drop}


def is_stable(losses: list) -> bool:
    r"""A run is stable when no loss is non-finite or above the first one.

    Stricter than "does not diverge": a catapult (a spike that later comes back down,
    Lewkowycz et al. 2020, arXiv:2003.02218) counts as unstable. On a quadratic the loss
    of gradient descent is non-increasing exactly when every mode satisfies
    :math:`|1 - \eta\lambda_i| \le 1`, so this is the empirical counterpart of
    :math:`\eta \le 2/\lambda_1`.
    """
    return all(math.isfinite(v) for v in losses) and max(losses) <= losses[0]


def index_of(grid: Any, value: float) -> int:
    return int(np.argmin(np.abs(np.asarray(grid) - value)))


def best_cells(final: np.ndarray, grid: Any) -> tuple[list, list]:
    """``[a, b, loss]`` of the best stable cell overall and of the best on the diagonal a = b
    (SGD with rate ``a * lr``); loss ``inf`` when none is stable."""
    finite = np.where(np.isfinite(final), final, np.inf)
    i, j = np.unravel_index(int(np.argmin(finite)), finite.shape)
    d = int(np.argmin(np.diag(finite)))
    return ([float(grid[i]), float(grid[j]), float(finite[i, j])],
            [float(grid[d]), float(grid[d]), float(finite[d, d])])


def main_effects(final: np.ndarray) -> tuple[float, float]:
    """Ranges of the row and column means of log10 loss over stable cells: (a effect, b effect)."""
    ok = np.isfinite(final)
    logs = np.log10(np.where(ok, final, 1.0))

    def spread(axis: int) -> float:
        counts = ok.sum(axis=axis)
        means = (logs * ok).sum(axis=axis)[counts > 0] / counts[counts > 0]
        return float(means.max() - means.min()) if means.size else 0.0

    return spread(1), spread(0)


def share_reading(share_ci: Sequence[float]) -> str:
    r"""Read a mean squared-norm share :math:`\chi^2 = \|Pg\|^2/\|g\|^2` against one half.

    ``share_ci`` is ``(mean, lo, hi)``: "more than half" when ``lo`` >= 1/2, "less than
    half" when ``hi`` < 1/2, otherwise "about half (the CI contains 1/2)". The page's
    words come from here, so they cannot contradict the numbers.
    """
    _, lo, hi = share_ci
    if lo >= 0.5:
        return "more than half"
    if hi < 0.5:
        return "less than half"
    return "about half (the CI contains 1/2)"


def graded_verdict(first: Sequence[bool], second: Sequence[bool]) -> str:
    """*holds* if every run meets both criteria, *holds-under-conditions* if some run meets
    one, *refuted* otherwise (claims ``bulk-dom-stalls`` and ``bulk-interpolation``)."""
    if all(first) and all(second):
        return "holds"
    if any(first) or any(second):
        return "holds-under-conditions"
    return "refuted"


def alignment_verdict(shares: Sequence[Sequence[float]], lower_chis: Sequence[float],
                      baselines: Sequence[float]) -> str:
    """``bulk-alignment``: *holds* if the mean share chi^2 is above 1/2 (CI) for every loss,
    *holds-under-conditions* if the lower CI end of mean chi is >= 5 sqrt(k/d) for every
    loss, *refuted* otherwise."""
    if all(share_reading(share) == "more than half" for share in shares):
        return "holds"
    if all(lo >= ALIGNMENT_FACTOR * base for lo, base in zip(lower_chis, baselines)):
        return "holds-under-conditions"
    return "refuted"


def stability_verdict(larger: Sequence[bool], short: Sequence[bool]) -> str:
    """``bulk-stability``: *holds* if Bulk's lr beats SGD's and stays below 2/lambda_(k+1) in
    every run, *holds-under-conditions* if only the first, *refuted* otherwise."""
    if all(larger) and all(short):
        return "holds"
    return "holds-under-conditions" if all(larger) else "refuted"


def energy_verdict(concentrated: Sequence[bool], f_less: Sequence[bool]) -> str:
    """``bulk-ggn-energy``: *holds* if every share of H and G reaches :data:`ENERGY_MAJORITY`
    and F is less concentrated than G for every loss, *holds-under-conditions* if some share
    reaches it, *refuted* otherwise."""
    if all(concentrated) and all(f_less):
        return "holds"
    return "holds-under-conditions" if any(concentrated) else "refuted"
