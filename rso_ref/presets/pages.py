r"""Markdown pages, the index of several presets, and figures, from a preset's report.

A page is a pure function of the (compact) report and the figure paths, so a page
rendered again from a saved ``report.json`` is byte-identical to the one written with
it.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..checkpoint import write_json_atomic, write_text_atomic
from ..compare import LR_GRID_FACTORS, curve_data
from ..extras import require
from ..optim.registry import DEFAULT_LR, DEFAULT_OPTIONS
from ..stats import EQUIVALENCE_MARGIN
from .analysis import (LOSS_WINDOW, LR_TOLERANCE, TARGET_FRACTION, steps_per_epoch,
                       conclusion, equivalence_conclusion, family_line)
from .diagnostics import diagnostics_section, has_diagnostics, plot_diagnostics
from .protocol import VAL_FRACTION
from .settings import control_section, settings_section

__all__ = ["write_preset", "write_index", "index_rows", "arm_grid", "compact", "render_page",
           "plot_preset", "arm_label"]


_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def count_word(n: int) -> str:
    """``n`` in words up to ten ("five rates"), digits above."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else str(n)


def arm_label(arm: str, config: dict) -> str:
    r"""The name under which ``arm`` of a report with ``config`` is shown in pages and figures.

    An arm that runs SGD with momentum (the harness's default,
    :data:`rso_ref.optim.registry.DEFAULT_OPTIONS`, momentum 0.9, unless the arm's variant
    in ``config["variants"]`` sets it) reads "SGD+momentum", the name of that baseline in
    the RSO paper's Table 1; every other arm keeps its key.

    Raises
    ------
    TypeError
        If ``arm`` is not a string.
    """
    if not isinstance(arm, str):
        raise TypeError(f"arm must be a string, got {type(arm).__name__}")
    variant = config.get("variants", {}).get(arm)
    optimizer = (variant["optimizer"] if variant else arm).lower()
    options = {**DEFAULT_OPTIONS.get(optimizer, {}), **(variant or {}).get("options", {})}
    return "SGD+momentum" if optimizer == "sgd" and options.get("momentum", 0) > 0 else arm


def _pct(pair: Sequence[float]) -> str:
    if not math.isfinite(pair[0]):
        return "–"
    return f"{100 * pair[0]:.2f}" + (f" ± {100 * pair[1]:.2f}" if math.isfinite(pair[1]) else "")


def _num(pair: Sequence[float], fmt: str = ".3g") -> str:
    if not math.isfinite(pair[0]):
        return "–"
    return f"{pair[0]:{fmt}}" + (f" ± {pair[1]:.2g}" if math.isfinite(pair[1]) else "")


def _to_target_cell(a: dict, epochs: int) -> str:
    """Median epochs to target over every run, "> epochs" where it is censored, and the
    runs that reached it: ``9 [5/5]``, ``> 10 [1/5]``."""
    median = a["epochs_to_target_median"]
    return ((f"> {epochs}" if median is None else f"{median:g}")
            + f" [{a['reached_target']}/{a['runs']}]")


def _evals_to_target_cell(a: dict) -> str:
    median = a["gradient_evaluations_to_target_median"]
    return "> budget" if median is None else f"{median:.0f}"


def _range_cell(rng: dict | None) -> str:
    if rng is None:
        return "none above chance"
    return ("≥ " if rng["open"] else "") + f"{rng['decades']:.2f}"


def _lr_range_cell(arm: dict) -> str:
    """Seed 0's LR range, then the range on the mean over seeds where it was measured."""
    if "lr_sensitivity_range" not in arm:
        return "–"
    cell = _range_cell(arm["lr_sensitivity_range"])
    seeds = arm.get("lr_sensitivity_range_seeds")
    return cell if seeds is None else f"{cell} / {_range_cell(seeds['range'])}"


