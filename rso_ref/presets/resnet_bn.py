r"""The paper's ResNet setting with batch normalisation (issue 26): RSO's rate on several
seeds, and the four factors that separate it from the literal Algorithm 1, one at a time.

**The preset** :data:`~rso_ref.presets.protocol.TABLE1_RESNET_BN` runs steps 1-3 of the
protocol (:mod:`rso_ref.presets`, ``rso-ref compare --preset``) with one change in step
1: RSO's rate is the one with the best *mean* validation accuracy over
:data:`~rso_ref.presets.protocol.RESNET_BN_TUNING_SEEDS` (one seed's 400 validation
images have a standard error of about 2 points, the size of the differences between
RSO's rates); the baselines are tuned as in every preset. This module adds what a
preset run does not: the test arms run in separate processes (:func:`run_arms`) and
merged (:func:`assemble`), and the factor study.

**The factors.** The paper's setting differs from the literal run
(``table1-cifar-resnet``) in four things at once: normalisation (batch norm vs none),
RSO's groups (blocks vs layers), the warm-up (2 epochs of plain gradient steps vs none)
and RSO's rate (tuned vs the literal run's tuned
:data:`~rso_ref.presets.protocol.LITERAL_RESNET_RSO_LR`). Each arm of
:func:`factor_configs` is the paper's setting with *one* of them set back to the literal
value, run with the same seeds, so that each factor's effect is the paired difference

.. math::

    \Delta_f = \frac1n\sum_{s} \big(a_{\text{paper}}(s) - a_{\text{paper},\,f \to
    \text{literal}}(s)\big),

a paired t-test over the seeds (:func:`rso_ref.stats.paired_diff`), Holm-adjusted over
the four factors (:func:`factor_effects`). One-at-a-time effects need not add up to the
total (the factors may interact); the total, paper setting vs literal run, is reported
beside them, paired by seed as well (the weights drawn for a seed are the same with and
without normalisation: its parameters take no random numbers).

**The warm-up's rate.** RSO's warm-up (:class:`rso_ref.optim.RSO`, ``warmup_steps``)
takes plain gradient steps :math:`\theta - \eta g` at RSO's own :math:`\eta`, the
:math:`w = \mathbf 1` step of Algorithm 1; the optimizer has no separate warm-up rate.
The "rate" factor therefore changes the warm-up's rate too, and the "warm-up" factor
removes steps at the tuned :math:`\eta`.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..checkpoint import write_json_atomic, write_text_atomic
from ..compare import CompareConfig, run_comparison, summarise
from ..lr_search import best_rate
from ..stats import holm, mean_std, paired_diff
from .analysis import analyse, paired_values
from .protocol import (LITERAL_RESNET_RSO_LR, TABLE1_RESNET_BN, get_preset, preset_record,
                       seed_tuning_entries)

__all__ = ["FACTOR_SEEDS", "FACTORS", "best_over_seeds", "run_arms", "assemble",
           "factor_configs", "run_factors", "factor_effects", "factor_page", "write_factors",
           "FACTORS_NAME"]

#: Seeds of the factor arms: the preset's, so that every factor is paired over the same five.
FACTOR_SEEDS = (0, 1, 2, 3, 4)
#: The four factors: what each is in the paper's setting and in the literal run.
FACTORS = {
    "normalisation": ("batch normalisation", "none"),
    "groups": ("blocks", "layers"),
    "warm-up": ("2 epochs of plain gradient steps", "none"),
    "rate": ("tuned on 3 seeds", f"{LITERAL_RESNET_RSO_LR:.3g} (the literal run's)"),
}


def _value(record: dict) -> float | None:
    """A run's final test (or validation) accuracy; None for a diverged run."""
    return None if record["status"] == "diverged" else record["eval_accuracy"]


