"""Claims ``theorem2-exhaustion`` and ``figure1-dynamics``: the evidence pages (markdown).

Every function renders from the numbers the claim stores (``Evidence.numbers``, as in
``theory/report.json``) and from the rule constants of
:mod:`rso_ref.claims.exhaustion_rules`, so a page cannot state a number the code does not hold.
"""
from __future__ import annotations

import numpy as np

from .common import fmt_ci, fmt_g
from .exhaustion_rules import (ALPHA, BALANCED_ENTROPY, CLAIMED_RHO, DOMINANT_SHARE,
                               GROUP_READINGS, OUTCOMES, SETTING_READING)

__all__ = ["theorem2_texts", "figure1_texts"]


def _centred_ci(r: dict) -> str:
    """A reading's effect and CI, shifted by its null reference."""
    return fmt_ci([r[k] - r["reference"] for k in ("estimate", "lo", "hi")])


def _outcome_text(r: dict, digits: int = 3) -> str:
    """A cell's outcome with the number it rests on (adjusted p or detectable effect)."""
    if r["basis"] == "claimed size excluded":
        return f"refuted: effect > −{CLAIMED_RHO:g} (p̃_eq = {r['p_equiv_holm']:.2g})"
    if r["outcome"] == "no evidence":
        return f"no evidence (detects ≥ {r['detectable']:.{digits}f})"
    prefix = "holds" if r["outcome"] == "holds" else "refuted: opposite"
    return f"{prefix} (p̃ = {r['p_holm']:.2g})"


_READING_NAMES = {
    "raw_product": "1. raw product w(t)w(t+1) < 0",
    "normalised_product": "1n. normalised product ŵ(t)ŵ(t+1) < 0",
    "centred_autocorrelation": "2. centred autocorrelation of w below ρ₀",
    "centred_autocorrelation_normalised": "2n. centred autocorrelation of ŵ below ρ₀",
    SETTING_READING: "3. P(top stays top) below per-group shuffle",
}


def _where(per_setting: dict) -> str:
    groups = {o: [s for s, v in per_setting.items() if v == o] for o in OUTCOMES}
    return "; ".join(f"{o} in {', '.join(groups[o])}" for o in OUTCOMES if groups[o])


