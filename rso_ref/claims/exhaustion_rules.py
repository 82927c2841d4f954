r"""Claims ``theorem2-exhaustion`` and ``figure1-dynamics``: estimators and verdict rules.

Pure functions on numbers (weight trajectories :math:`w(t)` of shape ``(steps, L)`` and the
cells built from them); the estimators, their nulls and the outcome rules are described in
:mod:`rso_ref.claims.exhaustion`, which runs the experiments. Pages:
:mod:`rso_ref.claims.exhaustion_pages`; figures: :mod:`rso_ref.claims.exhaustion_figures`.

Every Theorem 2 statistic is a ratio of sums pooled over the runs (seeds), so a run enters
the cluster bootstrap (:func:`rso_ref.stats.cluster_bootstrap`) through its two sums:
resampling seeds resamples whole runs, the independent units (the steps of one run are
not independent). The interval describes; the verdicts rest on a one-sample t-test of the
runs' own statistics with :math:`C - 1` degrees of freedom (:func:`seed_t_test`), the test
for few clusters (A. C. Cameron and D. L. Miller, "A practitioner's guide to
cluster-robust inference", *J. Human Resources* 50(2), 317-372, 2015, §VI).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .. import metrics
from ..stats import (bootstrap_ci, cluster_bootstrap, detectable_effect, holm, one_sided_diff,
                     paired_diff)

__all__ = [
    "ALPHA", "CLAIMED_RHO", "RHO_MARGINS", "OUTCOMES", "SCOPES", "HEADLINE",
    "BALANCED_ENTROPY", "DOMINANT_SHARE", "GROUP_READINGS", "SETTING_READING", "phase_ids",
    "block_length", "normalise", "seed_t_test", "seed_ratio_reading", "product_reading",
    "raw_product_ci", "centred_lag1", "autocorrelation_reading", "centred_lag1_ci",
    "classify_cells", "combine", "registry_verdict", "top_stays", "shuffle_groups",
    "direction_test", "abs_sum_growth", "theorem2_outcomes", "margin_sensitivity",
    "family_summary", "outcome_counts", "epoch_profile", "figure1_tests",
    "figure1_verdict", "figure1_overall",
]

#: Family-wise level of every reading (Holm across its cells).
ALPHA = 0.05
#: Smallest negative autocorrelation counted as the claimed effect, in units of
#: :math:`\hat\rho - \rho_0` (readings 2 and 2n only; the headline, the product as written,
#: has no size). The paper states no size. 0.1 is Cohen's "small" correlation (an effect
#: below it explains under 1 % of the variance of :math:`w_i(t+1)`). It was set when the
#: outcome rules were written (commit aae8265), after earlier runs of this claim had been
#: seen, not before the runs: :func:`margin_sensitivity` reports the readings at every
#: margin of :data:`RHO_MARGINS` beside it.
CLAIMED_RHO = 0.1
#: Margins of the sensitivity row of readings 2 and 2n (:data:`CLAIMED_RHO` among them).
RHO_MARGINS = (0.05, CLAIMED_RHO, 0.2)
#: Cell outcomes, and what :func:`combine` may add.
OUTCOMES = ("holds", "holds-under-conditions", "refuted", "no evidence")
#: Scopes of the settings: the paper's (networks), and the convex controls outside it.
SCOPES = ("networks", "convex controls")
#: The reading and scope of the claim as the paper states it: the registry verdict.
HEADLINE = ("raw_product", "networks")
#: Normalised entropy counted as "balanced" (Figure 1, epoch 31+).
BALANCED_ENTROPY = 0.9
#: Figure 1's early share of the first layer, and what "dominate" means here.
DOMINANT_SHARE = 0.5


def phase_ids(n_steps: int, phase_len: int) -> np.ndarray:
    """Phase index of each step: ``t // phase_len``."""
    if phase_len < 2:
        raise ValueError(f"phase_len must be >= 2, got {phase_len}")
    return np.arange(n_steps) // phase_len