def best_over_seeds(grid: Sequence[float], rows: Sequence[Sequence[float]],
                    seeds: Sequence[int]) -> dict:
    r"""The rate of ``grid`` with the best mean validation accuracy over the seeds' ``rows``.

    .. math::

        \eta^* = \arg\max_{\eta} \frac1S \sum_{k=1}^{S} s_k(\eta)

    NaN (a diverged run) makes its rate's mean NaN, which never wins; ties go to the
    smaller rate (:func:`rso_ref.lr_search.best_rate`, the rule of every tuning). It
    recomputes the choice from stored rows and merges tunings run seed by seed in
    separate processes.

    Returns
    -------
    dict
        ``{"grid", "val_accuracy" (the mean over seeds), "best", "seeds",
        "val_accuracy_seeds" (one row per seed)}``, as
        :func:`rso_ref.compare.tune_learning_rates` with ``seeds``.

    Raises
    ------
    ValueError
        If ``rows`` and ``seeds`` differ in number, or a row is not as long as ``grid``.
    """
    grid, seeds = [float(lr) for lr in grid], [int(s) for s in seeds]
    scores = np.asarray(rows, dtype=np.float64)
    if scores.shape != (len(seeds), len(grid)):
        raise ValueError(f"rows must hold one score per rate of the grid for each of the "
                         f"{len(seeds)} seeds, got shape {scores.shape}")
    mean = np.mean(scores, axis=0)
    best = best_rate(dict(zip(grid, mean.tolist())), "rso")
    return {"grid": grid, "val_accuracy": [float(v) for v in mean], "best": best,
            "seeds": seeds, "val_accuracy_seeds": [[float(v) for v in row] for row in scores]}


def run_arms(config: CompareConfig, arms: Sequence[str], lrs: dict,
             seeds: Sequence[int] | None = None, *,
             log: Callable[[str], Any] | None = None) -> dict:
    """:func:`~rso_ref.compare.run_comparison` of some of ``config``'s arms at rates ``lrs``,
    with some of its seeds (default all): a part of the test runs, for :func:`assemble`."""
    config = replace(config, optimizers=tuple(arms), lrs={a: lrs[a] for a in arms},
                     seeds=config.seeds if seeds is None else tuple(seeds))
    return run_comparison(config, progress=False, log=log)


def assemble(tuning: dict, parts: Sequence[dict], wall_time_s: float,
             rso_tuning_wall_s: float = math.nan,
             load_average: Sequence[float] | None = None) -> dict:
    """The preset's report from its tuning (every arm) and test-run parts (:func:`run_arms`).

    The same report as :func:`~rso_ref.presets.protocol.run_preset` writes, except for RSO's
    tuning: ``tuning["rso"]`` holds seed 0's validation row (as every tuned arm) and the
    rate of the best *mean* (:func:`best_over_seeds`); the rows of all its seeds are
    ``"lr_seeds"`` (:mod:`rso_ref.presets.lr_seeds`' form, with the tuning's wall time
    ``rso_tuning_wall_s``), and ``preset["rso_tuning_seeds"]`` names the seeds.
    ``wall_time_s`` and ``load_average`` (default: now's) describe the runs, made in parts.
    """
    preset = get_preset(TABLE1_RESNET_BN)
    arms = preset.config.optimizers
    config = replace(preset.config, lrs={a: tuning[a]["best"] for a in arms})
    runs = {a: sorted((r for p in parts for r in p["runs"].get(a, [])),
                      key=lambda r: r["seed"]) for a in arms}
    for arm, records in runs.items():
        if [r["seed"] for r in records] != list(config.seeds):
            raise ValueError(f"parts must hold the test runs of every arm with seeds "
                             f"{list(config.seeds)} once each; {arm!r} has "
                             f"{[r['seed'] for r in records]}")
    first = parts[0]
    report = {"config": asdict(config), "environment": first["environment"],
              "model": first["model"], "dataset": first["dataset"], "groups": first["groups"],
              "runs": runs, "summary": {a: summarise(runs[a]) for a in arms}}
    report["preset"] = preset_record(preset, tuned=True, seed_tuned=True)
    report["tuning"] = {a: {k: tuning[a][k] for k in ("grid", "val_accuracy", "best")}
                        for a in arms if a != "rso"}
    report["tuning"]["rso"], report["lr_seeds"] = seed_tuning_entries(tuning["rso"],
                                                                      rso_tuning_wall_s)
    report["analysis"] = analyse(report, reference=preset.reference, focus=preset.focus)
    load = os.getloadavg() if load_average is None else load_average
    report["machine"] = {"wall_time_s": wall_time_s, "load_average": [float(v) for v in load],
                         "cpu_count": os.cpu_count()}
    return report