def theorem2_texts(numbers: dict, *, phase_epochs: int) -> tuple[str, str]:
    """``(summary, conditions)`` of ``theorem2-exhaustion`` from its classified numbers.

    ``numbers`` holds ``outcomes`` (:func:`~rso_ref.claims.exhaustion_rules.theorem2_outcomes`),
    ``counts``, ``phase_steps``, ``seeds``, ``settings``, ``group_cells`` and
    ``setting_cells``; ``phase_epochs`` is the phase length in epochs.
    """
    readings = numbers["outcomes"]["readings"]
    counts = numbers["counts"]
    group_cells, setting_cells = numbers["group_cells"], numbers["setting_cells"]
    settings, seeds = numbers["settings"], numbers["seeds"]
    families = {key: group_cells for key in GROUP_READINGS} | {SETTING_READING: setting_cells}
    reading_lines = "\n".join(
        f"- **{_READING_NAMES[key]}: {readings[key]['overall']}.** Cells: {c['holds']} hold, "
        f"{c['refuted_opposite']} refuted (opposite direction), {c['refuted_size']} refuted "
        f"(claimed size excluded), {c['no_evidence']} no evidence, of {len(families[key])}."
        for key, c in counts.items())
    setting_rows = "\n".join(
        f"| {s['setting']} | " + " | ".join(readings[k]["per_setting"][s["setting"]]
                                            for k in readings)
        + f" | {fmt_g(s['abs_sum']['start'])} → {fmt_g(s['abs_sum']['end'])} "
          f"(×{fmt_g(s['abs_sum']['ratio'])}; max {fmt_g(s['abs_sum']['max'])}) |"
        for s in setting_cells)
    cell_rows = "\n".join(
        f"| {c['setting']} | {c['group']} | {100 * c['frac_negative']:.0f}% | "
        f"{_centred_ci(c['centred_autocorrelation'])} | "
        f"{_outcome_text(c['centred_autocorrelation'])} | "
        f"{_centred_ci(c['centred_autocorrelation_normalised'])} | "
        f"{_outcome_text(c['centred_autocorrelation_normalised'])} | "
        f"{fmt_g(c['raw_product']['estimate'])} [{fmt_g(c['raw_product']['lo'])}, "
        f"{fmt_g(c['raw_product']['hi'])}] | "
        f"{fmt_g(c['normalised_product']['estimate'])} [{fmt_g(c['normalised_product']['lo'])}, "
        f"{fmt_g(c['normalised_product']['hi'])}] |" for c in group_cells)
    direction_rows = "\n".join(
        f"| {c['setting']} | {fmt_ci((r['stay'], r['stay_lo'], r['stay_hi']))} | "
        f"{r['chance']:.3f} | "
        f"{r['null']:.3f} [{r['null_lo']:.3f}, {r['null_hi']:.3f}] | {_outcome_text(r)} |"
        for c in setting_cells for r in [c[SETTING_READING]])
    head = " | ".join(k.split(".")[0] for k in _READING_NAMES.values())
    summary = (
        f"{len(settings)} settings x {len(seeds)} seeds, {len(group_cells)} (setting, group) "
        f"cells; phases of {numbers['phase_steps']} steps ({phase_epochs} digits epochs; the "
        "same number of full-batch steps on the convex controls). ŵ = w / Σ|w| per step. "
        "Outcomes by the rules in the conditions above.\n\n"
        f"{reading_lines}\n\n"
        f"Per setting (readings {head}) and the scale of w, median Σ|w_i| over the first and "
        "the last phase (all seeds):\n\n"
        f"| setting | {head} | Σ abs(w): first → last phase |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
        f"{setting_rows}\n\n"
        "Per cell: ρ̂ − ρ₀ (phase-centred lag-1 autocorrelation minus its shuffle null, 95% "
        "block-bootstrap CI; claimed: < 0), with the outcome and the number it rests on "
        "(Holm-adjusted p̃, or the smallest effect the cell detects at 80% power); the raw "
        "and normalised product means (claimed: < 0).\n\n"
        "| setting | group | w<0 | ρ̂ − ρ₀ on w [95% CI] | outcome | ρ̂ − ρ₀ on ŵ [95% CI] | "
        "outcome | mean w(t)w(t+1) [95% CI] | mean ŵ(t)ŵ(t+1) [95% CI] |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        f"{cell_rows}\n\n"
        "Direction test (reading 3). The surrogates permute time independently in each "
        "group's column of ŵ over the whole run: each group keeps its marginal distribution "
        "of shares, so a group that is heavy throughout stays likely on top in the null too. "
        "The within-phase row shuffle used before kept each phase's drift in the null and "
        "so could see reversion only, never persistence; this one sees both.\n\n"
        "| setting | P(top stays top) [95% CI] | chance 1/L | surrogates mean [95% range] | "
        "outcome |\n| --- | --- | --- | --- | --- |\n"
        f"{direction_rows}\n")
    no_evidence = [c["centred_autocorrelation"]["detectable"] for c in group_cells
                   if c["centred_autocorrelation"]["outcome"] == "no evidence"]
    power = (f" Where reading 2 finds no evidence, the cells detect |ρ̂ − ρ₀| ≥ "
             f"{min(no_evidence):.3f} to {max(no_evidence):.3f} (median "
             f"{np.median(no_evidence):.3f}) with 80% power." if no_evidence else "")
    conditions = (
        "Rules (in the code): each cell's effect (estimate minus its null reference) gets a "
        "two-sided normal-approximation p-value (SE: the half of its 95% CI that faces the "
        "null, over 1.96, so that test and interval agree; in reading 3 the surrogates' SD), "
        f"Holm-adjusted across all cells of the reading (family-wise {ALPHA:.0%}). A cell "
        "*holds* if significant in the claimed direction (< 0) and the claimed size is not "
        "excluded, is *refuted* if significant in the opposite direction (positive "
        f"autocorrelation, persistence) or if, for the autocorrelations, a one-sided test "
        f"excludes the claimed size ρ̂ − ρ₀ ≤ −{CLAIMED_RHO:g} (Cohen's small correlation; the "
        "paper states no size), and is *no evidence* otherwise, with the smallest detectable "
        "effect. A setting holds if all its cells hold, holds under conditions if some do, is "
        "refuted if none holds and some is refuted; readings and the claim combine the same "
        "way. *No evidence* everywhere would map to not-testable-here (the registry has no "
        "inconclusive verdict). Outcome per reading: "
        + " ".join(f"**{_READING_NAMES[k]}:** {r['overall']} ({_where(r['per_setting'])})."
                   for k, r in readings.items())
        + power)
    return summary, conditions