def block_length(n: int) -> int:
    r"""Moving-block length :math:`\lceil n^{1/3} \rceil` (Hall, Horowitz & Jing 1995)."""
    return max(1, math.ceil(n ** (1.0 / 3.0)))


def _pairs(n_steps: int, phase_len: int) -> np.ndarray:
    """Indices ``t`` such that ``t`` and ``t+1`` lie in the same phase."""
    phase = phase_ids(n_steps, phase_len)
    return np.flatnonzero(phase[:-1] == phase[1:])


def seed_t_test(values: Sequence[float], reference: float, margins: Sequence[float] = ()
                ) -> dict:
    r"""One-sample t-test of the runs' own values against ``reference``: the deciding test.

    With :math:`d_s = v_s - \theta_0` for the :math:`C` runs (the independent units),

    .. math::

        t = \frac{\bar d}{s_d/\sqrt C}, \qquad \nu = C - 1,

    and the one-sided p-values of :math:`\bar d < 0` and :math:`\bar d > 0` and, per claimed
    size :math:`\delta`, of :math:`\bar d > -\delta` (against
    :math:`H_0: \bar d \le -\delta`), from the t distribution with :math:`C - 1` degrees of
    freedom (:func:`rso_ref.stats.one_sided_diff` and :func:`rso_ref.stats.paired_diff`,
    paired with the constant reference). With few clusters this is the standard test on
    cluster-level statistics (Cameron and Miller 2015, §VI); a bootstrap over five runs
    cannot stand in for it (:func:`rso_ref.stats.cluster_bootstrap`).

    Parameters
    ----------
    values : sequence of float
        :math:`v_s`, one statistic per run (at least two).
    reference : float
        :math:`\theta_0`, the null.
    margins : sequence of float
        Claimed sizes :math:`\delta > 0`.

    Returns
    -------
    dict
        ``seed_mean`` (:math:`\bar d`), ``se`` (:math:`s_d/\sqrt C`), ``t``, ``df``,
        ``p_below``, ``p_above`` and ``p_size`` (per margin, keyed ``f"{δ:g}"``).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"values must be 1-D with at least two runs, got shape {v.shape}")
    if any(not m > 0 for m in margins):
        raise ValueError(f"margins must be > 0, got {list(margins)!r}")
    ref = np.full(v.shape, float(reference))
    test = paired_diff(v, ref)
    return {"seed_mean": test["diff"], "se": test["se"], "t": test["t"], "df": test["df"],
            "p_below": one_sided_diff(v, ref, 0.0, "less", paired=True),
            "p_above": one_sided_diff(v, ref, 0.0, "greater", paired=True),
            "p_size": {f"{m:g}": one_sided_diff(v, ref, -m, "greater", paired=True)
                       for m in margins}}


def seed_ratio_reading(nums: Sequence[float], dens: Sequence[float], reference: float, *,
                       margins: Sequence[float] = (), n_boot: int = 2000, seed: int = 0
                       ) -> dict:
    r"""A ratio of sums pooled over runs, :math:`\hat\theta = \sum_s a_s / \sum_s b_s`, with
    its cluster-bootstrap interval, and the runs' own ratios tested against ``reference``.

    Run :math:`s` enters as its sums :math:`(a_s, b_s)` (for a mean: the sum and the count),
    so a resample of runs (:func:`rso_ref.stats.cluster_bootstrap`, the runs' indices as
    the clusters) gives exactly the statistic on the resampled runs' concatenated steps:
    the interval describes. The decision is :func:`seed_t_test` on the runs' ratios
    :math:`a_s / b_s` (unweighted; the pooled :math:`\hat\theta` weights them by
    :math:`b_s`).

    Parameters
    ----------
    nums, dens : sequence of float
        :math:`a_s` and :math:`b_s` of each run (at least two runs; every :math:`b_s > 0`).
    reference : float
        :math:`\theta_0`, the null.
    margins : sequence of float
        Claimed sizes :math:`\delta > 0` of :func:`seed_t_test`.
    n_boot : int
        Resamples :math:`B` of the interval.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``estimate, lo, hi`` (95 % percentile interval), ``reference``, ``effect``
        (:math:`\hat\theta - \theta_0`), ``n_clusters``, ``per_seed`` (:math:`a_s / b_s`)
        and the fields of :func:`seed_t_test`.
    """
    a, b = np.asarray(nums, dtype=np.float64), np.asarray(dens, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2 or not np.all(b > 0):
        raise ValueError(f"nums and dens must be 1-D of one length >= 2 with every den > 0, "
                         f"got shapes {a.shape} and {b.shape}")

    def ratio(ids: np.ndarray) -> float:
        rows = ids.astype(np.intp)
        return float(a[rows].sum() / b[rows].sum())

    boot = cluster_bootstrap([[k] for k in range(a.size)], ratio, n_boot=n_boot, seed=seed)
    per_seed = a / b
    return {"estimate": boot["estimate"], "lo": boot["lo"], "hi": boot["hi"],
            "reference": float(reference), "effect": boot["estimate"] - reference,
            "n_clusters": int(a.size), "per_seed": per_seed.tolist(),
            **seed_t_test(per_seed, reference, margins)}


def _product_sums(series: Sequence[np.ndarray], phase_len: int) -> tuple[list, list]:
    """Per run: the sum of the in-phase lag products :math:`w(t)w(t+1)` and their count."""
    sums, counts = [], []
    for s in series:
        pairs = _pairs(s.size, phase_len)
        sums.append(float(np.sum(s[pairs] * s[pairs + 1])))
        counts.append(float(pairs.size))
    return sums, counts


def product_reading(series: Sequence[np.ndarray], phase_len: int, *, n_boot: int = 2000,
                    seed: int = 0) -> dict:
    r"""Mean of :math:`w(t)\,w(t+1)` over the in-phase pairs of all runs, against 0.

    The claim as written; :func:`seed_ratio_reading` with the runs as clusters.
    """
    return seed_ratio_reading(*_product_sums(series, phase_len), 0.0, n_boot=n_boot, seed=seed)


def raw_product_ci(series: Sequence[np.ndarray], phase_len: int, *, n_boot: int = 2000,
                   seed: int = 0) -> tuple[float, float, float]:
    r"""``(estimate, lo, hi)`` of :func:`product_reading` (95 % cluster-bootstrap interval)."""
    r = product_reading(series, phase_len, n_boot=n_boot, seed=seed)
    return r["estimate"], r["lo"], r["hi"]


def centred_lag1(series: Sequence[np.ndarray], phase_len: int
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Per-pair terms :math:`c_t c_{t+1}` and :math:`c_t^2`, and the null :math:`\rho_0`.

    ``c`` is each series centred on its phase means. The denominator terms are aligned
    with the pairs (:math:`c_t^2` of the pair's first step), plus each phase's last
    :math:`c^2` folded into its last pair, so that their sum is :math:`\sum_k S_k`.
    :math:`\rho_0 = -\sum_k S_k/n_k / \sum_k S_k` is the exact mean of :math:`\hat\rho`
    over all within-phase permutations of time.
    """
    nums, dens, null_num, total = [], [], 0.0, 0.0
    for s in series:
        phase = phase_ids(s.size, phase_len)
        counts = np.bincount(phase)
        c = s - (np.bincount(phase, weights=s) / counts)[phase]
        sq = c ** 2
        pairs = _pairs(s.size, phase_len)
        den = sq[pairs].copy()
        last_of_phase = np.flatnonzero(np.diff(phase[pairs], append=phase[-1] + 1))
        den[last_of_phase] += sq[pairs[last_of_phase] + 1]
        nums.append(c[pairs] * c[pairs + 1])
        dens.append(den)
        S = np.bincount(phase, weights=sq)
        null_num -= float(np.sum(S / counts))
        total += float(S.sum())
    if total == 0:
        raise ValueError("series are constant within every phase: autocorrelation undefined")
    return np.concatenate(nums), np.concatenate(dens), null_num / total