def factor_configs(config: CompareConfig, rso_lr: float,
                   seeds: Sequence[int] = FACTOR_SEEDS) -> dict[str, CompareConfig]:
    """RSO alone in the paper's setting ``config`` at rate ``rso_lr``, with one factor of
    :data:`FACTORS` at a time set back to the literal run's value."""
    base = replace(config, optimizers=("rso",), seeds=tuple(seeds), lrs={"rso": rso_lr})
    without_norm = {k: v for k, v in config.model_options.items() if k != "norm"}
    return {
        "normalisation": replace(base, model_options=without_norm),
        "groups": replace(base, rso_options={**config.rso_options, "groups": "layer"}),
        "warm-up": replace(base, rso_options={**config.rso_options, "warmup_steps": 0}),
        "rate": replace(base, lrs={"rso": LITERAL_RESNET_RSO_LR}),
    }


def run_factors(configs: dict[str, CompareConfig], *,
                log: Callable[[str], Any] | None = None) -> dict:
    """Run the factor arms: ``{factor: {"config": ..., "model": ..., "runs": [records]}}``
    (records without their per-step histories)."""
    out = {}
    for factor, config in configs.items():
        if log is not None:
            log(f"factor {factor}: {FACTORS[factor][1]}")
        report = run_comparison(config, progress=False, log=log)
        out[factor] = {"config": asdict(config), "model": report["model"],
                       "runs": [{k: r[k] for k in ("seed", "lr", "status", "message",
                                                   "eval_accuracy", "wall_time", "meta_nfev")}
                                for r in report["runs"]["rso"]]}
    return out


def _paired_row(paper: list, other: list, names: tuple[str, str]) -> dict:
    seeds, a, b = paired_values(paper, other, _value, names=names)
    row = {"seeds": seeds, "paper": a, "other": b,
           "diverged": sum(r["status"] == "diverged" for r in other)}
    if len(seeds) >= 2:
        row.update(paired_diff(a, b))
    return row


def factor_effects(report: dict, factors: dict, literal: dict | None = None) -> dict:
    """Each factor's paired effect on RSO's test accuracy, and the total against the literal run.

    Parameters
    ----------
    report : dict
        The preset's report (its RSO runs are the paper's setting).
    factors : dict
        :func:`run_factors`' result.
    literal : dict, optional
        The literal run's report (``table1-cifar-resnet``); its RSO runs give the total.

    Returns
    -------
    dict
        ``{"factors": [{"factor", "paper", "literal", "seeds", "paper_acc", "arm_acc",
        "diverged", "diff", "lo", "hi", "p", "p_holm", ...}], "total": {...} or None}``:
        ``diff`` is paper minus the arm (the factor's contribution), paired by seed over
        the factor arms' seeds; ``p_holm`` adjusts the four factors' p-values together.
    """
    paper_runs = report["runs"]["rso"]
    rows = []
    for factor, result in factors.items():
        seeds = {r["seed"] for r in result["runs"]}
        paper = [r for r in paper_runs if r["seed"] in seeds]
        row = _paired_row(paper, result["runs"], ("paper's setting", factor))
        rows.append({"factor": factor, "paper_value": FACTORS[factor][0],
                     "literal_value": FACTORS[factor][1], **row})
    tested = [r for r in rows if "p" in r]
    for r, p in zip(tested, holm([r["p"] for r in tested])):
        r["p_holm"] = p
    total = None
    if literal is not None:
        total = _paired_row(paper_runs, literal["runs"]["rso"], ("paper's setting", "literal"))
    return {"factors": rows, "total": total}


