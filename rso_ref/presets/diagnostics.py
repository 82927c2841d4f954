r"""Early-training diagnostics of a preset: step scale and constant-prediction plateau.

A preset with ``diagnostic_epochs`` records, after every step of the first epochs of each
test run (:func:`rso_ref.compare.early_diagnostics`),

* the step scale :math:`\eta \max_i |w_i|`: the largest multiplier any group's gradient
  got (RSO's group weights :math:`w`; :math:`w = \mathbf 1` in warm-up, so :math:`\eta`);
  the other arms' plain rate :math:`\eta` is drawn as their reference line;
* the top-class share on the first :data:`rso_ref.compare.PROBE_ROWS` test rows: the
  share of rows predicted as the most-predicted class, 1 on the *constant-prediction
  plateau* and about :math:`1/C` when predictions spread like balanced labels.

A preset's ``companion`` (the literal Algorithm 1 beside the paper's setting) is drawn
and tabulated with them. Here the per-seed series are gathered
(:func:`diagnostic_series`), summarised by rules (:func:`summary_rows`), drawn
(:func:`plot_diagnostics`) and written as a page section (:func:`diagnostics_section`).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np

from ..compare import PROBE_ROWS
from ..optim.registry import DEFAULT_OPTIONS

__all__ = ["PLATEAU_SHARE", "has_diagnostics", "diagnostic_series", "summary_rows",
           "plot_diagnostics", "diagnostics_section"]

#: A run is *on the plateau* when at least this share of the probe rows gets one class
#: (with 10 balanced classes, a working classifier is near 0.1-0.2).
PLATEAU_SHARE = 0.95


def has_diagnostics(report: dict) -> bool:
    """Whether every run of ``report`` carries early diagnostics."""
    return all("diagnostics" in r for records in report["runs"].values() for r in records)


def _steps_per_epoch(report: dict) -> int:
    return math.ceil(report["dataset"]["n_train"] / report["config"]["batch_size"])


def diagnostic_series(report: dict, label: Callable[[str], str] = str) -> dict[str, dict]:
    r"""Per arm (then the companion's arms), the diagnostics of every seed as arrays.

    Parameters
    ----------
    report : dict
        A preset report whose runs carry ``"diagnostics"`` (:func:`has_diagnostics`).
    label : callable, default str
        Display name of a preset arm (e.g. :func:`rso_ref.presets.pages.arm_label`);
        a companion's arms are named by the companion's label.

    Returns
    -------
    dict
        ``{name: {"lr": float, "step": (T,) array, "scale": (S, T) array or None,
        "share": (S, T) array}}``; ``scale`` is :math:`\eta \max_i |w_i|` (None for an
        arm without group weights), ``share`` the top-class share, one row per seed.
    """
    groups = [(label(arm), records) for arm, records in report["runs"].items()]
    companion = report.get("companion")
    if companion:
        groups += [(companion["label"] if len(companion["runs"]) == 1
                    else f"{companion['label']} {arm}", records)
                   for arm, records in companion["runs"].items()]
    series = {}
    for name, records in groups:
        diags = [r["diagnostics"] for r in records]
        # a seed that stopped early (diverged) probed fewer steps: cut every seed to the
        # steps all of them probed, so the rows stay aligned
        n = min(len(d["step"]) for d in diags)
        scales = [d["lr_max_w"][:n] for d in diags]
        series[name] = {
            "lr": records[0]["lr"], "step": np.asarray(diags[0]["step"][:n]),
            "scale": (None if any(v is None for s in scales for v in s)
                      else np.asarray(scales, dtype=np.float64)),
            "share": np.asarray([d["top_class_share"][:n] for d in diags], dtype=np.float64)}
    return series


def summary_rows(report: dict, label: Callable[[str], str] = str) -> list[dict]:
    r"""The rules' numbers per arm: step scale, top-class share, seeds on the plateau.

    Returns
    -------
    list of dict
        One per name of :func:`diagnostic_series`: ``name``, ``lr``, ``peak_scale``
        (mean over seeds of each seed's largest :math:`\eta\max_i|w_i|` in the window;
        None without group weights), ``share_epoch1`` (mean and std over seeds of the
        top-class share after the first epoch), ``plateau_epoch1`` and ``plateau_end``
        (seeds whose share is at least :data:`PLATEAU_SHARE` after the first epoch and
        after the last probed step), ``seeds`` and ``end_epoch`` (epochs in the window).
    """
    per_epoch = _steps_per_epoch(report)
    rows = []
    for name, s in diagnostic_series(report, label).items():
        first = int(np.searchsorted(s["step"], per_epoch))   # the step that ends epoch 1
        share1 = s["share"][:, first]
        rows.append({
            "name": name, "lr": s["lr"],
            "peak_scale": None if s["scale"] is None else float(np.mean(s["scale"].max(axis=1))),
            "share_epoch1": (float(share1.mean()),
                             float(share1.std(ddof=1)) if share1.size > 1 else math.nan),
            "plateau_epoch1": int(np.sum(share1 >= PLATEAU_SHARE)),
            "plateau_end": int(np.sum(s["share"][:, -1] >= PLATEAU_SHARE)),
            "seeds": int(s["share"].shape[0]), "end_epoch": int(s["step"][-1]) / per_epoch})
    return rows


def plot_diagnostics(report: dict, path: str | Path,
                     label: Callable[[str], str] = str) -> Path:
    r"""``path``: :math:`\eta\max_i|w_i|` (top) and the top-class share (bottom) per step.

    Means over seeds as lines, each seed thin; arms without group weights as a dashed
    line at their rate; epoch boundaries dotted, the end of the ``rso`` arm's warm-up
    dash-dotted; the legends outside the axes.
    """
    from ..plots import pyplot, save_figure

    plt = pyplot()
    series = diagnostic_series(report, label)
    per_epoch = _steps_per_epoch(report)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8.5, 6.4), sharex=True)
    for i, (name, s) in enumerate(series.items()):
        color, steps = f"C{i}", s["step"]
        if s["scale"] is None:
            top.axhline(s["lr"], color=color, ls="--", lw=1.2, label=f"{name} (rate η)")
        else:
            top.semilogy(steps, s["scale"].T, color=color, lw=0.5, alpha=0.4)
            top.semilogy(steps, s["scale"].mean(axis=0), color=color, lw=1.8,
                         label=f"{name} (η·max|w|)")
        bottom.plot(steps, s["share"].T, color=color, lw=0.5, alpha=0.4)
        bottom.plot(steps, s["share"].mean(axis=0), color=color, lw=1.8, label=name)
    top.set_yscale("log")
    last = max(int(s["step"][-1]) for s in series.values())
    for ax in (top, bottom):
        for boundary in range(per_epoch, last + 1, per_epoch):
            ax.axvline(boundary, color="k", ls=":", lw=0.8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=9)
    warmup = report["config"]["rso_options"].get("warmup_steps", 0)
    if warmup:
        for ax in (top, bottom):
            ax.axvline(warmup, color="0.4", ls="-.", lw=1.2,
                       label="RSO warm-up ends" if ax is top else None)
    bottom.axhline(PLATEAU_SHARE, color="k", ls="--", lw=0.8,
                   label=f"plateau ({PLATEAU_SHARE:g})")
    top.set_ylabel("step scale η·max|w|", fontsize=10)
    bottom.set_ylabel("top-class share\n(probe rows)", fontsize=10)
    bottom.set_ylim(0, 1.02)
    bottom.set_xlabel(f"training step (dotted: epoch ends, {per_epoch} steps each)",
                      fontsize=10)
    top.set_title(f"{report['preset']['name']}: early training, each seed thin, mean bold",
                  fontsize=10)
    top.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    bottom.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save_figure(fig, path)


def _companion_sentence(report: dict) -> str:
    """What the companion is, from its stored configuration ("" without one)."""
    companion = report.get("companion")
    if not companion:
        return ""
    cfg = companion["config"]
    options = cfg["rso_options"]
    return (f" {companion['label']}: `{companion['model']}`, rate "
            + ", ".join(f"{lr:.3g}" for lr in cfg["lrs"].values())
            + f", RSO groups {options.get('groups', DEFAULT_OPTIONS['rso']['groups'])!r}, "
            f"{options.get('warmup_steps', 0)} warm-up steps; the runs of another preset, "
            f"repeated here for these {cfg['epochs']} epochs with the same seeds.")


def diagnostics_section(report: dict, label: Callable[[str], str] = str) -> list[str]:
    """The page's section on the early diagnostics: a table and sentences from its numbers."""
    rows = summary_rows(report, label)
    epochs = rows[0]["end_epoch"]
    lines = ["## Early training: step scale and constant-prediction plateau", "",
             f"After every step of the first {epochs:g} epochs of every test run "
             f"(`rso_ref.compare.early_diagnostics`): the step scale η·max|w| (RSO's "
             "largest group weight times its rate; 1·η in warm-up; the other arms' rate η "
             "as reference) and the top-class share, the share of the first "
             f"{PROBE_ROWS} test images predicted as the most-predicted "
             f"class (1 = every image gets one class; a run is counted *on the plateau* at "
             f"≥ {PLATEAU_SHARE:g})." + _companion_sentence(report), "",
             "| run | rate η | peak η·max\\|w\\| (mean over seeds) | top-class share after "
             f"epoch 1 | on the plateau after epoch 1 | after epoch {epochs:g} |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        peak = "– (no group weights)" if r["peak_scale"] is None else f"{r['peak_scale']:.3g}"
        mean, sd = r["share_epoch1"]
        lines.append(f"| {r['name']} | {r['lr']:.3g} | {peak} | {mean:.2f}"
                     + (f" ± {sd:.2f}" if math.isfinite(sd) else "")
                     + f" | {r['plateau_epoch1']}/{r['seeds']} | {r['plateau_end']}/{r['seeds']} |")
    stuck = [r["name"] for r in rows if r["plateau_end"] == r["seeds"]]
    free = [r["name"] for r in rows if r["plateau_end"] == 0]
    lines += ["", ("On the plateau with every seed at the end of the window: "
                   + (", ".join(stuck) if stuck else "none") + ". Off it with every seed: "
                   + (", ".join(free) if free else "none") + "."), ""]
    return lines
