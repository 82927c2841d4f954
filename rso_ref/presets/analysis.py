r"""The statistics of a preset's report (step 3 of the protocol in :mod:`rso_ref.presets`).

Per arm: test accuracy, epochs and gradient evaluations to target (a median that counts
the runs that never reach it), the Table 2 metrics of :mod:`rso_ref.metrics` and the LR
sensitivity range. Between arms: paired t-tests. Every arm of a preset runs with the same
seeds, and a seed fixes the initialisation (``model.init(seed)``) and the minibatch order
(``default_rng([seed, epoch])``, :mod:`rso_ref.train`) whatever the optimizer, so the
runs of one seed form a pair and the test is on the per-seed differences
(:func:`~rso_ref.stats.paired_diff`; runs are matched by their seed id, and arms that ran
different seeds are refused). Holm's adjustment runs over one *family* of tests, named
once (:func:`holm_family`) and printed on the pages from that definition. Ablation
presets (a ``reference`` arm) add, for every variant against the reference, an
equivalence test (paired TOST, margin :data:`EQUIVALENCE_MARGIN`) and the same tests at
equal gradient evaluations (:func:`rso_ref.metrics.budget_epochs`), since the variants'
steps differ in cost.

A stored (compact) report has no per-step records; :func:`analyse` then takes the
numbers that need them (gradient-norm CV, loss variance, gradient evaluations per step)
from the report's stored analysis, and the steps of an epoch from the data size and the
batch, so a committed report can be analysed again without training.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from .. import metrics
from ..compare import finished
from ..stats import (EQUIVALENCE_MARGIN, censored_median, detectable_effect, holm, mean_std,
                     paired_diff, tost_diff)

__all__ = ["analyse", "conclusion", "equivalence_conclusion", "holm_family", "family_line",
           "paired_values", "paired_test", "lr_range", "steps_per_epoch", "Value",
           "TARGET_FRACTION", "LR_TOLERANCE",
           "LOSS_WINDOW", "EQUIVALENCE_MARGIN", "ALPHA", "POWER", "STEP_STATISTICS"]

#: Target of the epochs-to-target measure, as a fraction of the best arm's final mean.
TARGET_FRACTION = 0.9
#: Validation-accuracy tolerance of the LR sensitivity range (1 point; about the
#: binomial standard error of one validation score here, so the range is coarse).
LR_TOLERANCE = 0.01
#: Window of the loss-variance metric (steps, centred moving average).
LOSS_WINDOW = 21
#: Level of the tests' conclusions (Holm-adjusted p below it: significant).
ALPHA = 0.05
#: Power at which a conclusion states the smallest detectable difference.
POWER = 0.8
#: Per-arm statistics that need the per-step records; a compact report keeps them in its
#: stored analysis.
STEP_STATISTICS = ("gradient_evaluations_per_step", "grad_norm_cv_mean_std",
                   "loss_variance_mean_std")


def _nan_mean_std(values: Sequence[float]) -> list[float]:
    """Mean and std of the finite values; the std is NaN for fewer than two."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return [math.nan, math.nan]
    mean, std = mean_std(finite)
    return [mean, std if len(finite) > 1 else math.nan]


def lr_range(grid: Sequence[float], scores: Sequence[float], chance: float) -> dict | None:
    """LR sensitivity range over the rates ``grid`` (``None`` where no rate beats chance).

    :func:`rso_ref.metrics.lr_sensitivity_range` at :data:`LR_TOLERANCE`; ``open`` marks
    a range that reaches the smallest or largest rate tried: the good rates may extend
    beyond it. NaN scores (diverged runs) never qualify.
    """
    rates = list(grid)
    values = np.asarray(scores, dtype=np.float64)
    if not np.any(values[np.isfinite(values)] > chance + LR_TOLERANCE):
        return None  # a flat grid of failures would otherwise read as "every rate is fine"
    lo, hi, decades = metrics.lr_sensitivity_range(rates, values, tolerance=LR_TOLERANCE)
    return {"lo": lo, "hi": hi, "decades": decades,
            "open": bool(lo == min(rates) or hi == max(rates))}