def autocorrelation_reading(series: Sequence[np.ndarray], phase_len: int, *,
                            margins: Sequence[float] = (), n_boot: int = 2000, seed: int = 0
                            ) -> dict:
    r"""Pooled phase-centred :math:`\hat\rho` of all runs against :math:`\rho_0`.

    :math:`\hat\rho = \sum_s \sum c_t c_{t+1} / \sum_s \sum c_t^2` (:func:`centred_lag1`
    per run), tested by :func:`seed_ratio_reading` with the runs as clusters, with the
    claimed sizes ``margins``. :math:`\rho_0` is the pooled null of all runs; with phases
    of equal length it is :math:`-1/n` in every resample.
    """
    sums = [centred_lag1([s], phase_len)[:2] for s in series]
    return seed_ratio_reading([float(n.sum()) for n, _ in sums], [float(d.sum()) for _, d in sums],
                              centred_lag1(series, phase_len)[2], margins=margins,
                              n_boot=n_boot, seed=seed)


def centred_lag1_ci(series: Sequence[np.ndarray], phase_len: int, *, n_boot: int = 2000,
                    seed: int = 0) -> tuple[float, float, float, float]:
    r"""``(estimate, lo, hi, rho_0)`` of :func:`autocorrelation_reading` (95 % cluster CI)."""
    r = autocorrelation_reading(series, phase_len, n_boot=n_boot, seed=seed)
    return r["estimate"], r["lo"], r["hi"], r["reference"]


