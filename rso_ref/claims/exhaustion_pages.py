"""Claims ``theorem2-exhaustion`` and ``figure1-dynamics``: the evidence pages (markdown).

Every function renders from the numbers the claim stores (``Evidence.numbers``, as in
``theory/report.json``) and from the rule constants of
:mod:`rso_ref.claims.exhaustion_rules`, so a page cannot state a number the code does not hold.
"""
from __future__ import annotations

import numpy as np

from .common import fmt_ci, fmt_g
from .exhaustion_rules import (ALPHA, BALANCED_ENTROPY, CLAIMED_RHO, DOMINANT_SHARE,
                               GROUP_READINGS, HEADLINE, OUTCOMES, SCOPES, SETTING_READING,
                               family_summary)

__all__ = ["PREVIOUS", "theorem2_texts", "figure1_texts", "reading_summaries"]

#: The verdicts of the version of commit 9efbf26 (theory/report.json there): per reading
#: and scope, :func:`~rso_ref.claims.exhaustion_rules.family_summary` of its cells (its
#: Holm families spanned both scopes; its size p-values were stored as ``p_equiv_holm``)
#: and the :func:`~rso_ref.claims.exhaustion_rules.combine` of its settings in the scope.
#: Its claim verdict combined every reading in both scopes.
PREVIOUS = {
    "commit": "9efbf26", "verdict": "holds-under-conditions",
    "method": ("normal-approximation p-values from moving-block bootstraps of the steps of "
               "all seeds pooled"),
    "readings": {
        "raw_product": {
            "networks": {"overall": "refuted", "holds": 0, "refuted_opposite": 26,
                         "refuted_size": 0, "no_evidence": 19,
                         "p_holm_max": 0.047596484669921266, "p_size_holm_max": float("nan")},
            "convex controls": {"overall": "refuted", "holds": 0, "refuted_opposite": 16,
                                "refuted_size": 0, "no_evidence": 0,
                                "p_holm_max": 6.944774878627251e-69,
                                "p_size_holm_max": float("nan")}},
        "normalised_product": {
            "networks": {"overall": "refuted", "holds": 0, "refuted_opposite": 45,
                         "refuted_size": 0, "no_evidence": 0,
                         "p_holm_max": 4.067962305098691e-05, "p_size_holm_max": float("nan")},
            "convex controls": {"overall": "refuted", "holds": 0, "refuted_opposite": 16,
                                "refuted_size": 0, "no_evidence": 0,
                                "p_holm_max": 1.5827622787937901e-137,
                                "p_size_holm_max": float("nan")}},
        "centred_autocorrelation": {
            "networks": {"overall": "refuted", "holds": 0, "refuted_opposite": 2,
                         "refuted_size": 23, "no_evidence": 20,
                         "p_holm_max": 0.0005547155800526432,
                         "p_size_holm_max": 0.04409113868284308},
            "convex controls": {"overall": "holds", "holds": 16, "refuted_opposite": 0,
                                "refuted_size": 0, "no_evidence": 0,
                                "p_holm_max": 2.2895154661468476e-47,
                                "p_size_holm_max": float("nan")}},
        "centred_autocorrelation_normalised": {
            "networks": {"overall": "refuted", "holds": 0, "refuted_opposite": 9,
                         "refuted_size": 35, "no_evidence": 1,
                         "p_holm_max": 0.046821556210972365,
                         "p_size_holm_max": 0.02591508142482393},
            "convex controls": {"overall": "holds", "holds": 16, "refuted_opposite": 0,
                                "refuted_size": 0, "no_evidence": 0,
                                "p_holm_max": 4.486302366891573e-37,
                                "p_size_holm_max": float("nan")}},
        SETTING_READING: {
            "networks": {"overall": "refuted", "holds": 0, "refuted_opposite": 6,
                         "refuted_size": 0, "no_evidence": 2,
                         "p_holm_max": 0.027594068049018435, "p_size_holm_max": float("nan")},
            "convex controls": {"overall": "holds", "holds": 4, "refuted_opposite": 0,
                                "refuted_size": 0, "no_evidence": 0,
                                "p_holm_max": 6.866763720587378e-86,
                                "p_size_holm_max": float("nan")}}}}


def _centred_ci(r: dict) -> str:
    """A reading's effect and CI, shifted by its null reference."""
    return fmt_ci([r[k] - r["reference"] for k in ("estimate", "lo", "hi")])