def figure1_texts(numbers: dict, epochs: dict, *, phase_len: int) -> tuple[str, str]:
    """``(summary, conditions)`` of ``figure1-dynamics`` from its numbers.

    ``numbers`` holds ``tests``, ``verdicts``, ``abs_sum`` (per setting label) and ``seeds``;
    ``epochs`` maps each setting label to its epochs; ``phase_len`` is the phase in steps.
    """
    tests, verdicts, growths = numbers["tests"], numbers["verdicts"], numbers["abs_sum"]
    seeds = numbers["seeds"]
    lines = []
    for label, n_epochs in epochs.items():
        t, growth = tests[label], growths[label]
        lines.append(
            f"| {label} ({n_epochs} ep.) | {fmt_ci(t['first_share_early'])} | "
            f"{fmt_ci(t['entropy_early'])} | {fmt_ci(t['entropy_late'])} | "
            f"{'-'.join(f'L{g + 1}' for g in t['dominant_group_per_quarter'])} | "
            f"{fmt_g(growth['start'])} → {fmt_g(growth['end'])} (×{fmt_g(growth['ratio'])}; "
            f"max {fmt_g(growth['max'])}) | {verdicts[label]} |")
    summary = (
        f"{len(seeds)} seeds per setting; early = first quarter of the steps, late = last quarter "
        "(Figure 1: epochs 1-10 and 31+ of 40). 95% moving-block bootstrap CIs over the per-step "
        "values of all seeds.\n\n"
        "| setting | first-layer share, early | entropy early | entropy late | dominant layer per "
        f"quarter | Σ abs(w), first → last phase ({phase_len} steps) | verdict |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(lines) + "\n\n"
        "The last column but one tracks the scale of w: median Σ_i |w_i| over the first and "
        "the last phase of all seeds, their ratio and the largest value seen; Σ_i |w_i| = 1 at "
        "Algorithm 1's start, and values far above 1 mean the meta line search takes steps "
        "much longer than lr·g (w is unbounded on minibatches). Every test on this page uses "
        "the shares |w_i|/Σ|w|, which do not depend on that scale. The paper's 0.82 "
        "first-layer share would put the first column near 0.8.")
    conditions = (
        "Per setting: the balancing part (entropy rises from the first to the last quarter, "
        f"CIs disjoint, and is >= {BALANCED_ENTROPY} late by its CI) is required for anything "
        f"but refuted; with it, holds if the first layer's early share is > {DOMINANT_SHARE} "
        "(CI), holds under conditions if the first layer is only the largest share early "
        "(plurality, not the paper's 0.82), refuted otherwise. Overall: the common verdict of "
        "all settings, holds-under-conditions when they differ. Per setting: "
        + ", ".join(f"{k}: **{v}**" for k, v in verdicts.items()) + ".")
    return summary, conditions