def normalise(w: np.ndarray) -> np.ndarray:
    r"""Weights normalised per step, :math:`\hat w_i(t) = w_i(t) / \sum_j |w_j(t)|`.

    Scale-free: :math:`|\hat w_i|` is group ``i``'s share, and the sign of :math:`w_i` is
    kept. ``w`` has shape ``(steps, L)``; a step with all weights zero raises ``ValueError``.
    """
    w = np.asarray(w, dtype=np.float64)
    total = np.abs(w).sum(axis=1, keepdims=True)
    if w.ndim != 2 or np.any(total == 0):
        raise ValueError("w must be 2-D (steps, L) with a nonzero weight at every step")
    return w / total


def classify_cells(readings: Sequence[dict], *, margin: float | None = None,
                   alpha: float = ALPHA) -> list[dict]:
    r"""Outcome of each cell of one reading (claimed direction: below the reference).

    Each reading carries the t-test of its runs' own values (:func:`seed_t_test`:
    ``p_below``, ``p_above``, ``p_size``, ``se``, ``df``). The two-sided p-value is
    :math:`p_j = \min(1, 2\min(p^{below}_j, p^{above}_j))`, the direction is that of the
    smaller one-sided p (the sign of :math:`t_j`), and :math:`\tilde p_j` are the
    Holm-adjusted p-values over the cells (:func:`rso_ref.stats.holm`). A cell

    * **holds** if :math:`\tilde p_j \le \alpha` below the reference (the claimed
      direction) and the claimed size is not excluded;
    * is **refuted** if :math:`\tilde p_j \le \alpha` above the reference (the opposite
      direction), or, when ``margin`` :math:`\delta` is given, if
      :math:`p^{size}_{\delta,j}`, the one-sided p of :math:`H_0: \bar d_j \le -\delta`
      (the claimed effect or more), Holm-adjusted over the cells, is :math:`\le \alpha`
      (the claimed size is excluded);
    * is **no evidence** otherwise, with
      :math:`\delta_{\min} = (t_{\nu,1-\alpha/2} + t_{\nu,0.8})\,\mathrm{SE}_j`, the smallest
      effect it detects with 80 % power (:func:`rso_ref.stats.detectable_effect`,
      :math:`\nu = C - 1`: the runs are the independent units).

    Parameters
    ----------
    readings : sequence of dict
        The cells' readings (at least one).
    margin : float, optional
        :math:`\delta > 0`, the claimed size; its p-value is ``p_size[f"{δ:g}"]``.
    alpha : float, default :data:`ALPHA`
        Family-wise level.

    Returns
    -------
    list of dict
        Per cell: ``outcome``, ``basis`` (``"claimed direction"``, ``"opposite
        direction"``, ``"claimed size excluded"`` or ``"none"``), ``p``, ``p_holm``,
        ``p_size_holm`` (NaN without margin) and ``detectable``.
    """
    cells = list(readings)
    if not cells:
        raise ValueError("readings must hold at least one cell")
    if margin is not None and not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin!r}")
    below = np.array([r["p_below"] for r in cells], dtype=np.float64)
    above = np.array([r["p_above"] for r in cells], dtype=np.float64)
    if not np.all((below >= 0) & (below <= 1) & (above >= 0) & (above <= 1)):
        raise ValueError("p_below and p_above must lie in [0, 1] (NaN: the runs' values "
                         "do not vary, t is undefined)")
    direction = np.sign(below - above)  # -1: below the reference (claimed), +1: above
    p = np.minimum(1.0, 2.0 * np.minimum(below, above))
    p_holm = np.array(holm(p))
    p_size_holm = np.full(p.shape, np.nan)
    if margin is not None:
        p_size_holm = np.array(holm([r["p_size"][f"{margin:g}"] for r in cells]))
    results = []
    for k, r in enumerate(cells):
        significant = p_holm[k] <= alpha
        size_excluded = p_size_holm[k] <= alpha
        if significant and direction[k] < 0 and not size_excluded:
            outcome, basis = "holds", "claimed direction"
        elif significant and direction[k] > 0:
            outcome, basis = "refuted", "opposite direction"
        elif size_excluded:  # smaller than the claimed size, whichever its sign
            outcome, basis = "refuted", "claimed size excluded"
        else:
            outcome, basis = "no evidence", "none"
        results.append({"outcome": outcome, "basis": basis, "p": float(p[k]),
                        "p_holm": float(p_holm[k]), "p_size_holm": float(p_size_holm[k]),
                        "detectable": detectable_effect(r["se"], df=r["df"], alpha=alpha)})
    return results