def _product_ci(r: dict) -> str:
    return f"{fmt_g(r['estimate'])} [{fmt_g(r['lo'])}, {fmt_g(r['hi'])}]"


def _outcome_text(r: dict, digits: int = 3) -> str:
    """A cell's outcome with the number it rests on (t, adjusted p or detectable effect)."""
    if r["basis"] == "claimed size excluded":
        return f"refuted: effect > −{CLAIMED_RHO:g} (p̃_size = {r['p_size_holm']:.2g})"
    if r["outcome"] == "no evidence":
        return f"no evidence (t = {r['t']:.2f}; detects ≥ {r['detectable']:.{digits}g})"
    prefix = "holds" if r["outcome"] == "holds" else "refuted: opposite"
    return f"{prefix} (t = {r['t']:.2f}, p̃ = {r['p_holm']:.2g})"


def _seeds(r: dict) -> str:
    """The seeds' mean effect (what the t-test sees) and how many lie below the reference."""
    below = sum(v < r["reference"] for v in r["per_seed"])
    return f"{fmt_g(r['seed_mean'])} ({below}/{len(r['per_seed'])})"


_READING_NAMES = {
    "raw_product": "1. product w(t)w(t+1) < 0 (as written)",
    "normalised_product": "1n. normalised product ŵ(t)ŵ(t+1) < 0",
    "centred_autocorrelation": "2. centred autocorrelation of w below ρ₀",
    "centred_autocorrelation_normalised": "2n. centred autocorrelation of ŵ below ρ₀",
    SETTING_READING: "3. P(top stays top) below per-group shuffle",
}
_COUNT_WORDS = (("holds", "hold"), ("refuted_opposite", "refuted (opposite direction)"),
                ("refuted_size", "refuted (claimed size excluded)"),
                ("no_evidence", "no evidence"))


def _counts_text(c: dict) -> str:
    return ", ".join(f"{c[k]} {word}" for k, word in _COUNT_WORDS if c[k])


def _where(per_setting: dict) -> str:
    groups = {o: [s for s, v in per_setting.items() if v == o] for o in OUTCOMES}
    return "; ".join(f"{o} in {', '.join(groups[o])}" for o in OUTCOMES if groups[o])


def _headline(numbers: dict) -> str:
    """The verdict on the claim as stated, and the numbers it rests on."""
    key, scope = HEADLINE
    result = numbers["outcomes"]["readings"][key][scope]
    cells = [c for c in numbers["group_cells"] if c["scope"] == scope]
    counts = numbers["counts"][key][scope]
    significant = [c[key]["p_holm"] for c in cells if c[key]["outcome"] != "no evidence"]
    negative_seeds = sum(v < 0 for c in cells for v in c[key]["per_seed"])
    n_seed_cells = sum(len(c[key]["per_seed"]) for c in cells)
    frac = float(np.mean([c["frac_negative"] for c in cells]))
    largest = (f"; t-test on the seeds, Holm-adjusted p̃ ≤ {max(significant):.2g} in every "
               "significant cell" if significant else "")
    return (
        f"**Headline: the claim as the paper states it, E[w_i(t)·w_i(t+1)] < 0 in {scope} (its "
        f"scope, §3.2: \"from the non-convex loss landscape\"): {result['overall']}.** Of "
        f"the {len(cells)} (setting, group) cells in {scope}, {_counts_text(counts)}"
        f"{largest}. The mean product is negative for {negative_seeds} of the {n_seed_cells} "
        f"(cell, seed) pairs, and w_i < 0 at {100 * frac:.1f}% of the steps (mean over the "
        "cells): a product of consecutive weights is negative only across a sign change. "
        "Per setting: "
        f"{_where(result['per_setting'])}.")