def _pct(values: list) -> str:
    if len(values) < 2:
        return "n/a"
    mean, std = mean_std(values)
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def _diff(row: dict) -> str:
    if "diff" not in row:
        return "n/a (fewer than 2 finished pairs)"
    return f"{100 * row['diff']:+.2f} [{100 * row['lo']:+.2f}, {100 * row['hi']:+.2f}]"


def factor_page(effects: dict, *, rso_lr: float, seeds: Sequence[int], reason: str) -> str:
    """The markdown page of :func:`factor_effects` (a pure function of its arguments)."""
    lines = [f"# {TABLE1_RESNET_BN}-factors: the paper's setting vs the literal run, one "
             "factor at a time", "",
             f"RSO in the paper's setting ([{TABLE1_RESNET_BN}](../{TABLE1_RESNET_BN}/README.md):"
             f" batch normalisation, block groups, 2 epochs of warm-up, rate {rso_lr:.3g} tuned "
             "on 3 seeds), and arms that each set one factor back to the literal run's value "
             "([table1-cifar-resnet](../table1-cifar-resnet/README.md)), with seeds "
             f"{', '.join(map(str, seeds))} ({reason}). Effect: paper's setting minus the arm, "
             "paired by seed (paired t, 95 % CI), Holm over the four factors; a diverged arm "
             "run has no final accuracy and leaves its seed out of the pairs. The warm-up "
             "takes plain gradient steps at RSO's own rate, so the rate factor changes the "
             "warm-up's rate too.", "",
             "| factor | paper's setting | literal value | seeds | RSO, paper's setting (%) | "
             "RSO, factor literal (%) | diverged | effect [95 % CI] (points) | p | p (Holm) |",
             "|" + " --- |" * 10]
    for r in effects["factors"]:
        p = f"{r['p']:.3g} | {r['p_holm']:.3g}" if "p" in r else "n/a | n/a"
        lines.append(f"| {r['factor']} | {r['paper_value']} | {r['literal_value']} | "
                     f"{len(r['seeds'])} | {_pct(r['paper'])} | {_pct(r['other'])} | "
                     f"{r['diverged']} | {_diff(r)} | {p} |")
    total = effects["total"]
    if total is not None:
        lines += ["", f"Total, paper's setting vs the literal run (RSO, seeds "
                  f"{', '.join(map(str, total['seeds']))}, paired): {_pct(total['paper'])} vs "
                  f"{_pct(total['other'])} %, {_diff(total)} points"
                  + (f", p = {total['p']:.3g}." if "p" in total else ".")]
    return "\n".join(lines) + "\n"


#: Where the factor study is written, beside the preset's directory.
FACTORS_NAME = f"{TABLE1_RESNET_BN}-factors"


def write_factors(out_dir: str | Path, report: dict, factors: dict, literal: dict, *,
                  rso_lr: float, seeds: Sequence[int], reason: str) -> dict[str, Path]:
    """Write the factor study: ``factors.json`` (the arms' runs, the effects and what the
    page needs; not ``report.json``, which names a preset's report) and ``README.md``
    (:func:`factor_page`), in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    effects = factor_effects(report, factors, literal)
    saved = {"rso_lr": rso_lr, "seeds": list(seeds), "reason": reason, "factors": factors,
             "effects": effects}
    return {"report": write_json_atomic(out / "factors.json", saved),
            "page": write_text_atomic(out / "README.md", factor_page(
                effects, rso_lr=rso_lr, seeds=seeds, reason=reason))}