def steps_per_epoch(report: dict) -> int:
    """Training steps of a full epoch: ``ceil(n_train / batch_size)`` (the last batch is kept)."""
    return math.ceil(report["dataset"]["n_train"] / report["config"]["batch_size"])


def _run_steps(run: dict, report: dict) -> int:
    """Steps of a finished run: its per-step records, or full epochs of a compact record."""
    if "steps" in run:
        return len(run["steps"]["loss"])
    return len(run["epochs"]["epoch"]) * steps_per_epoch(report)


def _evals_per_epoch(run: dict, report: dict) -> float:
    r"""Gradient evaluations per epoch of a finished run: :math:`(T + \sum_t c_t) / E`."""
    return (_run_steps(run, report) + run["meta_nfev"]) / max(len(run["epochs"]["epoch"]), 1)


def _loss_variance(losses: Sequence[float]) -> float:
    tail = metrics.second_half(losses)
    return metrics.loss_variance(tail, LOSS_WINDOW) if tail.size >= LOSS_WINDOW else math.nan


def _step_statistics(records: list, stored: dict | None) -> dict:
    """:data:`STEP_STATISTICS` from the per-step records, else from ``stored``."""
    if all("steps" in r for r in records):
        done = finished(records)
        return {
            "gradient_evaluations_per_step": float(np.mean([
                1.0 + r["meta_nfev"] / max(len(r["steps"]["loss"]), 1) for r in records])),
            "grad_norm_cv_mean_std": _nan_mean_std([
                metrics.gradient_norm_cv(metrics.second_half(r["steps"]["grad_norm"]))
                if len(r["steps"]["grad_norm"]) > 3 else math.nan for r in done]),
            "loss_variance_mean_std": _nan_mean_std([_loss_variance(r["steps"]["loss"])
                                                     for r in done])}
    if stored is None:
        raise ValueError("report: runs without per-step records need the report's stored "
                         "analysis for " + ", ".join(STEP_STATISTICS))
    return {key: stored[key] for key in STEP_STATISTICS}


def _median_cell(values: list[float]) -> float | None:
    """:func:`~rso_ref.stats.censored_median`; None where it is censored (beyond the budget)."""
    median = censored_median(values)
    return median if math.isfinite(median) else None


def _arm_statistics(report: dict, arm: str, target: float, chance: float) -> dict:
    records = report["runs"][arm]
    done = finished(records)   # diverged runs count as failures, not as curves
    acc = [r["eval_accuracy"] for r in done]
    # None: the run never reached the target (a diverged run never does)
    epochs = [metrics.epochs_to_target(r["epochs"]["eval_accuracy"], target)
              if _final(r) is not None and r["epochs"]["eval_accuracy"] else None
              for r in records]
    evals = [None if e is None else e * _evals_per_epoch(r, report)
             for e, r in zip(epochs, records)]
    never = [math.inf if e is None else e for e in epochs]
    out = {
        "test_accuracy": acc,
        "test_accuracy_mean_std": _nan_mean_std(acc),
        "epochs_to_target": epochs,
        "epochs_to_target_median": _median_cell(never),
        "reached_target": sum(e is not None for e in epochs),
        "runs": len(records),
        "diverged": len(records) - len(done),
        "gradient_evaluations_to_target": evals,
        "gradient_evaluations_to_target_median": _median_cell(
            [math.inf if e is None else e for e in evals]),
        "wall_time_per_run_mean_std": _nan_mean_std([r["wall_time"] for r in records]),
        **_step_statistics(records, (report.get("analysis") or {}).get("arms", {}).get(arm)),
        "lr": records[0]["lr"],
    }
    tuning = (report.get("tuning") or {}).get(arm)
    if tuning is not None:
        out["lr_sensitivity_range"] = lr_range(tuning["grid"], tuning["val_accuracy"], chance)
        out["lr_at_edge"] = bool(out["lr"] in (min(tuning["grid"]), max(tuning["grid"])))
        seeds = (report.get("lr_seeds") or {}).get("val_accuracy", {}).get(arm)
        if seeds is not None:
            out["lr_sensitivity_range_seeds"] = {
                "seeds": len(seeds),
                "range": lr_range(tuning["grid"], np.mean(np.asarray(seeds, dtype=np.float64),
                                                          axis=0), chance)}
    return out