def _arm_table(report: dict) -> list[str]:
    analysis, cfg = report["analysis"], report["config"]
    lines = ["| arm | lr | test accuracy (%) | epochs to target, median [reached] | "
             "grad. evals / step | grad. evals to target, median | time / run (s) | "
             "grad-norm CV | loss variance | LR range (decades) |", "|" + " --- |" * 10]
    for arm, a in analysis["arms"].items():
        accuracy = _pct(a["test_accuracy_mean_std"]) + (
            f" ({a['diverged']} diverged)" if a["diverged"] else "")
        lr = f"{a['lr']:.3g}" + (" (edge)" if a.get("lr_at_edge") else "")
        lines.append(
            f"| {arm_label(arm, cfg)} | {lr} | {accuracy} | "
            f"{_to_target_cell(a, cfg['epochs'])} | "
            f"{a['gradient_evaluations_per_step']:.2f} | {_evals_to_target_cell(a)} | "
            f"{_num(a['wall_time_per_run_mean_std'], '.1f')} | "
            f"{_num(a['grad_norm_cv_mean_std'])} | {_num(a['loss_variance_mean_std'])} | "
            f"{_lr_range_cell(a)} |")
    return lines


_TEST_HEADER = ["| arm | vs | difference (points) [95 % CI] | test (pairs) | t | p | "
                "p (Holm) | conclusion |", "|" + " --- |" * 8]


def _family_line(family: dict, cfg: dict) -> str:
    return family_line(family, lambda arm: arm_label(arm, cfg))


def _comparison_table(report: dict) -> list[str]:
    """The family line and one row per test of ``analysis["comparisons"]``."""
    analysis, cfg = report["analysis"], report["config"]
    return ([_family_line(analysis["family"], cfg), ""] + _TEST_HEADER
            + [_test_row(c, cfg) for c in analysis["comparisons"]])


def _ablation_tables(report: dict) -> list[str]:
    """Equivalence tests and equal-gradient-evaluation tests of an ablation preset ([] if none).

    Rendered from ``analysis["equivalence"]`` and ``analysis["equal_evaluations"]``
    (:func:`~rso_ref.presets.analysis.analyse` with a ``reference``).
    """
    analysis, cfg = report["analysis"], report["config"]
    if "equivalence" not in analysis:
        return []
    margin = f"±{100 * EQUIVALENCE_MARGIN:g}"
    budget = analysis["equal_evaluations"]
    tests = sorted({e["test"] for e in analysis["equivalence"] if "test" in e})
    lines = [f"## Equivalence at equal epochs ({', '.join(tests) or 'no'} TOST, margin "
             f"{margin} accuracy points, each variant on its own: no multiplicity "
             "adjustment)", "",
             "| arm | vs | difference (points) [90 % CI] | TOST p | conclusion |",
             "|" + " --- |" * 5]
    lines += [_tost_row(e, cfg) for e in analysis["equivalence"]]
    lines += ["", "## At equal gradient evaluations", "",
              f"Budget: {budget['budget']:.0f} gradient evaluations (meta-solve included), "
              "the cheapest arm's whole run; each arm is read after the last epoch that fits "
              "in it (test accuracy recorded after every epoch; the training has no "
              "schedule that depends on its length, so this is what a shorter run gives).", "",
              "| arm | grad. evals / epoch | epochs in budget | test accuracy (%) |",
              "| --- | --- | --- | --- |"]
    for arm, per_epoch in budget["evals_per_epoch"].items():
        acc = budget["test_accuracy"][arm]
        lines.append(f"| {arm_label(arm, cfg)} | {per_epoch:.0f} | {budget['epochs'][arm]} | "
                     f"{_pct(_mean_sd(acc)) if acc else '– (one epoch exceeds the budget)'} |")
    lines += ["", _family_line(budget["family"], cfg), ""] + _TEST_HEADER
    lines += [_test_row(c, cfg) for c in budget["comparisons"]]
    lines += ["", f"| arm | vs | difference (points) [90 % CI] | TOST p ({margin}) | "
              "conclusion |", "|" + " --- |" * 5]
    lines += [_tost_row(e, cfg) for e in budget["equivalence"]]
    return lines + [""]


