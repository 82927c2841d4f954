r"""The RSO paper's Tables 1-2 and §4.5 ablations at a scale a CPU can run, as compare presets.

The paper's experiments (CIFAR-100 / ImageNet ResNets and ViT, §4.2-4.5 of
``shared/papers/rso-paper.txt``) need GPU-weeks. Each :class:`Preset` here is a small,
fully specified analogue that ``rso-ref compare --preset NAME`` runs end to end:

1. **Learning rates** are chosen on a validation split carved from the training data
   (:func:`rso_ref.compare.tune_learning_rates`): every arm gets the same five-point
   log grid around its optimizer's default, one seed, extended by up to two rates
   half a decade apart while the best rate sits at an edge. Ablation presets tune only
   the reference arm and give its rate to every variant, so that a variant differs from
   the reference in the ablated setting alone.
2. **Test runs**: every arm with every seed (five by default) at the chosen rate; the
   data split is fixed, seeds vary the initialisation and the minibatch order.
3. **Analysis** (:func:`analyse`):

   * Table 1 analogue: test accuracy mean ± std (``ddof=1``) per arm, and Welch's
     t-test (:func:`~rso_ref.stats.welch_diff`) of the arm under test (RSO)
     against every baseline, Holm-adjusted together (the tables single out the *best
     baseline*, the one with the highest mean, but no test depends on that choice);
   * ablations: every variant against the paper's preferred setting (K = 6; blocks),
     with Holm's adjustment over the variants of the preset;
   * Table 2 analogue (:mod:`rso_ref.metrics`): coefficient of variation of the
     gradient norm and the detrended loss variance over the second half of training,
     and the LR sensitivity range (the rates tried within 1 point of validation
     accuracy of the best, in decades; open where it reaches the last rate tried);
   * §4.3 analogue: epochs to reach 90 % of the best arm's final mean accuracy, and the
     gradient evaluations that costs (RSO's meta-solve included).

Where a test is not significant the page says so: with five seeds per arm, a
two-sided test at the 5 % level detects (80 % power) differences of about two
standard deviations, no less.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import metrics
from .checkpoint import write_json_atomic, write_text_atomic
from .stats import holm, mean_std, welch_diff
from .compare import (LR_GRID_FACTORS, CompareConfig, curve_data, finished, run_comparison,
                      tune_learning_rates)

__all__ = ["Preset", "PRESETS", "get_preset", "run_preset", "analyse", "write_preset",
           "write_index", "index_rows", "arm_grid", "compact", "render_page", "plot_preset",
           "TARGET_FRACTION", "LR_TOLERANCE", "LR_EDGE_EXTENSIONS", "LOSS_WINDOW"]

#: Target of the epochs-to-target measure, as a fraction of the best arm's final mean.
TARGET_FRACTION = 0.9
#: Validation-accuracy tolerance of the LR sensitivity range (1 point; about the
#: binomial standard error of one validation score here, so the range is coarse).
LR_TOLERANCE = 0.01
#: Window of the loss-variance metric (steps, centred moving average).
LOSS_WINDOW = 21
#: Most rates tried beyond the grid's edge while the best rate sits there.
LR_EDGE_EXTENSIONS = 2
#: Default seeds of every preset (the issue asks for at least five).
SEEDS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class Preset:
    """A named, fully specified small-scale experiment.

    Attributes
    ----------
    name, title : str
    paper : str
        The paper's experiment this is the analogue of.
    config : CompareConfig
        Model, data, arms, epochs, seeds, batch size.
    reference : str, optional
        Arm every other arm is tested against (ablations). ``None``: the *best
        baseline*, the arm outside ``focus`` with the highest mean test accuracy.
    focus : tuple of str
        Arms under test when ``reference`` is None.
    shared_lr : str, optional
        Tune only this arm and use its rate for every arm.
    """

    name: str
    title: str
    paper: str
    config: CompareConfig
    reference: str | None = None
    focus: tuple[str, ...] = ("rso",)
    shared_lr: str | None = None

    def __post_init__(self):
        arms = self.config.optimizers
        for label in ((self.reference,) if self.reference else ()) + self.focus + (
                (self.shared_lr,) if self.shared_lr else ()):
            if label not in arms:
                raise ValueError(f"preset {self.name!r}: {label!r} is not an arm of {arms}")
        if self.reference is None and not set(arms) - set(self.focus):
            raise ValueError(f"preset {self.name!r} has no baseline arm outside {self.focus}")


_TABLE1_ARMS = ("sgd", "adam", "adamw", "rso")
_TABLE1_PAPER = ("Table 1 (test accuracy, SGD+momentum / Adam / AdamW / RSO) and Table 2 "
                 "(stability metrics)")


def _ablation_model() -> dict:
    """The ResNet of the ablations: digits as 1x8x8 images, stem + 2 residual blocks + head."""
    return {"model": "resnet", "data": "digits", "epochs": 10,
            "model_options": {"widths": [8, 16]}}


def _table1(name: str, title: str, **config: Any) -> Preset:
    return Preset(name, title, _TABLE1_PAPER,
                  CompareConfig(optimizers=_TABLE1_ARMS, seeds=SEEDS, **config))


def _rso_variant(**options: Any) -> dict:
    return {"optimizer": "rso", "options": options}


PRESETS: dict[str, Preset] = {p.name: p for p in (
    _table1("table1-digits-mlp", "MLP 64-128-128-10 on the digits",
            model="mlp", data="digits", epochs=15),
    _table1("table1-mnist1d-mlp", "MLP 40-128-128-10 on MNIST-1D",
            model="mlp", data="mnist1d", epochs=20),
    _table1("table1-digits-convnet2d", "ConvNet2D conv16-pool-conv32-pool-fc on the digits",
            model="convnet2d", data="digits", epochs=15,
            model_options={"channels": [16, 32]}),
    _table1("table1-mnist1d-convnet1d", "ConvNet1D conv16-pool-conv32-pool-fc on MNIST-1D",
            model="convnet1d", data="mnist1d", epochs=10,
            model_options={"channels": [16, 32]}),
    _table1("table1-cifar-resnet", "ResNet (8, 16) on CIFAR-shaped synthetic 3x16x16 shapes",
            model="resnet", data="cifar_like", epochs=12,
            model_options={"widths": [8, 16]},
            data_options={"n_train": 2000, "n_test": 1000, "image_size": 16}),
    Preset("ablation-k", "RSO meta-iterations K = 2, 4, 6, 16 (blocks), ResNet on the digits",
           "§4.5 ablation of K (77.2 / 78.8 / 79.3 / 79.3 % for K = 2 / 4 / 6 / 16)",
           CompareConfig(optimizers=("K=2", "K=4", "K=6", "K=16"), seeds=SEEDS,
                         variants={f"K={k}": _rso_variant(meta_iters=k, groups="block")
                                   for k in (2, 4, 6, 16)}, **_ablation_model()),
           reference="K=6", focus=(), shared_lr="K=6"),
    Preset("ablation-groups", "RSO grouping: layers, blocks, uniform:2, uniform:5 (K = 6), "
           "ResNet on the digits",
           "§4.5 ablation of the grouping (layers 77.8, blocks 79.3, uniform groups of 5 "
           "78.5 %)",
           CompareConfig(optimizers=("block", "layer", "uniform:2", "uniform:5"), seeds=SEEDS,
                         variants={g: _rso_variant(meta_iters=6, groups=g)
                                   for g in ("block", "layer", "uniform:2", "uniform:5")},
                         **_ablation_model()),
           reference="block", focus=(), shared_lr="block"),
)}


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (``ValueError`` listing the names if unknown)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]


def run_preset(preset: Preset | str, *, seeds: Sequence[int] | None = None,
               epochs: int | None = None, tune: bool = True, overrides: dict | None = None,
               progress: bool = True, log: Callable[[str], Any] | None = None) -> dict:
    """Tune, train every arm with every seed, and analyse (module docstring, steps 1-3).

    Parameters
    ----------
    preset : Preset or str
    seeds, epochs : optional
        Replace the preset's (a quick look: fewer seeds and epochs; the report records
        what ran).
    tune : bool, default True
        Choose learning rates on the validation split; ``False`` uses the defaults.
    overrides : dict, optional
        Other :class:`~rso_ref.compare.CompareConfig` fields to replace (e.g.
        ``{"data_options": {"n_train": 200}}``, ``{"data": "cifar10", "data_options":
        {"path": "~/cifar-10-batches-bin"}}``).

    Returns
    -------
    dict
        :func:`~rso_ref.compare.run_comparison`'s report plus ``"preset"``,
        ``"tuning"`` (or None), ``"analysis"`` (:func:`analyse`) and ``"machine"``.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    changes = dict(overrides or {})
    if seeds is not None:
        changes["seeds"] = tuple(seeds)
    if epochs is not None:
        changes["epochs"] = epochs
    config = replace(preset.config, **changes)
    preset = replace(preset, config=config)   # re-checks reference / focus against the arms
    started = time.perf_counter()
    tuning = None
    if tune:
        arms = [preset.shared_lr] if preset.shared_lr else None
        tuning = tune_learning_rates(config, arms=arms, extend_edges=LR_EDGE_EXTENSIONS,
                                     progress=progress, log=log)
        lrs = ({a: tuning[preset.shared_lr]["best"] for a in config.optimizers}
               if preset.shared_lr else {a: t["best"] for a, t in tuning.items()})
        config = replace(config, lrs=lrs)
    report = run_comparison(config, progress=progress, log=log)
    report["preset"] = {"name": preset.name, "title": preset.title, "paper": preset.paper,
                        "reference": preset.reference, "focus": list(preset.focus),
                        "shared_lr": preset.shared_lr, "tuned": tune,
                        "lr_grid_factors": list(LR_GRID_FACTORS),
                        "lr_edge_extensions": LR_EDGE_EXTENSIONS,
                        "changed_from_preset": sorted(changes)}
    report["tuning"] = tuning
    report["analysis"] = analyse(report, reference=preset.reference, focus=preset.focus)
    report["machine"] = {"wall_time_s": time.perf_counter() - started,
                         "load_average": list(os.getloadavg()), "cpu_count": os.cpu_count()}
    return report


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