#: A run record's value (e.g. its final test accuracy), None where it has none.
Value = Callable[[dict], float | None]


def paired_values(a: list, b: list, value: Value, value_b: Value | None = None,
                  names: tuple[str, str] = ("a", "b")
                  ) -> tuple[list[int], list[float], list[float]]:
    """The seeds both run lists have a value for, and the values, paired by seed id.

    Parameters
    ----------
    a, b : list of dict
        Run records (each with ``"seed"``) of two arms that ran the same seeds.
    value, value_b : callable
        A record of ``a`` (of ``b``: ``value_b``, default ``value``) to its value (e.g.
        its final test accuracy), or None where it has none (a diverged run); a seed
        without a value in either list is left out of the pairs.
    names : (str, str)
        The arms' names, for the error.

    Returns
    -------
    (seeds, values of a, values of b)
        In ``a``'s seed order.

    Raises
    ------
    ValueError
        If the two lists ran different seeds, or one repeats a seed: their runs
        cannot be paired.
    """
    seeds_a, seeds_b = [r["seed"] for r in a], [r["seed"] for r in b]
    if sorted(seeds_a) != sorted(seeds_b) or len(set(seeds_a)) != len(seeds_a):
        raise ValueError(f"{names[0]!r} ran seeds {seeds_a} and {names[1]!r} seeds {seeds_b}: "
                         "a paired test needs the same seeds once each")
    va = {r["seed"]: value(r) for r in a}
    vb = {r["seed"]: (value_b or value)(r) for r in b}
    seeds = [s for s in seeds_a if va[s] is not None and vb[s] is not None]
    return seeds, [va[s] for s in seeds], [vb[s] for s in seeds]


def _final(run: dict) -> float | None:
    return run["eval_accuracy"] if run["status"] != "diverged" else None


def paired_test(a: list, b: list, value: Value = _final, value_b: Value | None = None,
                names: tuple[str, str] = ("a", "b")) -> dict:
    r"""Paired t-test of ``value`` between two arms' runs, matched by seed (:func:`paired_values`).

    :math:`d_s = v_a(s) - v_b(s)` over the seeds :math:`s` both finished;
    :func:`~rso_ref.stats.paired_diff`'s ``diff, lo, hi, t, p, se, df, test`` plus
    ``seeds`` (the pairs) and ``detectable`` (:func:`~rso_ref.stats.detectable_effect` at
    :data:`POWER`, t quantiles with :math:`n - 1` degrees of freedom). With fewer than two
    pairs, or differences without spread, ``untestable`` says why and ``p`` is NaN.
    """
    seeds, x, y = paired_values(a, b, value, value_b, names)
    nan = {"diff": math.nan, "lo": math.nan, "hi": math.nan, "t": math.nan, "p": math.nan,
           "test": "paired t", "seeds": seeds}
    if len(seeds) < 2:
        return {**nan, "untestable": "fewer than two seeds finished in both arms"}
    d = np.asarray(x) - np.asarray(y)
    if np.ptp(d) == 0:   # t is 0/0 or +-inf: no test
        return {**nan, "diff": float(d.mean()),
                "untestable": "no spread in the per-seed differences"}
    result = paired_diff(x, y)
    return {**result, "seeds": seeds,
            "detectable": detectable_effect(result["se"], df=result["df"], power=POWER)}


def holm_family(pairs: Sequence[tuple[str, str]], name: str) -> dict:
    """A Holm family: the tests adjusted together, named once and printed from here.

    Returns
    -------
    dict
        ``{"name": name, "members": [[arm, reference], ...], "size": len(pairs)}``.
    """
    return {"name": name, "members": [[a, b] for a, b in pairs], "size": len(pairs)}