def _mean_sd(values: Sequence[float]) -> list[float]:
    arr = np.asarray(values, dtype=np.float64)
    return [float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else math.nan]


def _tost_row(e: dict, cfg: dict) -> str:
    names = arm_label(e["arm"], cfg), arm_label(e["reference"], cfg)
    if "untestable" in e:
        return f"| {names[0]} | {names[1]} | – | – | {equivalence_conclusion(e, names[1])} |"
    return (f"| {names[0]} | {names[1]} | {100 * e['diff']:+.2f} [{100 * e['lo']:+.2f}, "
            f"{100 * e['hi']:+.2f}] | {e['p']:.3g} | {equivalence_conclusion(e, names[1])} |")


def _test_row(c: dict, cfg: dict) -> str:
    """One comparison: the difference, the test the result names, and the conclusion."""
    names = arm_label(c["arm"], cfg), arm_label(c["reference"], cfg)
    if not math.isfinite(c["p"]):
        diff = "–" if not math.isfinite(c["diff"]) else f"{100 * c['diff']:+.2f}"
        return (f"| {names[0]} | {names[1]} | {diff} | {c['test']} ({len(c['seeds'])}) | – | "
                f"– | – | {conclusion(c, names[1])} |")
    return (f"| {names[0]} | {names[1]} | "
            f"{100 * c['diff']:+.2f} [{100 * c['lo']:+.2f}, {100 * c['hi']:+.2f}] | "
            f"{c['test']} ({len(c['seeds'])}) | {c['t']:+.2f} | {c['p']:.3g} | "
            f"{c['p_holm']:.3g} | {conclusion(c, names[1])} |")


def _tuning_table(report: dict) -> list[str]:
    tuning = report.get("tuning")
    if not tuning:
        return ["Learning rates were not tuned (the optimizers' defaults were used)."]
    lines = ["| arm | rate: validation accuracy (%), in increasing rate | chosen |",
             "| --- | --- | --- |"]
    seeds = report.get("lr_seeds")
    for arm, t in tuning.items():
        cells = [f"{lr:.3g}: {100 * s:.1f}" if s == s else f"{lr:.3g}: diverged"
                 for lr, s in zip(t["grid"], t["val_accuracy"])]
        lines.append(f"| {arm_label(arm, report['config'])} | " + ", ".join(cells)
                     + f" | {t['best']:.3g} |")
        if seeds is not None and arm in seeds["val_accuracy"]:
            mean = np.mean(np.asarray(seeds["val_accuracy"][arm], dtype=np.float64), axis=0)
            cells = [f"{lr:.3g}: {100 * s:.1f}" if s == s else f"{lr:.3g}: a seed diverged"
                     for lr, s in zip(t["grid"], mean)]
            lines.append(f"| {arm_label(arm, report['config'])}, mean of seeds "
                         f"{', '.join(map(str, seeds['seeds']))} | " + ", ".join(cells)
                         + (f" | {t['best']:.3g} (the best mean) |" if _tuned_over_seeds(report)
                            else " | – (the rate is seed 0's) |"))
    untried = {arm: missing for arm, t in tuning.items()
               if (missing := _protocol_rates_untried(arm, t["grid"], report["config"]))}
    if untried:
        lines += ["", "Rates of the protocol's grid (the default times "
                  + ", ".join(f"{f:g}" for f in LR_GRID_FACTORS) + ") that this run did not try: "
                  + "; ".join(f"{arm_label(arm, report['config'])}: "
                              + ", ".join(f"{lr:.3g}" for lr in missing)
                              for arm, missing in untried.items())
                  + ". The chosen rate is the best of the rates tried, not of the protocol's "
                  "grid."]
    return lines


