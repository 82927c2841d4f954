r"""The statistics of a preset's report (step 3 of the protocol in :mod:`rso_ref.presets`).

Per arm: test accuracy, epochs and gradient evaluations to target, the Table 2 metrics
of :mod:`rso_ref.metrics` and the LR sensitivity range; between arms: Welch's t-tests
with Holm's adjustment (:mod:`rso_ref.stats`). Ablation presets (a ``reference`` arm)
add, for every variant against the reference, an equivalence test (Welch TOST, margin
:data:`EQUIVALENCE_MARGIN`) and the same tests at equal gradient evaluations
(:func:`rso_ref.metrics.budget_epochs`), since the variants' steps differ in cost.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .. import metrics
from ..compare import finished, gradient_evaluations_per_step
from ..stats import EQUIVALENCE_MARGIN, detectable_effect, holm, mean_std, tost_diff, welch_diff

__all__ = ["analyse", "conclusion", "equivalence_conclusion",
           "TARGET_FRACTION", "LR_TOLERANCE", "LOSS_WINDOW", "EQUIVALENCE_MARGIN", "ALPHA",
           "POWER"]

#: Target of the epochs-to-target measure, as a fraction of the best arm's final mean.
TARGET_FRACTION = 0.9
#: Validation-accuracy tolerance of the LR sensitivity range (1 point; about the
#: binomial standard error of one validation score here, so the range is coarse).
LR_TOLERANCE = 0.01
#: Window of the loss-variance metric (steps, centred moving average).
LOSS_WINDOW = 21
#: Level of the Welch tests' conclusions (Holm-adjusted p below it: significant).
ALPHA = 0.05
#: Power at which a TOST record states the smallest detectable difference.
POWER = 0.8


def _final_accuracies(records: list) -> list[float]:
    return [r["eval_accuracy"] for r in finished(records)]


def _loss_variance(losses: Sequence[float]) -> float:
    tail = metrics.second_half(losses)
    return metrics.loss_variance(tail, LOSS_WINDOW) if tail.size >= LOSS_WINDOW else math.nan


def _nan_mean_std(values: Sequence[float]) -> list[float]:
    """Mean and std of the finite values; the std is NaN for fewer than two."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return [math.nan, math.nan]
    mean, std = mean_std(finite)
    return [mean, std if len(finite) > 1 else math.nan]


def _lr_range(tuning: dict, chance: float) -> dict | None:
    """LR sensitivity range over every rate tried (``None`` where no rate beats chance).

    ``open`` marks a range that reaches the smallest or largest rate tried: the good
    rates may extend beyond it.
    """
    rates = list(tuning["grid"])
    scores = np.asarray(tuning["val_accuracy"], dtype=np.float64)
    if not np.any(scores[np.isfinite(scores)] > chance + LR_TOLERANCE):
        return None  # a flat grid of failures would otherwise read as "every rate is fine"
    lo, hi, decades = metrics.lr_sensitivity_range(rates, scores, tolerance=LR_TOLERANCE)
    return {"lo": lo, "hi": hi, "decades": decades,
            "open": bool(lo == min(rates) or hi == max(rates))}


def _steps_per_epoch(run: dict) -> float:
    return len(run["steps"]["loss"]) / max(len(run["epochs"]["epoch"]), 1)


def _arm_statistics(records: list, target: float, tuning: dict | None, chance: float) -> dict:
    done = finished(records)   # diverged runs count as failures, not as curves
    acc = _final_accuracies(records)
    to_target = [metrics.epochs_to_target(r["epochs"]["eval_accuracy"], target)
                 if r["epochs"]["eval_accuracy"] else None for r in done]
    grads_to_target = [None if e is None
                       else e * _steps_per_epoch(r) * gradient_evaluations_per_step(r)
                       for e, r in zip(to_target, done)]
    out = {
        "test_accuracy": acc,
        "test_accuracy_mean_std": _nan_mean_std(acc),
        "epochs_to_target": to_target,
        "epochs_to_target_mean_std": _nan_mean_std(to_target),
        "reached_target": sum(e is not None for e in to_target),
        "runs": len(records),
        "diverged": len(records) - len(done),
        "gradient_evaluations_to_target_mean": _nan_mean_std(grads_to_target)[0],
        "gradient_evaluations_per_step": float(np.mean([gradient_evaluations_per_step(r)
                                                         for r in records])),
        "wall_time_per_run_mean_std": _nan_mean_std([r["wall_time"] for r in records]),
        "grad_norm_cv_mean_std": _nan_mean_std([
            metrics.gradient_norm_cv(metrics.second_half(r["steps"]["grad_norm"]))
            if len(r["steps"]["grad_norm"]) > 3 else math.nan for r in done]),
        "loss_variance_mean_std": _nan_mean_std([_loss_variance(r["steps"]["loss"])
                                                 for r in done]),
        "lr": records[0]["lr"],
    }
    if tuning is not None:
        out["lr_sensitivity_range"] = _lr_range(tuning, chance)
        out["lr_at_edge"] = bool(out["lr"] in (min(tuning["grid"]), max(tuning["grid"])))
    return out