def _calls_per_step(run: dict) -> float:
    """Gradient evaluations per training step: the step's gradient plus the meta-solve's."""
    return 1.0 + run["meta_nfev"] / max(len(run["steps"]["loss"]), 1)


def _steps_per_epoch(run: dict) -> float:
    return len(run["steps"]["loss"]) / max(len(run["epochs"]["epoch"]), 1)


def _arm_statistics(records: list, target: float, tuning: dict | None, chance: float) -> dict:
    done = finished(records)   # diverged runs count as failures, not as curves
    acc = _final_accuracies(records)
    to_target = [metrics.epochs_to_target(r["epochs"]["eval_accuracy"], target)
                 if r["epochs"]["eval_accuracy"] else None for r in done]
    grads_to_target = [None if e is None else e * _steps_per_epoch(r) * _calls_per_step(r)
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
        "gradient_evaluations_per_step": float(np.mean([_calls_per_step(r) for r in records])),
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
        left out of accuracies and curves and counted in ``"diverged"``.
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
    for comparison, p_holm in zip(comparisons, holm([c["p"] for c in comparisons])):
        comparison["p_holm"] = p_holm
        comparison["conclusion"] = _conclusion(comparison)
    return {"target": target, "reference": best, "arms": arms, "comparisons": comparisons}


def _welch(a: list[float], b: list[float]) -> dict:
    nan = {"diff": math.nan, "lo": math.nan, "hi": math.nan, "t": math.nan, "p": math.nan}
    if len(a) < 2 or len(b) < 2:
        return {**nan, "untestable": "fewer than two finished seeds"}
    if np.ptp(a) == 0 and np.ptp(b) == 0:   # t is 0/0 or +-inf: no test
        return {**nan, "diff": float(np.mean(a) - np.mean(b)),
                "untestable": "no spread across seeds in either arm"}
    return welch_diff(a, b)


def _conclusion(c: dict) -> str:
    if not math.isfinite(c["p_holm"]):
        return f"not testable ({c.get('untestable', 'no p-value')})"
    if c["p_holm"] >= 0.05:
        return f"no significant difference from {c['reference']} at the 5 % level"
    side = "higher" if c["diff"] > 0 else "lower"
    return f"{side} than {c['reference']} (significant at the 5 % level)"


# ----------------------------------------------------------------------------- pages

def _pct(pair: Sequence[float]) -> str:
    if not math.isfinite(pair[0]):
        return "–"
    return f"{100 * pair[0]:.2f}" + (f" ± {100 * pair[1]:.2f}" if math.isfinite(pair[1]) else "")


def _num(pair: Sequence[float], fmt: str = ".3g") -> str:
    if not math.isfinite(pair[0]):
        return "–"
    return f"{pair[0]:{fmt}}" + (f" ± {pair[1]:.2g}" if math.isfinite(pair[1]) else "")


def _reached(a: dict) -> str:
    return f"{a['reached_target']}/{a['runs']} reached"


def _lr_range_cell(arm: dict) -> str:
    if "lr_sensitivity_range" not in arm:
        return "–"
    rng = arm["lr_sensitivity_range"]
    if rng is None:
        return "none above chance"
    return ("≥ " if rng["open"] else "") + f"{rng['decades']:.2f}"


def _arm_table(report: dict) -> list[str]:
    analysis = report["analysis"]
    lines = ["| arm | lr | test accuracy (%) | epochs to target | grad. evals / step | "
             "grad. evals to target | time / run (s) | grad-norm CV | loss variance | "
             "LR range (decades) |", "|" + " --- |" * 10]
    for arm, a in analysis["arms"].items():
        epochs = _num(a["epochs_to_target_mean_std"], ".1f") + (
            f" ({_reached(a)})" if a["reached_target"] < a["runs"] else "")
        lr_range = _lr_range_cell(a)
        evals = a["gradient_evaluations_to_target_mean"]
        accuracy = _pct(a["test_accuracy_mean_std"]) + (
            f" ({a['diverged']} diverged)" if a["diverged"] else "")
        lr = f"{a['lr']:.3g}" + (" (edge)" if a.get("lr_at_edge") else "")
        lines.append(
            f"| {arm} | {lr} | {accuracy} | {epochs} | "
            f"{a['gradient_evaluations_per_step']:.2f} | "
            f"{'–' if not math.isfinite(evals) else f'{evals:.0f}'} | "
            f"{_num(a['wall_time_per_run_mean_std'], '.1f')} | "
            f"{_num(a['grad_norm_cv_mean_std'])} | {_num(a['loss_variance_mean_std'])} | "
            f"{lr_range} |")
    return lines


def _comparison_table(report: dict) -> list[str]:
    lines = ["| arm | vs | difference (points) [95 % CI] | Welch t | p | p (Holm) | "
             "conclusion |", "|" + " --- |" * 7]
    for c in report["analysis"]["comparisons"]:
        lines.append(f"| {c['arm']} | {c['reference']} | {100 * c['diff']:+.2f} "
                     f"[{100 * c['lo']:+.2f}, {100 * c['hi']:+.2f}] | {c['t']:+.2f} | "
                     f"{c['p']:.3g} | {c['p_holm']:.3g} | {c['conclusion']} |")
    return lines


def _tuning_table(report: dict) -> list[str]:
    tuning = report.get("tuning")
    if not tuning:
        return ["Learning rates were not tuned (the optimizers' defaults were used)."]
    lines = ["| arm | rate: validation accuracy (%), in increasing rate | chosen |",
             "| --- | --- | --- |"]
    for arm, t in tuning.items():
        cells = [f"{lr:.3g}: {100 * s:.1f}" if s == s else f"{lr:.3g}: diverged"
                 for lr, s in zip(t["grid"], t["val_accuracy"])]
        lines.append(f"| {arm} | " + ", ".join(cells) + f" | {t['best']:.3g} |")
    return lines


#: CompareConfig fields that ``rso-ref compare --preset`` can change, and their options.
_CLI_FLAGS = {"seeds": "--seeds", "epochs": "--epochs", "batch_size": "--batch-size",
              "backend": "--backend", "dtype": "--dtype", "data": "--data"}


def _command(report: dict) -> str:
    cfg, preset = report["config"], report["preset"]
    parts = [f"rso-ref compare --preset {preset['name']}"]
    for key in preset["changed_from_preset"]:
        if key in _CLI_FLAGS:
            value = cfg[key]
            if key == "seeds":  # a trailing comma keeps one seed a list ("3" means 0, 1, 2)
                value = ",".join(map(str, value)) + ("," if len(value) == 1 else "")
            parts.append(f"{_CLI_FLAGS[key]} {value}")
    if cfg["data_options"].get("path") and "data_options" in preset["changed_from_preset"]:
        parts.append(f"--data-path {cfg['data_options']['path']}")
    if not preset["tuned"]:
        parts.append("--no-tune")
    other = [k for k in preset["changed_from_preset"] if k not in _CLI_FLAGS
             and not (k == "data_options" and "data" in preset["changed_from_preset"])]
    if other:
        parts.append(f"(and, from Python, overrides of {', '.join(other)})")
    return " ".join(parts)


def render_page(report: dict, figures: dict[str, Path]) -> str:
    """The markdown page of one preset's report (tables, figures, protocol)."""
    cfg, preset, ds = report["config"], report["preset"], report["dataset"]
    machine = report["machine"]
    n = len(cfg["seeds"])
    lines = [f"# {preset['name']}: {preset['title']}", "",
             f"**Paper counterpart.** {preset['paper']}.", "",
             "**Protocol.** "
             f"{report['model']} on {ds['name']} ({ds['n_train']} training / {ds['n_test']} "
             f"test examples, input {tuple(ds['input_shape'])}), {cfg['epochs']} epochs, batch "
             f"{cfg['batch_size']}, {cfg['backend']}/{cfg['dtype']}, seeds "
             f"{', '.join(map(str, cfg['seeds']))} (initialisation and minibatch order; the "
             "split is fixed). "
             + ("Learning rates from the validation grid below (20 % of the training "
                "split, one seed, same epochs; the grid's five rates are the optimizer's "
                "default times " + ", ".join(f"{f:g}" for f in LR_GRID_FACTORS)
                + f", plus up to {report['preset'].get('lr_edge_extensions', 0)} rates "
                "half a decade beyond an edge winner)"
                + (f"; every arm uses the rate tuned for {preset['shared_lr']}"
                   if preset["shared_lr"] else "") + ". "
                if preset["tuned"] else "Default learning rates. ")
             + f"Test accuracy after the last epoch; target for *epochs to target*: "
             f"{100 * report['analysis']['target']:.2f} % ({100 * TARGET_FRACTION:.0f} % of "
             "the best arm's final mean). Gradient evaluations count the step's gradient plus "
             "RSO's meta-solve calls.", "",
             f"Command: `{_command(report)}`. Ran in {machine['wall_time_s'] / 60:.1f} min "
             f"(load average {machine['load_average'][0]:.1f} on {machine['cpu_count']} "
             "CPUs).", ""]
    changed = preset["changed_from_preset"] + ([] if preset["tuned"] else ["no tuning"])
    if n < 5 or {"seeds", "epochs", "no tuning"} & set(changed):
        lines += [f"> **Not the preset's protocol** (changed: {', '.join(changed) or 'none'}; "
                  f"{n} seeds): a quick look, not evidence.", ""]
    elif changed:
        lines += [f"> Changed from the preset: {', '.join(changed)}.", ""]
    lines += ["## Results (mean ± std over seeds)", ""] + _arm_table(report) + [
        "", "*Columns.* lr: the rate used, \"(edge)\" if it is still the smallest or largest "
        "rate tried. Epochs to target: over the seeds that reached it (diverged runs count "
        "as not reaching it). Grad. evals / step: gradient evaluations per training step "
        "(1 + the meta-solve's oracle calls for RSO). Grad-norm CV "
        "(`rso_ref.metrics.gradient_norm_cv`): std / mean of the minibatch gradient norm "
        "over the second half of training; it grows as the mean norm shrinks, so an arm "
        "that converges further reads as more variable. Loss variance "
        f"(`rso_ref.metrics.loss_variance`): variance of the minibatch loss about its "
        f"{LOSS_WINDOW}-step centred moving average over the same steps; absolute, so it "
        "favours arms at a lower loss. These two are the Table 2 analogues. LR range: the "
        "rates tried whose validation accuracy is within "
        f"{100 * LR_TOLERANCE:.0f} point of the best, in decades (0 = one rate; \"≥\" where "
        "an end of the rates tried qualifies; one seed, so differences below about one point "
        "are noise).", ""]
    lines += ["## Welch t-tests", ""] + _comparison_table(report) + [""]
    lines += ["## Learning-rate grid (validation accuracy, %)", ""] + _tuning_table(report)
    lines += [""] + [f"![{key}]({path.name})" for key, path in figures.items()] + [""]
    return "\n".join(lines)


def plot_preset(report: dict, out_dir: Path) -> dict[str, Path]:
    """``accuracy.png`` (per seed), ``curves.png``, ``cost.png`` and, if tuned, ``lr.png``."""
    from matplotlib.ticker import NullFormatter

    from .plots import plot_loss_curves, pyplot, save_figure

    plt = pyplot()
    analysis, name = report["analysis"], report["preset"]["name"]
    arms = list(analysis["arms"])
    fig, ax = plt.subplots(figsize=(1.4 * len(arms) + 2.5, 3.6))
    for i, arm in enumerate(arms):
        acc = 100 * np.asarray(analysis["arms"][arm]["test_accuracy"], dtype=np.float64)
        jitter = np.linspace(-0.12, 0.12, acc.size) if acc.size > 1 else np.zeros(acc.size)
        ax.plot(i + jitter, acc, "o", alpha=0.6, color=f"C{i}")
        if acc.size:
            sd = acc.std(ddof=1) if acc.size > 1 else 0.0
            ax.errorbar(i + 0.3, acc.mean(), yerr=sd, fmt="s", color="k", capsize=4)
    ticks = {arm: arm for arm in arms}
    for c in analysis["comparisons"]:   # under the arm's name: its first (strongest) test
        if ticks[c["arm"]] == c["arm"]:
            ticks[c["arm"]] = (f"{c['arm']}\n{100 * c['diff']:+.1f} vs {c['reference']}\n"
                               f"p={c['p_holm']:.2g}")
    ax.set_xticks(range(len(arms)), [ticks[arm] for arm in arms], fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{name}: seeds (dots), mean ± std (squares); p: Welch, Holm-adjusted",
                 fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    figures = {"accuracy": save_figure(fig, out_dir / "accuracy.png")}
    curves = curve_data(report)
    if curves is not None:
        figures["curves"] = plot_loss_curves(curves, out_dir / "curves.png",
                                             title=report["preset"]["title"])
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, arm in enumerate(arms):
        a = analysis["arms"][arm]
        curves_acc = [r["epochs"]["eval_accuracy"] for r in report["runs"][arm]]
        if len({len(c) for c in curves_acc}) != 1 or not curves_acc[0]:
            continue
        mean = 100 * np.mean(np.asarray(curves_acc, dtype=np.float64), axis=0)
        steps = np.mean([len(r["steps"]["loss"]) for r in report["runs"][arm]])
        evals = (np.arange(1, mean.size + 1) * steps / mean.size
                 * a["gradient_evaluations_per_step"])
        ax.semilogx(evals, mean, marker="o", ms=3, ls=("-", "--", "-.", ":")[i % 4],
                    color=f"C{i}", label=arm)  # dashes keep coinciding arms visible
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axhline(100 * analysis["target"], color="k", ls="--", lw=0.8, label="target")
    _label(ax, "gradient evaluations (meta-solve included)",
           "test accuracy (%), mean over seeds", f"{name}: accuracy per unit of compute")
    figures["cost"] = save_figure(fig, out_dir / "cost.png")
    if report.get("tuning"):
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        for i, (arm, t) in enumerate(report["tuning"].items()):
            ax.semilogx(t["grid"], 100 * np.asarray(t["val_accuracy"], dtype=np.float64),
                        "o-", color=f"C{arms.index(arm) if arm in arms else i}", label=arm)
        _label(ax, "learning rate", "validation accuracy (%)", f"{name}: learning-rate grid")
        figures["lr"] = save_figure(fig, out_dir / "lr.png")
    return figures


def _label(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def compact(report: dict) -> dict:
    """``report`` without per-step records (kept: per-epoch curves, summaries, analysis)."""
    out = dict(report)
    out["runs"] = {arm: [{k: v for k, v in r.items() if k != "steps"} for r in recs]
                   for arm, recs in report["runs"].items()}
    return out


def write_preset(report: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json`` (compact), the figures and ``README.md`` for one preset."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = plot_preset(report, out)
    paths = {"report": write_json_atomic(out / "report.json", compact(report)), **figures}
    paths["page"] = write_text_atomic(out / "README.md", render_page(report, figures))
    return paths


def index_rows(reports: Sequence[dict]) -> list[str]:
    """One markdown row per comparison across presets (the index page's table)."""
    lines = ["| preset | arm | test accuracy (%) | vs | its accuracy (%) | difference "
             "[95 % CI] | p (Holm) | grad. evals / step (arm / vs) |", "|" + " --- |" * 8]
    for report in reports:
        analysis, name = report["analysis"], report["preset"]["name"]
        for c in analysis["comparisons"]:
            a, r = analysis["arms"][c["arm"]], analysis["arms"][c["reference"]]
            lines.append(
                f"| [{name}]({name}/README.md) | {c['arm']} | "
                f"{_pct(a['test_accuracy_mean_std'])} | {c['reference']} | "
                f"{_pct(r['test_accuracy_mean_std'])} | {100 * c['diff']:+.2f} "
                f"[{100 * c['lo']:+.2f}, {100 * c['hi']:+.2f}] | {c['p_holm']:.3g} | "
                f"{a['gradient_evaluations_per_step']:.1f} / "
                f"{r['gradient_evaluations_per_step']:.1f} |")
    return lines


def arm_grid(reports: Sequence[dict], title: str,
             cell: Callable[[dict], str]) -> list[str]:
    """A markdown table, one row per report and one column per arm, of ``cell(arm stats)``.

    Reports must share their arms (e.g. the Table 1 presets: SGD, Adam, AdamW, RSO).
    """
    arms = list(reports[0]["analysis"]["arms"])
    lines = [f"| {title} | " + " | ".join(arms) + " |", "|" + " --- |" * (len(arms) + 1)]
    for report in reports:
        name, stats = report["preset"]["name"], report["analysis"]["arms"]
        lines.append(f"| [{name}]({name}/README.md) | "
                     + " | ".join(cell(stats[arm]) for arm in arms) + " |")
    return lines


def write_index(reports: Sequence[dict], out_dir: str | Path) -> Path:
    """``README.md`` of a set of presets: Table 1 / Table 2 analogues and every comparison.

    Presets tested against their best baseline (``reference`` None) with the same arms
    form the Table 1 and Table 2 grids; every comparison of every preset is listed after.
    """
    lines = ["# The paper's tables at small scale", "",
             "Generated by `rso-ref compare --preset all --out DIR`; each preset's page has "
             "the protocol, every arm's statistics, the learning-rate grid and figures. "
             "Differences are in accuracy points; p-values are Welch's, Holm-adjusted "
             "over the comparisons of a preset (RSO against each baseline; each variant "
             "against the reference), not across presets.", ""]
    table1 = [r for r in reports if r["preset"]["reference"] is None]
    table1 = [r for r in table1
              if list(r["analysis"]["arms"]) == list(table1[0]["analysis"]["arms"])]
    if table1:
        lines += ["## Table 1 analogue: test accuracy (%), mean ± std over seeds", ""]
        lines += arm_grid(table1, "preset", lambda a: _pct(a["test_accuracy_mean_std"]))
        lines += ["", "## Table 2 analogue", "", "Gradient-norm coefficient of variation "
                  "(second half of training):", ""]
        lines += arm_grid(table1, "preset", lambda a: _num(a["grad_norm_cv_mean_std"]))
        lines += ["", "Loss variance about the 21-step moving average (second half):", ""]
        lines += arm_grid(table1, "preset", lambda a: _num(a["loss_variance_mean_std"]))
        lines += ["", f"LR sensitivity range (decades of the grid within "
                  f"{100 * LR_TOLERANCE:.0f} point of the best validation accuracy):", ""]
        lines += arm_grid(table1, "preset", _lr_range_cell)
        lines += ["", "## §4.3 analogue: epochs to target (90 % of the best arm's final "
                  "mean), and the gradient evaluations that took", ""]
        lines += arm_grid(table1, "preset", lambda a: (
            _num(a["epochs_to_target_mean_std"], ".1f") + f" ({_reached(a)}"
            + ("" if not math.isfinite(a["gradient_evaluations_to_target_mean"]) else
               f"; {a['gradient_evaluations_to_target_mean']:.0f} evals") + ")"))
        lines.append("")
    lines += ["## Every comparison", ""] + index_rows(reports) + [""]
    return write_text_atomic(Path(out_dir) / "README.md", "\n".join(lines))