def _protocol_rates_untried(arm: str, grid: Sequence[float], config: dict) -> list[float]:
    """The rates ``DEFAULT_LR[optimizer] * LR_GRID_FACTORS`` of ``arm`` absent from ``grid``."""
    variant = config.get("variants", {}).get(arm)
    default = DEFAULT_LR[(variant["optimizer"] if variant else arm).lower()]
    return [default * f for f in LR_GRID_FACTORS
            if not any(math.isclose(default * f, lr, rel_tol=1e-9) for lr in grid)]


def _tuned_over_seeds(report: dict) -> list[int]:
    """The seeds whose mean validation accuracy chose RSO's rate ([] when seed 0's did)."""
    return list(report["preset"].get("rso_tuning_seeds") or [])


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
             + (f"Learning rates from the validation grid below ({100 * VAL_FRACTION:g} % of "
                "the training "
                f"split, one seed, same epochs; the grid's {count_word(len(LR_GRID_FACTORS))} "
                "rates are the optimizer's "
                "default times " + ", ".join(f"{f:g}" for f in LR_GRID_FACTORS)
                + f", plus up to {report['preset'].get('lr_edge_extensions', 0)} rates "
                "half a decade beyond an edge winner)"
                + (f"; every arm uses the rate tuned for {preset['shared_lr']}"
                   if preset["shared_lr"] else "")
                + ("; RSO's rate instead: the best mean validation accuracy over seeds "
                   f"{', '.join(map(str, _tuned_over_seeds(report)))} on the rates of its "
                   "rows below" if _tuned_over_seeds(report) else "") + ". "
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
        "rate tried. Epochs to target: the median over every run "
        "(`rso_ref.stats.censored_median`), a run that never reaches the target (diverged "
        "ones included) counted as beyond the budget, so \"> E\" where half of the runs or "
        "more never reach it; in brackets, the runs that reached it. Grad. evals to target: "
        "the same median in gradient evaluations. Grad. evals / step: gradient evaluations "
        "per training step "
        "(1 + the meta-solve's oracle calls for RSO). Grad-norm CV "
        "(`rso_ref.metrics.gradient_norm_cv`): std / mean of the minibatch gradient norm "
        "over the second half of training; it grows as the mean norm shrinks, so an arm "
        "that converges further reads as more variable. Loss variance "
        f"(`rso_ref.metrics.loss_variance`): variance of the minibatch loss about its "
        f"{LOSS_WINDOW}-step centred moving average over the same steps; absolute, so it "
        "favours arms at a lower loss. These two are the Table 2 analogues. LR range: the "
        "rates tried whose validation accuracy is within "
        f"{100 * LR_TOLERANCE:.0f} point of the best, in decades (0 = one rate; \"≥\" where "
        "an end of the rates tried qualifies). " + _lr_seeds_note(report), ""]
    lines += _tests_section(report)
    lines += _ablation_tables(report)
    if has_diagnostics(report):
        lines += diagnostics_section(report, lambda arm: arm_label(arm, cfg))
    lines += ["## Learning-rate grid (validation accuracy, %)", ""] + _tuning_table(report)
    lines += [""] + [f"![{key}]({path.name})" for key, path in figures.items()] + [""]
    return "\n".join(lines)


def _lr_seeds_note(report: dict) -> str:
    """Over how many seeds the LR range stands, and why (the page's words)."""
    if not report["preset"]["tuned"]:
        return ""
    seeds = report.get("lr_seeds")
    if seeds is None:
        return ("It rests on one seed (seed 0, the tuning's): scoring the grid on more "
                "seeds costs a full tuning per seed, too much compute for this preset here, so "
                "range differences below about one point of validation accuracy are noise.")
    return (f"First seed 0's range (the tuning's, which chose the rate), then the range on "
            f"the mean validation accuracy over seeds {', '.join(map(str, seeds['seeds']))} "
            f"(`rso_ref.presets.lr_seeds`: seed 0's rates scored again with seeds "
            f"{', '.join(map(str, seeds['seeds'][1:]))}; "
            f"{seeds['wall_time_s'] / 60:.1f} min; the chosen rate stays seed 0's).")