def combine(outcomes: Sequence[str]) -> str:
    """Outcome of a group of cells (a setting, a reading, the claim) from its parts.

    ``holds`` if every part holds; ``holds-under-conditions`` if some part holds (fully
    or under conditions); otherwise ``refuted`` if some part is refuted; otherwise
    ``no evidence``.
    """
    parts = list(outcomes)
    if not parts or any(o not in OUTCOMES for o in parts):
        raise ValueError(f"outcomes must be a nonempty sequence of {OUTCOMES}, got {parts!r}")
    if all(o == "holds" for o in parts):
        return "holds"
    if any(o in ("holds", "holds-under-conditions") for o in parts):
        return "holds-under-conditions"
    return "refuted" if "refuted" in parts else "no evidence"


def registry_verdict(outcome: str) -> str:
    """Registry verdict of a claim outcome: ``no evidence`` anywhere is ``not-testable-here``.

    The registry has no "inconclusive" verdict; "no evidence at this protocol's power" is
    not a refutation, and the page states the detectable effect beside it.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    return "not-testable-here" if outcome == "no evidence" else outcome


def top_stays(w: np.ndarray, phase_len: int) -> np.ndarray:
    """Per in-phase pair ``(t, t+1)``: 1.0 if the group with the largest |w| at t leads at t+1."""
    top = np.argmax(np.abs(w), axis=1)
    pairs = _pairs(w.shape[0], phase_len)
    return (top[pairs] == top[pairs + 1]).astype(np.float64)


def shuffle_groups(w: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Permute time independently in each column: every group keeps its marginal distribution.

    The marginal is the group's over the whole run, so a group that stays heavy, by
    drift as well as from step to step, is "persistence" against this null (the issue's
    reading of "a heavy layer staying heavy"); a null permuting within each phase would
    count only step-to-step persistence.
    """
    return np.column_stack([gen.permutation(column) for column in np.asarray(w).T])