def family_line(family: dict, label: Callable[[str], str] = str,
                reference_label: Callable[[str], str] | None = None) -> str:
    """The family in words for a page: its name, size and members.

    ``label`` gives an arm's display name, ``reference_label`` (default ``label``) that
    of the member's second arm.
    """
    second = reference_label or label
    members = ", ".join(f"{label(a)} − {second(b)}" for a, b in family["members"])
    return (f"Holm family ({family['name']}): {family['size']} "
            f"test{'s' if family['size'] != 1 else ''}, {members}.")


def _tests(runs: dict, family: dict, value: Callable[[str], Value] = lambda arm: _final
           ) -> list[dict]:
    """The paired test of every member of ``family``, Holm-adjusted over exactly it.

    ``value(arm)`` reads a run of ``arm`` (default: its final test accuracy).
    """
    comparisons = [{"arm": a, "reference": b,
                    **paired_test(runs[a], runs[b], value(a), value(b), (a, b))}
                   for a, b in family["members"]]
    for comparison, p_holm in zip(comparisons, holm([c["p"] for c in comparisons])):
        comparison["p_holm"] = p_holm
        comparison["conclusion"] = conclusion(comparison)
    return comparisons


def _tost(runs: dict, arm: str, reference: str,
          value: Callable[[str], Value] = lambda arm: _final) -> dict:
    """Paired TOST of ``arm - reference`` within ±:data:`EQUIVALENCE_MARGIN`, and the power line."""
    out = {"arm": arm, "reference": reference, "margin": EQUIVALENCE_MARGIN}
    seeds, x, y = paired_values(runs[arm], runs[reference], value(arm), value(reference),
                                (arm, reference))
    if len(seeds) < 2 or np.ptp(np.asarray(x) - np.asarray(y)) == 0:
        return {**out, "seeds": seeds,
                "untestable": "fewer than two paired seeds or no spread in their differences"}
    result = tost_diff(x, y, EQUIVALENCE_MARGIN, alpha=ALPHA, paired=True)
    return {**out, **result, "seeds": seeds,
            "detectable": detectable_effect(result["se"], df=result["df"], power=POWER)}