def _alternatives(numbers: dict) -> str:
    """Every other (reading, scope), with its own verdict."""
    readings, counts = numbers["outcomes"]["readings"], numbers["counts"]
    rows = []
    for key, by_scope in readings.items():
        cols = [f"**{by_scope[s]['overall']}** ({_counts_text(counts[key][s])})"
                if s in by_scope and (key, s) != HEADLINE else
                ("headline, above" if (key, s) == HEADLINE else "—") for s in SCOPES]
        rows.append(f"| {_READING_NAMES[key]} | " + " | ".join(cols) + " |")
    return (
        "**Alternative readings**, each with its own verdict (none changes the headline). "
        "1n is the headline's scale-free form (the sign of each product is unchanged by "
        "the normalisation); 2 and 2n read \"negative autocorrelation\" as fluctuations "
        "about each phase's mean; 3 reads §2.4's \"heavily utilized ... smaller weights in "
        "subsequent iterations\" as reversion of the top group. The convex full-batch "
        "controls lie outside the claim's scope (no non-convex landscape, no minibatch "
        "noise): they show where a reading can hold, not that the claim does.\n\n"
        f"| reading | {' | '.join(SCOPES)} |\n| --- | --- | --- |\n" + "\n".join(rows))


def _sensitivity(numbers: dict) -> str:
    """Readings 2 and 2n at every claimed size of the sensitivity row."""
    sens = numbers["sensitivity"]
    margins = list(sens)
    rows = [f"| {_READING_NAMES[key]} | {scope} | "
            + " | ".join(f"{sens[m][key][scope]['overall']} ({_counts_text(sens[m][key][scope])})"
                         for m in margins) + " |"
            for key in sens[margins[0]] for scope in sens[margins[0]][key]]
    return (
        f"**The size threshold δ = {CLAIMED_RHO:g}** (readings 2 and 2n only: a cell is "
        f"refuted when a one-sided test excludes ρ̂ − ρ₀ ≤ −δ). The paper states no size. "
        f"{CLAIMED_RHO:g} is Cohen's \"small\" correlation (below it, w_i(t) explains under "
        "1% of the variance of w_i(t+1)); it was set when the outcome rules were written, "
        "after earlier runs of this claim had been seen, not before the runs. The headline "
        "and reading 1n have no size and do not depend on it. The readings at other "
        "thresholds:\n\n"
        f"| reading | scope | {' | '.join(f'δ = {m}' for m in margins)} |\n"
        f"| --- | --- | {' | '.join('---' for _ in margins)} |\n" + "\n".join(rows))


def _rules(numbers: dict) -> str:
    n_seeds = len(numbers["seeds"])
    return (
        "**How the cells are judged.** The seeds are the independent units (the steps of "
        "one run are correlated). Each cell's statistic is pooled over the runs of all "
        f"seeds and shown with a 95% cluster-bootstrap interval ({numbers['n_boot']} "
        f"resamples of the {n_seeds} seeds; `rso_ref.stats.cluster_bootstrap`), which "
        "describes the spread between runs. **What decides is a one-sample t-test of the "
        f"{n_seeds} seeds' own values** (each run's statistic minus the null: 0 for the "
        "products, ρ₀ for the autocorrelations, the run's surrogate mean for reading 3) "
        f"with C − 1 = {n_seeds - 1} degrees of freedom, the standard test when there are "
        "few clusters (Cameron & Miller 2015, §VI). A bootstrap over so few seeds cannot "
        "decide: when all of them lie on one side of the null, so does every resample, "
        f"and its p-value is 1/(B+1) whatever the number of seeds, while that pattern has "
        f"probability 2^(1−C) = {2 * 0.5 ** n_seeds:.4g} under a null symmetric across "
        "seeds. The two-sided t-test p-value is Holm-adjusted across the cells of its "
        f"(reading, scope) family (family-wise {ALPHA:.0%}): a cell *holds* if significant "
        "below the reference (the claimed direction) and, for readings 2 and 2n, the "
        "claimed size is not excluded; it is *refuted* if significant above the reference "
        "(positive products or autocorrelation, persistence) or, for 2 and 2n, if a "
        "one-sided t-test (Holm) excludes the claimed size; otherwise it is *no evidence*, "
        "with the smallest mean effect it detects at 80% power, "
        f"(t_{{{n_seeds - 1}, 0.975}} + t_{{{n_seeds - 1}, 0.8}}) · SE, SE = the seeds' "
        "standard deviation / √C. A setting holds if all its cells hold, holds under "
        "conditions if some do, is refuted if none holds and some is refuted; a reading "
        "within a scope combines its settings the same way. *No evidence* in the headline "
        "would map to not-testable-here (the registry has no inconclusive verdict). A sign "
        "test on the seeds (exact binomial) could not decide any cell: its smallest "
        f"two-sided p-value is 2^(1−C) = {2 * 0.5 ** n_seeds:.4g} > {ALPHA:g}; the "
        "\"seed mean (< 0)\" columns give the counts it would use.")


