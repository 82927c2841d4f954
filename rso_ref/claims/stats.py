r"""Statistics used by the claims: bootstrap confidence intervals and Welch's t-test.

``bootstrap_ci`` is the percentile bootstrap: resample the data with replacement
``n_boot`` times, compute the statistic on each resample, and report the
:math:`\alpha/2` and :math:`1-\alpha/2` quantiles. For serially correlated series
(weight trajectories) ``block`` > 1 resamples contiguous blocks (moving-block
bootstrap, Künsch 1989, doi:10.1214/aos/1176347265).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import stats as _scipy_stats

__all__ = ["bootstrap_ci", "welch_t", "mean_std"]


def bootstrap_ci(values: Sequence[float], statistic: Callable[[np.ndarray], float] = np.mean, *,
                 n_boot: int = 2000, alpha: float = 0.05, seed: int = 0,
                 block: int = 1) -> tuple[float, float, float]:
    """Point estimate and percentile-bootstrap interval ``(estimate, lo, hi)``.

    Parameters
    ----------
    values : 1-D sequence of float
    statistic : callable
        Maps a 1-D array to a float.
    n_boot : int
        Bootstrap resamples.
    alpha : float
        1 - confidence level.
    seed : int
    block : int
        Block length of the moving-block bootstrap (1 = iid bootstrap).
    """
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size < 2:
        raise ValueError(f"values must be 1-D with at least 2 entries, got shape {data.shape}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if block < 1 or block > data.size:
        raise ValueError(f"block must lie in [1, {data.size}], got {block}")
    gen = np.random.default_rng(seed)
    n = data.size
    n_blocks = -(-n // block)
    starts = gen.integers(0, n - block + 1, size=(n_boot, n_blocks))
    index = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)[:, :n]
    boots = np.array([statistic(data[row]) for row in index])
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return float(statistic(data)), float(lo), float(hi)


def welch_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Welch's unequal-variance t-test of mean(a) vs mean(b): ``(t, two-sided p)``."""
    res = _scipy_stats.ttest_ind(np.asarray(a, float), np.asarray(b, float), equal_var=False)
    return float(res.statistic), float(res.pvalue)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and unbiased standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0
