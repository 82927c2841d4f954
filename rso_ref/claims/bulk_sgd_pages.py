"""Bulk-SGD claims: the evidence pages (markdown), rendered from the runs' numbers.

Each function takes the verdict of :mod:`rso_ref.claims.bulk_sgd_rules` and the numbers the
claim stores, and returns ``(conditions, summary)``; the criteria's numbers come from the
rules' constants, the protocol's from the :class:`~rso_ref.claims.bulk_sgd.Protocol` passed in.
"""
from __future__ import annotations

from typing import Sequence

from .bulk_sgd_rules import (ALIGNMENT_FACTOR, ALIGNMENT_SKIP, B_EFFECT_FACTOR,
                             BULK_KEEPS_FRACTION, DOM_STALL_FRACTION, ENERGY_MAJORITY,
                             GRADIENTS_PER_PRODUCT, LOSS_LABEL, share_reading)
from .common import fmt_ci, fraction_word

__all__ = ["alignment_texts", "dom_stalls_texts", "stability_texts", "interpolation_texts",
           "energy_texts"]


def alignment_texts(verdict: str, numbers: dict) -> tuple[str, str]:
    """``bulk-alignment``: ``numbers[loss]`` holds the CIs of mean chi and chi^2, the baseline."""
    readings = "; ".join(f"{LOSS_LABEL[loss]}: {share_reading(n['share_full_mean_ci'])} (mean "
                         f"χ² = {fmt_ci(n['share_full_mean_ci'])})" for loss, n in numbers.items())
    if verdict == "holds":
        cond = ("More than half of the gradient's squared norm lies in the top-k eigenspace "
                f"for both losses (the 95 % CI of the mean share χ² lies above 1/2): {readings}.")
    elif verdict == "holds-under-conditions":
        cond = ("Alignment is far above chance (lower CI bound of the mean χ >= "
                f"{ALIGNMENT_FACTOR}x the "
                "random-subspace value sqrt(k/d)) for both losses, but the top-k eigenspace "
                "does not hold a clear majority of the gradient's squared norm for every "
                f"loss. The share χ² = ‖Pg‖²/‖g‖², mean over probes and seeds: {readings}. "
                "Where the share is not above 1/2 'aligned' holds in the relative sense only; "
                "the minibatch gradient is less aligned than the full-batch one.")
    else:
        cond = ("For at least one loss the alignment is not clearly above the "
                "random-subspace baseline.")
    summary = "\n".join(
        f"- **{LOSS_LABEL[loss]}**: mean chi of the full-batch gradient after the first "
        f"{fraction_word(ALIGNMENT_SKIP)} of training {fmt_ci(n['chi_full_mean_ci'])} (95% "
        "bootstrap CI over probes "
        f"and seeds), mean squared-norm share χ² {fmt_ci(n['share_full_mean_ci'])}; minibatch "
        f"gradient {fmt_ci(n['chi_batch_mean_ci'])}; random "
        f"baseline sqrt(k/d) = {n['random_baseline']:.3f}."
        for loss, n in numbers.items())
    return cond, summary


def dom_stalls_texts(verdict: str, numbers: dict, ok_dom: Sequence[bool],
                     ok_bulk: Sequence[bool], p) -> tuple[str, str]:
    """``bulk-dom-stalls``: ``numbers[loss][seed]`` holds the decrease ratios and HVP counts."""
    if verdict == "holds":
        cond = (f"For every seed and both losses Dom-SGD's loss decrease is <= "
                f"{DOM_STALL_FRACTION:.0%} of SGD's while Bulk-SGD's is >= "
                f"{BULK_KEEPS_FRACTION:.0%}.")
    elif verdict == "holds-under-conditions":
        cond = (f"Only part of the criteria holds: Dom stalls (<= {DOM_STALL_FRACTION:.0%} of "
                f"SGD's decrease) in {sum(ok_dom)}/{len(ok_dom)} runs, Bulk keeps >= "
                f"{BULK_KEEPS_FRACTION:.0%} in {sum(ok_bulk)}/{len(ok_bulk)} runs.")
    else:
        cond = "Dom-SGD does not stall and Bulk-SGD does not keep pace in any run."
    lines = []
    for loss, per_seed in numbers.items():
        rd = [v["ratio_dom"] for v in per_seed.values()]
        rb = [v["ratio_bulk"] for v in per_seed.values()]
        lines.append(f"- **{LOSS_LABEL[loss]}**: decrease relative to SGD's over "
                     f"{p.run_steps} steps — Dom-SGD {', '.join(f'{r:.3f}' for r in rd)}, "
                     f"Bulk-SGD {', '.join(f'{r:.3f}' for r in rb)} (per seed).")
    first = next(iter(numbers))
    mv = numbers[first][p.seeds[0]]["n_matvec"]
    lines.append(f"- Cost: Dom/Bulk spent {mv['Dom-SGD']} / {mv['Bulk-SGD']} Hessian-vector "
                 f"products ({LOSS_LABEL[first]}, seed {p.seeds[0]}) for "
                 f"{p.run_steps} steps, i.e. "
                 f"~{GRADIENTS_PER_PRODUCT * mv['Bulk-SGD'] / p.run_steps:.0f} extra "
                 "gradient evaluations per step with P recomputed every "
                 f"{p.every} steps.")
    return cond, "\n".join(lines)