def reading_summaries(numbers: dict) -> dict:
    """Per reading and scope: the combined outcome and :func:`family_summary` of its cells."""
    readings = numbers["outcomes"]["readings"]
    out: dict = {}
    for key, by_scope in readings.items():
        cells = numbers["setting_cells" if key == SETTING_READING else "group_cells"]
        for scope, result in by_scope.items():
            out.setdefault(key, {})[scope] = {
                "overall": result["overall"],
                **family_summary([c[key] for c in cells if c["scope"] == scope])}
    return out


def _summary_text(r: dict) -> str:
    """``outcome`` (counts; the largest adjusted p among its significant cells)."""
    ps = [f"p̃ ≤ {r[k]:.2g}" if k == "p_holm_max" else f"p̃_size ≤ {r[k]:.2g}"
          for k in ("p_holm_max", "p_size_holm_max") if not np.isnan(r[k])]
    return f"{r['overall']} ({_counts_text(r)}" + ("; " + ", ".join(ps) if ps else "") + ")"


def _previous(numbers: dict) -> str:
    """Old -> new verdicts against the version of :data:`PREVIOUS`."""
    now = reading_summaries(numbers)
    old = PREVIOUS["readings"]
    rows = "\n".join(
        f"| {_READING_NAMES[key]} | {scope} | {_summary_text(old[key][scope])} | "
        f"{_summary_text(now[key][scope])} |"
        for key in now for scope in now[key])
    key, scope = HEADLINE
    n_seeds = len(numbers["seeds"])
    smallest = min(r["p_holm_max"] for by_scope in old.values() for r in by_scope.values())
    return (
        f"**Changes against commit {PREVIOUS['commit']}.** Its claim verdict was "
        f"{PREVIOUS['verdict']}, the combination of every reading in both scopes, on "
        f"{PREVIOUS['method']}: it counted steps, not seeds, as the units of replication "
        f"(in one family even the weakest significant cell had p̃ = {smallest:.2g}). The "
        f"verdict is now the headline alone (reading 1 in {scope}): "
        f"{PREVIOUS['readings'][key][scope]['overall']} then, "
        f"{numbers['outcomes']['headline']} now, so the claim's verdict moves "
        f"{PREVIOUS['verdict']} → {numbers['outcomes']['verdict']} by the change of what is "
        "ruled on, not by the new test. Per reading and scope, with the weakest significant cell "
        f"each rests on (then: Holm across both scopes; now: t-test on {n_seeds} seeds, "
        "Holm within the scope):\n\n"
        f"| reading | scope | {PREVIOUS['commit']} | now |\n| --- | --- | --- | --- |\n" + rows)