def _tests_section(report: dict) -> list[str]:
    """The tests' heading, what the pairing means, the family and the table."""
    control = report["preset"].get("control_of")
    if not report["analysis"]["comparisons"]:
        return ["## Tests", "", "No test within this preset" + (
            f": it is the control of [{control}](../{control}/README.md), whose arm under "
            "test the index compares with these arms, paired by seed." if control else "."),
            ""]
    return ["## Tests (paired by seed)", "",
            "Every arm ran the same seeds, and a seed fixes the initialisation and the "
            "minibatch order whatever the optimizer (`rso_ref.train`), so the runs of one "
            "seed form a pair: each test is on the per-seed differences (paired t-test, "
            "n − 1 degrees of freedom over the n seeds both arms finished), Holm-adjusted over "
            "the family it names.", ""] + _comparison_table(report) + [""]


def plot_preset(report: dict, out_dir: Path) -> dict[str, Path]:
    """``accuracy.png`` (per seed), ``curves.png``, ``cost.png``, if tuned ``lr.png``, and
    ``diagnostics.png`` when the runs carry early diagnostics
    (:func:`~rso_ref.presets.diagnostics.plot_diagnostics`)."""
    NullFormatter = require("matplotlib.ticker", "cli", "plotting").NullFormatter

    from ..plots import plot_loss_curves, pyplot, save_figure

    plt = pyplot()
    analysis, name = report["analysis"], report["preset"]["name"]
    arms = list(analysis["arms"])
    labels = {arm: arm_label(arm, report["config"])
              for arm in {*arms, *(report.get("tuning") or {})}}
    fig, ax = plt.subplots(figsize=(1.6 * len(arms) + 2.5, 4.2))
    for i, arm in enumerate(arms):
        acc = 100 * np.asarray(analysis["arms"][arm]["test_accuracy"], dtype=np.float64)
        jitter = np.linspace(-0.12, 0.12, acc.size) if acc.size > 1 else np.zeros(acc.size)
        ax.plot(i + jitter, acc, "o", alpha=0.6, color=f"C{i}")
        if acc.size:
            sd = acc.std(ddof=1) if acc.size > 1 else 0.0
            ax.errorbar(i + 0.3, acc.mean(), yerr=sd, fmt="s", color="k", capsize=4)
    ticks = {arm: labels[arm] for arm in arms}
    for c in analysis["comparisons"]:   # under the arm's name: its first (strongest) test
        if ticks[c["arm"]] == labels[c["arm"]]:
            ticks[c["arm"]] = (f"{labels[c['arm']]}\n{100 * c['diff']:+.1f} vs "
                               f"{arm_label(c['reference'], report['config'])}\n"
                               f"p={c['p_holm']:.2g}")
    ax.set_xticks(range(len(arms)), [ticks[arm] for arm in arms], fontsize=9)
    ax.set_ylabel("test accuracy (%)", fontsize=10)
    tests = sorted({c["test"] for c in analysis["comparisons"]})
    ax.set_title(f"{name}: seeds (dots), mean ± std (squares)"
                 + (f"; p: {', '.join(tests)}, Holm-adjusted" if tests else ""), fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    figures = {"accuracy": save_figure(fig, out_dir / "accuracy.png")}
    has_steps = all("steps" in r for recs in report["runs"].values() for r in recs)
    curves = curve_data(report) if has_steps else None
    if curves is not None:
        figures["curves"] = plot_loss_curves({labels[arm]: c for arm, c in curves.items()},
                                             out_dir / "curves.png",
                                             title=report["preset"]["title"])
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, arm in enumerate(arms):
        a = analysis["arms"][arm]
        curves_acc = [r["epochs"]["eval_accuracy"] for r in report["runs"][arm]]
        if len({len(c) for c in curves_acc}) != 1 or not curves_acc[0]:
            continue
        mean = 100 * np.mean(np.asarray(curves_acc, dtype=np.float64), axis=0)
        evals = (np.arange(1, mean.size + 1) * steps_per_epoch(report)
                 * a["gradient_evaluations_per_step"])
        ax.semilogx(evals, mean, marker="o", ms=3, ls=("-", "--", "-.", ":")[i % 4],
                    color=f"C{i}", label=labels[arm])  # dashes keep coinciding arms visible
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axhline(100 * analysis["target"], color="k", ls="--", lw=0.8, label="target")
    _label(ax, "gradient evaluations (meta-solve included)",
           "test accuracy (%), mean over seeds", f"{name}: accuracy per unit of compute")
    figures["cost"] = save_figure(fig, out_dir / "cost.png")
    if report.get("tuning"):
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        seeds = (report.get("lr_seeds") or {}).get("val_accuracy", {})
        for i, (arm, t) in enumerate(report["tuning"].items()):
            color = f"C{arms.index(arm) if arm in arms else i}"
            ax.semilogx(t["grid"], 100 * np.asarray(t["val_accuracy"], dtype=np.float64),
                        "o-", color=color, label=f"{labels[arm]} (seed 0)" if seeds
                        else labels[arm])
            if arm in seeds:
                ax.semilogx(t["grid"], 100 * np.mean(np.asarray(seeds[arm], dtype=np.float64),
                                                     axis=0), "s--", color=color, ms=3,
                            label=f"{labels[arm]} (mean of {len(seeds[arm])} seeds)")
        _label(ax, "learning rate", "validation accuracy (%)", f"{name}: learning-rate grid")
        figures["lr"] = save_figure(fig, out_dir / "lr.png")
    if has_diagnostics(report):
        figures["diagnostics"] = plot_diagnostics(
            report, out_dir / "diagnostics.png", lambda arm: arm_label(arm, report["config"]))
    return figures


def _label(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    """Axis labels, title and grid; the legend sits outside the axes, off the data."""
    ax.set_xlabel(xlabel, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))


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
    if "curves" not in figures and (out / "curves.png").is_file():
        # drawn from the per-step records, which a stored (compact) report no longer has
        figures = {"accuracy": figures["accuracy"], "curves": out / "curves.png", **figures}
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
                f"| [{name}]({name}/README.md) | {arm_label(c['arm'], report['config'])} | "
                f"{_pct(a['test_accuracy_mean_std'])} | "
                f"{arm_label(c['reference'], report['config'])} | "
                f"{_pct(r['test_accuracy_mean_std'])} | {100 * c['diff']:+.2f} "
                f"[{100 * c['lo']:+.2f}, {100 * c['hi']:+.2f}] | {c['p_holm']:.3g} | "
                f"{a['gradient_evaluations_per_step']:.1f} / "
                f"{r['gradient_evaluations_per_step']:.1f} |")
    return lines