def _equal_evaluations(runs: dict, reference: str) -> dict:
    """Test accuracies at the cheapest arm's gradient-evaluation budget, and their tests."""
    done = {arm: [r for r in finished(recs) if r["epochs"]["eval_accuracy"]]
            for arm, recs in runs.items()}
    done = {arm: recs for arm, recs in done.items() if recs}
    epochs = min(len(r["epochs"]["eval_accuracy"]) for recs in done.values() for r in recs)
    per_epoch = {arm: float(np.mean([gradient_evaluations_per_step(r) * _steps_per_epoch(r)
                                     for r in recs])) for arm, recs in done.items()}
    budget, read = metrics.budget_epochs(per_epoch, epochs)
    acc = {arm: [r["epochs"]["eval_accuracy"][read[arm] - 1] for r in recs] if read[arm] else []
           for arm, recs in done.items()}
    comparisons = [{"arm": a, "reference": reference, **_welch(acc[a], acc[reference])}
                   for a in done if a != reference and reference in done]
    _adjust(comparisons)
    return {"budget": budget, "epochs": read, "evals_per_epoch": per_epoch,
            "test_accuracy": acc, "comparisons": comparisons,
            "equivalence": [_tost(acc[c["arm"]], acc[reference], c["arm"], reference)
                            for c in comparisons]}


def _adjust(comparisons: list[dict]) -> None:
    """Add Holm-adjusted p-values and the conclusions in words, in place."""
    for comparison, p_holm in zip(comparisons, holm([c["p"] for c in comparisons])):
        comparison["p_holm"] = p_holm
        comparison["conclusion"] = conclusion(comparison)


def _tost(a: list[float], b: list[float], arm: str, reference: str) -> dict:
    """TOST of ``mean(a) - mean(b)`` within ±:data:`EQUIVALENCE_MARGIN`, and the power line."""
    out = {"arm": arm, "reference": reference, "margin": EQUIVALENCE_MARGIN}
    if len(a) < 2 or len(b) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return {**out, "untestable": "fewer than two finished seeds or no spread"}
    se = math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))
    return {**out, **tost_diff(a, b, EQUIVALENCE_MARGIN),
            "detectable": detectable_effect(se, power=POWER)}


def equivalence_conclusion(e: dict, reference: str | None = None) -> str:
    """A TOST record ``e`` (:func:`analyse`'s ``"equivalence"`` entries) in words.

    ``reference`` is the reference arm's display name (``e["reference"]`` when None).
    """
    name = e["reference"] if reference is None else reference
    if "untestable" in e:
        return f"not testable ({e['untestable']})"
    within = f"within ±{100 * e['margin']:g} {_points(100 * e['margin'])}"
    if e["equivalent"]:
        return f"equivalent to {name} {within}"
    return (f"not shown equivalent to {name} {within} (smallest difference detectable at "
            f"{100 * POWER:.0f} % power: {100 * e['detectable']:.1f} points)")


def _points(value: float) -> str:
    return "point" if value == 1 else "points"