def theorem2_texts(numbers: dict, *, phase_epochs: int) -> tuple[str, str]:
    """``(summary, conditions)`` of ``theorem2-exhaustion`` from its classified numbers.

    ``numbers`` holds ``outcomes`` (:func:`~rso_ref.claims.exhaustion_rules.theorem2_outcomes`),
    ``counts``, ``sensitivity``, ``phase_steps``, ``seeds``, ``settings``, ``n_boot``,
    ``group_cells`` and ``setting_cells``; ``phase_epochs`` is the phase length in epochs.
    The conditions give the result first (the headline, then the alternative readings,
    the rules, the changes against :data:`PREVIOUS` and the size sensitivity); the
    summary the cells.
    """
    readings = numbers["outcomes"]["readings"]
    group_cells, setting_cells = numbers["group_cells"], numbers["setting_cells"]
    settings, seeds = numbers["settings"], numbers["seeds"]
    keys = list(GROUP_READINGS) + [SETTING_READING]
    setting_rows = "\n".join(
        f"| {s['setting']} | " + " | ".join(readings[k][s["scope"]]["per_setting"][s["setting"]]
                                            for k in keys)
        + f" | {fmt_g(s['abs_sum']['start'])} → {fmt_g(s['abs_sum']['end'])} "
          f"(×{fmt_g(s['abs_sum']['ratio'])}; max {fmt_g(s['abs_sum']['max'])}) |"
        for s in setting_cells)
    product_rows = "\n".join(
        f"| {c['setting']} | {c['group']} | {100 * c['frac_negative']:.0f}% | "
        + " | ".join(f"{_product_ci(c[k])} | {_seeds(c[k])} | {_outcome_text(c[k])}"
                     for k in ("raw_product", "normalised_product")) + " |"
        for c in group_cells)
    rho_rows = "\n".join(
        f"| {c['setting']} | {c['group']} | "
        + " | ".join(f"{_centred_ci(c[k])} | {_seeds(c[k])} | {_outcome_text(c[k])}"
                     for k in ("centred_autocorrelation", "centred_autocorrelation_normalised"))
        + " |" for c in group_cells)
    direction_rows = "\n".join(
        f"| {c['setting']} | {fmt_ci((r['stay'], r['stay_lo'], r['stay_hi']))} | "
        f"{r['chance']:.3f} | {r['null']:.3f} [{r['null_lo']:.3f}, {r['null_hi']:.3f}] | "
        f"{fmt_ci((r['estimate'], r['lo'], r['hi']))} | {_seeds(r)} | "
        f"{_outcome_text(r)} |"
        for c in setting_cells for r in [c[SETTING_READING]])
    head = " | ".join(_READING_NAMES[k].split(".")[0] for k in keys)
    summary = (
        f"{len(settings)} settings x {len(seeds)} seeds, {len(group_cells)} (setting, group) "
        f"cells; phases of {numbers['phase_steps']} steps ({phase_epochs} digits epochs; the "
        "same number of full-batch steps on the convex controls). ŵ = w / Σ|w| per step. "
        "Estimates pooled over the seeds' runs, with 95% cluster-bootstrap intervals over the "
        "seeds; \"seed mean (< 0)\": the mean over the seeds of each run's own value minus "
        "the null (0 for the products, ρ₀ for the autocorrelations), which the t-test "
        "judges, and how many seeds lie below the null. Outcomes by the rules above, with "
        "the numbers each rests on (t on the seeds, Holm-adjusted p̃; or the smallest mean "
        "effect the cell detects at 80% power).\n\n"
        f"Per setting (readings {head}) and the scale of w, median Σ|w_i| over the first and "
        "the last phase (all seeds):\n\n"
        f"| setting | {head} | Σ abs(w): first → last phase |\n"
        f"| --- | {' | '.join('---' for _ in keys)} | --- |\n"
        f"{setting_rows}\n\n"
        "Readings 1 (the headline, on the networks) and 1n per cell: mean of the lag "
        "products over the in-phase pairs (claimed: < 0).\n\n"
        "| setting | group | w<0 | mean w(t)w(t+1) [95% CI] | seed mean (< 0) | outcome | "
        "mean ŵ(t)ŵ(t+1) [95% CI] | seed mean (< 0) | outcome |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        f"{product_rows}\n\n"
        "Readings 2 and 2n per cell: ρ̂ − ρ₀, the phase-centred lag-1 autocorrelation minus "
        "its shuffle null (claimed: < 0).\n\n"
        "| setting | group | ρ̂ − ρ₀ on w [95% CI] | seed mean (< 0) | outcome | "
        "ρ̂ − ρ₀ on ŵ [95% CI] | seed mean (< 0) | outcome |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
        f"{rho_rows}\n\n"
        "Reading 3 per setting. The surrogates permute time independently in each "
        "group's column of ŵ over the whole run: each group keeps its marginal distribution "
        "of shares, so a group that is heavy throughout stays likely on top in the null too; "
        "the effect is P(stay) minus each seed's surrogate mean (claimed: < 0, reversion; "
        "> 0 is persistence).\n\n"
        "| setting | P(top stays top) [95% CI] | chance 1/L | surrogates mean [95% range] | "
        "effect [95% CI] | seed mean (< 0) | outcome |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
        f"{direction_rows}\n")
    no_evidence = [c["centred_autocorrelation"]["detectable"] for c in group_cells
                   if c["scope"] == HEADLINE[1]
                   and c["centred_autocorrelation"]["outcome"] == "no evidence"]
    power = (f"\n\nWhere reading 2 finds no evidence in {HEADLINE[1]}, the cells detect "
             f"|ρ̂ − ρ₀| ≥ {min(no_evidence):.3f} to {max(no_evidence):.3f} (median "
             f"{np.median(no_evidence):.3f}) with 80% power." if no_evidence else "")
    conditions = "\n\n".join([_headline(numbers), _alternatives(numbers) + power,
                              _rules(numbers), _previous(numbers), _sensitivity(numbers)])
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
