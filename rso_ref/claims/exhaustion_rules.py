r"""Claims ``theorem2-exhaustion`` and ``figure1-dynamics``: estimators and verdict rules.

Pure functions on numbers (weight trajectories :math:`w(t)` of shape ``(steps, L)`` and the
cells built from them); the estimators, their nulls and the outcome rules are described in
:mod:`rso_ref.claims.exhaustion`, which runs the experiments. Pages:
:mod:`rso_ref.claims.exhaustion_pages`; figures: :mod:`rso_ref.claims.exhaustion_figures`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .. import metrics
from ..stats import bootstrap_ci, detectable_effect, holm, normal_ppf, normal_sf

__all__ = [
    "ALPHA", "CLAIMED_RHO", "OUTCOMES", "BALANCED_ENTROPY", "DOMINANT_SHARE", "GROUP_READINGS",
    "SETTING_READING", "phase_ids", "block_length", "normalise", "raw_product_ci",
    "centred_lag1", "centred_lag1_ci", "cell_reading", "classify_cells", "combine",
    "registry_verdict", "top_stays", "shuffle_groups", "direction_test", "abs_sum_growth",
    "theorem2_outcomes", "outcome_counts", "epoch_profile", "figure1_tests", "figure1_verdict",
    "figure1_overall",
]

#: Family-wise level of every reading (Holm across its cells).
ALPHA = 0.05
#: Smallest negative autocorrelation counted as the claimed effect, in units of
#: :math:`\hat\rho - \rho_0`. The paper states no size; 0.1 is Cohen's "small" correlation
#: (an effect below it explains under 1 % of the variance of :math:`w_i(t+1)`), the most
#: demanding margin one could call a mechanism, so an equivalence refutation is conservative.
CLAIMED_RHO = 0.1
#: Cell outcomes, and what :func:`combine` may add.
OUTCOMES = ("holds", "holds-under-conditions", "refuted", "no evidence")
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


def raw_product_ci(series: Sequence[np.ndarray], phase_len: int, *, n_boot: int = 2000,
                   seed: int = 0) -> tuple[float, float, float]:
    r"""Mean of :math:`w(t)\,w(t+1)` over in-phase pairs of all series, with block-bootstrap CI."""
    products = np.concatenate([s[_pairs(s.size, phase_len)] * s[_pairs(s.size, phase_len) + 1]
                               for s in series])
    return bootstrap_ci(products, n_boot=n_boot, seed=seed, block=block_length(products.size))


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


def centred_lag1_ci(series: Sequence[np.ndarray], phase_len: int, *, n_boot: int = 2000,
                    seed: int = 0) -> tuple[float, float, float, float]:
    r"""Pooled phase-centred :math:`\hat\rho` with its block-bootstrap CI, and :math:`\rho_0`."""
    num, den, null = centred_lag1(series, phase_len)

    def ratio(index: np.ndarray) -> float:
        rows = index.astype(np.intp)
        return float(num[rows].sum() / den[rows].sum())

    est, lo, hi = bootstrap_ci(np.arange(num.size, dtype=np.float64), ratio, n_boot=n_boot,
                               seed=seed, block=block_length(num.size))
    return est, lo, hi, null


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


def cell_reading(estimate: float, lo: float, hi: float, reference: float) -> dict:
    r"""One cell of a CI-based reading: the effect ``estimate - reference`` and its SEs.

    The percentile interval of a heavy-tailed statistic (the raw products) is skewed, so
    each side gets its own SE, :math:`(\hat\theta - \mathrm{lo}) / z_{0.975}` below and
    :math:`(\mathrm{hi} - \hat\theta) / z_{0.975}` above: a test against a reference on
    one side then rejects at 5 % exactly when the interval excludes it. When the estimate
    lies outside its own interval (a skewed ratio), both sides take the half-width.
    """
    z = normal_ppf(1.0 - ALPHA / 2.0)
    below, above = (estimate - lo) / z, (hi - estimate) / z
    if below < 0 or above < 0:
        below = above = (hi - lo) / (2.0 * z)
    return {"estimate": estimate, "lo": lo, "hi": hi, "reference": reference,
            "effect": estimate - reference, "se_below": below, "se_above": above}


def classify_cells(effects: Sequence[float], se_below: Sequence[float],
                   se_above: Sequence[float] | None = None, *, margin: float | None = None,
                   alpha: float = ALPHA) -> list[dict]:
    r"""Outcome of each cell of one reading (claimed direction: effect < 0), Holm across cells.

    :math:`\mathrm{SE}_j` is the SE on the side of the estimate that faces the reference
    (``se_below`` for :math:`e_j > 0`, ``se_above`` for :math:`e_j < 0`; see
    :func:`cell_reading`). With :math:`z_j = e_j / \mathrm{SE}_j` and
    :math:`p_j = 2\Phi(-|z_j|)` (normal approximation), :math:`\tilde p_j` are the
    Holm-adjusted p-values over the cells (:func:`rso_ref.stats.holm`). A cell

    * **holds** if :math:`\tilde p_j \le \alpha` and :math:`e_j < 0`;
    * is **refuted** if :math:`\tilde p_j \le \alpha` and :math:`e_j > 0` (significant
      effect in the opposite direction), or, when ``margin`` :math:`\delta` is given, if
      the one-sided test of :math:`H_0: e_j \le -\delta` (the claimed effect or more),
      :math:`p^{eq}_j = 1 - \Phi\big((e_j + \delta)/\mathrm{SE}^{below}_j\big)`, Holm-adjusted
      over the cells, is :math:`\le \alpha` (the claimed effect is excluded);
    * is **no evidence** otherwise, with
      :math:`\delta_{\min} = (z_{1-\alpha/2} + z_{0.8})\,\mathrm{SE}^{above}_j`, the
      smallest claimed (negative) effect it detects with 80 % power
      (:func:`rso_ref.stats.detectable_effect`).

    Parameters
    ----------
    effects : sequence of float
        :math:`e_j`, estimate minus its null reference.
    se_below, se_above : sequence of float
        SEs of the estimates' lower and upper sides, :math:`\ge 0`; ``se_above=None``:
        symmetric (``se_below`` on both sides).
    margin : float, optional
        :math:`\delta > 0`, the claimed effect size in the effects' units.
    alpha : float, default :data:`ALPHA`
        Family-wise level.

    Returns
    -------
    list of dict
        Per cell: ``outcome``, ``basis`` (``"claimed direction"``, ``"opposite
        direction"``, ``"claimed size excluded"`` or ``"none"``), ``z``, ``p``, ``p_holm``,
        ``p_equiv_holm`` (NaN without margin) and ``detectable``.
    """
    e = np.asarray(effects, dtype=np.float64)
    below = np.asarray(se_below, dtype=np.float64)
    above = below if se_above is None else np.asarray(se_above, dtype=np.float64)
    if e.ndim != 1 or e.size == 0 or e.shape != below.shape or e.shape != above.shape:
        raise ValueError(f"effects, se_below and se_above must be 1-D of one nonzero length, "
                         f"got {e.shape}, {below.shape} and {above.shape}")
    if not (np.all(np.isfinite(below) & (below >= 0))
            and np.all(np.isfinite(above) & (above >= 0))):
        raise ValueError("se_below and se_above must be finite and >= 0")
    se = np.where(e > 0, below, above)
    if margin is not None and not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, e / se, np.sign(e) * np.inf)
        p = 2.0 * normal_sf(np.abs(z))
        p_holm = np.array(holm(p))
        if margin is None:
            p_equiv_holm = np.full(e.shape, np.nan)
        else:
            z_eq = np.where(below > 0, (e + margin) / below, np.sign(e + margin) * np.inf)
            p_equiv_holm = np.array(holm(normal_sf(z_eq)))
    cells = []
    for k in range(e.size):
        significant = p_holm[k] <= alpha
        size_excluded = p_equiv_holm[k] <= alpha
        if significant and e[k] < 0 and not size_excluded:
            outcome, basis = "holds", "claimed direction"
        elif significant and e[k] > 0:
            outcome, basis = "refuted", "opposite direction"
        elif size_excluded:  # smaller than the claimed size, whichever its sign
            outcome, basis = "refuted", "claimed size excluded"
        else:
            outcome, basis = "no evidence", "none"
        cells.append({"outcome": outcome, "basis": basis, "z": float(z[k]), "p": float(p[k]),
                      "p_holm": float(p_holm[k]), "p_equiv_holm": float(p_equiv_holm[k]),
                      "detectable": detectable_effect(float(above[k]), alpha=alpha)})
    return cells


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

    The observed rate comes with a block-bootstrap CI (pairs are serially dependent). The
    surrogates apply :func:`shuffle_groups` to each run's :math:`\hat w` (:func:`normalise`),
    so each group keeps its marginal distribution of shares over the run; their mean is the
    null of "no temporal order" and their standard deviation the SE used for the test.
    Below the surrogates: reversion (the claimed exhaustion); above: persistence.

    Returns
    -------
    dict
        ``stay, stay_lo, stay_hi`` (observed, CI), ``chance`` (1/L), ``null``, ``null_sd``,
        ``null_lo, null_hi`` (surrogates' mean, SD, 95 % range), ``n_pairs``, and the
        reading's ``estimate, lo, hi, reference, effect, se_below, se_above`` (effect =
        stay - null; both SEs are the surrogates' SD, the null SE of a permutation test).
    """
    if n_surrogates < 2:
        raise ValueError(f"n_surrogates must be >= 2, got {n_surrogates}")
    stays = np.concatenate([top_stays(w, phase_len) for w in ws])
    stay, lo, hi = bootstrap_ci(stays, n_boot=n_boot, seed=seed, block=block_length(stays.size))
    gen = np.random.default_rng(seed)
    shares = [normalise(w) for w in ws]
    null = np.array([np.concatenate([top_stays(shuffle_groups(s, gen), phase_len)
                                     for s in shares]).mean() for _ in range(n_surrogates)])
    null_lo, null_hi = np.quantile(null, [ALPHA / 2, 1 - ALPHA / 2])
    null_mean, null_sd = float(null.mean()), float(null.std(ddof=1))
    return {"stay": stay, "stay_lo": lo, "stay_hi": hi, "chance": 1.0 / ws[0].shape[1],
            "null": null_mean, "null_sd": null_sd, "null_lo": float(null_lo),
            "null_hi": float(null_hi), "n_pairs": int(stays.size),
            "estimate": stay, "lo": lo, "hi": hi, "reference": null_mean,
            "effect": stay - null_mean, "se_below": null_sd, "se_above": null_sd}


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


def theorem2_outcomes(group_cells: Sequence[dict], setting_cells: Sequence[dict]) -> dict:
    """Classify every cell of every reading (in place) and combine them.

    Each reading's cells are one Holm family (:func:`classify_cells`); a setting's outcome
    combines its groups' (:func:`combine`), a reading's its settings', the claim's its
    readings'.

    Returns
    -------
    dict
        ``readings``: per reading, ``per_setting`` outcomes and ``overall``; ``overall``
        (the claim's outcome) and ``verdict`` (:func:`registry_verdict`).
    """
    settings = list(dict.fromkeys(c["setting"] for c in setting_cells))
    families = {key: (list(group_cells), margin) for key, margin in GROUP_READINGS.items()}
    families[SETTING_READING] = (list(setting_cells), None)
    readings = {}
    for key, (cells, margin) in families.items():
        results = classify_cells([c[key]["effect"] for c in cells],
                                 [c[key]["se_below"] for c in cells],
                                 [c[key]["se_above"] for c in cells], margin=margin)
        for cell, result in zip(cells, results):
            cell[key].update(result)
        per_setting = {s: combine([c[key]["outcome"] for c in cells if c["setting"] == s])
                       for s in settings}
        readings[key] = {"per_setting": per_setting, "overall": combine(per_setting.values())}
    overall = combine([r["overall"] for r in readings.values()])
    return {"readings": readings, "overall": overall, "verdict": registry_verdict(overall)}


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


#: The outcome classes counted per reading: label, outcome and basis.
_COUNTED = (("holds", "holds", "claimed direction"),
            ("refuted_opposite", "refuted", "opposite direction"),
            ("refuted_size", "refuted", "claimed size excluded"),
            ("no_evidence", "no evidence", "none"))


def outcome_counts(group_cells: Sequence[dict], setting_cells: Sequence[dict]) -> dict:
    """Per reading, how many classified cells hold, are refuted (either basis), no evidence."""
    families = {key: group_cells for key in GROUP_READINGS} | {SETTING_READING: setting_cells}
    return {key: {label: sum(c[key]["outcome"] == o and c[key]["basis"] == b for c in cells)
                  for label, o, b in _COUNTED}
            for key, cells in families.items()}


def figure1_overall(verdicts: dict) -> str:
    """Figure 1 overall: the common verdict of all settings, holds-under-conditions otherwise."""
    values = set(verdicts.values())
    return values.pop() if len(values) == 1 else "holds-under-conditions"
