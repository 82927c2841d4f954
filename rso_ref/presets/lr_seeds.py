r"""The validation grid of a preset on more seeds: the LR sensitivity range beyond one seed.

Step 1 of the protocol (:mod:`rso_ref.presets`) chooses each rate on one seed (seed 0);
the LR sensitivity range read from that grid rests on one seed too. Here the *same*
rates (seed 0's grid, edge extensions included) are scored again, on the same
validation split and epochs, with more seeds (initialisation and minibatch order). The
range on the mean over seeds,

.. math::

    \bar s(\eta) = \frac1S \sum_{k=1}^{S} s_k(\eta), \qquad
    R = \log_{10} \frac{\max\{\eta : \bar s(\eta) \ge \max \bar s - \tau\}}
                       {\min\{\eta : \bar s(\eta) \ge \max \bar s - \tau\}},

(:func:`rso_ref.metrics.lr_sensitivity_range`, :math:`\tau` =
:data:`~rso_ref.presets.analysis.LR_TOLERANCE`) is an extra measurement: the chosen rate
and the test runs stay those of seed 0, so the preset's protocol is unchanged. The RSO
paper's Table 2 reports the range without saying over how many seeds.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

from ..compare import CompareConfig, validation_scores
from ..validation import check_int
from .protocol import VAL_FRACTION

__all__ = ["EXTRA_LR_SEEDS", "score_grid_seeds", "config_of"]

#: Seeds on which the cheap presets' validation grid is scored again (seed 0 chose the rates).
EXTRA_LR_SEEDS = (1, 2)


def config_of(report: dict) -> CompareConfig:
    """The :class:`~rso_ref.compare.CompareConfig` a stored report ran with."""
    stored = dict(report["config"])
    return CompareConfig(**{**stored, "optimizers": tuple(stored["optimizers"]),
                            "seeds": tuple(stored["seeds"])})


def score_grid_seeds(report: dict, seeds: Sequence[int] = EXTRA_LR_SEEDS, *,
                     log: Callable[[str], object] | None = None) -> dict:
    r"""Validation accuracy of every rate of ``report["tuning"]``, one row per seed.

    Parameters
    ----------
    report : dict
        A tuned preset report (``"tuning"`` holds each tuned arm's ``grid``).
    seeds : sequence of int, default :data:`EXTRA_LR_SEEDS`
        Seeds other than 0 (seed 0's scores are the tuning's own).
    log : callable, optional
        Called with one line per run.

    Returns
    -------
    dict
        ``{"seeds": [0, *seeds], "val_accuracy": {arm: [[seed 0's scores], [...], ...]},
        "wall_time_s": seconds}``, each row over the arm's ``grid`` in its order; a
        diverged run scores NaN, as in the tuning.

    Raises
    ------
    ValueError
        If ``report`` was not tuned, or ``seeds`` is empty, repeats a seed or holds 0.
    """
    tuning = report.get("tuning")
    if not tuning:
        raise ValueError("report: has no tuning (a preset run with --no-tune)")
    seeds = [check_int(s, "seeds", minimum=1) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct seeds other than 0, got {seeds}")
    started = time.perf_counter()
    config = config_of(report)
    scores = {arm: [list(t["val_accuracy"])] + validation_scores(
        config, arm, t["grid"], seeds, val_fraction=VAL_FRACTION, log=log)
        for arm, t in tuning.items()}
    return {"seeds": [0, *seeds], "val_accuracy": scores,
            "wall_time_s": time.perf_counter() - started}
