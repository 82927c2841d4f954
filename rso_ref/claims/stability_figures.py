"""Claim ``table2-stability``: its figures (the readings per arm, and the LR sweep)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..extras import require
from ..plots import pyplot, save_figure

__all__ = ["plot_metrics", "plot_sweep", "plot_matched"]


def plot_metrics(runs: dict, arms: Sequence[tuple], readings: dict, optimizers: Sequence[str],
                 path: Path, title: str) -> None:
    """Bars (mean ± std over seeds) and dots (seeds) of each reading per arm, log scale.

    ``arms`` are ``(budget, optimizer, label)``; ``readings`` maps a reading's key to its
    title; ``optimizers`` fixes the colours.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, len(readings), figsize=(17, 4.6))
    gen = np.random.default_rng(0)
    for ax, (key, label) in zip(axes, readings.items()):
        for i, (budget, name, _) in enumerate(arms):
            vals = np.asarray(runs[budget][name][key])
            std = vals.std(ddof=1) if vals.size > 1 else 0.0
            ax.bar(i, vals.mean(), yerr=[[min(std, 0.99 * vals.mean())], [std]], capsize=4,
                   color=f"C{list(optimizers).index(name)}", alpha=0.6,
                   hatch="//" if budget == "grad_evals" else None)
            ax.scatter(i + gen.uniform(-0.15, 0.15, vals.size), vals, color="k", s=12, zorder=3)
        ax.set_xticks(range(len(arms)), [a[2] for a in arms], fontsize=9, rotation=35,
                      ha="right")
        ax.set_title(label, fontsize=11)
        ax.set_yscale("log")
    axes[0].set_ylabel("value over the second half of training")
    fig.suptitle(f"{title}; bars: mean ± std, dots: seeds; hatched: baselines at RSO's "
                 "gradient evaluations", y=1.02, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


def plot_sweep(sweep: dict, optimizers: Sequence[str], labels: dict, path: Path,
               title: str) -> None:
    """Mean final test accuracy per learning rate and optimizer, with each LR range as a bar."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, name in enumerate(optimizers):
        row = sweep[name]
        scores = np.asarray(row["scores"], dtype=np.float64)
        lo, hi, dec = row["range"]
        ax.plot(row["lrs"], 100 * scores, marker="o", color=f"C{i}",
                label=f"{labels[name]}: range {lo:.0e}..{hi:.0e} ({dec:.1f} decades)")
        ax.hlines(-6.0 * (i + 1), lo, hi, color=f"C{i}", lw=6)  # the range, below the data
    ax.set_ylim(-6.0 * (len(optimizers) + 1), 102)
    ax.set_yticks(range(0, 101, 20))
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("final test accuracy (%), mean over seeds\n(bars below 0: LR ranges)")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    save_figure(fig, path)


def plot_matched(comparisons: dict, ratio: float, path: Path, title: str) -> None:
    """RSO's against the baseline's loss variance at matched loss levels, one dot per seed.

    ``comparisons`` maps a comparison to its ``treated`` and ``baseline`` per-seed values
    (:func:`rso_ref.claims.stability.matched_loss_values`) and a ``label``; the lines mark
    equal variance and the claimed ``ratio`` (RSO = ``ratio`` x baseline), log-log.
    """
    plt = pyplot()
    ticker = require("matplotlib.ticker", "cli", "plotting")
    fig, axes = plt.subplots(1, len(comparisons), figsize=(4.2 * len(comparisons), 4.2))
    for ax, c in zip(np.atleast_1d(axes), comparisons.values()):
        x, y = np.asarray(c["baseline"]), np.asarray(c["treated"])
        ax.set_title(c["label"], fontsize=10)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("baseline's loss variance")
        if not x.size:
            ax.text(0.5, 0.5, "no common loss band", ha="center", transform=ax.transAxes)
            continue
        ax.scatter(x, y, color="C2", s=20, zorder=3)
        span = np.array([min(x.min(), y.min()), max(x.max(), y.max())])
        ax.plot(span, span, "k-", lw=0.8, label="equal")
        ax.plot(span, ratio * span, "k--", lw=0.8, label=f"claimed: RSO = {ratio:g} x baseline")
        ax.legend(fontsize=8, loc="lower right")
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            # short labels; minor ones only where the axis spans under a decade
            short = ticker.FuncFormatter(lambda v, _: f"{v:.2g}")
            axis.set_major_formatter(short)
            axis.set_minor_formatter(short if hi < 10 * lo else ticker.NullFormatter())
            axis.set_minor_locator(ticker.LogLocator(subs=(2.0, 3.0, 5.0)))
    np.atleast_1d(axes)[0].set_ylabel("RSO's loss variance (same seed, same loss band)")
    fig.suptitle(f"{title}; dots: seeds, each pair read in its lowest common loss band",
                 fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)
