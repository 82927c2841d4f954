r"""Statistics shared by the claims and the presets: bootstrap CIs, Welch's t-test, Holm.

One home for them (host side, NumPy and SciPy), below both users in the import
direction, so that neither imports the other for a statistic.

``bootstrap_ci`` is the percentile bootstrap: resample the data with replacement
``n_boot`` times, compute the statistic on each resample, and report the
:math:`\alpha/2` and :math:`1-\alpha/2` quantiles. For serially correlated series
(weight trajectories) ``block`` > 1 resamples contiguous blocks (moving-block
bootstrap, Künsch 1989, doi:10.1214/aos/1176347265).

``welch_diff`` is Welch's unequal-variance t-test (Welch 1947,
doi:10.2307/2332510) with the confidence interval of the difference of means, and
``holm`` the Holm-Bonferroni step-down adjustment of several p-values (Holm 1979,
"A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6).

``tost_diff`` is the two one-sided tests procedure for equivalence (Schuirmann 1987,
doi:10.1007/BF01068419) on Welch's statistic: "no gain" is shown, not assumed from a
non-significant difference. ``proportion_ci`` is the exact Clopper-Pearson interval of
a binomial proportion (1934, doi:10.1093/biomet/26.4.404), and ``detectable_effect`` the
smallest effect a two-sided test with a given standard error detects with given power
(normal approximation), the power statement behind a "no evidence" reading.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .validation import check_int, check_nonnegative, check_positive, check_real

__all__ = ["bootstrap_ci", "welch_diff", "holm", "mean_std", "tost_diff", "proportion_ci",
           "detectable_effect", "normal_sf", "normal_ppf", "welch_one_sided", "EQUIVALENCE_MARGIN"]

#: Equivalence margin of the ablations' "no gain" tests (1 accuracy point, as a fraction),
#: shared by the claim ``ablations`` and the presets' tables. The RSO paper's §4.5 calls
#: 0.5 points (K = 4 -> 6) a gain and 0 points (K = 6 -> 16) "no further improvement";
#: 1 point is twice its smallest reported gain and under half its largest (2.1 points,
#: K = 2 -> 6), fixed before the runs.
EQUIVALENCE_MARGIN = 0.01


def bootstrap_ci(values: Sequence[float], statistic: Callable[[np.ndarray], float] = np.mean, *,
                 n_boot: int = 2000, alpha: float = 0.05, seed: int = 0,
                 block: int = 1) -> tuple[float, float, float]:
    r"""Return a point estimate and its percentile-bootstrap interval.

    .. math::

        [\mathrm{lo}, \mathrm{hi}]
            = \big[q_{\alpha/2}(\hat\theta^*), q_{1-\alpha/2}(\hat\theta^*)\big],

    the quantiles of the statistic over ``n_boot`` resamples :math:`\hat\theta^*`.

    Parameters
    ----------
    values : 1-D sequence of float
        The sample.
    statistic : callable
        Maps a 1-D array to a float.
    n_boot : int
        Bootstrap resamples.
    alpha : float
        1 - confidence level.
    seed : int
        Seed of the resampling generator.
    block : int
        Block length of the moving-block bootstrap (1 = iid bootstrap).

    Returns
    -------
    estimate : float
        ``statistic(values)``.
    lo, hi : float
        The interval's ends.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size < 2:
        raise ValueError(f"values must be 1-D with at least 2 entries, got shape {data.shape}")
    n_boot = check_int(n_boot, "n_boot", 1)
    block = check_int(block, "block", 1, data.size)
    if not 0.0 < check_real(alpha, "alpha") < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    gen = np.random.default_rng(seed)
    n = data.size
    n_blocks = -(-n // block)
    starts = gen.integers(0, n - block + 1, size=(n_boot, n_blocks))
    index = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)[:, :n]
    boots = np.array([statistic(data[row]) for row in index])
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return float(statistic(data)), float(lo), float(hi)


