"""Bulk-SGD claims: the figures (matplotlib), drawn from the runs' numbers.

Each function writes one PNG into ``out_dir`` and returns its name.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..plots import pyplot, save_figure
from .bulk_sgd_rules import INTERPOLATION_LR_DIVISOR, LOSS_LABEL, METHODS, index_of

__all__ = ["plot_alignment", "plot_dom_stalls", "plot_stability", "plot_interpolation",
           "plot_energy"]


def plot_alignment(p, warmups: dict, numbers: dict, k: int, out_dir: Path) -> str:
    """chi of the full-batch and minibatch gradients per warm-up probe, per loss and seed."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, (loss, runs) in zip(axes, warmups.items()):
        for seed, w in runs.items():
            steps = np.asarray(w["steps"])
            color = f"C{seed}"
            ax.plot(steps, w["chi_full"], marker="o", color=color,
                    label=f"full-batch g, seed {seed}")
            ax.plot(steps, w["chi_batch"], ls=":", marker=".", color=color,
                    label=f"minibatch g, seed {seed}")
        dim = numbers[loss]["dim"]
        ax.axhline(numbers[loss]["random_baseline"], color="k", ls="--", lw=1,
                   label=r"random subspace $\sqrt{k/d}$")
        ax.axhline(1 / math.sqrt(2), color="grey", ls="-.", lw=1, label=r"$\chi^2 = 1/2$")
        ax.set_ylim(0, 1)
        ax.set_xlabel("SGD step")
        ax.set_title(f"{LOSS_LABEL[loss]} (d = {dim}, k = {k})")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(r"$\chi = \|P g\| / \|g\|$")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", fontsize=9,
               ncol=4, bbox_to_anchor=(0.5, -0.12))
    fig.suptitle(f"Gradient alignment with the top-{k} Hessian eigenspace during SGD")
    name = "bulk-alignment.png"
    save_figure(fig, out_dir / name)
    return name


def plot_dom_stalls(p, runs: dict, lrs: dict, out_dir: Path) -> str:
    """Curvature-batch loss of SGD, Dom-SGD and Bulk-SGD after warm-up; ``runs[loss][seed]``."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = {"SGD": "C0", "Dom-SGD": "C3", "Bulk-SGD": "C2"}
    for ax, (loss, per_seed) in zip(axes, runs.items()):
        for seed, by_method in per_seed.items():
            for m, r in by_method.items():
                ax.plot(np.arange(len(r["loss"])), r["loss"], color=colors[m],
                        alpha=0.9 if seed == p.seeds[0] else 0.45,
                        label=m if seed == p.seeds[0] else None)
        ax.set_yscale("log")
        ax.set_xlabel(f"step after {p.warmup} SGD warm-up steps")
        ax.set_ylabel("loss on the curvature batch")
        ax.set_title(f"{LOSS_LABEL[loss]}, lr {lrs[loss]}, P every {p.every} steps")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.subplots_adjust(wspace=0.35)
    fig.suptitle("SGD vs Dom-SGD (P g) vs Bulk-SGD ((I - P) g) from the same point "
                 "(one line per seed)")
    name = "bulk-dom-stalls.png"
    save_figure(fig, out_dir / name)
    return name


def plot_stability(p, numbers: dict, out_dir: Path) -> str:
    """Largest stable lr of SGD and Bulk-SGD per seed, with 2/lambda_1 and 2/lambda_(k+1)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (loss, rows) in zip(axes, numbers.items()):
        x = np.arange(len(p.seeds))
        ax.bar(x - 0.2, [r["lr_sgd"] for r in rows.values()], 0.4, label="SGD (full batch)")
        ax.bar(x + 0.2, [r["lr_bulk"] for r in rows.values()], 0.4, label="Bulk-SGD (frozen P)")
        for i, r in enumerate(rows.values()):
            ax.hlines(r["edge_1"], i - 0.4, i + 0.4, colors="k", linestyles="--",
                      label=r"$2/\lambda_1$" if i == 0 else None)
            ax.hlines(r["edge_k1"], i - 0.4, i + 0.4, colors="C3", linestyles=":",
                      label=r"$2/\lambda_{k+1}$" if i == 0 else None)
        ax.set_yscale("log")
        ax.set_xticks(x, [f"seed {s}" for s in p.seeds])
        ax.set_ylabel(f"largest stable lr ({p.stab_steps} steps)")
        ax.set_title(LOSS_LABEL[loss])
    fig.subplots_adjust(wspace=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=4,
               fontsize=9, bbox_to_anchor=(0.5, -0.08))
    fig.suptitle("Largest stable learning rate at the warm-up point (bisection)")
    name = "bulk-stability.png"
    save_figure(fig, out_dir / name)
    return name