def direction_test(ws: Sequence[np.ndarray], phase_len: int, *, n_surrogates: int = 200,
                   n_boot: int = 2000, seed: int = 0) -> dict:
    r"""Reading 3: :math:`P_{stay}` = P(top group at t is top at t+1), vs 1/L and vs surrogates.

    The surrogates apply :func:`shuffle_groups` to each run's :math:`\hat w`
    (:func:`normalise`), so each group keeps its marginal distribution of shares over the
    run; their mean :math:`\bar P^{surr}_s` per run is that run's null of "no temporal
    order". The effect is the pooled :math:`\sum_s (k_s - n_s \bar P^{surr}_s) / \sum_s n_s`
    (:math:`k_s` stays in :math:`n_s` pairs of run :math:`s`), tested against 0 by
    :func:`seed_ratio_reading` (runs as clusters): below, reversion (the claimed
    exhaustion); above, persistence.

    Returns
    -------
    dict
        The effect's :func:`seed_ratio_reading`, plus ``stay, stay_lo, stay_hi``
        (observed, 95 % cluster-bootstrap CI), ``chance`` (1/L), ``null``, ``null_sd``,
        ``null_lo, null_hi`` (pooled surrogates' mean, SD, 95 % range) and ``n_pairs``.
    """
    if n_surrogates < 2:
        raise ValueError(f"n_surrogates must be >= 2, got {n_surrogates}")
    gen = np.random.default_rng(seed)
    stays = [top_stays(w, phase_len) for w in ws]
    n = np.array([s.size for s in stays], dtype=np.float64)
    k = np.array([s.sum() for s in stays])
    # Surrogate rates, one row per surrogate, one column per run.
    rates = np.array([[top_stays(shuffle_groups(normalise(w), gen), phase_len).mean()
                       for w in ws] for _ in range(n_surrogates)])
    pooled = rates @ n / n.sum()
    null_lo, null_hi = np.quantile(pooled, [ALPHA / 2, 1 - ALPHA / 2])
    stay = seed_ratio_reading(k, n, 0.0, n_boot=n_boot, seed=seed)
    effect = seed_ratio_reading(k - n * rates.mean(axis=0), n, 0.0, n_boot=n_boot, seed=seed)
    return {**effect, "stay": stay["estimate"], "stay_lo": stay["lo"], "stay_hi": stay["hi"],
            "chance": 1.0 / ws[0].shape[1], "null": float(pooled.mean()),
            "null_sd": float(pooled.std(ddof=1)), "null_lo": float(null_lo),
            "null_hi": float(null_hi), "n_pairs": int(n.sum())}


def abs_sum_growth(ws: Sequence[np.ndarray], phase_len: int) -> dict:
    r"""Scale of w: median :math:`\sum_i |w_i|` over the first and the last phase (all seeds).

    Returns ``start``, ``end``, ``ratio`` (end / start) and ``max`` (over all steps).
    """
    sums = [np.abs(w).sum(axis=1) for w in ws]
    start = float(np.median(np.concatenate([s[:phase_len] for s in sums])))
    end = float(np.median(np.concatenate([s[-phase_len:] for s in sums])))
    return {"start": start, "end": end, "ratio": end / start,
            "max": float(max(s.max() for s in sums))}


def _sign(lo: float, hi: float, reference: float) -> int:
    """-1 if ``[lo, hi]`` lies below ``reference``, +1 if above, 0 if it contains it."""
    return -1 if hi < reference else (1 if lo > reference else 0)


#: The readings judged per (setting, group) cell, with their claimed-size margin.
GROUP_READINGS = {"raw_product": None, "normalised_product": None,
                  "centred_autocorrelation": CLAIMED_RHO,
                  "centred_autocorrelation_normalised": CLAIMED_RHO}
#: The reading judged per setting.
SETTING_READING = "top_direction"


def _families(group_cells: Sequence[dict], setting_cells: Sequence[dict]):
    """``(reading, scope, cells, margin)`` of every Holm family: one per reading and scope."""
    for key, margin in {**GROUP_READINGS, SETTING_READING: None}.items():
        cells = group_cells if key in GROUP_READINGS else setting_cells
        for scope in SCOPES:
            members = [c for c in cells if c["scope"] == scope]
            if members:
                yield key, scope, members, margin