def arm_grid(reports: Sequence[dict], title: str,
             cell: Callable[[dict, dict], str]) -> list[str]:
    """A markdown table, one row per report and one column per arm, of ``cell(arm stats, report)``.

    Reports must share their arms (e.g. the Table 1 presets: SGD+momentum, Adam, AdamW,
    RSO); the columns are named by :func:`arm_label` of the first report.
    """
    arms = list(reports[0]["analysis"]["arms"])
    names = [arm_label(arm, reports[0]["config"]) for arm in arms]
    lines = [f"| {title} | " + " | ".join(names) + " |", "|" + " --- |" * (len(arms) + 1)]
    for report in reports:
        name, stats = report["preset"]["name"], report["analysis"]["arms"]
        lines.append(f"| [{name}]({name}/README.md) | "
                     + " | ".join(cell(stats[arm], report) for arm in arms) + " |")
    return lines


def write_index(reports: Sequence[dict], out_dir: str | Path) -> Path:
    """``README.md`` of a set of presets: Table 1 / Table 2 analogues and every comparison.

    Presets tested against their best baseline (``reference`` None, not a control) with
    the same arms form the Table 1 and Table 2 grids; then each compute-matched control
    beside the preset it controls (:func:`~rso_ref.presets.settings.control_section`) and
    each literal run beside its run in the paper's setting
    (:func:`~rso_ref.presets.settings.settings_section`); every comparison of every
    preset is listed after.
    """
    # (a report analysed before the test was recorded ran Welch's)
    tests = sorted({c.get("test", "Welch") for r in reports
                    for c in r["analysis"]["comparisons"]})
    lines = ["# The paper's tables at small scale", "",
             "Generated by `rso-ref compare --preset all --out DIR`; each preset's page has "
             "the protocol, every arm's statistics, the learning-rate grid and figures. "
             "Differences are in accuracy points; tests: "
             f"{', '.join(tests) or 'none'} (the arms of a preset run the same seeds, which "
             "fix the initialisation and the minibatch order, so runs are paired by seed), "
             "Holm-adjusted over the family each preset's page names (RSO against each "
             "baseline; each variant against the reference), not across presets.", ""]
    table1 = [r for r in reports
              if r["preset"]["reference"] is None and not r["preset"].get("control_of")]
    table1 = [r for r in table1
              if list(r["analysis"]["arms"]) == list(table1[0]["analysis"]["arms"])]
    if table1:
        lines += ["## Table 1 analogue: test accuracy (%), mean ± std over seeds", ""]
        lines += arm_grid(table1, "preset", lambda a, r: _pct(a["test_accuracy_mean_std"]))
        lines += ["", "## Table 2 analogue", "", "Gradient-norm coefficient of variation "
                  "(second half of training):", ""]
        lines += arm_grid(table1, "preset", lambda a, r: _num(a["grad_norm_cv_mean_std"]))
        lines += ["", f"Loss variance about the {LOSS_WINDOW}-step moving average (second "
                  "half):", ""]
        lines += arm_grid(table1, "preset", lambda a, r: _num(a["loss_variance_mean_std"]))
        lines += ["", f"LR sensitivity range (decades of the grid within "
                  f"{100 * LR_TOLERANCE:.0f} point of the best validation accuracy). "
                  "Seed 0's grid (the tuning's), then, after \"/\", the range on the mean "
                  "over three seeds where the grid was scored again on seeds 1 and 2 (the "
                  "cheap presets); a single number rests on seed 0 alone (the ResNet and the "
                  "ablations: another seed costs a full tuning, too much compute here):", ""]
        lines += arm_grid(table1, "preset", lambda a, r: _lr_range_cell(a))
        lines += ["", f"## §4.3 analogue: epochs to target ({100 * TARGET_FRACTION:.0f} % of the "
                  "best arm's final mean), and the gradient evaluations that took", "",
                  "Median over every run, a run that never reaches the target counted as "
                  "beyond the budget (\"> E\": half or more never reached it in E epochs); "
                  "in brackets, the runs that reached it; then the median gradient "
                  "evaluations:", ""]
        lines += arm_grid(table1, "preset", lambda a, r: (
            f"{_to_target_cell(a, r['config']['epochs'])}; {_evals_to_target_cell(a)}"
            + (" evals" if a["gradient_evaluations_to_target_median"] is not None else "")))
        lines.append("")
    lines += control_section(reports, arm_label)
    lines += settings_section(reports, arm_label)
    lines += ["## Every comparison", ""] + index_rows(reports) + [""]
    return write_text_atomic(Path(out_dir) / "README.md", "\n".join(lines))