def welch_diff(a: Sequence[float], b: Sequence[float], confidence: float = 0.95
               ) -> dict[str, float]:
    r"""Compare two samples by Welch's t-test on ``mean(a) - mean(b)``.

    .. math::

        t = \frac{\bar a - \bar b}{\sqrt{s_a^2/n_a + s_b^2/n_b}}

    with Welch-Satterthwaite degrees of freedom; ``[lo, hi]`` is the ``confidence``
    interval of the difference and ``p`` the two-sided p-value.

    Parameters
    ----------
    a, b : sequence of float
        The two samples (at least two values each).
    confidence : float, default 0.95
        Level of the interval.

    Returns
    -------
    dict
        ``{"diff", "lo", "hi", "t", "p"}``: the difference of means, its interval, the
        statistic and the two-sided p-value.
    """
    from scipy import stats  # ~360 ms to import; mean_std users (the CLI's parser) skip it

    res = stats.ttest_ind(np.asarray(a, float), np.asarray(b, float), equal_var=False)
    ci = res.confidence_interval(confidence)
    return {"diff": float(np.mean(a) - np.mean(b)), "lo": float(ci.low), "hi": float(ci.high),
            "t": float(res.statistic), "p": float(res.pvalue)}


def holm(p_values: Sequence[float]) -> list[float]:
    r"""Return the Holm-Bonferroni adjusted p-values, in the order given.

    With the p-values sorted increasingly, :math:`p_{(1)} \le \dots \le p_{(m)}`, the
    adjusted values are :math:`\tilde p_{(i)} = \min\big(1, \max_{j \le i} (m - j + 1)\,
    p_{(j)}\big)`; rejecting where :math:`\tilde p \le \alpha` controls the
    family-wise error rate at :math:`\alpha`. NaN p-values stay NaN and do not count in m.

    Parameters
    ----------
    p_values : sequence of float
        The :math:`m` p-values (NaN allowed).

    Returns
    -------
    list of float
        :math:`\tilde p` in the order of ``p_values``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m, running = order.size, 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return [float(v) for v in out]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    r"""Return the mean and the unbiased standard deviation (0 for a single value).

    .. math::

        \bar x = \frac{1}{n}\sum_i x_i, \qquad s = \sqrt{\frac{1}{n-1}\sum_i (x_i - \bar x)^2}

    Parameters
    ----------
    values : sequence of float
        The sample.

    Returns
    -------
    mean : float
        :math:`\bar x`.
    std : float
        :math:`s` (0 for a single value).
    """
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def tost_diff(a: Sequence[float], b: Sequence[float], margin: float, *, alpha: float = 0.05
              ) -> dict[str, float | bool]:
    r"""Test whether ``mean(a) - mean(b)`` lies within ``±margin`` (Welch TOST).

    Two one-sided Welch tests, :math:`H_{0-}: \mu_a - \mu_b \le -\delta` and
    :math:`H_{0+}: \mu_a - \mu_b \ge \delta`; equivalence is declared when both are
    rejected at level :math:`\alpha`, i.e. when
    :math:`p = \max(p_-, p_+) \le \alpha`, equivalently when the
    :math:`1 - 2\alpha` Welch interval of the difference lies inside
    :math:`(-\delta, \delta)`.

    Parameters
    ----------
    a, b : sequence of float
        The two samples (at least two values each).
    margin : float
        The equivalence margin :math:`\delta > 0`, in the samples' units.
    alpha : float, default 0.05
        Level of each one-sided test.

    Returns
    -------
    dict
        ``{"diff", "lo", "hi", "p", "margin", "equivalent"}``: the difference of means, its
        :math:`1 - 2\alpha` interval, the TOST p-value, the margin and the decision.
    """
    from scipy import stats

    delta = check_positive(margin, "margin")
    _check_open_unit(alpha, "alpha", upper=0.5)
    x, y = np.asarray(a, float), np.asarray(b, float)
    if x.size < 2 or y.size < 2:
        raise ValueError(f"a and b need at least two values each, got {x.size} and {y.size}")
    ci = stats.ttest_ind(x, y, equal_var=False).confidence_interval(1 - 2 * alpha)
    p = max(welch_one_sided(x, y, -delta, "greater"), welch_one_sided(x, y, delta, "less"))
    return {"diff": float(x.mean() - y.mean()), "lo": float(ci.low), "hi": float(ci.high),
            "p": p, "margin": delta, "equivalent": bool(p <= alpha)}


def welch_one_sided(a: Sequence[float], b: Sequence[float], shift: float = 0.0,
                    alternative: str = "less") -> float:
    r"""One-sided Welch p-value for :math:`\mu_a - \mu_b` against ``shift``.

    ``alternative="less"`` tests :math:`H_0: \mu_a - \mu_b \ge \delta` against
    :math:`H_1: \mu_a - \mu_b < \delta` (:math:`\delta` = ``shift``), e.g. "the gain is
    smaller than the paper's"; ``"greater"`` the mirror image. The statistic is
    :math:`t = (\bar a - \bar b - \delta)/\sqrt{s_a^2/n_a + s_b^2/n_b}` with Welch-
    Satterthwaite degrees of freedom.

    Parameters
    ----------
    a, b : sequence of float
        The two samples (at least two values each).
    shift : float, default 0
        :math:`\delta`, in the samples' units.
    alternative : {"less", "greater"}, default "less"
        The direction of :math:`H_1`.

    Returns
    -------
    float
        The p-value.
    """
    from scipy import stats

    if alternative not in ("less", "greater"):
        raise ValueError(f"alternative must be 'less' or 'greater', got {alternative!r}")
    x, y = np.asarray(a, float), np.asarray(b, float)
    return float(stats.ttest_ind(x - float(shift), y, equal_var=False,
                                 alternative=alternative).pvalue)


def proportion_ci(successes: int, trials: int, *, confidence: float = 0.95
                  ) -> tuple[float, float, float]:
    r"""Return a proportion :math:`k/n` and its exact (Clopper-Pearson) interval.

    The bounds are the :math:`\alpha/2` and :math:`1-\alpha/2` quantiles of
    :math:`\mathrm{Beta}(k, n-k+1)` and :math:`\mathrm{Beta}(k+1, n-k)`; with
    :math:`k = 0` the interval still has an upper bound above zero (about :math:`3/n`
    at 95 %), so "no failure seen" is reported with what it can exclude.

    Parameters
    ----------
    successes : int
        :math:`k`, between 0 and ``trials``.
    trials : int
        :math:`n \ge 1`.
    confidence : float, default 0.95
        Level of the interval.

    Returns
    -------
    tuple of float
        ``(k/n, lo, hi)``.
    """
    from scipy import stats

    n = check_int(trials, "trials", minimum=1)
    k = check_int(successes, "successes")
    if k > n:
        raise ValueError(f"successes must be at most trials={n}, got {k}")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return k / n, float(ci.low), float(ci.high)


def detectable_effect(standard_error: float, *, alpha: float = 0.05, power: float = 0.8
                      ) -> float:
    r"""Return the smallest effect a two-sided level-``alpha`` test detects with ``power``.

    .. math::

        \delta_{\min} = (z_{1-\alpha/2} + z_{\mathrm{power}})\,\mathrm{SE}

    (normal approximation; 2.80 SE at 5 % and 80 %). A protocol that finds no effect
    has excluded, with that power, effects of this size or larger, and nothing smaller.

    Parameters
    ----------
    standard_error : float
        The standard error of the estimate (positive).
    alpha : float, default 0.05
        Two-sided level.
    power : float, default 0.8
        Probability of detecting an effect of the returned size.

    Returns
    -------
    float
        :math:`\delta_{\min}`, in the estimate's units.
    """
    from scipy import stats

    se = check_nonnegative(standard_error, "standard_error")
    _check_open_unit(alpha, "alpha")
    _check_open_unit(power, "power")
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se)


def _check_open_unit(value: float, name: str, upper: float = 1.0) -> None:
    if not 0.0 < check_positive(value, name) < upper:
        raise ValueError(f"{name} must lie in (0, {upper}), got {value!r}")


def normal_sf(z: Any) -> Any:
    r"""Upper tail of the standard normal, :math:`1 - \Phi(z)`, elementwise (host float64).

    The one door to :mod:`scipy.stats` for the claims (which import NumPy only): a
    two-sided normal-approximation p-value is ``2 * normal_sf(abs(z))``.

    Parameters
    ----------
    z : float or array_like
        Standard scores (infinities allowed: ``normal_sf(inf) == 0``).

    Returns
    -------
    float or numpy.ndarray
        :math:`1 - \Phi(z)`, of the shape of ``z``.
    """
    from scipy import stats

    return stats.norm.sf(z)


def normal_ppf(q: float) -> float:
    r"""The standard normal quantile :math:`z_q = \Phi^{-1}(q)`, e.g. 1.96 for ``q = 0.975``.

    Parameters
    ----------
    q : float
        A probability in (0, 1).

    Returns
    -------
    float
        :math:`\Phi^{-1}(q)`.
    """
    from scipy import stats

    _check_open_unit(q, "q")
    return float(stats.norm.ppf(q))