def _judge(cells: Sequence[dict], key: str, margin: float | None) -> tuple[list, dict]:
    """Cell results of one family (:func:`classify_cells`) and its per-setting outcomes."""
    results = classify_cells([c[key] for c in cells], margin=margin)
    settings = dict.fromkeys(c["setting"] for c in cells)
    return results, {s: combine([r["outcome"] for c, r in zip(cells, results)
                                 if c["setting"] == s]) for s in settings}


def theorem2_outcomes(group_cells: Sequence[dict], setting_cells: Sequence[dict]) -> dict:
    """Classify every cell of every reading (in place) and rule on the claim.

    Each (reading, scope) is one Holm family (:func:`classify_cells`; scope = ``cell["scope"]``,
    one of :data:`SCOPES`); a setting's outcome combines its groups' (:func:`combine`), a
    reading's its settings' within the scope. The claim's outcome is the
    :data:`HEADLINE` reading's in its scope (the claim as the paper states it); the other
    readings and scopes are alternative readings, with their own outcomes.

    Returns
    -------
    dict
        ``readings``: per reading and scope, ``per_setting`` outcomes and ``overall``;
        ``headline`` (the claim's outcome) and ``verdict`` (:func:`registry_verdict`).
    """
    readings: dict = {}
    for key, scope, cells, margin in _families(group_cells, setting_cells):
        results, per_setting = _judge(cells, key, margin)
        for cell, result in zip(cells, results):
            cell[key].update(result)
        readings.setdefault(key, {})[scope] = {"per_setting": per_setting,
                                               "overall": combine(per_setting.values())}
    key, scope = HEADLINE
    if scope not in readings.get(key, {}):
        raise ValueError(f"no cell of the headline reading {key!r} in scope {scope!r}")
    headline = readings[key][scope]["overall"]
    return {"readings": readings, "headline": headline, "verdict": registry_verdict(headline)}


def margin_sensitivity(group_cells: Sequence[dict], setting_cells: Sequence[dict],
                       margins: Sequence[float] = RHO_MARGINS) -> dict:
    """Readings with a claimed size (2 and 2n) re-judged at each margin (cells untouched).

    Returns ``{f"{δ:g}": {reading: {scope: {"overall", "holds", "refuted_opposite",
    "refuted_size", "no_evidence"}}}}``.
    """
    out: dict = {}
    for margin in margins:
        for key, scope, cells, primary in _families(group_cells, setting_cells):
            if primary is None:
                continue
            results, per_setting = _judge(cells, key, margin)
            out.setdefault(f"{margin:g}", {}).setdefault(key, {})[scope] = {
                "overall": combine(per_setting.values()), **_count(results)}
    return out


#: The outcome classes counted per reading: label, outcome and basis.
_COUNTED = (("holds", "holds", "claimed direction"),
            ("refuted_opposite", "refuted", "opposite direction"),
            ("refuted_size", "refuted", "claimed size excluded"),
            ("no_evidence", "no evidence", "none"))


def _count(results: Sequence[dict]) -> dict:
    return {label: sum(r["outcome"] == o and r["basis"] == b for r in results)
            for label, o, b in _COUNTED}


def family_summary(results: Sequence[dict]) -> dict:
    """Counts of a family's classified cells and the weakest evidence behind its significant ones.

    ``results`` are cell results (``outcome``, ``basis``, ``p_holm``, ``p_size_holm``) of one
    (reading, scope). Returns the counts of :func:`outcome_counts` plus ``p_holm_max``, the
    largest Holm-adjusted p among the cells significant in either direction, and
    ``p_size_holm_max``, the largest among the cells whose claimed size is excluded (NaN
    where there is none).
    """
    cells = list(results)

    def largest(basis: tuple, field: str) -> float:
        values = [r[field] for r in cells if r["basis"] in basis]
        return float(max(values)) if values else math.nan

    return {**_count(cells),
            "p_holm_max": largest(("claimed direction", "opposite direction"), "p_holm"),
            "p_size_holm_max": largest(("claimed size excluded",), "p_size_holm")}