def analyse(report: dict, *, reference: str | None = None,
            focus: Sequence[str] = ("rso",)) -> dict:
    """Per-arm statistics and the Welch comparisons of a preset's report.

    Parameters
    ----------
    report : dict
        From :func:`~rso_ref.compare.run_comparison` (``"tuning"`` is used if present).
    reference : str, optional
        Test every other arm against this one. ``None``: test each ``focus`` arm against
        *every* baseline (the arms outside ``focus`` with at least two finished seeds),
        Holm-adjusted together, so that no baseline is picked on the test accuracies
        being tested; ``"reference"`` in the result then names the best baseline (highest
        mean), for the tables.

    Returns
    -------
    dict
        ``{"target", "reference", "arms": {arm: {...}}, "comparisons": [...]}``; each
        comparison holds ``arm``, ``reference``, :func:`welch_diff`'s ``diff, lo, hi, t,
        p``, the Holm-adjusted ``p_holm`` and a ``conclusion`` in words. Diverged runs are
        left out of accuracies and curves and counted in ``"diverged"``. With a
        ``reference``, also ``"equivalence"`` (per variant, :func:`~rso_ref.stats.tost_diff`
        at :data:`EQUIVALENCE_MARGIN` with the detectable difference) and
        ``"equal_evaluations"`` (the same at the budget of :func:`rso_ref.metrics.budget_epochs`:
        ``budget``, ``epochs``, ``evals_per_epoch``, ``test_accuracy``, ``comparisons``,
        ``equivalence``).
    """
    runs, tuning = report["runs"], report.get("tuning") or {}
    finals = {arm: _final_accuracies(recs) for arm, recs in runs.items()}
    means = {arm: float(np.mean(a)) if a else math.nan for arm, a in finals.items()}
    if reference is None:
        baselines = [a for a in runs if a not in focus and len(finals[a]) > 1]
        if not baselines:
            raise ValueError("no baseline arm has two or more finished seeds to test against")
        best = max(baselines, key=lambda a: means[a])
        pairs = [(a, b) for a in focus if a in runs
                 for b in sorted(baselines, key=lambda b: -means[b])]
    else:
        if reference not in runs:
            raise ValueError(f"reference {reference!r} is not an arm of {list(runs)}")
        best = reference
        pairs = [(a, reference) for a in runs if a != reference]
    finite = [m for m in means.values() if math.isfinite(m)]
    if not finite:
        raise ValueError("every run diverged: nothing to analyse")
    target = TARGET_FRACTION * max(finite)
    chance = 1.0 / report["dataset"]["n_classes"] if "dataset" in report else 0.0
    arms = {arm: _arm_statistics(recs, target, tuning.get(arm), chance)
            for arm, recs in runs.items()}
    comparisons = [{"arm": a, "reference": b, **_welch(finals[a], finals[b])} for a, b in pairs]
    _adjust(comparisons)
    out = {"target": target, "reference": best, "arms": arms, "comparisons": comparisons}
    if reference is not None:
        out["equivalence"] = [_tost(finals[a], finals[b], a, b) for a, b in pairs]
        out["equal_evaluations"] = _equal_evaluations(runs, reference)
    return out


def _welch(a: list[float], b: list[float]) -> dict:
    nan = {"diff": math.nan, "lo": math.nan, "hi": math.nan, "t": math.nan, "p": math.nan}
    if len(a) < 2 or len(b) < 2:
        return {**nan, "untestable": "fewer than two finished seeds"}
    if np.ptp(a) == 0 and np.ptp(b) == 0:   # t is 0/0 or +-inf: no test
        return {**nan, "diff": float(np.mean(a) - np.mean(b)),
                "untestable": "no spread across seeds in either arm"}
    return welch_diff(a, b)


def conclusion(c: dict, reference: str | None = None) -> str:
    """A comparison ``c`` (``diff``, ``p_holm``, ``reference``) in words, at the 5 % level.

    ``reference`` is the name the reference arm is written under (pages show display
    names, :func:`rso_ref.presets.pages.arm_label`); ``c["reference"]`` when None.
    """
    name = c["reference"] if reference is None else reference
    if not math.isfinite(c["p_holm"]):
        return f"not testable ({c.get('untestable', 'no p-value')})"
    level = f"{100 * ALPHA:g} %"
    if c["p_holm"] >= ALPHA:
        return f"no significant difference from {name} at the {level} level"
    side = "higher" if c["diff"] > 0 else "lower"
    return f"{side} than {name} (significant at the {level} level)"