def plot_interpolation(p, results: dict, out_dir: Path) -> str:
    """Heat maps of the final loss over the (a, b) grid, first seed of each loss."""
    grid = np.asarray(p.grid)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    fig.subplots_adjust(wspace=0.4)
    for ax, (loss, per_seed) in zip(axes, results.items()):
        seed0 = p.seeds[0]
        res = per_seed[seed0]
        shown = np.log10(np.where(np.isfinite(res["loss"]), res["loss"], np.nan))
        im = ax.imshow(shown, origin="lower", cmap="viridis", aspect="auto")
        for i in range(len(grid)):
            for j in range(len(grid)):
                if not np.isfinite(res["loss"][i, j]):
                    ax.text(j, i, "x", ha="center", va="center", color="red", fontsize=11)
        for name, (a, b) in METHODS.items():
            ax.annotate(name, (index_of(grid, b), index_of(grid, a)), color="white", fontsize=10,
                        ha="center", va="bottom", xytext=(0, 6), textcoords="offset points",
                        bbox={"boxstyle": "round", "fc": "black", "alpha": 0.5})
        ax.set_xticks(range(len(grid)), [f"{v:g}" for v in grid])
        ax.set_yticks(range(len(grid)), [f"{v:g}" for v in grid])
        fig.colorbar(im, ax=ax, label=f"log10 loss after {p.stab_steps} steps")
        ax.set_xlabel("b (weight of the bulk part (I - P) g)")
        ax.set_ylabel("a (weight of the dominant part P g)")
        ax.set_title(f"{LOSS_LABEL[loss]}, seed {seed0}, lr = lr*_SGD / {INTERPOLATION_LR_DIVISOR}"
                     f" = {res['lr']:.3g}")
    fig.suptitle(r"Interpolated update $\theta \leftarrow \theta - \eta\,(a P g + b (I-P) g)$ "
                 "(x: unstable)")
    name = "bulk-interpolation.png"
    save_figure(fig, out_dir / name)
    return name


def plot_energy(p, numbers: dict, k: int, dim: int, out_dir: Path) -> str:
    """Energy shares of H, G and F inside the top-k eigenspace, per loss (dots: seeds)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    names = ("H", "G", "F")
    width = 0.35
    for j, (loss, per_seed) in enumerate(numbers.items()):
        values = np.array([[per_seed[s][n] for n in names] for s in p.seeds])
        x = np.arange(len(names)) + (j - 0.5) * width
        ax.bar(x, values.mean(axis=0), width, label=LOSS_LABEL[loss], alpha=0.8)
        for row in values:
            ax.plot(x, row, "k.", ms=5)
    ax.axhline(k / dim, color="k", ls="--", lw=1, label="random subspace bound k/d")
    ax.set_xticks(np.arange(len(names)), ["Hessian H", "Gauss-Newton G", "functional F"])
    ax.set_ylabel(r"$\|P M P\|_F^2 / \|M\|_F^2$")
    ax.set_yscale("log")
    ax.set_title(f"Curvature energy inside the top-{k} Hessian eigenspace (dots: seeds)")
    ax.legend(fontsize=9)
    name = "bulk-ggn-energy.png"
    save_figure(fig, out_dir / name)
    return name