def outcome_counts(group_cells: Sequence[dict], setting_cells: Sequence[dict]) -> dict:
    """Per reading and scope, how many classified cells hold, are refuted (either basis), no
    evidence."""
    out: dict = {}
    for key, scope, cells, _ in _families(group_cells, setting_cells):
        out.setdefault(key, {})[scope] = _count([c[key] for c in cells])
    return out


# -- Figure 1 ------------------------------------------------------------------------

def epoch_profile(w: np.ndarray, spe: int) -> dict:
    """Per epoch: mean shares ``(E, L)``, mean normalised entropy and median sum|w| ``(E,)``."""
    share = np.abs(w) / np.abs(w).sum(axis=1, keepdims=True)
    entropy = np.array([metrics.weight_entropy(row) for row in w])
    epoch = np.arange(w.shape[0]) // spe
    n_epochs = int(epoch[-1]) + 1
    return {
        "share": np.array([share[epoch == e].mean(axis=0) for e in range(n_epochs)]),
        "entropy": np.array([entropy[epoch == e].mean() for e in range(n_epochs)]),
        "abs_sum": np.array([np.median(np.abs(w[epoch == e]).sum(axis=1))
                             for e in range(n_epochs)]),
    }


def figure1_tests(ws: Sequence[np.ndarray], spe: int, *, n_boot: int = 2000) -> dict:
    """First-layer share early, entropy early/late (first and last quarter of the steps), with CIs.

    Also the dominant group of each quarter (the paper's "curriculum": first, middle,
    later layers, then balance).
    """
    n = ws[0].shape[0]
    quarter = n // 4
    early, late = slice(0, quarter), slice(n - quarter, n)
    share0 = np.concatenate([np.abs(w[early, 0]) / np.abs(w[early]).sum(axis=1) for w in ws])

    def entropies(part: slice) -> np.ndarray:
        return np.concatenate([[metrics.weight_entropy(row) for row in w[part]] for w in ws])

    block = block_length(share0.size)
    s0 = bootstrap_ci(share0, n_boot=n_boot, block=block)
    h_early = bootstrap_ci(entropies(early), n_boot=n_boot, block=block)
    h_late = bootstrap_ci(entropies(late), n_boot=n_boot, block=block)
    shares = np.concatenate([np.abs(w) / np.abs(w).sum(axis=1, keepdims=True) for w in ws])
    steps = np.concatenate([np.arange(n)] * len(ws))
    quarter_of = np.minimum(steps // quarter, 3)
    dominant = [int(np.argmax(shares[quarter_of == q].mean(axis=0))) for q in range(4)]
    return {
        "first_share_early": s0, "entropy_early": h_early, "entropy_late": h_late,
        "dominant_group_per_quarter": dominant,
        "first_dominates": _sign(s0[1], s0[2], DOMINANT_SHARE),
        "entropy_increases": _sign(h_late[1] - h_early[2], h_late[2] - h_early[1], 0.0),
        "late_balanced": bool(h_late[1] >= BALANCED_ENTROPY),
    }


def figure1_verdict(test: dict) -> str:
    """Verdict of one setting from :func:`figure1_tests`.

    The balancing part, "entropy rises and is >= 0.9 late" (both by CI), is necessary for
    anything but ``refuted``. With it: ``holds`` if the first layer's early share is
    > 0.5 (CI); ``holds-under-conditions`` if the first layer is only the largest share
    early (a plurality, not the paper's 0.82); ``refuted`` otherwise.
    """
    balancing = test["entropy_increases"] == 1 and test["late_balanced"]
    if not balancing:
        return "refuted"
    if test["first_dominates"] == 1:
        return "holds"
    if test["dominant_group_per_quarter"][0] == 0:
        return "holds-under-conditions"
    return "refuted"


def figure1_overall(verdicts: dict) -> str:
    """Figure 1 overall: the common verdict of all settings, holds-under-conditions otherwise."""
    values = set(verdicts.values())
    return values.pop() if len(values) == 1 else "holds-under-conditions"