def stability_texts(verdict: str, numbers: dict) -> tuple[str, str]:
    """``bulk-stability``: ``numbers[loss][seed]`` holds the largest stable lrs and edges."""
    cond = {
        "holds": "Bulk-SGD tolerates a larger learning rate than SGD in every run, yet stays "
                 "below the quadratic-model edge 2/lambda_{k+1}: removing the top-k directions "
                 "buys stability only in part; curvature outside the frozen projector limits it.",
        "holds-under-conditions":
            "Bulk-SGD tolerates a larger learning rate than SGD in every run and reaches the "
            "quadratic-model edge 2/lambda_{k+1} in some: no loss of stability beyond what "
            "the quadratic model predicts was seen at this horizon.",
        "refuted": "In at least one run Bulk-SGD's largest stable learning rate is not above "
                   "SGD's."}[verdict]
    lines = [f"- **{LOSS_LABEL[loss]}, seed {s}**: SGD {r['lr_sgd']:.3g} "
             f"(= {r['lr_sgd'] / r['edge_1']:.2f} x 2/lambda_1), Bulk-SGD {r['lr_bulk']:.3g} "
             f"(= {r['lr_bulk'] / r['edge_1']:.2f} x 2/lambda_1 = "
             f"{r['lr_bulk'] / r['edge_k1']:.2f} x 2/lambda_(k+1)); lambda_1 = "
             f"{r['lambda_1']:.3g}, lambda_(k+1) = {r['lambda_k1']:.3g}."
             for loss, rows in numbers.items() for s, r in rows.items()]
    return cond, "\n".join(lines)


def interpolation_texts(verdict: str, numbers: dict, b_dominates: Sequence[bool],
                        beats_sgd: Sequence[bool]) -> tuple[str, str]:
    """``bulk-interpolation``: ``numbers[loss][seed]`` holds the grid's effects and best cells."""
    if verdict == "holds":
        cond = (f"In every run the bulk weight b moves the final log-loss >= {B_EFFECT_FACTOR:g}x "
                "more than the dominant weight a, and the best stable (a, b) has b > a and beats "
                "the best stable scaled SGD (a = b) on the grid: weighting the bulk up is more "
                "than a larger learning rate.")
    elif verdict == "holds-under-conditions":
        cond = (f"b dominates a (>= {B_EFFECT_FACTOR:g}x effect) in {sum(b_dominates)}/"
                f"{len(b_dominates)} runs; the best stable cell has b > a and beats the best "
                f"scaled SGD (a = b) in "
                f"{sum(beats_sgd)}/{len(beats_sgd)} runs.")
    else:
        cond = "The bulk weight does not govern the loss in any run."
    lines = [f"- **{LOSS_LABEL[loss]}, seed {s}**: main effect on log10 loss of a "
             f"{r['effect_a']:.3f}, of b {r['effect_b']:.3f}; best (a, b) = "
             f"({r['best'][0]:g}, {r['best'][1]:g}) with loss {r['best'][2]:.4g}; best scaled "
             f"SGD a = b = {r['best_scaled_sgd'][0]:g}: {r['best_scaled_sgd'][2]:.4g}; SGD (1, 1): "
             f"{r['sgd_loss']:.4g} (start {r['start_loss']:.4g}); {r['n_unstable']} unstable cells."
             for loss, rows in numbers.items() for s, r in rows.items()]
    return cond, "\n".join(lines)


def energy_texts(verdict: str, means: dict, concentrated: Sequence[bool], f_less: Sequence[bool],
                 *, n_seeds: int, k: int, dim: int) -> tuple[str, str]:
    """``bulk-ggn-energy``: ``means[loss][M]`` is (mean, sd) of the share of M = H, G, F."""
    if verdict == "holds":
        cond = (f"For both losses at least {ENERGY_MAJORITY:.0%} of the Frobenius energy of H and "
                "of the GGN G lies in the top-k eigenspace, and the functional Hessian F is less "
                "concentrated there than G.")
    elif verdict == "holds-under-conditions":
        cond = (f"The share reaches {ENERGY_MAJORITY:.0%} for only part of (loss, H/G): "
                f"{sum(concentrated)}/{len(concentrated)}; F less concentrated than G for "
                f"{sum(f_less)}/{len(f_less)} losses.")
    else:
        cond = "The curvature energy is not concentrated in the top-k eigenspace."
    lines = [f"- **{LOSS_LABEL[loss]}**: share of H {m['H'][0]:.3f} ± "
             f"{m['H'][1]:.3f}, of G {m['G'][0]:.3f} ± "
             f"{m['G'][1]:.3f}, of F {m['F'][0]:.3f} ± "
             f"{m['F'][1]:.3f} (mean ± sd over {n_seeds} seeds; random "
             f"k-subspace bound k/d = {k / dim:.4f})." for loss, m in means.items()]
    return cond, "\n".join(lines)
