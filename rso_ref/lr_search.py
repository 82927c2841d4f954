r"""Learning-rate search on a validation score: a log grid, extended past a winning edge.

The protocol of the presets and of the ``table2-stability`` claim (one definition for
both): every optimizer gets the rates :math:`\eta_0 \cdot f` for
:math:`f \in` :data:`LR_GRID_FACTORS` around its default :math:`\eta_0`; the rate with
the best score wins, ties going to the smaller rate and NaN scores (diverged runs) never
winning; while the winner is the smallest or largest rate tried, up to ``extend_edges``
more rates are tried beyond it, :data:`LR_EDGE_STEP` (half a decade) apart, so that an
optimum just outside the grid is not missed.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

from .validation import check_int, check_positive

__all__ = ["LR_GRID_FACTORS", "LR_EDGE_STEP", "best_rate", "search_learning_rate"]

#: Multiples of the optimizer's default rate that every search tries.
LR_GRID_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0)
#: Factor between successive rates added beyond the grid's edge (half a decade).
LR_EDGE_STEP = math.sqrt(10.0)


def best_rate(scores: Mapping[float, float], name: str = "the optimizer") -> float:
    r"""The rate with the highest finite score, :math:`\arg\max_\eta s(\eta)`; ties: the smaller.

    Parameters
    ----------
    scores : mapping of float to float
        Score (e.g. validation accuracy) per rate; NaN for a diverged run.
    name : str, optional
        What was tuned, for the error message.

    Returns
    -------
    float
        The winning rate.

    Raises
    ------
    RuntimeError
        If every score is NaN.
    """
    finite = [(s, lr) for lr, s in scores.items() if s == s]
    if not finite:
        raise RuntimeError(f"every learning rate diverged for {name}")
    return max(finite, key=lambda item: (item[0], -item[1]))[1]


def search_learning_rate(score: Callable[[float], float], default_lr: float, *,
                         extend_edges: int = 0, name: str = "the optimizer") -> dict:
    r"""Score the grid :math:`\eta_0 \cdot` :data:`LR_GRID_FACTORS`, extend a winning edge.

    Parameters
    ----------
    score : callable
        ``score(lr) -> float``: the validation score of a run at ``lr`` (NaN if diverged).
    default_lr : float
        :math:`\eta_0 > 0`, the optimizer's default rate.
    extend_edges : int, default 0
        Most rates added beyond an edge winner, each :data:`LR_EDGE_STEP` further out.
    name : str, optional
        What is tuned, for error messages.

    Returns
    -------
    dict
        ``{"grid": [...], "val_accuracy": [...], "best": lr}``, the grid increasing and
        the scores in its order.
    """
    check_positive(default_lr, "default_lr")
    check_int(extend_edges, "extend_edges")
    scores: dict[float, float] = {}
    for factor in LR_GRID_FACTORS:
        lr = default_lr * factor
        scores[lr] = score(lr)
    best = best_rate(scores, name)
    for _ in range(extend_edges):
        grid = sorted(scores)
        if best not in (grid[0], grid[-1]):
            break
        lr = best / LR_EDGE_STEP if best == grid[0] else best * LR_EDGE_STEP
        scores[lr] = score(lr)
        best = best_rate(scores, name)
    grid = sorted(scores)
    return {"grid": grid, "val_accuracy": [scores[lr] for lr in grid], "best": best}
