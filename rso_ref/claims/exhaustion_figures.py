"""Claims ``theorem2-exhaustion`` and ``figure1-dynamics``: the figures (matplotlib).

Each function draws from the numbers of :mod:`rso_ref.claims.exhaustion` and
:mod:`rso_ref.claims.exhaustion_rules`, writes PNGs into ``out_dir`` and returns their names.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from ..extras import require
from ..plots import pyplot, save_figure
from .exhaustion_rules import BALANCED_ENTROPY, CLAIMED_RHO, SETTING_READING, phase_ids

__all__ = ["plot_theorem2", "plot_figure1"]

_OUTCOME_COLORS = {"holds": "C2", "refuted": "C3", "no evidence": "0.45"}


def _outcome_legend(ax, extra: Sequence = ()) -> None:
    handles = [ax.plot([], [], "o", color=color, label=name)[0]
               for name, color in _OUTCOME_COLORS.items()] + list(extra)
    ax.legend(handles=handles, title="cell outcome (t-test on seeds, Holm 5 %)", loc="upper left",
              bbox_to_anchor=(1.02, 1.0), fontsize=9, title_fontsize=9)


def _forest(ax, cells: Sequence[dict], key: str, *, centred: bool, xlabel: str) -> None:
    """One row per cell: estimate (minus its reference if ``centred``), CI, outcome colour."""
    y = np.arange(len(cells))[::-1]
    for yk, c in zip(y, cells):
        r = c[key]
        shift = r["reference"] if centred else 0.0
        # A percentile interval need not contain the estimate (skewed ratio statistics),
        # so the interval is drawn as a segment, not as error bars around the point.
        color = _OUTCOME_COLORS[r["outcome"]]
        ax.plot([r["lo"] - shift, r["hi"] - shift], [yk, yk], color=color, lw=1.2)
        ax.plot(r["estimate"] - shift, yk, "o", ms=4, color=color)
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{c['setting']}: {c['group']}" for c in cells], fontsize=9)
    ax.set_ylim(-0.7, len(cells) - 0.3)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.grid(axis="x", alpha=0.3)


def _product_scale(ax, cells: Sequence[dict], key: str) -> None:
    """Log scale if every CI is positive, else a symlog scale with at most ~8 decade ticks."""
    ticker = require("matplotlib.ticker", "cli", "plotting")
    lows, highs = [c[key]["lo"] for c in cells], [c[key]["hi"] for c in cells]
    if min(lows) > 0:
        ax.set_xscale("log")
        return
    linthresh = 10.0 ** math.floor(math.log10(max(min(abs(v) for v in lows + highs if v), 1e-12)))
    ax.set_xscale("symlog", linthresh=linthresh)
    top = math.ceil(math.log10(max(max(highs), linthresh)))
    bottom = math.ceil(math.log10(max(-min(lows), linthresh)))
    low_exp = round(math.log10(linthresh))
    ax.set_xlim(-10.0 ** bottom, 10.0 ** top)
    step = max(1, math.ceil((top + bottom - 2 * low_exp) / 8))
    ax.xaxis.set_major_locator(ticker.FixedLocator(
        [-10.0 ** k for k in range(bottom, low_exp - 1, -step)] + [0.0]
        + [10.0 ** k for k in range(low_exp, top + 1, step)]))


def plot_theorem2(group_cells: list[dict], setting_cells: list[dict],
                  traces: dict[str, list[np.ndarray]], phase_len: int, out_dir: Path) -> list[str]:
    """The four Theorem 2 figures (forests of readings 1-2, the direction test, Σ|w| per phase)."""
    plt = pyplot()
    names = ["theorem2_autocorrelation.png", "theorem2_products.png", "theorem2_direction.png",
             "theorem2_w_scale.png"]
    height = 0.24 * len(group_cells) + 2.0
    for name, panels in zip(names[:2], (
            [("centred_autocorrelation", True, "ρ̂ − ρ₀ of w_i (95% cluster-bootstrap CI, seeds)"),
             ("centred_autocorrelation_normalised", True,
              "ρ̂ − ρ₀ of ŵ_i = w_i / Σ|w| (95% cluster-bootstrap CI, seeds)")],
            [("raw_product", False, "mean w_i(t) w_i(t+1) (95% CI; as written)"),
             ("normalised_product", False, "mean ŵ_i(t) ŵ_i(t+1) (95% CI; scale-free)")])):
        fig, axes = plt.subplots(1, 2, figsize=(15, height), sharey=True, layout="constrained")
        for ax, (key, centred, xlabel) in zip(axes, panels):
            _forest(ax, group_cells, key, centred=centred, xlabel=xlabel)
            if centred:
                ax.axvline(-CLAIMED_RHO, color="C0", ls="--", lw=0.9)
            else:
                _product_scale(ax, group_cells, key)
        axes[1].tick_params(labelleft=False)
        axes[0].set_title("on w" if panels[0][1] else "raw w (grows with Σ|w|)", fontsize=10)
        axes[1].set_title("on w normalised per step", fontsize=10)
        extra = (axes[1].plot([], [], ls="--", color="C0", label=f"claimed size −{CLAIMED_RHO:g}")
                 if panels[0][1] else [])
        _outcome_legend(axes[1], extra)
        fig.suptitle("Theorem 2: claimed effect < 0 (left of 0)", fontsize=11)
        save_figure(fig, out_dir / name)

    fig, ax = plt.subplots(figsize=(10, 0.5 * len(setting_cells) + 1.8), layout="constrained")
    y = np.arange(len(setting_cells))[::-1]
    for yk, c in zip(y, setting_cells):
        r = c[SETTING_READING]
        color = _OUTCOME_COLORS[r["outcome"]]
        ax.plot([r["stay_lo"], r["stay_hi"]], [yk, yk], color=color, lw=1.5)
        ax.plot(r["stay"], yk, "o", color=color)
        ax.plot([r["null_lo"], r["null_hi"]], [yk - 0.25] * 2, color="C0", lw=3)
        ax.plot(r["chance"], yk, "k|", ms=12)
    ax.plot([], [], color="C0", lw=3, label="per-group time-shuffled surrogates (95% range)")
    ax.plot([], [], "k|", ms=12, label="chance 1/L")
    for name, color in _OUTCOME_COLORS.items():
        ax.plot([], [], "o", color=color, label=f"observed (95% CI): {name}")
    ax.set_yticks(y)
    ax.set_yticklabels([c["setting"] for c in setting_cells], fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_xlabel("P(top group at t is top at t+1): left of surrogates = reversion, "
                  "right = persistence", fontsize=9)
    ax.set_title("Reading 3: direction test", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    save_figure(fig, out_dir / names[2])

    fig, ax = plt.subplots(figsize=(11, 5), layout="constrained")
    for k, (label, ws) in enumerate(traces.items()):
        sums = np.concatenate([np.abs(w).sum(axis=1) for w in ws])
        phase = np.concatenate([phase_ids(w.shape[0], phase_len) for w in ws])
        medians = [np.median(sums[phase == j]) for j in range(int(phase.max()) + 1)]
        ax.plot(np.arange(1, len(medians) + 1), medians, color=f"C{k % 10}",
                ls="-" if k < 10 else "--", marker="o", ms=4, lw=1.2, label=label)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(require("matplotlib.ticker", "cli", "plotting").MaxNLocator(
        integer=True))
    ax.set_xlabel(f"phase ({phase_len} steps each)", fontsize=9)
    ax.set_ylabel("Σ_i |w_i(t)|, median over the phase's steps and seeds", fontsize=9)
    ax.set_title("Scale of the weights returned by the meta-solve (each solve starts at "
                 "Σ|w| = 1)", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    ax.grid(alpha=0.3)
    save_figure(fig, out_dir / names[3])
    return names


def plot_figure1(profiles: dict, out_dir: Path) -> list[str]:
    """One figure per setting: layer shares, entropy and Σ|w| per epoch."""
    plt = pyplot()
    ticker = require("matplotlib.ticker", "cli", "plotting")

    names = []
    for k, (label, runs) in enumerate(profiles.items()):
        share = np.mean([p["share"] for p in runs], axis=0)
        entropy = np.array([p["entropy"] for p in runs])
        abs_sum = np.array([p["abs_sum"] for p in runs])
        epochs = np.arange(1, share.shape[0] + 1)
        fig, (ax_s, ax_h, ax_w) = plt.subplots(1, 3, figsize=(16, 5), layout="constrained")
        n_groups = share.shape[1]
        ax_s.stackplot(epochs, share.T, labels=[f"L{i + 1}" for i in range(n_groups)], alpha=0.85)
        ax_s.set_ylim(0, 1)
        for ax in (ax_s, ax_h, ax_w):
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax_s.set_xlabel("epoch")
        ax_s.set_ylabel("mean share |w_i| / sum |w|")
        ax_s.set_title(f"Layer shares per epoch\n{label}", fontsize=10)
        ax_s.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9,
                    title="layer\n(input first)", title_fontsize=9)
        ax_h.plot(epochs, entropy.mean(axis=0), color="C0", label="mean over seeds")
        ax_h.fill_between(epochs, entropy.min(axis=0), entropy.max(axis=0), color="C0", alpha=0.25,
                          label="min-max over seeds")
        ax_h.axhline(BALANCED_ENTROPY, color="grey", ls="--", lw=0.8,
                     label=f"'balanced' ({BALANCED_ENTROPY:g})")
        ax_h.set_ylim(0, 1.02)
        ax_h.set_xlabel("epoch")
        ax_h.set_ylabel("normalised entropy of |w|")
        ax_h.set_title("Entropy of the layer weights")
        ax_h.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=9)
        ax_w.plot(epochs, np.median(abs_sum, axis=0), color="C2", label="median over seeds")
        ax_w.fill_between(epochs, abs_sum.min(axis=0), abs_sum.max(axis=0), color="C2", alpha=0.25,
                          label="min-max over seeds")
        ax_w.axhline(1.0, color="grey", ls="--", lw=0.8, label="sum |w| = 1 (Algorithm 1 start)")
        ax_w.set_yscale("log")
        ax_w.set_xlabel("epoch")
        ax_w.set_ylabel("per-epoch median of sum_i |w_i|")
        ax_w.set_title("Scale of w (steps taken = lr * w)")
        ax_w.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=9)
        name = f"figure1_dynamics_{k}.png"
        save_figure(fig, out_dir / name)
        names.append(name)
    return names
