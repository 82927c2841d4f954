r"""Statistics shared by the claims and the presets: bootstrap CIs, Welch's t-test, Holm.

One home for them (host side, NumPy and SciPy), below both users in the import
direction, so that neither imports the other for a statistic.

``bootstrap_ci`` is the percentile bootstrap: resample the data with replacement
``n_boot`` times, compute the statistic on each resample, and report the
:math:`\alpha/2` and :math:`1-\alpha/2` quantiles. For serially correlated series
(weight trajectories) ``block`` > 1 resamples contiguous blocks (moving-block
bootstrap, Künsch 1989, doi:10.1214/aos/1176347265).

``cluster_bootstrap`` resamples whole clusters (the seeds of a protocol) instead of
observations: steps of one run are correlated, runs with different seeds are not, so
the seeds are the independent units (Davison and Hinkley 1997, *Bootstrap Methods and
their Application*, §3.8). Its interval describes; with a handful of seeds the decision
belongs to a t-test on the per-seed statistics with :math:`C - 1` degrees of freedom
(Cameron and Miller 2015, "A practitioner's guide to cluster-robust inference",
doi:10.3368/jhr.50.2.317, §VI).

``welch_diff`` is Welch's unequal-variance t-test (Welch 1947,
doi:10.2307/2332510) with the confidence interval of the difference of means;
``paired_diff`` is the paired t-test ("Student" 1908, doi:10.2307/2331554) for arms
that share seeds (same initialisation and minibatch order per seed), where the
seed-to-seed variation common to both arms cancels in the differences. ``holm`` is the
Holm-Bonferroni step-down adjustment of several p-values (Holm 1979, "A simple
sequentially rejective multiple test procedure", Scand. J. Statist. 6).

``tost_diff`` is the two one-sided tests procedure for equivalence (Schuirmann 1987,
doi:10.1007/BF01068419) on Welch's or the paired statistic: "no gain" is shown, not
assumed from a non-significant difference. ``proportion_ci`` is the exact
Clopper-Pearson interval of a binomial proportion (1934, doi:10.1093/biomet/26.4.404),
``detectable_effect`` the smallest effect a two-sided t-test with a given standard error
and degrees of freedom detects with given power, the power statement behind a "no
evidence" reading, and ``censored_median`` the median of times-to-event where some runs
never reach the event.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .validation import check_flag, check_int, check_nonnegative, check_positive, check_real

__all__ = ["bootstrap_ci", "cluster_bootstrap", "welch_diff", "paired_diff", "holm", "mean_std",
           "tost_diff", "proportion_ci", "detectable_effect", "censored_median", "normal_sf",
           "normal_ppf", "one_sided_diff", "EQUIVALENCE_MARGIN"]

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


def cluster_bootstrap(clusters: Sequence[Sequence[float]],
                      statistic: Callable[[np.ndarray], float] = np.mean, *,
                      n_boot: int = 2000, alpha: float = 0.05, seed: int = 0
                      ) -> dict[str, float]:
    r"""Percentile-bootstrap interval over clusters (the seeds of a protocol).

    Each resample draws :math:`C` of the :math:`C` clusters with replacement,
    concatenates their observations and computes the statistic on them; the observations
    inside a cluster (correlated steps of one run) stay together, so the interval
    reflects the variation between independent runs only:

    .. math::

        [\mathrm{lo}, \mathrm{hi}] = [q_{\alpha/2}(\hat\theta^*), q_{1-\alpha/2}(\hat\theta^*)].

    It describes; it does not decide. With few clusters the bootstrap distribution has
    at most :math:`\binom{2C-1}{C}` distinct resamples (126 for :math:`C = 5`) and its
    tails are not a sampling distribution: when every cluster lies on one side of a
    value, every resample does too, and a bootstrap "p-value" would be :math:`1/(B+1)`
    for any :math:`C`, while the chance of that pattern under a null symmetric across
    runs is :math:`2^{1-C}` (1/16 for five seeds). Decide with a test whose reference
    distribution accounts for :math:`C`, e.g. the t-test on the per-cluster statistics
    with :math:`C - 1` degrees of freedom (:func:`paired_diff` against zero).

    Parameters
    ----------
    clusters : sequence of 1-D sequences of float
        The observations of each cluster (at least two clusters, each non-empty).
    statistic : callable
        Maps a 1-D array (the concatenated resample) to a float.
    n_boot : int
        Bootstrap resamples :math:`B`.
    alpha : float
        1 - confidence level.
    seed : int
        Seed of the resampling generator.

    Returns
    -------
    dict
        ``{"estimate", "lo", "hi", "n_clusters"}``: the statistic on all the data, the
        interval and :math:`C`.
    """
    parts = [np.asarray(c, dtype=np.float64).ravel() for c in clusters]
    if len(parts) < 2 or any(p.size == 0 for p in parts):
        raise ValueError(f"clusters must hold at least two non-empty clusters, got sizes "
                         f"{[p.size for p in parts]}")
    n_boot = check_int(n_boot, "n_boot", 1)
    _check_open_unit(alpha, "alpha")
    gen = np.random.default_rng(seed)
    picks = gen.integers(0, len(parts), size=(n_boot, len(parts)))
    boots = np.array([statistic(np.concatenate([parts[i] for i in row])) for row in picks])
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return {"estimate": float(statistic(np.concatenate(parts))), "lo": float(lo),
            "hi": float(hi), "n_clusters": len(parts)}


def welch_diff(a: Sequence[float], b: Sequence[float], confidence: float = 0.95
               ) -> dict[str, float]:
    r"""Compare two independent samples by Welch's t-test on ``mean(a) - mean(b)``.

    .. math::

        t = \frac{\bar a - \bar b}{\mathrm{SE}}, \qquad
        \mathrm{SE} = \sqrt{s_a^2/n_a + s_b^2/n_b}

    with Welch-Satterthwaite degrees of freedom :math:`\nu = \mathrm{SE}^4 / \big(
    \frac{(s_a^2/n_a)^2}{n_a-1} + \frac{(s_b^2/n_b)^2}{n_b-1}\big)`;
    ``[lo, hi]`` is the ``confidence`` interval of the difference and ``p`` the two-sided
    p-value. For arms that share seeds use :func:`paired_diff`.

    Parameters
    ----------
    a, b : sequence of float
        The two samples (at least two values each).
    confidence : float, default 0.95
        Level of the interval.

    Returns
    -------
    dict
        ``{"diff", "lo", "hi", "t", "p", "se", "df", "test"}``: the difference of means,
        its interval, the statistic, the two-sided p-value, the standard error, the
        degrees of freedom and ``"Welch"``.
    """
    return _mean_difference(a, b, paired=False, confidence=confidence)


def paired_diff(a: Sequence[float], b: Sequence[float], confidence: float = 0.95
                ) -> dict[str, float]:
    r"""Compare two paired samples (``a[i]`` and ``b[i]`` share seed ``i``) by the paired t-test.

    With the differences :math:`d_i = a_i - b_i`, :math:`i = 1..n`,

    .. math::

        t = \frac{\bar d}{s_d/\sqrt n}, \qquad \nu = n - 1,

    ``[lo, hi]`` is the ``confidence`` interval :math:`\bar d \pm t_{\nu}\, s_d/\sqrt n`
    and ``p`` the two-sided p-value. It is the test the design calls for when both arms
    run with the same seeds (same initialisation and minibatch order): what the seeds
    share cancels in :math:`d_i`.

    Parameters
    ----------
    a, b : sequence of float
        The two samples, of equal length (at least two pairs), in seed order.
    confidence : float, default 0.95
        Level of the interval.

    Returns
    -------
    dict
        As :func:`welch_diff`, with ``"test": "paired t"``.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` differ in length.
    """
    return _mean_difference(a, b, paired=True, confidence=confidence)


def _samples(a: Sequence[float], b: Sequence[float], paired: bool) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or x.size < 2 or y.size < 2:
        raise ValueError(f"a and b must be 1-D with at least two values each, got shapes "
                         f"{x.shape} and {y.shape}")
    if paired and x.size != y.size:
        raise ValueError(f"paired samples a and b must have equal lengths, got {x.size} and "
                         f"{y.size}")
    return x, y


def _t_result(x: np.ndarray, y: np.ndarray, paired: bool, **kwargs: Any):
    from scipy import stats  # ~360 ms to import; mean_std users (the CLI's parser) skip it

    if paired:
        return stats.ttest_rel(x, y, **kwargs)
    return stats.ttest_ind(x, y, equal_var=False, **kwargs)


def _standard_error(x: np.ndarray, y: np.ndarray, paired: bool) -> float:
    if paired:
        return float(np.std(x - y, ddof=1) / np.sqrt(x.size))
    return float(np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size))


def _mean_difference(a: Sequence[float], b: Sequence[float], *, paired: bool,
                     confidence: float) -> dict[str, float]:
    _check_open_unit(confidence, "confidence")
    x, y = _samples(a, b, paired)
    res = _t_result(x, y, paired)
    ci = res.confidence_interval(confidence)
    return {"diff": float(x.mean() - y.mean()), "lo": float(ci.low), "hi": float(ci.high),
            "t": float(res.statistic), "p": float(res.pvalue),
            "se": _standard_error(x, y, paired), "df": float(res.df),
            "test": "paired t" if paired else "Welch"}


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


def tost_diff(a: Sequence[float], b: Sequence[float], margin: float, *, alpha: float = 0.05,
              paired: bool = False) -> dict[str, float | bool]:
    r"""Test whether ``mean(a) - mean(b)`` lies within ``±margin`` (TOST).

    Two one-sided t-tests, :math:`H_{0-}: \mu_a - \mu_b \le -\delta` and
    :math:`H_{0+}: \mu_a - \mu_b \ge \delta`; equivalence is declared when both are
    rejected at level :math:`\alpha`, i.e. when
    :math:`p = \max(p_-, p_+) \le \alpha`, equivalently when the
    :math:`1 - 2\alpha` interval of the difference lies inside :math:`(-\delta, \delta)`.
    The statistic is Welch's, or the paired one with ``paired=True`` (arms that share
    seeds; :func:`paired_diff`).

    Parameters
    ----------
    a, b : sequence of float
        The two samples (at least two values each; equal lengths when paired).
    margin : float
        The equivalence margin :math:`\delta > 0`, in the samples' units.
    alpha : float, default 0.05
        Level of each one-sided test.
    paired : bool, default False
        Paired t statistic instead of Welch's.

    Returns
    -------
    dict
        ``{"diff", "lo", "hi", "p", "margin", "equivalent", "se", "df", "test"}``: the
        difference of means, its :math:`1 - 2\alpha` interval, the TOST p-value, the
        margin, the decision, the standard error, the degrees of freedom and the test's
        name.
    """
    delta = check_positive(margin, "margin")
    _check_open_unit(alpha, "alpha", upper=0.5)
    check_flag(paired, "paired")
    x, y = _samples(a, b, paired)
    ci = _t_result(x, y, paired).confidence_interval(1 - 2 * alpha)
    p = max(one_sided_diff(x, y, -delta, "greater", paired=paired),
            one_sided_diff(x, y, delta, "less", paired=paired))
    return {"diff": float(x.mean() - y.mean()), "lo": float(ci.low), "hi": float(ci.high),
            "p": p, "margin": delta, "equivalent": bool(p <= alpha),
            "se": _standard_error(x, y, paired), "df": float(_t_result(x, y, paired).df),
            "test": "paired t" if paired else "Welch"}


def one_sided_diff(a: Sequence[float], b: Sequence[float], shift: float = 0.0,
                   alternative: str = "less", *, paired: bool = False) -> float:
    r"""One-sided t-test p-value for :math:`\mu_a - \mu_b` against ``shift``.

    ``alternative="less"`` tests :math:`H_0: \mu_a - \mu_b \ge \delta` against
    :math:`H_1: \mu_a - \mu_b < \delta` (:math:`\delta` = ``shift``), e.g. "the gain is
    smaller than the paper's"; ``"greater"`` the mirror image. The statistic is
    :math:`t = (\bar a - \bar b - \delta)/\mathrm{SE}` with Welch's standard error and
    Welch-Satterthwaite degrees of freedom, or, with ``paired=True``, the paired standard
    error :math:`s_d/\sqrt n` and :math:`n - 1` degrees of freedom.

    Parameters
    ----------
    a, b : sequence of float
        The two samples (at least two values each; equal lengths when paired).
    shift : float, default 0
        :math:`\delta`, in the samples' units.
    alternative : {"less", "greater"}, default "less"
        The direction of :math:`H_1`.
    paired : bool, default False
        Paired t statistic instead of Welch's.

    Returns
    -------
    float
        The p-value.
    """
    if alternative not in ("less", "greater"):
        raise ValueError(f"alternative must be 'less' or 'greater', got {alternative!r}")
    check_flag(paired, "paired")
    x, y = _samples(a, b, paired)
    return float(_t_result(x - check_real(shift, "shift"), y, paired,
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


def detectable_effect(standard_error: float, *, df: float, alpha: float = 0.05,
                      power: float = 0.8) -> float:
    r"""Return the smallest effect a two-sided level-``alpha`` t-test detects with ``power``.

    .. math::

        \delta_{\min} = (t_{\nu,\,1-\alpha/2} + t_{\nu,\,\mathrm{power}})\,\mathrm{SE}

    with :math:`\nu` = ``df`` the test's degrees of freedom (3.19 SE at :math:`\nu = 8`,
    3.72 SE at :math:`\nu = 4`; 2.80 SE only as :math:`\nu \to \infty`, where it is the
    normal approximation). It is the usual central-t approximation of the power of a
    t-test (it neglects the skew of the noncentral t, under 0.1 SE for
    :math:`\nu \ge 4`). A protocol that finds no effect has excluded, with that power,
    effects of this size or larger, and nothing smaller.

    Parameters
    ----------
    standard_error : float
        The standard error of the estimate (nonnegative).
    df : float
        Degrees of freedom of the test (positive; ``math.inf`` for a normal statistic).
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
    nu = df if df == np.inf else check_positive(df, "df")
    _check_open_unit(alpha, "alpha")
    _check_open_unit(power, "power")
    if np.isinf(nu):
        return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se)
    return float((stats.t.ppf(1 - alpha / 2, nu) + stats.t.ppf(power, nu)) * se)


def censored_median(times: Sequence[float]) -> float:
    r"""Median of times-to-event where ``inf`` (or NaN) marks a run that never got there.

    Runs that never reach the event are counted, not dropped: each is a time beyond
    every observed one, so it sorts last. The median is the middle order statistic
    (the mean of the two middle ones for even :math:`n`) and is ``inf`` when half or
    more of the runs never reach the event (:math:`\lceil n/2 \rceil` or more for odd
    :math:`n`): the protocol then shows only that the median lies beyond its budget.
    Dropping the censored runs instead would report the time of the lucky ones.

    Parameters
    ----------
    times : sequence of float
        One time per run (at least one); ``inf`` or NaN for a run that never reached it.

    Returns
    -------
    float
        The median, ``inf`` if it is censored.
    """
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size < 1:
        raise ValueError(f"times must be 1-D with at least one entry, got shape {t.shape}")
    if np.any(t[np.isfinite(t)] < 0):
        raise ValueError("times must be nonnegative (inf or NaN: never reached)")
    t = np.sort(np.where(np.isnan(t), np.inf, t))
    n = t.size
    middle = t[(n - 1) // 2: n // 2 + 1]
    return float(np.inf if np.isinf(middle).any() else middle.mean())


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