def _equal_evaluations(report: dict, reference: str, family: dict) -> dict:
    """Test accuracies at the cheapest arm's gradient-evaluation budget, and their tests."""
    runs = report["runs"]
    done = {arm: [r for r in finished(recs) if r["epochs"]["eval_accuracy"]]
            for arm, recs in runs.items()}
    done = {arm: recs for arm, recs in done.items() if recs}
    epochs = min(len(r["epochs"]["eval_accuracy"]) for recs in done.values() for r in recs)
    per_epoch = {arm: float(np.mean([_evals_per_epoch(r, report) for r in recs]))
                 for arm, recs in done.items()}
    budget, read = metrics.budget_epochs(per_epoch, epochs)

    def at_budget(arm: str) -> Value:
        def value(run: dict) -> float | None:
            curve = run["epochs"]["eval_accuracy"]
            if run["status"] == "diverged" or not read.get(arm) or len(curve) < read[arm]:
                return None
            return curve[read[arm] - 1]
        return value

    acc = {arm: [v for v in map(at_budget(arm), done[arm]) if v is not None]
           for arm in done}
    members = [(a, b) for a, b in family["members"] if a in done and b in done]
    budget_family = holm_family(members, family["name"] + ", at equal gradient evaluations")
    return {"budget": budget, "epochs": read, "evals_per_epoch": per_epoch,
            "test_accuracy": acc, "family": budget_family,
            "comparisons": _tests(runs, budget_family, at_budget),
            "equivalence": [_tost(runs, a, b, at_budget) for a, b in members]}


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
    """Per-arm statistics and the paired comparisons of a preset's report.

    Parameters
    ----------
    report : dict
        From :func:`~rso_ref.compare.run_comparison` (``"tuning"`` and ``"lr_seeds"``,
        :func:`rso_ref.presets.lr_seeds.score_grid_seeds`, are used if present), or a
        stored compact report (its ``"analysis"`` supplies :data:`STEP_STATISTICS`).
    reference : str, optional
        Test every other arm against this one. ``None``: test each ``focus`` arm against
        *every* baseline (the arms outside ``focus`` with at least two finished seeds),
        Holm-adjusted together, so that no baseline is picked on the test accuracies
        being tested; ``"reference"`` in the result then names the best baseline (highest
        mean), for the tables. With no ``focus`` arm (a control preset), no test.

    Returns
    -------
    dict
        ``{"target", "reference", "arms": {arm: {...}}, "family", "comparisons": [...]}``;
        ``family`` is the Holm family (:func:`holm_family`), and each comparison (one per
        member) holds ``arm``, ``reference``, :func:`paired_test`'s ``diff, lo, hi, t, p,
        se, df, test, seeds, detectable``, the Holm-adjusted ``p_holm`` and a
        ``conclusion`` in words. Diverged runs are left out of accuracies and curves,
        counted in ``"diverged"`` and as never reaching the target. With a
        ``reference``, also ``"equivalence"`` (per variant, the paired
        :func:`~rso_ref.stats.tost_diff` at :data:`EQUIVALENCE_MARGIN` with the detectable
        difference) and ``"equal_evaluations"`` (the same at the budget of
        :func:`rso_ref.metrics.budget_epochs`: ``budget``, ``epochs``,
        ``evals_per_epoch``, ``test_accuracy``, ``family``, ``comparisons``,
        ``equivalence``).

    Raises
    ------
    ValueError
        If ``reference`` is not an arm, no baseline has two finished seeds, every run
        diverged, or two arms to be compared ran different seeds.
    """
    runs = report["runs"]
    finals = {arm: [r["eval_accuracy"] for r in finished(recs)] for arm, recs in runs.items()}
    means = {arm: float(np.mean(a)) if a else math.nan for arm, a in finals.items()}
    if reference is None:
        baselines = [a for a in runs if a not in focus and len(finals[a]) > 1]
        if not baselines:
            raise ValueError("no baseline arm has two or more finished seeds to test against")
        best = max(baselines, key=lambda a: means[a])
        pairs = [(a, b) for a in focus if a in runs
                 for b in sorted(baselines, key=lambda b: -means[b])]
        name = "the arm under test against every baseline"
    else:
        if reference not in runs:
            raise ValueError(f"reference {reference!r} is not an arm of {list(runs)}")
        best = reference
        pairs = [(a, reference) for a in runs if a != reference]
        name = "every variant against the reference"
    finite = [m for m in means.values() if math.isfinite(m)]
    if not finite:
        raise ValueError("every run diverged: nothing to analyse")
    target = TARGET_FRACTION * max(finite)
    chance = 1.0 / report["dataset"]["n_classes"] if "dataset" in report else 0.0
    arms = {arm: _arm_statistics(report, arm, target, chance) for arm in runs}
    family = holm_family(pairs, name)
    out = {"target": target, "reference": best, "arms": arms, "family": family,
           "comparisons": _tests(runs, family)}
    if reference is not None:
        out["equivalence"] = [_tost(runs, a, b) for a, b in pairs]
        out["equal_evaluations"] = _equal_evaluations(report, reference, family)
    return out


def conclusion(c: dict, reference: str | None = None) -> str:
    """A comparison ``c`` (``diff``, ``p_holm``, ``reference``) in words, at the 5 % level.

    ``reference`` is the name the reference arm is written under (pages show display
    names, :func:`rso_ref.presets.pages.arm_label`); ``c["reference"]`` when None. A
    difference that is not significant comes with the smallest one the test detects at
    :data:`POWER` (``c["detectable"]``, at the unadjusted level), where ``c`` has it.
    """
    name = c["reference"] if reference is None else reference
    if not math.isfinite(c["p_holm"]):
        return f"not testable ({c.get('untestable', 'no p-value')})"
    level = f"{100 * ALPHA:g} %"
    if c["p_holm"] >= ALPHA:
        power = (f" (detectable at {100 * POWER:.0f} % power: {100 * c['detectable']:.1f} "
                 "points)" if "detectable" in c else "")
        return f"no significant difference from {name} at the {level} level{power}"
    side = "higher" if c["diff"] > 0 else "lower"
    return f"{side} than {name} (significant at the {level} level)"
